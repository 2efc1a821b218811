/* run: a lab brought to life and driven step by step.
 *
 * run_new() picks the engine, builds the topology, exposes it when asked, starts an agent
 * in every host, starts captures and the sock_diag poller that records the timeline.
 * run_steps() executes the lab's steps in order and reports each one; run_free() tears all
 * of it down (agents, captures, forwarders, namespaces).  Output goes to opts->out as text
 * or, with json, as JSON lines.
 */
#ifndef LABCTL_RUN_H
#define LABCTL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "lab/lab.h"

struct run;
struct lab_step;

/* --step: what the hook answers before a step. */
enum run_step_answer { RUN_STEP_NEXT, RUN_STEP_ALL, RUN_STEP_QUIT };
typedef enum run_step_answer (*run_step_hook)(struct run *r, const struct lab_step *st,
					      const char *text, void *arg);

struct run_opts {
	const char *engine;       /* auto|netem|userlink|veth; NULL = auto */
	uint64_t seed;
	bool has_seed;
	bool expose;              /* bind namespaces under /run/netns/ID-HOST */
	const char *id;           /* NULL = make one */
	const char *capture_dir;  /* capture every host, into DIR; NULL = the lab's capture
				     statements only, into out_dir */
	const char *out_dir;      /* where the run's files go without capture_dir (NULL: ".") */
	bool json;
	bool low_latency;         /* hold the CPUs out of idle states while the lab runs (pmqos.h) */
	bool quiet;               /* no step log (summary only) */
	int64_t poll_ns;          /* sock_diag poll interval; default 1 ms */
	const char *observer;     /* auto|events|poll: where the timeline's states come from */
	FILE *out;
	const char *kind;         /* registry kind when exposed: "run" or "up" */
	bool allow_root;          /* --allow-root: program steps that say as-root may run as root */
	/* Called before every step that is not an expectation (an expectation checks what
	 * the step before it did, so it runs at once); text is the step's source. */
	run_step_hook step_hook;
	void *step_arg;
};

struct run;

int run_new(const struct lab *lab, const struct run_opts *opts, struct run **out,
	    struct lc_err *e);
/* Execute every step.  Returns the number of failed expectations (>= 0), or a negative
 * errno for an environment/lab error (e says what). */
int run_steps(struct run *r, struct lc_err *e);
/* The end of the report: timeline, ladders, verdict line. */
void run_report(struct run *r, int failed);
const char *run_id(const struct run *r);

/* The steps as they ran, in order (render/report.h), for grading output; valid until
 * run_free(). */
struct report_step;
int run_step_records(const struct run *r, const struct report_step **out);
/* After run_report(): the run as one HTML page at path (render/report.h).  failed is what
 * run_steps() returned, error its message when negative (else NULL). */
int run_write_report(struct run *r, int failed, const char *error, const char *path,
		     struct lc_err *e);
/* The state machine of every connection side drawn (DIR/LABID-fsm-N-HOST.svg); *written
 * says how many files. */
int run_write_fsms(struct run *r, const char *dir, int *written, struct lc_err *e);
/* Run the loop (agents, the poller) until fd is readable: 0, or -EINTR on SIGINT/SIGTERM. */
int run_wait_readable(struct run *r, int fd);
/* The sockets of host h on the lab's ports, as labctl ss prints them. */
int run_print_sockets(struct run *r, int h, FILE *out, struct lc_err *e);
const struct lab *run_lab(const struct run *r);
/* Run the loop until SIGTERM/SIGINT (the supervisor of labctl up). */
void run_hold(struct run *r);
void run_free(struct run *r);

/* Write s as a JSON string (quoted, escaped). */
void run_json_str(FILE *f, const char *s);

/* The supervisor's control socket (REG_DIR/ID.sock): `labctl impair` on an up lab. */
#define RUN_CTL_MAGIC 0x6c616231u
struct run_ctl_req {
	uint32_t magic;
	int32_t link, dir_only, dir;
	struct lab_impair imp[2];
};
struct run_ctl_rep {
	int32_t rc;
	char msg[LC_ERR_MAX];
};
/* `labctl step ID LINE` and `labctl expect ID LINE`: a lab file line for the supervisor to
 * parse after the lab's own lines (and the live lines before it) and run. */
#define RUN_CTL_MAGIC_LINE 0x6c616232u
#define RUN_CTL_LINE_MAX 4096
#define RUN_CTL_OUT_MAX 32768
enum { RUN_LINE_STEP, RUN_LINE_EXPECT };
struct run_ctl_line {
	uint32_t magic;
	int32_t kind;                 /* RUN_LINE_* */
	char text[RUN_CTL_LINE_MAX];  /* the line, as it would stand in the lab file */
};
struct run_ctl_line_rep {
	int32_t status;               /* LC_EXIT_*: 0 held/ran, 1 failed, 2 bad line or error */
	char out[RUN_CTL_OUT_MAX];    /* the step log's lines, or the errors */
};
int run_ctl_line_call(const char *id, const struct run_ctl_line *req,
		      struct run_ctl_line_rep *rep, struct lc_err *e);
int run_ctl_listen(struct run *r, struct lc_err *e);
/* Start answering the control socket (after the lab's steps). */
void run_ctl_serve(struct run *r);
int run_ctl_call(const char *id, const struct run_ctl_req *req, struct run_ctl_rep *rep,
		 struct lc_err *e);

#endif

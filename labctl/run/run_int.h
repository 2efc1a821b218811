/* run_int: the runner's internals, shared by run.c (lifecycle, the step loop, the report),
 * run_agent.c (agents and their steps and events), run_observe.c (the sock_diag poller,
 * expectations, the timeline) and run_capture.c (pcaps and ladders).  Not for other modules. */
#ifndef LABCTL_RUN_INT_H
#define LABCTL_RUN_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <limits.h>

#include "base/clock.h"
#include "run/agentctl.h"
#include "kernel/diag.h"
#include "engine/engine.h"
#include "run/run.h"
#include "kernel/privs.h"
#include "kernel/spawn.h"
#include "observe/evfeed.h"
#include "observe/timeline.h"
#include "kernel/tcpev.h"
#include "run/topo.h"

struct run;

struct run_host {
	struct run *r;
	int index;
	struct agentctl *agent;  /* started on the host's first agent step */
	struct diag *diag;       /* sock_diag socket inside the host */
};

/* An agent event, kept compactly for `expect HOST event ...` (100k connections make 200k). */
struct run_event {
	int64_t ts_ns;
	uint32_t conn;
	int16_t host;
	uint8_t kind;            /* enum lab_event_kind */
	int err;
	char group[LAB_NAME_MAX];
};

struct run_capture;
struct run_prog;
struct expect_owner;
struct run_record;

struct run {
	const struct lab *lab;
	struct run_opts o;
	struct ev_loop *loop;
	struct engine *en;
	struct topo *topo;
	struct run_host *hosts;
	int ctl_fd;              /* supervisor's control socket, -1 if none */
	ev_io ctl_w;
	char id[TOPO_ID_MAX];
	char why_engine[256];
	char **lines;            /* the lab file's lines, for the step log (and live lines) */
	int nlines;
	char *src;               /* the lab file's text and the live lines parsed after it */
	struct lab **live;       /* labs parsed for live lines (r->lab is the newest); freed last */
	int nlive;
	int64_t t0;              /* CLOCK_MONOTONIC ns at the first step */
	int64_t t0_real;         /* CLOCK_REALTIME at the same moment */
	bool registered;
	pid_t reaper;
	int reaper_pipe;         /* write end; the reaper cleans up when it reads EOF */
	int qos_fd;              /* PM QoS request held for --low-latency, -1 if none */
	bool interrupted;
	bool *impaired;          /* per link: changed by an impair step or request */
	ev_signal sigint, sigterm;
	int nexpect, nfailed;

	/* events */
	struct run_event *evs;
	size_t nevs, capevs;

	/* observation */
	struct timeline *tl;
	struct diag_filter pollf;
	bool polling;
	ev_timer poll_w;
	int64_t poll_interval;   /* adapts upwards when a poll costs more than a quarter of it */
	int64_t npolls, poll_cpu_ns;
	bool timeline_capped;    /* stopped following: too many connections to poll cheaply */
	struct tcpev *tev;       /* the event observer, NULL when the poller is used */
	struct evfeed *feed;
	ev_io tev_w;
	ev_timer settle_w;       /* commits timer detaches nothing followed (evfeed.h) */
	char why_observer[512];  /* "events (...)" or "poll (...)", for the first line */

	/* capture */
	struct run_capture *caps;
	int ncaps;

	/* programs (run_prog.c) */
	struct run_prog **progs;   /* one per lab->progs, each its own allocation */
	int nprogs;
	bool progs_ready;
	struct privs_user user;    /* who the programs run as */
	char progdir[PATH_MAX];    /* private: hosts files, and the logs without --capture */
	char logdir[PATH_MAX];     /* where the logs go */
	char labdir[PATH_MAX];     /* the programs' working directory: the lab file's */
	bool keep_logs;
	struct run_prog *prog_wait; /* the runner waits for this program to change */
	int64_t prog_start_ns;     /* total time from spawn to exec, for the report */
	int prog_nstarts;
	/* what the report and the grading output need (run_report.c) */
	struct run_record *rec;
};

void run_sleep(struct run *r, int64_t ns);
void run_log_step(struct run *r, const struct lab_step *st, const char *mark, const char *detail);

/* run_agent.c */
bool run_is_agent_op(enum lab_op op);
int run_agent_send(struct run *r, const struct lab_step *st, uint32_t *tag, struct lc_err *e);
/* detail (len bytes) receives the agent's note on the answer (flood: how many SYNs), or "". */
int run_agent_wait(struct run *r, const struct lab_step *st, uint32_t tag, char *detail,
		   size_t len, struct lc_err *e);
/* Events of host of that kind (in group, when not empty; carrying errno err, when not 0). */
int run_events_count(const struct run *r, int host, enum lab_event_kind kind, const char *group,
		     int err, int64_t *n);
void run_agents_free(struct run *r);

/* run_observe.c */
int run_observe_start(struct run *r, struct lc_err *e);
void run_observe_poll(struct run *r);
int run_expect(struct run *r, const struct lab_step *st, struct lc_err *e);
void run_timeline_report(struct run *r);
void run_observe_free(struct run *r);

/* run_prog.c */
bool run_is_prog_op(enum lab_op op);
int run_progs_prepare(struct run *r, struct lc_err *e);
int run_prog_step(struct run *r, const struct lab_step *st, struct lc_err *e);
int run_prog_expect(struct run *r, const struct lab_step *st, bool *held, char *seen,
		    size_t len);
/* o receives program i's sockets (inodes is the array to free). */
int run_prog_owner(struct run *r, int i, struct expect_owner *o, uint32_t **inodes,
		   struct lc_err *e);
/* The last lines of host h's programs (or of program only when only >= 0). */
void run_prog_tails(struct run *r, int h, int only, char *buf, size_t len);
void run_progs_free(struct run *r);
/* Each started program's log (its last 16 KiB) for the report; returns how many. */
struct report_log;
int run_prog_logs(struct run *r, struct report_log **out);
void run_prog_logs_free(struct report_log *logs, int n);

/* run_capture.c */
int run_capture_start(struct run *r, struct lc_err *e);
void run_capture_report(struct run *r);
void run_capture_free(struct run *r);
/* The i-th capture file and the host it was taken on; -ENOENT past the last. */
int run_capture_file(const struct run *r, int i, const char **path, int *host);

/* run.c */
bool run_link_shown(const struct run *r, int link);

/* run_report.c: the records the report is made of. */
struct ladder;
struct ladder_render_opts;
void run_record_step(struct run *r, const struct lab_step *st, const char *mark,
		     const char *detail, const char *text, double t);
void run_record_ladder(struct run *r, const struct ladder *l, const struct ladder_render_opts *o,
		       size_t nconns);
void run_record_free(struct run *r);

#endif

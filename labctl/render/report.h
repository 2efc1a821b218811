/* report: one lab run as a self-contained HTML page (labctl run --report FILE.html).
 *
 * The page opens offline in any browser: inline CSS and SVG, no script, no external font,
 * image or link.  It shows the run's header (lab, about line, verdict, engine, seed, kernel,
 * date), the lab file with line numbers and each step's verdict and what was seen beside its
 * line, the timeline as a chart (one lane per connection side, states as coloured spans on a
 * shared time axis, packets as ticks when captured), the ladder, each connection's path
 * through the TCP state machine (tcpfsm.h), the link counters and the programs' logs.
 *
 * The runner fills struct report_run from what it recorded; this module knows nothing of how
 * a run is driven.  Everything is borrowed: report_html() copies nothing and frees nothing.
 * Writes only to the FILE * it is given.
 *
 * The parts carry names for tests and readers' scripts: every lab line is <div class="r-line
 * ..." data-line="N">, a step's verdict <span class="r-verdict" data-result="ok|FAIL|ERR|not
 * run">, every lane <g class="r-lane" data-host= data-local= data-peer=>, every state-machine
 * figure <figure class="r-fsm" data-conn="N" data-host=...>.
 */
#ifndef LABCTL_REPORT_H
#define LABCTL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lab/lab.h"

/* One step as it ran: what the step log printed. */
struct report_step {
	int line, col;            /* the step's position in the lab file */
	double t;                 /* seconds since the first step */
	char mark[8];             /* "ok", "FAIL", "ERR" */
	bool expect;              /* an expectation (a test case for --junit and --tap) */
	char text[256];           /* the step's source text */
	char detail[512];         /* what was seen, or the error */
};

/* One state a connection side entered, at t_ns since the run's first step. */
struct report_state {
	enum lab_tcp_state state;
	int64_t t_ns;
};

/* One side of one connection: a lane of the chart and a state-machine figure. */
struct report_side {
	int host;                 /* index into lab->hosts */
	int conn;                 /* 1-based; the two sides of a connection share it */
	bool passive;             /* born of a listener: its path starts at LISTEN */
	char local[64], peer[64]; /* "10.0.0.1:40000" */
	const struct report_state *states;
	int nstates;
	const int64_t *pkts;      /* packets captured at this host, ns since the first step */
	int npkts;
};

/* One direction of an impaired link: the engine's counters. */
struct report_link {
	char from[LAB_NAME_MAX], to[LAB_NAME_MAX];
	bool ok;                  /* false: err says why there are no counters */
	char err[256];
	bool split;               /* lost/overlimit/ruled are known (userlink) */
	uint64_t delivered, dropped, lost, overlimit, ruled;
};

/* A program's output (the end of its log). */
struct report_log {
	const char *name;
	const char *text;
	size_t len;
};

/* A file the run wrote (pcaps, SVGs), as the page should name it. */
struct report_file {
	const char *path;
	const char *what;
};

struct report_run {
	const struct lab *lab;
	const char *const *lines; /* the lab file's text, lines[0] is line 1 */
	int nlines;
	const char *id, *engine, *kernel;
	uint64_t seed;
	int64_t start_real_ns;    /* CLOCK_REALTIME of the first step (the page's date) */
	int failed;               /* failed expectations, or < 0: the run stopped on an error */
	const char *error;        /* that error, or NULL */
	int nexpect;
	double seconds;           /* the run, first step to verdict */
	int64_t poll_ns;          /* the sock_diag poll interval */
	int64_t span_ns;          /* the chart's time axis: 0..span_ns */
	const struct report_step *steps;
	int nsteps;
	const struct report_side *sides;
	int nsides;
	int sides_left_out;       /* connections too many to draw (not in sides) */
	bool timeline_capped;     /* the poller stopped following (too many connections) */
	const struct report_link *links;
	int nlinks;
	const char *link_engine;  /* whose counters */
	const char *ladder_svg;   /* a whole SVG document (labctl's ladder), or NULL */
	size_t ladder_len;
	const char *ladder_note;  /* e.g. "3 of 40 connections drawn", or NULL */
	const struct report_log *logs;
	int nlogs;
	const struct report_file *files;
	int nfiles;
	const char *run_dir;      /* the directory holding them, or NULL */
};

/* 0, or -EIO when a write to out failed. */
int report_html(FILE *out, const struct report_run *rr);

/* The index page of a directory run: one row per lab, linking its report. */
struct report_index_row {
	const char *name, *file;  /* the lab's name and file */
	const char *href;         /* its report, relative to the index; NULL: none */
	const char *result;       /* "pass", "FAIL", "ERROR" */
	double seconds;
};
int report_index_html(FILE *out, const struct report_index_row *rows, int n,
		      int64_t date_real_ns);

/* Write s as HTML/XML text (escaping < > & and "). */
void report_put_text(FILE *out, const char *s);

#endif

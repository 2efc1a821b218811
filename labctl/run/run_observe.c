/* run_observe: the sock_diag poller that records every connection's timeline, expectations,
 * and the timeline part of the report. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "observe/expect.h"
#include "run/run_int.h"

#define RUN_TIMELINE_MAX_CONNS 20000

static void add_port(struct diag_filter *f, uint16_t port)
{
	if (!port)
		return;
	for (int i = 0; i < f->nports; i++)
		if (f->ports[i] == port)
			return;
	if (f->nports < DIAG_MAX_PORTS)
		f->ports[f->nports++] = port;
}

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void run_observe_poll(struct run *r)
{
	if (!r->polling)
		return;
	int64_t c0 = cpu_ns();
	for (int h = 0; h < r->lab->nhosts; h++) {
		struct lc_err e = {0};
		if (r->hosts[h].diag)
			timeline_poll_once(r->tl, r->hosts[h].diag, h, &r->pollf, &e);
	}
	int64_t cost = cpu_ns() - c0;
	/* A timeline is for reading: past this many connections nobody reads it, and polling
	 * 100k sockets costs a core that the connections themselves need. */
	if (timeline_nconns(r->tl) > RUN_TIMELINE_MAX_CONNS && r->polling) {
		ev_timer_stop(r->loop, &r->poll_w);
		r->polling = false;
		r->timeline_capped = true;
	}
	r->poll_cpu_ns += cost;
	r->npolls++;
	/* With 100k sockets a dump takes tens of ms: back off rather than starve the steps.  CPU
	 * time, not wall time, so that being preempted on a busy machine does not count. */
	if (cost * 4 > r->poll_interval)
		r->poll_interval = cost * 4 < 200000000 ? cost * 4 : 200000000;
	else if (r->poll_interval > r->o.poll_ns)
		r->poll_interval = r->poll_interval / 2 > r->o.poll_ns ? r->poll_interval / 2
									: r->o.poll_ns;
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct run *r = w->data;
	run_observe_poll(r);
	w->repeat = (double)r->poll_interval / 1e9;
	ev_timer_again(loop, w);
}

int run_observe_start(struct run *r, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	for (int h = 0; h < lab->nhosts; h++) {
		int rc = diag_new(r->topo->hosts[h].fd, &r->hosts[h].diag, e);
		if (rc < 0)
			return err_prefix(e, "host %s (namespace %s): ", lab->hosts[h].name,
					  r->topo->hosts[h].ns);
		diag_set_name(r->hosts[h].diag, r->topo->hosts[h].ns);
	}
	/* The timeline watches the lab's own ports, filtered in the kernel. */
	for (int i = 0; i < lab->nsteps; i++) {
		const struct lab_step *st = &lab->steps[i];
		if (st->op == LAB_OP_LISTEN)
			add_port(&r->pollf, st->u.listen.port);
		else if (st->op == LAB_OP_CONNECT)
			add_port(&r->pollf, st->u.connect.port);
		else if (st->op == LAB_OP_FLOOD)
			add_port(&r->pollf, st->u.flood.port);
	}
	/* Leave LISTEN out: without it the kernel skips walking the listening hash, which is
	 * shared by every namespace; and ask only for the families the lab uses. */
	for (int st = LAB_TCP_ESTABLISHED; st <= LAB_TCP_CLOSING; st++)
		if (st != LAB_TCP_LISTEN)
			r->pollf.states |= 1u << st;
	bool v4 = false, v6 = false;
	for (int h = 0; h < lab->nhosts; h++)
		for (int i = 0; i < lab->hosts[h].naddrs; i++) {
			v4 |= lab->hosts[h].addrs[i].family == AF_INET;
			v6 |= lab->hosts[h].addrs[i].family == AF_INET6;
		}
	r->pollf.family = v4 && !v6 ? AF_INET : v6 && !v4 ? AF_INET6 : 0;
	r->tl = timeline_new();
	if (!r->tl)
		return err_set(e, -ENOMEM, "out of memory");
	/* A program's ports are its own business: watch every port of a lab that runs one. */
	if (lab->nprogs)
		r->pollf.nports = 0;
	else if (r->pollf.nports == 0)
		return 0;
	r->polling = true;
	r->poll_interval = r->o.poll_ns;
	ev_timer_init(&r->poll_w, on_poll, 0., (double)r->poll_interval / 1e9);
	r->poll_w.data = r;
	ev_timer_again(r->loop, &r->poll_w);
	return 0;
}

int run_expect(struct run *r, const struct lab_step *st, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	int h = st->host;
	int64_t deadline = mono_ns() + st->u.expect.within_ns;
	char seen[512];
	bool held = false;
	r->nexpect++;
	for (;;) {
		seen[0] = '\0';
		int64_t t_eval = mono_ns();
		if (st->u.expect.kind == LAB_EXPECT_EVENT) {
			int64_t n;
			int err = st->u.expect.err;
			run_events_count(r, h, st->u.expect.event, st->u.expect.group, err, &n);
			held = expect_count_holds(&st->u.expect.count, n);
			snprintf(seen, sizeof(seen), "saw %" PRId64 " %s event%s%s%s%s%s", n,
				 lab_event_name(st->u.expect.event), n == 1 ? "" : "s",
				 err ? " with " : "", err ? lab_errno_name(err) : "",
				 st->u.expect.group[0] ? " in group " : "", st->u.expect.group);
		} else if (st->u.expect.kind == LAB_EXPECT_PROGRAM) {
			run_prog_expect(r, st, &held, seen, sizeof(seen));
		} else {
			struct expect_owner own;
			uint32_t *inodes = NULL;
			int rc = 0;
			if (st->u.expect.has_prog)
				rc = run_prog_owner(r, st->u.expect.prog, &own, &inodes, e);
			if (rc == 0)
				rc = expect_eval_owned(r->hosts[h].diag, r->topo->hosts[h].fd, lab, st,
						       st->u.expect.has_prog ? &own : NULL, &held,
						       seen, sizeof(seen), e);
			free(inodes);
			if (rc < 0)
				return err_prefix(e, "%s:%d:%d: ", lab->file, st->pos.line,
						  st->pos.col);
		}
		if (held)
			break;
		int64_t now = mono_ns(), left = deadline - now;
		if (left <= 0 || r->interrupted)
			break;
		/* A dump of 100k sockets takes a few hundred ms: between two, give the loop (the
		 * agents' events, the poller) three times as long, so checking does not starve
		 * what it checks. */
		int64_t pause = 3 * (now - t_eval);
		if (pause < 2000000)
			pause = 2000000;
		run_sleep(r, left < pause ? left : pause);
	}
	if (held) {
		run_log_step(r, st, "ok", seen);
	} else {
		r->nfailed++;
		/* What the programs involved said last is often why. */
		char tails[3072] = "", text[4096];
		if (r->nprogs)
			run_prog_tails(r, h, st->u.expect.kind == LAB_EXPECT_PROGRAM ||
				       st->u.expect.has_prog ? st->u.expect.prog : -1, tails,
				       sizeof(tails));
		snprintf(text, sizeof(text), "%s%s%s", seen, *tails ? "\n" : "", tails);
		run_log_step(r, st, "FAIL", text);
	}
	return 0;
}

static int cmp_first(const void *a, const void *b, void *arg)
{
	const struct timeline *tl = arg;
	const struct timeline_conn *x = timeline_conn(tl, *(const int *)a);
	const struct timeline_conn *y = timeline_conn(tl, *(const int *)b);
	int64_t tx = timeline_event(tl, x->first_ev)->mono_ns;
	int64_t ty = timeline_event(tl, y->first_ev)->mono_ns;
	return tx < ty ? -1 : tx > ty;
}

#define TIMELINE_MAX_PRINT 24

void run_timeline_report(struct run *r)
{
	if (!r->tl)
		return;
	if (!r->timeline_capped)
		run_observe_poll(r); /* the last word */
	const struct timeline *tl = r->tl;
	FILE *f = r->o.out;
	int n = timeline_nconns(tl);
	int *order = calloc((size_t)n + 1, sizeof(int));
	if (!order)
		return;
	int m = 0;
	for (int i = 0; i < n; i++) {
		const struct timeline_conn *c = timeline_conn(tl, i);
		if (c->first_ev < 0)
			continue;
		/* A listener's only story is LISTEN: leave it out. */
		if (c->nev == 1 && timeline_event(tl, c->first_ev)->to == LAB_TCP_LISTEN)
			continue;
		order[m++] = i;
	}
	qsort_r(order, (size_t)m, sizeof(int), cmp_first, (void *)tl);
	const char *names[LAB_MAX_HOSTS];
	for (int h = 0; h < r->lab->nhosts && h < LAB_MAX_HOSTS; h++)
		names[h] = r->lab->hosts[h].name;
	if (r->o.json) {
		timeline_json(tl, f, names, r->lab->nhosts);
	} else if (m > 0 && !r->o.quiet) {
		fprintf(f, "timeline (ms since the first step; sock_diag every %.3g ms):\n",
			(double)r->o.poll_ns / 1e6);
		int skipped = timeline_print(tl, f, names, r->lab->nhosts, order, m, r->t0,
					     TIMELINE_MAX_PRINT);
		if (skipped)
			fprintf(f, "  ... and %d more connections (--json has them all)\n", skipped);
	}
	if (r->npolls && !r->o.json && !r->o.quiet)
		fprintf(f, "  (%" PRId64 " polls, %.1f us CPU each%s)\n", r->npolls,
			(double)r->poll_cpu_ns / 1e3 / (double)r->npolls,
			r->timeline_capped ? "; stopped following past " "20000" " connections" : "");
	free(order);
}

void run_observe_free(struct run *r)
{
	if (r->polling)
		ev_timer_stop(r->loop, &r->poll_w);
	r->polling = false;
	for (int h = 0; r->hosts && h < r->lab->nhosts; h++) {
		diag_free(r->hosts[h].diag);
		r->hosts[h].diag = NULL;
	}
	timeline_free(r->tl);
	r->tl = NULL;
}

/* run_observe: the observer that records every connection's timeline (the kernel's events
 * through eBPF where they load, else the sock_diag poller), expectations, and the timeline
 * part of the report. */
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

/* Read the ring and commit the timer detaches nothing followed; how many records. */
static int events_drain(struct run *r)
{
	struct lc_err e = {0};
	int n = tcpev_read(r->tev, &e);
	evfeed_settle(r->feed, mono_ns());
	return n;
}

void run_observe_poll(struct run *r)
{
	if (r->tev) {
		events_drain(r);
		return;
	}
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

static void on_tev_record(const struct tcpev_event *ev, void *arg)
{
	struct run *r = arg;
	/* Out of memory loses the event; the timeline stays consistent. */
	(void)evfeed_apply(r->feed, ev);
}

/* A wake-up per record would cost more than the record (70k records/s of churn took a fifth
 * of a core that way): after a wake-up the ring is read on a 1 ms timer for as long as
 * records keep coming, and the fd is watched again once one comes back empty.  An idle lab
 * costs nothing, and the timeline's times are the kernel's either way. */
static void on_tev(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct run *r = w->data;
	events_drain(r);
	ev_io_stop(loop, &r->tev_w);
	ev_timer_set(&r->settle_w, 0.001, 0.);
	ev_timer_start(loop, &r->settle_w);
}

static void on_settle(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct run *r = w->data;
	if (events_drain(r) > 0) {
		ev_timer_set(&r->settle_w, 0.001, 0.);
		ev_timer_start(loop, &r->settle_w);
		return;
	}
	ev_io_start(loop, &r->tev_w);
	if (evfeed_npending(r->feed)) {  /* come back when the detaches can be decided */
		ev_timer_set(&r->settle_w, 2 * EVFEED_GRACE_NS / 1e9, 0.);
		ev_timer_start(loop, &r->settle_w);
	}
}

/* The event observer for the lab's namespaces, its ring in the loop. */
static int events_start(struct run *r, struct lc_err *e)
{
	int fds[LAB_MAX_HOSTS];
	int n = r->lab->nhosts;
	for (int h = 0; h < n; h++)
		fds[h] = r->topo->hosts[h].fd;
	int rc = tcpev_open(fds, n, 0, on_tev_record, r, &r->tev, e);
	if (rc < 0)
		return rc;
	r->feed = evfeed_new(r->tl, clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	if (!r->feed)
		return err_set(e, -ENOMEM, "out of memory");
	ev_io_init(&r->tev_w, on_tev, tcpev_fd(r->tev), EV_READ);
	r->tev_w.data = r;
	ev_io_start(r->loop, &r->tev_w);
	ev_timer_init(&r->settle_w, on_settle, 0.001, 0.);
	r->settle_w.data = r;
	snprintf(r->why_observer, sizeof(r->why_observer),
		 "events (the kernel's TCP state and timer events through eBPF, %d namespace%s)", n,
		 n == 1 ? "" : "s");
	return 0;
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
	const char *want = r->o.observer ? r->o.observer : "auto";
	if (strcmp(want, "poll")) {
		struct lc_err why = {0};
		int rc = events_start(r, &why);
		if (rc == 0)
			return 0;
		if (!strcmp(want, "events")) {
			*e = why;
			return rc;
		}
		snprintf(r->why_observer, sizeof(r->why_observer),
			 "poll (sock_diag every %.3g ms; %s)", (double)r->o.poll_ns / 1e6, why.msg);
	} else {
		snprintf(r->why_observer, sizeof(r->why_observer),
			 "poll (sock_diag every %.3g ms, as asked)", (double)r->o.poll_ns / 1e6);
	}
	if (r->pollf.nports == 0 && !lab->nprogs)
		return 0;
	r->polling = true;
	r->poll_interval = r->o.poll_ns;
	ev_timer_init(&r->poll_w, on_poll, 0., (double)r->poll_interval / 1e9);
	r->poll_w.data = r;
	ev_timer_again(r->loop, &r->poll_w);
	return 0;
}

/* expect HOST path / seen, from the timeline as it stands (the events read, or a poll). */
static bool expect_history(struct run *r, const struct lab_step *st, char *seen, size_t len)
{
	run_observe_poll(r);
	int h = st->host;
	uint16_t port = st->u.expect.port;
	bool held;
	size_t off;
	if (st->u.expect.kind == LAB_EXPECT_PATH) {
		int n = timeline_count_path(r->tl, h, port, st->u.expect.path, st->u.expect.npath);
		held = n > 0;
		off = (size_t)snprintf(seen, len, "%d connection%s walked it", n, n == 1 ? "" : "s");
		if (!held && off < len) {
			char d[400];
			timeline_describe(r->tl, h, port, 3, d, sizeof(d));
			off += (size_t)snprintf(seen + off, len - off, "; saw %s", d[0] ? d : "none");
		}
	} else {
		int n = timeline_count_seen(r->tl, h, port, st->u.expect.state);
		held = expect_count_holds(&st->u.expect.count, n);
		off = (size_t)snprintf(seen, len, "%d connection%s passed through %s", n,
				       n == 1 ? "" : "s", lab_state_name(st->u.expect.state));
	}
	/* A history from polls, or from events that were lost, may lack a short state. */
	struct tcpev_stats ts;
	tcpev_get_stats(r->tev, &ts);
	if (off < len && !r->tev)
		snprintf(seen + off, len - off, " (polled every %.3g ms: a shorter state may be "
			 "missed)", (double)r->o.poll_ns / 1e6);
	else if (off < len && ts.ring_drops + ts.recursion_misses) {
		/* Lost events may hold the very state: "never" (or "at most") cannot be claimed. */
		enum lab_cmp c = st->u.expect.count.cmp;
		bool upper = c == LAB_CMP_LE || c == LAB_CMP_LT || (c == LAB_CMP_EQ &&
								    st->u.expect.count.n == 0);
		if (st->u.expect.kind == LAB_EXPECT_SEEN && upper)
			held = false;
		snprintf(seen + off, len - off, " (%" PRIu64 " events lost: a state may be missing%s)",
			 ts.ring_drops + ts.recursion_misses,
			 st->u.expect.kind == LAB_EXPECT_SEEN && upper ? ", so this cannot hold" : "");
	}
	return held;
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
		if (st->u.expect.kind == LAB_EXPECT_PATH || st->u.expect.kind == LAB_EXPECT_SEEN) {
			held = expect_history(r, st, seen, sizeof(seen));
		} else if (st->u.expect.kind == LAB_EXPECT_EVENT) {
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
		/* A listener's only story is LISTEN (and, from events, its CLOSE): leave it out. */
		if (timeline_event(tl, c->first_ev)->to == LAB_TCP_LISTEN &&
		    (c->nev == 1 || (c->nev == 2 && c->state == LAB_TCP_CLOSE)))
			continue;
		order[m++] = i;
	}
	qsort_r(order, (size_t)m, sizeof(int), cmp_first, (void *)tl);
	const char *names[LAB_MAX_HOSTS];
	for (int h = 0; h < r->lab->nhosts && h < LAB_MAX_HOSTS; h++)
		names[h] = r->lab->hosts[h].name;
	struct tcpev_stats st;
	tcpev_get_stats(r->tev, &st);
	uint64_t lost = st.ring_drops + st.recursion_misses;
	if (r->o.json) {
		timeline_json(tl, f, names, r->lab->nhosts);
		fprintf(f, "{\"type\":\"observer\",\"source\":\"%s\",\"records\":%" PRIu64
			",\"ring_drops\":%" PRIu64 ",\"recursion_misses\":%" PRIu64 ",\"polls\":%" PRId64
			",\"complete\":%s}\n", r->tev ? "events" : "poll", st.records, st.ring_drops,
			st.recursion_misses, r->npolls, r->tev && !lost ? "true" : "false");
	} else if (m > 0 && !r->o.quiet && r->tev) {
		fprintf(f, "timeline (ms since the first step; the kernel's events, %" PRIu64
			" records%s):\n", st.records, lost ? ", SOME LOST" : ", none lost");
		int skipped = timeline_print(tl, f, names, r->lab->nhosts, order, m, r->t0,
					     TIMELINE_MAX_PRINT);
		if (skipped)
			fprintf(f, "  ... and %d more connections (--json has them all)\n", skipped);
	} else if (m > 0 && !r->o.quiet) {
		fprintf(f, "timeline (ms since the first step; sock_diag every %.3g ms):\n",
			(double)r->o.poll_ns / 1e6);
		int skipped = timeline_print(tl, f, names, r->lab->nhosts, order, m, r->t0,
					     TIMELINE_MAX_PRINT);
		if (skipped)
			fprintf(f, "  ... and %d more connections (--json has them all)\n", skipped);
	}
	if (lost && !r->o.json)
		fprintf(f, "  (%" PRIu64 " events lost: %" PRIu64 " found the ring full, %" PRIu64
			" runs skipped by the kernel (recursion); a state may be missing)\n", lost,
			st.ring_drops, st.recursion_misses);
	if (r->npolls && !r->o.json && !r->o.quiet)
		fprintf(f, "  (%" PRId64 " polls, %.1f us CPU each%s)\n", r->npolls,
			(double)r->poll_cpu_ns / 1e3 / (double)r->npolls,
			r->timeline_capped ? "; stopped following past " "20000" " connections" : "");
	free(order);
}

void run_observe_free(struct run *r)
{
	if (r->tev) {
		ev_io_stop(r->loop, &r->tev_w);
		ev_timer_stop(r->loop, &r->settle_w);
	}
	tcpev_free(r->tev);
	r->tev = NULL;
	evfeed_free(r->feed);
	r->feed = NULL;
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

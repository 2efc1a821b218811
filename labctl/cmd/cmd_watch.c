/* labctl watch: print TCP state transitions of a lab host (or any namespace) live, from the
 * kernel's events (eBPF) or sock_diag polls, until SIGINT/SIGTERM (or --for DUR). */
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cmd/cmds.h"
#include "kernel/diag.h"
#include "kernel/netns.h"
#include "cmd/ssargs.h"
#include "kernel/tcpev.h"
#include "observe/evfeed.h"
#include "observe/timeline.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: labctl watch ID HOST [STATE...] [port N]... [addr A]... [--interval DUR]\n"
		"                    [--for DUR] [--json] [--stats] [--observer auto|events|poll]\n"
		"       labctl watch --netns NAME [...]\n\n"
		"Print every state change of the host's TCP sockets with its time, until\n"
		"interrupted.  The changes come from the kernel's own events (eBPF: every state,\n"
		"at the kernel's time) where they load, else from sock_diag polls (default every\n"
		"1ms: a state shorter than a poll is missed; sockets that vanish are shown as\n"
		"CLOSED).  Sockets that exist at the start are shown once as they are.  port/addr\n"
		"select sockets; STATE... only selects which changes are printed (a change into or\n"
		"out of one of them).\n\n"
		"  -4, -6          only IPv4 / IPv6 sockets (halves the polling cost)\n"
		"  --observer O    auto (default: events where they load), events, or poll\n"
		"  --interval DUR  poll period: 200us, 1ms, 0.5s (default 1ms)\n"
		"  --for DUR       stop after DUR\n"
		"  --json          one JSON object per change\n"
		"  --stats         at exit, print the observer, polls or events, and CPU used to\n"
		"                  stderr\n");
}

/* "200us", "1ms", "1.5s", "2m": nanoseconds, or -1. */
static int64_t parse_dur(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mul;
	if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "m"))
		mul = 60e9;
	else
		return -1;
	return (int64_t)(v * mul);
}

struct watch {
	struct ev_loop *loop;
	ev_timer poll, stop;
	ev_signal sigint, sigterm;
	struct diag *d;
	struct timeline *tl;
	struct tcpev *tev;    /* the event observer, or NULL: polls */
	struct evfeed *feed;
	ev_io tev_w;
	ev_timer settle;
	struct diag_filter filter;
	uint32_t show;       /* state bits to print; 0 = all */
	bool json;
	bool printed;
	long polls;
	int rc;
	struct lc_err e;
};

static void print_event(const struct timeline *tl, const struct timeline_event *ev, void *arg)
{
	struct watch *w = arg;
	if (w->show && !(w->show & (1u << ev->to)) &&
	    !(ev->from != LAB_TCP_NONE && (w->show & (1u << ev->from))))
		return;
	const struct timeline_conn *c = timeline_conn(tl, ev->conn);
	char la[64], pa[64];
	diag_addr_format(c->family, c->laddr, c->lport, true, la, sizeof(la));
	diag_addr_format(c->family, c->raddr, c->rport, true, pa, sizeof(pa));
	if (w->json) {
		printf("{\"ts_ns\":%" PRId64 ",\"mono_ns\":%" PRId64 ",\"local\":\"%s\",\"peer\":\"%s\","
		       "\"cookie\":%" PRIu64 ",\"from\":\"%s\",\"to\":\"%s\"}\n",
		       ev->real_ns, ev->mono_ns, la, pa, c->cookie,
		       ev->from == LAB_TCP_NONE ? "" : lab_state_name(ev->from),
		       lab_state_name(ev->to));
	} else {
		time_t sec = (time_t)(ev->real_ns / 1000000000);
		struct tm tm;
		localtime_r(&sec, &tm);
		char when[32];
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		printf("%s.%06" PRId64 "  %-24s %-24s %s", when, ev->real_ns % 1000000000 / 1000, la,
		       pa, lab_state_name(ev->to));
		if (ev->from != LAB_TCP_NONE) {
			/* time since the previous state began */
			int64_t since = 0;
			for (int ei = c->first_ev; ei >= 0; ei = timeline_event(tl, ei)->next) {
				const struct timeline_event *p = timeline_event(tl, ei);
				if (p->next >= 0 && timeline_event(tl, p->next) == ev) {
					since = ev->mono_ns - p->mono_ns;
					break;
				}
			}
			printf("  (from %s after %" PRId64 ".%03" PRId64 "ms)", lab_state_name(ev->from),
			       since / 1000000, since / 1000 % 1000);
		}
		putchar('\n');
	}
	w->printed = true;
}

static void on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct watch *w = t->data;
	w->polls++;
	if (timeline_poll_once(w->tl, w->d, 0, &w->filter, &w->e) < 0) {
		w->rc = LC_EXIT_USAGE;
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (w->printed) {
		w->printed = false;
		if (fflush(stdout) != 0) {  /* reader gone (e.g. | head) */
			ev_break(loop, EVBREAK_ALL);
			return;
		}
	}
}

/* The poller's filter, applied to an event's tuple (the kernel filters only by namespace). */
static bool event_selected(const struct diag_filter *f, const struct tcpev_event *ev)
{
	if (f->family && f->family != ev->family)
		return false;
	bool port = f->nports == 0;
	for (int i = 0; i < f->nports && !port; i++)
		port = f->ports[i] == ev->lport || f->ports[i] == ev->rport;
	bool addr = f->naddrs == 0;
	for (int i = 0; i < f->naddrs && !addr; i++)
		addr = diag_addr_eq(ev->family, ev->laddr, &f->addrs[i]) ||
		       diag_addr_eq(ev->family, ev->raddr, &f->addrs[i]);
	return port && addr;
}

static void on_record(const struct tcpev_event *ev, void *arg)
{
	struct watch *w = arg;
	if (event_selected(&w->filter, ev))
		(void)evfeed_apply(w->feed, ev);
}

static int drain(struct ev_loop *loop, struct watch *w)
{
	int n = tcpev_read(w->tev, &w->e);
	if (n < 0) {
		w->rc = LC_EXIT_USAGE;
		ev_break(loop, EVBREAK_ALL);
		return 0;
	}
	evfeed_settle(w->feed, mono_ns());
	if (w->printed) {
		w->printed = false;
		if (fflush(stdout) != 0)
			ev_break(loop, EVBREAK_ALL);
	}
	return n;
}

/* Woken by the ring, then read on a 1 ms timer while records keep coming (a wake-up per
 * record costs more than the record; run_observe.c does the same). */
static void on_tev(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)revents;
	struct watch *w = io->data;
	drain(loop, w);
	ev_io_stop(loop, &w->tev_w);
	ev_timer_set(&w->settle, 0.001, 0.);
	ev_timer_start(loop, &w->settle);
}

static void on_settle(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct watch *w = t->data;
	if (drain(loop, w) > 0) {
		ev_timer_set(&w->settle, 0.001, 0.);
		ev_timer_start(loop, &w->settle);
		return;
	}
	ev_io_start(loop, &w->tev_w);
	if (evfeed_npending(w->feed)) {
		ev_timer_set(&w->settle, 2 * EVFEED_GRACE_NS / 1e9, 0.);
		ev_timer_start(loop, &w->settle);
	}
}

static void on_stop(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	(void)s;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int cmd_watch(int argc, char **argv)
{
	if (cmd_wants_help(argc, argv)) {
		usage(stdout);
		return LC_EXIT_PASS;
	}
	static const char *const with_value[] = {"--interval", "--for", "--observer", NULL};
	struct watch w;
	memset(&w, 0, sizeof(w));
	struct ss_args a;
	int64_t interval = 1000000, run_for = 0;
	bool stats = false;
	const char *observer = "auto";
	if (ss_args_parse(argc, argv, with_value, &a, &w.e) < 0) {
		fprintf(stderr, "labctl watch: %s (see labctl watch --help)\n", w.e.msg);
		return LC_EXIT_USAGE;
	}
	for (int k = 0; k < a.nrest; k++) {
		const char *o = argv[a.rest[k]];
		if (!strcmp(o, "--json")) {
			w.json = true;
		} else if (!strcmp(o, "--stats")) {
			stats = true;
		} else if (!strcmp(o, "--observer")) {
			observer = argv[a.rest[k] + 1];
			if (strcmp(observer, "auto") && strcmp(observer, "events") &&
			    strcmp(observer, "poll")) {
				fprintf(stderr, "labctl watch: --observer must be auto, events or poll, "
						"not \"%s\"\n", observer);
				return LC_EXIT_USAGE;
			}
		} else if (!strcmp(o, "--interval") || !strcmp(o, "--for")) {
			int64_t v = parse_dur(argv[a.rest[k] + 1]);
			if (v <= 0) {
				fprintf(stderr, "labctl watch: bad duration \"%s\" for %s (e.g. 1ms, "
						"200us, 2s)\n", argv[a.rest[k] + 1], o);
				return LC_EXIT_USAGE;
			}
			*(o[2] == 'i' ? &interval : &run_for) = v;
		} else {
			fprintf(stderr, "labctl watch: unknown option %s (see labctl watch --help)\n", o);
			return LC_EXIT_USAGE;
		}
	}
	/* Dump every state: a socket leaving a watched state must not look closed. */
	w.show = a.filter.states;
	w.filter = a.filter;
	w.filter.states = 0;

	int fd = -1;
	if (ss_open_netns(a.netns, &fd, &w.e) < 0) {
		fprintf(stderr, "labctl watch: %s\n", w.e.msg);
		return LC_EXIT_USAGE;
	}
	int rc = LC_EXIT_USAGE;
	if (diag_new(fd, &w.d, &w.e) < 0) {
		fprintf(stderr, "labctl watch: namespace %s: %s\n", a.netns, w.e.msg);
		goto close_fd;
	}
	char name[300];
	snprintf(name, sizeof(name), "namespace %s", a.netns);
	diag_set_name(w.d, name);
	w.tl = timeline_new();
	if (!w.tl) {
		fprintf(stderr, "labctl watch: out of memory\n");
		goto free_diag;
	}
	timeline_set_hook(w.tl, print_event, &w);
	w.loop = ev_default_loop(EVFLAG_AUTO);
	if (!w.loop) {
		fprintf(stderr, "labctl watch: cannot start the event loop\n");
		goto free_tl;
	}
	w.rc = LC_EXIT_PASS;
	char why[LC_ERR_MAX + 64] = "poll (as asked)";
	if (strcmp(observer, "poll")) {
		struct lc_err te = {0};
		if (tcpev_open(&fd, 1, 0, on_record, &w, &w.tev, &te) == 0 &&
		    (w.feed = evfeed_new(w.tl, clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC)))) {
			snprintf(why, sizeof(why), "events (the kernel's TCP state and timer events "
				 "through eBPF)");
		} else if (!strcmp(observer, "events")) {
			fprintf(stderr, "labctl watch: %s\n", te.msg[0] ? te.msg : "out of memory");
			goto free_tl;
		} else {
			tcpev_free(w.tev);
			w.tev = NULL;
			snprintf(why, sizeof(why), "poll (%s)", te.msg);
		}
	}
	if (w.tev) {
		/* What exists already, once (events only tell changes); then the events. */
		w.polls++;
		if (timeline_poll_once(w.tl, w.d, 0, &w.filter, &w.e) < 0) {
			fprintf(stderr, "labctl watch: %s\n", w.e.msg);
			goto free_tl;
		}
		fflush(stdout);
		ev_io_init(&w.tev_w, on_tev, tcpev_fd(w.tev), EV_READ);
		w.tev_w.data = &w;
		ev_io_start(w.loop, &w.tev_w);
		ev_timer_init(&w.settle, on_settle, 0.001, 0.);
		w.settle.data = &w;
	} else {
		ev_timer_init(&w.poll, on_poll, 0., interval / 1e9);
		w.poll.data = &w;
		ev_timer_start(w.loop, &w.poll);
	}
	if (run_for) {
		ev_timer_init(&w.stop, on_stop, run_for / 1e9, 0.);
		ev_timer_start(w.loop, &w.stop);
	}
	ev_signal_init(&w.sigint, on_signal, SIGINT);
	ev_signal_init(&w.sigterm, on_signal, SIGTERM);
	ev_signal_start(w.loop, &w.sigint);
	ev_signal_start(w.loop, &w.sigterm);
	signal(SIGPIPE, SIG_IGN);

	double c0 = cpu_seconds(), t0 = mono_s();
	ev_run(w.loop, 0);
	double cpu = cpu_seconds() - c0, wall = mono_s() - t0;
	fflush(stdout);
	if (w.rc != LC_EXIT_PASS)
		fprintf(stderr, "labctl watch: %s\n", w.e.msg);
	if (w.tev) {
		drain(w.loop, &w);
		evfeed_settle(w.feed, INT64_MAX);
		fflush(stdout);
	}
	if (stats && w.tev) {
		struct tcpev_stats st;
		tcpev_get_stats(w.tev, &st);
		fprintf(stderr,
			"labctl watch: observer %s; %" PRIu64 " records in %.3f s (%.0f/s), cpu %.3f s = "
			"%.1f%% of a core, %" PRIu64 " ring drops, %" PRIu64 " recursion misses, "
			"%d connections, %d events\n",
			why, st.records, wall, (double)st.records / (wall > 0 ? wall : 1), cpu,
			100.0 * cpu / (wall > 0 ? wall : 1), st.ring_drops, st.recursion_misses,
			timeline_nconns(w.tl), timeline_nevents(w.tl));
	} else if (stats)
		fprintf(stderr,
			"labctl watch: %ld polls in %.3f s (%.0f/s), cpu %.3f s = %.1f%% of a core, "
			"%.1f us per poll, %d connections, %d events; observer %s\n",
			w.polls, wall, w.polls / (wall > 0 ? wall : 1), cpu,
			100.0 * cpu / (wall > 0 ? wall : 1), w.polls ? 1e6 * cpu / w.polls : 0.0,
			timeline_nconns(w.tl), timeline_nevents(w.tl), why);
	rc = w.rc;
	ev_signal_stop(w.loop, &w.sigint);
	ev_signal_stop(w.loop, &w.sigterm);
	ev_timer_stop(w.loop, &w.poll);
	ev_timer_stop(w.loop, &w.stop);
	if (w.tev) {
		ev_io_stop(w.loop, &w.tev_w);
		ev_timer_stop(w.loop, &w.settle);
	}
free_tl:
	tcpev_free(w.tev);
	evfeed_free(w.feed);
	timeline_free(w.tl);
free_diag:
	diag_free(w.d);
close_fd:
	close(fd);
	return rc;
}

/* test_evfeed: the event observer's records decoded (tcpev_decode) and turned into timeline
 * states (evfeed): a four-way close as this kernel reported it (recorded with
 * tests/tools/tcpevdump), TIME_WAIT entered from a timewait socket's FIN_WAIT_2 substate,
 * timer detaches that are expiries, re-arms or kills, request sockets that retransmit,
 * complete or are dropped, and the two sources merged into one timeline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/tcpev.h"
#include "observe/evfeed.h"
#include "observe/timeline.h"

#define US 1000LL
#define MS 1000000LL

/* A record as the BPF program writes it; host 0 is 10.0.0.1 (client), host 1 10.0.0.2. */
struct rec {
	int64_t ts;
	int host, kind, from, to;
	uint16_t lport, rport;
	uint64_t key;
};

static struct tcpev_rec raw(const struct rec *r)
{
	struct tcpev_rec x;
	memset(&x, 0, sizeof(x));
	x.ts_ns = (uint64_t)r->ts;
	x.key = r->key;
	x.host = (uint32_t)r->host;
	x.kind = (uint8_t)r->kind;
	x.family = AF_INET;
	x.oldstate = (uint8_t)r->from;
	x.newstate = (uint8_t)r->to;
	x.sport = r->lport;
	x.dport = r->rport;
	x.saddr[0] = x.daddr[0] = 10;
	x.saddr[3] = (uint8_t)(r->host + 1);
	x.daddr[3] = (uint8_t)(2 - r->host);
	if (r->kind == TCPEV_STATE && r->to == LAB_TCP_LISTEN)
		x.daddr[0] = x.daddr[3] = 0;
	return x;
}

static void feed(struct evfeed *f, const struct rec *r, int n)
{
	for (int i = 0; i < n; i++) {
		struct tcpev_rec x = raw(&r[i]);
		struct tcpev_event ev;
		struct lc_err e = {0};
		assert_int_equal(tcpev_decode(&x, sizeof(x), &ev, &e), 0);
		assert_int_equal(evfeed_apply(f, &ev), 0);
	}
}

/* "STATE STATE ..." of the connection of host with local port lport (not a listener). */
static const char *path(const struct timeline *tl, int host, uint16_t lport, uint16_t rport)
{
	static char buf[512];
	buf[0] = '\0';
	for (int i = 0; i < timeline_nconns(tl); i++) {
		const struct timeline_conn *c = timeline_conn(tl, i);
		if (c->host != host || c->lport != lport || c->rport != rport)
			continue;
		for (int ei = c->first_ev; ei >= 0; ei = timeline_event(tl, ei)->next) {
			if (buf[0])
				strcat(buf, " ");
			strcat(buf, lab_state_name(timeline_event(tl, ei)->to));
		}
		return buf;
	}
	return "(none)";
}

static int64_t state_ts(const struct timeline *tl, int host, uint16_t lport,
			enum lab_tcp_state st)
{
	for (int i = 0; i < timeline_nconns(tl); i++) {
		const struct timeline_conn *c = timeline_conn(tl, i);
		if (c->host != host || c->lport != lport || !c->rport)
			continue;
		for (int ei = c->first_ev; ei >= 0; ei = timeline_event(tl, ei)->next)
			if (timeline_event(tl, ei)->to == st)
				return timeline_event(tl, ei)->mono_ns;
	}
	return -1;
}

enum { C = 0, S = 1 };
#define REQ 0xffff88816d0f3dc0ULL

/* labctl run of a four-way close on a veth without delay, as tcpevdump printed it (times
 * relative; the client's close() orphans its socket, so FIN_WAIT_2 is a timewait socket
 * whose substate turns TIME_WAIT when the server's FIN arrives). */
static const struct rec fourway[] = {
	{0, S, TCPEV_STATE, LAB_TCP_CLOSE, LAB_TCP_LISTEN, 8080, 0, 0x47301},
	{47212 * US, C, TCPEV_STATE, LAB_TCP_CLOSE, LAB_TCP_SYN_SENT, 0, 8080, 0x462ff},
	{47288 * US, S, TCPEV_REQ_START, 0, LAB_TCP_SYN_RECV, 8080, 56210, REQ},
	{47310 * US, C, TCPEV_STATE, LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, 56210, 8080, 0x462ff},
	{47321 * US, S, TCPEV_STATE, LAB_TCP_LISTEN, LAB_TCP_SYN_RECV, 8080, 56210, 0x46300},
	{47330 * US, S, TCPEV_REQ_CANCEL, 0, LAB_TCP_SYN_RECV, 8080, 56210, REQ},
	{47334 * US, S, TCPEV_STATE, LAB_TCP_SYN_RECV, LAB_TCP_ESTABLISHED, 8080, 56210, 0x46300},
	{50654 * US, C, TCPEV_STATE, LAB_TCP_ESTABLISHED, LAB_TCP_FIN_WAIT1, 56210, 8080, 0x462ff},
	{50717 * US, S, TCPEV_STATE, LAB_TCP_ESTABLISHED, LAB_TCP_CLOSE_WAIT, 8080, 56210, 0x46300},
	{53630 * US, C, TCPEV_STATE, LAB_TCP_FIN_WAIT1, LAB_TCP_FIN_WAIT2, 56210, 8080, 0x462ff},
	{53665 * US, C, TCPEV_TW_START, 0, LAB_TCP_FIN_WAIT2, 56210, 8080, 0x462ff},
	{53671 * US, C, TCPEV_STATE, LAB_TCP_FIN_WAIT2, LAB_TCP_CLOSE, 56210, 8080, 0x462ff},
	{72421 * US, S, TCPEV_STATE, LAB_TCP_CLOSE_WAIT, LAB_TCP_LAST_ACK, 8080, 56210, 0x46300},
	{72440 * US, C, TCPEV_TW_SEGMENT, 0, LAB_TCP_TIME_WAIT, 56210, 8080, 0x462ff},
	{72526 * US, S, TCPEV_STATE, LAB_TCP_LAST_ACK, LAB_TCP_CLOSE, 8080, 56210, 0x46300},
};

static void test_fourway(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	struct evfeed *f = evfeed_new(tl, 1700000000000000000LL);
	feed(f, fourway, sizeof(fourway) / sizeof(fourway[0]));
	assert_int_equal(evfeed_settle(f, 100 * MS), 0);
	assert_string_equal(path(tl, C, 56210, 8080),
			    "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT");
	assert_string_equal(path(tl, S, 8080, 56210),
			    "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
	/* SYN_RECV from the request's timer (the SYN's arrival), not the full socket's event */
	assert_int_equal(state_ts(tl, S, 8080, LAB_TCP_SYN_RECV), 47288 * US);
	assert_int_equal(state_ts(tl, C, 56210, LAB_TCP_TIME_WAIT), 72440 * US);
	/* one connection per side and the listener: the request was stitched, not duplicated */
	assert_int_equal(timeline_nconns(tl), 3);
	/* the SYN_SENT event came before the port: the tuple was completed later */
	assert_int_not_equal(timeline_find(tl, C, 0x462ff), -1);
	const struct timeline_event *ev = timeline_event(tl, 0);
	assert_int_equal(ev->real_ns - ev->mono_ns, 1700000000000000000LL);
	evfeed_free(f);
	timeline_free(tl);
}

static void test_decode_rejects(void **state)
{
	(void)state;
	struct rec r = {1, C, TCPEV_STATE, LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, 1, 2, 3};
	struct tcpev_rec x = raw(&r);
	struct tcpev_event ev;
	struct lc_err e = {0};
	assert_int_equal(tcpev_decode(&x, sizeof(x) - 1, &ev, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "bytes"));
	x.kind = 99;
	assert_int_equal(tcpev_decode(&x, sizeof(x), &ev, &e), -EINVAL);
	x = raw(&r);
	x.family = 1;
	assert_int_equal(tcpev_decode(&x, sizeof(x), &ev, &e), -EINVAL);
	x = raw(&r);
	x.newstate = 40;
	assert_int_equal(tcpev_decode(&x, sizeof(x), &ev, &e), -EINVAL);
	/* a request socket's NEW_SYN_RECV reads as SYN_RECV */
	x = raw(&r);
	x.oldstate = LAB_TCP_NEW_SYN_RECV;
	assert_int_equal(tcpev_decode(&x, sizeof(x), &ev, &e), 0);
	assert_int_equal(ev.from, LAB_TCP_SYN_RECV);
	assert_int_equal(ev.lport, 1);
	assert_int_equal(ev.rport, 2);
	assert_int_equal(ev.laddr[3], 1);
	assert_int_equal(ev.raddr[3], 2);
}

/* A timewait socket's timer: expiry (detach + handler) is the end at the handler's time; a
 * re-arm (detach + start) is not an end; a detach nothing follows is a kill, at its time,
 * but only once the grace has passed. */
static void test_timewait_timer(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	struct evfeed *f = evfeed_new(tl, 0);
	const struct rec r[] = {
		{1 * MS, C, TCPEV_STATE, LAB_TCP_CLOSE, LAB_TCP_SYN_SENT, 1000, 80, 11},
		{2 * MS, C, TCPEV_STATE, LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, 1000, 80, 11},
		{3 * MS, C, TCPEV_STATE, LAB_TCP_ESTABLISHED, LAB_TCP_FIN_WAIT1, 1000, 80, 11},
		{4 * MS, C, TCPEV_STATE, LAB_TCP_FIN_WAIT1, LAB_TCP_FIN_WAIT2, 1000, 80, 11},
		{5 * MS, C, TCPEV_TW_START, 0, LAB_TCP_TIME_WAIT, 1000, 80, 11},
		{5 * MS + 1, C, TCPEV_STATE, LAB_TCP_FIN_WAIT2, LAB_TCP_CLOSE, 1000, 80, 11},
		/* re-armed */
		{20 * MS, C, TCPEV_TW_CANCEL, 0, LAB_TCP_TIME_WAIT, 1000, 80, 11},
		{20 * MS + 1, C, TCPEV_TW_START, 0, LAB_TCP_TIME_WAIT, 1000, 80, 11},
		/* expiry */
		{60 * MS, C, TCPEV_TW_CANCEL, 0, LAB_TCP_TIME_WAIT, 1000, 80, 11},
		{60 * MS + 2, C, TCPEV_TW_EXPIRE, 0, LAB_TCP_TIME_WAIT, 1000, 80, 11},
		/* a second connection, killed (a SYN reused its tuple) */
		{70 * MS, C, TCPEV_STATE, LAB_TCP_CLOSE, LAB_TCP_SYN_SENT, 1001, 80, 12},
		{71 * MS, C, TCPEV_STATE, LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, 1001, 80, 12},
		{72 * MS, C, TCPEV_STATE, LAB_TCP_ESTABLISHED, LAB_TCP_FIN_WAIT1, 1001, 80, 12},
		{73 * MS, C, TCPEV_TW_START, 0, LAB_TCP_TIME_WAIT, 1001, 80, 12},
		{73 * MS + 1, C, TCPEV_STATE, LAB_TCP_FIN_WAIT1, LAB_TCP_CLOSE, 1001, 80, 12},
		{80 * MS, C, TCPEV_TW_CANCEL, 0, LAB_TCP_TIME_WAIT, 1001, 80, 12},
	};
	feed(f, r, (int)(sizeof(r) / sizeof(r[0])));
	assert_int_equal(evfeed_settle(f, 21 * MS), 0);
	assert_string_equal(path(tl, C, 1000, 80),
			    "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
	assert_int_equal(state_ts(tl, C, 1000, LAB_TCP_CLOSE), 60 * MS + 2);
	/* within the grace the kill waits */
	assert_int_equal(evfeed_settle(f, 80 * MS + EVFEED_GRACE_NS - 1), 0);
	assert_int_equal(evfeed_npending(f), 1);
	assert_string_equal(path(tl, C, 1001, 80), "SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT");
	assert_int_equal(evfeed_settle(f, 80 * MS + EVFEED_GRACE_NS), 0);
	assert_int_equal(evfeed_npending(f), 0);
	assert_string_equal(path(tl, C, 1001, 80),
			    "SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT CLOSED");
	assert_int_equal(state_ts(tl, C, 1001, LAB_TCP_CLOSE), 80 * MS);
	evfeed_free(f);
	timeline_free(tl);
}

/* Request sockets: a retransmission (detach, handler, start) keeps it; a handler with no
 * start after it drops it; the same kernel address later is a new connection. */
static void test_request_timer(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	struct evfeed *f = evfeed_new(tl, 0);
	const struct rec r[] = {
		{1 * MS, S, TCPEV_REQ_START, 0, LAB_TCP_SYN_RECV, 80, 2000, REQ},
		{1001 * MS, S, TCPEV_REQ_CANCEL, 0, LAB_TCP_SYN_RECV, 80, 2000, REQ},
		{1001 * MS + 1, S, TCPEV_REQ_EXPIRE, 0, LAB_TCP_SYN_RECV, 80, 2000, REQ},
		{1001 * MS + 2, S, TCPEV_REQ_START, 0, LAB_TCP_SYN_RECV, 80, 2000, REQ},
		{3001 * MS, S, TCPEV_REQ_CANCEL, 0, LAB_TCP_SYN_RECV, 80, 2000, REQ},
		{3001 * MS + 1, S, TCPEV_REQ_EXPIRE, 0, LAB_TCP_SYN_RECV, 80, 2000, REQ},
	};
	feed(f, r, 6);
	assert_int_equal(evfeed_settle(f, 2000 * MS), 0);
	assert_string_equal(path(tl, S, 80, 2000), "SYN_RECV");
	assert_int_equal(evfeed_settle(f, 4000 * MS), 0);
	assert_string_equal(path(tl, S, 80, 2000), "SYN_RECV CLOSED");
	assert_int_equal(state_ts(tl, S, 80, LAB_TCP_CLOSE), 3001 * MS + 1);
	/* the address comes back for another request: a second connection */
	const struct rec again[] = {
		{5000 * MS, S, TCPEV_REQ_START, 0, LAB_TCP_SYN_RECV, 80, 2001, REQ},
		{5001 * MS, S, TCPEV_STATE, LAB_TCP_LISTEN, LAB_TCP_SYN_RECV, 80, 2001, 77},
		{5001 * MS + 1, S, TCPEV_REQ_CANCEL, 0, LAB_TCP_SYN_RECV, 80, 2001, REQ},
		{5001 * MS + 2, S, TCPEV_STATE, LAB_TCP_SYN_RECV, LAB_TCP_ESTABLISHED, 80, 2001, 77},
	};
	feed(f, again, 4);
	assert_int_equal(evfeed_settle(f, INT64_MAX), 0);
	assert_string_equal(path(tl, S, 80, 2000), "SYN_RECV CLOSED");
	assert_string_equal(path(tl, S, 80, 2001), "SYN_RECV ESTABLISHED");
	assert_int_equal(timeline_nconns(tl), 2);
	evfeed_free(f);
	timeline_free(tl);
}

/* One timeline, two sources: a poll that sees what the events already said adds nothing,
 * and a sweep after an event's CLOSE does not close it twice. */
static void test_merge_with_polls(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	struct evfeed *f = evfeed_new(tl, 0);
	feed(f, fourway, 7);  /* up to both sides ESTABLISHED */
	int nev = timeline_nevents(tl);
	struct diag_sock s;
	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	s.state = LAB_TCP_ESTABLISHED;
	s.cookie = 0x462ff;
	s.laddr[0] = s.raddr[0] = 10;
	s.laddr[3] = 1;
	s.raddr[3] = 2;
	s.lport = 56210;
	s.rport = 8080;
	uint32_t gen = timeline_begin(tl, C);
	assert_int_equal(timeline_observe(tl, C, &s, 0, 60 * MS), 0);
	assert_int_equal(timeline_sweep(tl, C, gen, 0, 60 * MS), 0);
	assert_int_equal(timeline_nevents(tl), nev);
	feed(f, fourway + 7, (int)(sizeof(fourway) / sizeof(fourway[0])) - 7);
	gen = timeline_begin(tl, S);
	assert_int_equal(timeline_sweep(tl, S, gen, 0, 100 * MS), 0);  /* nothing left */
	assert_string_equal(path(tl, S, 8080, 56210),
			    "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
	/* the listener, never in a dump, is closed by the sweep (the poller's rule) */
	evfeed_free(f);
	timeline_free(tl);
}

/* Records of a namespace the loader did not map never reach here; a host index out of
 * range is refused by the timeline rather than trusted. */
static void test_bad_host(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	struct evfeed *f = evfeed_new(tl, 0);
	struct rec r = {1, 300, TCPEV_STATE, LAB_TCP_CLOSE, LAB_TCP_SYN_SENT, 1, 2, 3};
	struct tcpev_rec x = raw(&r);
	struct tcpev_event ev;
	struct lc_err e = {0};
	assert_int_equal(tcpev_decode(&x, sizeof(x), &ev, &e), 0);
	assert_int_equal(evfeed_apply(f, &ev), -EINVAL);
	assert_int_equal(timeline_nconns(tl), 0);
	evfeed_free(f);
	timeline_free(tl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fourway),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_timewait_timer),
		cmocka_unit_test(test_request_timer),
		cmocka_unit_test(test_merge_with_polls),
		cmocka_unit_test(test_bad_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

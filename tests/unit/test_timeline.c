/* test_timeline: state sequences from synthetic polls; request-socket stitching; sweeping;
 * 100k sockets; the printed and JSON forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "observe/timeline.h"

#define MS 1000000LL

static struct diag_sock sock4(uint64_t cookie, enum lab_tcp_state st, uint8_t l, uint16_t lp,
			      uint8_t r, uint16_t rp)
{
	struct diag_sock s;
	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	s.state = st;
	s.cookie = cookie;
	s.laddr[0] = 10;
	s.laddr[3] = l;
	s.raddr[0] = 10;
	s.raddr[3] = r;
	s.lport = lp;
	s.rport = rp;
	return s;
}

/* one poll round of host with the given sockets at time t */
static void round_(struct timeline *tl, int host, const struct diag_sock *s, int n, int64_t t)
{
	uint32_t gen = timeline_begin(tl, host);
	for (int i = 0; i < n; i++)
		assert_int_equal(timeline_observe(tl, host, &s[i], 1700000000000000000LL + t, t), 0);
	assert_int_equal(timeline_sweep(tl, host, gen, 1700000000000000000LL + t, t), 0);
}

static int hook_calls;
static void hook(const struct timeline *tl, const struct timeline_event *ev, void *arg)
{
	(void)tl;
	(void)ev;
	assert_ptr_equal(arg, &hook_calls);
	hook_calls++;
}

static void test_client_close(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	hook_calls = 0;
	timeline_set_hook(tl, hook, &hook_calls);
	enum lab_tcp_state seq[] = {LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, LAB_TCP_ESTABLISHED,
				    LAB_TCP_FIN_WAIT1, LAB_TCP_FIN_WAIT2, LAB_TCP_TIME_WAIT};
	int64_t t[] = {0, 20312 * 1000, 21 * MS, 40 * MS, 60 * MS, 61 * MS};
	for (int i = 0; i < 6; i++) {
		struct diag_sock s = sock4(7, seq[i], 1, 40000, 2, 8080);
		round_(tl, 0, &s, 1, t[i]);
	}
	round_(tl, 0, NULL, 0, 120 * MS);  /* TIME_WAIT expired */
	round_(tl, 0, NULL, 0, 130 * MS);  /* nothing new */
	assert_int_equal(timeline_nconns(tl), 1);
	assert_int_equal(timeline_nevents(tl), 6);
	assert_int_equal(hook_calls, 6);
	const struct timeline_conn *c = timeline_conn(tl, 0);
	assert_int_equal(c->nev, 6);
	assert_false(c->active);
	enum lab_tcp_state want[] = {LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, LAB_TCP_FIN_WAIT1,
				     LAB_TCP_FIN_WAIT2, LAB_TCP_TIME_WAIT, LAB_TCP_CLOSE};
	int k = 0;
	enum lab_tcp_state prev = LAB_TCP_NONE;
	for (int ei = c->first_ev; ei >= 0; ei = timeline_event(tl, ei)->next, k++) {
		const struct timeline_event *ev = timeline_event(tl, ei);
		assert_int_equal(ev->to, want[k]);
		assert_int_equal(ev->from, prev);
		assert_int_equal(ev->real_ns - ev->mono_ns, 1700000000000000000LL);
		prev = ev->to;
	}
	assert_int_equal(k, 6);
	assert_int_equal(timeline_event(tl, 1)->mono_ns, 20312 * 1000);  /* not 21 ms: no change */

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *names[] = {"client"};
	assert_int_equal(timeline_print(tl, f, names, 1, NULL, 0, -5000000, 0), 0);
	fclose(f);
	/* ms since t0 (5 ms before the first sighting), wrapped before column 100 */
	assert_string_equal(buf, "  client   10.0.0.1:40000 > 10.0.0.2:8080\n"
				 "          SYN_SENT 5.0, ESTABLISHED 25.3, FIN_WAIT_1 45.0, "
				 "FIN_WAIT_2 65.0, TIME_WAIT 66.0,\n"
				 "          CLOSED 125.0\n");
	free(buf);
	/* An order of two (the same connection twice) with max 1: one printed, one left out;
	 * without names the host is "host0". */
	f = open_memstream(&buf, &len);
	int twice[2] = {0, 0};
	assert_int_equal(timeline_print(tl, f, NULL, 0, twice, 2, 0, 1), 1);
	fclose(f);
	assert_non_null(strstr(buf, "  host0    10.0.0.1:40000 > 10.0.0.2:8080\n"));
	assert_null(strstr(buf + 1, "  host0"));
	free(buf);
	f = open_memstream(&buf, &len);
	timeline_json(tl, f, names, 1);
	fclose(f);
	assert_non_null(strstr(buf, "{\"type\":\"timeline\",\"host\":\"client\",\"local\":"
				    "\"10.0.0.1:40000\",\"peer\":\"10.0.0.2:8080\",\"cookie\":7,"
				    "\"events\":[{\"state\":\"SYN_SENT\",\"ts_ns\":1700000000000000000,"
				    "\"mono_ns\":0,\"rel_us\":0},{\"state\":\"ESTABLISHED\""));
	assert_non_null(strstr(buf, "{\"state\":\"CLOSED\",\"ts_ns\":1700000000120000000,"
				    "\"mono_ns\":120000000,\"rel_us\":120000}]}\n"));
	free(buf);
	timeline_free(tl);
	timeline_free(NULL);
}

/* The server's request socket (SYN_RECV) and the full socket that replaces it have
 * different cookies; the timeline reads them as one connection. */
static void test_request_socket_stitched(void **state)
{
	(void)state;
	struct timeline *tl = timeline_new();
	struct diag_sock lst = sock4(1, LAB_TCP_LISTEN, 2, 8080, 0, 0);
	struct diag_sock req = sock4(50, LAB_TCP_SYN_RECV, 2, 8080, 1, 40000);
	struct diag_sock full = sock4(51, LAB_TCP_ESTABLISHED, 2, 8080, 1, 40000);
	struct diag_sock other = sock4(52, LAB_TCP_ESTABLISHED, 2, 8080, 1, 40001);
	struct diag_sock r1[] = {lst, req};
	struct diag_sock r2[] = {lst, full, other};
	round_(tl, 1, r1, 2, 0);
	round_(tl, 1, r2, 3, 10 * MS);
	assert_int_equal(timeline_nconns(tl), 3);  /* listener, stitched, other */
	const struct timeline_conn *c = timeline_conn(tl, 1);
	assert_int_equal(c->nev, 2);
	assert_int_equal(c->cookie, 51);
	assert_int_equal(timeline_event(tl, c->first_ev)->to, LAB_TCP_SYN_RECV);
	assert_int_equal(timeline_event(tl, c->last_ev)->to, LAB_TCP_ESTABLISHED);
	assert_true(c->active);
	/* a plain new connection is not stitched to anything */
	assert_int_equal(timeline_conn(tl, 2)->nev, 1);
	/* the same cookie on another host is another connection */
	round_(tl, 2, &full, 1, 11 * MS);
	assert_int_equal(timeline_nconns(tl), 4);
	/* a sweep of host 2 does not touch host 1 */
	round_(tl, 2, NULL, 0, 12 * MS);
	assert_true(timeline_conn(tl, 1)->active);
	assert_false(timeline_conn(tl, 3)->active);
	/* a SYN_RECV that vanished (expired) is not stitched to a later socket */
	struct diag_sock req2 = sock4(60, LAB_TCP_SYN_RECV, 2, 8080, 1, 40002);
	struct diag_sock full2 = sock4(61, LAB_TCP_ESTABLISHED, 2, 8080, 1, 40002);
	round_(tl, 1, &req2, 1, 20 * MS);
	round_(tl, 1, NULL, 0, 30 * MS);
	round_(tl, 1, &full2, 1, 40 * MS);
	int n = timeline_nconns(tl);
	assert_int_equal(timeline_conn(tl, n - 1)->cookie, 61);
	assert_int_equal(timeline_conn(tl, n - 1)->nev, 1);
	assert_int_equal(timeline_observe(tl, LAB_MAX_HOSTS, &full2, 0, 0), -22);
	timeline_free(tl);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_100k(void **state)
{
	(void)state;
	enum { N = 100000 };
	struct timeline *tl = timeline_new();
	struct diag_sock *s = malloc(N * sizeof(*s));
	for (int i = 0; i < N; i++)
		s[i] = sock4((uint64_t)i + 1000, LAB_TCP_ESTABLISHED, 1, (uint16_t)(1024 + i % 60000),
			     2, (uint16_t)(8080 + i / 60000));
	double t0 = now_s();
	round_(tl, 0, s, N, 0);
	for (int i = 0; i < N; i += 2)
		s[i].state = LAB_TCP_CLOSE_WAIT;
	round_(tl, 0, s, N, 1 * MS);
	round_(tl, 0, s, N / 2, 2 * MS);  /* the second half vanished */
	double dt = now_s() - t0;
	assert_int_equal(timeline_nconns(tl), N);
	assert_int_equal(timeline_nevents(tl), N + N / 2 + N / 2);
	int closed = 0;
	for (int i = 0; i < N; i++)
		closed += !timeline_conn(tl, i)->active;
	assert_int_equal(closed, N / 2);
	print_message("# 3 rounds of 100k sockets: %.1f ms (sanitized build)\n", dt * 1000);
	assert_true(dt < 5.0);
	free(s);
	timeline_free(tl);
}

static void test_lab_filter(void **state)
{
	(void)state;
	const char *text =
		"lab f\n"
		"host client addr 10.0.0.1/24\n"
		"host server addr 10.0.0.2/24\n"
		"link client server\n"
		"server listen :8080\n"
		"server listen :9090 as s2\n"
		"client connect server:8080 count 3\n"
		"client connect server:9090\n"
		"expect server ESTABLISHED port 8080 count 3 within 1s\n";
	struct lab *lab = NULL;
	struct lc_err e = {0};
	if (lab_parse_string("f.lab", text, &lab, &e) != 0)
		fail_msg("parse: %s", e.msg);
	struct diag_filter f;
	timeline_lab_filter(lab, &f);
	assert_int_equal(f.nports, 2);
	assert_int_equal(f.ports[0], 8080);
	assert_int_equal(f.ports[1], 9090);
	assert_int_equal(f.family, AF_INET);
	assert_int_equal(f.states, 0);
	lab_free(lab);
	const char *text6 = "lab g\nhost a addr fd00::1/64\nhost b addr fd00::2/64\nlink a b\n"
			    "b listen :80\n";
	assert_int_equal(lab_parse_string("g.lab", text6, &lab, &e), 0);
	timeline_lab_filter(lab, &f);
	assert_int_equal(f.family, 0);
	assert_int_equal(f.nports, 1);
	lab_free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_close),
		cmocka_unit_test(test_request_socket_stitched),
		cmocka_unit_test(test_100k),
		cmocka_unit_test(test_lab_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

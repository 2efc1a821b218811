/* test_expect: expect_eval against a live namespace that this test makes (root only; skipped
 * otherwise): true expectations hold, false ones fail and say what was seen instead.
 *
 * The namespace: 127.0.0.1:8080 listening with backlog 4; three connections from 127.0.0.2
 * left in the accept queue (6 ESTABLISHED sockets); one more accepted, then the client shuts
 * down its side (FIN_WAIT_2 / CLOSE_WAIT).  Four connects: TcpActiveOpens is 4. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "observe/expect.h"

struct fixture {
	int nsfd;
	int fds[16];
	int nfds;
	struct diag *d;
	struct lab lab;
	struct lab_host hosts[2];
};

static int tcp_to(struct fixture *fx, const char *from)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, from, &a.sin_addr);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(8080)};
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	assert_int_equal(connect(s, (struct sockaddr *)&dst, sizeof(dst)), 0);
	fx->fds[fx->nfds++] = s;
	return s;
}

static int setup(void **state)
{
	if (geteuid() != 0)
		return 0;
	struct fixture *fx = calloc(1, sizeof(*fx));
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(orig >= 0);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);

	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	fx->fds[fx->nfds++] = l;
	int c = tcp_to(fx, "127.0.0.2");
	int acc = accept(l, NULL, NULL);
	assert_true(acc >= 0);
	fx->fds[fx->nfds++] = acc;
	shutdown(c, SHUT_WR);
	for (int i = 0; i < 3; i++)
		tcp_to(fx, "127.0.0.2");
	usleep(50000);  /* the FIN and its ACK cross the loopback */

	fx->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_int_equal(setns(orig, CLONE_NEWNET), 0);
	close(orig);
	struct lc_err e = {0};
	assert_int_equal(diag_new(fx->nsfd, &fx->d, &e), 0);

	strcpy(fx->hosts[0].name, "client");
	fx->hosts[0].naddrs = 1;
	fx->hosts[0].addrs[0] = (struct lab_addr){.family = AF_INET, .bytes = {127, 0, 0, 2}};
	strcpy(fx->hosts[1].name, "server");
	fx->hosts[1].naddrs = 1;
	fx->hosts[1].addrs[0] = (struct lab_addr){.family = AF_INET, .bytes = {127, 0, 0, 1}};
	fx->lab.hosts = fx->hosts;
	fx->lab.nhosts = 2;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (!fx)
		return 0;
	diag_free(fx->d);
	for (int i = 0; i < fx->nfds; i++)
		close(fx->fds[i]);
	close(fx->nsfd);
	free(fx);
	return 0;
}

static struct lab_step state_step(enum lab_tcp_state s, uint16_t port, enum lab_cmp cmp,
				  int64_t n)
{
	struct lab_step st;
	memset(&st, 0, sizeof(st));
	st.op = LAB_OP_EXPECT;
	st.host = 1;
	st.u.expect.kind = LAB_EXPECT_STATE;
	st.u.expect.state = s;
	st.u.expect.port = port;
	st.u.expect.count = (struct lab_count){cmp, n};
	return st;
}

static bool eval(struct fixture *fx, const struct lab_step *st, char *seen)
{
	bool held = true;
	struct lc_err e = {0};
	int rc = expect_eval(fx->d, fx->nsfd, &fx->lab, st, &held, seen, 256, &e);
	if (rc != 0)
		fail_msg("expect_eval: %s", e.msg);
	return held;
}

#define NEED_ROOT()                                                  \
	do {                                                         \
		if (!*state) {                                       \
			print_message("# SKIP: needs root\n");     \
			skip();                                      \
		}                                                    \
	} while (0)

static void test_states(void **state)
{
	NEED_ROOT();
	struct fixture *fx = *state;
	char seen[256];
	struct lab_step st = state_step(LAB_TCP_ESTABLISHED, 8080, LAB_CMP_EQ, 6);
	assert_true(eval(fx, &st, seen));
	assert_string_equal(seen, "saw 6 ESTABLISHED on port 8080 (also: 1 FIN_WAIT_2, "
				  "1 CLOSE_WAIT, 1 LISTEN)");
	st.u.expect.count.n = 7;  /* false: must fail */
	assert_false(eval(fx, &st, seen));
	st = state_step(LAB_TCP_CLOSE_WAIT, 8080, LAB_CMP_GE, 2);
	assert_false(eval(fx, &st, seen));
	assert_string_equal(seen, "saw 1 CLOSE_WAIT on port 8080 (also: 6 ESTABLISHED, "
				  "1 FIN_WAIT_2, 1 LISTEN)");
	st.u.expect.count.n = 1;
	assert_true(eval(fx, &st, seen));
	/* another port: nothing there */
	st = state_step(LAB_TCP_ESTABLISHED, 9999, LAB_CMP_GE, 1);
	assert_false(eval(fx, &st, seen));
	assert_string_equal(seen, "saw 0 ESTABLISHED on port 9999");
	st.u.expect.count = (struct lab_count){LAB_CMP_EQ, 0};
	assert_true(eval(fx, &st, seen));
	/* peers: the server's sockets whose peer is the client; the client's toward server:8080 */
	st = state_step(LAB_TCP_ESTABLISHED, 0, LAB_CMP_EQ, 3);
	st.u.expect.has_peer = true;
	st.u.expect.peer_host = 0;
	assert_true(eval(fx, &st, seen));
	assert_non_null(strstr(seen, "with peer client"));
	st.u.expect.peer_host = 1;
	st.u.expect.peer_port = 8080;
	assert_true(eval(fx, &st, seen));
	st.u.expect.peer_port = 8081;
	assert_false(eval(fx, &st, seen));
	assert_string_equal(seen, "saw 0 ESTABLISHED with peer server:8081");
}

static void test_queue(void **state)
{
	NEED_ROOT();
	struct fixture *fx = *state;
	char seen[256];
	struct lab_step st;
	memset(&st, 0, sizeof(st));
	st.op = LAB_OP_EXPECT;
	st.u.expect.kind = LAB_EXPECT_QUEUE;
	st.u.expect.port = 8080;
	st.u.expect.has_queue = st.u.expect.has_backlog = st.u.expect.has_synrecv = true;
	st.u.expect.queue = (struct lab_count){LAB_CMP_EQ, 3};
	st.u.expect.backlog = (struct lab_count){LAB_CMP_EQ, 4};
	st.u.expect.synrecv = (struct lab_count){LAB_CMP_EQ, 0};
	assert_true(eval(fx, &st, seen));
	assert_string_equal(seen, "LISTEN on port 8080: queue 3, backlog 4, synrecv 0");
	st.u.expect.queue = (struct lab_count){LAB_CMP_GE, 4};
	assert_false(eval(fx, &st, seen));
	assert_string_equal(seen, "LISTEN on port 8080: queue 3 (want >= 4), backlog 4, synrecv 0");
	st.u.expect.port = 8081;
	assert_false(eval(fx, &st, seen));
	assert_string_equal(seen, "no LISTEN socket on port 8081");
}

static void test_counter(void **state)
{
	NEED_ROOT();
	struct fixture *fx = *state;
	char seen[256];
	struct lab_step st;
	memset(&st, 0, sizeof(st));
	st.op = LAB_OP_EXPECT;
	st.u.expect.kind = LAB_EXPECT_COUNTER;
	strcpy(st.u.expect.counter, "TcpActiveOpens");
	st.u.expect.count = (struct lab_count){LAB_CMP_EQ, 4};
	assert_true(eval(fx, &st, seen));
	assert_string_equal(seen, "TcpActiveOpens = 4");
	st.u.expect.count = (struct lab_count){LAB_CMP_GE, 5};
	assert_false(eval(fx, &st, seen));
	strcpy(st.u.expect.counter, "TcpExtListenOverflow");
	bool held;
	struct lc_err e = {0};
	assert_int_equal(expect_eval(fx->d, fx->nsfd, &fx->lab, &st, &held, seen, 256, &e),
			 -ENOENT);
	assert_non_null(strstr(e.msg, "did you mean TcpExtListenOverflows?"));
	st.u.expect.kind = LAB_EXPECT_EVENT;
	assert_int_equal(expect_eval(fx->d, fx->nsfd, &fx->lab, &st, &held, seen, 256, &e),
			 -ENOTSUP);
}

static void test_count_holds(void **state)
{
	(void)state;
	struct lab_count c = {LAB_CMP_LE, 3};
	assert_true(expect_count_holds(&c, 3));
	assert_false(expect_count_holds(&c, 4));
	c.cmp = LAB_CMP_GT;
	assert_false(expect_count_holds(&c, 3));
	c.cmp = LAB_CMP_LT;
	assert_true(expect_count_holds(&c, 2));
	c.cmp = LAB_CMP_NE;
	assert_true(expect_count_holds(&c, 2));
	assert_string_equal(expect_cmp_str(LAB_CMP_GE), ">=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_holds),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_counter),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

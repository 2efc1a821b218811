/* Unit tests of the lab parser (labctl/lab/lab_parse.c, labctl/lab/lab_value.c): every statement, every
 * error message with its LINE:COL, suggestions, value parsers, addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lab/lab.h"

static struct lab *parse_ok(const char *text)
{
	struct lab *lab = NULL;
	struct lc_err e = {0};
	int rc = lab_parse_string("t.lab", text, &lab, &e);
	if (rc)
		fail_msg("unexpected parse error:\n%s", e.msg);
	assert_non_null(lab);
	return lab;
}

/* The complete error text (every line) of a lab that must fail. */
static char *parse_fail(const char *text)
{
	struct lab *lab = NULL;
	struct lc_err e = {0};
	char *all = NULL;
	int rc = lab_parse_string_errs("t.lab", text, &lab, &e, &all);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(e.code, -EINVAL);
	assert_null(lab);
	assert_non_null(all);
	return all;
}

#define HOSTS2 "host client addr 10.0.0.1/24\nhost server addr 10.0.0.2/24\n"
#define LINK2 HOSTS2 "link client server\n"

/* text must fail with exactly the error `want` (one or more lines). */
static void check_err(const char *text, const char *want)
{
	char *all = parse_fail(text);
	if (strcmp(all, want))
		fail_msg("lab:\n%s\nwant: %s\ngot:  %s", text, want, all);
	free(all);
}

/* ---- a lab using every statement ------------------------------------------------------- */

static const char *full_lab =
	"# every statement\n"
	"lab full-lab\n"
	"about \"All \\\"statements\\\" \\\\ here\" # comment\n"
	"seed 18446744073709551615\n"
	"blackhole 198.51.100.0/24\n"
	"host client addr 10.0.1.1/24 addr fd00:1::1/64 sysctl net.ipv4.tcp_fin_timeout=5\n"
	"host router addr 10.0.1.254/24 addr 10.0.2.254/24 addr fd00:1::fe/64 forward\n"
	"host server addr 10.0.2.1/24 sysctl net.ipv4.tcp_syncookies=0\n"
	"link client router delay 10ms jitter 2ms distribution normal loss 1% client>router rate 10mbit limit 100\n"
	"link router:r0 server:s0 loss gemodel 1% 10% router>server reorder 5% delay 5ms gap 3 server>router duplicate 2% corrupt 0.1% delay-corr 25% loss-corr 3% duplicate-corr 4% reorder-corr 6% corrupt-corr 7%\n"
	"route client 10.0.2.0/24 via router\n"
	"route server default via 10.0.2.254\n"
	"route client 192.0.2.0/24 blackhole\n"
	"route client fd00:2::/64 via router\n"
	"capture all\n"
	"capture server\n"
	"drop router>server tcp SYN+ACK first 2\n"
	"drop server>router tcp fin,psh\n"
	"server listen :8080 backlog 5 accept manual on-eof keep data echo as web\n"
	"client connect server:8080 count 10 rate 100/s as c1 from 10.0.1.1 & client connect 10.0.2.1:8080\n"
	"server accept web count 2\n"
	"client send c1 64KiB\n"
	"client shutdown c1 & client close c\n"
	"client abort c1\n"
	"client flood server:8080 rate 1000/s for 2s from 198.51.100.0/25\n"
	"impair client router loss 50%\n"
	"impair router>server clear\n"
	"wait 1.5s\n"
	"expect client FIN-WAIT-1 port 8080 peer server:8080 count >=5 within 2s\n"
	"expect server listen port 8080 queue >= 1 backlog 5 synrecv <3\n"
	"expect server counter TcpExtListenOverflows >= 1 within 1s\n"
	"expect client event refused group c1 count 0\n"
	"expect client CLOSED count = 0\n"
	"expect router ESTAB\n"
	"router listen [fd00:1::fe]:9 & wait 0\n";

static void test_full_lab(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(full_lab);

	assert_string_equal(lab->file, "t.lab");
	assert_string_equal(lab->name, "full-lab");
	assert_string_equal(lab->about, "All \"statements\" \\ here");
	assert_true(lab->has_seed);
	assert_true(lab->seed == UINT64_MAX);
	assert_true(lab->has_blackhole);
	char buf[64];
	assert_int_equal(lab_addr_format(&lab->blackhole, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "198.51.100.0/24");

	/* hosts */
	assert_int_equal(lab->nhosts, 3);
	const struct lab_host *c = &lab->hosts[0], *r = &lab->hosts[1], *s = &lab->hosts[2];
	assert_string_equal(c->name, "client");
	assert_int_equal(c->pos.line, 6);
	assert_int_equal(c->pos.col, 6);
	assert_int_equal(c->naddrs, 2);
	lab_addr_format(&c->addrs[1], buf, sizeof(buf));
	assert_string_equal(buf, "fd00:1::1/64");
	assert_int_equal(c->nsysctls, 1);
	assert_string_equal(c->sysctls[0].key, "net.ipv4.tcp_fin_timeout");
	assert_string_equal(c->sysctls[0].value, "5");
	assert_int_equal(c->sysctls[0].pos.col, 55);
	assert_false(c->forward);
	assert_true(r->forward);
	assert_int_equal(r->naddrs, 3);
	assert_string_equal(s->sysctls[0].value, "0");

	/* links */
	assert_int_equal(lab->nlinks, 2);
	const struct lab_link *l0 = &lab->links[0], *l1 = &lab->links[1];
	assert_int_equal(l0->a, 0);
	assert_int_equal(l0->b, 1);
	assert_string_equal(l0->dev_a, "eth0");
	assert_string_equal(l0->dev_b, "eth0");
	assert_int_equal(l0->pos.line, 9);
	for (int d = 0; d < 2; d++) {
		assert_true(l0->dir[d].delay_ns == 10000000);
		assert_true(l0->dir[d].jitter_ns == 2000000);
		assert_int_equal(l0->dir[d].dist, LAB_DIST_NORMAL);
		assert_true(l0->dir[d].loss == 1.0);
	}
	assert_int_equal(l0->dir[0].set, IMP_DELAY | IMP_JITTER | IMP_DIST | IMP_LOSS | IMP_RATE | IMP_LIMIT);
	assert_int_equal(l0->dir[1].set, IMP_DELAY | IMP_JITTER | IMP_DIST | IMP_LOSS);
	assert_true(l0->dir[0].rate_bps == 10000000);
	assert_int_equal(l0->dir[0].limit, 100);
	assert_string_equal(l1->dev_a, "r0");
	assert_string_equal(l1->dev_b, "s0");
	assert_int_equal(l1->dir[0].set, IMP_LOSS_GE | IMP_REORDER | IMP_DELAY | IMP_GAP);
	assert_true(l1->dir[0].ge_p == 1.0 && l1->dir[0].ge_r == 10.0);
	assert_true(l1->dir[0].ge_h == 100.0 && l1->dir[0].ge_k == 0.0);
	assert_true(l1->dir[0].reorder == 5.0);
	assert_int_equal(l1->dir[0].gap, 3);
	assert_int_equal(l1->dir[1].set, IMP_LOSS_GE | IMP_DUP | IMP_CORRUPT | IMP_DELAY_CORR |
					 IMP_LOSS_CORR | IMP_DUP_CORR | IMP_REORDER_CORR |
					 IMP_CORRUPT_CORR);
	assert_true(l1->dir[1].corrupt == 0.1);
	assert_true(l1->dir[1].dup == 2.0 && l1->dir[1].dup_corr == 4.0);
	assert_true(l1->dir[1].delay_corr == 25.0 && l1->dir[1].loss_corr == 3.0);
	assert_true(l1->dir[1].reorder_corr == 6.0 && l1->dir[1].corrupt_corr == 7.0);

	/* routes */
	assert_int_equal(lab->nroutes, 4);
	assert_int_equal(lab->routes[0].host, 0);
	assert_true(lab->routes[0].via_is_host);
	assert_int_equal(lab->routes[0].via_host, 1);
	lab_addr_format(&lab->routes[0].dst, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.2.0/24");
	assert_false(lab->routes[1].via_is_host);
	assert_int_equal(lab->routes[1].dst.prefixlen, 0);
	assert_int_equal(lab->routes[1].dst.family, AF_INET);
	lab_addr_format(&lab->routes[1].via, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.2.254");
	assert_true(lab->routes[2].blackhole);
	assert_int_equal(lab->routes[3].dst.family, AF_INET6);
	struct lab_addr gw;
	assert_int_equal(lab_host_addr_toward(lab, lab->routes[3].via_host, 0, AF_INET6, &gw), 0);
	lab_addr_format(&gw, buf, sizeof(buf));
	assert_string_equal(buf, "fd00:1::fe/64");

	/* captures, rules */
	assert_int_equal(lab->ncaptures, 2);
	assert_int_equal(lab->captures[0].host, -1);
	assert_int_equal(lab->captures[1].host, 2);
	assert_int_equal(lab->nrules, 2);
	assert_int_equal(lab->rules[0].action, LAB_RULE_DROP);
	assert_int_equal(lab->rules[0].link, 1);
	assert_int_equal(lab->rules[0].dir, 0);
	assert_int_equal(lab->rules[0].flags, LAB_TCPF_SYN | LAB_TCPF_ACK);
	assert_int_equal(lab->rules[0].mask, LAB_TCPF_SYN | LAB_TCPF_ACK | LAB_TCPF_FIN | LAB_TCPF_RST);
	assert_true(lab->rules[0].first == 2);
	assert_int_equal(lab->rules[1].dir, 1);
	assert_int_equal(lab->rules[1].flags, LAB_TCPF_FIN | LAB_TCPF_PSH);
	assert_int_equal(lab->rules[1].mask, LAB_TCPF_SYN | LAB_TCPF_ACK | LAB_TCPF_FIN | LAB_TCPF_RST | LAB_TCPF_PSH);
	assert_true(lab->rules[1].first == -1);

	/* steps */
	assert_int_equal(lab->nsteps, 20);
	const struct lab_step *st = lab->steps;
	assert_int_equal(st[0].op, LAB_OP_LISTEN);
	assert_int_equal(st[0].host, 2);
	assert_int_equal(st[0].pos.line, 19);
	assert_int_equal(st[0].pos.col, 1);
	assert_false(st[0].u.listen.has_addr);
	assert_int_equal(st[0].u.listen.port, 8080);
	assert_int_equal(st[0].u.listen.backlog, 5);
	assert_int_equal(st[0].u.listen.accept, LAB_ACCEPT_MANUAL);
	assert_int_equal(st[0].u.listen.on_eof, LAB_EOF_KEEP);
	assert_int_equal(st[0].u.listen.data, LAB_DATA_ECHO);
	assert_string_equal(st[0].u.listen.group, "web");

	assert_int_equal(st[1].op, LAB_OP_CONNECT);
	assert_int_equal(st[1].host, 0);
	assert_int_equal(st[1].u.connect.target_host, 2);
	assert_int_equal(st[1].u.connect.port, 8080);
	assert_true(st[1].u.connect.count == 10);
	assert_true(st[1].u.connect.rate == 100.0);
	assert_string_equal(st[1].u.connect.group, "c1");
	assert_true(st[1].u.connect.has_from);
	assert_int_equal(st[2].op, LAB_OP_CONNECT);
	assert_int_equal(st[2].pos.col, 70);
	assert_int_equal(st[2].u.connect.target_host, -1);
	lab_addr_format(&st[2].u.connect.target, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.2.1");
	assert_true(st[2].u.connect.count == 1);
	assert_true(st[2].u.connect.rate == 0.0);
	assert_string_equal(st[2].u.connect.group, "c");
	assert_int_equal(st[1].together, st[2].together);

	assert_int_equal(st[3].op, LAB_OP_ACCEPT);
	assert_string_equal(st[3].u.group.group, "web");
	assert_true(st[3].u.group.count == 2);
	assert_int_equal(st[4].op, LAB_OP_SEND);
	assert_true(st[4].u.group.bytes == 65536);
	assert_int_equal(st[5].op, LAB_OP_SHUTDOWN);
	assert_int_equal(st[6].op, LAB_OP_CLOSE);
	assert_string_equal(st[6].u.group.group, "c");
	assert_int_equal(st[5].together, st[6].together);
	assert_int_equal(st[7].op, LAB_OP_ABORT);

	assert_int_equal(st[8].op, LAB_OP_FLOOD);
	assert_int_equal(st[8].u.flood.target_host, 2);
	assert_true(st[8].u.flood.rate == 1000.0);
	assert_true(st[8].u.flood.duration_ns == 2000000000LL);
	assert_true(st[8].u.flood.has_from);
	lab_addr_format(&st[8].u.flood.from, buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.0/25");

	assert_int_equal(st[9].op, LAB_OP_IMPAIR);
	assert_int_equal(st[9].host, -1);
	assert_int_equal(st[9].u.impair.link, 0);
	assert_false(st[9].u.impair.dir_only);
	assert_int_equal(st[9].u.impair.imp[0].set, IMP_LOSS);
	assert_int_equal(st[9].u.impair.imp[1].set, IMP_LOSS);
	assert_true(st[9].u.impair.imp[1].loss == 50.0);
	assert_int_equal(st[10].op, LAB_OP_IMPAIR);
	assert_true(st[10].u.impair.dir_only);
	assert_int_equal(st[10].u.impair.link, 1);
	assert_int_equal(st[10].u.impair.dir, 0);
	assert_int_equal(st[10].u.impair.imp[0].set, 0);

	assert_int_equal(st[11].op, LAB_OP_WAIT);
	assert_true(st[11].u.wait.ns == 1500000000LL);

	assert_int_equal(st[12].op, LAB_OP_EXPECT);
	assert_int_equal(st[12].u.expect.kind, LAB_EXPECT_STATE);
	assert_int_equal(st[12].u.expect.state, LAB_TCP_FIN_WAIT1);
	assert_int_equal(st[12].u.expect.port, 8080);
	assert_true(st[12].u.expect.has_peer);
	assert_int_equal(st[12].u.expect.peer_host, 2);
	assert_int_equal(st[12].u.expect.peer_port, 8080);
	assert_int_equal(st[12].u.expect.count.cmp, LAB_CMP_GE);
	assert_true(st[12].u.expect.count.n == 5);
	assert_true(st[12].u.expect.within_ns == 2000000000LL);

	assert_int_equal(st[13].u.expect.kind, LAB_EXPECT_QUEUE);
	assert_true(st[13].u.expect.has_queue && st[13].u.expect.has_backlog && st[13].u.expect.has_synrecv);
	assert_int_equal(st[13].u.expect.queue.cmp, LAB_CMP_GE);
	assert_true(st[13].u.expect.queue.n == 1);
	assert_int_equal(st[13].u.expect.backlog.cmp, LAB_CMP_EQ);
	assert_true(st[13].u.expect.backlog.n == 5);
	assert_int_equal(st[13].u.expect.synrecv.cmp, LAB_CMP_LT);
	assert_true(st[13].u.expect.synrecv.n == 3);
	assert_true(st[13].u.expect.within_ns == 0);

	assert_int_equal(st[14].u.expect.kind, LAB_EXPECT_COUNTER);
	assert_string_equal(st[14].u.expect.counter, "TcpExtListenOverflows");
	assert_int_equal(st[14].u.expect.count.cmp, LAB_CMP_GE);
	assert_true(st[14].u.expect.count.n == 1);

	assert_int_equal(st[15].u.expect.kind, LAB_EXPECT_EVENT);
	assert_int_equal(st[15].u.expect.event, LAB_EV_REFUSED);
	assert_string_equal(st[15].u.expect.group, "c1");
	assert_int_equal(st[15].u.expect.count.cmp, LAB_CMP_EQ);
	assert_true(st[15].u.expect.count.n == 0);

	assert_int_equal(st[16].u.expect.state, LAB_TCP_CLOSE);
	assert_int_equal(st[16].u.expect.count.cmp, LAB_CMP_EQ);
	assert_int_equal(st[17].u.expect.state, LAB_TCP_ESTABLISHED);
	assert_int_equal(st[17].u.expect.count.cmp, LAB_CMP_GE);  /* default: >= 1 */
	assert_true(st[17].u.expect.count.n == 1);
	assert_int_equal(st[17].host, 1);

	assert_int_equal(st[18].op, LAB_OP_LISTEN);
	assert_true(st[18].u.listen.has_addr);
	assert_int_equal(st[18].u.listen.addr.family, AF_INET6);
	assert_int_equal(st[18].u.listen.port, 9);
	assert_int_equal(st[18].u.listen.backlog, 128);
	assert_string_equal(st[18].u.listen.group, "s");
	assert_int_equal(st[19].op, LAB_OP_WAIT);
	assert_int_equal(st[18].together, st[19].together);
	lab_free(lab);
}

/* data ignore: the listener never reads (rst-unread-data); a typo gets a suggestion. */
static void test_data_ignore(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(LINK2 "server listen :80 data ignore\n");
	assert_int_equal(lab->steps[0].u.listen.data, LAB_DATA_IGNORE);
	lab_free(lab);
	check_err(LINK2 "server listen :80 data ignor\n",
		  "t.lab:4:24: data must be sink, echo, source or ignore, got \"ignor\"; did you mean ignore?");
}

/* send, shutdown, close, abort wait for handshakes in flight: 2 s by default, wait-connect
 * sets it (0: act at once); accept and unlisten have no such key. */
static void test_wait_connect(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(LINK2 "client connect server:80 count 3 as c\n"
				   "client send c 1k\nclient shutdown c wait-connect 500ms\n"
				   "client close c wait-connect 0\nclient abort c wait-connect 60s\n"
				   "server listen :80 as web\nserver accept web\n");
	assert_true(lab->steps[1].u.group.connect_wait_ns == LAB_CONNECT_WAIT_NS);
	assert_true(lab->steps[1].u.group.bytes == 1000);
	assert_true(lab->steps[2].u.group.connect_wait_ns == 500000000);
	assert_true(lab->steps[3].u.group.connect_wait_ns == 0);
	assert_true(lab->steps[4].u.group.connect_wait_ns == 60000000000LL);
	assert_true(lab->steps[6].u.group.connect_wait_ns == 0);
	lab_free(lab);
	check_err(LINK2 "client connect server:80\nclient close c wait-connect\n",
		  "t.lab:5:16: wait-connect needs a duration like 2s (0: act at once)");
	check_err(LINK2 "client connect server:80\nclient close c wait-connect 61s\n",
		  "t.lab:5:29: wait-connect is at most 60s");
	check_err(LINK2 "client connect server:80\nclient send c 10 wait-connect soon\n",
		  "t.lab:5:31: expected a duration like 10ms, got \"soon\"");
	check_err(LINK2 "client connect server:80\nclient close c wait-connect 1s 2s\n",
		  "t.lab:5:32: unexpected \"2s\" after close c");
	check_err(LINK2 "server listen :80 as web\nserver accept web wait-connect 1s\n",
		  "t.lab:5:19: unknown key \"wait-connect\" (accept takes count)");
}

/* unlisten closes a listen group's listening socket: a listen group only, no keys. */
static void test_unlisten(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(LINK2 "server listen :80 as web\nserver unlisten web\n");
	assert_int_equal(lab->nsteps, 2);
	assert_int_equal(lab->steps[1].op, LAB_OP_UNLISTEN);
	assert_int_equal(lab->steps[1].host, 1);
	assert_string_equal(lab->steps[1].u.group.group, "web");
	lab_free(lab);
	check_err(LINK2 "client connect server:80 as c\nclient unlisten c\n",
		  "t.lab:5:17: group \"c\" on host client is a connect group; unlisten takes a "
		  "listen group");
	check_err(LINK2 "server listen :80 as web\nserver unlisten wbe\n",
		  "t.lab:5:17: unknown group \"wbe\" on host server (groups are made by "
		  "connect/listen ... as NAME, default c and s); did you mean web?");
	check_err(LINK2 "server listen :80 as web\nserver unlisten web now\n",
		  "t.lab:5:21: unexpected \"now\" after unlisten web");
	check_err(LINK2 "server listen :80 as web\nserver unlist web\n",
		  "t.lab:5:8: unknown step \"unlist\"; did you mean unlisten?");
}

/* A listen group has one listener (the agent refuses a second: EEXIST), so a second listen on
 * a host without "as" (both in the default group s) is an error at the second listen. */
static void test_listen_twice(void **state)
{
	(void)state;
	check_err(LINK2 "server listen :80\nserver listen :81\n",
		  "t.lab:5:8: group \"s\" on host server already has a listener (line 4); name one "
		  "of them with \"as NAME\"");
	check_err(LINK2 "server listen :80 as web\nserver listen :81 backlog 5 as web\n",
		  "t.lab:5:32: group \"web\" on host server already has a listener (line 4); name "
		  "one of them with \"as NAME\"");
	check_err(LINK2 "server listen :80 & server listen :81\n",
		  "t.lab:4:28: group \"s\" on host server already has a listener (line 4); name "
		  "one of them with \"as NAME\"");
	/* the group outlives unlisten: a listener that comes back needs a new name */
	check_err(LINK2 "server listen :80\nserver unlisten s\nserver listen :80\n",
		  "t.lab:6:8: group \"s\" on host server already has a listener (line 4); name one "
		  "of them with \"as NAME\"");
	/* one listener per group and host: other names, other hosts and connects are fine */
	struct lab *lab = parse_ok(LINK2 "server listen :80\nserver listen :81 as s2\n"
				   "client listen :80\nclient connect server:80\n"
				   "client connect server:81\n");
	assert_int_equal(lab->nsteps, 5);
	assert_string_equal(lab->steps[0].u.listen.group, "s");
	assert_string_equal(lab->steps[1].u.listen.group, "s2");
	assert_string_equal(lab->steps[2].u.listen.group, "s");
	lab_free(lab);
}

/* Every step has a together id; one per line, shared by '&'. */
static void test_together(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(LINK2
				   "server listen :80\n"
				   "client connect server:80 & client connect server:80 as d & wait 1s\n"
				   "\n# comment\n"
				   "wait 1s\n"
				   "expect client ESTABLISHED&expect server ESTABLISHED\n");
	assert_int_equal(lab->nsteps, 7);
	int want[] = {0, 1, 1, 1, 2, 3, 3};
	for (int i = 0; i < 7; i++)
		assert_int_equal(lab->steps[i].together, want[i]);
	assert_int_equal(lab->steps[5].pos.col, 1);
	assert_int_equal(lab->steps[6].pos.col, 27);
	lab_free(lab);
}

static void test_defaults(void **state)
{
	(void)state;
	struct lab *lab = parse_ok("host a addr 10.0.0.1/24\nhost b addr 10.0.0.2/24\n"
				   "host c addr 10.0.1.1/24\n"
				   "link a:eth1 b\nlink a c\nlink b c\n");
	assert_string_equal(lab->name, "t");        /* from the file name */
	assert_false(lab->has_blackhole);
	char buf[64];
	lab_addr_format(&lab->blackhole, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.0/24");
	assert_false(lab->has_seed);
	assert_string_equal(lab->links[0].dev_a, "eth1");
	assert_string_equal(lab->links[0].dev_b, "eth0");
	assert_string_equal(lab->links[1].dev_a, "eth2"); /* a's second link; eth1 is taken */
	assert_string_equal(lab->links[1].dev_b, "eth0");
	assert_string_equal(lab->links[2].dev_a, "eth1");
	assert_string_equal(lab->links[2].dev_b, "eth1");
	assert_int_equal(lab_link_find(lab, 2, 1), 2);
	assert_int_equal(lab_link_find(lab, 0, 0), -1);
	assert_int_equal(lab_host_find(lab, "c"), 2);
	assert_int_equal(lab_host_find(lab, "d"), -1);
	lab_free(lab);
	lab_free(NULL);
}

/* ---- error messages -------------------------------------------------------------------- */

static void test_errors_statements(void **state)
{
	(void)state;
	check_err("hots a\n", "t.lab:1:1: unknown statement \"hots\"; did you mean host?");
	check_err("frobnicate\n", "t.lab:1:1: unknown statement \"frobnicate\"");
	check_err("lab x\nlab y\n", "t.lab:2:1: lab name already set at 1:1");
	check_err("lab\n", "t.lab:1:1: lab needs a name");
	check_err("lab a b\n", "t.lab:1:7: unexpected \"b\" after the lab name");
	check_err("lab a/b\n",
		  "t.lab:1:5: lab name \"a/b\" must be 1 to 31 letters, digits, '_', '.' or '-'");
	check_err("lab aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "t.lab:1:5: lab name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" must be 1 to 31 "
		  "letters, digits, '_', '.' or '-'");
	check_err(HOSTS2 "about \"x\"\n  about \"y\"\n", "t.lab:4:3: about already given at 3:1");
	check_err(HOSTS2 "about \"x\" y\n",
		  "t.lab:3:11: unexpected \"y\": about takes one \"quoted text\"");
	check_err(HOSTS2 "about \"abc\n", "t.lab:3:7: unterminated string (missing closing \")");
	check_err(HOSTS2 "about \"a\\nb\"\n",
		  "t.lab:3:9: unknown escape in string (only \\\" and \\\\)");
	check_err(HOSTS2 "seed 18446744073709551616\n",
		  "t.lab:3:6: seed \"18446744073709551616\" does not fit in 64 bits");
	check_err(HOSTS2 "seed -1\n", "t.lab:3:6: seed must be a whole number, got \"-1\"");
	check_err(HOSTS2 "seed 1\nseed 2\n", "t.lab:4:1: seed already set at 3:1");
	check_err(HOSTS2 "blackhole 198.18.0.0\n",
		  "t.lab:3:11: expected a prefix like 198.18.0.0/24, got \"198.18.0.0\"");
	check_err(HOSTS2 "blackhole 10.0.0.0/16\n",
		  "t.lab:1:18: address 10.0.0.1 of host client lies inside the blackhole range "
		  "10.0.0.0/16\n"
		  "t.lab:2:18: address 10.0.0.2 of host server lies inside the blackhole range "
		  "10.0.0.0/16");
	check_err("host a addr 198.18.0.9/16\n",
		  "t.lab:1:13: address 198.18.0.9 of host a lies inside the blackhole range "
		  "198.18.0.0/24 (the default; move it with blackhole CIDR)");
	check_err("", "t.lab:1:1: no host statements: a lab needs at least one host");
	check_err("# nothing\n\n", "t.lab:1:1: no host statements: a lab needs at least one host");
	check_err(HOSTS2 "host x & wait 1s\n",
		  "t.lab:3:1: only steps can be joined with '&' (\"host\" is not a step)");
	check_err(HOSTS2 "wait 1s &\n", "t.lab:3:9: empty step around '&'");
	check_err(HOSTS2 "wait 1s & & wait 1s\n", "t.lab:3:11: empty step around '&'");
	check_err(HOSTS2 "wait 1s\x01\n", "t.lab:3:8: control character in line");
}

static void test_errors_host(void **state)
{
	(void)state;
	check_err(HOSTS2 "host client\n", "t.lab:3:6: host \"client\" already defined at 1:6");
	check_err("host Client\n",
		  "t.lab:1:6: host name \"Client\" must be lower-case letters, digits, '_' or '-', "
		  "starting with a letter");
	check_err("host 1a\n",
		  "t.lab:1:6: host name \"1a\" must be lower-case letters, digits, '_' or '-', "
		  "starting with a letter");
	check_err("host abcdefghijklmnop\n",
		  "t.lab:1:6: host name \"abcdefghijklmnop\" is longer than 15 characters");
	check_err("host wait\n", "t.lab:1:6: host name \"wait\" is a reserved word");
	check_err("host\n", "t.lab:1:1: host needs a name");
	check_err("host a addr 10.0.0.1\n", "t.lab:1:13: addr needs a prefix length, like 10.0.0.1/24");
	check_err("host a addr\n",
		  "t.lab:1:8: addr needs an address with a prefix length, like 10.0.0.1/24");
	check_err("host a addr 10.0.0.256/24\n",
		  "t.lab:1:13: expected an address like 10.0.0.1/24, got \"10.0.0.256/24\"");
	check_err("host a addr 10.0.0.1/33\n",
		  "t.lab:1:13: expected an address like 10.0.0.1/24, got \"10.0.0.1/33\"");
	check_err("host a addr 10.0.0.1/24 addr 10.0.0.1/16\n",
		  "t.lab:1:30: address 10.0.0.1/16 given twice");
	check_err("host a addr 10.0.0.1/24\nhost b addr 10.0.0.1/24\n",
		  "t.lab:2:13: address 10.0.0.1/24 already belongs to host a");
	check_err("host a addr 1.0.0.1/8 addr 1.0.0.2/8 addr 1.0.0.3/8 addr 1.0.0.4/8 addr 1.0.0.5/8 "
		  "addr 1.0.0.6/8 addr 1.0.0.7/8 addr 1.0.0.8/8 addr 1.0.0.9/8\n",
		  "t.lab:1:133: host a has more than 8 addresses");
	check_err("host a sysctl kernel.pid_max=5\n",
		  "t.lab:1:15: sysctl \"kernel.pid_max\" is not per network namespace: only net.* "
		  "sysctls can be set for a host");
	check_err("host a sysctl net.ipv4.x=\n", "t.lab:1:15: sysctl net.ipv4.x needs a value after '='");
	check_err("host a sysctl net.ipv4.x\n",
		  "t.lab:1:15: sysctl needs KEY=VALUE, like net.ipv4.tcp_syncookies=0");
	check_err("host a sysctl net..x=1\n", "t.lab:1:15: sysctl key \"net..x\" has an empty part");
	check_err("host a sysctl net/../x=1\n",
		  "t.lab:1:15: sysctl \"net/../x\" is not per network namespace: only net.* "
		  "sysctls can be set for a host");
	check_err("host a sysctl net.ipv4/x=1\n",
		  "t.lab:1:15: sysctl key \"net.ipv4/x\" has a bad character '/'");
	check_err("host a sysctl net.a=1 sysctl net.a=2\n", "t.lab:1:30: sysctl net.a given twice");
	check_err("host a forwrd\n", "t.lab:1:8: unknown key \"forwrd\"; did you mean forward?");
	check_err("host a bogus\n",
		  "t.lab:1:8: unknown key \"bogus\" (host takes addr, sysctl, forward)");
	/* hosts must be declared before use */
	check_err("link a b\nhost a\nhost b\n",
		  "t.lab:1:6: host \"a\" is used before its host line (line 2); declare hosts first");
	check_err("host a addr 10.0.0.1/24\na listen :80\nhost b\nb listen :80 & a listen :81 as s2\n"
		  "c connect a:80\n",
		  "t.lab:5:1: unknown host \"c\"; did you mean a?");
	/* a host with a bad option is still defined: no cascade of unknown-host errors */
	check_err("host a addr 10.0.0.1\nhost b addr 10.0.0.2/24\nlink a b\n",
		  "t.lab:1:13: addr needs a prefix length, like 10.0.0.1/24");
}

static void test_errors_link(void **state)
{
	(void)state;
	check_err(HOSTS2 "link client srever\n",
		  "t.lab:3:13: unknown host \"srever\"; did you mean server?");
	check_err(HOSTS2 "link client client\n", "t.lab:3:13: link joins host client to itself");
	check_err(LINK2 "link server client\n",
		  "t.lab:4:6: hosts server and client are already linked at 3:1");
	check_err(HOSTS2 "host r\nlink client:e0 r:e0\nlink server r:e0\n",
		  "t.lab:5:15: host r already has a device e0");
	check_err(HOSTS2 "link client:abcdefghijklmnop server\n",
		  "t.lab:3:13: device name \"abcdefghijklmnop\" is longer than 15 characters");
	check_err(HOSTS2 "link client: server\n", "t.lab:3:13: missing device name after ':'");
	check_err(HOSTS2 "link client:a/b server\n",
		  "t.lab:3:13: device name \"a/b\" may hold only letters, digits, '_', '-' and '.'");
	check_err(HOSTS2 "link client\n", "t.lab:3:1: link needs two hosts, like: link client server");
	check_err(HOSTS2 "link client server dealy 5ms\n",
		  "t.lab:3:20: unknown key \"dealy\"; did you mean delay?");
	check_err(HOSTS2 "link client server delay 10\n",
		  "t.lab:3:26: expected a duration like 10ms, got \"10\"");
	check_err(HOSTS2 "link client server delay\n", "t.lab:3:20: delay needs a duration like 10ms");
	check_err(HOSTS2 "link client server jitter 5ms\n", "t.lab:3:20: jitter needs delay");
	check_err(HOSTS2 "link client server jitter 5ms client>server delay 5ms\n",
		  "t.lab:3:20: jitter needs delay (in direction server>client)");
	check_err(HOSTS2 "link client server delay 5ms distribution normal\n",
		  "t.lab:3:30: distribution needs jitter");
	check_err(HOSTS2 "link client server delay 5ms jitter 1ms distribution gauss\n",
		  "t.lab:3:54: unknown distribution \"gauss\" (uniform, normal, pareto, paretonormal)");
	check_err(HOSTS2 "link client server reorder 5%\n",
		  "t.lab:3:20: reorder needs delay (netem reorders by sending some packets without it)");
	check_err(HOSTS2 "link client server delay 1ms gap 5\n", "t.lab:3:30: gap needs reorder");
	check_err(HOSTS2 "link client server loss 5\n",
		  "t.lab:3:25: expected a percentage like 5%, got \"5\"");
	check_err(HOSTS2 "link client server loss 101%\n",
		  "t.lab:3:25: percentage \"101%\" is out of range (0% to 100%)");
	check_err(HOSTS2 "link client server loss -1%\n",
		  "t.lab:3:25: expected a percentage like 5%, got \"-1%\"");
	check_err(HOSTS2 "link client server loss 1% loss 2%\n", "t.lab:3:28: loss given twice");
	check_err(HOSTS2 "link client server loss gemodel 1%\n",
		  "t.lab:3:25: loss gemodel needs P and R percentages (and optionally 1-H and 1-K)");
	check_err(HOSTS2 "link client server rate 1000\n",
		  "t.lab:3:25: expected a bit rate like 10mbit, got \"1000\"");
	check_err(HOSTS2 "link client server rate 0bit\n", "t.lab:3:25: rate must be above 0");
	check_err(HOSTS2 "link client server limit 0\n",
		  "t.lab:3:26: limit must be a whole number from 1 to 4294967295, got \"0\"");
	check_err(HOSTS2 "host r\nlink client server r>server delay 1ms\n",
		  "t.lab:4:20: r>server is not a direction of the link client server");
	check_err(HOSTS2 "link client server client>nobody delay 1ms\n",
		  "t.lab:3:27: unknown host \"nobody\"");
}

static void test_errors_route_drop_capture(void **state)
{
	(void)state;
	const char *chain = "host client addr 10.0.1.1/24\n"
			    "host router addr 10.0.1.254/24 addr 10.0.2.254/24 forward\n"
			    "host server addr 10.0.2.1/24\n"
			    "link client router\nlink router server\n";
	char buf[1024];
#define CHAIN(x) (snprintf(buf, sizeof(buf), "%s%s", chain, x), buf)
	check_err(CHAIN("route client 10.0.2.0/24 via server\n"),
		  "t.lab:6:30: host server shares no IPv4 subnet with host client");
	check_err(CHAIN("route client 10.0.2.0/24 via client\n"),
		  "t.lab:6:30: route via the host itself (client)");
	check_err(CHAIN("route client 10.0.2.0/24 via 10.0.2.254\n"),
		  "t.lab:6:30: gateway 10.0.2.254 is not on any subnet of host client");
	check_err(CHAIN("route client 10.0.2.1/24 via router\n"),
		  "t.lab:6:14: 10.0.2.1/24 has host bits set; did you mean 10.0.2.0/24?");
	check_err(CHAIN("route client 10.0.2.0 via router\n"),
		  "t.lab:6:14: expected a prefix like 10.0.2.0/24 or default, got \"10.0.2.0\"");
	check_err(CHAIN("route client 10.0.2.0/24 vai router\n"),
		  "t.lab:6:26: expected via or blackhole, got \"vai\"; did you mean via?");
	check_err(CHAIN("route client fd00::/64 via 10.0.1.254\n"),
		  "t.lab:6:28: gateway 10.0.1.254 and prefix fd00::/64 are different address families");
	check_err(CHAIN("route client default\n"),
		  "t.lab:6:1: route needs HOST PREFIX via HOST|ADDR, or HOST PREFIX blackhole");
	check_err(CHAIN("route nobody default via router\n"), "t.lab:6:7: unknown host \"nobody\"");
	check_err(CHAIN("capture client extra\n"),
		  "t.lab:6:16: unexpected \"extra\": capture takes one host or all");
	check_err(CHAIN("capture all\ncapture all\n"), "t.lab:7:9: capture all already given at 6:1");
	check_err(CHAIN("capture sever\n"), "t.lab:6:9: unknown host \"sever\"; did you mean server?");
	check_err(CHAIN("drop client>server tcp SYN\n"), "t.lab:6:6: no link between client and server");
	check_err(CHAIN("drop client>router udp SYN\n"),
		  "t.lab:6:20: only tcp rules are supported, got \"udp\"");
	check_err(CHAIN("drop client>router tcp SYN,AKC\n"),
		  "t.lab:6:24: unknown TCP flag \"AKC\" (SYN, ACK, FIN, RST, PSH, URG); did you mean ACK?");
	check_err(CHAIN("drop client>router tcp ,\n"),
		  "t.lab:6:24: expected TCP flags like SYN,ACK, got \",\"");
	check_err(CHAIN("drop client>router tcp ACK frist 3\n"),
		  "t.lab:6:28: unknown key \"frist\"; did you mean first?");
	check_err(CHAIN("drop client>router tcp ACK first 0\n"),
		  "t.lab:6:34: first must be a whole number from 1 to 9223372036854775807, got \"0\"");
	check_err(CHAIN("drop clientrouter tcp ACK\n"),
		  "t.lab:6:6: expected a direction like client>server, got \"clientrouter\"");
#undef CHAIN
}

static void test_errors_steps(void **state)
{
	(void)state;
	check_err(LINK2 "server listen :0\n", "t.lab:4:15: port must be 1 to 65535, got \"0\"");
	check_err(LINK2 "server listen :65536\n", "t.lab:4:15: port must be 1 to 65535, got \"65536\"");
	check_err(LINK2 "server listen 10.0.0.1:80\n",
		  "t.lab:4:15: 10.0.0.1 is not an address of host server (it has 10.0.0.2/24)");
	check_err(LINK2 "server listen :80 baklog 5\n",
		  "t.lab:4:19: unknown key \"baklog\"; did you mean backlog?");
	check_err(LINK2 "server listen :80 accept sometimes\n",
		  "t.lab:4:26: accept must be auto, never, manual or after DUR, got \"sometimes\"");
	check_err(LINK2 "server listen :80 accept after\n",
		  "t.lab:4:26: after needs a duration like 1s");
	check_err(LINK2 "server listen :80 on-eof kepp\n",
		  "t.lab:4:26: on-eof must be close, keep or shutdown, got \"kepp\"; did you mean keep?");
	check_err(LINK2 "server listen :80 as b@d\n",
		  "t.lab:4:22: group name \"b@d\" must be 1 to 31 letters, digits, '_', '.' or '-'");
	check_err(LINK2 "server listen\n", "t.lab:4:8: listen needs [ADDR]:PORT, like :8080");
	check_err(LINK2 "server lisen :80\n", "t.lab:4:8: unknown step \"lisen\"; did you mean listen?");
	check_err(LINK2 "server\n",
		  "t.lab:4:1: expected a step after the host name (listen, connect, send, shutdown, "
		  "close, abort, accept, unlisten, flood, start, run)");
	check_err(LINK2 "client connect 10.9.9.9:80\n",
		  "t.lab:4:16: 10.9.9.9 is not an address of any host in this lab; labctl connects "
		  "only inside the lab");
	check_err(LINK2 "client connect fd00::2:80\n",
		  "t.lab:4:16: write IPv6 addresses in brackets, like [fd00::2]:80 (got \"fd00::2:80\")");
	check_err(LINK2 "client connect [fd00::2]:80\n",
		  "t.lab:4:16: fd00::2 is not an address of any host in this lab; labctl connects "
		  "only inside the lab");
	check_err(LINK2 "client connect sever:80\n",
		  "t.lab:4:16: unknown host \"sever\"; did you mean server?");
	check_err(LINK2 "client connect server\n",
		  "t.lab:4:16: expected HOST:PORT like server:8080, got \"server\"");
	check_err(LINK2 "client connect server:80 count 0\n",
		  "t.lab:4:32: count must be a whole number from 1 to 1000000000, got \"0\"");
	check_err(LINK2 "client connect server:80 rate 5\n",
		  "t.lab:4:31: expected a rate like 1000/s, got \"5\"");
	check_err(LINK2 "client connect server:80 from 10.0.0.2\n",
		  "t.lab:4:31: 10.0.0.2 is not an address of host client (it has 10.0.0.1/24)");
	check_err(LINK2 "client connect server:80 cuont 5\n",
		  "t.lab:4:26: unknown key \"cuont\"; did you mean count?");
	check_err(LINK2 "client connect server:80 zzz\n",
		  "t.lab:4:26: unknown key \"zzz\" (connect takes count, rate, as, from)");
	check_err(LINK2 "server listen :80 as g\nserver connect client:80 as g\n",
		  "t.lab:5:29: group \"g\" on host server is already a listen group (line 4); use "
		  "another name with as");
	check_err(LINK2 "client close c\n",
		  "t.lab:4:14: unknown group \"c\" on host client (groups are made by connect/listen "
		  "... as NAME, default c and s)");
	check_err(LINK2 "client connect server:80 as web\nclient close wbe\n",
		  "t.lab:5:14: unknown group \"wbe\" on host client (groups are made by connect/listen "
		  "... as NAME, default c and s); did you mean web?");
	check_err(LINK2 "client connect server:80\nserver close c\n",
		  "t.lab:5:14: unknown group \"c\" on host server (groups are made by connect/listen "
		  "... as NAME, default c and s)");
	check_err(LINK2 "client connect server:80\nclient send c\n",
		  "t.lab:5:8: send needs a size, like send c 1000");
	check_err(LINK2 "client connect server:80\nclient send c 1.5\n",
		  "t.lab:5:15: expected a size like 1000, 1k or 64KiB, got \"1.5\"");
	check_err(LINK2 "client connect server:80\nclient close c now\n",
		  "t.lab:5:16: unexpected \"now\" after close c");
	check_err(LINK2 "client connect server:80\nclient accept c\n",
		  "t.lab:5:15: group \"c\" on host client is a connect group; accept takes a listen "
		  "group");
	check_err(LINK2 "client flood server:80 rate 10/s\n", "t.lab:4:8: flood needs for DUR");
	check_err(LINK2 "client flood server:80 for 1s\n", "t.lab:4:8: flood needs rate R/s");
	check_err(LINK2 "client flood server:80 rate 0/s for 1s\n",
		  "t.lab:4:29: flood rate must be above 0");
	check_err(LINK2 "client flood server:80 rate 10/s for 1s from 10.0.0.0/24\n",
		  "t.lab:4:46: flood source 10.0.0.0/24 is not inside the blackhole range "
		  "198.18.0.0/24 (SYN-ACKs must go nowhere)");
	/* the blackhole may come after the flood */
	struct lab *lab = parse_ok(LINK2 "client flood server:80 rate 10/s for 1s from 198.19.0.0/28\n"
				   "blackhole 198.19.0.0/16\n");
	lab_free(lab);
	check_err(LINK2 "impair client server\n", "t.lab:4:1: impair needs impairments or clear");
	check_err(LINK2 "impair client\n",
		  "t.lab:4:1: impair needs a link (A B or A>B) and impairments or clear");
	check_err(HOSTS2 "impair client server loss 1%\n",
		  "t.lab:3:8: no link between client and server");
	check_err(LINK2 "impair client>server clear now\n",
		  "t.lab:4:28: unexpected \"now\" after clear");
	check_err(LINK2 "impair client>server delay 1ms server>client loss 1%\n",
		  "t.lab:4:32: impair client>server already names one direction");
	check_err(LINK2 "wait\n", "t.lab:4:1: wait needs a duration like 1s");
	check_err(LINK2 "wait 10\n", "t.lab:4:6: expected a duration like 10ms, got \"10\"");
	check_err(LINK2 "wait 1s 2s\n", "t.lab:4:9: unexpected \"2s\" after the duration");
	check_err(LINK2 "wait 99999999999999m\n", "t.lab:4:6: duration \"99999999999999m\" is too large");
}

static void test_errors_expect(void **state)
{
	(void)state;
	check_err(LINK2 "expect client FIN_WAIT3\n",
		  "t.lab:4:15: unknown state \"FIN_WAIT3\"; did you mean FIN_WAIT_2?");
	check_err(LINK2 "expect client ESTABLISHD\n",
		  "t.lab:4:15: unknown state \"ESTABLISHD\"; did you mean ESTABLISHED?");
	check_err(LINK2 "expect client evnt refused\n",
		  "t.lab:4:15: unknown state \"evnt\"; did you mean event?");
	check_err(LINK2 "expect client XYZZY\n",
		  "t.lab:4:15: unknown state \"XYZZY\" (ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT_1, "
		  "FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING; or counter, "
		  "event, path, seen)");
	check_err(LINK2 "expect clinet ESTABLISHED\n",
		  "t.lab:4:8: unknown host \"clinet\"; did you mean client?");
	check_err(LINK2 "expect client\n",
		  "t.lab:4:1: expect needs a host and what to expect, like: expect client ESTABLISHED");
	check_err(LINK2 "expect client ESTABLISHED count >= x\n",
		  "t.lab:4:36: count must be a whole number, got \"x\"");
	check_err(LINK2 "expect client ESTABLISHED count >=x\n",
		  "t.lab:4:35: count must be a whole number, got \"x\"");
	check_err(LINK2 "expect client ESTABLISHED count >=\n", "t.lab:4:33: count >= needs a number");
	check_err(LINK2 "expect client ESTABLISHED count\n",
		  "t.lab:4:27: count needs a number, optionally after =, >=, <=, >, < or !=");
	check_err(LINK2 "expect client ESTABLISHED count -1\n",
		  "t.lab:4:33: count must be a whole number, got \"-1\"");
	check_err(LINK2 "expect client ESTABLISHED whithin 1s\n",
		  "t.lab:4:27: unknown key \"whithin\"; did you mean within?");
	check_err(LINK2 "expect client ESTABLISHED queue 1\n",
		  "t.lab:4:27: unknown key \"queue\" (expect HOST STATE takes port, peer, count, within, program)");
	check_err(LINK2 "expect client ESTABLISHED peer nobody\n", "t.lab:4:32: unknown host \"nobody\"");
	check_err(LINK2 "expect client ESTABLISHED peer server:0\n",
		  "t.lab:4:32: port must be 1 to 65535, got \"0\"");
	check_err(LINK2 "expect server listen queue 1 count 2\n",
		  "t.lab:4:30: unknown key \"count\" (expect HOST listen takes port, queue, backlog, "
		  "synrecv, within)");
	check_err(LINK2 "expect server counter ListenOverflows\n",
		  "t.lab:4:15: counter needs NAME [OP] N, like counter TcpExtListenOverflows >= 1");
	check_err(LINK2 "expect server counter Tcp_Ext >= 1\n",
		  "t.lab:4:23: counter name \"Tcp_Ext\" must be letters and digits, like "
		  "TcpExtListenOverflows");
	check_err(LINK2 "expect server counter TcpExtX >= 1 port 80\n",
		  "t.lab:4:36: unknown key \"port\" (expect counter takes within)");
	check_err(LINK2 "expect client event refsued\n",
		  "t.lab:4:21: unknown event \"refsued\" (connected, accepted, data, eof, refused, "
		  "timeout, reset, closed, error); did you mean refused?");
	check_err(LINK2 "expect client event refused group c\n",
		  "t.lab:4:35: unknown group \"c\" on host client (groups are made by connect/listen "
		  "... as NAME, default c and s)");
	check_err(LINK2 "expect server counter TcpExtX >=\n",
		  "t.lab:4:31: counter TcpExtX >= needs a number");
	check_err(LINK2 "expect server counter TcpExtX x\n",
		  "t.lab:4:31: counter TcpExtX must be a whole number, got \"x\"");
	check_err(LINK2 "expect client event\n", "t.lab:4:15: event needs a kind, like event refused");
}

static void test_error_cap_and_truncation(void **state)
{
	(void)state;
	char text[8192] = HOSTS2;
	for (int i = 0; i < 60; i++)
		strcat(text, "bogus\n");
	struct lab *lab = NULL;
	struct lc_err e = {0};
	char *all = NULL;
	assert_int_equal(lab_parse_string_errs("t.lab", text, &lab, &e, &all), -EINVAL);
	int lines = 1;
	for (char *c = all; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 51);  /* 50 errors and the stop line */
	assert_non_null(strstr(all, "t.lab:52:1: too many errors (50); stopping here"));
	/* e->msg holds whole lines only and says how many it left out */
	assert_true(strlen(e.msg) < sizeof(e.msg));
	assert_non_null(strstr(e.msg, "t.lab:3:1: unknown statement \"bogus\"\n"));
	assert_non_null(strstr(e.msg, "more errors not shown"));
	free(all);
	/* the plain API gives the same first line */
	assert_int_equal(lab_parse_string("t.lab", "bogus\n", &lab, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "t.lab:1:1: unknown statement \"bogus\"");
}

static void test_bad_files(void **state)
{
	(void)state;
	static const struct { const char *file, *first; int nerr; } cases[] = {
		{"tests/data/labs/bad-typos.lab",
		 "tests/data/labs/bad-typos.lab:6:1: unknown statement \"hots\"; did you mean host?", 6},
		{"tests/data/labs/bad-order.lab",
		 "tests/data/labs/bad-order.lab:3:6: host \"client\" is used before its host line "
		 "(line 5); declare hosts first", 3},
		{"tests/data/labs/bad-values.lab",
		 "tests/data/labs/bad-values.lab:5:28: expected a duration like 10ms, got \"10\"", 5},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lab *lab = NULL;
		struct lc_err e = {0};
		char *all = NULL;
		assert_int_equal(lab_parse_file_errs(cases[i].file, &lab, &e, &all), -EINVAL);
		assert_null(lab);
		assert_non_null(all);
		if (strncmp(all, cases[i].first, strlen(cases[i].first)))
			fail_msg("%s: want first line\n%s\ngot\n%s", cases[i].file, cases[i].first, all);
		int lines = 1;
		for (char *c = all; *c; c++)
			lines += *c == '\n';
		if (lines != cases[i].nerr)
			fail_msg("%s: want %d errors, got:\n%s", cases[i].file, cases[i].nerr, all);
		free(all);
	}
	struct lab *lab = NULL;
	struct lc_err e = {0};
	assert_int_equal(lab_parse_file("tests/data/labs/no-such.lab", &lab, &e), -ENOENT);
	assert_string_equal(e.msg, "tests/data/labs/no-such.lab: No such file or directory");
	assert_int_equal(lab_parse_file("tests/data/labs", &lab, &e), -EINVAL);
	assert_string_equal(e.msg, "tests/data/labs: not a regular file");
	assert_int_equal(lab_parse_file("labs/handshake.lab", &lab, &e), 0);
	assert_string_equal(lab->name, "handshake");
	assert_true(lab->nsteps >= 6);  /* the catalogue may grow it */
	lab_free(lab);
	assert_int_equal(lab_parse_file("tests/data/labs/all-statements.lab", &lab, &e), 0);
	lab_free(lab);
}

/* ---- value parsers --------------------------------------------------------------------- */

/* listen ... reuseaddr on|off, keepalive (issue 18: time-wait-port-reuse, keepalive-dead-peer) */
static void test_listen_reuseaddr_keepalive(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(LINK2 "server listen :80\n"
				   "server listen :81 reuseaddr off as r\n"
				   "server listen :82 reuseaddr on keepalive as k\n");
	assert_int_equal(lab->nsteps, 3);
	assert_int_equal(lab->steps[0].u.listen.no_reuseaddr, 0);   /* default: SO_REUSEADDR */
	assert_false(lab->steps[0].u.listen.keepalive);
	assert_int_equal(lab->steps[1].u.listen.no_reuseaddr, 1);
	assert_false(lab->steps[1].u.listen.keepalive);
	assert_int_equal(lab->steps[2].u.listen.no_reuseaddr, 0);
	assert_true(lab->steps[2].u.listen.keepalive);
	assert_string_equal(lab->steps[2].u.listen.group, "k");
	lab_free(lab);
	check_err(LINK2 "server listen :80 reuseaddr\n",
		  "t.lab:4:19: reuseaddr needs on or off");
	check_err(LINK2 "server listen :80 reuseaddr no\n",
		  "t.lab:4:29: reuseaddr must be on or off, got \"no\"; did you mean on?");
	check_err(LINK2 "server listen :80 reuseadr off\n",
		  "t.lab:4:19: unknown key \"reuseadr\"; did you mean reuseaddr?");
	check_err(LINK2 "server listen :80 keepalvie\n",
		  "t.lab:4:19: unknown key \"keepalvie\"; did you mean keepalive?");
}

/* expect HOST event KIND errno NAME */
static void test_event_errno(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(LINK2 "server listen :80 reuseaddr off as s2\n"
				   "expect server event error group s2 errno EADDRINUSE\n"
				   "expect server event timeout errno etimedout count 0 within 1s\n"
				   "expect server event reset\n");
	assert_int_equal(lab->nsteps, 4);
	assert_int_equal(lab->steps[1].u.expect.kind, LAB_EXPECT_EVENT);
	assert_int_equal(lab->steps[1].u.expect.event, LAB_EV_ERROR);
	assert_int_equal(lab->steps[1].u.expect.err, EADDRINUSE);
	assert_string_equal(lab->steps[1].u.expect.group, "s2");
	assert_int_equal(lab->steps[2].u.expect.err, ETIMEDOUT);
	assert_int_equal(lab->steps[2].u.expect.count.n, 0);
	assert_int_equal(lab->steps[3].u.expect.err, 0);             /* any */
	lab_free(lab);
	assert_string_equal(lab_errno_name(EADDRINUSE), "EADDRINUSE");
	assert_string_equal(lab_errno_name(EDOM), "?");
	assert_int_equal(lab_errno_parse("ECONNRESET"), ECONNRESET);
	assert_int_equal(lab_errno_parse("EBOGUS"), -1);
	check_err(LINK2 "expect server event error errno EADDRINUS\n",
		  "t.lab:4:33: unknown errno \"EADDRINUS\" (ECONNREFUSED, ETIMEDOUT, ECONNRESET, "
		  "EPIPE, EADDRINUSE, EADDRNOTAVAIL, EHOSTUNREACH, ENETUNREACH, EMFILE, ENFILE, "
		  "ENOBUFS, ENOMEM); did you mean EADDRINUSE?");
	check_err(LINK2 "expect server event error errno\n",
		  "t.lab:4:27: errno needs an error name like EADDRINUSE");
}

static void test_duration(void **state)
{
	(void)state;
	int64_t ns;
	static const struct { const char *s; int64_t ns; } ok[] = {
		{"0", 0}, {"0s", 0}, {"200us", 200000}, {"10ms", 10000000}, {"1.5s", 1500000000},
		{"2m", 120000000000LL}, {"7ns", 7}, {"0.1ms", 100000}, {"1.0000001s", 1000000100},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ns = -1;
		assert_int_equal(lab_parse_duration(ok[i].s, &ns), 0);
		assert_true(ns == ok[i].ns);
	}
	static const char *const bad[] = {"10", "", "ms", "-1s", "1.s", ".5s", "1e3ms", "10 ms",
					  "10MS", "1h", "0x10ms", "inf", "nans", "1.5.1s", "+1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lab_parse_duration(bad[i], &ns), -EINVAL);
	assert_int_equal(lab_parse_duration(NULL, &ns), -EINVAL);
	assert_int_equal(lab_parse_duration("153722867m", &ns), -ERANGE);
	assert_int_equal(lab_parse_duration("9000000000s", &ns), 0);  /* fits */
	assert_true(ns == 9000000000000000000LL);
	assert_int_equal(lab_parse_duration("99999999999999999999999999999999999999999s", &ns), -EINVAL);
}

static void test_percent_rate(void **state)
{
	(void)state;
	double v;
	assert_int_equal(lab_parse_percent("5%", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(lab_parse_percent("0.1%", &v), 0);
	assert_true(v == 0.1);
	assert_int_equal(lab_parse_percent("0%", &v), 0);
	assert_int_equal(lab_parse_percent("100%", &v), 0);
	assert_true(v == 100.0);
	assert_int_equal(lab_parse_percent("100.5%", &v), -ERANGE);
	assert_int_equal(lab_parse_percent("5", &v), -EINVAL);
	assert_int_equal(lab_parse_percent("-5%", &v), -EINVAL);
	assert_int_equal(lab_parse_percent("%", &v), -EINVAL);
	assert_int_equal(lab_parse_percent("5%%", &v), -EINVAL);
	assert_int_equal(lab_parse_rate("1000/s", &v), 0);
	assert_true(v == 1000.0);
	assert_int_equal(lab_parse_rate("0/s", &v), 0);
	assert_true(v == 0.0);
	assert_int_equal(lab_parse_rate("2.5/ms", &v), 0);
	assert_true(v == 2500.0);
	assert_int_equal(lab_parse_rate("60/m", &v), 0);
	assert_true(v == 1.0);
	assert_int_equal(lab_parse_rate("1000", &v), -EINVAL);
	assert_int_equal(lab_parse_rate("-1/s", &v), -EINVAL);
	assert_int_equal(lab_parse_rate("/s", &v), -EINVAL);
	assert_int_equal(lab_parse_rate("1000000000000/s", &v), -ERANGE);
}

static void test_bitrate_size(void **state)
{
	(void)state;
	uint64_t bps;
	static const struct { const char *s; uint64_t bps; } ok[] = {
		{"100bit", 100}, {"500kbit", 500000}, {"10mbit", 10000000}, {"1gbit", 1000000000},
		{"10Mbit", 10000000}, {"1kibit", 1024}, {"1mibit", 1048576}, {"1bps", 8},
		{"1kbps", 8000}, {"2mbps", 16000000}, {"1.5mbit", 1500000}, {"1tbit", 1000000000000ULL},
		{"10000000tbit", 10000000000000000000ULL},  /* above 2^63: still exact */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(lab_parse_bitrate(ok[i].s, &bps), 0);
		assert_true(bps == ok[i].bps);
	}
	assert_int_equal(lab_parse_bitrate("1000", &bps), -EINVAL);
	assert_int_equal(lab_parse_bitrate("10mb", &bps), -EINVAL);
	assert_int_equal(lab_parse_bitrate("-1mbit", &bps), -EINVAL);
	assert_int_equal(lab_parse_bitrate("99999999tbit", &bps), -ERANGE);

	int64_t b;
	static const struct { const char *s; int64_t b; } sz[] = {
		{"1000", 1000}, {"0", 0}, {"1k", 1000}, {"1K", 1000}, {"64KiB", 65536},
		{"1M", 1000000}, {"1MiB", 1048576}, {"2G", 2000000000}, {"1GiB", 1073741824},
		{"1.5k", 1500}, {"10B", 10}, {"3kB", 3000},
	};
	for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		assert_int_equal(lab_parse_size(sz[i].s, &b), 0);
		assert_true(b == sz[i].b);
	}
	assert_int_equal(lab_parse_size("1.5", &b), -EINVAL);
	assert_int_equal(lab_parse_size("-1", &b), -EINVAL);
	assert_int_equal(lab_parse_size("1kib", &b), -EINVAL);
	assert_int_equal(lab_parse_size("1T", &b), -EINVAL);
	assert_int_equal(lab_parse_size("", &b), -EINVAL);
	assert_int_equal(lab_parse_size("9999999999999999999", &b), -ERANGE);
	assert_int_equal(lab_parse_size("10000000000G", &b), -ERANGE);
}

/* ---- addresses ------------------------------------------------------------------------- */

static void test_addr(void **state)
{
	(void)state;
	struct lab_addr a;
	char buf[64];
	assert_int_equal(lab_parse_addr("10.0.0.1/24", true, &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefixlen, 24);
	assert_int_equal(a.bytes[0], 10);
	assert_int_equal(a.bytes[3], 1);
	assert_int_equal(lab_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.0.0.1/24");
	assert_int_equal(lab_parse_addr("10.0.0.1", false, &a), 0);
	assert_int_equal(a.prefixlen, -1);
	assert_int_equal(lab_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.0.0.1");
	assert_int_equal(lab_parse_addr("10.0.0.1", true, &a), -EINVAL);   /* prefix required */
	assert_int_equal(lab_parse_addr("10.0.0.1/8", false, &a), -EINVAL); /* prefix refused */
	assert_int_equal(lab_parse_addr("0.0.0.0/0", true, &a), 0);
	assert_int_equal(a.prefixlen, 0);
	assert_int_equal(lab_parse_addr("10.0.0.1/33", true, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("10.0.0.1/", true, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("10.0.0.1/-1", true, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("10.0.0.1/2a", true, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("10.1", false, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("0x0a.0.0.1", false, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("", false, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("fd00::1/64", true, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.bytes[0], 0xfd);
	assert_int_equal(a.bytes[15], 1);
	lab_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::1/64");
	assert_int_equal(lab_parse_addr("FD00:0:0::1", false, &a), 0);
	lab_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::1");
	assert_int_equal(lab_parse_addr("fd00::1/129", true, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("fd00:::1", false, &a), -EINVAL);
	assert_int_equal(lab_parse_addr("::ffff:10.0.0.1", false, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	/* format: buffer too small */
	assert_int_equal(lab_parse_addr("10.0.0.1/24", true, &a), 0);
	assert_int_equal(lab_addr_format(&a, buf, 8), -ENOSPC);
	struct lab_addr z = {0};
	assert_int_equal(lab_addr_format(&z, buf, sizeof(buf)), -EAFNOSUPPORT);
}

static void test_same_subnet(void **state)
{
	(void)state;
	struct lab_addr a, b;
#define SS(x, y) (lab_parse_addr(x, strchr(x, '/') != NULL, &a), \
		  lab_parse_addr(y, strchr(y, '/') != NULL, &b), lab_addr_same_subnet(&a, &b))
	assert_true(SS("10.0.0.1/24", "10.0.0.2/24"));
	assert_false(SS("10.0.0.1/24", "10.0.1.2/24"));
	assert_false(SS("10.0.0.1/24", "10.0.1.2/16"));  /* not on-link for the first */
	assert_true(SS("10.0.0.1/25", "10.0.0.127/25"));
	assert_false(SS("10.0.0.1/25", "10.0.0.128/25"));
	assert_true(SS("10.0.0.1/0", "192.168.1.1/0"));
	assert_true(SS("10.0.0.1/24", "10.0.0.9"));       /* a bare address takes the other's */
	assert_false(SS("10.0.0.1", "10.0.0.2"));         /* both bare: equality */
	assert_true(SS("10.0.0.1", "10.0.0.1"));
	assert_true(SS("fd00::1/64", "fd00::ffff:2/64"));
	assert_false(SS("fd00::1/64", "fd00:0:0:1::1/64"));
	assert_true(SS("fd00::1/63", "fd00:0:0:1::1/63"));
	assert_false(SS("10.0.0.1/8", "::ffff:10.0.0.1/8"));  /* families differ */
	assert_true(SS("10.0.0.1/31", "10.0.0.0/31"));
	assert_false(SS("10.0.0.1/32", "10.0.0.0/32"));
#undef SS
}

static void test_addr_toward(void **state)
{
	(void)state;
	struct lab *lab = parse_ok("host client addr 10.0.1.1/24 addr fd00:1::1/64\n"
				   "host router addr 10.0.1.254/24 addr 10.0.2.254/24 addr fd00:1::fe/64 forward\n"
				   "host server addr 10.0.2.1/24\n"
				   "host lonely\n");
	struct lab_addr a;
	char buf[64];
	assert_int_equal(lab_host_addr_toward(lab, 1, 0, 0, &a), 0);
	lab_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.1.254/24");
	assert_int_equal(lab_host_addr_toward(lab, 1, 2, 0, &a), 0);
	lab_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.2.254/24");
	assert_int_equal(lab_host_addr_toward(lab, 1, 0, AF_INET6, &a), 0);
	lab_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fd00:1::fe/64");
	assert_int_equal(lab_host_addr_toward(lab, 0, 2, 0, &a), -ENOENT);
	assert_int_equal(lab_host_addr_toward(lab, 2, 1, AF_INET6, &a), -ENOENT);
	assert_int_equal(lab_host_addr_toward(lab, 3, 0, 0, &a), -ENOENT);
	assert_int_equal(lab_host_addr_toward(lab, 0, 9, 0, &a), -ENOENT);
	assert_int_equal(lab_host_addr_toward(lab, -1, 0, 0, &a), -ENOENT);
	lab_free(lab);
}

/* Syntax corners: comments, quotes, CRLF, tabs, no final newline. */
static void test_syntax(void **state)
{
	(void)state;
	struct lab *lab = parse_ok("lab x # a comment\r\n"
				   "about \"# not a comment & not a step\"\r\n"
				   "\thost a   addr 10.0.0.1/24#c\n"
				   "host b addr 10.0.0.2/24\n"
				   "link a b\n"
				   "a listen 80\n"
				   "b connect a:80&wait 1s");
	assert_string_equal(lab->about, "# not a comment & not a step");
	assert_int_equal(lab->hosts[0].pos.col, 7);
	assert_int_equal(lab->steps[0].u.listen.port, 80);
	assert_int_equal(lab->nsteps, 3);
	assert_int_equal(lab->steps[2].pos.col, 16);
	assert_int_equal(lab->steps[1].together, lab->steps[2].together);
	lab_free(lab);
	/* an impair line replaces both directions; route default via an IPv6 host */
	lab = parse_ok("host a addr fd00::1/64\nhost b addr fd00::2/64\nlink a b\n"
		       "route a default via b\nroute b 2001:db8::/32 blackhole\n");
	assert_int_equal(lab->routes[0].dst.family, AF_INET6);
	assert_int_equal(lab->routes[0].dst.prefixlen, 0);
	assert_true(lab->routes[1].blackhole);
	lab_free(lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_lab),
		cmocka_unit_test(test_data_ignore),
		cmocka_unit_test(test_together),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_errors_statements),
		cmocka_unit_test(test_errors_host),
		cmocka_unit_test(test_errors_link),
		cmocka_unit_test(test_errors_route_drop_capture),
		cmocka_unit_test(test_errors_steps),
		cmocka_unit_test(test_errors_expect),
		cmocka_unit_test(test_error_cap_and_truncation),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_percent_rate),
		cmocka_unit_test(test_bitrate_size),
		cmocka_unit_test(test_unlisten),
		cmocka_unit_test(test_wait_connect),
		cmocka_unit_test(test_listen_twice),
		cmocka_unit_test(test_listen_reuseaddr_keepalive),
		cmocka_unit_test(test_event_errno),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_same_subnet),
		cmocka_unit_test(test_addr_toward),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_diag: replay sock_diag dumps recorded from a real kernel (tests/data/diag, made by
 * record.sh) and check the parsed sockets against ss's view recorded in the same run; feed
 * truncated and malformed messages, which must be errors, never crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/diag.h"

#define DATA "tests/data/diag/"

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob load(const char *path)
{
	struct blob b = {0};
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_true(n > 0);
	b.p = malloc((size_t)n);
	assert_non_null(b.p);
	assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
	b.n = (size_t)n;
	fclose(f);
	return b;
}

#define MAXS 64
struct got {
	struct diag_sock s[MAXS];
	int n;
	int restarts;
};

static int collect(const struct diag_sock *s, void *arg)
{
	struct got *g = arg;
	if (!s) {
		g->restarts++;
		g->n = 0;
		return 0;
	}
	if (g->n < MAXS)
		g->s[g->n] = *s;
	g->n++;
	return 0;
}

static int replay(const uint8_t *p, size_t n, struct got *g, struct lc_err *e)
{
	bool done = false, intr = false;
	memset(g, 0, sizeof(*g));
	err_clear(e);
	return diag_parse_buf(p, n, 0, 0, collect, g, &done, &intr, e);
}

static int count_state(const struct got *g, enum lab_tcp_state st)
{
	int c = 0;
	for (int i = 0; i < g->n && i < MAXS; i++)
		c += g->s[i].state == st;
	return c;
}

static const struct diag_sock *find(const struct got *g, enum lab_tcp_state st, int lport,
				    int rport)
{
	for (int i = 0; i < g->n && i < MAXS; i++)
		if (g->s[i].state == st && (lport < 0 || g->s[i].lport == lport) &&
		    (rport < 0 || g->s[i].rport == rport))
			return &g->s[i];
	return NULL;
}

/* The recorded dump must say exactly what ss said in the same run: the multiset of
 * "STATE local peer" lines. */
static void agree_with_ss(const struct got *g, const char *sspath)
{
	char want[MAXS][160], have[MAXS][160];
	int nw = 0, nh = 0;
	FILE *f = fopen(sspath, "r");
	assert_non_null(f);
	char line[512];
	assert_non_null(fgets(line, sizeof(line), f));  /* header */
	while (fgets(line, sizeof(line), f) && nw < MAXS) {
		char st[32], rq[16], sq[16], la[80], pa[80];
		if (sscanf(line, "%31s %15s %15s %79s %79s", st, rq, sq, la, pa) != 5)
			continue;
		int s = lab_state_parse(st);
		assert_true(s > 0);
		snprintf(want[nw++], sizeof(want[0]), "%s %s %s", lab_state_name(s), la, pa);
	}
	fclose(f);
	for (int i = 0; i < g->n && i < MAXS; i++) {
		char la[80], pa[80];
		const struct diag_sock *s = &g->s[i];
		diag_addr_format(s->family, s->laddr, s->lport, true, la, sizeof(la));
		diag_addr_format(s->family, s->raddr, s->rport, true, pa, sizeof(pa));
		snprintf(have[nh++], sizeof(have[0]), "%s %s %s", lab_state_name(s->state), la, pa);
	}
	assert_int_equal(nh, nw);
	for (int i = 0; i < nw; i++) {
		bool found = false;
		for (int j = 0; j < nh; j++)
			if (have[j][0] && !strcmp(want[i], have[j])) {
				have[j][0] = '\0';
				found = true;
				break;
			}
		if (!found)
			fail_msg("ss saw \"%s\", the replayed dump did not", want[i]);
	}
}

static void test_client_dump(void **state)
{
	(void)state;
	struct blob b = load(DATA "client.bin");
	struct got *g = calloc(1, sizeof(*g));
	struct lc_err e = {0};
	assert_int_equal(replay(b.p, b.n, g, &e), 0);
	assert_int_equal(g->n, 9);
	assert_int_equal(count_state(g, LAB_TCP_ESTABLISHED), 3);
	assert_int_equal(count_state(g, LAB_TCP_SYN_SENT), 1);
	assert_int_equal(count_state(g, LAB_TCP_FIN_WAIT1), 2);
	assert_int_equal(count_state(g, LAB_TCP_FIN_WAIT2), 1);
	assert_int_equal(count_state(g, LAB_TCP_TIME_WAIT), 1);
	assert_int_equal(count_state(g, LAB_TCP_LISTEN), 1);

	const struct diag_sock *s = find(g, LAB_TCP_SYN_SENT, -1, 8081);
	assert_non_null(s);
	assert_int_equal(s->family, AF_INET);
	uint8_t a1[4] = {10, 77, 0, 1}, a2[4] = {10, 77, 0, 2};
	assert_memory_equal(s->laddr, a1, 4);
	assert_memory_equal(s->raddr, a2, 4);
	assert_int_equal(s->timer, DIAG_TIMER_RETRANS);
	assert_int_equal(s->wqueue, 1);  /* the SYN is unacknowledged */
	assert_true(s->has_info);

	s = find(g, LAB_TCP_TIME_WAIT, -1, 8085);
	assert_non_null(s);
	assert_int_equal(s->timer, DIAG_TIMER_TIMEWAIT);
	assert_true(s->expires_ms > 50000 && s->expires_ms <= 60000);
	assert_false(s->has_info);  /* time-wait sockets carry no attributes */

	s = find(g, LAB_TCP_LISTEN, 9090, -1);
	assert_non_null(s);
	assert_int_equal(s->family, AF_INET6);
	assert_int_equal(s->wqueue, 16);  /* backlog */

	s = find(g, LAB_TCP_ESTABLISHED, -1, 8080);
	assert_non_null(s);
	assert_true(s->has_info);
	assert_true(s->info.rtt > 0);
	assert_true(s->info.snd_cwnd > 0);
	assert_true(s->info.snd_mss > 0);
	assert_true(s->cong[0] != '\0');
	assert_true(s->has_mem);
	assert_true(s->mem.rcvbuf > 0);
	assert_true(s->inode > 0);

	for (int i = 0; i < g->n; i++) {
		assert_true(g->s[i].cookie != 0);
		for (int j = 0; j < i; j++)
			assert_true(g->s[i].cookie != g->s[j].cookie);
	}
	agree_with_ss(g, DATA "client.ss.txt");
	free(g);
	free(b.p);
}

static void test_server_dump(void **state)
{
	(void)state;
	const char *files[] = {DATA "server.bin", DATA "server_plain.bin"};
	for (int k = 0; k < 2; k++) {
		struct blob b = load(files[k]);
		struct got *g = calloc(1, sizeof(*g));
		struct lc_err e = {0};
		assert_int_equal(replay(b.p, b.n, g, &e), 0);
		assert_int_equal(g->n, 11);
		assert_int_equal(count_state(g, LAB_TCP_LISTEN), 6);
		assert_int_equal(count_state(g, LAB_TCP_SYN_RECV), 1);
		assert_int_equal(count_state(g, LAB_TCP_ESTABLISHED), 1);
		assert_int_equal(count_state(g, LAB_TCP_LAST_ACK), 1);
		assert_int_equal(count_state(g, LAB_TCP_CLOSE_WAIT), 1);
		assert_int_equal(count_state(g, LAB_TCP_CLOSING), 1);
		const struct diag_sock *s = find(g, LAB_TCP_SYN_RECV, 8081, -1);
		assert_non_null(s);
		assert_int_equal(s->timer, DIAG_TIMER_RETRANS);  /* SYN-ACK retransmit */
		s = find(g, LAB_TCP_CLOSE_WAIT, 8084, -1);
		assert_non_null(s);
		assert_int_equal(s->rqueue, 1);  /* the FIN counts as one unread byte */
		for (int i = 0; i < g->n; i++) {
			if (g->s[i].state == LAB_TCP_LISTEN)
				assert_int_equal(g->s[i].wqueue, 16);
			if (k == 1)
				assert_false(g->s[i].has_info);
		}
		if (k == 0)
			assert_true(find(g, LAB_TCP_CLOSING, -1, -1)->has_info);
		agree_with_ss(g, DATA "server.ss.txt");
		free(g);
		free(b.p);
	}
}

/* Every prefix of a recording parses without a crash; a cut inside a message is an error. */
static void test_truncated(void **state)
{
	(void)state;
	struct blob b = load(DATA "server.bin");
	struct got *g = calloc(1, sizeof(*g));
	/* message boundaries */
	size_t bounds[256];
	int nb = 0;
	for (size_t off = 0; off < b.n && nb < 256;) {
		const struct nlmsghdr *h = (const void *)(b.p + off);
		off += NLMSG_ALIGN(h->nlmsg_len);
		bounds[nb++] = off;
	}
	for (size_t cut = 1; cut < b.n; cut++) {
		struct lc_err e = {0};
		uint8_t *copy = malloc(cut);  /* exact size: ASan sees any over-read */
		memcpy(copy, b.p, cut);
		int rc = replay(copy, cut, g, &e);
		bool at_bound = false;
		for (int i = 0; i < nb; i++)
			at_bound |= bounds[i] == cut;
		if (at_bound)
			assert_int_equal(rc, 0);
		else {
			assert_int_equal(rc, -EBADMSG);
			assert_true(strlen(e.msg) > 0);
		}
		free(copy);
	}
	free(g);
	free(b.p);
}

/* First message with attributes in a recording, copied out. */
static size_t first_with_attrs(const struct blob *b, uint8_t *out, size_t cap)
{
	for (size_t off = 0; off < b->n;) {
		const struct nlmsghdr *h = (const void *)(b->p + off);
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    h->nlmsg_len > NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg)) + 8) {
			assert_true(h->nlmsg_len <= cap);
			memcpy(out, h, h->nlmsg_len);
			return h->nlmsg_len;
		}
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	fail_msg("no message with attributes");
	return 0;
}

static struct nlattr *attr_at(uint8_t *msg, int type)
{
	struct nlmsghdr *h = (void *)msg;
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg));
	while (off + 4 <= h->nlmsg_len) {
		struct nlattr *a = (void *)(msg + off);
		if (type < 0 || (a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static void test_malformed(void **state)
{
	(void)state;
	struct blob b = load(DATA "client.bin");
	uint8_t msg[4096], m2[4096];
	size_t n = first_with_attrs(&b, msg, sizeof(msg));
	struct diag_sock s;
	struct lc_err e = {0};
	assert_int_equal(diag_parse_msg((void *)msg, &s, &e), 0);

	/* an attribute longer than what is left */
	memcpy(m2, msg, n);
	struct nlattr *a = attr_at(m2, -1);
	a->nla_len = (uint16_t)(n + 100);
	assert_int_equal(diag_parse_msg((void *)m2, &s, &e), -EBADMSG);
	/* an attribute shorter than its own header */
	memcpy(m2, msg, n);
	attr_at(m2, -1)->nla_len = 2;
	assert_int_equal(diag_parse_msg((void *)m2, &s, &e), -EBADMSG);
	/* tcp_info cut to 8 bytes (the attribute chain stays consistent: pad with NOP types) */
	memcpy(m2, msg, n);
	a = attr_at(m2, INET_DIAG_INFO);
	assert_non_null(a);
	uint16_t old = a->nla_len;
	a->nla_len = 12;
	struct nlattr *filler = (void *)((uint8_t *)a + 12);
	filler->nla_len = (uint16_t)(NLA_ALIGN(old) - 12);
	filler->nla_type = 0x7ff;  /* unknown type: skipped */
	assert_int_equal(diag_parse_msg((void *)m2, &s, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "tcp_info"));
	/* a congestion name without its NUL is fine as MNL_TYPE_STRING, an empty one is not */
	memcpy(m2, msg, n);
	a = attr_at(m2, INET_DIAG_CONG);
	if (a) {
		uint16_t ol = a->nla_len;
		a->nla_len = 4;
		filler = (void *)((uint8_t *)a + 4);
		filler->nla_len = (uint16_t)(NLA_ALIGN(ol) - 4);
		filler->nla_type = 0x7ff;
		assert_int_equal(diag_parse_msg((void *)m2, &s, &e), -EBADMSG);
	}
	/* a u8 attribute with a 4-byte payload is fine (padding); with none it is not */
	memcpy(m2, msg, n);
	a = attr_at(m2, INET_DIAG_SHUTDOWN);
	if (a) {
		a->nla_len = 4;
		filler = (void *)((uint8_t *)a + 4);
		filler->nla_len = 4;
		filler->nla_type = 0x7ff;
		assert_int_equal(diag_parse_msg((void *)m2, &s, &e), -EBADMSG);
	}
	/* nlmsg_len shorter than inet_diag_msg */
	memcpy(m2, msg, n);
	((struct nlmsghdr *)m2)->nlmsg_len = NLMSG_HDRLEN + 10;
	assert_int_equal(diag_parse_msg((void *)m2, &s, &e), -EBADMSG);
	/* through the buffer parser: nlmsg_len below a header, and beyond the buffer */
	struct got *g = calloc(1, sizeof(*g));
	memcpy(m2, msg, n);
	((struct nlmsghdr *)m2)->nlmsg_len = 8;
	assert_int_equal(replay(m2, n, g, &e), -EBADMSG);
	((struct nlmsghdr *)m2)->nlmsg_len = (uint32_t)n + 4;
	assert_int_equal(replay(m2, n, g, &e), -EBADMSG);
	/* unknown state and family */
	memcpy(m2, msg, n);
	((struct inet_diag_msg *)(m2 + NLMSG_HDRLEN))->idiag_state = 99;
	assert_int_equal(replay(m2, n, g, &e), -EBADMSG);
	memcpy(m2, msg, n);
	((struct inet_diag_msg *)(m2 + NLMSG_HDRLEN))->idiag_family = 7;
	assert_int_equal(replay(m2, n, g, &e), -EBADMSG);
	/* an unexpected message type */
	memcpy(m2, msg, n);
	((struct nlmsghdr *)m2)->nlmsg_type = 77;
	assert_int_equal(replay(m2, n, g, &e), -EPROTO);
	/* another request's sequence number */
	memcpy(m2, msg, n);
	((struct nlmsghdr *)m2)->nlmsg_seq = 5;
	bool done = false, intr = false;
	assert_int_equal(diag_parse_buf(m2, n, 6, 0, collect, g, &done, &intr, &e), -EPROTO);
	free(g);
	free(b.p);
}

/* A request socket (kernel state TCP_NEW_SYN_RECV) reads as SYN_RECV. */
static void test_new_syn_recv(void **state)
{
	(void)state;
	struct blob b = load(DATA "server_plain.bin");
	uint8_t m[256];
	const struct nlmsghdr *h = (const void *)b.p;
	assert_true(h->nlmsg_len <= sizeof(m));
	memcpy(m, h, h->nlmsg_len);
	((struct inet_diag_msg *)(m + NLMSG_HDRLEN))->idiag_state = LAB_TCP_NEW_SYN_RECV;
	struct diag_sock s;
	struct lc_err e = {0};
	assert_int_equal(diag_parse_msg((void *)m, &s, &e), 0);
	assert_int_equal(s.state, LAB_TCP_SYN_RECV);
	free(b.p);
}

static void test_error_extack(void **state)
{
	(void)state;
	uint8_t buf[256] = {0};
	struct nlmsghdr *h = (void *)buf;
	struct nlmsgerr *ne = (void *)(buf + NLMSG_HDRLEN);
	ne->error = -EINVAL;
	ne->msg.nlmsg_len = sizeof(struct nlmsghdr);
	size_t off = NLMSG_HDRLEN + sizeof(*ne);
	struct nlattr *a = (void *)(buf + off);
	const char *text = "Invalid bytecode";
	a->nla_type = NLMSGERR_ATTR_MSG;
	a->nla_len = (uint16_t)(NLA_HDRLEN + strlen(text) + 1);
	memcpy(buf + off + NLA_HDRLEN, text, strlen(text) + 1);
	h->nlmsg_len = (uint32_t)(off + NLA_ALIGN(a->nla_len));
	h->nlmsg_type = NLMSG_ERROR;
	h->nlmsg_flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
	struct got *g = calloc(1, sizeof(*g));
	struct lc_err e = {0};
	assert_int_equal(replay(buf, h->nlmsg_len, g, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "Invalid bytecode"));
	/* a done message carrying an error */
	memset(buf, 0, sizeof(buf));
	h->nlmsg_type = NLMSG_DONE;
	h->nlmsg_len = NLMSG_HDRLEN + 4;
	int err = -ENOBUFS;
	memcpy(buf + NLMSG_HDRLEN, &err, 4);
	assert_int_equal(replay(buf, h->nlmsg_len, g, &e), -ENOBUFS);
	/* INT_MIN cannot be negated (the diag fuzzer found this): a protocol error */
	err = INT_MIN;
	memcpy(buf + NLMSG_HDRLEN, &err, 4);
	assert_int_equal(replay(buf, h->nlmsg_len, g, &e), -EPROTO);
	/* an error message too short to hold struct nlmsgerr */
	h->nlmsg_type = NLMSG_ERROR;
	h->nlmsg_len = NLMSG_HDRLEN + 4;
	assert_int_equal(replay(buf, h->nlmsg_len, g, &e), -EBADMSG);
	free(g);
}

static void test_dump_intr(void **state)
{
	(void)state;
	struct blob b = load(DATA "server_plain.bin");
	struct nlmsghdr *h = (void *)b.p;
	struct nlmsghdr *h2 = (void *)(b.p + NLMSG_ALIGN(h->nlmsg_len));
	h2->nlmsg_flags |= NLM_F_DUMP_INTR;
	struct got *g = calloc(1, sizeof(*g));
	bool done = false, intr = false;
	struct lc_err e = {0};
	assert_int_equal(diag_parse_buf(b.p, b.n, 0, 0, collect, g, &done, &intr, &e), 0);
	assert_true(intr);
	assert_true(done);
	assert_int_equal(g->n, 1);  /* nothing delivered after the interruption */
	free(g);
	free(b.p);
}

/* ---- bytecode: run it through a model of the kernel's auditor and interpreter ---------- */

struct entry {
	int family;
	uint16_t sport, dport;
	uint8_t saddr[16], daddr[16];
};

static bool bits_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rem = bits % 8;
	if (memcmp(a, b, (size_t)bytes))
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));
		if ((a[bytes] ^ b[bytes]) & mask)
			return false;
	}
	return true;
}

/* inet_diag_bc_run() */
static bool bc_run(const uint8_t *bc, int len, const struct entry *en)
{
	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		bool yes = true;
		switch (op->code) {
		case INET_DIAG_BC_JMP:
			yes = false;
			break;
		case INET_DIAG_BC_S_EQ:
			yes = en->sport == op[1].no;
			break;
		case INET_DIAG_BC_D_EQ:
			yes = en->dport == op[1].no;
			break;
		case INET_DIAG_BC_S_COND:
		case INET_DIAG_BC_D_COND: {
			const struct inet_diag_hostcond *c = (const void *)(op + 1);
			const uint8_t *addr = op->code == INET_DIAG_BC_S_COND ? en->saddr : en->daddr;
			if (c->family != en->family)
				yes = false;
			else
				yes = bits_match(addr, (const uint8_t *)(c + 1), c->prefix_len);
			break;
		}
		default:
			fail_msg("unexpected op %d", op->code);
		}
		if (yes) {
			len -= op->yes;
			bc += op->yes;
		} else {
			len -= op->no;
			bc += op->no;
		}
	}
	return len == 0;
}

/* valid_cc() and inet_diag_bc_audit(): every "no" target lies on the chain of "yes". */
static bool valid_cc(const uint8_t *bc, int len, int cc)
{
	while (len >= 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		if (cc > len)
			return false;
		if (cc == len)
			return true;
		if (op->yes < 4 || op->yes & 3)
			return false;
		len -= op->yes;
		bc += op->yes;
	}
	return false;
}

static bool bc_audit(const uint8_t *bytecode, int bytecode_len)
{
	const uint8_t *bc = bytecode;
	int len = bytecode_len;
	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		int min_len = sizeof(*op);
		switch (op->code) {
		case INET_DIAG_BC_S_COND:
		case INET_DIAG_BC_D_COND: {
			const struct inet_diag_hostcond *c = (const void *)(op + 1);
			min_len += sizeof(*c) + (c->family == AF_INET ? 4 : 16);
			if (len < min_len)
				return false;
			break;
		}
		case INET_DIAG_BC_S_EQ:
		case INET_DIAG_BC_D_EQ:
			min_len += sizeof(*op);
			break;
		case INET_DIAG_BC_JMP:
			break;
		default:
			return false;
		}
		if (op->no < min_len || op->no > len + 4 || op->no & 3)
			return false;
		if (op->no < len && !valid_cc(bytecode, bytecode_len, len - op->no))
			return false;
		if (op->yes < min_len || op->yes > len + 4 || op->yes & 3)
			return false;
		bc += op->yes;
		len -= op->yes;
	}
	return len == 0;
}

static void test_bytecode(void **state)
{
	(void)state;
	struct diag_filter f = {0};
	uint8_t bc[8192];
	assert_int_equal(diag_bytecode(&f, AF_INET, bc, sizeof(bc)), 0);

	f.ports[0] = 80;
	f.ports[1] = 8080;
	f.ports[2] = 443;
	f.nports = 3;
	int n = diag_bytecode(&f, AF_INET, bc, sizeof(bc));
	assert_true(n > 0);
	assert_true(bc_audit(bc, n));
	struct entry en = {.family = AF_INET, .sport = 80, .dport = 5000};
	assert_true(bc_run(bc, n, &en));
	en.sport = 5000;
	en.dport = 443;
	assert_true(bc_run(bc, n, &en));
	en.dport = 444;
	assert_false(bc_run(bc, n, &en));
	en.sport = 8080;
	assert_true(bc_run(bc, n, &en));

	/* ports AND addresses */
	f.naddrs = 2;
	f.addrs[0] = (struct lab_addr){.family = AF_INET, .bytes = {10, 0, 0, 2}, .prefixlen = -1};
	f.addrs[1] = (struct lab_addr){.family = AF_INET, .bytes = {192, 168, 0, 0},
				       .prefixlen = 16};
	n = diag_bytecode(&f, AF_INET, bc, sizeof(bc));
	assert_true(n > 0);
	assert_true(bc_audit(bc, n));
	struct entry e2 = {.family = AF_INET, .sport = 40000, .dport = 80,
			   .saddr = {10, 0, 0, 1}, .daddr = {10, 0, 0, 2}};
	assert_true(bc_run(bc, n, &e2));
	e2.daddr[3] = 3;
	assert_false(bc_run(bc, n, &e2));   /* port matches, address does not */
	memcpy(e2.saddr, (uint8_t[]){192, 168, 7, 7}, 4);
	assert_true(bc_run(bc, n, &e2));    /* in 192.168/16 */
	e2.dport = 81;
	assert_false(bc_run(bc, n, &e2));   /* address matches, port does not */

	/* addresses only; many ports (the auditor's walk stays valid at size) */
	struct diag_filter g = {0};
	g.naddrs = 1;
	g.addrs[0] = (struct lab_addr){.family = AF_INET6, .bytes = {[15] = 1}, .prefixlen = -1};
	n = diag_bytecode(&g, AF_INET6, bc, sizeof(bc));
	assert_true(bc_audit(bc, n));
	struct entry e3 = {.family = AF_INET6, .daddr = {[15] = 1}};
	assert_true(bc_run(bc, n, &e3));
	e3.daddr[15] = 2;
	assert_false(bc_run(bc, n, &e3));
	struct diag_filter h = {0};
	h.nports = DIAG_MAX_PORTS;
	for (int i = 0; i < DIAG_MAX_PORTS; i++)
		h.ports[i] = (uint16_t)(1000 + i);
	n = diag_bytecode(&h, AF_INET, bc, sizeof(bc));
	assert_true(n > 0 && bc_audit(bc, n));
	for (int p = 990; p < 1100; p++) {
		struct entry e4 = {.family = AF_INET, .sport = 1, .dport = (uint16_t)p};
		assert_int_equal(bc_run(bc, n, &e4), p >= 1000 && p < 1000 + DIAG_MAX_PORTS);
	}
	assert_int_equal(diag_bytecode(&h, AF_INET, bc, 16), -ENOSPC);
}

static void test_addr_format(void **state)
{
	(void)state;
	char buf[80];
	uint8_t v4[16] = {10, 0, 0, 1}, v6[16] = {0xfe, 0x80, [15] = 1}, any[16] = {0};
	assert_int_equal(diag_addr_format(AF_INET, v4, 8080, true, buf, sizeof(buf)), 13);
	assert_string_equal(buf, "10.0.0.1:8080");
	diag_addr_format(AF_INET6, v6, 0, true, buf, sizeof(buf));
	assert_string_equal(buf, "[fe80::1]:*");
	diag_addr_format(AF_INET6, any, 0, false, buf, sizeof(buf));
	assert_string_equal(buf, "[::]:0");
	assert_int_equal(diag_addr_format(AF_INET, v4, 8080, true, buf, 5), -ENOSPC);
	struct lab_addr a = {.family = AF_INET, .bytes = {10, 0, 0, 1}};
	uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1};
	assert_true(diag_addr_eq(AF_INET, v4, &a));
	assert_true(diag_addr_eq(AF_INET6, mapped, &a));
	assert_false(diag_addr_eq(AF_INET6, v6, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_dump),  cmocka_unit_test(test_server_dump),
		cmocka_unit_test(test_truncated),    cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_new_syn_recv), cmocka_unit_test(test_error_extack),
		cmocka_unit_test(test_dump_intr),    cmocka_unit_test(test_bytecode),
		cmocka_unit_test(test_addr_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

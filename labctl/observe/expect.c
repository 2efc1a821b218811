/* expect: see expect.h. */
#include "observe/expect.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "kernel/nstat.h"

bool expect_count_holds(const struct lab_count *c, int64_t v)
{
	switch (c->cmp) {
	case LAB_CMP_EQ: return v == c->n;
	case LAB_CMP_GE: return v >= c->n;
	case LAB_CMP_LE: return v <= c->n;
	case LAB_CMP_GT: return v > c->n;
	case LAB_CMP_LT: return v < c->n;
	case LAB_CMP_NE: return v != c->n;
	}
	return false;
}

const char *expect_cmp_str(enum lab_cmp cmp)
{
	switch (cmp) {
	case LAB_CMP_EQ: return "==";
	case LAB_CMP_GE: return ">=";
	case LAB_CMP_LE: return "<=";
	case LAB_CMP_GT: return ">";
	case LAB_CMP_LT: return "<";
	case LAB_CMP_NE: return "!=";
	}
	return "?";
}

struct state_count {
	const struct lab *lab;
	const struct lab_step *st;
	const struct expect_owner *owner;
	int64_t n[LAB_TCP_MAX_STATES];
};

static bool peer_matches(const struct state_count *c, const struct diag_sock *s)
{
	const struct lab_step *st = c->st;
	if (!st->u.expect.has_peer)
		return true;
	if (st->u.expect.peer_port && s->rport != st->u.expect.peer_port)
		return false;
	int ph = st->u.expect.peer_host;
	if (ph < 0 || ph >= c->lab->nhosts)
		return true;  /* peer given by port only */
	const struct lab_host *h = &c->lab->hosts[ph];
	for (int i = 0; i < h->naddrs; i++)
		if (diag_addr_eq(s->family, s->raddr, &h->addrs[i]))
			return true;
	return false;
}

static bool owned(const struct expect_owner *o, uint32_t inode)
{
	if (!o)
		return true;
	size_t lo = 0, hi = o->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->inodes[mid] == inode)
			return inode != 0;
		if (o->inodes[mid] < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int count_cb(const struct diag_sock *s, void *arg)
{
	struct state_count *c = arg;
	if (!s) {  /* the dump restarts */
		memset(c->n, 0, sizeof(c->n));
		return 0;
	}
	if (peer_matches(c, s) && owned(c->owner, s->inode))
		c->n[s->state]++;
	return 0;
}

static void peer_text(const struct lab *lab, const struct lab_step *st, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!st->u.expect.has_peer)
		return;
	int ph = st->u.expect.peer_host;
	const char *name = (ph >= 0 && ph < lab->nhosts) ? lab->hosts[ph].name : "*";
	if (st->u.expect.peer_port)
		snprintf(buf, len, " with peer %s:%u", name, st->u.expect.peer_port);
	else
		snprintf(buf, len, " with peer %s", name);
}

static int eval_state(struct diag *d, const struct lab *lab, const struct lab_step *st,
		      const struct expect_owner *owner, bool *held, char *seen, size_t seenlen,
		      struct lc_err *e)
{
	struct diag_filter f = {0};
	if (st->u.expect.port) {
		f.ports[0] = st->u.expect.port;
		f.nports = 1;
	}
	struct state_count c = {.lab = lab, .st = st, .owner = owner};
	int rc = diag_dump(d, &f, count_cb, &c, e);
	if (rc < 0)
		return rc;
	enum lab_tcp_state want = st->u.expect.state;
	if (want == LAB_TCP_NEW_SYN_RECV)
		want = LAB_TCP_SYN_RECV;
	if ((int)want <= 0 || want >= LAB_TCP_MAX_STATES)
		return err_set(e, -EINVAL, "expect: bad state %d", (int)want);
	int64_t got = c.n[want];
	*held = expect_count_holds(&st->u.expect.count, got);

	char peer[96];
	peer_text(lab, st, peer, sizeof(peer));
	size_t off = str_appendf(seen, seenlen, 0, "saw %" PRId64 " %s", got, lab_state_name(want));
	if (st->u.expect.port)
		off = str_appendf(seen, seenlen, off, " on port %u", st->u.expect.port);
	off = str_appendf(seen, seenlen, off, "%s", peer);
	if (owner)
		off = str_appendf(seen, seenlen, off, " held by %s", owner->name);
	bool first = true;
	for (int s = 1; s < LAB_TCP_MAX_STATES; s++) {
		if (s == (int)want || !c.n[s])
			continue;
		off = str_appendf(seen, seenlen, off, "%s%" PRId64 " %s", first ? " (also: " : ", ", c.n[s],
			  lab_state_name(s));
		first = false;
	}
	if (!first)
		str_appendf(seen, seenlen, off, ")");
	return 0;
}

struct queue_count {
	uint16_t port;
	int64_t nlisten, queue, backlog, synrecv;
};

static int queue_cb(const struct diag_sock *s, void *arg)
{
	struct queue_count *q = arg;
	if (!s) {
		q->nlisten = q->queue = q->backlog = q->synrecv = 0;
		return 0;
	}
	if (q->port && s->lport != q->port)
		return 0;  /* a connection whose remote port is ours */
	if (s->state == LAB_TCP_LISTEN) {
		/* SO_REUSEPORT groups and dual-stack pairs: the queue is the sum of theirs */
		q->nlisten++;
		q->queue += s->rqueue;
		q->backlog += s->wqueue;
	} else if (s->state == LAB_TCP_SYN_RECV) {
		q->synrecv++;
	}
	return 0;
}

static size_t add_check(char *seen, size_t seenlen, size_t off, const char *what, int64_t v,
			bool has, const struct lab_count *c, bool *held)
{
	if (has && !expect_count_holds(c, v)) {
		*held = false;
		return str_appendf(seen, seenlen, off, ", %s %" PRId64 " (want %s %" PRId64 ")", what, v,
			   expect_cmp_str(c->cmp), c->n);
	}
	return str_appendf(seen, seenlen, off, ", %s %" PRId64, what, v);
}

static int eval_queue(struct diag *d, const struct lab_step *st, bool *held, char *seen,
		      size_t seenlen, struct lc_err *e)
{
	struct diag_filter f = {0};
	f.states = (1u << LAB_TCP_LISTEN) | (1u << LAB_TCP_SYN_RECV);
	struct queue_count q = {.port = st->u.expect.port};
	if (q.port) {
		f.ports[0] = q.port;
		f.nports = 1;
	}
	int rc = diag_dump(d, &f, queue_cb, &q, e);
	if (rc < 0)
		return rc;
	char where[32] = "";
	if (q.port)
		snprintf(where, sizeof(where), " on port %u", q.port);
	if (!q.nlisten) {
		*held = false;
		size_t off = str_appendf(seen, seenlen, 0, "no LISTEN socket%s", where);
		if (q.synrecv)
			str_appendf(seen, seenlen, off, " (%" PRId64 " SYN_RECV)", q.synrecv);
		return 0;
	}
	*held = true;
	size_t off = str_appendf(seen, seenlen, 0, "LISTEN%s", where);
	size_t head = off;
	off = add_check(seen, seenlen, off, "queue", q.queue, st->u.expect.has_queue,
			&st->u.expect.queue, held);
	off = add_check(seen, seenlen, off, "backlog", q.backlog, st->u.expect.has_backlog,
			&st->u.expect.backlog, held);
	add_check(seen, seenlen, off, "synrecv", q.synrecv, st->u.expect.has_synrecv,
		  &st->u.expect.synrecv, held);
	/* "LISTEN on port 80, queue 5" reads better as "LISTEN on port 80: queue 5" */
	if (head + 1 < seenlen && seen[head] == ',')
		seen[head] = ':';
	return 0;
}

static int eval_counter(int netns_fd, const struct lab_step *st, bool *held, char *seen,
			size_t seenlen, struct lc_err *e)
{
	int64_t v;
	int rc = nstat_get(netns_fd, st->u.expect.counter, &v, e);
	if (rc < 0)
		return rc;
	*held = expect_count_holds(&st->u.expect.count, v);
	snprintf(seen, seenlen, "%s = %" PRId64, st->u.expect.counter, v);
	return 0;
}

int expect_eval(struct diag *d, int netns_fd, const struct lab *lab, const struct lab_step *st,
		bool *held, char *seen, size_t seenlen, struct lc_err *e)
{
	return expect_eval_owned(d, netns_fd, lab, st, NULL, held, seen, seenlen, e);
}

int expect_eval_owned(struct diag *d, int netns_fd, const struct lab *lab,
		      const struct lab_step *st, const struct expect_owner *owner, bool *held,
		      char *seen, size_t seenlen, struct lc_err *e)
{
	*held = false;
	if (seenlen)
		seen[0] = '\0';
	if (st->op != LAB_OP_EXPECT)
		return err_set(e, -EINVAL, "expect_eval: not an expect step");
	switch (st->u.expect.kind) {
	case LAB_EXPECT_STATE:
		return eval_state(d, lab, st, owner, held, seen, seenlen, e);
	case LAB_EXPECT_QUEUE:
		return eval_queue(d, st, held, seen, seenlen, e);
	case LAB_EXPECT_COUNTER:
		return eval_counter(netns_fd, st, held, seen, seenlen, e);
	case LAB_EXPECT_EVENT:
		return err_set(e, -ENOTSUP, "expect_eval: agent events are the runner's");
	case LAB_EXPECT_PROGRAM:
		return err_set(e, -ENOTSUP, "expect_eval: programs are the runner's");
	case LAB_EXPECT_PATH:
	case LAB_EXPECT_SEEN:
		return err_set(e, -ENOTSUP, "expect_eval: paths are the runner's (its timeline)");
	}
	return err_set(e, -EINVAL, "expect_eval: unknown kind %d", (int)st->u.expect.kind);
}

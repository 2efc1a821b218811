/* conn: the agent's TCP sockets.  Listeners, paced non-blocking connects, connections and
 * the groups that name them, and the requests that act on a group.  Nothing here blocks the
 * loop: connects are started in bounded batches, accepts and reads are bounded per wakeup.
 * Resource errors (EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL) become error events. */
#include "agent.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_BATCH 512    /* connects started per loop iteration */
#define ACCEPT_BATCH 128     /* accepts per wakeup */
#define READ_ROUNDS 4        /* reads per wakeup (fairness between connections) */
#define ACCEPT_BACKOFF 0.1   /* seconds to wait after EMFILE on accept */

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents);
static void group_start_connects(struct group *g);

/* ---- groups ---- */

struct group *group_find(struct agent *a, const char *name)
{
	for (struct group *g = a->groups; g; g = g->next)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

static struct group *group_new(struct agent *a, const char *name, enum group_kind kind)
{
	struct group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->a = a;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->kind = kind;
	g->lfd = -1;
	g->next = a->groups;
	a->groups = g;
	return g;
}

static void group_link(struct group *g, struct conn *c)
{
	c->g = g;
	c->prev = NULL;
	c->next = g->head;
	if (g->head)
		g->head->prev = c;
	g->head = c;
	g->nconns++;
}

static void group_unlink(struct conn *c)
{
	struct group *g = c->g;
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->nconns--;
}

/* ---- addresses ---- */

static void tuple_set(struct tuple *t, int side, const struct sockaddr_storage *ss)
{
	uint8_t *ip = side ? t->pip : t->lip;
	uint16_t *port = side ? &t->pport : &t->lport;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		memcpy(ip, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		memcpy(ip, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	} else {
		return;
	}
	t->family = (uint8_t)ss->ss_family;
}

static void tuple_get(const struct tuple *t, int side, struct sockaddr_storage *ss)
{
	const uint8_t *ip = side ? t->pip : t->lip;
	uint16_t port = side ? t->pport : t->lport;
	memset(ss, 0, sizeof(*ss));
	if (t->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, ip, 4);
	} else if (t->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip, 16);
	}
}

static void tuple_local_from_fd(struct tuple *t, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		tuple_set(t, 0, &ss);
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static const char *ss_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct tuple t = {0};
	tuple_set(&t, 0, ss);
	char ip[64] = "?";
	if (ss->ss_family == AF_INET)
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", t.lip[0], t.lip[1], t.lip[2], t.lip[3]);
	else if (ss->ss_family == AF_INET6)
		snprintf(ip, sizeof(ip), "[ipv6]");
	snprintf(buf, len, "%s:%u", ip, t.lport);
	return buf;
}

/* ---- events ---- */

static void emit(struct agent *a, int kind, const char *group, const struct conn *c,
		 uint32_t id, int err, uint16_t flags)
{
	struct proto_msg m;
	proto_msg_init(&m, (uint16_t)(PROTO_OP_EV_BASE + kind), 0);
	m.flags = flags;
	m.conn = id;
	m.ts_ns = mono_ns();
	m.have |= PA_BIT(PA_CONN) | PA_BIT(PA_TS_NS);
	proto_set_group(&m, group);
	if (c && c->t.family) {
		tuple_get(&c->t, 0, &m.local);
		tuple_get(&c->t, 1, &m.peer);
		m.have |= PA_BIT(PA_LOCAL) | PA_BIT(PA_PEER);
	}
	if (c && kind == EVK_DATA) {
		m.bytes = (int64_t)c->rx;
		m.have |= PA_BIT(PA_BYTES);
	}
	if (err)
		proto_set_error(&m, err, "%s", strerror(err));
	agent_send(a, &m);
}

static void conn_emit(struct conn *c, int kind, int err)
{
	if (c->g->kind == GK_CYCLE)
		return;  /* the benchmark cycle reports once, at the end */
	emit(c->g->a, kind, c->g->name, c, c->id, err, 0);
}

/* Which event a socket error is. */
static int err_kind(int err)
{
	switch (err) {
	case ECONNREFUSED: return EVK_REFUSED;
	case ETIMEDOUT: return EVK_TIMEOUT;
	case ECONNRESET:
	case EPIPE: return EVK_RESET;
	default: return EVK_ERROR;
	}
}

/* ---- connections ---- */

static struct conn *conn_new(struct group *g, int fd, uint8_t state)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = g->a->next_conn++;
	c->state = state;
	c->end_kind = EVK_CLOSED;  /* unless it fails (conn_fail) */
	ev_io_init(&c->io, conn_cb, fd, 0);
	group_link(g, c);
	return c;
}

/* Drop the connection: stop watching, close the fd (abort: with SO_LINGER {1,0}, so the
 * kernel sends RST and keeps no TIME_WAIT), free. */
static void conn_destroy(struct conn *c, bool abort)
{
	struct agent *a = c->g->a;
	if (c->state == CS_CONNECTING && c->g->steps)
		group_step_settled(c, c->end_kind);
	ev_io_stop(a->loop, &c->io);
	if (abort) {
		struct linger l = {1, 0};
		setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(c->io.fd);
	group_unlink(c);
	free(c->pend);
	free(c);
}

/* The agent chose to close: report it, then close. */
void conn_close(struct conn *c, bool abort)
{
	if (c->g->kind != GK_CYCLE)
		emit(c->g->a, EVK_CLOSED, c->g->name, c, c->id, 0, abort ? PROTO_F_ABORT : 0);
	conn_destroy(c, abort);
}

/* The socket failed (refused, reset, timed out, ...): report it, then close quietly. */
static void conn_fail(struct conn *c, int err)
{
	conn_emit(c, err_kind(err), err);
	c->end_kind = (uint8_t)err_kind(err);
	conn_destroy(c, false);
}

/* Watch for what this connection needs now. */
void conn_update(struct conn *c)
{
	struct agent *a = c->g->a;
	int want = 0;
	if (c->state == CS_CONNECTING) {
		want = EV_WRITE;
	} else {
		if (!(c->flags & (CF_NOREAD | CF_EOF)) && c->g->data != DATA_IGNORE && !c->pend)
			want |= EV_READ;
		if (c->pend || c->to_send ||
		    (c->g->data == DATA_SOURCE && !(c->flags & (CF_SHUT | CF_SHUT_PENDING))))
			want |= EV_WRITE;
	}
	if (want == (c->io.events & (EV_READ | EV_WRITE)) && ev_is_active(&c->io))
		return;
	if (ev_is_active(&c->io))
		ev_io_stop(a->loop, &c->io);
	if (want) {
		ev_io_set(&c->io, c->io.fd, want);
		ev_io_start(a->loop, &c->io);
	}
}

void conn_do_shutdown(struct conn *c)
{
	c->flags &= (uint8_t)~CF_SHUT_PENDING;
	if (!(c->flags & CF_SHUT)) {
		shutdown(c->io.fd, SHUT_WR);
		c->flags |= CF_SHUT;
	}
}

/* Returns false when the connection is gone. */
bool conn_write(struct conn *c)
{
	struct agent *a = c->g->a;
	for (;;) {
		const uint8_t *p;
		size_t n;
		if (c->pend) {
			p = c->pend + c->pend_off;
			n = c->pend_len - c->pend_off;
		} else if (c->to_send) {
			p = a->rbuf;  /* the payload is whatever the buffer holds: only sizes matter */
			n = c->to_send < a->rbuf_cap ? c->to_send : a->rbuf_cap;
		} else if (c->g->data == DATA_SOURCE && !(c->flags & (CF_SHUT | CF_SHUT_PENDING))) {
			p = a->rbuf;
			n = a->rbuf_cap;
		} else {
			break;
		}
		ssize_t w = send(c->io.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_fail(c, errno);
			return false;
		}
		if (c->pend) {
			c->pend_off += (uint32_t)w;
			if (c->pend_off == c->pend_len) {
				free(c->pend);
				c->pend = NULL;
				c->pend_len = c->pend_off = 0;
			}
		} else if (c->to_send) {
			c->to_send -= (uint64_t)w;
		} else {
			break;  /* source: one buffer per wakeup is plenty */
		}
		if ((size_t)w < n)
			break;
	}
	if ((c->flags & CF_SHUT_PENDING) && !c->to_send && !c->pend)
		conn_do_shutdown(c);
	return true;
}

static void conn_on_eof(struct conn *c)
{
	c->flags |= CF_EOF;
	conn_emit(c, EVK_EOF, 0);
	switch (c->g->on_eof) {
	case EOF_KEEP:
		/* the CLOSE_WAIT leak: never close */
		c->flags |= CF_NOREAD;
		conn_update(c);
		break;
	case EOF_SHUTDOWN:
		c->flags |= CF_NOREAD;
		if (c->to_send || c->pend)
			c->flags |= CF_SHUT_PENDING;
		else
			conn_do_shutdown(c);
		conn_update(c);
		break;
	default:
		conn_close(c, false);
		break;
	}
}

/* Returns false when the connection is gone. */
static bool conn_read(struct conn *c)
{
	struct agent *a = c->g->a;
	for (int round = 0; round < READ_ROUNDS; round++) {
		ssize_t n = recv(c->io.fd, a->rbuf, a->rbuf_cap, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			conn_fail(c, errno);
			return false;
		}
		if (n == 0) {
			bool closes = c->g->on_eof == EOF_CLOSE;
			conn_on_eof(c);
			return !closes;
		}
		c->rx += (uint64_t)n;
		if (!agent_backed_up(a))
			conn_emit(c, EVK_DATA, 0);
		if (c->g->data == DATA_ECHO && !(c->flags & CF_SHUT)) {
			ssize_t w = send(c->io.fd, a->rbuf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				conn_fail(c, errno);
				return false;
			}
			if (w < 0)
				w = 0;
			if (w < n) {  /* keep the rest and stop reading until it is written */
				c->pend = malloc((size_t)(n - w));
				if (!c->pend) {
					conn_fail(c, ENOMEM);
					return false;
				}
				memcpy(c->pend, a->rbuf + w, (size_t)(n - w));
				c->pend_len = (uint32_t)(n - w);
				c->pend_off = 0;
				conn_update(c);
				return true;
			}
		}
		if ((size_t)n < a->rbuf_cap)
			return true;
	}
	return true;
}

static void cycle_next(struct group *g);
static void cycle_free(struct group *g);

static void conn_connected(struct conn *c)
{
	struct group *g = c->g;
	if (c->state == CS_CONNECTING && g->steps)
		group_step_settled(c, EVK_CONNECTED);
	c->state = CS_OPEN;
	if (g->kind == GK_CYCLE) {
		conn_destroy(c, false);
		g->cycle_done++;
		g->cycle_inflight--;
		cycle_next(g);
		return;
	}
	tuple_local_from_fd(&c->t, c->io.fd);
	tuple_set(&c->t, 1, &g->target);
	conn_emit(c, EVK_CONNECTED, 0);
	conn_update(c);
}

static void cycle_finish(struct group *g, int err);

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, io);
	(void)loop;
	if (c->state == CS_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			struct group *g = c->g;
			tuple_local_from_fd(&c->t, c->io.fd);
			tuple_set(&c->t, 1, &g->target);
			conn_fail(c, err);
			if (g->kind == GK_CYCLE) {
				g->cycle_inflight--;
				cycle_finish(g, err);
			}
			return;
		}
		conn_connected(c);
		return;
	}
	if ((revents & EV_READ) && !conn_read(c))
		return;
	if ((revents & EV_WRITE) && !conn_write(c))
		return;
	conn_update(c);
}

/* The kernel may have finished this connect before the loop delivered its writability:
 * settle it now (its connected event goes out first), so a step acts on every connection
 * the kernel calls ESTABLISHED.  getpeername() fails with ENOTCONN in SYN_SENT. */
void conn_settle(struct conn *c)
{
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	if (c->state == CS_CONNECTING &&
	    getpeername(c->io.fd, (struct sockaddr *)&peer, &pl) == 0)
		conn_cb(c->g->a->loop, &c->io, EV_WRITE);
}

/* ---- connect ---- */

/* Start one non-blocking connect.  Returns 0, or a negative errno for errors that concern the
 * request itself (bad source address) rather than this one connection. */
static int connect_one(struct group *g, bool first)
{
	struct agent *a = g->a;
	int fam = g->target.ss_family;
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		if (!first)
			g->started++;  /* the attempt is used up: each failure is one event */
		if (g->kind == GK_CYCLE)
			cycle_finish(g, err);
		else
			emit(a, EVK_ERROR, g->name, NULL, a->next_conn++, err, 0);
		return first ? -err : 0;
	}
	if (g->has_from) {
		/* many connections from one address: let connect() pick the port, so the
		 * 4-tuple, not the source port alone, must be unique */
		int one = 1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&g->from, ss_len(&g->from)) < 0) {
			int err = errno;
			close(fd);
			if (first)
				return -err;
			g->started++;
			if (g->kind == GK_CYCLE)
				cycle_finish(g, err);
			else
				emit(a, EVK_ERROR, g->name, NULL, a->next_conn++, err, 0);
			return 0;
		}
	}
	if (g->keepalive) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	struct conn *c = conn_new(g, fd, CS_CONNECTING);
	if (!c) {
		close(fd);
		if (!first)
			g->started++;
		if (g->kind != GK_CYCLE)
			emit(a, EVK_ERROR, g->name, NULL, a->next_conn++, ENOMEM, 0);
		return first ? -ENOMEM : 0;
	}
	g->started++;
	if (g->kind == GK_CYCLE)
		g->cycle_inflight++;
	int rc = connect(fd, (const struct sockaddr *)&g->target, ss_len(&g->target));
	if (rc == 0) {
		conn_connected(c);
		return 0;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		/* a cycle to a veth peer often completes inside connect() (the SYN-ACK is
		 * handled in the same softirq): finish it now, without a loop turn.
		 * getpeername() fails with ENOTCONN while the socket is in SYN_SENT. */
		if (g->kind == GK_CYCLE && getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) {
			conn_destroy(c, false);
			g->cycle_done++;
			g->cycle_inflight--;
			return 0;
		}
		conn_update(c);
		return 0;
	}
	int err = errno;
	tuple_local_from_fd(&c->t, fd);
	tuple_set(&c->t, 1, &g->target);
	if (g->kind == GK_CYCLE) {
		g->cycle_inflight--;
		conn_destroy(c, false);
		cycle_finish(g, err);
		return 0;
	}
	/* EADDRNOTAVAIL here is port exhaustion, ENETUNREACH a missing route: per connection */
	conn_fail(c, err);
	return 0;
}

static void ctimer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct group *g = container_of(w, struct group, ctimer);
	(void)loop; (void)revents;
	if (g->kind == GK_CYCLE) {
		if (g->cycle_dead)
			cycle_free(g);
		else
			cycle_next(g);
		return;
	}
	group_start_connects(g);
}

/* Start the connects that are due (paced by rate), at most CONNECT_BATCH per iteration. */
static void group_start_connects(struct group *g)
{
	struct agent *a = g->a;
	int64_t due = g->to_start;
	if (g->rate > 0) {
		double el = ev_now(a->loop) - g->t0;
		int64_t d = (int64_t)(el * g->rate) + 1;
		if (d < due)
			due = d;
	}
	int64_t n = due - g->started;
	if (n > CONNECT_BATCH)
		n = CONNECT_BATCH;
	for (int64_t i = 0; i < n; i++)
		connect_one(g, false);
	ev_timer_stop(a->loop, &g->ctimer);
	if (g->started < g->to_start) {
		double next = 0;
		if (g->rate > 0 && g->started >= due)
			next = (double)(g->started) / g->rate - (ev_now(a->loop) - g->t0);
		if (next < 0)
			next = 0;
		ev_timer_set(&g->ctimer, next, 0);
		ev_timer_start(a->loop, &g->ctimer);
	}
}

static int target_ok(struct agent *a, const struct proto_msg *m)
{
	int fam = m->addr.ss_family;
	if ((fam != AF_INET && fam != AF_INET6) || !((struct sockaddr_in *)&m->addr)->sin_port) {
		agent_reply_err(a, m->tag, EINVAL, "the target needs an address and a port");
		return 0;
	}
	if ((m->have & PA_BIT(PA_FROM)) && m->from.ss_family != fam) {
		agent_reply_err(a, m->tag, EAFNOSUPPORT, "source and target families differ");
		return 0;
	}
	return 1;
}

void conn_op_connect(struct agent *a, const struct proto_msg *m)
{
	char buf[80];
	int64_t count = (m->have & PA_BIT(PA_COUNT)) ? m->count : 1;
	if (!target_ok(a, m))
		return;
	if (count < 1) {
		agent_reply_err(a, m->tag, EINVAL, "count must be at least 1");
		return;
	}
	struct group *g = group_find(a, m->group);
	if (g && g->kind != GK_CONNECT) {
		agent_reply_err(a, m->tag, EEXIST, "group %s belongs to a listener", m->group);
		return;
	}
	if (g && g->started < g->to_start) {
		agent_reply_err(a, m->tag, EBUSY, "the group's connects are still starting");
		return;
	}
	bool made = !g;
	if (!g && !(g = group_new(a, m->group, GK_CONNECT))) {
		agent_reply_err(a, m->tag, ENOMEM, "out of memory");
		return;
	}
	g->target = m->addr;
	g->has_from = m->have & PA_BIT(PA_FROM);
	if (g->has_from)
		g->from = m->from;
	g->on_eof = (m->have & PA_BIT(PA_ON_EOF)) ? (uint8_t)m->on_eof : EOF_CLOSE;
	g->data = (m->have & PA_BIT(PA_DATA)) ? (uint8_t)m->data : DATA_SINK;
	g->rate = (m->have & PA_BIT(PA_RATE_MILLI)) ? (double)m->rate_milli / 1000.0 : 0;
	g->keepalive = m->flags & PROTO_F_KEEPALIVE;
	g->t0 = ev_now(a->loop);
	g->to_start = g->started + count;
	ev_init(&g->ctimer, ctimer_cb);
	/* the first connect runs now, so a bad source address is this request's error */
	int rc = connect_one(g, true);
	if (rc < 0) {
		g->to_start = g->started;
		agent_reply_err(a, m->tag, -rc, "to %s: %s%s",
				ss_str(&m->addr, buf, sizeof(buf)),
				g->has_from ? "binding the source address: " : "", strerror(-rc));
		if (made && !g->head) {
			a->groups = g->next;
			free(g);
		}
		return;
	}
	agent_reply_ok(a, m->tag);
	group_start_connects(g);
}

/* ---- cycle (benchmarks) ---- */

static void cycle_finish(struct group *g, int err)
{
	struct agent *a = g->a;
	if (g->cycle_dead)
		return;
	if (err && g->cycle_tag) {
		char buf[80];
		agent_reply_err(a, g->cycle_tag, err, "to %s: %s after %lld cycles",
				ss_str(&g->target, buf, sizeof(buf)), strerror(err),
				(long long)g->cycle_done);
		g->cycle_tag = 0;
		g->to_start = g->started;  /* start no more */
	}
	if (g->cycle_inflight > 0 || g->started < g->to_start)
		return;
	if (g->cycle_tag) {
		struct proto_msg m;
		proto_msg_init(&m, PROTO_OP_OK, g->cycle_tag);
		m.count = g->cycle_done;
		m.elapsed_ns = mono_ns() - g->cycle_t0_ns;
		m.have |= PA_BIT(PA_COUNT) | PA_BIT(PA_ELAPSED_NS);
		agent_send(a, &m);
	}
	/* freed from the timer callback: we may be deep inside connect_one() for this group */
	g->cycle_dead = true;
	ev_timer_stop(a->loop, &g->ctimer);
	ev_timer_set(&g->ctimer, 0, 0);
	ev_timer_start(a->loop, &g->ctimer);
}

static void cycle_free(struct group *g)
{
	struct agent *a = g->a;
	for (struct group **pp = &a->groups; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	while (g->head)
		conn_destroy(g->head, false);
	free(g);
}

/* Keep `concurrency` cycles in flight.  Bounded per call so the loop stays responsive; the
 * timer continues where it stopped. */
static void cycle_next(struct group *g)
{
	for (int i = 0; i < CONNECT_BATCH; i++) {
		if (g->cycle_dead || !g->cycle_tag || g->started >= g->to_start ||
		    g->cycle_inflight >= (int64_t)g->concurrency)
			break;
		connect_one(g, false);
	}
	if (g->cycle_dead)
		return;
	if (g->cycle_tag && g->started < g->to_start &&
	    g->cycle_inflight < (int64_t)g->concurrency) {
		if (!ev_is_active(&g->ctimer)) {
			ev_timer_set(&g->ctimer, 0, 0);
			ev_timer_start(g->a->loop, &g->ctimer);
		}
		return;
	}
	cycle_finish(g, 0);
}

void conn_op_cycle(struct agent *a, const struct proto_msg *m)
{
	char name[PROTO_NAME_MAX];
	if (!target_ok(a, m))
		return;
	if (m->count < 1) {
		agent_reply_err(a, m->tag, EINVAL, "count must be at least 1");
		return;
	}
	snprintf(name, sizeof(name), "#cycle%u", m->tag);
	struct group *g = group_new(a, name, GK_CYCLE);
	if (!g) {
		agent_reply_err(a, m->tag, ENOMEM, "out of memory");
		return;
	}
	g->target = m->addr;
	g->has_from = m->have & PA_BIT(PA_FROM);
	if (g->has_from)
		g->from = m->from;
	g->to_start = m->count;
	g->cycle_tag = m->tag;
	g->concurrency = (m->have & PA_BIT(PA_CONCURRENCY)) && m->concurrency ? m->concurrency : 1;
	g->cycle_t0_ns = mono_ns();
	ev_init(&g->ctimer, ctimer_cb);
	/* answered when the last cycle ends (cycle_finish) */
	cycle_next(g);
}

/* ---- listen and accept ---- */

void listener_update(struct group *g)
{
	struct agent *a = g->a;
	bool want = g->lfd >= 0 && (g->accept_mode == ACC_AUTO ||
				     (g->accept_mode == ACC_MANUAL && g->accept_credit > 0));
	if (ev_is_active(&g->ltimer))  /* backing off, or waiting for "after DUR" */
		want = false;
	if (want && !ev_is_active(&g->lio))
		ev_io_start(a->loop, &g->lio);
	else if (!want && ev_is_active(&g->lio))
		ev_io_stop(a->loop, &g->lio);
}

int64_t listener_accept(struct group *g, int64_t max)
{
	struct agent *a = g->a;
	int64_t n = 0;
	while (n < max) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = accept4(g->lfd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EAGAIN)
				break;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: say so and back off, since the
			 * listener stays readable and would spin the loop */
			emit(a, EVK_ERROR, g->name, NULL, 0, err, 0);
			ev_io_stop(a->loop, &g->lio);
			ev_timer_set(&g->ltimer, ACCEPT_BACKOFF, 0);
			ev_timer_start(a->loop, &g->ltimer);
			break;
		}
		struct conn *c = conn_new(g, fd, CS_OPEN);
		if (!c) {
			close(fd);
			emit(a, EVK_ERROR, g->name, NULL, 0, ENOMEM, 0);
			break;
		}
		tuple_local_from_fd(&c->t, fd);
		tuple_set(&c->t, 1, &peer);
		n++;
		conn_emit(c, EVK_ACCEPTED, 0);
		/* data or the FIN often came with the handshake: read now, saving a loop turn */
		if (g->data != DATA_IGNORE && !conn_read(c))
			continue;
		conn_update(c);
	}
	return n;
}

static void lio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct group *g = container_of(w, struct group, lio);
	(void)loop; (void)revents;
	int64_t max = ACCEPT_BATCH;
	if (g->accept_mode == ACC_MANUAL && g->accept_credit < max)
		max = g->accept_credit;
	int64_t n = listener_accept(g, max);
	if (g->accept_mode == ACC_MANUAL)
		g->accept_credit -= n;
	listener_update(g);
}

static void ltimer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct group *g = container_of(w, struct group, ltimer);
	(void)loop; (void)revents;
	if (g->accept_mode == ACC_AFTER)
		g->accept_mode = ACC_AUTO;
	listener_update(g);
}

void conn_op_listen(struct agent *a, const struct proto_msg *m)
{
	char name[PROTO_NAME_MAX], buf[80];
	int fam = m->addr.ss_family, one = 1, zero = 0;
	uint16_t port = ntohs(((const struct sockaddr_in *)&m->addr)->sin_port);
	int backlog = (m->have & PA_BIT(PA_BACKLOG)) ? (int)m->backlog : 128;
	bool all = m->flags & PROTO_F_ALL_FAMILIES;
	bool no_reuse = m->flags & PROTO_F_NO_REUSEADDR;

	if (m->have & PA_BIT(PA_GROUP))
		snprintf(name, sizeof(name), "%s", m->group);
	else
		snprintf(name, sizeof(name), "%u", port);
	if (group_find(a, name)) {
		agent_reply_err(a, m->tag, EEXIST, "group %s exists", name);
		return;
	}
	if (backlog < 0) {
		agent_reply_err(a, m->tag, EINVAL, "bad backlog %d", backlog);
		return;
	}
	if (all && (fam != AF_INET6 ||
		    !IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&m->addr)->sin6_addr))) {
		agent_reply_err(a, m->tag, EINVAL, "every family: the address must be [::]");
		return;
	}
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		agent_reply_err(a, m->tag, errno, "socket: %s", strerror(errno));
		return;
	}
	/* Servers set SO_REUSEADDR so that a restart binds while the connections the old
	 * process closed first sit in TIME_WAIT; `reuseaddr off` shows why (the bind fails
	 * with EADDRINUSE).  Linux lets the bind through only when those sockets had it too:
	 * they inherited it from the old listener. */
	if (!no_reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* accepted sockets inherit SO_KEEPALIVE (and start their keepalive timer) */
	if (m->flags & PROTO_F_KEEPALIVE)
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* Every family with one socket, whatever net.ipv6.bindv6only says: IPv4 peers arrive
	 * as ::ffff:a.b.c.d, and the port keeps a single accept queue for both. */
	if (all && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		int err = errno;
		close(fd);
		agent_reply_err(a, m->tag, err, "IPV6_V6ONLY: %s", strerror(err));
		return;
	}
	bool bound = bind(fd, (const struct sockaddr *)&m->addr, ss_len(&m->addr)) == 0;
	if (!bound && errno == EADDRINUSE && no_reuse) {
		/* what a server without SO_REUSEADDR meets on restart: the lab expects it as an
		 * error event of the group, which has no listener (unlisten: EBADF) */
		close(fd);
		struct group *g = group_new(a, name, GK_LISTEN);
		if (!g) {
			agent_reply_err(a, m->tag, ENOMEM, "out of memory");
			return;
		}
		ev_init(&g->ltimer, ltimer_cb);
		emit(a, EVK_ERROR, g->name, NULL, 0, EADDRINUSE, 0);
		agent_reply_note(a, m->tag, "bind %s: EADDRINUSE (%s): no listener, an error "
				 "event", ss_str(&m->addr, buf, sizeof(buf)), strerror(EADDRINUSE));
		return;
	}
	if (!bound || listen(fd, backlog) < 0) {
		int err = errno;
		close(fd);
		agent_reply_err(a, m->tag, err, "%s: %s", ss_str(&m->addr, buf, sizeof(buf)),
				strerror(err));
		return;
	}
	struct group *g = group_new(a, name, GK_LISTEN);
	if (!g) {
		close(fd);
		agent_reply_err(a, m->tag, ENOMEM, "out of memory");
		return;
	}
	g->lfd = fd;
	g->laddr = m->addr;
	g->accept_mode = (m->have & PA_BIT(PA_ACCEPT)) ? (uint8_t)m->accept : ACC_AUTO;
	g->on_eof = (m->have & PA_BIT(PA_ON_EOF)) ? (uint8_t)m->on_eof : EOF_CLOSE;
	g->data = (m->have & PA_BIT(PA_DATA)) ? (uint8_t)m->data : DATA_SINK;
	ev_io_init(&g->lio, lio_cb, fd, EV_READ);
	ev_init(&g->ltimer, ltimer_cb);
	if (g->accept_mode == ACC_AFTER) {
		double after = (m->have & PA_BIT(PA_AFTER_NS)) ? (double)m->after_ns / 1e9 : 0;
		ev_timer_set(&g->ltimer, after > 0 ? after : 0, 0);
		ev_timer_start(a->loop, &g->ltimer);
	}
	listener_update(g);
	if (all)
		agent_reply_note(a, m->tag, "[::]:%u: IPv6 and IPv4, one socket (one accept queue)",
				 port);
	else
		agent_reply_ok(a, m->tag);
}

void conn_free_all(struct agent *a)
{
	while (a->groups) {
		struct group *g = a->groups;
		a->groups = g->next;
		group_steps_free(g);
		while (g->head)
			conn_destroy(g->head, false);
		if (g->lfd >= 0) {
			ev_io_stop(a->loop, &g->lio);
			close(g->lfd);
		}
		ev_timer_stop(a->loop, &g->ltimer);
		ev_timer_stop(a->loop, &g->ctimer);
		free(g);
	}
}

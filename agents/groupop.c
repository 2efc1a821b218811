/* groupop: the requests that act on a group (agent.h): send, shutdown, close, abort,
 * accept, unlisten.
 *
 * A program with blocking sockets gets to its send() or close() only once connect() has
 * returned.  send, shutdown, close and abort do the same with the handshakes they find in
 * flight on their group: they wait until those have settled (connected, refused, timed out,
 * ...), at most the request's DURATION_NS, then act on the connections that are open, and
 * their answer says what they waited for.  What still connects at the deadline (or at once,
 * with DURATION_NS 0) is treated as it always was: close and abort end it in SYN_SENT, send
 * and shutdown skip it.  Steps on one group act in the order they came; each acts on the
 * connections made before it came, so connects a rate still starts later are not its own. */
#include "agent.h"
#include "base/str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>

#define CONNECT_WAIT_NS 2000000000LL  /* when the request names none (lab.h's default) */

struct gstep {
	struct gstep *next;
	struct group *g;
	uint16_t op;
	uint32_t tag;
	int64_t bytes;
	uint32_t id_end;            /* acts on the connections made before it came */
	int64_t t0_ns, wait_ns;
	uint32_t inflight, left;    /* handshakes in flight when it came; not settled yet */
	uint32_t ended[EVK_ERROR + 1];  /* how the settled ones ended, by event kind */
	bool due;                   /* settled or out of time: acts once those before it have */
	ev_timer timer;             /* the deadline; 0 once every handshake has settled */
};

/* What a step did, for its answer. */
struct tally {
	int64_t acted, connecting;  /* open connections acted on; still in SYN_SENT */
};

/* Settle what the kernel has finished; count what is still connecting. */
static uint32_t group_inflight(struct group *g)
{
	uint32_t n = 0;
	for (struct conn *c = g->head, *next; c; c = next) {
		next = c->next;
		conn_settle(c);
		n += c->state == CS_CONNECTING;
	}
	return n;
}

/* send, shutdown, close or abort on the connections of g made before id_end. */
static struct tally group_act(struct group *g, uint16_t op, int64_t bytes, uint32_t id_end)
{
	struct tally t = {0, 0};
	/* A listener that accepts on its own may have connections waiting in the kernel's
	 * queue that the loop has not accepted yet: take them in first. */
	if (g->kind == GK_LISTEN && g->accept_mode == ACC_AUTO && g->lfd >= 0)
		listener_accept(g, INT64_MAX);
	struct conn *c = g->head, *next;
	for (; c; c = next) {
		next = c->next;
		if (c->id >= id_end)
			continue;
		conn_settle(c);
		if (c->state != CS_OPEN) {
			/* Still in flight: close and abort end it (SYN_SENT just goes away);
			 * send and shutdown have nothing to act on yet. */
			t.connecting++;
			if (op == PROTO_OP_CLOSE || op == PROTO_OP_ABORT)
				conn_close(c, op == PROTO_OP_ABORT);
			continue;
		}
		switch (op) {
		case PROTO_OP_SEND:
			if (c->flags & (CF_SHUT | CF_SHUT_PENDING))
				continue;
			c->to_send += (uint64_t)bytes;
			t.acted++;
			if (conn_write(c))
				conn_update(c);
			break;
		case PROTO_OP_SHUTDOWN:
			/* SHUT_WR after what is queued; keep reading: the half-close */
			if (c->to_send || c->pend)
				c->flags |= CF_SHUT_PENDING;
			else
				conn_do_shutdown(c);
			t.acted++;
			conn_update(c);
			break;
		case PROTO_OP_CLOSE:
			t.acted++;
			conn_close(c, false);
			break;
		case PROTO_OP_ABORT:
			t.acted++;
			conn_close(c, true);
			break;
		}
	}
	return t;
}

/* "3 connections (waited 5.2 ms for 3 handshakes)", "1 connection (waited 2000.1 ms for 3
 * handshakes: 1 connected, 2 still connecting, abandoned in SYN_SENT)".  s is NULL for a step
 * that did not wait (wait-connect 0). */
static void step_note(char *b, size_t n, uint16_t op, const struct gstep *s, struct tally t)
{
	static const struct { int kind; const char *name; } how[] = {
		{EVK_CONNECTED, "connected"}, {EVK_REFUSED, "refused"}, {EVK_TIMEOUT, "timed out"},
		{EVK_RESET, "reset"}, {EVK_ERROR, "failed"}, {EVK_CLOSED, "closed"},
	};
	const char *rest = op == PROTO_OP_CLOSE || op == PROTO_OP_ABORT ? "abandoned in SYN_SENT"
									: "skipped";
	size_t off = str_appendf(b, n, 0, "%lld connection%s", (long long)t.acted,
				 t.acted == 1 ? "" : "s");
	if (!s) {
		str_appendf(b, n, off, " (wait-connect 0: %lld still connecting, %s)",
			    (long long)t.connecting, rest);
		return;
	}
	off = str_appendf(b, n, off, " (waited %.1f ms for %u handshake%s",
			  (double)(mono_ns() - s->t0_ns) / 1e6, s->inflight,
			  s->inflight == 1 ? "" : "s");
	if (s->ended[EVK_CONNECTED] != s->inflight) {
		const char *sep = ": ";
		for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
			if (!s->ended[how[i].kind])
				continue;
			off = str_appendf(b, n, off, "%s%u %s", sep, s->ended[how[i].kind], how[i].name);
			sep = ", ";
		}
		if (t.connecting)
			off = str_appendf(b, n, off, "%s%lld still connecting, %s", sep,
				  (long long)t.connecting, rest);
	}
	str_appendf(b, n, off, ")");
}

static void step_reply(struct agent *a, uint32_t tag, const char *note)
{
	if (note[0])
		agent_reply_note(a, tag, "%s", note);
	else
		agent_reply_ok(a, tag);
}

/* Act for the steps at the head of g's queue that are due, in order. */
static void group_steps_run(struct group *g)
{
	struct agent *a = g->a;
	while (g->steps && g->steps->due) {
		struct gstep *s = g->steps;
		g->steps = s->next;  /* out of the queue first: acting settles connections */
		ev_timer_stop(a->loop, &s->timer);
		uint32_t left = s->left;
		struct tally t = group_act(g, s->op, s->bytes, s->id_end);
		/* those that settled only now were connected (conn_settle finds only those) */
		if (left > (uint32_t)t.connecting)
			s->ended[EVK_CONNECTED] += left - (uint32_t)t.connecting;
		char note[PROTO_TEXT_MAX] = "";
		if (s->inflight && s->wait_ns)
			step_note(note, sizeof(note), s->op, s, t);
		else if (t.connecting)  /* wait-connect 0, queued behind an earlier step */
			step_note(note, sizeof(note), s->op, NULL, t);
		step_reply(a, s->tag, note);
		free(s);
	}
}

static void gstep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gstep *s = container_of(w, struct gstep, timer);
	(void)loop; (void)revents;
	s->due = true;
	group_steps_run(s->g);
}

void group_step_settled(struct conn *c, int kind)
{
	struct agent *a = c->g->a;
	if (kind < 0 || kind > EVK_ERROR)
		kind = EVK_ERROR;
	for (struct gstep *s = c->g->steps; s; s = s->next) {
		if (c->id >= s->id_end || !s->left)
			continue;
		s->left--;
		s->ended[kind]++;
		if (!s->left && !s->due) {
			/* act from the loop, not from inside the callback that settled c */
			ev_timer_stop(a->loop, &s->timer);
			ev_timer_set(&s->timer, 0, 0);
			ev_timer_start(a->loop, &s->timer);
		}
	}
}

void group_steps_free(struct group *g)
{
	while (g->steps) {
		struct gstep *s = g->steps;
		g->steps = s->next;
		ev_timer_stop(g->a->loop, &s->timer);
		free(s);
	}
}

/* send, shutdown, close, abort: at once when nothing is in flight, else queued. */
static void group_step(struct agent *a, struct group *g, const struct proto_msg *m)
{
	int64_t wait = (m->have & PA_BIT(PA_DURATION_NS)) ? m->duration_ns : CONNECT_WAIT_NS;
	uint32_t inflight = group_inflight(g);
	char note[PROTO_TEXT_MAX] = "";
	if (!g->steps && (!inflight || wait <= 0)) {
		struct tally t = group_act(g, m->op, m->bytes, UINT32_MAX);
		if (t.connecting)
			step_note(note, sizeof(note), m->op, NULL, t);
		step_reply(a, m->tag, note);
		return;
	}
	struct gstep *s = calloc(1, sizeof(*s));
	if (!s) {
		agent_reply_err(a, m->tag, ENOMEM, "out of memory");
		return;
	}
	s->g = g;
	s->op = m->op;
	s->tag = m->tag;
	s->bytes = m->bytes;
	s->id_end = a->next_conn;
	s->t0_ns = mono_ns();
	s->wait_ns = wait > 0 ? wait : 0;
	s->inflight = s->left = inflight;
	bool now = !inflight || !s->wait_ns;
	ev_timer_init(&s->timer, gstep_cb, now ? 0 : (double)s->wait_ns / 1e9, 0);
	ev_timer_start(a->loop, &s->timer);
	struct gstep **pp = &g->steps;
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
}

void group_op(struct agent *a, const struct proto_msg *m)
{
	struct group *g = group_find(a, m->group);
	if (!g || g->kind == GK_CYCLE) {
		agent_reply_err(a, m->tag, ENOENT, "no such group %s", m->group);
		return;
	}
	switch (m->op) {
	case PROTO_OP_UNLISTEN:
		if (g->kind != GK_LISTEN) {
			agent_reply_err(a, m->tag, EINVAL, "%s is not a listener's group",
					m->group);
			return;
		}
		if (g->lfd < 0) {
			agent_reply_err(a, m->tag, EBADF, "%s's listener is already closed", m->group);
			return;
		}
		/* close(): the kernel resets what waits in the accept queue and drops the
		 * request sockets; new SYNs are refused.  Accepted connections stay. */
		ev_io_stop(a->loop, &g->lio);
		ev_timer_stop(a->loop, &g->ltimer);
		close(g->lfd);
		g->lfd = -1;
		g->accept_credit = 0;
		agent_reply_ok(a, m->tag);
		return;
	case PROTO_OP_ACCEPT: {
		if (g->kind != GK_LISTEN) {
			agent_reply_err(a, m->tag, EINVAL, "%s is not a listener's group",
					m->group);
			return;
		}
		if (g->lfd < 0) {
			agent_reply_err(a, m->tag, EBADF, "%s's listener is closed (unlisten)",
					m->group);
			return;
		}
		int64_t count = (m->have & PA_BIT(PA_COUNT)) ? m->count : -1;
		if (count < 0) {
			listener_accept(g, INT64_MAX);  /* all that are pending now */
		} else if (g->accept_mode == ACC_MANUAL) {
			/* a credit: accept N as they arrive */
			g->accept_credit += count;
			g->accept_credit -= listener_accept(g, g->accept_credit);
			listener_update(g);
		} else {
			listener_accept(g, count);  /* up to N of those pending now */
		}
		agent_reply_ok(a, m->tag);
		return;
	}
	case PROTO_OP_SEND:
		if (m->bytes < 0) {
			agent_reply_err(a, m->tag, EINVAL, "negative size");
			return;
		}
		break;
	default:
		break;
	}
	group_step(a, g, m);
}

/* groupop: the requests that act on a group (agent.h): send, shutdown, close, abort,
 * accept, unlisten. */
#include "agent.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

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
	/* Likewise a listener that accepts on its own may have connections waiting in the
	 * kernel's queue that the loop has not accepted yet: take them in first. */
	if (g->kind == GK_LISTEN && g->accept_mode == ACC_AUTO && g->lfd >= 0)
		listener_accept(g, INT64_MAX);
	struct conn *c = g->head, *next;
	for (; c; c = next) {
		next = c->next;
		conn_settle(c);
		if (c->state != CS_OPEN) {
			/* Still in flight: close and abort end it (SYN_SENT just goes away);
			 * send and shutdown have nothing to act on yet. */
			if (m->op == PROTO_OP_CLOSE || m->op == PROTO_OP_ABORT)
				conn_close(c, m->op == PROTO_OP_ABORT);
			continue;
		}
		switch (m->op) {
		case PROTO_OP_SEND:
			if (c->flags & (CF_SHUT | CF_SHUT_PENDING))
				continue;
			c->to_send += (uint64_t)m->bytes;
			if (conn_write(c))
				conn_update(c);
			break;
		case PROTO_OP_SHUTDOWN:
			/* SHUT_WR after what is queued; keep reading: the half-close */
			if (c->to_send || c->pend)
				c->flags |= CF_SHUT_PENDING;
			else
				conn_do_shutdown(c);
			conn_update(c);
			break;
		case PROTO_OP_CLOSE:
			conn_close(c, false);
			break;
		case PROTO_OP_ABORT:
			conn_close(c, true);
			break;
		}
	}
	agent_reply_ok(a, m->tag);
}

/* labctl-agent: one per host namespace.  labctl starts it with the control socket (an
 * AF_UNIX SOCK_SEQPACKET socket) on fd 3; it exits when that socket closes.  This file owns
 * the control channel: it reads request frames, dispatches them to conn.c, and batches the
 * answers and events it sends back (see proto.h). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CTL_FD 3
#define OUT_BACKED_UP (4u << 20)
#define OUT_KEEP (256u << 10)

bool agent_backed_up(const struct agent *a)
{
	return a->out_len - a->out_off > OUT_BACKED_UP;
}

/* Send whole frames, up to PROTO_MAX_DGRAM per datagram.  Returns when everything went out
 * or the socket is full (then ctl_w waits for room). */
static void out_flush(struct agent *a)
{
	while (a->out_off < a->out_len) {
		size_t n = 0, flen;
		while (a->out_off + n < a->out_len) {
			/* our own frames: the length is trusted */
			proto_frame_len(a->out + a->out_off + n, a->out_len - a->out_off - n, &flen);
			if (n + flen > PROTO_MAX_DGRAM)
				break;
			n += flen;
		}
		ssize_t w = send(a->ctl, a->out + a->out_off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS) {
				if (!ev_is_active(&a->ctl_w))
					ev_io_start(a->loop, &a->ctl_w);
				return;
			}
			/* labctl is gone: nothing left to do */
			ev_break(a->loop, EVBREAK_ALL);
			a->out_off = a->out_len = 0;
			return;
		}
		a->out_off += n;
	}
	a->out_off = a->out_len = 0;
	if (a->out_cap > OUT_KEEP) {  /* a burst (100k connect events) should not stay in RSS */
		free(a->out);
		a->out = NULL;
		a->out_cap = 0;
	}
	if (ev_is_active(&a->ctl_w))
		ev_io_stop(a->loop, &a->ctl_w);
}

void agent_send(struct agent *a, const struct proto_msg *m)
{
	if (a->out_cap - a->out_len < PROTO_MAX_FRAME) {
		if (a->out_off > a->out_len / 2) {  /* reuse the sent front first */
			memmove(a->out, a->out + a->out_off, a->out_len - a->out_off);
			a->out_len -= a->out_off;
			a->out_off = 0;
		}
		if (a->out_cap - a->out_len < PROTO_MAX_FRAME) {
			size_t cap = a->out_cap ? a->out_cap * 2 : 1u << 16;
			uint8_t *p = realloc(a->out, cap);
			if (!p)
				return;  /* ENOMEM: the frame is lost, the agent goes on */
			a->out = p;
			a->out_cap = cap;
		}
	}
	int n = proto_encode(m, a->out + a->out_len, a->out_cap - a->out_len);
	if (n > 0)
		a->out_len += (size_t)n;
}

void agent_reply_ok(struct agent *a, uint32_t tag)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_OP_OK, tag);
	agent_send(a, &m);
}

void agent_reply_note(struct agent *a, uint32_t tag, const char *fmt, ...)
{
	struct proto_msg m;
	va_list ap;
	proto_msg_init(&m, PROTO_OP_OK, tag);
	va_start(ap, fmt);
	vsnprintf(m.msg, sizeof(m.msg), fmt, ap);
	va_end(ap);
	m.have |= PA_BIT(PA_MSG);
	agent_send(a, &m);
}

void agent_reply_err(struct agent *a, uint32_t tag, int err, const char *fmt, ...)
{
	struct proto_msg m;
	char text[PROTO_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	proto_msg_init(&m, PROTO_OP_ERROR, tag);
	proto_set_error(&m, err ? err : EINVAL, "%s", text);
	agent_send(a, &m);
}

static void dispatch(struct agent *a, const struct proto_msg *m)
{
	switch (m->op) {
	case PROTO_OP_LISTEN: conn_op_listen(a, m); break;
	case PROTO_OP_CONNECT: conn_op_connect(a, m); break;
	case PROTO_OP_CYCLE: conn_op_cycle(a, m); break;
	case PROTO_OP_SEND:
	case PROTO_OP_SHUTDOWN:
	case PROTO_OP_CLOSE:
	case PROTO_OP_ABORT:
	case PROTO_OP_ACCEPT:
	case PROTO_OP_UNLISTEN: group_op(a, m); break;
	case PROTO_OP_PING: agent_reply_ok(a, m->tag); break;
	case PROTO_OP_QUIT:
		agent_reply_ok(a, m->tag);
		a->quitting = true;
		ev_break(a->loop, EVBREAK_ALL);
		break;
	case PROTO_OP_FLOOD: flood_op(a, m); break;
	default:
		agent_reply_err(a, m->tag, EPROTO, "%s is not a request", proto_op_name(m->op));
		break;
	}
}

static void ctl_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct agent *a = container_of(w, struct agent, ctl_r);
	(void)loop; (void)revents;
	for (int round = 0; round < 64; round++) {
		struct iovec iov = {a->rbuf, a->rbuf_cap};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(a->ctl, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {  /* labctl closed the socket (or it broke): we are done */
			ev_break(a->loop, EVBREAK_ALL);
			return;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			agent_reply_err(a, 0, EMSGSIZE, "datagram larger than %zu bytes dropped",
					a->rbuf_cap);
			continue;
		}
		size_t off = 0, flen;
		while (off < (size_t)n) {
			struct proto_msg m;
			uint32_t tag = 0;
			if ((size_t)n - off >= PROTO_HDR_LEN)
				memcpy(&tag, a->rbuf + off + 8, 4);
			int rc = proto_frame_len(a->rbuf + off, (size_t)n - off, &flen);
			if (rc == 0)
				rc = proto_decode(a->rbuf + off, flen, &m);
			if (rc < 0) {
				/* the rest of the datagram cannot be trusted */
				agent_reply_err(a, tag, -rc, "malformed frame (%zu bytes at offset %zu)",
						(size_t)n - off, off);
				break;
			}
			dispatch(a, &m);
			if (a->quitting)
				return;
			off += flen;
		}
	}
}

static void ctl_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop; (void)revents;
	out_flush(container_of(w, struct agent, ctl_w));
}

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop; (void)revents;
	struct agent *a = container_of(w, struct agent, flush);
	if (a->out_len > a->out_off && !ev_is_active(&a->ctl_w))
		out_flush(a);
}

/* Thousands of sockets: take the highest descriptor limit we may (root may go up to
 * fs.nr_open, others to the hard limit). */
static void raise_nofile(void)
{
	struct rlimit rl;
	long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%ld", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (nr_open > 0 && (rlim_t)nr_open > rl.rlim_max) {
		struct rlimit up = {(rlim_t)nr_open, (rlim_t)nr_open};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void syserr_cb(const char *msg)
{
	/* libev cannot go on (epoll_ctl failed for lack of memory, say): say why and leave */
	fprintf(stderr, "labctl-agent: libev: %s: %s\n", msg, strerror(errno));
	_exit(3);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: labctl-agent [--host NAME]\n"
		   "Started by labctl with its control socket (AF_UNIX SOCK_SEQPACKET) on fd 3;\n"
		   "exits when that socket closes.  Not meant to be run by hand.\n");
}

int main(int argc, char **argv)
{
	struct agent a;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--host") && i + 1 < argc) {
			i++;  /* only for ps(1): the host this agent plays */
			continue;
		}
		usage(stderr);
		return 2;
	}
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt(CTL_FD, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_SEQPACKET) {
		fprintf(stderr, "labctl-agent: fd 3 is not the control socket (SOCK_SEQPACKET)\n");
		usage(stderr);
		return 2;
	}
	fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	ev_set_syserr_cb(syserr_cb);

	memset(&a, 0, sizeof(a));
	a.ctl = CTL_FD;
	a.next_conn = 1;
	a.rbuf_cap = PROTO_MAX_DGRAM;
	a.rbuf = malloc(a.rbuf_cap);
	a.loop = ev_loop_new(EVFLAG_AUTO);
	if (!a.rbuf || !a.loop) {
		fprintf(stderr, "labctl-agent: out of memory\n");
		return 3;
	}
	ev_io_init(&a.ctl_r, ctl_read_cb, a.ctl, EV_READ);
	ev_io_init(&a.ctl_w, ctl_write_cb, a.ctl, EV_WRITE);
	ev_prepare_init(&a.flush, flush_cb);
	ev_io_start(a.loop, &a.ctl_r);
	ev_prepare_start(a.loop, &a.flush);

	ev_run(a.loop, 0);

	if (a.quitting) {  /* the quit answer goes out before we leave */
		int fl = fcntl(a.ctl, F_GETFL);
		fcntl(a.ctl, F_SETFL, fl & ~O_NONBLOCK);
		while (a.out_len > a.out_off) {
			size_t flen;
			proto_frame_len(a.out + a.out_off, a.out_len - a.out_off, &flen);
			if (send(a.ctl, a.out + a.out_off, flen, MSG_NOSIGNAL) < 0)
				break;
			a.out_off += flen;
		}
	}
	conn_free_all(&a);
	flood_free_all(&a);
	ev_loop_destroy(a.loop);
	free(a.out);
	free(a.rbuf);
	close(a.ctl);
	return rc;
}

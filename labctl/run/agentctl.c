/* agentctl: start an agent in a namespace, send it steps, collect answers and events. */
#include "base/clock.h"
#include "base/paths.h"
#include "run/agentctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define CTL_FD 3
#define SEND_STALL_MS 5000   /* the agent never stops reading; a longer stall means it hangs */

struct answer {
	uint32_t tag;
	bool done;
	bool is_err;
	int err;
	int64_t count, elapsed_ns;
	char desc[64];                  /* "connect c": the request, for messages */
	char errname[PROTO_ERRNAME_MAX];
	char msg[PROTO_TEXT_MAX];
};

struct agentctl {
	struct ev_loop *loop;
	int fd;
	pid_t pid;
	bool reaped;
	int status;
	char host[LAB_NAME_MAX];
	agentctl_event_cb cb;
	void *arg;
	ev_io rio;
	uint32_t next_tag;
	struct answer *ans;             /* requests sent and not yet waited for */
	size_t nans, cap;
	uint8_t *rbuf;
	bool dead;                      /* the control socket closed */
	uint64_t bad_frames;            /* malformed frames from the agent (dropped) */
};

/* ---- answers ---- */

static struct answer *answer_find(struct agentctl *a, uint32_t tag)
{
	for (size_t i = 0; i < a->nans; i++)
		if (a->ans[i].tag == tag)
			return &a->ans[i];
	return NULL;
}

static struct answer *answer_add(struct agentctl *a, uint32_t tag, const char *desc)
{
	if (a->nans == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct answer *p = realloc(a->ans, cap * sizeof(*p));
		if (!p)
			return NULL;
		a->ans = p;
		a->cap = cap;
	}
	struct answer *an = &a->ans[a->nans++];
	memset(an, 0, sizeof(*an));
	an->tag = tag;
	snprintf(an->desc, sizeof(an->desc), "%s", desc);
	return an;
}

static void answer_drop(struct agentctl *a, struct answer *an)
{
	*an = a->ans[--a->nans];
}

/* ---- receiving ---- */

static void deliver_event(struct agentctl *a, const struct proto_msg *m)
{
	struct agent_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = m->ts_ns;
	ev.conn = m->conn;
	ev.kind = (enum lab_event_kind)(m->op - PROTO_OP_EV_BASE);
	ev.err = (m->have & PA_BIT(PA_ERRNO)) ? (int)m->err : 0;
	ev.aborted = !!(m->flags & PROTO_F_ABORT);
	ev.bytes = (m->have & PA_BIT(PA_BYTES)) ? m->bytes : 0;
	snprintf(ev.group, sizeof(ev.group), "%s", m->group);
	if (m->have & PA_BIT(PA_LOCAL))
		ev.local = m->local;
	if (m->have & PA_BIT(PA_PEER))
		ev.peer = m->peer;
	if (a->cb)
		a->cb(a->arg, &ev);
}

static void handle_frame(struct agentctl *a, const struct proto_msg *m)
{
	if (proto_is_event(m->op)) {
		deliver_event(a, m);
		return;
	}
	struct answer *an = answer_find(a, m->tag);
	if (!an || an->done)
		return;  /* not ours (a malformed-frame complaint with tag 0, say) */
	an->done = true;
	if (m->op == PROTO_OP_ERROR) {
		an->is_err = true;
		an->err = (int)m->err;
		snprintf(an->errname, sizeof(an->errname), "%s",
			 m->errname[0] ? m->errname : proto_errno_name((int)m->err));
		snprintf(an->msg, sizeof(an->msg), "%s", m->msg);
	} else {
		an->count = m->count;
		an->elapsed_ns = m->elapsed_ns;
		if (m->have & PA_BIT(PA_MSG))  /* a note for the step log (flood: how many) */
			snprintf(an->msg, sizeof(an->msg), "%s", m->msg);
	}
}

static void reap(struct agentctl *a, bool wait)
{
	if (a->reaped || a->pid <= 0)
		return;
	int st;
	pid_t r;
	do
		r = waitpid(a->pid, &st, wait ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == a->pid) {
		a->reaped = true;
		a->status = st;
	}
}

static void rio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct agentctl *a = (struct agentctl *)w->data;
	(void)loop; (void)revents;
	for (int round = 0; round < 64; round++) {
		struct iovec iov = {a->rbuf, PROTO_MAX_DGRAM};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(a->fd, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			a->dead = true;
			ev_io_stop(a->loop, &a->rio);
			reap(a, false);
			return;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			a->bad_frames++;
			continue;
		}
		size_t off = 0, flen;
		while (off < (size_t)n) {
			struct proto_msg m;
			if (proto_frame_len(a->rbuf + off, (size_t)n - off, &flen) < 0 ||
			    proto_decode(a->rbuf + off, flen, &m) < 0) {
				a->bad_frames++;  /* the rest of this datagram cannot be trusted */
				break;
			}
			handle_frame(a, &m);
			off += flen;
		}
	}
}

/* ---- starting ---- */

/* In the child, between fork and exec: only async-signal-safe calls.  A failure is written
 * to errfd as {stage, errno}. */
static void child_exec(int netns_fd, int ctl, int errfd, pid_t parent, const char *path,
		       char *const argv[])
{
	int rep[2] = {0, 0};
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* errfd and ctl must not be clobbered by the dup2 onto fd 3 */
	errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 10);
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		rep[0] = 1;
		goto fail;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		rep[0] = 2;
		goto fail;
	}
	/* labctl may have died before prctl: then nobody would ever kill us */
	if (getppid() != parent)
		_exit(0);
	if (ctl == CTL_FD) {
		if (fcntl(CTL_FD, F_SETFD, 0) < 0) {
			rep[0] = 3;
			goto fail;
		}
	} else if (dup2(ctl, CTL_FD) < 0) {  /* dup2 leaves CLOEXEC clear on fd 3 */
		rep[0] = 3;
		goto fail;
	}
	execv(path, argv);
	rep[0] = 4;
fail:
	rep[1] = errno;
	if (write(errfd, rep, sizeof(rep)) < 0)
		_exit(127);
	_exit(127);
}

int agentctl_start(struct ev_loop *loop, int netns_fd, const char *host_name,
		   agentctl_event_cb cb, void *arg, struct agentctl **out, struct lc_err *e)
{
	static const char *const stages[] = {"", "setns", "prctl(PR_SET_PDEATHSIG)",
					     "dup2 onto fd 3", "exec"};
	char path[PATH_MAX];
	int sv[2], ep[2], rc;
	struct agentctl *a;

	*out = NULL;
	/* found by labctl's own location (base/paths.h), never through a source tree */
	struct lc_err pe = {0};
	rc = paths_agent(path, sizeof(path), &pe);
	if (rc < 0)
		return err_set(e, rc, "agent for host %s: %s; set LABCTL_AGENT, or see `labctl "
			       "doctor`", host_name, pe.msg);
	a = calloc(1, sizeof(*a));
	if (!a)
		return err_set(e, -ENOMEM, "agent for host %s: out of memory", host_name);
	a->rbuf = malloc(PROTO_MAX_DGRAM);
	if (!a->rbuf) {
		rc = err_set(e, -ENOMEM, "agent for host %s: out of memory", host_name);
		goto free_a;
	}
	a->loop = loop;
	a->cb = cb;
	a->arg = arg;
	a->next_tag = 1;
	snprintf(a->host, sizeof(a->host), "%s", host_name);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = err_set(e, -errno, "agent for host %s: socketpair: %s", host_name,
			     strerror(errno));
		goto free_a;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		rc = err_set(e, -errno, "agent for host %s: pipe: %s", host_name, strerror(errno));
		goto close_sv;
	}
	char *argv[] = {(char *)"labctl-agent", (char *)"--host", a->host, NULL};
	pid_t parent = getpid();
	a->pid = fork();
	if (a->pid < 0) {
		rc = err_set(e, -errno, "agent for host %s: fork: %s", host_name, strerror(errno));
		goto close_ep;
	}
	if (a->pid == 0)
		child_exec(netns_fd, sv[1], ep[1], parent, path, argv);
	close(sv[1]);
	close(ep[1]);
	int rep[2];
	ssize_t n;
	do
		n = read(ep[0], rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(rep)) {
		reap(a, true);
		rc = err_set(e, -rep[1], "agent for host %s: %s %s: %s", host_name,
			     rep[0] >= 1 && rep[0] <= 4 ? stages[rep[0]] : "start", path,
			     strerror(rep[1]));
		close(sv[0]);
		goto free_rbuf;
	}
	a->fd = sv[0];
	fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&a->rio, rio_cb, a->fd, EV_READ);
	a->rio.data = a;
	ev_io_start(loop, &a->rio);
	*out = a;
	return 0;

close_ep:
	close(ep[0]);
	close(ep[1]);
close_sv:
	close(sv[0]);
	close(sv[1]);
free_rbuf:
free_a:
	free(a->rbuf);
	free(a);
	return rc;
}

/* ---- sending ---- */

static int send_frame(struct agentctl *a, struct proto_msg *m, const char *desc, uint32_t *tag,
		      struct lc_err *e)
{
	uint8_t buf[PROTO_MAX_FRAME];
	if (a->dead)
		return err_set(e, -EPIPE, "%s: the agent for host %s is gone", desc, a->host);
	m->tag = a->next_tag++;
	if (!m->tag)
		m->tag = a->next_tag++;
	int len = proto_encode(m, buf, sizeof(buf));
	if (len < 0)
		return err_set(e, len, "%s: cannot encode the request: %s", desc, strerror(-len));
	if (!answer_add(a, m->tag, desc))
		return err_set(e, -ENOMEM, "%s: out of memory", desc);
	for (;;) {
		ssize_t w = send(a->fd, buf, (size_t)len, MSG_NOSIGNAL);
		if (w == len)
			break;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			struct pollfd p = {a->fd, POLLOUT, 0};
			if (poll(&p, 1, SEND_STALL_MS) > 0)
				continue;
			errno = ETIMEDOUT;
		}
		int err = w < 0 ? errno : EIO;
		answer_drop(a, answer_find(a, m->tag));
		return err_set(e, -err, "%s: sending to the agent for host %s: %s", desc, a->host,
			       strerror(err));
	}
	*tag = m->tag;
	return 0;
}

static void lab_to_sockaddr(const struct lab_addr *la, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (la->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, la->bytes, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (la->family == AF_INET)
			memcpy(&s4->sin_addr, la->bytes, 4);
	}
}

/* A listen step's options (everything but the address). */
static void listen_opts(const struct lab_step *st, struct proto_msg *m)
{
	m->backlog = (uint32_t)(st->u.listen.backlog > 0 ? st->u.listen.backlog : 0);
	m->accept = st->u.listen.accept;
	m->after_ns = st->u.listen.accept_after_ns;
	m->on_eof = st->u.listen.on_eof;
	m->data = st->u.listen.data;
	m->have |= PA_BIT(PA_ADDR) | PA_BIT(PA_BACKLOG) | PA_BIT(PA_ACCEPT) |
		   PA_BIT(PA_AFTER_NS) | PA_BIT(PA_ON_EOF) | PA_BIT(PA_DATA);
	if (st->u.listen.group[0])
		proto_set_group(m, st->u.listen.group);
	if (st->u.listen.no_reuseaddr)
		m->flags |= PROTO_F_NO_REUSEADDR;
	if (st->u.listen.keepalive)
		m->flags |= PROTO_F_KEEPALIVE;
}

int agentctl_send_listen(struct agentctl *a, const struct lab_step *st, bool all_families,
			 uint32_t *tag, struct lc_err *e)
{
	struct proto_msg m;
	char desc[64];
	if (st->op != LAB_OP_LISTEN)
		return err_set(e, -EINVAL, "step %d is not a listen", (int)st->op);
	if (!all_families || st->u.listen.has_addr)
		return agentctl_send(a, st, NULL, tag, e);
	proto_msg_init(&m, PROTO_OP_LISTEN, 0);
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&m.addr;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(st->u.listen.port);
	s6->sin6_addr = in6addr_any;
	m.flags |= PROTO_F_ALL_FAMILIES;
	listen_opts(st, &m);
	snprintf(desc, sizeof(desc), "listen :%u", st->u.listen.port);
	return send_frame(a, &m, desc, tag, e);
}

int agentctl_send(struct agentctl *a, const struct lab_step *st,
		  const struct sockaddr_storage *target, uint32_t *tag, struct lc_err *e)
{
	struct proto_msg m;
	char desc[64];
	const char *group = st->u.group.group;

	switch (st->op) {
	case LAB_OP_LISTEN:
		proto_msg_init(&m, PROTO_OP_LISTEN, 0);
		if (target)
			m.addr = *target;
		else
			lab_to_sockaddr(&st->u.listen.addr, st->u.listen.port, &m.addr);
		listen_opts(st, &m);
		snprintf(desc, sizeof(desc), "listen :%u", st->u.listen.port);
		break;
	case LAB_OP_CONNECT:
		snprintf(desc, sizeof(desc), "connect %s", st->u.connect.group);
		if (!target)
			return err_set(e, -EINVAL, "%s: no target address", desc);
		proto_msg_init(&m, PROTO_OP_CONNECT, 0);
		m.addr = *target;
		proto_set_group(&m, st->u.connect.group[0] ? st->u.connect.group : "c");
		m.count = st->u.connect.count > 0 ? st->u.connect.count : 1;
		m.rate_milli = st->u.connect.rate > 0 ? (uint64_t)(st->u.connect.rate * 1000 + 0.5) : 0;
		m.have |= PA_BIT(PA_ADDR) | PA_BIT(PA_COUNT) | PA_BIT(PA_RATE_MILLI);
		if (st->u.connect.has_from) {
			lab_to_sockaddr(&st->u.connect.from, 0, &m.from);
			m.have |= PA_BIT(PA_FROM);
		}
		break;
	case LAB_OP_SEND:
	case LAB_OP_SHUTDOWN:
	case LAB_OP_CLOSE:
	case LAB_OP_ABORT:
	case LAB_OP_ACCEPT:
	case LAB_OP_UNLISTEN: {
		static const uint16_t ops[] = {
			[LAB_OP_SEND] = PROTO_OP_SEND, [LAB_OP_SHUTDOWN] = PROTO_OP_SHUTDOWN,
			[LAB_OP_CLOSE] = PROTO_OP_CLOSE, [LAB_OP_ABORT] = PROTO_OP_ABORT,
			[LAB_OP_ACCEPT] = PROTO_OP_ACCEPT, [LAB_OP_UNLISTEN] = PROTO_OP_UNLISTEN,
		};
		proto_msg_init(&m, ops[st->op], 0);
		snprintf(desc, sizeof(desc), "%s %s", proto_op_name(ops[st->op]), group);
		if (!group[0])
			return err_set(e, -EINVAL, "%s: no group", desc);
		proto_set_group(&m, group);
		if (st->op == LAB_OP_SEND) {
			m.bytes = st->u.group.bytes;
			m.have |= PA_BIT(PA_BYTES);
		}
		if (st->op != LAB_OP_ACCEPT && st->op != LAB_OP_UNLISTEN) {
			m.duration_ns = st->u.group.connect_wait_ns;
			m.have |= PA_BIT(PA_DURATION_NS);
		} else if (st->op == LAB_OP_ACCEPT) {
			m.count = st->u.group.count;
			m.have |= PA_BIT(PA_COUNT);
		}
		break;
	}
	case LAB_OP_FLOOD:
		return err_set(e, -EINVAL, "flood: use agentctl_send_flood (it needs the lab's "
			       "black-hole range)");
	default:
		return err_set(e, -EINVAL, "step %d is not an agent step", (int)st->op);
	}
	return send_frame(a, &m, desc, tag, e);
}

int agentctl_send_flood(struct agentctl *a, const struct lab_step *st,
			const struct sockaddr_storage *target, const struct lab_addr *blackhole,
			uint32_t *tag, struct lc_err *e)
{
	struct proto_msg m;
	if (st->op != LAB_OP_FLOOD)
		return err_set(e, -EINVAL, "step %d is not a flood", (int)st->op);
	if (!target)
		return err_set(e, -EINVAL, "flood: no target address");
	if (!blackhole || !blackhole->family || blackhole->prefixlen < 0)
		return err_set(e, -EINVAL, "flood: no black-hole range");
	proto_msg_init(&m, PROTO_OP_FLOOD, 0);
	m.addr = *target;
	m.rate_milli = (uint64_t)(st->u.flood.rate * 1000 + 0.5);
	m.duration_ns = st->u.flood.duration_ns;
	lab_to_sockaddr(blackhole, 0, &m.range);
	m.range_prefix = (uint32_t)blackhole->prefixlen;
	m.have |= PA_BIT(PA_ADDR) | PA_BIT(PA_RATE_MILLI) | PA_BIT(PA_DURATION_NS) |
		  PA_BIT(PA_RANGE) | PA_BIT(PA_RANGE_PREFIX);
	if (st->u.flood.has_from) {
		const struct lab_addr *f = &st->u.flood.from;
		lab_to_sockaddr(f, 0, &m.from);
		m.from_prefix = (uint32_t)(f->prefixlen >= 0 ? f->prefixlen
					   : f->family == AF_INET6 ? 128 : 32);
		m.have |= PA_BIT(PA_FROM) | PA_BIT(PA_FROM_PREFIX);
	}
	return send_frame(a, &m, "flood", tag, e);
}

int agentctl_send_cycle(struct agentctl *a, const struct sockaddr_storage *target,
			int64_t count, uint32_t concurrency, uint32_t *tag, struct lc_err *e)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_OP_CYCLE, 0);
	m.addr = *target;
	m.count = count;
	m.concurrency = concurrency;
	m.have |= PA_BIT(PA_ADDR) | PA_BIT(PA_COUNT) | PA_BIT(PA_CONCURRENCY);
	return send_frame(a, &m, "cycle", tag, e);
}

int agentctl_send_ping(struct agentctl *a, uint32_t *tag, struct lc_err *e)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_OP_PING, 0);
	return send_frame(a, &m, "ping", tag, e);
}

/* ---- waiting ---- */

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)w; (void)revents;
}

static int dead_err(struct agentctl *a, const char *desc, struct lc_err *e)
{
	reap(a, false);
	if (a->reaped && WIFEXITED(a->status))
		return err_set(e, -EPIPE, "%s: the agent for host %s exited with status %d", desc,
			       a->host, WEXITSTATUS(a->status));
	if (a->reaped && WIFSIGNALED(a->status))
		return err_set(e, -EPIPE, "%s: the agent for host %s was killed by signal %d", desc,
			       a->host, WTERMSIG(a->status));
	return err_set(e, -EPIPE, "%s: the agent for host %s closed its control socket", desc,
		       a->host);
}

static int wait_answer(struct agentctl *a, uint32_t tag, int64_t timeout_ns, struct answer *res,
		       struct lc_err *e)
{
	struct answer *an = answer_find(a, tag);
	if (!an)
		return err_set(e, -ENOENT, "no request with tag %u to the agent for host %s", tag,
			       a->host);
	int64_t deadline = mono_ns() + timeout_ns;
	ev_timer t;
	ev_timer_init(&t, wake_cb, timeout_ns > 0 ? (double)timeout_ns / 1e9 : 0, 0);
	ev_timer_start(a->loop, &t);
	while (!(an = answer_find(a, tag))->done && !a->dead && mono_ns() < deadline)
		ev_run(a->loop, EVRUN_ONCE);
	ev_timer_stop(a->loop, &t);
	an = answer_find(a, tag);
	*res = *an;
	if (!an->done) {
		if (a->dead)
			return dead_err(a, an->desc, e);
		return err_set(e, -ETIMEDOUT, "%s: no answer from the agent for host %s within %.3fs",
			       an->desc, a->host, (double)timeout_ns / 1e9);
	}
	answer_drop(a, an);
	if (res->is_err)
		return err_set(e, -res->err, "%s: %s: %s", res->desc, res->errname, res->msg);
	return 0;
}

int agentctl_wait(struct agentctl *a, uint32_t tag, int64_t timeout_ns, struct lc_err *e)
{
	struct answer res;
	return wait_answer(a, tag, timeout_ns, &res, e);
}

int agentctl_wait_cycle(struct agentctl *a, uint32_t tag, int64_t timeout_ns, int64_t *count,
			int64_t *elapsed_ns, struct lc_err *e)
{
	struct answer res;
	int rc = wait_answer(a, tag, timeout_ns, &res, e);
	if (rc == 0) {
		*count = res.count;
		*elapsed_ns = res.elapsed_ns;
	}
	return rc;
}

int agentctl_wait_result(struct agentctl *a, uint32_t tag, int64_t timeout_ns,
			 struct agentctl_result *out, struct lc_err *e)
{
	struct answer res;
	int rc = wait_answer(a, tag, timeout_ns, &res, e);
	memset(out, 0, sizeof(*out));
	if (rc == 0) {
		out->count = res.count;
		out->elapsed_ns = res.elapsed_ns;
		snprintf(out->detail, sizeof(out->detail), "%s", res.msg);
	}
	return rc;
}

pid_t agentctl_pid(const struct agentctl *a)
{
	return a->pid;
}

void agentctl_free(struct agentctl *a)
{
	if (!a)
		return;
	if (a->fd > 0) {
		ev_io_stop(a->loop, &a->rio);
		close(a->fd);
	}
	if (a->pid > 0 && !a->reaped) {
		kill(a->pid, SIGKILL);
		reap(a, true);
	}
	free(a->ans);
	free(a->rbuf);
	free(a);
}

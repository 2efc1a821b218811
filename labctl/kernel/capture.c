/* capture: see capture.h.  Parent and child talk over one socketpair: the child sends one
 * struct cap_msg when the handle is live (or failed), and one when it has drained and closed
 * the file; the parent sends one byte (or just closes its end) to ask it to stop. */
#include "kernel/capture.h"
#include "kernel/pcapdl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cap_msg {
	int code;             /* 0 or a negative errno */
	uint64_t packets;     /* written to the file (final message) */
	uint64_t dropped;     /* kernel drops reported by pcap_stats (final message) */
	char msg[LC_ERR_MAX];
};

struct capture {
	pid_t pid;
	int sock;             /* our end of the socketpair, -1 once stopped */
	uint64_t packets, dropped;
	char path[4096];
};

/* Packets still in flight inside the stack (veth receive runs in softirq, possibly on the
 * other CPU) reach the capture socket a moment after they were sent; wait this long for
 * stragglers after the ring looks empty. */
#define CAP_SETTLE_MS 20

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n, len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n, len -= (size_t)n;
	}
	return 0;
}

struct cap_sink {
	pcap_dumper_t *d;
	uint64_t n;
};

static void cap_write(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct cap_sink *s = (struct cap_sink *)user;
	sym_pcap_dump((u_char *)s->d, h, bytes);
	s->n++;
}

static int drain(pcap_t *p, struct cap_sink *s)
{
	for (;;) {
		int n = sym_pcap_dispatch(p, -1, cap_write, (u_char *)s);
		if (n < 0)
			return n;
		if (n == 0)
			return 0;
	}
}

static void child_fail(int sock, int code, const char *fmt, const char *a, const char *b)
{
	struct cap_msg m = {.code = code < 0 ? code : -EIO};
	snprintf(m.msg, sizeof(m.msg), fmt, a, b);
	(void)write_all(sock, &m, sizeof(m));
	_exit(1);
}

/* Drop every descriptor inherited from the parent except ours: a copy of an agent's control
 * socket or of another capture's pipe held here would hide the EOF its owner relies on. */
static void close_inherited(int keep1, int keep2)
{
	int a = keep1 < keep2 ? keep1 : keep2, b = keep1 < keep2 ? keep2 : keep1;
	unsigned from = 3;
	int keep[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		if (keep[i] < 3)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

/* The capture child: never returns. */
static void child_run(int sock, pid_t parent, int netns_fd, const char *ifname, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct cap_msg m = {0};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)  /* the parent died before prctl took effect */
		_exit(1);
	close_inherited(sock, netns_fd);
	/* The child exists only to capture in that namespace: it need not return. */
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
		child_fail(sock, -errno, "entering the namespace to capture on %s: %s", ifname,
			   strerror(errno));

	pcap_t *p = sym_pcap_create(ifname, errbuf);
	if (!p)
		child_fail(sock, -ENODEV, "capture on %s: %s", ifname, errbuf);
	sym_pcap_set_snaplen(p, CAPTURE_SNAPLEN);
	sym_pcap_set_promisc(p, 0);
	sym_pcap_set_immediate_mode(p, 1);
	sym_pcap_set_buffer_size(p, 8 << 20);
	/* Nanosecond stamps when the platform has them; microseconds otherwise. */
	(void)sym_pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	int rc = sym_pcap_activate(p);
	if (rc < 0) {
		const char *why = rc == PCAP_ERROR ? sym_pcap_geterr(p) : sym_pcap_statustostr(rc);
		int code = rc == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV
			   : rc == PCAP_ERROR_PERM_DENIED ? -EPERM : -EIO;
		child_fail(sock, code, "capture on %s: %s", ifname, why);
	}
	if (sym_pcap_setnonblock(p, 1, errbuf) < 0)
		child_fail(sock, -EIO, "capture on %s: %s", ifname, errbuf);
	pcap_dumper_t *d = sym_pcap_dump_open(p, path);
	if (!d)
		child_fail(sock, -EIO, "capture file %s: %s", path, sym_pcap_geterr(p));
	int pfd = sym_pcap_get_selectable_fd(p);
	if (pfd < 0)
		child_fail(sock, -EIO, "capture on %s: %s", ifname, "no selectable fd");

	if (write_all(sock, &m, sizeof(m)) < 0)
		_exit(1);

	struct cap_sink s = {.d = d};
	for (;;) {
		struct pollfd fds[2] = {{.fd = pfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
		int n = poll(fds, 2, 100);
		if (n < 0 && errno != EINTR)
			break;
		if (drain(p, &s) < 0) {
			m.code = -EIO;
			snprintf(m.msg, sizeof(m.msg), "capture on %s: %s", ifname, sym_pcap_geterr(p));
			break;
		}
		if (fds[1].revents)
			break;
	}
	/* Stop requested: whatever the kernel queued for us so far goes into the file. */
	struct timespec settle = {0, CAP_SETTLE_MS * 1000000L};
	nanosleep(&settle, NULL);
	if (!m.code)
		(void)drain(p, &s);
	struct pcap_stat st = {0};
	if (sym_pcap_stats(p, &st) == 0)
		m.dropped = st.ps_drop;
	if (sym_pcap_dump_flush(d) < 0 && !m.code) {
		m.code = -EIO;
		snprintf(m.msg, sizeof(m.msg), "capture file %s: write failed", path);
	}
	sym_pcap_dump_close(d);
	sym_pcap_close(p);
	m.packets = s.n;
	(void)write_all(sock, &m, sizeof(m));
	_exit(m.code ? 1 : 0);
}

int capture_start(int netns_fd, const char *ifname, const char *path, struct capture **out,
		  struct lc_err *e)
{
	int sv[2], rc;
	*out = NULL;
	if ((rc = pcapdl_load(e)) < 0)  /* here, so the child inherits it and a failure is ours */
		return rc;
	struct capture *c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, -ENOMEM, "capture on %s: out of memory", ifname);
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = err_set(e, -errno, "capture on %s: socketpair: %s", ifname, strerror(errno));
		goto free_c;
	}
	pid_t parent = getpid();
	fflush(NULL);  /* the child must not write our buffered output a second time */
	c->pid = fork();
	if (c->pid < 0) {
		rc = err_set(e, -errno, "capture on %s: fork: %s", ifname, strerror(errno));
		goto close_pair;
	}
	if (c->pid == 0) {
		close(sv[0]);
		child_run(sv[1], parent, netns_fd, ifname, path);
	}
	close(sv[1]);
	c->sock = sv[0];

	struct cap_msg m;
	rc = read_all(c->sock, &m, sizeof(m));
	if (rc < 0) {
		rc = err_set(e, rc, "capture on %s: the capture process died while starting", ifname);
		goto reap;
	}
	if (m.code) {
		m.msg[sizeof(m.msg) - 1] = '\0';
		rc = err_set(e, m.code, "%s", m.msg);
		goto reap;
	}
	*out = c;
	return 0;

reap:
	close(c->sock);
	waitpid(c->pid, NULL, 0);
	free(c);
	return rc;
close_pair:
	close(sv[0]);
	close(sv[1]);
free_c:
	free(c);
	return rc;
}

int capture_stop(struct capture *c, uint64_t *packets, struct lc_err *e)
{
	if (!c || c->sock < 0)
		return err_set(e, -EINVAL, "capture: not running");
	struct cap_msg m;
	char q = 'q';
	(void)write_all(c->sock, &q, 1);
	int rc = read_all(c->sock, &m, sizeof(m));
	close(c->sock);
	c->sock = -1;
	int status = 0;
	waitpid(c->pid, &status, 0);
	c->pid = 0;
	if (rc < 0)
		return err_set(e, rc, "capture %s: the capture process died (status %d)", c->path,
			       status);
	if (m.code) {
		m.msg[sizeof(m.msg) - 1] = '\0';
		return err_set(e, m.code, "%s", m.msg);
	}
	c->packets = m.packets;
	c->dropped = m.dropped;
	if (packets)
		*packets = m.packets;
	return 0;
}

uint64_t capture_dropped(const struct capture *c)
{
	return c ? c->dropped : 0;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	if (c->sock >= 0 && c->pid > 0) {
		/* Not stopped: the file would be incomplete anyway; end the child now. */
		kill(c->pid, SIGKILL);
		close(c->sock);
		waitpid(c->pid, NULL, 0);
	}
	free(c);
}

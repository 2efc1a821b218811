/* userlink: TAP devices and a seeded libev forwarder.  See userlink.h. */
#include "base/clock.h"
#include "engine/userlink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "engine/impair.h"
#include "engine/pktlink.h"
#include "kernel/netns.h"
#include "kernel/nlx.h"

#define UL_FRAME_MAX 65600   /* a TAP without vnet headers hands over at most MTU + 14 */
#define UL_BATCH 64          /* frames read per wakeup per device, for fairness */
/* The timerfd fires this much before a frame is due and the forwarder spins the rest:
 * waking from epoll costs tens of microseconds, which would be most of the error budget
 * (issue 5: median <= 50 us).  Spinning is bounded by this per due time. */
#define UL_SPIN_NS 40000
/* Real-time priority of the forwarder (SCHED_FIFO), when allowed: on a busy machine a
 * normal process waits for a CPU for up to a scheduler slice, milliseconds, which showed as
 * a 1 ms p99 delay error.  RT throttling still leaves the rest of the system 5% of each CPU
 * should a flood keep the forwarder busy. */
#define UL_RT_PRIO 10

struct ul_link {
	int fd[2];                     /* TAP in host a (side 0), in host b (side 1) */
	struct impair_dir dir[2];
	struct userlink_counters cnt[2];
	uint32_t qlen[2];              /* frames of this direction waiting in the heap */
	uint64_t seq[2];               /* frames read, for the fate log */
};

/* A frame waiting for its send time. */
struct ul_pend {
	int64_t at;
	uint64_t order;                /* ties keep arrival order */
	int link, dir;
	size_t len;
	uint8_t data[];
};

struct ul_fwd;

struct ul_watch {
	ev_io io;
	struct ul_fwd *fwd;
	int link, side;
	struct pktlink_ring ring;      /* pktlink: the socket's receive ring (map NULL: TAP) */
};

/* The forwarder's state (lives in the child). */
struct ul_fwd {
	struct userlink *ul;
	struct ev_loop *loop;
	struct ul_pend **heap;
	size_t nheap, capheap;
	uint64_t order;
	int tfd;
	int64_t armed;                 /* time the timerfd is set for, 0 when idle */
	/* Wake-up compensation: a frame is stamped when read, which is after the forwarder
	 * woke up for it.  The wake-up cost is measured on our own timer (how late a timerfd
	 * expiry is seen) and taken off the first frame read after sleeping. */
	int64_t wake_est;              /* EWMA of the timer wake-up lateness, ns */
	int64_t sleep_from;            /* when the loop last went to wait, 0 when awake */
	int64_t woke_at;
	int fresh_wake;                /* the next frame read is the one that woke us */
	ev_prepare prep;
	ev_check check;
	ev_io timer_io, ctl_io;
	struct ul_watch *watch;        /* 2 per link */
	FILE *fate;
	uint8_t buf[UL_FRAME_MAX];
};

struct userlink {
	const struct lab *lab;
	uint64_t seed;
	int nlinks;
	struct ul_link *links;
	int64_t *rule_left;            /* per lab rule: matches still to drop (-1: all) */
	struct impair_dist dist[LAB_DIST_PARETONORMAL + 1];
	int ctl;                       /* parent's end of the control pair, -1 before start */
	pid_t pid;
	int fate_fd;
	bool pkt;                      /* pktlink: veth ends and packet sockets, not TAPs */
	int wire_fd;                   /* pktlink: the wire namespace, until start() */
	struct nlx *wire_nl;
};

enum ul_op { UL_OP_IMPAIR = 1, UL_OP_COUNTERS = 2 };

struct ul_msg {
	uint32_t op;
	int32_t link, dir;
	struct lab_impair imp;
};

struct ul_reply {
	int32_t err;
	struct userlink_counters cnt[2];
};

void userlink_mac(int link, int side, uint8_t mac[6])
{
	/* Locally administered (02), "lc", then the link index and the side: stable across
	 * runs, so tests can pin neighbours and captures compare byte for byte. */
	mac[0] = 0x02;
	mac[1] = 0x6c;
	mac[2] = 0x63;
	mac[3] = (uint8_t)(link >> 8);
	mac[4] = (uint8_t)link;
	mac[5] = (uint8_t)(side + 1);
}

/* ---- the engine side (parent) ------------------------------------------------------------- */

static struct userlink *ul_of(struct engine *en)
{
	return en->priv;
}

static void ul_free(struct engine *en)
{
	struct userlink *ul = ul_of(en);
	if (!ul)
		return;
	if (ul->ctl >= 0)
		close(ul->ctl);
	if (ul->pid > 0) {
		/* Closing ctl asks the forwarder to leave; give it a moment, then insist. */
		for (int i = 0; i < 100; i++) {
			if (waitpid(ul->pid, NULL, WNOHANG) == ul->pid) {
				ul->pid = 0;
				break;
			}
			usleep(10000);
		}
		if (ul->pid > 0) {
			kill(ul->pid, SIGKILL);
			waitpid(ul->pid, NULL, 0);
		}
	}
	for (int i = 0; i < ul->nlinks; i++)
		for (int s = 0; s < 2; s++)
			if (ul->links[i].fd[s] >= 0)
				close(ul->links[i].fd[s]);
	for (size_t d = 0; d < sizeof(ul->dist) / sizeof(ul->dist[0]); d++)
		impair_dist_free(&ul->dist[d]);
	if (ul->fate_fd >= 0)
		close(ul->fate_fd);
	if (ul->wire_fd >= 0)
		close(ul->wire_fd);
	nlx_free(ul->wire_nl);
	free(ul->rule_left);
	free(ul->links);
	free(ul);
	en->priv = NULL;
}

/* Point direction d at its distribution table.  Every table was loaded at init (they are
 * small), so a live change to any distribution finds its table in the forwarder too: the
 * forwarder got its copy of them at fork. */
static void ul_dist_for(struct userlink *ul, struct impair_dir *d)
{
	enum lab_dist k = d->p.dist;
	if (!(d->p.set & IMP_DIST) || k <= LAB_DIST_UNIFORM || k > LAB_DIST_PARETONORMAL ||
	    !ul->dist[k].table)
		d->dist = NULL;
	else
		d->dist = &ul->dist[k];
}

int userlink_init(struct engine *en, struct lc_err *e)
{
	const struct lab *lab = en->lab;
	struct userlink *ul = calloc(1, sizeof(*ul));
	if (!ul)
		return err_set(e, -ENOMEM, "userlink: out of memory");
	ul->lab = lab;
	ul->seed = en->seed;
	ul->ctl = -1;
	ul->fate_fd = -1;
	ul->wire_fd = -1;
	ul->pkt = en->ops == &pktlink_ops;
	ul->nlinks = lab->nlinks;
	ul->links = calloc(lab->nlinks ? (size_t)lab->nlinks : 1, sizeof(*ul->links));
	ul->rule_left = calloc(lab->nrules ? (size_t)lab->nrules : 1, sizeof(*ul->rule_left));
	en->priv = ul;
	if (!ul->links || !ul->rule_left) {
		ul_free(en);
		return err_set(e, -ENOMEM, "userlink: out of memory");
	}
	for (int r = 0; r < lab->nrules; r++)
		ul->rule_left[r] = lab->rules[r].first;
	for (int k = LAB_DIST_NORMAL; k <= LAB_DIST_PARETONORMAL; k++) {
		int r = impair_dist_find((enum lab_dist)k, &ul->dist[k], NULL, 0);
		if (r < 0) {
			ul_free(en);
			return err_set(e, r, "userlink: loading delay distribution tables: %s",
				       strerror(-r));
		}
	}
	for (int i = 0; i < lab->nlinks; i++) {
		struct ul_link *l = &ul->links[i];
		l->fd[0] = l->fd[1] = -1;
		for (int d = 0; d < 2; d++) {
			impair_dir_init(&l->dir[d], &lab->links[i].dir[d], en->seed,
					impair_stream_id(i, d));
			ul_dist_for(ul, &l->dir[d]);
		}
	}
	return 0;
}

/* Open a non-persistent TAP named ifname inside netns_fd, with a stable MAC. */
static int tap_open(int netns_fd, const char *host, const char *ifname, const uint8_t mac[6],
		    int *out, struct lc_err *e)
{
	int saved, r, fd, sk = -1;
	r = netns_enter(netns_fd, &saved, e);
	if (r < 0)
		return err_prefix(e, "making TAP %s in host %s: ", ifname, host);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		netns_leave(&saved);
		return err_set(e, r, "making TAP %s in host %s: /dev/net/tun: %s%s", ifname, host,
			       strerror(-r), r == -ENOENT ? " (load the tun module: modprobe tun)" : "");
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		goto fail;
	}
	/* Set the MAC from inside the namespace: the TAP exists only here. */
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		r = -errno;
		goto fail;
	}
	memset(&ifr.ifr_hwaddr, 0, sizeof(ifr.ifr_hwaddr));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(sk, SIOCSIFHWADDR, &ifr) < 0) {
		r = -errno;
		goto fail;
	}
	close(sk);
	netns_leave(&saved);
	*out = fd;
	return 0;
fail:
	if (sk >= 0)
		close(sk);
	close(fd);
	netns_leave(&saved);
	return err_set(e, r, "making TAP %s in host %s: %s", ifname, host, strerror(-r));
}

/* pktlink: a veth pair per end, the lab's device in the host and its peer in the wire
 * namespace (engine/pktlink.h).  Ifindexes: 20000+ on the hosts as the veth engine gives
 * them, 30000+ in the wire, so no end shares its peer's (veth.h says why that matters). */
static int pkt_link_create(struct userlink *ul, int link, const struct engine_host *a,
			   const struct engine_host *b, struct lc_err *e)
{
	const struct lab_link *ll = &ul->lab->links[link];
	struct ul_link *l = &ul->links[link];
	int r;
	if (ul->wire_fd < 0 && (r = pktlink_wire_new(&ul->wire_fd, &ul->wire_nl, e)) < 0)
		return r;
	for (int side = 0; side < 2; side++) {
		uint8_t mac[6];
		userlink_mac(link, side, mac);
		r = pktlink_end_open(ul->wire_fd, ul->wire_nl, side ? b : a,
				     side ? ll->dev_b : ll->dev_a, mac, 20000 + 2 * link + side,
				     30000 + 2 * link + side, &l->fd[side], e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int ul_link_create(struct engine *en, int link, const struct engine_host *a,
			  const struct engine_host *b, struct lc_err *e)
{
	struct userlink *ul = ul_of(en);
	const struct lab_link *ll = &en->lab->links[link];
	struct ul_link *l = &ul->links[link];
	uint8_t mac[6];
	int r;
	if (ul->pid > 0)
		return err_set(e, -EBUSY, "userlink: links must be made before start()");
	if (ul->pkt)
		return pkt_link_create(ul, link, a, b, e);
	userlink_mac(link, 0, mac);
	r = tap_open(a->netns_fd, a->name, ll->dev_a, mac, &l->fd[0], e);
	if (r < 0)
		return r;
	userlink_mac(link, 1, mac);
	r = tap_open(b->netns_fd, b->name, ll->dev_b, mac, &l->fd[1], e);
	if (r < 0) {
		close(l->fd[0]);
		l->fd[0] = -1;
		return r;
	}
	return 0;
}

static void fwd_run(struct userlink *ul, int ctl, pid_t parent) __attribute__((noreturn));

static int ul_start(struct engine *en, struct lc_err *e)
{
	struct userlink *ul = ul_of(en);
	int sp[2];
	if (ul->pid > 0)
		return 0;
	for (int i = 0; i < ul->nlinks; i++)
		if (ul->links[i].fd[0] < 0 || ul->links[i].fd[1] < 0)
			return err_set(e, -EINVAL, "userlink: link %d was never created", i);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return err_set(e, -errno, "userlink: control socketpair: %s", strerror(errno));
	pid_t parent = getpid();
	/* Flush stdio so the child does not repeat buffered output. */
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(sp[0]);
		close(sp[1]);
		return err_set(e, r, "userlink: fork of the forwarder: %s", strerror(-r));
	}
	if (pid == 0) {
		close(sp[0]);
		fwd_run(ul, sp[1], parent);
	}
	close(sp[1]);
	ul->ctl = sp[0];
	ul->pid = pid;
	/* A forwarder that stopped answering must not hang the runner. */
	struct timeval tv = {.tv_sec = 2};
	setsockopt(ul->ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* The forwarder holds the TAPs now: a link lives exactly as long as its forwarder. */
	for (int i = 0; i < ul->nlinks; i++)
		for (int s = 0; s < 2; s++) {
			close(ul->links[i].fd[s]);
			ul->links[i].fd[s] = -1;
		}
	if (ul->fate_fd >= 0) {
		close(ul->fate_fd);
		ul->fate_fd = -1;
	}
	/* pktlink: the sockets hold the wire namespace now, and they live in the forwarder. */
	if (ul->wire_fd >= 0) {
		close(ul->wire_fd);
		ul->wire_fd = -1;
	}
	nlx_free(ul->wire_nl);
	ul->wire_nl = NULL;
	return 0;
}

static int ul_call(struct userlink *ul, const struct ul_msg *m, struct ul_reply *rep,
		   struct lc_err *e)
{
	if (send(ul->ctl, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return err_set(e, -EPIPE, "userlink: the forwarder (pid %d) is gone: %s",
			       (int)ul->pid, strerror(errno));
	ssize_t n;
	do
		n = recv(ul->ctl, rep, sizeof(*rep), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*rep))
		return err_set(e, -EPIPE, "userlink: no answer from the forwarder (pid %d)",
			       (int)ul->pid);
	if (rep->err)
		return err_set(e, rep->err, "userlink forwarder: %s", strerror(-rep->err));
	return 0;
}

static int ul_link_impair(struct engine *en, int link, int dir, const struct lab_impair *imp,
			  struct lc_err *e)
{
	struct userlink *ul = ul_of(en);
	if (link < 0 || link >= ul->nlinks || dir < 0 || dir > 1)
		return err_set(e, -EINVAL, "userlink: no link %d direction %d", link, dir);
	struct impair_dir *d = &ul->links[link].dir[dir];
	impair_dir_set(d, imp);
	ul_dist_for(ul, d);
	if (ul->pid <= 0)
		return 0;
	struct ul_msg m = {.op = UL_OP_IMPAIR, .link = link, .dir = dir, .imp = *imp};
	struct ul_reply rep;
	return ul_call(ul, &m, &rep, e);
}

int userlink_counters(struct engine *en, int link, struct userlink_counters out[2],
		      struct lc_err *e)
{
	struct userlink *ul = ul_of(en);
	if (link < 0 || link >= ul->nlinks)
		return err_set(e, -EINVAL, "userlink: no link %d", link);
	if (ul->pid <= 0) {
		memcpy(out, ul->links[link].cnt, 2 * sizeof(*out));
		return 0;
	}
	struct ul_msg m = {.op = UL_OP_COUNTERS, .link = link};
	struct ul_reply rep;
	int r = ul_call(ul, &m, &rep, e);
	if (r == 0)
		memcpy(out, rep.cnt, 2 * sizeof(*out));
	return r;
}

int userlink_set_fate_log(struct engine *en, int fd, struct lc_err *e)
{
	struct userlink *ul = ul_of(en);
	if (en->ops != &userlink_ops && en->ops != &pktlink_ops)
		return err_set(e, -EINVAL, "fate log: only the userlink engine has one");
	if (ul->pid > 0)
		return err_set(e, -EBUSY, "fate log: set it before start()");
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (d < 0)
		return err_set(e, -errno, "fate log: %s", strerror(errno));
	if (ul->fate_fd >= 0)
		close(ul->fate_fd);
	ul->fate_fd = d;
	return 0;
}

static int ul_wire_point(struct engine *en, int link, int *netns_fd, char *ifname, size_t len)
{
	(void)en; (void)link; (void)netns_fd; (void)ifname; (void)len;
	return -ENOTSUP;
}

static int ul_link_stats(struct engine *en, int link, struct engine_dir_stats st[2],
			 struct lc_err *e)
{
	struct userlink_counters c[2];
	int r = userlink_counters(en, link, c, e);
	if (r < 0)
		return r;
	for (int d = 0; d < 2; d++)
		st[d] = (struct engine_dir_stats){
			.delivered = c[d].out,
			.dropped = c[d].lost + c[d].overlimit + c[d].ruled,
			.split = true,
			.lost = c[d].lost,
			.overlimit = c[d].overlimit,
			.ruled = c[d].ruled,
		};
	return 0;
}

const struct engine_ops userlink_ops = {
	.name = "userlink",
	.link_create = ul_link_create,
	.start = ul_start,
	.link_impair = ul_link_impair,
	.wire_point = ul_wire_point,
	.link_stats = ul_link_stats,
	.free = ul_free,
};

/* The same forwarder, its frames through packet sockets (engine/pktlink.h). */
const struct engine_ops pktlink_ops = {
	.name = "pktlink",
	.link_create = ul_link_create,
	.start = ul_start,
	.link_impair = ul_link_impair,
	.wire_point = ul_wire_point,
	.link_stats = ul_link_stats,
	.free = ul_free,
};

/* ---- the forwarder (child) ---------------------------------------------------------------- */

static int pend_before(const struct ul_pend *x, const struct ul_pend *y)
{
	return x->at < y->at || (x->at == y->at && x->order < y->order);
}

static int heap_push(struct ul_fwd *f, struct ul_pend *p)
{
	if (f->nheap == f->capheap) {
		size_t cap = f->capheap ? 2 * f->capheap : 1024;
		struct ul_pend **h = realloc(f->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		f->heap = h;
		f->capheap = cap;
	}
	size_t i = f->nheap++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!pend_before(p, f->heap[up]))
			break;
		f->heap[i] = f->heap[up];
		i = up;
	}
	f->heap[i] = p;
	return 0;
}

static struct ul_pend *heap_pop(struct ul_fwd *f)
{
	struct ul_pend *top = f->heap[0], *last = f->heap[--f->nheap];
	size_t i = 0, n = f->nheap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && pend_before(f->heap[c + 1], f->heap[c]))
			c++;
		if (!pend_before(f->heap[c], last))
			break;
		f->heap[i] = f->heap[c];
		i = c;
	}
	if (n)
		f->heap[i] = last;
	return top;
}

static void fwd_arm(struct ul_fwd *f)
{
	int64_t at = f->nheap ? f->heap[0]->at - UL_SPIN_NS : 0;
	if (f->nheap && at <= 0)
		at = 1;
	if (at == f->armed)
		return;
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (at) {
		its.it_value.tv_sec = at / 1000000000LL;
		its.it_value.tv_nsec = at % 1000000000LL;
	}
	timerfd_settime(f->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	f->armed = at;
}

static void fwd_write(struct ul_fwd *f, int link, int dir, const uint8_t *data, size_t len)
{
	struct ul_link *l = &f->ul->links[link];
	/* Direction 0 (a->b) leaves through b's TAP (side 1). */
	if (write(l->fd[dir ? 0 : 1], data, len) == (ssize_t)len)
		l->cnt[dir].out++;
	else
		l->cnt[dir].write_errors++;
}

static void fwd_flush_due(struct ul_fwd *f, int spin)
{
	int64_t now = mono_ns();
	/* Woken early on purpose (UL_SPIN_NS): wait out the last stretch on the CPU. */
	if (spin && f->nheap && f->heap[0]->at > now && f->heap[0]->at - now <= UL_SPIN_NS)
		while ((now = mono_ns()) < f->heap[0]->at)
			;
	while (f->nheap && f->heap[0]->at <= now) {
		struct ul_pend *p = heap_pop(f);
		f->ul->links[p->link].qlen[p->dir]--;
		fwd_write(f, p->link, p->dir, p->data, p->len);
		free(p);
		if (!f->nheap || f->heap[0]->at > now)
			now = mono_ns();
	}
	fwd_arm(f);
}

static void fate(struct ul_fwd *f, int link, int dir, uint64_t idx, const char *what,
		 int64_t delay)
{
	if (f->fate)
		fprintf(f->fate, "%d %d %llu %s %lld\n", link, dir, (unsigned long long)idx, what,
			(long long)delay);
}

/* Scripted rules see the frame before the impairments, as the lab file reads. */
static int fwd_ruled(struct ul_fwd *f, int link, int dir, const uint8_t *data, size_t len)
{
	const struct lab *lab = f->ul->lab;
	int flags = -2;
	for (int r = 0; r < lab->nrules; r++) {
		const struct lab_rule *rule = &lab->rules[r];
		if (rule->link != link || rule->dir != dir || f->ul->rule_left[r] == 0)
			continue;
		if (flags == -2)
			flags = impair_tcp_flags(data, len);
		if (rule->action == LAB_RULE_DROP && impair_rule_match(rule, flags)) {
			if (f->ul->rule_left[r] > 0)
				f->ul->rule_left[r]--;
			return 1;
		}
	}
	return 0;
}

/* When did the frame just read arrive?  Now, unless it is the one that woke us. */
static int64_t fwd_arrival(struct ul_fwd *f)
{
	int64_t now = mono_ns();
	if (!f->fresh_wake)
		return now;
	f->fresh_wake = 0;
	int64_t t = f->woke_at - f->wake_est;
	return t > f->sleep_from ? t : f->sleep_from;
}

/* One frame read at `now` (its arrival time: fwd_arrival, or the kernel's stamp). */
static void fwd_frame(struct ul_fwd *f, int link, int dir, const uint8_t *data, size_t len,
		      int64_t now)
{
	struct ul_link *l = &f->ul->links[link];
	struct userlink_counters *c = &l->cnt[dir];
	uint64_t idx = l->seq[dir]++;
	c->in++;
	if (fwd_ruled(f, link, dir, data, len)) {
		c->ruled++;
		fate(f, link, dir, idx, "rule", 0);
		return;
	}
	struct impair_verdict v;
	impair_decide(&l->dir[dir], now, len, l->qlen[dir], &v);
	if (v.fate != IMPAIR_SEND) {
		if (v.fate == IMPAIR_LOSS)
			c->lost++;
		else
			c->overlimit++;
		fate(f, link, dir, idx, v.fate == IMPAIR_LOSS ? "loss" : "limit", 0);
		return;
	}
	if (v.ncopies > 1)
		c->duplicated++;
	for (int k = 0; k < v.ncopies; k++) {
		struct impair_copy *cp = &v.copy[k];
		fate(f, link, dir, idx, k ? "dup" : "send", cp->send_ns - now);
		if (cp->reordered)
			c->reordered++;
		if (cp->send_ns <= now && cp->corrupt_byte < 0) {
			fwd_write(f, link, dir, data, len);
			continue;
		}
		struct ul_pend *p = malloc(sizeof(*p) + len);
		if (!p) {
			c->overlimit++;
			continue;
		}
		p->at = cp->send_ns;
		p->order = f->order++;
		p->link = link;
		p->dir = dir;
		p->len = len;
		memcpy(p->data, data, len);
		if (cp->corrupt_byte >= 0) {
			p->data[cp->corrupt_byte] ^= (uint8_t)(1u << cp->corrupt_bit);
			c->corrupted++;
		}
		if (cp->send_ns <= now) {
			fwd_write(f, link, dir, p->data, p->len);
			free(p);
			continue;
		}
		if (heap_push(f, p) < 0) {
			free(p);
			c->overlimit++;
			continue;
		}
		l->qlen[dir]++;
	}
}

/* pktlink: frames straight from the socket's ring, each with the kernel's receive stamp
 * (when the host's frame reached the wire end), so no wake-up guess is needed. */
static void fwd_read_ring(struct ul_fwd *f, struct ul_watch *uw)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t now = mono_ns();
	int64_t real_minus_mono = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - now;
	f->fresh_wake = 0;
	for (int i = 0; i < UL_BATCH; i++) {
		size_t len;
		int64_t stamp;
		int truncated;
		const uint8_t *p = pktlink_ring_next(&uw->ring, &len, &stamp, &truncated);
		if (!p)
			break;
		int64_t at = stamp - real_minus_mono;
		if (at > now || at < now - 1000000000)
			at = now;   /* a clock step: trust our own */
		if (truncated) {
			struct ul_link *l = &f->ul->links[uw->link];
			l->cnt[uw->side].in++;
			l->cnt[uw->side].overlimit++;
		} else {
			fwd_frame(f, uw->link, uw->side, p, len, at);
		}
		pktlink_ring_release(&uw->ring);
	}
}

static void fwd_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ul_watch *uw = (struct ul_watch *)w;
	struct ul_fwd *f = uw->fwd;
	(void)loop; (void)revents;
	int fd = f->ul->links[uw->link].fd[uw->side];
	if (uw->ring.map) {
		fwd_read_ring(f, uw);
		fwd_flush_due(f, 0);
		return;
	}
	for (int i = 0; i < UL_BATCH; i++) {
		ssize_t n = read(fd, f->buf, sizeof(f->buf));
		if (n <= 0)
			break;
		/* A frame read from side 0 (host a's TAP) travels a->b: direction 0. */
		fwd_frame(f, uw->link, uw->side, f->buf, (size_t)n, fwd_arrival(f));
	}
	fwd_flush_due(f, 0);
}

static void fwd_timer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ul_fwd *f = (struct ul_fwd *)((char *)w - offsetof(struct ul_fwd, timer_io));
	uint64_t ticks;
	(void)loop; (void)revents;
	if (read(f->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (f->armed > 0 && f->fresh_wake) {
		int64_t late = f->woke_at - f->armed;
		if (late >= 0 && late < 1000000)
			f->wake_est += (late - f->wake_est) / 8;
	}
	f->fresh_wake = 0;
	f->armed = 0;
	fwd_flush_due(f, 1);
}

static void fwd_ctl_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ul_fwd *f = (struct ul_fwd *)((char *)w - offsetof(struct ul_fwd, ctl_io));
	struct ul_msg m;
	struct ul_reply rep;
	(void)revents;
	ssize_t n = recv(w->fd, &m, sizeof(m), 0);
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		ev_break(loop, EVBREAK_ALL);   /* the engine is gone: so are we */
		return;
	}
	if (n < 0)
		return;
	memset(&rep, 0, sizeof(rep));
	if (n != (ssize_t)sizeof(m) || m.link < 0 || m.link >= f->ul->nlinks) {
		rep.err = -EINVAL;
	} else if (m.op == UL_OP_IMPAIR && (m.dir == 0 || m.dir == 1)) {
		struct impair_dir *d = &f->ul->links[m.link].dir[m.dir];
		impair_dir_set(d, &m.imp);
		ul_dist_for(f->ul, d);
	} else if (m.op == UL_OP_COUNTERS) {
		memcpy(rep.cnt, f->ul->links[m.link].cnt, sizeof(rep.cnt));
	} else {
		rep.err = -EINVAL;
	}
	send(w->fd, &rep, sizeof(rep), MSG_NOSIGNAL);
}

static void fwd_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ul_fwd *f = (struct ul_fwd *)((char *)w - offsetof(struct ul_fwd, prep));
	(void)loop; (void)revents;
	f->sleep_from = mono_ns();
}

static void fwd_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct ul_fwd *f = (struct ul_fwd *)((char *)w - offsetof(struct ul_fwd, check));
	(void)loop; (void)revents;
	f->woke_at = mono_ns();
	/* Only a real sleep has a wake-up to compensate. */
	f->fresh_wake = f->woke_at - f->sleep_from > 2 * f->wake_est + 5000;
}

static void fwd_counters_out(struct ul_fwd *f)
{
	if (!f->fate)
		return;
	for (int i = 0; i < f->ul->nlinks; i++)
		for (int d = 0; d < 2; d++) {
			const struct userlink_counters *c = &f->ul->links[i].cnt[d];
			fprintf(f->fate, "# counters link %d dir %d in %llu out %llu lost %llu "
				"overlimit %llu ruled %llu duplicated %llu corrupted %llu "
				"reordered %llu write_errors %llu\n", i, d,
				(unsigned long long)c->in, (unsigned long long)c->out,
				(unsigned long long)c->lost, (unsigned long long)c->overlimit,
				(unsigned long long)c->ruled, (unsigned long long)c->duplicated,
				(unsigned long long)c->corrupted, (unsigned long long)c->reordered,
				(unsigned long long)c->write_errors);
		}
}

static int int_cmp(const void *x, const void *y)
{
	return *(const int *)x - *(const int *)y;
}

/* Close every inherited fd but ours: the forwarder must not keep the runner's namespaces,
 * netlink sockets or pipes (a reaper's pipe, an agent's control socket) open behind its back. */
static void fwd_close_others(struct userlink *ul, int ctl)
{
	int n = 0, *keep = malloc(((size_t)ul->nlinks * 2 + 2) * sizeof(int));
	if (!keep)
		return;
	for (int i = 0; i < ul->nlinks; i++)
		for (int s = 0; s < 2; s++)
			keep[n++] = ul->links[i].fd[s];
	keep[n++] = ctl;
	if (ul->fate_fd >= 0)
		keep[n++] = ul->fate_fd;
	qsort(keep, (size_t)n, sizeof(int), int_cmp);
	unsigned lo = 3;
	for (int i = 0; i < n; i++) {
		if (keep[i] < 3)
			continue;
		if ((unsigned)keep[i] > lo)
			close_range(lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
	free(keep);
}

static void fwd_run(struct userlink *ul, int ctl, pid_t parent)
{
	/* Die with the engine's process, even by SIGKILL; and if it died before prctl took
	 * effect, notice now. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	/* The default 50 us timer slack would be most of our delay error budget. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	struct sched_param sp = {.sched_priority = UL_RT_PRIO};
	sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);   /* best effort */
	signal(SIGPIPE, SIG_IGN);
	fwd_close_others(ul, ctl);

	struct ul_fwd *f = calloc(1, sizeof(*f));
	if (!f)
		_exit(1);
	f->ul = ul;
	f->loop = ev_loop_new(EVFLAG_AUTO);
	f->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	f->watch = calloc((size_t)ul->nlinks * 2 + 1, sizeof(*f->watch));
	if (!f->loop || f->tfd < 0 || !f->watch)
		_exit(1);
	if (ul->fate_fd >= 0) {
		f->fate = fdopen(ul->fate_fd, "w");
		if (f->fate)
			setvbuf(f->fate, NULL, _IOFBF, 1 << 16);
	}
	for (int i = 0; i < ul->nlinks; i++)
		for (int s = 0; s < 2; s++) {
			struct ul_watch *w = &f->watch[2 * i + s];
			w->fwd = f;
			w->link = i;
			w->side = s;
			if (ul->pkt && pktlink_ring_map(ul->links[i].fd[s], &w->ring) < 0)
				_exit(1);
			ev_io_init(&w->io, fwd_read_cb, ul->links[i].fd[s], EV_READ);
			ev_io_start(f->loop, &w->io);
		}
	ev_io_init(&f->timer_io, fwd_timer_cb, f->tfd, EV_READ);
	ev_io_start(f->loop, &f->timer_io);
	ev_io_init(&f->ctl_io, fwd_ctl_cb, ctl, EV_READ);
	ev_io_start(f->loop, &f->ctl_io);
	ev_prepare_init(&f->prep, fwd_prepare_cb);
	ev_prepare_start(f->loop, &f->prep);
	ev_check_init(&f->check, fwd_check_cb);
	ev_check_start(f->loop, &f->check);
	ev_run(f->loop, 0);
	fwd_counters_out(f);
	if (f->fate)
		fflush(f->fate);
	/* _exit: the parent's atexit handlers (and its leak checker) are not ours to run. */
	_exit(0);
}

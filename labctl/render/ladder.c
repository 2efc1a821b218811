/* ladder: see ladder.h.  Reading (pcap -> struct lpkt), building (sort, pair the sightings of
 * one packet at two capture points, connections, analysis marks) and the public API; the
 * renderers draw from what this file builds (ladder_int.h: ladder_view.c, what every renderer
 * shows; ladder_text.c, ASCII and the list; ladder_svg.c). */
#include "render/ladder_int.h"
#include "kernel/pcapdl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* SLL's packet type of a packet the capturing host sent. */
#define SLL_OUTGOING 4


/* ---- small helpers ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*arr, nc * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = nc;
	return 0;
}

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void ep_format(char *buf, size_t n, uint8_t family, const uint8_t *addr, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, a, sizeof(a));
	if (family == AF_INET6)
		snprintf(buf, n, "[%s]:%u", a, port);
	else
		snprintf(buf, n, "%s:%u", a, port);
}

/* ---- reading ---- */

int ladder_new(struct ladder **out, struct lc_err *e)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return err_set(e, -ENOMEM, "ladder: out of memory");
	return 0;
}

static void conns_clear(struct ladder *l)
{
	for (size_t i = 0; i < l->nc; i++)
		free(l->c[i].pk);
	l->nc = 0;
}

void ladder_free(struct ladder *l)
{
	if (!l)
		return;
	conns_clear(l);
	free(l->c);
	free(l->p);
	free(l->s);
	free(l);
}

static void tcp_options(struct lpkt *k, const uint8_t *o, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t kind = o[i];
		if (kind == 0)
			return;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			return;
		if (kind == 8 && o[i + 1] == 10) {
			k->tsval = rd32(o + i + 2);
			k->has_ts = 1;
		}
		i += o[i + 1];
	}
}

/* TCP header at t (avail captured bytes), l4len = bytes of TCP header + payload on the wire. */
static int parse_tcp(struct lpkt *k, const uint8_t *t, size_t avail, uint32_t l4len)
{
	if (avail < 20)
		return 0;
	unsigned doff = (t[12] >> 4) * 4u;
	if (doff < 20 || doff > l4len)
		return 0;
	k->sport = rd16(t);
	k->dport = rd16(t + 2);
	k->seq = rd32(t + 4);
	k->ack = rd32(t + 8);
	k->flags = t[13];
	k->win = rd16(t + 14);
	k->len = l4len - doff;
	if (avail > 20)
		tcp_options(k, t + 20, (avail < doff ? avail : doff) - 20);
	return 1;
}

static int parse_ip(struct lpkt *k, const uint8_t *d, size_t caplen, uint32_t wirelen)
{
	if (caplen < 1)
		return 0;
	unsigned v = d[0] >> 4;
	if (v == 4) {
		if (caplen < 20)
			return 0;
		unsigned ihl = (d[0] & 0x0f) * 4u;
		if (ihl < 20 || caplen < ihl || d[9] != IPPROTO_TCP)
			return 0;
		if (rd16(d + 6) & 0x1fff)  /* a non-first fragment has no TCP header */
			return 0;
		uint32_t tot = rd16(d + 2);
		if (tot == 0)              /* TSO super-packet seen at the sender */
			tot = wirelen;
		if (tot < ihl)
			return 0;
		k->family = AF_INET;
		k->ipid = rd16(d + 4);
		memcpy(k->src, d + 12, 4);
		memcpy(k->dst, d + 16, 4);
		return parse_tcp(k, d + ihl, caplen - ihl, tot - ihl);
	}
	if (v == 6) {
		if (caplen < 40)
			return 0;
		uint32_t plen = rd16(d + 4);
		if (plen == 0)  /* jumbogram or TSO */
			plen = wirelen > 40 ? wirelen - 40 : 0;
		uint8_t nh = d[6];
		size_t off = 40;
		k->family = AF_INET6;
		memcpy(k->src, d + 8, 16);
		memcpy(k->dst, d + 24, 16);
		for (int hops = 0; nh != IPPROTO_TCP && hops < 8; hops++) {
			if (off + 8 > caplen)
				return 0;
			size_t hl;
			if (nh == 0 || nh == 43 || nh == 60)
				hl = (d[off + 1] + 1u) * 8;
			else if (nh == 44) {
				if (rd16(d + off + 2) & 0xfff8)
					return 0;
				hl = 8;
			} else if (nh == 51)
				hl = (d[off + 1] + 2u) * 4;
			else
				return 0;
			nh = d[off];
			off += hl;
		}
		if (nh != IPPROTO_TCP || off > caplen || off - 40 > plen)
			return 0;
		return parse_tcp(k, d + off, caplen - off, plen - (uint32_t)(off - 40));
	}
	return 0;
}

/* Strip the link layer: returns the offset of the IP header or -1. */
static long link_strip(int dlt, const uint8_t *d, size_t caplen, struct lpkt *k)
{
	switch (dlt) {
	case DLT_EN10MB: {
		size_t off = 12;
		if (caplen < 14)
			return -1;
		uint16_t et = rd16(d + off);
		while ((et == 0x8100 || et == 0x88a8) && caplen >= off + 6) {
			off += 4;
			et = rd16(d + off);
		}
		return et == 0x0800 || et == 0x86dd ? (long)off + 2 : -1;
	}
	case DLT_LINUX_SLL: {
		if (caplen < 16)
			return -1;
		k->pkttype = (uint8_t)(rd16(d) + 1);  /* +1: 0 means unknown */
		uint16_t et = rd16(d + 14);
		return et == 0x0800 || et == 0x86dd ? 16 : -1;
	}
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2: {
		if (caplen < 20)
			return -1;
		k->ifindex = rd32(d + 4);
		k->pkttype = (uint8_t)(d[10] + 1);
		uint16_t et = rd16(d);
		return et == 0x0800 || et == 0x86dd ? 20 : -1;
	}
#endif
	case DLT_NULL:
	case DLT_LOOP:
		/* The BSD loopback header: an address family, host or network order. */
		return caplen >= 4 ? 4 : -1;
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		return 0;
	default:
		return -1;
	}
}

static bool dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_NULL: case DLT_LOOP: case DLT_RAW:
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
#endif
#ifdef DLT_IPV4
	case DLT_IPV4: case DLT_IPV6:
#endif
		return true;
	}
	return false;
}

int ladder_add_pcap(struct ladder *l, const char *path, struct lc_err *e)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int rc = pcapdl_load(e);
	if (rc < 0)
		return rc;
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	pcap_t *p = sym_pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		fclose(f);
		return err_set(e, -EINVAL, "%s: not a capture file libpcap can read: %s", path, errbuf);
	}
	int dlt = sym_pcap_datalink(p);
	if (!dlt_supported(dlt)) {
		const char *name = sym_pcap_datalink_val_to_name(dlt);
		rc = err_set(e, -EINVAL,
			     "%s: link type %s (%d) is not supported (Ethernet, Linux cooked SLL/SLL2, "
			     "raw IP, BSD loopback are)", path, name ? name : "?", dlt);
		goto close_pcap;
	}
	uint16_t file = l->nfiles++;
	size_t nread = 0;
	for (;;) {
		struct pcap_pkthdr *h;
		const u_char *d;
		int r = sym_pcap_next_ex(p, &h, &d);
		if (r == PCAP_ERROR_BREAK)
			break;
		if (r < 0) {
			const char *why = sym_pcap_geterr(p);
			/* libpcap reads a pcapng file only when all its interfaces share one link
			 * type (mergecap of an Ethernet and a cooked capture does not). */
			bool mixed = strstr(why, "different from the type") != NULL;
			rc = err_set(e, -EINVAL, "%s: %s after %zu records: %s%s", path,
				     mixed ? "unreadable" : "corrupt or truncated", nread, why,
				     mixed ? " (give the original files to labctl ladder instead of a merged one)" : "");
			goto close_pcap;
		}
		nread++;
		struct lpkt k = {0};
		long off = link_strip(dlt, d, h->caplen, &k);
		if (off < 0 || (uint32_t)off > h->caplen || h->len < (uint32_t)off)
			continue;
		if (!parse_ip(&k, d + off, h->caplen - (size_t)off, h->len - (uint32_t)off))
			continue;
		k.ts = (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec;  /* nano precision */
		k.file = file;
		k.rec = (uint32_t)nread;
		k.rx_ts = -1;
		k.conn = NO_CONN;
		if (grow((void **)&l->p, &l->pcap_, l->np + 1, sizeof(*l->p)) < 0) {
			rc = err_set(e, -ENOMEM, "%s: out of memory after %zu packets", path, l->np);
			goto close_pcap;
		}
		k.order = (uint32_t)l->np;
		l->p[l->np++] = k;
	}
close_pcap:
	sym_pcap_close(p);  /* closes f too */
	return rc;
}

static int sa_split(const struct sockaddr_storage *ss, uint8_t *family, uint8_t *addr, uint16_t *port)
{
	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		*family = AF_INET;
		memcpy(addr, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		*port = ntohs(s->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {  /* a dual-stack socket's IPv4 peer */
			*family = AF_INET;
			memcpy(addr, s->sin6_addr.s6_addr + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(addr, &s->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

int ladder_add_state_conn(struct ladder *l, int64_t realtime_ns,
			  const struct sockaddr_storage *endpoint,
			  const struct sockaddr_storage *peer, const char *state)
{
	struct lstate s = {.ts = realtime_ns};
	if (!endpoint || !state || sa_split(endpoint, &s.family, s.addr, &s.port) < 0)
		return -EINVAL;
	if (peer) {
		if (sa_split(peer, &s.pfamily, s.paddr, &s.pport) < 0)
			return -EINVAL;
		s.has_peer = true;
	}
	snprintf(s.name, sizeof(s.name), "%s", state);
	if (grow((void **)&l->s, &l->scap, l->ns + 1, sizeof(*l->s)) < 0)
		return -ENOMEM;
	l->s[l->ns++] = s;
	return 0;
}

int ladder_add_state(struct ladder *l, int64_t realtime_ns, const struct sockaddr_storage *endpoint,
		     const char *state)
{
	return ladder_add_state_conn(l, realtime_ns, endpoint, NULL, state);
}

/* ---- building ---- */

static int cmp_time(const void *a, const void *b)
{
	const struct lpkt *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* splitmix64's finaliser: every input bit reaches the low bits the tables index with (a plain
 * boost-style combine left ports, which differ only in high bits, colliding). */
static uint64_t mix(uint64_t h, uint64_t v)
{
	uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t pkt_hash(const struct lpkt *k)
{
	uint64_t h = k->family;
	for (size_t i = 0; i < alen(k->family); i++)
		h = mix(h, (uint64_t)k->src[i] << 8 | k->dst[i]);
	h = mix(h, (uint64_t)k->sport << 16 | k->dport);
	h = mix(h, (uint64_t)k->seq << 32 | k->ack);
	h = mix(h, (uint64_t)k->flags << 48 | (uint64_t)k->win << 32 | k->len);
	h = mix(h, (uint64_t)k->ipid << 32 | k->tsval);
	return h;
}

static bool same_packet(const struct lpkt *a, const struct lpkt *b)
{
	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       a->seq == b->seq && a->ack == b->ack && a->flags == b->flags && a->win == b->win &&
	       a->len == b->len && a->ipid == b->ipid && a->has_ts == b->has_ts &&
	       a->tsval == b->tsval && !memcmp(a->src, b->src, alen(a->family)) &&
	       !memcmp(a->dst, b->dst, alen(a->family));
}

/* Two sightings come from different capture points: different files, different interfaces,
 * or (SLL without interface index) one outgoing and one incoming. */
static bool other_point(const struct lpkt *a, const struct lpkt *b)
{
	if (a->file != b->file)
		return true;
	if (a->ifindex && b->ifindex)
		return a->ifindex != b->ifindex;
	if (a->pkttype && b->pkttype)
		return (a->pkttype == SLL_OUTGOING + 1) != (b->pkttype == SLL_OUTGOING + 1);
	return false;
}

struct hidx {
	uint64_t h;
	uint32_t i;
};

static int cmp_hidx(const void *a, const void *b)
{
	const struct hidx *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;  /* index order is time order */
}

/* Mark the second sighting of each packet as a copy of the first (conn stays NO_CONN for the
 * copy; the first gets rx_ts). */
static int pair_copies(struct ladder *l, bool *copy)
{
	struct hidx *hx = malloc(l->np * sizeof(*hx) + 1);
	if (!hx)
		return -ENOMEM;
	for (size_t i = 0; i < l->np; i++)
		hx[i] = (struct hidx){pkt_hash(&l->p[i]), (uint32_t)i};
	qsort(hx, l->np, sizeof(*hx), cmp_hidx);
	for (size_t g = 0; g < l->np;) {
		size_t end = g;
		while (end < l->np && hx[end].h == hx[g].h)
			end++;
		for (size_t a = g; a < end; a++) {
			struct lpkt *pa = &l->p[hx[a].i];
			if (copy[hx[a].i] || pa->rx_ts >= 0)
				continue;
			for (size_t b = a + 1; b < end; b++) {
				struct lpkt *pb = &l->p[hx[b].i];
				if (pb->ts - pa->ts > LADDER_PAIR_WINDOW_NS)
					break;
				if (copy[hx[b].i] || pb->rx_ts >= 0 || !same_packet(pa, pb) ||
				    !other_point(pa, pb))
					continue;
				copy[hx[b].i] = true;
				pa->rx_ts = pb->ts;
				pa->rx = hx[b].i;
				break;
			}
		}
		g = end;
	}
	free(hx);
	return 0;
}

/* Connection lookup: open addressing on the canonical 4-tuple, value = newest connection. */
struct ctab {
	uint32_t *slot;  /* conn index + 1, 0 empty */
	size_t mask;
};

static void tuple_of(const struct lpkt *k, bool flip, const uint8_t **a, uint16_t *pa,
		     const uint8_t **b, uint16_t *pb)
{
	*a = flip ? k->dst : k->src;
	*pa = flip ? k->dport : k->sport;
	*b = flip ? k->src : k->dst;
	*pb = flip ? k->sport : k->dport;
}

/* Canonical order: the smaller (address, port) first. */
static bool tuple_flip(const struct lpkt *k)
{
	int c = memcmp(k->src, k->dst, alen(k->family));
	return c > 0 || (c == 0 && k->sport > k->dport);
}

static uint64_t tuple_hash(const struct lpkt *k)
{
	const uint8_t *a, *b;
	uint16_t pa, pb;
	tuple_of(k, tuple_flip(k), &a, &pa, &b, &pb);
	uint64_t h = k->family;
	for (size_t i = 0; i < alen(k->family); i++)
		h = mix(h, (uint64_t)a[i] << 8 | b[i]);
	return mix(h, (uint64_t)pa << 16 | pb);
}

static bool conn_has(const struct lconn *c, const struct lpkt *k)
{
	size_t n = alen(k->family);
	if (c->family != k->family)
		return false;
	return (c->port[0] == k->sport && c->port[1] == k->dport && !memcmp(c->addr[0], k->src, n) &&
		!memcmp(c->addr[1], k->dst, n)) ||
	       (c->port[1] == k->sport && c->port[0] == k->dport && !memcmp(c->addr[1], k->src, n) &&
		!memcmp(c->addr[0], k->dst, n));
}

static uint32_t *ctab_find(struct ctab *t, const struct ladder *l, const struct lpkt *k)
{
	size_t i = tuple_hash(k) & t->mask;
	while (t->slot[i] && !conn_has(&l->c[t->slot[i] - 1], k))
		i = (i + 1) & t->mask;
	return &t->slot[i];
}

static int conn_push(struct lconn *c, uint32_t idx)
{
	if (grow((void **)&c->pk, &c->cap, c->n + 1, sizeof(*c->pk)) < 0)
		return -ENOMEM;
	c->pk[c->n++] = idx;
	return 0;
}

/* The documented subset of Wireshark's tcp analysis (packet-tcp.c, tcp_analyze_sequence_number):
 * keep-alive, retransmission (fast when it answers two or more duplicate ACKs), duplicate ACK;
 * and the window marks: zero window (a segment advertising window 0), zero window probe (one
 * byte at the next sequence number while the peer's window is 0) and window update (an empty
 * segment that only changes the window).  Wireshark tests them in this order and a probe or an
 * update is nothing else; a zero window can come with any other mark. */
static void conn_analyse(struct lconn *c, struct lpkt *k)
{
	int d = k->dir, r = 1 - d;
	bool syn = k->flags & TF_SYN, fin = k->flags & TF_FIN, rst = k->flags & TF_RST;
	bool ack = k->flags & TF_ACK;
	uint32_t seglen = k->len + syn + fin;

	if (!c->base_set[d]) {
		c->base[d] = syn ? k->seq : k->seq - 1;  /* as Wireshark: first data byte is 1 */
		c->base_set[d] = true;
	}
	if (ack && !c->base_set[r]) {
		c->base[r] = k->ack - 1;
		c->base_set[r] = true;
	}

	k->mark = LM_NONE;
	k->wmark = 0;
	bool ctl = k->flags & (TF_SYN | TF_FIN | TF_RST);
	if (k->win == 0 && !ctl)
		k->wmark |= WM_ZERO_WINDOW;
	if (seglen == 1 && c->next_set[d] && k->seq == c->next_seq[d] && c->ack_set[r] &&
	    c->last_win[r] == 0) {
		k->wmark |= WM_ZERO_WINDOW_PROBE;
	} else if (c->next_set[d] && seglen <= 1 && !ctl && k->seq == c->next_seq[d] - 1) {
		k->mark = LM_KEEPALIVE;
	} else if (seglen == 0 && !ctl && k->win != 0 && c->ack_set[d] && c->next_set[d] &&
		   k->win != c->last_win[d] && k->seq == c->next_seq[d] && k->ack == c->last_ack[d]) {
		k->wmark |= WM_WINDOW_UPDATE;
	} else if (c->next_set[d] && seglen > 0 && seq_lt(k->seq, c->next_seq[d])) {
		k->mark = c->dupcnt[r] >= 2 && c->ack_set[r] && k->seq == c->last_ack[r]
				  ? LM_FAST_RETRANS : LM_RETRANS;
	} else if (seglen == 0 && !rst && ack && c->ack_set[d] && c->next_set[d] && k->win != 0 &&
		   k->win == c->last_win[d] && k->ack == c->last_ack[d] && k->seq == c->next_seq[d]) {
		k->mark = LM_DUPACK;
		k->dupn = (uint16_t)(++c->dupcnt[d] > 0xffff ? 0xffff : c->dupcnt[d]);
	}
	if (ack && c->ack_set[d] && k->ack != c->last_ack[d])
		c->dupcnt[d] = 0;

	uint32_t end = k->seq + seglen;
	/* a probe's byte is not taken by a closed window: it does not move the next expected
	 * sequence number (Wireshark's rule too), so the byte sent again later is no
	 * retransmission */
	if (k->wmark & WM_ZERO_WINDOW_PROBE)
		end = k->seq;
	if (!c->next_set[d] || seq_gt(end, c->next_seq[d]))
		c->next_seq[d] = end;
	c->next_set[d] = true;
	if (ack) {
		c->last_ack[d] = k->ack;
		c->last_win[d] = k->win;
		c->ack_set[d] = true;
	}
	if (fin)
		c->fin[d] = true;
	if (rst)
		c->rst = true;
	if (syn && !ack && d == 0) {
		c->syn_seen = true;
		c->syn_isn = k->seq;
	}
}

int ladder_build(struct ladder *l, struct lc_err *e)
{
	int rc = 0;
	conns_clear(l);
	qsort(l->p, l->np, sizeof(*l->p), cmp_time);
	for (size_t i = 0; i < l->np; i++) {
		l->p[i].frame = (uint32_t)i + 1;
		l->p[i].conn = NO_CONN;
		l->p[i].rx_ts = -1;
		l->p[i].mark = LM_NONE;
		l->p[i].wmark = 0;
		l->p[i].dupn = 0;
	}
	l->t0 = l->np ? l->p[0].ts : 0;

	bool *copy = calloc(l->np + 1, sizeof(*copy));
	if (!copy)
		return err_set(e, -ENOMEM, "ladder: out of memory");
	if (pair_copies(l, copy) < 0) {
		rc = err_set(e, -ENOMEM, "ladder: out of memory");
		goto free_copy;
	}

	struct ctab t = {0};
	size_t sz = 1024;
	while (sz < l->np * 2)
		sz *= 2;
	t.slot = calloc(sz, sizeof(*t.slot));
	t.mask = sz - 1;
	if (!t.slot) {
		rc = err_set(e, -ENOMEM, "ladder: out of memory");
		goto free_copy;
	}
	for (size_t i = 0; i < l->np; i++) {
		if (copy[i])
			continue;
		struct lpkt *k = &l->p[i];
		uint32_t *slot = ctab_find(&t, l, k);
		bool pure_syn = (k->flags & (TF_SYN | TF_ACK)) == TF_SYN;
		struct lconn *c = *slot ? &l->c[*slot - 1] : NULL;
		if (c && pure_syn &&
		    (c->rst || c->fin[0] || c->fin[1] || (c->syn_seen && k->seq != c->syn_isn)))
			c = NULL;  /* the tuple is reused: a new connection */
		if (!c) {
			if (grow((void **)&l->c, &l->ccap, l->nc + 1, sizeof(*l->c)) < 0) {
				rc = err_set(e, -ENOMEM, "ladder: out of memory");
				goto free_tab;
			}
			uint32_t ci = (uint32_t)l->nc++;
			if (*slot)
				l->c[*slot - 1].next_same = ci;
			c = &l->c[ci];
			memset(c, 0, sizeof(*c));
			c->next_same = NO_CONN;
			c->family = k->family;
			/* Left is who sent the SYN; a capture that starts at the SYN+ACK still
			 * knows who the client was. */
			bool synack = (k->flags & (TF_SYN | TF_ACK)) == (TF_SYN | TF_ACK);
			memcpy(c->addr[0], synack ? k->dst : k->src, 16);
			memcpy(c->addr[1], synack ? k->src : k->dst, 16);
			c->port[0] = synack ? k->dport : k->sport;
			c->port[1] = synack ? k->sport : k->dport;
			*slot = ci + 1;
		}
		uint32_t ci = (uint32_t)(c - l->c);
		k->conn = ci;
		k->dir = !(k->sport == c->port[0] && !memcmp(k->src, c->addr[0], alen(k->family)));
		if (conn_push(c, (uint32_t)i) < 0) {
			rc = err_set(e, -ENOMEM, "ladder: out of memory");
			goto free_tab;
		}
		conn_analyse(c, k);
	}
free_tab:
	free(t.slot);
free_copy:
	free(copy);
	return rc;
}

size_t ladder_conn_count(const struct ladder *l) { return l->nc; }
size_t ladder_packet_count(const struct ladder *l) { return l->np; }
int64_t ladder_first_ns(const struct ladder *l) { return l->t0; }

static const char *conn_end(const struct lconn *c)
{
	if (c->rst)
		return "reset";
	if (c->fin[0] && c->fin[1])
		return "closed";
	if (c->fin[0] || c->fin[1])
		return "half-closed";
	return "open";
}

int ladder_conn_info(const struct ladder *l, unsigned id, struct ladder_conn_info *out)
{
	if (id < 1 || id > l->nc)
		return -ENOENT;
	const struct lconn *c = &l->c[id - 1];
	memset(out, 0, sizeof(*out));
	out->id = id;
	ep_format(out->left, sizeof(out->left), c->family, c->addr[0], c->port[0]);
	ep_format(out->right, sizeof(out->right), c->family, c->addr[1], c->port[1]);
	out->left_port = c->port[0];
	out->right_port = c->port[1];
	out->packets = c->n;
	out->first_ns = c->n ? l->p[c->pk[0]].ts : 0;
	out->last_ns = c->n ? l->p[c->pk[c->n - 1]].ts : 0;
	for (size_t i = 0; i < c->n; i++)
		if (l->p[c->pk[i]].rx_ts > out->last_ns)
			out->last_ns = l->p[c->pk[i]].rx_ts;
	out->end = conn_end(c);
	return 0;
}

/* ---- analysis the renderers share ---- */

/* When both ends are captured, a packet whose copy never showed up at the receiver, although
 * a later packet in the same direction did, was lost on the way (a drop rule, random loss, a
 * full queue): the ladder must not draw it as delivered.  last_rx[dir] is the send time of
 * the last packet in that direction that was seen arriving (-1: none, e.g. one end only). */
void ladder_conn_last_rx(const struct ladder *l, const struct lconn *c, int64_t last_rx[2])
{
	last_rx[0] = last_rx[1] = -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct lpkt *k = &l->p[c->pk[i]];
		if (k->rx_ts >= 0 && k->dir < 2 && k->ts > last_rx[k->dir])
			last_rx[k->dir] = k->ts;
	}
}

bool ladder_pkt_lost(const struct lpkt *k, const int64_t last_rx[2])
{
	return k->rx_ts < 0 && k->dir < 2 && k->ts < last_rx[k->dir];
}


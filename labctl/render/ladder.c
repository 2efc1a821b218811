/* ladder: see ladder.h.  Reading (pcap -> struct lpkt), building (sort, pair, connections,
 * analysis) and the three renderers. */
#include "render/ladder.h"
#include "kernel/pcapdl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* TCP flag bits as on the wire (byte 13 of the header). */
enum { TF_FIN = 0x01, TF_SYN = 0x02, TF_RST = 0x04, TF_PSH = 0x08, TF_ACK = 0x10, TF_URG = 0x20,
       TF_ECE = 0x40, TF_CWR = 0x80 };

/* Analysis marks. */
enum { LM_NONE, LM_RETRANS, LM_FAST_RETRANS, LM_DUPACK, LM_KEEPALIVE };
/* window marks (lpkt.wmark), alongside the one above: Wireshark's names */
enum { WM_ZERO_WINDOW = 1, WM_ZERO_WINDOW_PROBE = 2, WM_WINDOW_UPDATE = 4 };

#define NO_CONN UINT32_MAX
#define SLL_OUTGOING 4

struct lpkt {
	int64_t ts;           /* ns, realtime */
	int64_t rx_ts;        /* when the paired copy was seen, or -1 */
	uint32_t order;       /* input order, for a stable merge */
	uint32_t frame;       /* 1-based position in the merged input */
	uint32_t rec;         /* 1-based record number in its file (Wireshark's frame number) */
	uint32_t rx;          /* index of the paired copy (valid when rx_ts >= 0) */
	uint32_t conn;        /* connection index, NO_CONN for a paired copy */
	uint32_t seq, ack, tsval, len;
	uint32_t ifindex;     /* SLL2 interface index, 0 unknown */
	uint16_t sport, dport, win, ipid, file, dupn;
	uint8_t family, flags, has_ts, pkttype, dir, mark, wmark;
	uint8_t src[16], dst[16];
};

struct lconn {
	uint8_t family;
	uint8_t addr[2][16];  /* [0] left, [1] right */
	uint16_t port[2];
	uint32_t *pk;         /* packet indexes, time order */
	size_t n, cap;
	uint32_t base[2], next_seq[2], last_ack[2], dupcnt[2], syn_isn;
	uint16_t last_win[2];
	bool base_set[2], next_set[2], ack_set[2], fin[2], rst, syn_seen;
	uint32_t next_same;   /* next connection on the same tuple, NO_CONN if none */
};

struct lstate {
	int64_t ts;
	uint8_t family, pfamily;
	uint8_t addr[16], paddr[16];
	uint16_t port, pport;
	bool has_peer;
	char name[32];
};

struct ladder {
	struct lpkt *p;
	size_t np, pcap_;
	struct lconn *c;
	size_t nc, ccap;
	struct lstate *s;
	size_t ns, scap;
	uint16_t nfiles;
	int64_t t0;           /* first packet's timestamp */
};

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

static size_t alen(uint8_t family) { return family == AF_INET ? 4 : 16; }

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

/* ---- rendering: shared ---- */

enum ev_kind { EV_SEND, EV_RECV, EV_STATE };

struct ev {
	int64_t ts;
	uint32_t idx;   /* packet index, or state index */
	uint8_t kind;
	uint8_t side;   /* state: 0 left, 1 right */
	uint32_t seq;   /* tie-break: insertion order */
};

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool state_side(const struct lconn *c, const struct lstate *s, int *side)
{
	size_t n = alen(c->family);
	for (int i = 0; i < 2; i++) {
		if (s->family != c->family || s->port != c->port[i] || memcmp(s->addr, c->addr[i], n))
			continue;
		if (s->has_peer && (s->pfamily != c->family || s->pport != c->port[1 - i] ||
				    memcmp(s->paddr, c->addr[1 - i], n)))
			continue;
		*side = i;
		return true;
	}
	return false;
}

/* State marks indexed by port, so drawing 10,000 connections does not compare every mark with
 * every connection: a pinned mark (with its peer) is filed under both of its ports and found
 * through the connection's left (client) port; an unpinned one under its own port, found
 * through either of the connection's ports. */
struct sidx {
	uint16_t port;
	uint32_t i;
};

struct sindex {
	struct sidx *v;
	size_t n;
};

static int cmp_sidx(const void *a, const void *b)
{
	const struct sidx *x = a, *y = b;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int sindex_build(const struct ladder *l, struct sindex *si)
{
	si->n = 0;
	si->v = malloc((l->ns * 2 + 1) * sizeof(*si->v));
	if (!si->v)
		return -ENOMEM;
	for (size_t i = 0; i < l->ns; i++) {
		const struct lstate *s = &l->s[i];
		si->v[si->n++] = (struct sidx){s->port, (uint32_t)i};
		if (s->has_peer && s->pport != s->port)
			si->v[si->n++] = (struct sidx){s->pport, (uint32_t)i};
	}
	qsort(si->v, si->n, sizeof(*si->v), cmp_sidx);
	return 0;
}

static size_t sindex_lower(const struct sindex *si, uint16_t port)
{
	size_t lo = 0, hi = si->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (si->v[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The events of one connection in time order (caller frees). */
static int conn_events(const struct ladder *l, const struct sindex *si, uint32_t ci,
		       struct ev **out, size_t *nout)
{
	const struct lconn *c = &l->c[ci];
	size_t n = 0, cap = c->n * 2 + 8;
	struct ev *v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		const struct lpkt *k = &l->p[c->pk[i]];
		v[n] = (struct ev){k->ts, c->pk[i], EV_SEND, 0, (uint32_t)n};
		n++;
		if (k->rx_ts >= 0) {
			v[n] = (struct ev){k->rx_ts, c->pk[i], EV_RECV, 0, (uint32_t)n};
			n++;
		}
	}
	int64_t first = c->n ? l->p[c->pk[0]].ts : 0, last = c->n ? l->p[c->pk[c->n - 1]].ts : 0;
	int64_t until = c->next_same != NO_CONN ? l->p[l->c[c->next_same].pk[0]].ts : INT64_MAX;
	for (int pass = 0; pass < 2; pass++) {
		uint16_t port = c->port[pass];
		if (pass == 1 && port == c->port[0])
			break;
		for (size_t j = sindex_lower(si, port); j < si->n && si->v[j].port == port; j++) {
			const struct lstate *s = &l->s[si->v[j].i];
			int side;
			if ((pass == 1 && s->has_peer) || !state_side(c, s, &side))
				continue;
			/* Pinned marks belong here until the tuple's next connection starts;
			 * unpinned ones only near this connection's packets. */
			int64_t lo = first - 1000000000LL;
			int64_t hi = s->has_peer ? until : last + 1000000000LL;
			if (s->ts < lo || s->ts >= hi)
				continue;
			if (n == cap) {
				cap *= 2;
				struct ev *nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n] = (struct ev){s->ts, si->v[j].i, EV_STATE, (uint8_t)side, (uint32_t)n};
			n++;
		}
	}
	qsort(v, n, sizeof(*v), cmp_ev);
	*out = v;
	*nout = n;
	return 0;
}

static void flags_str(char *b, size_t n, uint8_t f)
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{TF_SYN, "SYN"}, {TF_FIN, "FIN"}, {TF_RST, "RST"}, {TF_PSH, "PSH"},
		{TF_URG, "URG"}, {TF_ECE, "ECE"}, {TF_CWR, "CWR"}, {TF_ACK, "ACK"},
	};
	size_t o = 0;
	b[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			o += (size_t)snprintf(b + o, o < n ? n - o : 0, "%s%s", o ? "+" : "",
					      names[i].name);
	if (!o)
		snprintf(b, n, "(no flags)");
}

static void pkt_label(const struct ladder *l, const struct lpkt *k, bool abs_seq, char *b, size_t n)
{
	const struct lconn *c = &l->c[k->conn];
	char f[48];
	flags_str(f, sizeof(f), k->flags);
	uint32_t seq = abs_seq ? k->seq : k->seq - c->base[k->dir];
	uint32_t ack = abs_seq ? k->ack : k->ack - c->base[1 - k->dir];
	if (k->flags & TF_ACK)
		snprintf(b, n, "%s seq=%u ack=%u len=%u", f, seq, ack, k->len);
	else
		snprintf(b, n, "%s seq=%u len=%u", f, seq, k->len);
}

static void pkt_note(const struct lpkt *k, char *b, size_t n)
{
	switch (k->mark) {
	case LM_RETRANS: snprintf(b, n, "retransmission"); break;
	case LM_FAST_RETRANS: snprintf(b, n, "fast retransmission"); break;
	case LM_DUPACK: snprintf(b, n, "dup ACK #%u", k->dupn); break;
	case LM_KEEPALIVE: snprintf(b, n, "keep-alive"); break;
	default: b[0] = '\0';
	}
	static const struct { int bit; const char *name; } wm[] = {
		{WM_ZERO_WINDOW_PROBE, "zero window probe"},
		{WM_WINDOW_UPDATE, "window update"},
		{WM_ZERO_WINDOW, "zero window"},
	};
	for (size_t i = 0; i < sizeof(wm) / sizeof(wm[0]); i++) {
		size_t len = strlen(b);
		if ((k->wmark & wm[i].bit) && len + 2 < n)
			snprintf(b + len, n - len, "%s%s", len ? ", " : "", wm[i].name);
	}
}

/* When both ends are captured, a packet whose copy never showed up at the receiver, although
 * a later packet in the same direction did, was lost on the way (a drop rule, random loss, a
 * full queue): the ladder must not draw it as delivered.  last_rx[dir] is the send time of
 * the last packet in that direction that was seen arriving (-1: none, e.g. one end only). */
static void conn_last_rx(const struct ladder *l, const struct lconn *c, int64_t last_rx[2])
{
	last_rx[0] = last_rx[1] = -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct lpkt *k = &l->p[c->pk[i]];
		if (k->rx_ts >= 0 && k->dir < 2 && k->ts > last_rx[k->dir])
			last_rx[k->dir] = k->ts;
	}
}

static bool pkt_lost(const struct lpkt *k, const int64_t last_rx[2])
{
	return k->rx_ts < 0 && k->dir < 2 && k->ts < last_rx[k->dir];
}

/* pkt_note, plus "lost" for a packet that never arrived. */
static void pkt_note_lost(const struct lpkt *k, const int64_t last_rx[2], char *b, size_t n)
{
	pkt_note(k, b, n);
	if (pkt_lost(k, last_rx)) {
		size_t len = strlen(b);
		snprintf(b + len, n - len, "%slost", len ? ", " : "");
	}
}

/* Frame number as tshark shows it; with several files, FILE:FRAME (files numbered from 1 in
 * the order given). */
static void frame_str(const struct ladder *l, const struct lpkt *k, char *b, size_t n)
{
	if (l->nfiles > 1)
		snprintf(b, n, "%u:%u", k->file + 1u, k->rec);
	else
		snprintf(b, n, "%u", k->rec);
}

static double rel_ms(const struct ladder *l, int64_t ts)
{
	return (double)(ts - l->t0) / 1e6;
}

/* The connections to draw: o->ids or all. */
static int pick(const struct ladder *l, const struct ladder_render_opts *o, size_t i, uint32_t *ci)
{
	if (!o || !o->ids) {
		*ci = (uint32_t)i;
		return 0;
	}
	if (o->ids[i] < 1 || o->ids[i] > l->nc)
		return -ENOENT;
	*ci = o->ids[i] - 1;
	return 0;
}

static size_t npick(const struct ladder *l, const struct ladder_render_opts *o)
{
	return o && o->ids ? o->nids : l->nc;
}

/* ---- ASCII ---- */

#define A_FRAME 8
#define A_TIME 10
#define A_STATE 12

static void put_rep(FILE *f, char ch, int n)
{
	for (int i = 0; i < n; i++)
		fputc(ch, f);
}

/* One arrow body of width w: label centred in a shaft, head at the receiving end.  head=false
 * leaves the end open (the packet arrives on a later row). */
static void ascii_arrow(FILE *f, int w, bool to_right, bool head, bool lost, const char *label)
{
	char body[512];
	if (w > (int)sizeof(body) - 1)
		w = sizeof(body) - 1;
	memset(body, '-', (size_t)w);
	body[w] = '\0';
	int ll = (int)strlen(label) + 2;
	if (ll <= w - 4) {
		int at = (w - ll) / 2;
		body[at] = ' ';
		memcpy(body + at + 1, label, strlen(label));
		body[at + ll - 1] = ' ';
	}
	if (lost && w > 8) {
		/* the textbook's cross: the arrow stops short of the receiver */
		if (to_right) {
			body[w - 4] = 'X';
			body[w - 3] = body[w - 2] = body[w - 1] = ' ';
		} else {
			body[3] = 'X';
			body[0] = body[1] = body[2] = ' ';
		}
	} else if (to_right) {
		if (head)
			body[w - 1] = '>';
		else
			body[w - 1] = body[w - 2] = ' ';
	} else {
		if (head)
			body[0] = '<';
		else
			body[0] = body[1] = ' ';
	}
	fputs(body, f);
}

static int ascii_conn(const struct ladder *l, const struct sindex *si, FILE *f, uint32_t ci,
		      bool abs_seq)
{
	const struct lconn *c = &l->c[ci];
	struct ladder_conn_info in;
	ladder_conn_info(l, ci + 1, &in);
	struct ev *v;
	size_t n;
	if (conn_events(l, si, ci, &v, &n) < 0)
		return -ENOMEM;

	int w = 44;
	char lab[160], note[96];
	int64_t last_rx[2];
	conn_last_rx(l, c, last_rx);
	for (size_t i = 0; i < c->n; i++) {
		pkt_label(l, &l->p[c->pk[i]], abs_seq, lab, sizeof(lab));
		if ((int)strlen(lab) + 10 > w)
			w = (int)strlen(lab) + 10;
	}
	fprintf(f, "connection %u: %s -> %s, %zu packets, %.3f ms, %s\n", in.id, in.left, in.right,
		in.packets, (double)(in.last_ns - in.first_ns) / 1e6, in.end);

	/* Column heads: endpoint names centred over their lifelines. */
	int lpos = A_FRAME + 1 + A_TIME + 1 + A_STATE + 1, rpos = lpos + 1 + w;
	char head[512];
	memset(head, ' ', sizeof(head));
	memcpy(head, " frame", 6);
	memcpy(head + A_FRAME + 1 + A_TIME - 7, "time ms", 7);
	int ls = lpos - (int)strlen(in.left) / 2, rs = rpos - (int)strlen(in.right) / 2;
	if (ls < A_FRAME + 1 + A_TIME + 2)
		ls = A_FRAME + 1 + A_TIME + 2;
	if (rs < ls + (int)strlen(in.left) + 2)
		rs = ls + (int)strlen(in.left) + 2;
	memcpy(head + ls, in.left, strlen(in.left));
	memcpy(head + rs, in.right, strlen(in.right));
	int hl = rs + (int)strlen(in.right);
	while (hl > 0 && head[hl - 1] == ' ')
		hl--;
	fprintf(f, "%.*s\n", hl, head);

	for (size_t i = 0; i < n; i++) {
		const struct ev *x = &v[i];
		char frame[16] = "", lstate[A_STATE + 1] = "", rnote[128] = "";
		char llife = '|', rlife = '|';
		if (x->kind == EV_STATE) {
			const struct lstate *s = &l->s[x->idx];
			if (x->side == 0) {
				snprintf(lstate, sizeof(lstate), "%s", s->name);
				llife = '*';
			} else {
				snprintf(rnote, sizeof(rnote), "%s", s->name);
				rlife = '*';
			}
			fprintf(f, "%*s %*.3f %*s %c", A_FRAME, frame, A_TIME, rel_ms(l, x->ts),
				A_STATE, lstate, llife);
			put_rep(f, ' ', w);
			fprintf(f, "%c%s%s\n", rlife, rnote[0] ? " " : "", rnote);
			continue;
		}
		const struct lpkt *k = &l->p[x->idx];
		bool right = k->dir == 0;
		if (x->kind == EV_SEND) {
			frame_str(l, k, frame, sizeof(frame));
			pkt_label(l, k, abs_seq, lab, sizeof(lab));
			pkt_note_lost(k, last_rx, note, sizeof(note));
			if (note[0])
				snprintf(rnote, sizeof(rnote), " [%s]", note);
			fprintf(f, "%*s %*.3f %*s |", A_FRAME, frame, A_TIME, rel_ms(l, x->ts), A_STATE,
				"");
			ascii_arrow(f, w, right, k->rx_ts < 0, pkt_lost(k, last_rx), lab);
			fprintf(f, "|%s\n", rnote);
		} else {
			/* The copy seen at the other end: the arrow lands here. */
			char sent[24];
			frame_str(l, &l->p[k->rx], frame, sizeof(frame));
			frame_str(l, k, sent, sizeof(sent));
			snprintf(rnote, sizeof(rnote), " [%s arrives, %.3f ms in flight]", sent,
				 (double)(k->rx_ts - k->ts) / 1e6);
			fprintf(f, "%*s %*.3f %*s |", A_FRAME, frame, A_TIME, rel_ms(l, x->ts), A_STATE,
				"");
			if (right) {
				put_rep(f, ' ', w - 3);
				fputs("~~>", f);
			} else {
				fputs("<~~", f);
				put_rep(f, ' ', w - 3);
			}
			fprintf(f, "|%s\n", rnote);
		}
	}
	free(v);
	return 0;
}

int ladder_render_ascii(const struct ladder *l, FILE *out, const struct ladder_render_opts *o)
{
	size_t n = npick(l, o);
	struct sindex si;
	int rc = 0;
	if (sindex_build(l, &si) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t ci;
		if (pick(l, o, i, &ci) < 0) {
			rc = -ENOENT;
			break;
		}
		if (i)
			fputc('\n', out);
		if (ascii_conn(l, &si, out, ci, o && o->abs_seq) < 0)
			rc = -ENOMEM;
	}
	free(si.v);
	if (!rc && ferror(out))
		rc = -EIO;
	return rc;
}

int ladder_render_list(const struct ladder *l, FILE *out, const struct ladder_render_opts *o)
{
	size_t n = npick(l, o);
	fprintf(out, "%5s %8s %12s %12s  %-30s %-30s %s\n", "conn", "packets", "start ms", "ms",
		"client (left)", "server (right)", "end");
	for (size_t i = 0; i < n; i++) {
		uint32_t ci;
		struct ladder_conn_info in;
		if (pick(l, o, i, &ci) < 0)
			return -ENOENT;
		ladder_conn_info(l, ci + 1, &in);
		fprintf(out, "%5u %8zu %12.3f %12.3f  %-30s %-30s %s\n", in.id, in.packets,
			rel_ms(l, in.first_ns), (double)(in.last_ns - in.first_ns) / 1e6, in.left,
			in.right, in.end);
	}
	return ferror(out) ? -EIO : 0;
}

/* ---- SVG ---- */

#define S_W 1000
#define S_AXIS 96
#define S_XL 340
#define S_XR 800
#define S_CHAR 7.2   /* advance of a 12px monospace glyph */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

/* Vertical position of each event: at least one text line apart, more for longer pauses
 * (logarithmic, so a 1 s RTO does not push the rest off the page). */
static double *svg_layout(const struct ladder *l, const struct ev *v, size_t n, double y0)
{
	double *y = malloc((n + 1) * sizeof(*y));
	if (!y)
		return NULL;
	(void)l;
	for (size_t i = 0; i < n; i++) {
		if (i == 0) {
			y[i] = y0;
			continue;
		}
		double dt = (double)(v[i].ts - v[i - 1].ts) / 1e6;
		double gap = 34 + fmin(46, 9 * log2(1 + (dt > 0 ? dt : 0)));
		y[i] = y[i - 1] + gap;
	}
	return y;
}

static const char *svg_color(const struct lpkt *k)
{
	if (k->flags & TF_RST)
		return "#c62828";
	if (k->mark == LM_RETRANS || k->mark == LM_FAST_RETRANS)
		return "#d84315";
	if (k->mark == LM_DUPACK)
		return "#ef6c00";
	if (k->flags & (TF_SYN | TF_FIN))
		return "#2e7d32";
	return "#1f4e79";
}

static const char *svg_marker(const struct lpkt *k)
{
	if (k->flags & TF_RST)
		return "ah-rst";
	if (k->mark == LM_RETRANS || k->mark == LM_FAST_RETRANS)
		return "ah-re";
	if (k->mark == LM_DUPACK)
		return "ah-dup";
	if (k->flags & (TF_SYN | TF_FIN))
		return "ah-sf";
	return "ah";
}

static void svg_state_box(FILE *f, double x, double y, int side, const char *name)
{
	double w = strlen(name) * 6.6 + 12;
	double bx = side == 0 ? x - 10 - w : x + 10;
	fprintf(f, "<rect class=\"state\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" rx=\"3\"/>",
		bx, y - 9, w);
	fprintf(f, "<circle cx=\"%d\" cy=\"%.1f\" r=\"3.5\" class=\"statedot\"/>", (int)x, y);
	fprintf(f, "<text class=\"statet\" x=\"%.1f\" y=\"%.1f\">", bx + w / 2, y + 4);
	xml_text(f, name);
	fputs("</text>\n", f);
}

struct svg_block {
	uint32_t ci;
	struct ev *v;
	size_t n;
	double *y;
	double top, height;
};

static void svg_conn(const struct ladder *l, FILE *f, const struct svg_block *b, bool abs_seq)
{
	const struct lconn *c = &l->c[b->ci];
	struct ladder_conn_info in;
	ladder_conn_info(l, b->ci + 1, &in);
	double top = b->top;
	double last = b->n ? b->y[b->n - 1] : top + 100;
	char lab[160], note[96];
	int64_t last_rx[2];
	conn_last_rx(l, c, last_rx);

	fprintf(f, "<g class=\"conn\" id=\"conn%u\">\n", in.id);
	fprintf(f, "<text class=\"title\" x=\"20\" y=\"%.1f\">connection %u: ", top + 22, in.id);
	xml_text(f, in.left);
	fputs(" \xe2\x86\x92 ", f);  /* U+2192 RIGHTWARDS ARROW */
	xml_text(f, in.right);
	fprintf(f, " \xc2\xb7 %zu packets \xc2\xb7 %.3f ms \xc2\xb7 %s</text>\n", in.packets,
		(double)(in.last_ns - in.first_ns) / 1e6, in.end);

	/* Endpoint boxes and lifelines. */
	const char *names[2] = {in.left, in.right};
	int xs[2] = {S_XL, S_XR};
	for (int s = 0; s < 2; s++) {
		double w = strlen(names[s]) * S_CHAR + 20;
		fprintf(f, "<rect class=\"host\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"26\" rx=\"4\"/>",
			xs[s] - w / 2, top + 36, w);
		fprintf(f, "<text class=\"hostt\" x=\"%d\" y=\"%.1f\">", xs[s], top + 54);
		xml_text(f, names[s]);
		fputs("</text>\n", f);
		fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", xs[s],
			top + 62, xs[s], last + 24);
	}
	/* Time axis. */
	fprintf(f, "<text class=\"axist\" x=\"%d\" y=\"%.1f\">time (ms)</text>\n", S_AXIS - 6, top + 54);
	fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", S_AXIS,
		top + 62, S_AXIS, last + 24);

	for (size_t i = 0; i < b->n; i++) {
		const struct ev *x = &b->v[i];
		double y = b->y[i];
		fprintf(f, "<line class=\"tick\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", S_AXIS - 4,
			y, S_AXIS, y);
		fprintf(f, "<line class=\"guide\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", S_AXIS + 2,
			y, S_XL, y);
		fprintf(f, "<text class=\"tickt\" x=\"%d\" y=\"%.1f\">%.3f</text>\n", S_AXIS - 7, y + 4,
			rel_ms(l, x->ts));
		if (x->kind == EV_STATE) {
			svg_state_box(f, xs[x->side], y, x->side, l->s[x->idx].name);
			continue;
		}
		if (x->kind == EV_RECV)
			continue;  /* drawn with its send event */
		const struct lpkt *k = &l->p[x->idx];
		double y2 = y;
		if (k->rx_ts >= 0)
			for (size_t j = i + 1; j < b->n; j++)
				if (b->v[j].kind == EV_RECV && b->v[j].idx == x->idx) {
					y2 = b->y[j];
					break;
				}
		double x1 = k->dir == 0 ? S_XL : S_XR, x2 = k->dir == 0 ? S_XR : S_XL;
		bool dashed = k->mark == LM_RETRANS || k->mark == LM_FAST_RETRANS;
		if (pkt_lost(k, last_rx)) {
			/* lost on the way: the line stops at three quarters, ending in a cross */
			double xe = x1 + (x2 - x1) * 0.75;
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"1.6\"%s/>", x1, y, xe, y, svg_color(k),
				dashed ? " stroke-dasharray=\"7 4\"" : "");
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"18\" fill=\"%s\">"
				"\xc3\x97</text>\n", xe, y + 5, svg_color(k));  /* U+00D7 MULTIPLICATION SIGN */
		} else {
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"1.6\"%s marker-end=\"url(#%s)\"/>\n",
				x1, y, x2 + (k->dir == 0 ? -1 : 1), y2, svg_color(k),
				dashed ? " stroke-dasharray=\"7 4\"" : "", svg_marker(k));
		}
		pkt_label(l, k, abs_seq, lab, sizeof(lab));
		pkt_note_lost(k, last_rx, note, sizeof(note));
		/* Slanted arrows carry their label nearer the sender, so the labels of two
		 * crossing arrows (a simultaneous close) do not sit on top of each other. */
		double half = strlen(lab) * S_CHAR / 2 + 8;
		double at = y2 > y ? fmax(0.3, fmin(0.5, half / (S_XR - S_XL))) : 0.5;
		double mx = x1 + (x2 - x1) * at, my = y + (y2 - y) * at;
		double ang = atan2(y2 - y, x2 - x1) * 180 / M_PI;
		if (ang > 90)
			ang -= 180;
		else if (ang < -90)
			ang += 180;
		fprintf(f, "<g transform=\"rotate(%.2f %.1f %.1f)\">", ang, mx, my);
		fprintf(f, "<text class=\"lab\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", mx, my - 5,
			svg_color(k));
		xml_text(f, lab);
		fputs("</text>", f);
		if (note[0]) {
			fprintf(f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">", mx, my + 13);
			xml_text(f, note);
			fputs("</text>", f);
		}
		fputs("</g>", f);
		char fr[24];
		frame_str(l, k, fr, sizeof(fr));
		fprintf(f, "<text class=\"frame\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n",
			k->dir == 0 ? x1 + 6.0 : x1 - 6.0, y + 12, k->dir == 0 ? "start" : "end", fr);
		(void)c;
	}
	fputs("</g>\n", f);
}

int ladder_render_svg(const struct ladder *l, FILE *out, const struct ladder_render_opts *o)
{
	size_t n = npick(l, o);
	struct svg_block *b = calloc(n + 1, sizeof(*b));
	int rc = 0;
	if (!b)
		return -ENOMEM;
	double top = 10;
	struct sindex si = {0};
	if (sindex_build(l, &si) < 0) {
		rc = -ENOMEM;
		goto free_blocks;
	}
	for (size_t i = 0; i < n; i++) {
		if (pick(l, o, i, &b[i].ci) < 0) {
			rc = -ENOENT;
			goto free_blocks;
		}
		if (conn_events(l, &si, b[i].ci, &b[i].v, &b[i].n) < 0 ||
		    !(b[i].y = svg_layout(l, b[i].v, b[i].n, top + 96))) {
			rc = -ENOMEM;
			goto free_blocks;
		}
		b[i].top = top;
		double last = b[i].n ? b[i].y[b[i].n - 1] : top + 100;
		b[i].height = last + 40 - top;
		top += b[i].height + 20;
	}
	double height = top;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" "
		"font-size=\"12\">\n", S_W, height, S_W, height);
	fputs("<title>TCP ladder diagram (labctl ladder)</title>\n<defs>\n", out);
	static const struct { const char *id, *color; } m[] = {
		{"ah", "#1f4e79"}, {"ah-sf", "#2e7d32"}, {"ah-rst", "#c62828"},
		{"ah-re", "#d84315"}, {"ah-dup", "#ef6c00"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		fprintf(out, "<marker id=\"%s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
			"markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\" markerUnits=\"userSpaceOnUse\">"
			"<path d=\"M0,1 L10,5 L0,9 z\" fill=\"%s\"/></marker>\n", m[i].id, m[i].color);
	fputs("<style>\n"
	      ".title{font-size:14px;font-weight:bold;fill:#222}\n"
	      ".host{fill:#e3f2fd;stroke:#1f4e79;stroke-width:1.2}\n"
	      ".hostt{text-anchor:middle;font-weight:bold;fill:#0d2b45}\n"
	      ".life{stroke:#555;stroke-width:2}\n"
	      ".axis{stroke:#999;stroke-width:1}\n"
	      ".axist{text-anchor:end;fill:#666;font-size:11px}\n"
	      ".tick{stroke:#999}\n"
	      ".tickt{text-anchor:end;fill:#555;font-size:11px}\n"
	      ".guide{stroke:#e4e4e4;stroke-dasharray:2 3}\n"
	      ".lab{text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}\n"
	      ".note{text-anchor:middle;fill:#c62828;font-style:italic;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:4px}\n"
	      ".frame{fill:#999;font-size:9px}\n"
	      ".state{fill:#fff8e1;stroke:#f9a825;stroke-width:1.2}\n"
	      ".statet{text-anchor:middle;font-size:11px;font-weight:bold;fill:#5d4037}\n"
	      ".statedot{fill:#f9a825}\n"
	      "</style>\n</defs>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n", S_W, height);
	for (size_t i = 0; i < n; i++)
		svg_conn(l, out, &b[i], o && o->abs_seq);
	fputs("</svg>\n", out);
	if (ferror(out))
		rc = -EIO;
free_blocks:
	free(si.v);
	for (size_t i = 0; i < n; i++) {
		free(b[i].v);
		free(b[i].y);
	}
	free(b);
	return rc;
}

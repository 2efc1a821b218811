/* ladder_view: what every renderer draws (ladder_int.h): the events of one connection in time
 * order (packets sent, copies arriving, state marks), segment labels, analysis notes, frame
 * numbers and the choice of connections. */
#include "render/ladder_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_ev(const void *a, const void *b)
{
	const struct lev *x = a, *y = b;
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
struct lsidx {
	uint16_t port;
	uint32_t i;
};

static int cmp_sidx(const void *a, const void *b)
{
	const struct lsidx *x = a, *y = b;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int ladder_sindex_build(const struct ladder *l, struct lsindex *si)
{
	si->n = 0;
	si->v = malloc((l->ns * 2 + 1) * sizeof(*si->v));
	if (!si->v)
		return -ENOMEM;
	for (size_t i = 0; i < l->ns; i++) {
		const struct lstate *s = &l->s[i];
		si->v[si->n++] = (struct lsidx){s->port, (uint32_t)i};
		if (s->has_peer && s->pport != s->port)
			si->v[si->n++] = (struct lsidx){s->pport, (uint32_t)i};
	}
	qsort(si->v, si->n, sizeof(*si->v), cmp_sidx);
	return 0;
}

void ladder_sindex_free(struct lsindex *si)
{
	free(si->v);
	si->v = NULL;
	si->n = 0;
}

static size_t sindex_lower(const struct lsindex *si, uint16_t port)
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
int ladder_conn_events(const struct ladder *l, const struct lsindex *si, uint32_t ci,
		       struct lev **out, size_t *nout)
{
	const struct lconn *c = &l->c[ci];
	size_t n = 0, cap = c->n * 2 + 8;
	struct lev *v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		const struct lpkt *k = &l->p[c->pk[i]];
		v[n] = (struct lev){k->ts, c->pk[i], LEV_SEND, 0, (uint32_t)n};
		n++;
		if (k->rx_ts >= 0) {
			v[n] = (struct lev){k->rx_ts, c->pk[i], LEV_RECV, 0, (uint32_t)n};
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
				struct lev *nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n] = (struct lev){s->ts, si->v[j].i, LEV_STATE, (uint8_t)side, (uint32_t)n};
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

void ladder_pkt_label(const struct ladder *l, const struct lpkt *k, bool abs_seq, char *b, size_t n)
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

/* pkt_note, plus "lost" for a packet that never arrived. */
void ladder_pkt_note_lost(const struct lpkt *k, const int64_t last_rx[2], char *b, size_t n)
{
	pkt_note(k, b, n);
	if (ladder_pkt_lost(k, last_rx)) {
		size_t len = strlen(b);
		snprintf(b + len, n - len, "%slost", len ? ", " : "");
	}
}

/* Frame number as tshark shows it; with several files, FILE:FRAME (files numbered from 1 in
 * the order given). */
void ladder_frame_str(const struct ladder *l, const struct lpkt *k, char *b, size_t n)
{
	if (l->nfiles > 1)
		snprintf(b, n, "%u:%u", k->file + 1u, k->rec);
	else
		snprintf(b, n, "%u", k->rec);
}

/* The connections to draw: o->ids or all. */
int ladder_pick(const struct ladder *l, const struct ladder_render_opts *o, size_t i, uint32_t *ci)
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

size_t ladder_npick(const struct ladder *l, const struct ladder_render_opts *o)
{
	return o && o->ids ? o->nids : l->nc;
}


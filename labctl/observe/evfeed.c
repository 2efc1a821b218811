/* evfeed: see evfeed.h. */
#include "observe/evfeed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

/* Cookies the kernel hands out are a counter; made-up ones (request sockets) have this bit,
 * which a counter does not reach in the life of a machine. */
#define EVFEED_REQ_COOKIE (1ULL << 55)

/* u64 -> u64 open addressing with tombstones (request sockets come and go). */
struct map {
	uint64_t *keys, *vals;
	uint8_t *st;  /* 0 empty, 1 used, 2 deleted */
	size_t cap, used, dead;
};

struct pending {
	bool req;
	int host;
	uint64_t key;  /* cookie (timewait) or request socket address */
	int64_t ts;
};

struct evfeed {
	struct timeline *tl;
	int64_t real_off;
	struct map tw;   /* (host, cookie) of sockets that became a timewait socket */
	struct map req;  /* (host, request address) -> made-up cookie, while queued */
	uint64_t next_req;
	struct pending *pend;
	int npend, cpend;
};

static uint64_t hkey(int host, uint64_t k)
{
	return hash_mix64(k ^ ((uint64_t)host * 0x9e3779b97f4a7c15ULL));
}

static long map_slot(const struct map *m, uint64_t k)
{
	if (!m->cap)
		return -1;
	size_t mask = m->cap - 1;
	for (size_t i = hash_mix64(k) & mask;; i = (i + 1) & mask) {
		if (m->st[i] == 0)
			return -1;
		if (m->st[i] == 1 && m->keys[i] == k)
			return (long)i;
	}
}

static bool map_get(const struct map *m, uint64_t k, uint64_t *v)
{
	long i = map_slot(m, k);
	if (i < 0)
		return false;
	if (v)
		*v = m->vals[i];
	return true;
}

static void map_del(struct map *m, uint64_t k)
{
	long i = map_slot(m, k);
	if (i >= 0) {
		m->st[i] = 2;
		m->used--;
		m->dead++;
	}
}

static int map_put(struct map *m, uint64_t k, uint64_t v);

static int map_grow(struct map *m)
{
	struct map n = {0};
	n.cap = 256;
	while (n.cap < (m->used + 1) * 4)
		n.cap *= 2;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	n.st = calloc(n.cap, 1);
	if (!n.keys || !n.vals || !n.st) {
		free(n.keys);
		free(n.vals);
		free(n.st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->st[i] == 1)
			map_put(&n, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	free(m->st);
	*m = n;
	return 0;
}

static int map_put(struct map *m, uint64_t k, uint64_t v)
{
	long i = map_slot(m, k);
	if (i >= 0) {
		m->vals[i] = v;
		return 0;
	}
	if ((m->used + m->dead + 1) * 2 > m->cap && map_grow(m) < 0)
		return -ENOMEM;
	size_t mask = m->cap - 1;
	size_t j = hash_mix64(k) & mask;
	while (m->st[j] == 1)
		j = (j + 1) & mask;
	if (m->st[j] == 2)
		m->dead--;
	m->st[j] = 1;
	m->keys[j] = k;
	m->vals[j] = v;
	m->used++;
	return 0;
}

static void map_free(struct map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->st);
}

struct evfeed *evfeed_new(struct timeline *tl, int64_t real_off_ns)
{
	struct evfeed *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->tl = tl;
	f->real_off = real_off_ns;
	return f;
}

void evfeed_free(struct evfeed *f)
{
	if (!f)
		return;
	map_free(&f->tw);
	map_free(&f->req);
	free(f->pend);
	free(f);
}

int evfeed_npending(const struct evfeed *f)
{
	return f->npend;
}

static int put_state(struct evfeed *f, const struct tcpev_event *ev, uint64_t cookie,
		     enum lab_tcp_state to, int64_t ts)
{
	struct diag_sock s;
	memset(&s, 0, sizeof(s));
	s.family = ev->family;
	s.state = to;
	memcpy(s.laddr, ev->laddr, 16);
	memcpy(s.raddr, ev->raddr, 16);
	s.lport = ev->lport;
	s.rport = ev->rport;
	s.cookie = cookie;
	return timeline_transition(f->tl, ev->host, &s, ts + f->real_off, ts);
}

static void pend_drop(struct evfeed *f, bool req, int host, uint64_t key)
{
	for (int i = 0; i < f->npend; i++)
		if (f->pend[i].req == req && f->pend[i].host == host && f->pend[i].key == key) {
			f->pend[i] = f->pend[--f->npend];
			return;
		}
}

static int pend_add(struct evfeed *f, bool req, int host, uint64_t key, int64_t ts)
{
	pend_drop(f, req, host, key);
	if (f->npend == f->cpend) {
		int ncap = f->cpend ? f->cpend * 2 : 16;
		struct pending *n = realloc(f->pend, (size_t)ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		f->pend = n;
		f->cpend = ncap;
	}
	f->pend[f->npend++] = (struct pending){.req = req, .host = host, .key = key, .ts = ts};
	return 0;
}

/* The end of a timewait socket (cookie) or of a queued request (its address). */
static int leave(struct evfeed *f, bool req, int host, uint64_t key, int64_t ts)
{
	struct tcpev_event ev = {.host = host, .family = 0};
	uint64_t cookie = key;
	if (req) {
		if (!map_get(&f->req, hkey(host, key), &cookie))
			return 0;
		map_del(&f->req, hkey(host, key));
		/* Taken over by its full socket (stitched by tuple): not an end at all. */
		int ci = timeline_find(f->tl, host, cookie);
		const struct timeline_conn *c = timeline_conn(f->tl, ci);
		if (!c || c->cookie != cookie || c->state != LAB_TCP_SYN_RECV)
			return 0;
	}
	int ci = timeline_find(f->tl, host, cookie);
	const struct timeline_conn *c = timeline_conn(f->tl, ci);
	if (!c)
		return 0;
	/* The timeline matches by cookie: the tuple only matters for a new connection. */
	ev.family = c->family;
	memcpy(ev.laddr, c->laddr, 16);
	memcpy(ev.raddr, c->raddr, 16);
	ev.lport = c->lport;
	ev.rport = c->rport;
	return put_state(f, &ev, cookie, LAB_TCP_CLOSE, ts);
}

int evfeed_apply(struct evfeed *f, const struct tcpev_event *ev)
{
	int64_t ts = ev->mono_ns;
	int h = ev->host;
	uint64_t cookie;
	switch (ev->kind) {
	case TCPEV_STATE:
		/* The full socket that a timewait socket replaced: the connection goes on. */
		if (ev->to == LAB_TCP_CLOSE && map_get(&f->tw, hkey(h, ev->key), NULL))
			return 0;
		return put_state(f, ev, ev->key, ev->to, ts);
	case TCPEV_TW_START:
		pend_drop(f, false, h, ev->key);
		if (map_put(&f->tw, hkey(h, ev->key), 1) < 0)
			return -ENOMEM;
		return put_state(f, ev, ev->key, ev->to, ts);
	case TCPEV_TW_SEGMENT:
		/* FIN_WAIT_2 -> TIME_WAIT inside the timewait socket; the same substate again is
		 * no change (the timeline appends only changes). */
		if (!map_get(&f->tw, hkey(h, ev->key), NULL))
			return 0;
		return put_state(f, ev, ev->key, ev->to, ts);
	case TCPEV_TW_CANCEL:
		return pend_add(f, false, h, ev->key, ts);
	case TCPEV_TW_EXPIRE:
		pend_drop(f, false, h, ev->key);
		return leave(f, false, h, ev->key, ts);
	case TCPEV_REQ_START:
		pend_drop(f, true, h, ev->key);
		if (map_get(&f->req, hkey(h, ev->key), NULL))
			return 0;  /* re-armed: a SYN+ACK retransmission */
		cookie = EVFEED_REQ_COOKIE | ++f->next_req;
		if (map_put(&f->req, hkey(h, ev->key), cookie) < 0)
			return -ENOMEM;
		return put_state(f, ev, cookie, LAB_TCP_SYN_RECV, ts);
	case TCPEV_REQ_CANCEL:
	case TCPEV_REQ_EXPIRE:
		/* Either way the request is gone unless a start follows (re-arm, retransmit). */
		if (!map_get(&f->req, hkey(h, ev->key), NULL))
			return 0;
		return pend_add(f, true, h, ev->key, ts);
	default:
		return 0;
	}
}

int evfeed_settle(struct evfeed *f, int64_t now_ns)
{
	for (int i = 0; i < f->npend;) {
		struct pending p = f->pend[i];
		if (now_ns != INT64_MAX && p.ts > now_ns - EVFEED_GRACE_NS) {
			i++;
			continue;
		}
		f->pend[i] = f->pend[--f->npend];
		if (leave(f, p.req, p.host, p.key, p.ts) < 0)
			return -ENOMEM;
	}
	return 0;
}

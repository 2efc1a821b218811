/* timeline: see timeline.h. */
#include "base/clock.h"
#include "base/hash.h"
#include "observe/timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct host_set {
	int *active;       /* conn indexes of this host that are active */
	int nactive, cap;
	uint32_t gen;
};

struct timeline {
	struct timeline_conn *conns;
	int nconns, cconns;
	struct timeline_event *evs;
	int nevs, cevs;
	/* (host, cookie) -> conn index + 1; open addressing, never shrinks (cookies are unique
	 * for the life of the kernel, so a key never comes back for another socket). */
	uint64_t *ckeys;
	int *cvals;
	size_t ccap, cused;
	/* 4-tuple hash -> conn index + 1 of connections last seen in SYN_RECV; entries go stale
	 * harmlessly (checked on use) and are dropped when the table is rebuilt. */
	uint64_t *tkeys;
	int *tvals;
	size_t tcap, tused;
	struct host_set hosts[LAB_MAX_HOSTS];
	timeline_hook hook;
	void *hook_arg;
};

static uint64_t ckey(int host, uint64_t cookie)
{
	/* Cookies are small counters: fold the host into the top byte. */
	return (cookie & 0x00ffffffffffffffULL) ^ ((uint64_t)host << 56);
}

static uint64_t tkey(int host, const uint8_t *la, const uint8_t *ra, uint16_t lp, uint16_t rp)
{
	uint64_t h = (uint64_t)host * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)lp << 16 | rp);
	for (int i = 0; i < 16; i += 8) {
		uint64_t a, b;
		memcpy(&a, la + i, 8);
		memcpy(&b, ra + i, 8);
		h = hash_mix64(h ^ a) ^ hash_mix64(b + (uint64_t)i);
	}
	return h | 1;  /* 0 marks an empty slot */
}

struct timeline *timeline_new(void)
{
	struct timeline *tl = calloc(1, sizeof(*tl));
	return tl;
}

void timeline_free(struct timeline *tl)
{
	if (!tl)
		return;
	free(tl->conns);
	free(tl->evs);
	free(tl->ckeys);
	free(tl->cvals);
	free(tl->tkeys);
	free(tl->tvals);
	for (int i = 0; i < LAB_MAX_HOSTS; i++)
		free(tl->hosts[i].active);
	free(tl);
}

void timeline_set_hook(struct timeline *tl, timeline_hook fn, void *arg)
{
	tl->hook = fn;
	tl->hook_arg = arg;
}

/* ---- cookie table -------------------------------------------------------------------- */

static int cmap_find(const struct timeline *tl, uint64_t k)
{
	if (!tl->ccap)
		return -1;
	size_t mask = tl->ccap - 1;
	for (size_t i = hash_mix64(k) & mask;; i = (i + 1) & mask) {
		if (!tl->cvals[i])
			return -1;
		if (tl->ckeys[i] == k)
			return tl->cvals[i] - 1;
	}
}

static int cmap_put_raw(uint64_t *keys, int *vals, size_t cap, uint64_t k, int v)
{
	size_t mask = cap - 1;
	for (size_t i = hash_mix64(k) & mask;; i = (i + 1) & mask) {
		if (!vals[i] || keys[i] == k) {
			int fresh = !vals[i];
			keys[i] = k;
			vals[i] = v + 1;
			return fresh;
		}
	}
}

static int cmap_put(struct timeline *tl, uint64_t k, int v)
{
	if ((tl->cused + 1) * 2 > tl->ccap) {
		size_t ncap = tl->ccap ? tl->ccap * 2 : 1024;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		int *nv = calloc(ncap, sizeof(*nv));
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		for (size_t i = 0; i < tl->ccap; i++)
			if (tl->cvals[i])
				cmap_put_raw(nk, nv, ncap, tl->ckeys[i], tl->cvals[i] - 1);
		free(tl->ckeys);
		free(tl->cvals);
		tl->ckeys = nk;
		tl->cvals = nv;
		tl->ccap = ncap;
	}
	tl->cused += (size_t)cmap_put_raw(tl->ckeys, tl->cvals, tl->ccap, k, v);
	return 0;
}

/* ---- SYN_RECV tuple table ------------------------------------------------------------- */

static uint64_t conn_tkey(const struct timeline_conn *c)
{
	return tkey(c->host, c->laddr, c->raddr, c->lport, c->rport);
}

static int tmap_put(struct timeline *tl, const struct timeline_conn *c, int idx)
{
	if ((tl->tused + 1) * 2 > tl->tcap) {
		/* Rebuild with only the entries that still point at a SYN_RECV connection. */
		size_t live = 0;
		for (size_t i = 0; i < tl->tcap; i++)
			if (tl->tvals[i] && tl->conns[tl->tvals[i] - 1].state == LAB_TCP_SYN_RECV &&
			    tl->conns[tl->tvals[i] - 1].active)
				live++;
		size_t ncap = 256;
		while (ncap < (live + 1) * 4)
			ncap *= 2;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		int *nv = calloc(ncap, sizeof(*nv));
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		size_t used = 0;
		for (size_t i = 0; i < tl->tcap; i++) {
			int ci = tl->tvals[i] - 1;
			if (ci >= 0 && tl->conns[ci].state == LAB_TCP_SYN_RECV && tl->conns[ci].active)
				used += (size_t)cmap_put_raw(nk, nv, ncap, tl->tkeys[i], ci);
		}
		free(tl->tkeys);
		free(tl->tvals);
		tl->tkeys = nk;
		tl->tvals = nv;
		tl->tcap = ncap;
		tl->tused = used;
	}
	tl->tused += (size_t)cmap_put_raw(tl->tkeys, tl->tvals, tl->tcap, conn_tkey(c), idx);
	return 0;
}

static int tmap_find_synrecv(const struct timeline *tl, int host, const struct diag_sock *s)
{
	if (!tl->tcap)
		return -1;
	uint64_t k = tkey(host, s->laddr, s->raddr, s->lport, s->rport);
	size_t mask = tl->tcap - 1;
	for (size_t i = hash_mix64(k) & mask;; i = (i + 1) & mask) {
		if (!tl->tvals[i])
			return -1;
		if (tl->tkeys[i] != k)
			continue;
		const struct timeline_conn *c = &tl->conns[tl->tvals[i] - 1];
		if (c->host == host && c->active && c->state == LAB_TCP_SYN_RECV &&
		    c->family == s->family && c->lport == s->lport && c->rport == s->rport &&
		    !memcmp(c->laddr, s->laddr, 16) && !memcmp(c->raddr, s->raddr, 16))
			return tl->tvals[i] - 1;
		return -1;
	}
}

/* ---- events -------------------------------------------------------------------------- */

static int add_event(struct timeline *tl, int ci, enum lab_tcp_state to, int64_t real_ns,
		     int64_t mono_ns)
{
	if (tl->nevs == tl->cevs) {
		int ncap = tl->cevs ? tl->cevs * 2 : 1024;
		struct timeline_event *n = realloc(tl->evs, (size_t)ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		tl->evs = n;
		tl->cevs = ncap;
	}
	struct timeline_conn *c = &tl->conns[ci];
	int ei = tl->nevs++;
	tl->evs[ei] = (struct timeline_event){
		.conn = ci, .next = -1, .from = c->nev ? c->state : LAB_TCP_NONE, .to = to,
		.real_ns = real_ns, .mono_ns = mono_ns,
	};
	if (c->nev)
		tl->evs[c->last_ev].next = ei;
	else
		c->first_ev = ei;
	c->last_ev = ei;
	c->nev++;
	c->state = to;
	if (tl->hook)
		tl->hook(tl, &tl->evs[ei], tl->hook_arg);
	return 0;
}

static int host_activate(struct timeline *tl, int host, int ci)
{
	struct host_set *h = &tl->hosts[host];
	if (h->nactive == h->cap) {
		int ncap = h->cap ? h->cap * 2 : 64;
		int *n = realloc(h->active, (size_t)ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->active = n;
		h->cap = ncap;
	}
	h->active[h->nactive++] = ci;
	tl->conns[ci].active = true;
	return 0;
}

static int conn_add(struct timeline *tl, int host, const struct diag_sock *s, uint64_t k)
{
	if (tl->nconns == tl->cconns) {
		int ncap = tl->cconns ? tl->cconns * 2 : 1024;
		struct timeline_conn *n = realloc(tl->conns, (size_t)ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		tl->conns = n;
		tl->cconns = ncap;
	}
	int ci = tl->nconns;
	struct timeline_conn *c = &tl->conns[ci];
	memset(c, 0, sizeof(*c));
	c->host = host;
	c->family = s->family;
	memcpy(c->laddr, s->laddr, 16);
	memcpy(c->raddr, s->raddr, 16);
	c->lport = s->lport;
	c->rport = s->rport;
	c->cookie = s->cookie;
	c->first_ev = c->last_ev = -1;
	if (cmap_put(tl, k, ci) < 0)
		return -ENOMEM;
	tl->nconns++;
	return ci;
}

int timeline_observe(struct timeline *tl, int host, const struct diag_sock *s, int64_t real_ns,
		     int64_t mono_ns)
{
	if (host < 0 || host >= LAB_MAX_HOSTS)
		return -EINVAL;
	uint32_t gen = tl->hosts[host].gen;
	uint64_t k = ckey(host, s->cookie);
	int ci = cmap_find(tl, k);
	if (ci < 0 && s->state != LAB_TCP_SYN_RECV) {
		/* The full socket that replaced a request socket: same tuple, new cookie. */
		ci = tmap_find_synrecv(tl, host, s);
		if (ci >= 0) {
			if (cmap_put(tl, k, ci) < 0)
				return -ENOMEM;
			tl->conns[ci].cookie = s->cookie;
		}
	}
	if (ci < 0 && (ci = conn_add(tl, host, s, k)) < 0)
		return ci;
	struct timeline_conn *c = &tl->conns[ci];
	c->seen_gen = gen;
	if (!c->active && host_activate(tl, host, ci) < 0)
		return -ENOMEM;
	if (c->nev == 0 || c->state != s->state) {
		if (add_event(tl, ci, s->state, real_ns, mono_ns) < 0)
			return -ENOMEM;
		c = &tl->conns[ci];
		if (s->state == LAB_TCP_SYN_RECV && tmap_put(tl, c, ci) < 0)
			return -ENOMEM;
	}
	return 0;
}

int timeline_transition(struct timeline *tl, int host, const struct diag_sock *s,
			int64_t real_ns, int64_t mono_ns)
{
	if (host < 0 || host >= LAB_MAX_HOSTS)
		return -EINVAL;
	uint64_t k = ckey(host, s->cookie);
	int ci = cmap_find(tl, k);
	if (ci < 0) {
		/* The full socket that replaces a request socket announces itself SYN_RECV
		 * (LISTEN -> SYN_RECV) with a cookie of its own and the request's tuple. */
		ci = tmap_find_synrecv(tl, host, s);
		if (ci >= 0) {
			if (cmap_put(tl, k, ci) < 0)
				return -ENOMEM;
			tl->conns[ci].cookie = s->cookie;
		}
	}
	if (ci < 0) {
		if (s->state == LAB_TCP_CLOSE)
			return 0;  /* a socket never seen alive: nothing to tell */
		if ((ci = conn_add(tl, host, s, k)) < 0)
			return ci;
	}
	struct timeline_conn *c = &tl->conns[ci];
	/* A connect()'s CLOSE -> SYN_SENT comes before its local port is chosen. */
	if (!c->lport && s->lport) {
		memcpy(c->laddr, s->laddr, 16);
		c->lport = s->lport;
	}
	if (!c->active && s->state != LAB_TCP_CLOSE && host_activate(tl, host, ci) < 0)
		return -ENOMEM;
	c = &tl->conns[ci];
	if (c->nev == 0 || c->state != s->state) {
		if (add_event(tl, ci, s->state, real_ns, mono_ns) < 0)
			return -ENOMEM;
		c = &tl->conns[ci];
		if (s->state == LAB_TCP_SYN_RECV && tmap_put(tl, c, ci) < 0)
			return -ENOMEM;
	}
	if (s->state == LAB_TCP_CLOSE)
		c->active = false;  /* dropped from the host's list by the next sweep */
	return 0;
}

int timeline_find(const struct timeline *tl, int host, uint64_t cookie)
{
	if (host < 0 || host >= LAB_MAX_HOSTS)
		return -1;
	return cmap_find(tl, ckey(host, cookie));
}

uint32_t timeline_begin(struct timeline *tl, int host)
{
	if (host < 0 || host >= LAB_MAX_HOSTS)
		return 0;
	return ++tl->hosts[host].gen;
}

int timeline_sweep(struct timeline *tl, int host, uint32_t gen, int64_t real_ns,
		   int64_t mono_ns)
{
	if (host < 0 || host >= LAB_MAX_HOSTS)
		return -EINVAL;
	struct host_set *h = &tl->hosts[host];
	int j = 0;
	for (int i = 0; i < h->nactive; i++) {
		int ci = h->active[i];
		struct timeline_conn *c = &tl->conns[ci];
		if (!c->active)
			continue;  /* closed by an event (timeline_transition) */
		if (c->seen_gen == gen) {
			h->active[j++] = ci;
			continue;
		}
		c->active = false;
		if (add_event(tl, ci, LAB_TCP_CLOSE, real_ns, mono_ns) < 0) {
			/* keep the list consistent: the rest stays active */
			for (int k = i + 1; k < h->nactive; k++)
				h->active[j++] = h->active[k];
			h->nactive = j;
			return -ENOMEM;
		}
	}
	h->nactive = j;
	return 0;
}

struct poll_ctx {
	struct timeline *tl;
	int host;
	int64_t real_ns, mono_ns;
	int rc;
};

static int poll_cb(const struct diag_sock *s, void *arg)
{
	struct poll_ctx *p = arg;
	if (!s)
		return 0;  /* restarted dump: observing again is idempotent */
	int rc = timeline_observe(p->tl, p->host, s, p->real_ns, p->mono_ns);
	if (rc < 0) {
		p->rc = rc;
		return 1;
	}
	return 0;
}

int timeline_poll_once(struct timeline *tl, struct diag *d, int host,
		       const struct diag_filter *f, struct lc_err *e)
{
	if (host < 0 || host >= LAB_MAX_HOSTS)
		return err_set(e, -EINVAL, "timeline: host index %d out of range", host);
	struct poll_ctx p = {.tl = tl, .host = host};
	/* One timestamp per dump: the dump is the sampling instant (a filtered dump of a lab's
	 * sockets takes tens of microseconds). */
	p.mono_ns = clock_ns(CLOCK_MONOTONIC);
	p.real_ns = clock_ns(CLOCK_REALTIME);
	uint32_t gen = timeline_begin(tl, host);
	int rc = diag_dump(d, f, poll_cb, &p, e);
	if (rc == 1)
		return err_set(e, p.rc, "timeline: out of memory");
	if (rc < 0)
		return rc;
	rc = timeline_sweep(tl, host, gen, p.real_ns, p.mono_ns);
	if (rc < 0)
		return err_set(e, rc, "timeline: out of memory");
	return 0;
}

static void add_port(struct diag_filter *f, uint16_t port, bool *overflow)
{
	if (!port)
		return;
	for (int i = 0; i < f->nports; i++)
		if (f->ports[i] == port)
			return;
	if (f->nports == DIAG_MAX_PORTS) {
		*overflow = true;
		return;
	}
	f->ports[f->nports++] = port;
}

void timeline_lab_filter(const struct lab *lab, struct diag_filter *f)
{
	memset(f, 0, sizeof(*f));
	bool overflow = false, v6 = false;
	for (int i = 0; i < lab->nsteps; i++) {
		const struct lab_step *st = &lab->steps[i];
		if (st->op == LAB_OP_LISTEN)
			add_port(f, st->u.listen.port, &overflow);
		else if (st->op == LAB_OP_CONNECT)
			add_port(f, st->u.connect.port, &overflow);
		else if (st->op == LAB_OP_FLOOD)
			add_port(f, st->u.flood.port, &overflow);
	}
	if (overflow)
		f->nports = 0;
	for (int h = 0; h < lab->nhosts; h++)
		for (int a = 0; a < lab->hosts[h].naddrs; a++)
			v6 |= lab->hosts[h].addrs[a].family == AF_INET6;
	f->family = v6 ? 0 : AF_INET;
}

static bool conn_selected(const struct timeline *tl, const struct timeline_conn *c, int host,
			  uint16_t port)
{
	if (c->host != host || c->first_ev < 0 || tl->evs[c->first_ev].to == LAB_TCP_LISTEN)
		return false;
	return !port || c->lport == port || c->rport == port;
}

int timeline_count_path(const struct timeline *tl, int host, uint16_t port,
			const enum lab_tcp_state *path, int n)
{
	int count = 0;
	for (int i = 0; i < tl->nconns; i++) {
		const struct timeline_conn *c = &tl->conns[i];
		if (!conn_selected(tl, c, host, port) || c->nev != n)
			continue;
		int k = 0;
		for (int ei = c->first_ev; ei >= 0 && k < n && tl->evs[ei].to == path[k];
		     ei = tl->evs[ei].next)
			k++;
		count += k == n;
	}
	return count;
}

int timeline_count_seen(const struct timeline *tl, int host, uint16_t port,
			enum lab_tcp_state state)
{
	int count = 0;
	for (int i = 0; i < tl->nconns; i++) {
		const struct timeline_conn *c = &tl->conns[i];
		if (!conn_selected(tl, c, host, port))
			continue;
		for (int ei = c->first_ev; ei >= 0; ei = tl->evs[ei].next)
			if (tl->evs[ei].to == state) {
				count++;
				break;
			}
	}
	return count;
}

void timeline_describe(const struct timeline *tl, int host, uint16_t port, int max, char *buf,
		       size_t len)
{
	size_t off = 0;
	int shown = 0;
	buf[0] = '\0';
	for (int i = 0; i < tl->nconns && shown < max && off < len; i++) {
		const struct timeline_conn *c = &tl->conns[i];
		if (!conn_selected(tl, c, host, port))
			continue;
		for (int ei = c->first_ev; ei >= 0 && off < len; ei = tl->evs[ei].next)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						ei == c->first_ev ? (shown ? "; " : "") : " ",
						lab_state_name(tl->evs[ei].to));
		shown++;
	}
}

int timeline_nconns(const struct timeline *tl)
{
	return tl->nconns;
}

const struct timeline_conn *timeline_conn(const struct timeline *tl, int i)
{
	return (i >= 0 && i < tl->nconns) ? &tl->conns[i] : NULL;
}

int timeline_nevents(const struct timeline *tl)
{
	return tl->nevs;
}

const struct timeline_event *timeline_event(const struct timeline *tl, int i)
{
	return (i >= 0 && i < tl->nevs) ? &tl->evs[i] : NULL;
}

/* ---- output -------------------------------------------------------------------------- */

static const char *host_name(const char *const *names, int nhosts, int h, char *buf, size_t len)
{
	if (names && h < nhosts && names[h])
		return names[h];
	snprintf(buf, len, "host%d", h);
	return buf;
}

int timeline_print(const struct timeline *tl, FILE *out, const char *const *host_names,
		   int nhosts, const int *order, int n, int64_t t0_ns, int max)
{
	char hb[16], la[64], pa[64];
	int shown = 0;
	if (!order)
		n = tl->nconns;
	for (int k = 0; k < n && (max <= 0 || shown < max); k++, shown++) {
		const struct timeline_conn *c = &tl->conns[order ? order[k] : k];
		diag_addr_format(c->family, c->laddr, c->lport, true, la, sizeof(la));
		diag_addr_format(c->family, c->raddr, c->rport, true, pa, sizeof(pa));
		fprintf(out, "  %-8s %s > %s\n          ",
			host_name(host_names, nhosts, c->host, hb, sizeof(hb)), la, pa);
		int col = 10;
		for (int ei = c->first_ev; ei >= 0; ei = tl->evs[ei].next) {
			const struct timeline_event *ev = &tl->evs[ei];
			double ms = (double)(ev->mono_ns - t0_ns) / 1e6;
			char item[64];
			int len = snprintf(item, sizeof(item), "%s%s %.1f", ei == c->first_ev ? "" : ", ",
					   lab_state_name(ev->to), ms);
			if (col + len > 100) {
				fprintf(out, ",\n          ");
				col = 10;
				snprintf(item, sizeof(item), "%s %.1f", lab_state_name(ev->to), ms);
			}
			col += fprintf(out, "%s", item);
		}
		fputc('\n', out);
	}
	return n - shown;
}

void timeline_json(const struct timeline *tl, FILE *out, const char *const *host_names,
		   int nhosts)
{
	char hb[16], la[64], pa[64];
	for (int i = 0; i < tl->nconns; i++) {
		const struct timeline_conn *c = &tl->conns[i];
		diag_addr_format(c->family, c->laddr, c->lport, true, la, sizeof(la));
		diag_addr_format(c->family, c->raddr, c->rport, true, pa, sizeof(pa));
		/* host names are lab identifiers ([A-Za-z0-9_-]): no escaping needed */
		fprintf(out,
			"{\"type\":\"timeline\",\"host\":\"%s\",\"local\":\"%s\",\"peer\":\"%s\","
			"\"cookie\":%" PRIu64 ",\"events\":[",
			host_name(host_names, nhosts, c->host, hb, sizeof(hb)), la, pa, c->cookie);
		int64_t t0 = c->first_ev >= 0 ? tl->evs[c->first_ev].mono_ns : 0;
		for (int ei = c->first_ev; ei >= 0; ei = tl->evs[ei].next) {
			const struct timeline_event *ev = &tl->evs[ei];
			fprintf(out,
				"%s{\"state\":\"%s\",\"ts_ns\":%" PRId64 ",\"mono_ns\":%" PRId64
				",\"rel_us\":%" PRId64 "}",
				ei == c->first_ev ? "" : ",", lab_state_name(ev->to), ev->real_ns,
				ev->mono_ns, (ev->mono_ns - t0) / 1000);
		}
		fputs("]}\n", out);
	}
}

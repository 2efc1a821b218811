/* impair: netem's impairment model, in user space and seeded.  See impair.h. */
#include "engine/impair.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ---------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void impair_rng_seed(struct impair_rng *r, uint64_t seed, uint64_t stream)
{
	/* Mixing the stream in through splitmix gives unrelated states for neighbouring
	 * streams and seeds (seed 1 link 0 vs seed 0 link 1 do not collide). */
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t impair_rng_next(struct impair_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint32_t impair_rng_u32(struct impair_rng *r)
{
	return (uint32_t)(impair_rng_next(r) >> 32);
}

uint64_t impair_stream_id(int link, int dir)
{
	return ((uint64_t)(uint32_t)link << 1) | (uint64_t)(dir & 1);
}

/* ---- netem's building blocks ----------------------------------------------------------- */

uint32_t impair_pct_u32(double pct)
{
	if (pct <= 0)
		return 0;
	if (pct >= 100)
		return UINT32_MAX;
	return (uint32_t)(pct / 100.0 * (double)UINT32_MAX);
}

static void corr_init(struct impair_corr *c, double pct)
{
	c->rho = impair_pct_u32(pct);
	/* c->last keeps its value: a live change of correlation does not reset memory. */
}

/* A correlated uniform draw.  sch_netem's get_crandom() averages the new draw with the last
 * one, which narrows the distribution: "loss 10% 75%" then loses almost nothing (tc-netem(8)
 * calls its correlation broken).  Here the last value is kept with probability rho and a
 * fresh one drawn otherwise: every draw stays uniform, so a 10% loss stays 10% on average,
 * and consecutive draws correlate by rho (a loss follows a loss with probability
 * rho + (1 - rho) * p). */
static uint32_t corr_draw(struct impair_corr *c, struct impair_rng *r)
{
	if (c->rho == 0)
		return impair_rng_u32(r);
	uint64_t x = impair_rng_next(r);
	/* One 64-bit draw gives both the keep decision and the fresh value. */
	if ((uint32_t)x < c->rho)
		return c->last;
	c->last = (uint32_t)(x >> 32);
	return c->last;
}

/* sch_netem tabledist(): mu +- sigma, uniform or shaped by a table. */
static int64_t tabledist(int64_t mu, int64_t sigma, struct impair_corr *c, struct impair_rng *r,
			 const struct impair_dist *dist)
{
	if (sigma <= 0)
		return mu;
	uint32_t rnd = corr_draw(c, r);
	if (!dist || !dist->table || !dist->size)
		return (int64_t)(rnd % (uint64_t)(2 * sigma)) + mu - sigma;
	int64_t t = dist->table[rnd % dist->size];
	int64_t x = (sigma % IMPAIR_DIST_SCALE) * t;
	if (x >= 0)
		x += IMPAIR_DIST_SCALE / 2;
	else
		x -= IMPAIR_DIST_SCALE / 2;
	return x / IMPAIR_DIST_SCALE + (sigma / IMPAIR_DIST_SCALE) * t + mu;
}

/* ---- distribution tables ----------------------------------------------------------------- */

int impair_dist_load(const char *path, struct impair_dist *d)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	int16_t *t = malloc(cap * sizeof(*t));
	if (!t) {
		fclose(f);
		return -ENOMEM;
	}
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		if (*p == '#')
			continue;
		for (;;) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (v < INT16_MIN || v > INT16_MAX)
				goto bad;
			if (n == cap) {
				int16_t *nt = realloc(t, 2 * cap * sizeof(*t));
				if (!nt)
					goto nomem;
				t = nt;
				cap *= 2;
			}
			t[n++] = (int16_t)v;
			p = end;
		}
	}
	fclose(f);
	if (n == 0) {
		free(t);
		return -EINVAL;
	}
	d->table = t;
	d->size = n;
	return 0;
bad:
	fclose(f);
	free(t);
	return -EINVAL;
nomem:
	fclose(f);
	free(t);
	return -ENOMEM;
}

void impair_dist_free(struct impair_dist *d)
{
	if (!d)
		return;
	free(d->table);
	d->table = NULL;
	d->size = 0;
}

/* Acklam's rational approximation of the normal inverse CDF (relative error < 1.2e-9). */
static double norm_icdf(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
				   -2.759285104469687e+02, 1.383577518672690e+02,
				   -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
				   -1.556989798598866e+02, 6.680131188771972e+01,
				   -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
				   -2.400758277161838e+00, -2.549732539343734e+00,
				   4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
				   2.445134137142996e+00, 3.754408661907416e+00};
	double q, r;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Pareto with shape 3, shifted and scaled to mean 0 and standard deviation 1 (iproute2's
 * pareto table uses the same shape). */
static double pareto_icdf(double p)
{
	const double alpha = 3.0, mean = 1.5, sd = 0.8660254037844386;
	return (pow(1.0 - p, -1.0 / alpha) - mean) / sd;
}

int impair_dist_builtin(enum lab_dist dist, struct impair_dist *d)
{
	const size_t n = 4096;
	int16_t *t = malloc(n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		double p = ((double)i + 0.5) / (double)n, z;
		switch (dist) {
		case LAB_DIST_NORMAL: z = norm_icdf(p); break;
		case LAB_DIST_PARETO: z = pareto_icdf(p); break;
		/* iproute2's paretonormal mixes a quarter normal and three quarters pareto. */
		case LAB_DIST_PARETONORMAL: z = 0.25 * norm_icdf(p) + 0.75 * pareto_icdf(p); break;
		default: z = 2.0 * p - 1.0; break;
		}
		double v = z * IMPAIR_DIST_SCALE;
		if (v > INT16_MAX)
			v = INT16_MAX;
		if (v < INT16_MIN)
			v = INT16_MIN;
		t[i] = (int16_t)lrint(v);
	}
	d->table = t;
	d->size = n;
	return 0;
}

static const char *dist_name(enum lab_dist dist)
{
	switch (dist) {
	case LAB_DIST_NORMAL: return "normal";
	case LAB_DIST_PARETO: return "pareto";
	case LAB_DIST_PARETONORMAL: return "paretonormal";
	default: return NULL;
	}
}

int impair_dist_find(enum lab_dist dist, struct impair_dist *d, char *used, size_t usedlen)
{
	/* Where iproute2 installs its tables (Debian puts them under the multiarch dir). */
	static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/aarch64-linux-gnu/tc",
					   "/usr/lib/tc", "/usr/lib64/tc", "/usr/local/lib/tc"};
	const char *name = dist_name(dist);
	if (!name) {
		d->table = NULL;
		d->size = 0;
		if (used && usedlen)
			snprintf(used, usedlen, "uniform");
		return 0;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s.dist", dirs[i], name);
		if (impair_dist_load(path, d) == 0) {
			if (used && usedlen)
				snprintf(used, usedlen, "%s", path);
			return 0;
		}
	}
	if (used && usedlen)
		snprintf(used, usedlen, "built-in %s table", name);
	return impair_dist_builtin(dist, d);
}

/* ---- one direction ------------------------------------------------------------------------ */

void impair_dir_set(struct impair_dir *d, const struct lab_impair *p)
{
	d->p = *p;
	corr_init(&d->delay_cor, p->delay_corr);
	corr_init(&d->loss_cor, p->loss_corr);
	corr_init(&d->dup_cor, p->dup_corr);
	corr_init(&d->reorder_cor, p->reorder_corr);
	corr_init(&d->corrupt_cor, p->corrupt_corr);
}

void impair_dir_init(struct impair_dir *d, const struct lab_impair *p, uint64_t seed,
		     uint64_t stream)
{
	memset(d, 0, sizeof(*d));
	impair_rng_seed(&d->rng, seed, stream);
	impair_dir_set(d, p);
}

static int hit(struct impair_dir *d, struct impair_corr *c, double pct)
{
	uint32_t prob = impair_pct_u32(pct);
	/* Draw even at 0% would shift the stream when a live change turns a knob on; netem
	 * draws only when the knob is on, and so do we. */
	return prob && prob >= corr_draw(c, &d->rng);
}

/* sch_netem loss_gilb_ell(): the loss is drawn in the state the frame arrives in. */
static int loss_ge(struct impair_dir *d)
{
	const struct lab_impair *p = &d->p;
	if (!d->ge_bad) {
		if (impair_rng_u32(&d->rng) < impair_pct_u32(p->ge_p))
			d->ge_bad = 1;
		return impair_rng_u32(&d->rng) < impair_pct_u32(p->ge_k);
	}
	if (impair_rng_u32(&d->rng) < impair_pct_u32(p->ge_r))
		d->ge_bad = 0;
	return impair_rng_u32(&d->rng) < impair_pct_u32(p->ge_h);
}

static int loss_event(struct impair_dir *d)
{
	if (d->p.set & IMP_LOSS_GE)
		return loss_ge(d);
	if (d->p.set & IMP_LOSS)
		return hit(d, &d->loss_cor, d->p.loss);
	return 0;
}

/* One pass of netem_enqueue() for one copy; returns its fate and fills *c. */
static enum impair_fate decide_one(struct impair_dir *d, int64_t now, size_t len, uint32_t qlen,
				   int *dup, struct impair_copy *c)
{
	const struct lab_impair *p = &d->p;
	int count = 1;
	if (dup && (p->set & IMP_DUP) && hit(d, &d->dup_cor, p->dup))
		count++;
	if (loss_event(d))
		count--;
	if (dup)
		*dup = count > 1;
	if (count == 0)
		return IMPAIR_LOSS;

	c->corrupt_byte = -1;
	c->corrupt_bit = 0;
	c->reordered = 0;
	if ((p->set & IMP_CORRUPT) && hit(d, &d->corrupt_cor, p->corrupt) && len > 0) {
		c->corrupt_byte = (int)(impair_rng_u32(&d->rng) % len);
		c->corrupt_bit = (int)(impair_rng_u32(&d->rng) % 8);
	}

	uint32_t limit = (p->set & IMP_LIMIT) && p->limit ? p->limit : 1000;
	if (qlen >= limit) {
		if (dup)
			*dup = 0;
		return IMPAIR_OVERLIMIT;
	}

	uint32_t gap = p->gap ? p->gap : 1;
	if (!(p->set & IMP_REORDER) || d->counter < gap - 1 ||
	    !hit(d, &d->reorder_cor, p->reorder)) {
		int64_t delay = tabledist(p->delay_ns, (p->set & IMP_JITTER) ? p->jitter_ns : 0,
					  &d->delay_cor, &d->rng, d->dist);
		if (delay < 0)
			delay = 0;
		if ((p->set & IMP_RATE) && p->rate_bps) {
			/* Serialization: a frame starts after the last queued one finished, and
			 * its own delay runs concurrently with that wait (netem does the same). */
			if (qlen > 0 && d->last_send_ns > now) {
				delay -= d->last_send_ns - now;
				if (delay < 0)
					delay = 0;
				now = d->last_send_ns;
			}
			delay += (int64_t)((double)len * 8.0 * 1e9 / (double)p->rate_bps);
		}
		c->send_ns = now + delay;
		d->last_send_ns = c->send_ns;
		d->counter++;
	} else {
		/* netem's reorder: this frame goes out now, ahead of the delayed ones. */
		c->send_ns = now;
		c->reordered = 1;
		d->counter = 0;
	}
	return IMPAIR_SEND;
}

void impair_decide(struct impair_dir *d, int64_t now_ns, size_t len, uint32_t qlen,
		   struct impair_verdict *v)
{
	int dup = 0;
	memset(v, 0, sizeof(*v));
	v->fate = decide_one(d, now_ns, len, qlen, &dup, &v->copy[0]);
	if (v->fate != IMPAIR_SEND)
		return;
	v->ncopies = 1;
	if (dup) {
		/* The duplicate goes through a second pass without duplication, as netem
		 * re-enqueues its clone with q->duplicate = 0. */
		if (decide_one(d, now_ns, len, qlen + 1, NULL, &v->copy[1]) == IMPAIR_SEND)
			v->ncopies = 2;
	}
}

/* ---- frame classification ----------------------------------------------------------------- */

int impair_tcp_flags(const uint8_t *f, size_t len)
{
	size_t off = 12;
	if (len < 14)
		return -1;
	unsigned type = (unsigned)f[off] << 8 | f[off + 1];
	off += 2;
	if (type == 0x8100 || type == 0x88a8) {
		if (len < off + 4)
			return -1;
		type = (unsigned)f[off + 2] << 8 | f[off + 3];
		off += 4;
	}
	unsigned proto;
	if (type == 0x0800) {
		if (len < off + 20)
			return -1;
		size_t ihl = (size_t)(f[off] & 0x0f) * 4;
		if ((f[off] >> 4) != 4 || ihl < 20 || len < off + ihl)
			return -1;
		unsigned frag = ((unsigned)f[off + 6] << 8 | f[off + 7]) & 0x1fff;
		if (frag)
			return -1;  /* a later fragment carries no TCP header */
		proto = f[off + 9];
		off += ihl;
	} else if (type == 0x86dd) {
		if (len < off + 40 || (f[off] >> 4) != 6)
			return -1;
		proto = f[off + 6];
		off += 40;
		/* Hop-by-hop, routing and destination options share one layout. */
		while (proto == 0 || proto == 43 || proto == 60) {
			if (len < off + 8)
				return -1;
			unsigned next = f[off];
			off += ((size_t)f[off + 1] + 1) * 8;
			proto = next;
		}
	} else {
		return -1;
	}
	if (proto != 6 || len < off + 14)
		return -1;
	return f[off + 13] & 0x3f;
}

int impair_rule_match(const struct lab_rule *r, int tcp_flags)
{
	if (tcp_flags < 0)
		return 0;
	/* A rule without a mask compares every flag: "ACK" means a bare ACK. */
	uint8_t mask = r->mask ? r->mask : 0x3f;
	return ((uint8_t)tcp_flags & mask) == (r->flags & mask);
}

/* lab_impair: a link's impairments, netem-shaped (delay, loss, rate, ...), for the link
 * statement and the impair step.  Keys before any X>Y apply to both directions.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab_int.h"

enum { K_DELAY, K_JITTER, K_DELAY_CORR, K_DIST, K_LOSS, K_LOSS_CORR, K_DUP, K_DUP_CORR,
       K_REORDER, K_REORDER_CORR, K_GAP, K_CORRUPT, K_CORRUPT_CORR, K_RATE, K_LIMIT, K_NKEYS };

#define IMP(m) LAB_FIELD(struct lab_impair, m), .once = true
#define PCT .what = "a percentage like 5%"

static const char *const dists[] = {"uniform", "normal", "pareto", "paretonormal", NULL};

/* Each key once per section (the shared one, then each X>Y); `bit` is its IMP_* bit. */
static const struct lab_opt imp_opts[K_NKEYS] = {
	[K_DELAY] = {"delay", LAB_OPT_DURATION, IMP(delay_ns), .bit = IMP_DELAY,
		     .what = "a duration like 10ms"},
	[K_JITTER] = {"jitter", LAB_OPT_DURATION, IMP(jitter_ns), .bit = IMP_JITTER,
		      .what = "a duration like 10ms"},
	[K_DELAY_CORR] = {"delay-corr", LAB_OPT_PERCENT, IMP(delay_corr), .bit = IMP_DELAY_CORR,
			  PCT},
	[K_DIST] = {"distribution", LAB_OPT_WORD, IMP(dist), .bit = IMP_DIST,
		    .words = dists, .min = LAB_DIST_UNIFORM, .bad = "unknown distribution",
		    .what = "uniform, normal, pareto or paretonormal"},
	[K_LOSS] = {"loss", LAB_OPT_PERCENT, IMP(loss), .bit = IMP_LOSS, PCT},
	[K_LOSS_CORR] = {"loss-corr", LAB_OPT_PERCENT, IMP(loss_corr), .bit = IMP_LOSS_CORR, PCT},
	[K_DUP] = {"duplicate", LAB_OPT_PERCENT, IMP(dup), .bit = IMP_DUP, PCT},
	[K_DUP_CORR] = {"duplicate-corr", LAB_OPT_PERCENT, IMP(dup_corr), .bit = IMP_DUP_CORR,
			PCT},
	[K_REORDER] = {"reorder", LAB_OPT_PERCENT, IMP(reorder), .bit = IMP_REORDER, PCT},
	[K_REORDER_CORR] = {"reorder-corr", LAB_OPT_PERCENT, IMP(reorder_corr),
			    .bit = IMP_REORDER_CORR, PCT},
	[K_GAP] = {"gap", LAB_OPT_UINT, IMP(gap), .bit = IMP_GAP, .what = "a number", .min = 1,
		   .max = UINT32_MAX},
	[K_CORRUPT] = {"corrupt", LAB_OPT_PERCENT, IMP(corrupt), .bit = IMP_CORRUPT, PCT},
	[K_CORRUPT_CORR] = {"corrupt-corr", LAB_OPT_PERCENT, IMP(corrupt_corr),
			    .bit = IMP_CORRUPT_CORR, PCT},
	[K_RATE] = {"rate", LAB_OPT_BITRATE, IMP(rate_bps), .bit = IMP_RATE,
		    .what = "a bit rate like 10mbit", .above0 = "rate must be above 0"},
	[K_LIMIT] = {"limit", LAB_OPT_UINT, IMP(limit), .bit = IMP_LIMIT, .what = "a number",
		     .min = 1, .max = UINT32_MAX},
};
static const struct lab_optset imp_set = LAB_OPTSET(NULL, imp_opts);

/* loss gemodel P R [1-H [1-K]]; t[*i] is "gemodel". */
static int loss_gemodel(struct parser *p, const struct lab_opt *o, struct lab_optctx *c,
			struct tok *t, int *ip, int n)
{
	(void)o;
	struct lab_impair *v = c->obj;
	int i = *ip;
	if (i + 2 >= n)
		return lab_perr(p, t[i].col,
				"loss gemodel needs P and R percentages (and optionally 1-H and 1-K)");
	if (lab_get_percent(p, &t[i + 1], &v->ge_p) || lab_get_percent(p, &t[i + 2], &v->ge_r))
		return -1;
	i += 2;
	/* Textbook Gilbert model unless told: every packet in the bad state is lost
	 * (1-h = 100%), none in the good one (1-k = 0%). */
	v->ge_h = 100;
	v->ge_k = 0;
	double x;
	if (i + 1 < n && lab_parse_percent(t[i + 1].s, &x) != -EINVAL) {
		if (lab_get_percent(p, &t[++i], &v->ge_h))
			return -1;
		if (i + 1 < n && lab_parse_percent(t[i + 1].s, &x) != -EINVAL &&
		    lab_get_percent(p, &t[++i], &v->ge_k))
			return -1;
	}
	*ip = i;
	return 0;
}

/* "loss gemodel ...": the other loss model, into ge_p, ge_r, ge_h, ge_k. */
_Static_assert(offsetof(struct lab_impair, ge_k) ==
	       offsetof(struct lab_impair, ge_p) + 3 * sizeof(double), "ge_p..ge_k in a row");
static const struct lab_opt imp_loss_ge = {
	"loss", LAB_OPT_FN, .off = offsetof(struct lab_impair, ge_p), .size = 4 * sizeof(double),
	.bit = IMP_LOSS_GE, .what = "a percentage like 5%", .fn = loss_gemodel,
};

/* Resolve "X>Y" against the link's hosts a, b: 0 for a>b, 1 for b>a. */
static int dir_of(struct parser *p, const struct tok *t, int a, int b)
{
	int hx, hy;
	if (lab_get_dir_hosts(p, t, &hx, &hy))
		return -1;
	if (hx == a && hy == b)
		return 0;
	if (hx == b && hy == a)
		return 1;
	return lab_perr(p, t->col, "%s is not a direction of the link %s %s", t->s,
			p->lab->hosts[a].name, p->lab->hosts[b].name);
}

/* Parse impairments from t[i..n) into imp[0..1] for a link between hosts a and b.
 * Keys before any X>Y apply to both directions, after it to that direction only.
 * *cleared is set when the only word is "clear" (impair steps). */
int lab_parse_impairs(struct parser *p, struct tok *t, int i, int n, int a, int b,
		      struct lab_impair imp[2], bool allow_clear, bool *cleared)
{
	int cols[2][K_NKEYS];
	int dirs = 3; /* bit 0: a>b, bit 1: b>a */
	struct lab_impair v;
	struct lab_optctx c = {.obj = &v, .host = -1};
	memset(cols, 0, sizeof(cols));
	if (cleared)
		*cleared = false;
	if (allow_clear && i < n && !strcmp(t[i].s, "clear")) {
		if (i + 1 < n)
			return lab_perr(p, t[i + 1].col, "unexpected \"%s\" after clear",
					t[i + 1].s);
		memset(imp, 0, 2 * sizeof(*imp));
		*cleared = true;
		return 0;
	}
	for (; i < n; i++) {
		const struct tok *kt = &t[i];
		if (lab_is_dir_tok(kt->s)) {
			int d = dir_of(p, kt, a, b);
			if (d < 0)
				return -1;
			dirs = 1 << d;
			c.seen = 0;
			continue;
		}
		int k = lab_opt_key(p, &imp_set, kt, &c);
		if (k < 0)
			return -1;
		c.seen |= 1u << k;
		/* Parse the value once into v, then copy into each direction. */
		const struct lab_opt *o = &imp_opts[k];
		if (k == K_LOSS && i + 1 < n && !strcmp(t[i + 1].s, "gemodel"))
			o = &imp_loss_ge;
		memset(&v, 0, sizeof(v));
		if (lab_opt_value(p, o, &c, t, &i, n))
			return -1;
		for (int d = 0; d < 2; d++) {
			if (!(dirs & (1 << d)))
				continue;
			struct lab_impair *m = &imp[d];
			/* loss PCT and loss gemodel are two loss models: the later one wins
			 * (a direction section may override the shared one). */
			if (o->bit == IMP_LOSS_GE)
				m->set &= ~(uint32_t)(IMP_LOSS);
			if (o->bit == IMP_LOSS)
				m->set &= ~(uint32_t)(IMP_LOSS_GE);
			m->set |= o->bit;
			cols[d][k] = kt->col;
			memcpy((char *)m + o->off, (char *)&v + o->off, o->size);
		}
	}
	/* netem's own dependencies. */
	static const struct { uint32_t bit, needs; int key; const char *msg; } deps[] = {
		{IMP_JITTER, IMP_DELAY, K_JITTER, "jitter needs delay"},
		{IMP_DIST, IMP_JITTER, K_DIST, "distribution needs jitter"},
		{IMP_REORDER, IMP_DELAY, K_REORDER,
		 "reorder needs delay (netem reorders by sending some packets without it)"},
		{IMP_GAP, IMP_REORDER, K_GAP, "gap needs reorder"},
	};
	for (size_t j = 0; j < sizeof(deps) / sizeof(deps[0]); j++) {
		bool bad[2];
		for (int d = 0; d < 2; d++)
			bad[d] = (imp[d].set & deps[j].bit) && !(imp[d].set & deps[j].needs);
		if (bad[0] && bad[1] && cols[0][deps[j].key] == cols[1][deps[j].key])
			return lab_perr(p, cols[0][deps[j].key], "%s", deps[j].msg);
		for (int d = 0; d < 2; d++)
			if (bad[d])
				return lab_perr(p, cols[d][deps[j].key], "%s (in direction %s>%s)",
						deps[j].msg, p->lab->hosts[d ? b : a].name,
						p->lab->hosts[d ? a : b].name);
	}
	return 0;
}

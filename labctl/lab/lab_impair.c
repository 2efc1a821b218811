/* lab_impair: a link's impairments, netem-shaped (delay, loss, rate, ...), for the link
 * statement and the impair step.  Keys before any X>Y apply to both directions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab_int.h"

enum { K_DELAY, K_JITTER, K_DELAY_CORR, K_DIST, K_LOSS, K_LOSS_CORR, K_DUP, K_DUP_CORR,
       K_REORDER, K_REORDER_CORR, K_GAP, K_CORRUPT, K_CORRUPT_CORR, K_RATE, K_LIMIT, K_NKEYS };

static const char *const imp_keys[K_NKEYS] = {
	[K_DELAY] = "delay", [K_JITTER] = "jitter", [K_DELAY_CORR] = "delay-corr",
	[K_DIST] = "distribution", [K_LOSS] = "loss", [K_LOSS_CORR] = "loss-corr",
	[K_DUP] = "duplicate", [K_DUP_CORR] = "duplicate-corr", [K_REORDER] = "reorder",
	[K_REORDER_CORR] = "reorder-corr", [K_GAP] = "gap", [K_CORRUPT] = "corrupt",
	[K_CORRUPT_CORR] = "corrupt-corr", [K_RATE] = "rate", [K_LIMIT] = "limit",
};

static int imp_key(const char *s)
{
	for (int k = 0; k < K_NKEYS; k++)
		if (!strcmp(s, imp_keys[k]))
			return k;
	return -1;
}

/* Is token s a direction "X>Y"? */
bool is_dir_tok(const char *s)
{
	const char *gt = strchr(s, '>');
	return gt && gt != s && gt[1];
}

/* Resolve "X>Y" against the link's hosts a, b: 0 for a>b, 1 for b>a. */
static int dir_of(struct parser *p, const struct tok *t, int a, int b)
{
	char x[64], y[64];
	const char *gt = strchr(t->s, '>');
	size_t xl = (size_t)(gt - t->s);
	if (xl >= sizeof(x) || strlen(gt + 1) >= sizeof(y))
		return perr(p, t->col, "bad direction \"%s\"", t->s);
	memcpy(x, t->s, xl);
	x[xl] = '\0';
	snprintf(y, sizeof(y), "%s", gt + 1);
	int hx = get_host_s(p, x, t->col);
	if (hx < 0)
		return -1;
	int hy = get_host_s(p, y, t->col + (int)xl + 1);
	if (hy < 0)
		return -1;
	if (hx == a && hy == b)
		return 0;
	if (hx == b && hy == a)
		return 1;
	return perr(p, t->col, "%s is not a direction of the link %s %s", t->s,
		    p->lab->hosts[a].name, p->lab->hosts[b].name);
}

/* Parse impairments from t[i..n) into imp[0..1] for a link between hosts a and b.
 * Keys before any X>Y apply to both directions, after it to that direction only.
 * *cleared is set when the only word is "clear" (impair steps). */
int parse_impairs(struct parser *p, struct tok *t, int i, int n, int a, int b,
		  struct lab_impair imp[2], bool allow_clear, bool *cleared)
{
	int cols[2][K_NKEYS];
	int dirs = 3; /* bit 0: a>b, bit 1: b>a */
	uint32_t seen = 0;
	memset(cols, 0, sizeof(cols));
	if (cleared)
		*cleared = false;
	if (allow_clear && i < n && !strcmp(t[i].s, "clear")) {
		if (i + 1 < n)
			return perr(p, t[i + 1].col, "unexpected \"%s\" after clear", t[i + 1].s);
		memset(imp, 0, 2 * sizeof(*imp));
		*cleared = true;
		return 0;
	}
	for (; i < n; i++) {
		const struct tok *kt = &t[i];
		if (is_dir_tok(kt->s)) {
			int d = dir_of(p, kt, a, b);
			if (d < 0)
				return -1;
			dirs = 1 << d;
			seen = 0;
			continue;
		}
		int k = imp_key(kt->s);
		if (k < 0) {
			char sug[96];
			mean(sug, sizeof(sug), kt->s, imp_keys, K_NKEYS);
			return perr(p, kt->col, "unknown key \"%s\"%s", kt->s, sug);
		}
		if (seen & (1u << k))
			return perr(p, kt->col, "%s given twice", kt->s);
		seen |= 1u << k;
		/* Parse the value once into v, then copy into each direction. */
		struct lab_impair v;
		uint32_t bit = 0;
		memset(&v, 0, sizeof(v));
		static const char *const what_pct = "a percentage like 5%";
		switch (k) {
		case K_DELAY:
		case K_JITTER:
			if (need(p, t, i, n, "a duration like 10ms"))
				return -1;
			i++;
			if (get_duration(p, &t[i], k == K_DELAY ? &v.delay_ns : &v.jitter_ns))
				return -1;
			bit = k == K_DELAY ? IMP_DELAY : IMP_JITTER;
			break;
		case K_DIST: {
			static const char *const dists[] = {"uniform", "normal", "pareto",
							    "paretonormal"};
			if (need(p, t, i, n, "uniform, normal, pareto or paretonormal"))
				return -1;
			i++;
			int d = -1;
			for (int j = 0; j < 4; j++)
				if (!strcmp(t[i].s, dists[j]))
					d = j;
			if (d < 0) {
				char sug[96];
				mean(sug, sizeof(sug), t[i].s, dists, 4);
				return perr(p, t[i].col,
					    "unknown distribution \"%s\" (uniform, normal, pareto, "
					    "paretonormal)%s",
					    t[i].s, sug);
			}
			v.dist = (enum lab_dist)(LAB_DIST_UNIFORM + d);
			bit = IMP_DIST;
			break;
		}
		case K_LOSS:
			if (i + 1 < n && !strcmp(t[i + 1].s, "gemodel")) {
				i++;
				if (i + 2 >= n)
					return perr(p, t[i].col,
						    "loss gemodel needs P and R percentages (and "
						    "optionally 1-H and 1-K)");
				if (get_percent(p, &t[i + 1], &v.ge_p) ||
				    get_percent(p, &t[i + 2], &v.ge_r))
					return -1;
				i += 2;
				/* Textbook Gilbert model unless told: every packet in the bad
				 * state is lost (1-h = 100%), none in the good one (1-k = 0%). */
				v.ge_h = 100;
				v.ge_k = 0;
				double x;
				if (i + 1 < n && lab_parse_percent(t[i + 1].s, &x) != -EINVAL) {
					if (get_percent(p, &t[++i], &v.ge_h))
						return -1;
					if (i + 1 < n && lab_parse_percent(t[i + 1].s, &x) != -EINVAL &&
					    get_percent(p, &t[++i], &v.ge_k))
						return -1;
				}
				bit = IMP_LOSS_GE;
				break;
			}
			/* fallthrough */
		case K_DELAY_CORR:
		case K_LOSS_CORR:
		case K_DUP:
		case K_DUP_CORR:
		case K_REORDER:
		case K_REORDER_CORR:
		case K_CORRUPT:
		case K_CORRUPT_CORR: {
			double x;
			if (need(p, t, i, n, what_pct))
				return -1;
			i++;
			if (get_percent(p, &t[i], &x))
				return -1;
			switch (k) {
			case K_DELAY_CORR: v.delay_corr = x; bit = IMP_DELAY_CORR; break;
			case K_LOSS: v.loss = x; bit = IMP_LOSS; break;
			case K_LOSS_CORR: v.loss_corr = x; bit = IMP_LOSS_CORR; break;
			case K_DUP: v.dup = x; bit = IMP_DUP; break;
			case K_DUP_CORR: v.dup_corr = x; bit = IMP_DUP_CORR; break;
			case K_REORDER: v.reorder = x; bit = IMP_REORDER; break;
			case K_REORDER_CORR: v.reorder_corr = x; bit = IMP_REORDER_CORR; break;
			case K_CORRUPT: v.corrupt = x; bit = IMP_CORRUPT; break;
			default: v.corrupt_corr = x; bit = IMP_CORRUPT_CORR; break;
			}
			break;
		}
		case K_GAP:
		case K_LIMIT: {
			int64_t x;
			if (need(p, t, i, n, "a number"))
				return -1;
			i++;
			if (get_uint(p, &t[i], kt->s, 1, UINT32_MAX, &x))
				return -1;
			if (k == K_GAP) {
				v.gap = (uint32_t)x;
				bit = IMP_GAP;
			} else {
				v.limit = (uint32_t)x;
				bit = IMP_LIMIT;
			}
			break;
		}
		case K_RATE: {
			if (need(p, t, i, n, "a bit rate like 10mbit"))
				return -1;
			i++;
			int rc = lab_parse_bitrate(t[i].s, &v.rate_bps);
			if (rc == -ERANGE)
				return perr(p, t[i].col, "bit rate \"%s\" is too large", t[i].s);
			if (rc)
				return perr(p, t[i].col,
					    "expected a bit rate like 10mbit, got \"%s\"", t[i].s);
			if (v.rate_bps == 0)
				return perr(p, t[i].col, "rate must be above 0");
			bit = IMP_RATE;
			break;
		}
		}
		for (int d = 0; d < 2; d++) {
			if (!(dirs & (1 << d)))
				continue;
			struct lab_impair *m = &imp[d];
			/* loss PCT and loss gemodel are two loss models: the later one wins
			 * (a direction section may override the shared one). */
			if (bit == IMP_LOSS_GE)
				m->set &= ~(uint32_t)(IMP_LOSS);
			if (bit == IMP_LOSS)
				m->set &= ~(uint32_t)(IMP_LOSS_GE);
			m->set |= bit;
			cols[d][k] = kt->col;
			switch (bit) {
			case IMP_DELAY: m->delay_ns = v.delay_ns; break;
			case IMP_JITTER: m->jitter_ns = v.jitter_ns; break;
			case IMP_DELAY_CORR: m->delay_corr = v.delay_corr; break;
			case IMP_DIST: m->dist = v.dist; break;
			case IMP_LOSS: m->loss = v.loss; break;
			case IMP_LOSS_CORR: m->loss_corr = v.loss_corr; break;
			case IMP_LOSS_GE:
				m->ge_p = v.ge_p; m->ge_r = v.ge_r; m->ge_h = v.ge_h; m->ge_k = v.ge_k;
				break;
			case IMP_DUP: m->dup = v.dup; break;
			case IMP_DUP_CORR: m->dup_corr = v.dup_corr; break;
			case IMP_REORDER: m->reorder = v.reorder; break;
			case IMP_REORDER_CORR: m->reorder_corr = v.reorder_corr; break;
			case IMP_GAP: m->gap = v.gap; break;
			case IMP_CORRUPT: m->corrupt = v.corrupt; break;
			case IMP_CORRUPT_CORR: m->corrupt_corr = v.corrupt_corr; break;
			case IMP_RATE: m->rate_bps = v.rate_bps; break;
			case IMP_LIMIT: m->limit = v.limit; break;
			}
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
			return perr(p, cols[0][deps[j].key], "%s", deps[j].msg);
		for (int d = 0; d < 2; d++)
			if (bad[d])
				return perr(p, cols[d][deps[j].key], "%s (in direction %s>%s)",
					    deps[j].msg, p->lab->hosts[d ? b : a].name,
					    p->lab->hosts[d ? a : b].name);
	}
	return 0;
}

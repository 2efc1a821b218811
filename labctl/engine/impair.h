/* impair: the netem-style impairment model of the userlink engine, as pure functions.
 *
 * Each direction of a link owns one struct impair_dir: its parameters, its own PRNG stream
 * (seeded from the lab seed, the link index and the direction, so one direction's draws never
 * depend on traffic in the other direction or on another link) and the model state
 * (correlation memory, Gilbert-Elliott state, reorder counter, serialization clock).
 * impair_decide() turns one frame into a verdict: dropped, or sent once or twice (duplicate),
 * each copy at its own time, possibly with one bit flipped.  It follows sch_netem's
 * netem_enqueue() order (duplicate, loss, corrupt, queue limit, reorder, delay, rate) so the
 * two engines mean the same thing by the same numbers; one deliberate difference: correlation
 * keeps the mean (netem's does not, see corr_draw in impair.c).  No I/O, no clocks: time comes in as
 * an argument, which is what makes the unit tests possible.
 *
 * impair_rule_match() classifies a frame (Ethernet + IPv4/IPv6 + TCP) for scripted rules.
 */
#ifndef LABCTL_IMPAIR_H
#define LABCTL_IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "lab/lab.h"

/* xoshiro256** seeded through splitmix64: fast, good, and identical on every machine. */
struct impair_rng {
	uint64_t s[4];
};

void impair_rng_seed(struct impair_rng *r, uint64_t seed, uint64_t stream);
uint64_t impair_rng_next(struct impair_rng *r);
uint32_t impair_rng_u32(struct impair_rng *r);

/* The PRNG stream of direction dir of link `link` under lab seed `seed`. */
uint64_t impair_stream_id(int link, int dir);

/* A correlated uniform source: rho = 0 means independent draws (see corr_draw). */
struct impair_corr {
	uint32_t last;
	uint32_t rho;
};

/* A delay distribution table in tc's .dist format: values scaled by IMPAIR_DIST_SCALE,
 * indexed by a uniform draw.  NULL table = uniform jitter (netem's default). */
#define IMPAIR_DIST_SCALE 8192
struct impair_dist {
	int16_t *table;
	size_t size;
};

/* Parse a tc .dist text file (whitespace separated integers, '#' comments).
 * Returns 0 or a negative errno; free with impair_dist_free(). */
int impair_dist_load(const char *path, struct impair_dist *d);
void impair_dist_free(struct impair_dist *d);
/* Built-in tables generated from the distributions' inverse CDFs (normal, pareto,
 * paretonormal), for hosts without iproute2's tables.  Returns 0 or -ENOMEM. */
int impair_dist_builtin(enum lab_dist dist, struct impair_dist *d);
/* The table for dist: iproute2's file where installed, else the built-in one; NONE and
 * UNIFORM give an empty table (uniform jitter).  `used` receives where it came from. */
int impair_dist_find(enum lab_dist dist, struct impair_dist *d, char *used, size_t usedlen);

struct impair_dir {
	struct lab_impair p;
	const struct impair_dist *dist;  /* not owned; NULL = uniform */
	struct impair_rng rng;
	struct impair_corr delay_cor, loss_cor, dup_cor, reorder_cor, corrupt_cor;
	int ge_bad;               /* Gilbert-Elliott: 0 good, 1 bad */
	uint32_t counter;         /* frames since the last reordered one (netem's q->counter) */
	int64_t last_send_ns;     /* send time of the last frame queued (rate reference) */
};

void impair_dir_init(struct impair_dir *d, const struct lab_impair *p, uint64_t seed,
		     uint64_t stream);
/* Change parameters of a live direction; the PRNG stream and the clocks carry on. */
void impair_dir_set(struct impair_dir *d, const struct lab_impair *p);

enum impair_fate { IMPAIR_SEND, IMPAIR_LOSS, IMPAIR_OVERLIMIT };

struct impair_copy {
	int64_t send_ns;          /* absolute time to hand it on */
	int corrupt_byte;         /* -1: intact; else flip corrupt_bit of this byte */
	int corrupt_bit;
	int reordered;            /* sent ahead of earlier frames */
};

struct impair_verdict {
	enum impair_fate fate;
	int ncopies;              /* 0 when dropped, 2 when duplicated */
	struct impair_copy copy[2];
};

/* Decide the fate of a frame of len bytes arriving at now_ns while qlen frames of this
 * direction wait in the queue. */
void impair_decide(struct impair_dir *d, int64_t now_ns, size_t len, uint32_t qlen,
		   struct impair_verdict *v);

/* The TCP flags of frame (Ethernet II, optional 802.1Q, IPv4 without fragment offset or
 * IPv6 with hop-by-hop/routing/destination options), or -1 when it is not a TCP segment. */
int impair_tcp_flags(const uint8_t *frame, size_t len);

/* Does a frame with these TCP flags match rule r? (flags & mask) == r->flags. */
int impair_rule_match(const struct lab_rule *r, int tcp_flags);

/* Percent (0..100) to netem's u32 probability scale, as tc does (100% = UINT32_MAX); both
 * engines use it, so the same percentage means the same probability on each. */
uint32_t impair_pct_u32(double pct);

#endif

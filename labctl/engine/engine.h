/* engine: how a lab link is made and impaired.
 *
 * The topology builder (topo.c) makes the namespaces, then asks the engine to create each
 * link's two devices (dev_a inside host a, dev_b inside host b), then assigns addresses,
 * brings devices up and adds routes by device name.  Engines:
 *   veth      a plain veth pair, no impairments (labs without impairments on kernels
 *             without netem; the baseline)
 *   netem     impairments on the wire: a hidden wire namespace per link, with netem qdiscs
 *             (libnl rtnl_netem_*) on its egress toward each host
 *   userlink  a TAP device in each host and a libev forwarder process moving frames between
 *             them with the same parameters, from a seeded PRNG, plus scripted drop rules
 */
#ifndef LABCTL_ENGINE_H
#define LABCTL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "lab/lab.h"

struct nlx;

/* What the engine sees of a host: its namespace and its route socket. */
struct engine_host {
	const char *name;
	int netns_fd;
	struct nlx *nl;   /* NETLINK_ROUTE socket opened inside the host's namespace */
};

struct engine;

/* What one direction of a link did with the frames offered to it, since the link was made. */
struct engine_dir_stats {
	uint64_t delivered;   /* frames handed on toward the receiver (duplicates count) */
	uint64_t dropped;     /* every frame dropped: loss model, queue limit, scripted rule */
	bool split;           /* the engine knows the split below (userlink; netem does not) */
	uint64_t lost, overlimit, ruled;
};

struct engine_ops {
	const char *name;
	/* Create link `link` of the lab: lab->links[link].dev_a in a, dev_b in b. */
	int (*link_create)(struct engine *en, int link, const struct engine_host *a,
			   const struct engine_host *b, struct lc_err *e);
	/* Called once after every link exists (userlink starts its forwarder here). */
	int (*start)(struct engine *en, struct lc_err *e);
	/* Replace direction dir (0: a->b, 1: b->a) of a live link's impairments. */
	int (*link_impair)(struct engine *en, int link, int dir, const struct lab_impair *imp,
			   struct lc_err *e);
	/* Where to capture a link on the wire (both directions, one clock): a namespace fd and
	 * device name, or -ENOTSUP when the engine has no wire (capture on the hosts instead). */
	int (*wire_point)(struct engine *en, int link, int *netns_fd, char *ifname, size_t len);
	/* Both directions' counters (st[0]: a->b); NULL when the engine keeps none (veth). */
	int (*link_stats)(struct engine *en, int link, struct engine_dir_stats st[2],
			  struct lc_err *e);
	void (*free)(struct engine *en);
};

struct engine {
	const struct engine_ops *ops;
	const struct lab *lab;
	uint64_t seed;
	void *priv;
};

/* engine_new flags */
#define ENGINE_LIVE 1u   /* the lab stays up (labctl up): its links may be impaired later */

/* Pick and make an engine: name "auto", "netem", "userlink" or "veth".  auto explains the
 * choice in why (e.g. "userlink: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM)"): a
 * lab that impairs nothing and is not ENGINE_LIVE gets plain veth without a probe; otherwise
 * it probes the kernel once for sch_netem.  Fails with a what-to-do message when the lab
 * needs what the engine lacks (drop rules need userlink; netem asked on a kernel without it). */
int engine_new(const char *name, const struct lab *lab, uint64_t seed, unsigned flags,
	       struct engine **out, char *why, size_t whylen, struct lc_err *e);
void engine_free(struct engine *en);

/* True when the kernel can make a netem qdisc (probed once, in a throwaway namespace). */
int engine_probe_netem(struct lc_err *e);

#endif

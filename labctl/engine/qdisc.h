/* qdisc: netem qdiscs through libnl-route (rtnl_netem_*).
 *
 * libnl 3.7 knows netem's delay, jitter, correlations, loss, duplicate, reorder and gap,
 * corrupt, limit and distribution tables; it has no rate and no Gilbert-Elliott loss model,
 * so those two are appended to libnl's request as raw attributes with libmnl
 * (TCA_NETEM_RATE/TCA_NETEM_RATE64 and TCA_NETEM_LOSS{NETEM_LOSS_GE}).
 */
#ifndef LABCTL_QDISC_H
#define LABCTL_QDISC_H

#include <stdint.h>

#include "base/err.h"
#include "lab/lab.h"

struct nlx;

/* Create or change (as `tc qdisc replace ... root netem` would) the root netem qdisc of ifname in
 * x's namespace.  `where` names that namespace in messages; failures carry the kernel's
 * extack text. */
int qdisc_netem_replace(struct nlx *x, const char *where, const char *ifname,
			const struct lab_impair *imp, struct lc_err *e);

/* The root qdisc's counters on ifname, as `tc -s qdisc show` gives them: packets sent
 * (dequeued toward the device) and drops (netem: its loss model and its queue limit). */
int qdisc_stats(struct nlx *x, const char *where, const char *ifname, uint64_t *sent,
		uint64_t *drops, struct lc_err *e);

/* Remove the root qdisc of ifname (back to the device's default). */
int qdisc_root_delete(struct nlx *x, const char *where, const char *ifname, struct lc_err *e);

#endif

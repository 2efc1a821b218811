/* wire: the netem engine.  Impairments live on the wire, not on a host's own egress.
 *
 * Each link gets a hidden namespace, held only by fd:
 *
 *   host a: dev_a <-veth-> [ a --- bridge br0 --- b ] <-veth-> dev_b :host b
 *                          netem on a's egress (b->a)  netem on b's egress (a->b)
 *
 * netem on the sending host's own qdisc is seen by that host's TCP as local congestion
 * (TCP small queues, qdisc backpressure) rather than loss, as tc-netem(8) warns; here a
 * frame leaves the host at once (crossing into another namespace orphans the skb), and is
 * delayed or dropped on the far side of the veth, like on a real wire.  The wire namespace
 * also gives capture one clock and both directions (wire_point: device "a", host a's end).
 * IPv6 is off in the wire namespace so the bridge and its ports add no frames of their own.
 */
#ifndef LABCTL_WIRE_H
#define LABCTL_WIRE_H

#include "engine/engine.h"

extern const struct engine_ops wire_ops;

/* Make en->priv for a netem engine (engine_new calls this). */
int wire_init(struct engine *en, struct lc_err *e);

#endif

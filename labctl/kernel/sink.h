/* sink: where the spoofed sources of a SYN flood lead, so the victim's SYN+ACKs vanish.
 *
 * Not a blackhole route: with RTN_BLACKHOLE (or a blackhole nexthop, or no route at all) the
 * victim's route lookup for its SYN+ACK fails, and Linux then drops the SYN before queueing a
 * request socket (tcp_conn_request: route_req fails; IpOutNoRoutes and TcpExtListenDrops
 * rise), so the SYN queue never fills and a flood teaches nothing.  Instead the range is
 * routed to a device that discards whatever it is given: one end of a veth pair whose peer
 * stays down (veth drops what it cannot deliver, counting it as a TX drop), NOARP so no
 * neighbour is ever resolved.  The route lookup succeeds, the request socket is queued, the
 * SYN+ACK goes nowhere.  Both ends live inside the host's namespace.
 */
#ifndef LABCTL_SINK_H
#define LABCTL_SINK_H

#include "base/err.h"
#include "lab/lab.h"

struct nlx;

#define SINK_DEV "blackhole0"       /* the device the range is routed to */
#define SINK_PEER "blackhole1"      /* its peer, kept down */

/* Make the sink in x's namespace (named ns in messages) and route range (IPv4 or IPv6, with
 * its prefix) to it. */
int sink_add(struct nlx *x, const char *ns, const struct lab_addr *range, struct lc_err *e);

#endif

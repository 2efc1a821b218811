/* link: devices, addresses and routes inside one namespace, through libnl-route.
 *
 * Every function acts through an nlx socket opened inside the namespace it changes, and
 * every failure names the namespace (ns, a label for messages) and the device, with the
 * kernel's extack text.
 */
#ifndef LABCTL_LINK_H
#define LABCTL_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "lab/lab.h"
#include "kernel/nlx.h"

int link_ifindex(struct nlx *x, const char *ns, const char *dev, int *ifindex,
		 struct lc_err *e);
int link_set_up(struct nlx *x, const char *ns, const char *dev, struct lc_err *e);

/* Add addr (with its prefix) to dev; IPv6 addresses skip duplicate address detection so
 * they are usable at once. */
int link_addr_add(struct nlx *x, const char *ns, const char *dev, const struct lab_addr *addr,
		  struct lc_err *e);

/* The hardware address of dev. */
int link_mac(struct nlx *x, const char *ns, const char *dev, uint8_t mac[6], struct lc_err *e);

/* A permanent neighbour entry: ip is at mac on dev. */
int link_neigh_add(struct nlx *x, const char *ns, const char *dev, const struct lab_addr *ip,
		   const uint8_t mac[6], struct lc_err *e);

/* Routes: dst (prefixlen 0 = default) via gateway, or a blackhole route when gw is NULL and
 * blackhole is set. */
int link_route_add(struct nlx *x, const char *ns, const struct lab_addr *dst,
		   const struct lab_addr *gw, bool blackhole, struct lc_err *e);

/* A link-scope route: dst straight out of dev. */
int link_route_add_dev(struct nlx *x, const char *ns, const struct lab_addr *dst,
		       const char *dev, struct lc_err *e);

/* Switch off dev's segmentation and checksum offloads (ethtool's tx, sg, tso, gso; gro),
 * from inside namespace netns_fd: the stack then hands the device only whole frames of at
 * most the MTU, checksummed, as a TAP or a wire would carry them (engine/pktlink.h). */
int link_offloads_off(int netns_fd, const char *ns, const char *dev, struct lc_err *e);

#endif

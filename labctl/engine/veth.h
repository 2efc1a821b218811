/* veth: veth pairs whose two ends are born in their own namespaces.
 *
 * The request goes to the netlink socket of the first end's namespace and names the peer's
 * namespace by fd (IFLA_NET_NS_FD), so no device ever exists in the root namespace, even for
 * an instant: a SIGKILL at any moment leaves nothing behind.
 *
 * Give the two ends different ifindexes (veth_end.ifindex): the kernel treats a carrier
 * change of a veth as urgent only when its ifindex differs from its peer's (iflink), and
 * fresh namespaces hand out the same small numbers on both sides.  A non-urgent carrier-on
 * waits up to a second in linkwatch, and until then the end's qdisc stays noop and a bridge
 * port stays disabled: the first frames after the link is set up vanish.
 */
#ifndef LABCTL_VETH_H
#define LABCTL_VETH_H

#include <stdint.h>

#include "base/err.h"

struct nlx;

struct veth_end {
	const char *where;        /* namespace, for messages ("host client") */
	const char *name;         /* interface name */
	const uint8_t *mac;       /* 6 bytes, or NULL for a random one */
	int master;               /* ifindex of a bridge to enslave to (first end only), 0 none */
	int up;                   /* bring up at creation (first end only) */
	int ifindex;              /* ifindex to ask for, 0: the kernel's choice */
};

/* Make end `a` in x's namespace and end `b` in namespace b_netns_fd. */
int veth_pair_add(struct nlx *x, const struct veth_end *a, int b_netns_fd,
		  const struct veth_end *b, struct lc_err *e);

/* Make a bridge named name in x's namespace, up; *ifindex receives its index. */
int veth_bridge_add(struct nlx *x, const char *where, const char *name, int *ifindex,
		    struct lc_err *e);

/* The veth engine's link_create (engine.c): a plain pair, dev_a in host a, dev_b in host b,
 * with the stable MACs of userlink_mac(). */
struct engine;
struct engine_host;
int engine_veth_create(struct engine *en, int link, const struct engine_host *a,
		       const struct engine_host *b, struct lc_err *e);

#endif

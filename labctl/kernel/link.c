#include "kernel/link.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/sockios.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "kernel/netns.h"

static int link_get(struct nlx *x, const char *ns, const char *dev, struct rtnl_link **out,
		    struct lc_err *e)
{
	nlx_reset(x);
	int rc = rtnl_link_get_kernel(x->sk, 0, dev, out);
	if (rc < 0)
		return nlx_fail(x, rc, e, "looking up device %s in namespace %s", dev, ns);
	return 0;
}

int link_ifindex(struct nlx *x, const char *ns, const char *dev, int *ifindex,
		 struct lc_err *e)
{
	struct rtnl_link *l;
	int rc = link_get(x, ns, dev, &l, e);
	if (rc < 0)
		return rc;
	*ifindex = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return 0;
}

int link_set_up(struct nlx *x, const char *ns, const char *dev, struct lc_err *e)
{
	struct rtnl_link *orig, *change;
	int rc = link_get(x, ns, dev, &orig, e);
	if (rc < 0)
		return rc;
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(orig);
		return err_set(e, -ENOMEM, "out of memory");
	}
	rtnl_link_set_flags(change, IFF_UP);
	nlx_reset(x);
	rc = rtnl_link_change(x->sk, orig, change, 0);
	if (rc < 0)
		rc = nlx_fail(x, rc, e, "bringing up %s in namespace %s", dev, ns);
	rtnl_link_put(change);
	rtnl_link_put(orig);
	return rc;
}

static struct nl_addr *nladdr_from(const struct lab_addr *a)
{
	struct nl_addr *n = nl_addr_build(a->family, a->bytes, a->family == AF_INET ? 4 : 16);
	if (n)
		nl_addr_set_prefixlen(n, a->prefixlen < 0 ? (a->family == AF_INET ? 32 : 128)
							 : a->prefixlen);
	return n;
}

int link_addr_add(struct nlx *x, const char *ns, const char *dev, const struct lab_addr *addr,
		  struct lc_err *e)
{
	char txt[64];
	int ifindex, rc;
	lab_addr_format(addr, txt, sizeof(txt));
	if ((rc = link_ifindex(x, ns, dev, &ifindex, e)) < 0)
		return rc;
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = nladdr_from(addr);
	if (!ra || !local) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, addr->family);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, nl_addr_get_prefixlen(local));
	if (addr->family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	nlx_reset(x);
	rc = rtnl_addr_add(x->sk, ra, 0);
	if (rc < 0)
		rc = nlx_fail(x, rc, e, "adding address %s to %s in namespace %s", txt, dev, ns);
out:
	nl_addr_put(local);
	rtnl_addr_put(ra);
	return rc;
}

int link_mac(struct nlx *x, const char *ns, const char *dev, uint8_t mac[6], struct lc_err *e)
{
	struct rtnl_link *l;
	int rc = link_get(x, ns, dev, &l, e);
	if (rc < 0)
		return rc;
	struct nl_addr *a = rtnl_link_get_addr(l);
	if (!a || nl_addr_get_len(a) != 6)
		rc = err_set(e, -EINVAL, "device %s in namespace %s has no Ethernet address", dev, ns);
	else
		memcpy(mac, nl_addr_get_binary_addr(a), 6);
	rtnl_link_put(l);
	return rc;
}

int link_neigh_add(struct nlx *x, const char *ns, const char *dev, const struct lab_addr *ip,
		   const uint8_t mac[6], struct lc_err *e)
{
	char txt[64];
	int ifindex, rc;
	struct lab_addr host = *ip;
	host.prefixlen = -1;
	lab_addr_format(&host, txt, sizeof(txt));
	if ((rc = link_ifindex(x, ns, dev, &ifindex, e)) < 0)
		return rc;
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	struct nl_addr *dst = nladdr_from(&host);
	struct nl_addr *ll = nl_addr_build(AF_LLC, mac, 6);
	if (!n || !dst || !ll) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_family(n, ip->family);
	rtnl_neigh_set_dst(n, dst);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	nlx_reset(x);
	rc = rtnl_neigh_add(x->sk, n, NLM_F_CREATE | NLM_F_REPLACE);
	if (rc < 0)
		rc = nlx_fail(x, rc, e, "adding neighbour %s on %s in namespace %s", txt, dev, ns);
out:
	nl_addr_put(ll);
	nl_addr_put(dst);
	rtnl_neigh_put(n);
	return rc;
}

/* One static route in the main table: via gateway gw, or out of device dev (link scope), or a
 * blackhole (neither).  what names it in errors ("route 10.0.2.0/24 via 10.0.1.254"). */
static int route_add(struct nlx *x, const char *ns, const struct lab_addr *dst,
		     const struct lab_addr *gw, const char *dev, const char *what,
		     struct lc_err *e)
{
	int rc, ifindex = 0;
	if (dev && (rc = link_ifindex(x, ns, dev, &ifindex, e)) < 0)
		return rc;
	struct rtnl_route *r = rtnl_route_alloc();
	struct nl_addr *d = nladdr_from(dst);
	struct nl_addr *g = NULL;
	struct rtnl_nexthop *nh = NULL;
	if (!r || !d) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	rtnl_route_set_family(r, dst->family);
	rtnl_route_set_dst(r, d);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, dev ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
	if (!gw && !dev) {
		rtnl_route_set_type(r, RTN_BLACKHOLE);
	} else {
		nh = rtnl_route_nh_alloc();
		if (!nh) {
			rc = err_set(e, -ENOMEM, "out of memory");
			goto out;
		}
		if (gw) {
			struct lab_addr gwh = *gw;
			gwh.prefixlen = -1;
			if (!(g = nladdr_from(&gwh))) {
				rc = err_set(e, -ENOMEM, "out of memory");
				goto out;
			}
			rtnl_route_nh_set_gateway(nh, g);
		}
		if (dev)
			rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_set_type(r, RTN_UNICAST);
		rtnl_route_add_nexthop(r, nh); /* the route owns nh now */
		nh = NULL;
	}
	nlx_reset(x);
	rc = rtnl_route_add(x->sk, r, NLM_F_CREATE | NLM_F_EXCL);
	if (rc < 0)
		rc = nlx_fail(x, rc, e, "adding %s in namespace %s", what, ns);
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(g);
	nl_addr_put(d);
	rtnl_route_put(r);
	return rc;
}

int link_route_add(struct nlx *x, const char *ns, const struct lab_addr *dst,
		   const struct lab_addr *gw, bool blackhole, struct lc_err *e)
{
	char dtxt[64], gtxt[64], what[160];
	lab_addr_format(dst, dtxt, sizeof(dtxt));
	if (blackhole) {
		snprintf(what, sizeof(what), "blackhole route %s", dtxt);
		return route_add(x, ns, dst, NULL, NULL, what, e);
	}
	lab_addr_format(gw, gtxt, sizeof(gtxt));
	snprintf(what, sizeof(what), "route %s via %s", dtxt, gtxt);
	return route_add(x, ns, dst, gw, NULL, what, e);
}

int link_route_add_dev(struct nlx *x, const char *ns, const struct lab_addr *dst,
		       const char *dev, struct lc_err *e)
{
	char dtxt[64], what[160];
	lab_addr_format(dst, dtxt, sizeof(dtxt));
	snprintf(what, sizeof(what), "route %s dev %s", dtxt, dev);
	return route_add(x, ns, dst, NULL, dev, what, e);
}

int link_offloads_off(int netns_fd, const char *ns, const char *dev, struct lc_err *e)
{
	int saved, rc;
	if ((rc = netns_enter(netns_fd, &saved, e)) < 0)
		return rc;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rc = sk < 0 ? -errno : 0;
	netns_leave(&saved);
	if (rc < 0)
		return err_set(e, rc, "offloads of %s in namespace %s: socket: %s", dev, ns,
			       strerror(-rc));
	/* The legacy one-feature commands: each names its feature, no string table needed.
	 * Checksums first: the kernel keeps SG and TSO only while it may leave checksums. */
	static const struct { uint32_t cmd; const char *name; } off[] = {
		{ETHTOOL_STXCSUM, "tx-checksumming"}, {ETHTOOL_SSG, "scatter-gather"},
		{ETHTOOL_STSO, "tcp-segmentation-offload"},
		{ETHTOOL_SGSO, "generic-segmentation-offload"},
		{ETHTOOL_SGRO, "generic-receive-offload"},
	};
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		struct ethtool_value v = {.cmd = off[i].cmd, .data = 0};
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
		ifr.ifr_data = (void *)&v;
		if (ioctl(sk, SIOCETHTOOL, &ifr) < 0 && errno != EOPNOTSUPP) {
			rc = err_set(e, -errno, "switching off %s on %s in namespace %s: %s",
				     off[i].name, dev, ns, strerror(errno));
			break;
		}
	}
	close(sk);
	return rc;
}

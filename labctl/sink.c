/* sink: see sink.h. */
#include "sink.h"

#include <errno.h>
#include <net/if.h>
#include <sys/socket.h>

#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "link.h"
#include "nlx.h"

static int sink_dev_add(struct nlx *x, const char *ns, struct lc_err *e)
{
	struct rtnl_link *link = rtnl_link_veth_alloc();
	if (!link)
		return err_set(e, -ENOMEM, "sink %s in namespace %s: out of memory", SINK_DEV, ns);
	struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, SINK_DEV);
	rtnl_link_set_name(peer, SINK_PEER);
	/* up, so routes may use it; the peer stays down, so everything sent is dropped */
	rtnl_link_set_flags(link, IFF_UP | IFF_NOARP);
	nlx_reset(x);
	int rc = rtnl_link_add(x->sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (rc < 0)
		rc = nlx_fail(x, rc, e, "making the sink device %s (veth, peer %s) in namespace %s",
			      SINK_DEV, SINK_PEER, ns);
	rtnl_link_put(peer);
	rtnl_link_veth_release(link);
	return rc < 0 ? rc : 0;
}

int sink_add(struct nlx *x, const char *ns, const struct lab_addr *range, struct lc_err *e)
{
	char txt[64];
	int ifindex, rc;
	lab_addr_format(range, txt, sizeof(txt));
	if ((rc = sink_dev_add(x, ns, e)) < 0 ||
	    (rc = link_ifindex(x, ns, SINK_DEV, &ifindex, e)) < 0)
		return rc;
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = nl_addr_build(range->family, range->bytes,
					  range->family == AF_INET ? 4 : 16);
	if (!r || !nh || !d) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	nl_addr_set_prefixlen(d, range->prefixlen < 0 ? (range->family == AF_INET ? 32 : 128)
						      : range->prefixlen);
	rtnl_route_set_family(r, range->family);
	rtnl_route_set_dst(r, d);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, RT_SCOPE_LINK);
	rtnl_route_set_type(r, RTN_UNICAST);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh); /* the route owns nh now */
	nh = NULL;
	nlx_reset(x);
	rc = rtnl_route_add(x->sk, r, NLM_F_CREATE | NLM_F_EXCL);
	if (rc < 0)
		rc = nlx_fail(x, rc, e, "routing the black-hole range %s to %s in namespace %s", txt,
			      SINK_DEV, ns);
	else
		rc = 0;
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(d);
	rtnl_route_put(r);
	return rc;
}

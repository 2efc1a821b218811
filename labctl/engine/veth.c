/* veth: veth pairs and bridges through libnl-route.  See veth.h. */
#include "engine/veth.h"

#include <errno.h>
#include <net/if.h>
#include <sys/socket.h>

#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "kernel/nlx.h"

static int set_mac(struct rtnl_link *link, const uint8_t *mac)
{
	if (!mac)
		return 0;
	struct nl_addr *addr = nl_addr_build(AF_LLC, mac, 6);
	if (!addr)
		return -ENOMEM;
	rtnl_link_set_addr(link, addr);
	nl_addr_put(addr);
	return 0;
}

int veth_pair_add(struct nlx *x, const struct veth_end *a, int b_netns_fd,
		  const struct veth_end *b, struct lc_err *e)
{
	struct rtnl_link *link, *peer;
	int r;

	link = rtnl_link_veth_alloc();
	if (!link)
		return err_set(e, -ENOMEM, "veth %s (%s) <-> %s (%s): out of memory", a->name,
			       a->where, b->name, b->where);
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, a->name);
	rtnl_link_set_name(peer, b->name);
	rtnl_link_set_ns_fd(peer, b_netns_fd);
	if (set_mac(link, a->mac) < 0 || set_mac(peer, b->mac) < 0) {
		r = err_set(e, -ENOMEM, "veth %s (%s): out of memory", a->name, a->where);
		goto put;
	}
	if (a->ifindex)
		rtnl_link_set_ifindex(link, a->ifindex);
	if (b->ifindex)
		rtnl_link_set_ifindex(peer, b->ifindex);
	if (a->master)
		rtnl_link_set_master(link, a->master);
	if (a->up)
		rtnl_link_set_flags(link, IFF_UP);
	nlx_reset(x);
	r = rtnl_link_add(x->sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		r = nlx_fail(x, r, e, "making veth %s in %s with peer %s in %s", a->name, a->where,
			     b->name, b->where);
	else
		r = 0;
put:
	rtnl_link_put(peer);
	rtnl_link_veth_release(link);
	return r;
}

int veth_bridge_add(struct nlx *x, const char *where, const char *name, int *ifindex,
		    struct lc_err *e)
{
	struct rtnl_link *link = rtnl_link_alloc(), *got = NULL;
	int r;
	if (!link)
		return err_set(e, -ENOMEM, "bridge %s in %s: out of memory", name, where);
	rtnl_link_set_name(link, name);
	r = rtnl_link_set_type(link, "bridge");
	if (r < 0) {
		rtnl_link_put(link);
		return err_set(e, -EINVAL, "bridge %s in %s: libnl: %s", name, where, nl_geterror(r));
	}
	rtnl_link_set_flags(link, IFF_UP);
	nlx_reset(x);
	r = rtnl_link_add(x->sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	if (r < 0)
		return nlx_fail(x, r, e, "making bridge %s in %s%s", name, where,
				r == -NLE_OPNOTSUPP ? " (load the bridge module: modprobe bridge)" : "");
	nlx_reset(x);
	r = rtnl_link_get_kernel(x->sk, 0, name, &got);
	if (r < 0)
		return nlx_fail(x, r, e, "looking up bridge %s in %s", name, where);
	*ifindex = rtnl_link_get_ifindex(got);
	rtnl_link_put(got);
	return 0;
}

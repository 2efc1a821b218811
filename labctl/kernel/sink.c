/* sink: see sink.h. */
#include "kernel/sink.h"

#include <errno.h>
#include <net/if.h>
#include <sys/socket.h>

#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "kernel/link.h"
#include "kernel/nlx.h"

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
	int rc = sink_dev_add(x, ns, e);
	if (rc < 0)
		return rc;
	rc = link_route_add_dev(x, ns, range, SINK_DEV, e);
	return rc < 0 ? err_prefix(e, "routing the black-hole range into the sink: ") : 0;
}

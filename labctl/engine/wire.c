/* wire: the netem engine's hidden wire namespaces.  See wire.h. */
#include "engine/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/link.h"
#include "kernel/netns.h"
#include "kernel/nlx.h"
#include "engine/qdisc.h"
#include "engine/userlink.h"
#include "engine/veth.h"

/* Names inside the wire namespace: one per host end, so captures read naturally. */
#define WIRE_DEV_A "a"
#define WIRE_DEV_B "b"
#define WIRE_BRIDGE "br0"
/* Wire-side ifindexes, far from the small ones the hosts' fresh namespaces hand out (see
 * veth.h: equal indexes on the two ends of a veth delay its carrier by up to a second). */
#define WIRE_IFINDEX_A 40001
#define WIRE_IFINDEX_B 40002

struct wire_link {
	int netns_fd;
	struct nlx *nl;
	char where[96];      /* "wire namespace of link client-server" */
};

struct wire {
	int nlinks;
	struct wire_link *links;
};

int wire_init(struct engine *en, struct lc_err *e)
{
	struct wire *w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(e, -ENOMEM, "netem engine: out of memory");
	w->nlinks = en->lab->nlinks;
	w->links = calloc(w->nlinks ? (size_t)w->nlinks : 1, sizeof(*w->links));
	if (!w->links) {
		free(w);
		return err_set(e, -ENOMEM, "netem engine: out of memory");
	}
	for (int i = 0; i < w->nlinks; i++)
		w->links[i].netns_fd = -1;
	en->priv = w;
	return 0;
}

static void wire_free(struct engine *en)
{
	struct wire *w = en->priv;
	if (!w)
		return;
	for (int i = 0; i < w->nlinks; i++) {
		nlx_free(w->links[i].nl);
		if (w->links[i].netns_fd >= 0)
			close(w->links[i].netns_fd);
	}
	free(w->links);
	free(w);
	en->priv = NULL;
}

/* Direction 0 (a->b) leaves the wire through b's port; direction 1 through a's. */
static const char *egress_of(int dir)
{
	return dir == 0 ? WIRE_DEV_B : WIRE_DEV_A;
}

static int wire_link_create(struct engine *en, int link, const struct engine_host *a,
			    const struct engine_host *b, struct lc_err *e)
{
	struct wire *w = en->priv;
	const struct lab_link *ll = &en->lab->links[link];
	struct wire_link *wl = &w->links[link];
	uint8_t mac_a[6], mac_b[6];
	int br, r;

	if (wl->netns_fd >= 0)
		return err_set(e, -EEXIST, "netem engine: link %s-%s made twice", a->name, b->name);
	snprintf(wl->where, sizeof(wl->where), "the wire namespace of link %s-%s", a->name,
		 b->name);
	r = netns_new(&wl->netns_fd, e);
	if (r < 0)
		return err_prefix(e, "making %s: ", wl->where);
	/* The wire sends nothing of its own into the lab.  No IPv6: a bridge with a link-local
	 * address would send router solicitations and MLD reports (a kernel without IPv6 has no
	 * knob).  No IGMP reports for link-local groups: the bridge joins the all-snoopers group
	 * 224.0.0.106 when it comes up, and its IGMPv3 report (from 0.0.0.0) went to both hosts,
	 * into their captures, and through netem as the link's first frame. */
	static const char *const quiet[][2] = {{"net.ipv6.conf.all.disable_ipv6", "1"},
					       {"net.ipv6.conf.default.disable_ipv6", "1"},
					       {"net.ipv4.igmp_link_local_mcast_reports", "0"}};
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		struct lc_err ign = {0};
		netns_sysctl_write(wl->netns_fd, quiet[i][0], quiet[i][1], &ign);
	}
	r = nlx_new(wl->netns_fd, &wl->nl, e);
	if (r < 0)
		return err_prefix(e, "%s: ", wl->where);
	r = veth_bridge_add(wl->nl, wl->where, WIRE_BRIDGE, &br, e);
	if (r < 0)
		return r;

	userlink_mac(link, 0, mac_a);
	userlink_mac(link, 1, mac_b);
	char where_a[64], where_b[64];
	snprintf(where_a, sizeof(where_a), "host %s", a->name);
	snprintf(where_b, sizeof(where_b), "host %s", b->name);
	struct veth_end wa = {.where = wl->where, .name = WIRE_DEV_A, .master = br, .up = 1,
				 .ifindex = WIRE_IFINDEX_A};
	struct veth_end ha = {.where = where_a, .name = ll->dev_a, .mac = mac_a};
	r = veth_pair_add(wl->nl, &wa, a->netns_fd, &ha, e);
	if (r < 0)
		return r;
	struct veth_end wb = {.where = wl->where, .name = WIRE_DEV_B, .master = br, .up = 1,
				 .ifindex = WIRE_IFINDEX_B};
	struct veth_end hb = {.where = where_b, .name = ll->dev_b, .mac = mac_b};
	r = veth_pair_add(wl->nl, &wb, b->netns_fd, &hb, e);
	if (r < 0)
		return r;
	/* A wire carries frames, not GSO packets: netem draws its loss (and its delay,
	 * duplication, corruption) once per packet it is handed, and a sender's GSO hands it up
	 * to a congestion window of segments at once, so "loss 10%" lost far fewer than 10% of
	 * the frames (app-http-lossy saw one drop in 115 frames).  With the hosts' offloads off,
	 * netem sees MTU-sized frames, as a real wire carries and as userlink's TAPs do. */
	if ((r = link_offloads_off(a->netns_fd, where_a, ll->dev_a, e)) < 0 ||
	    (r = link_offloads_off(b->netns_fd, where_b, ll->dev_b, e)) < 0)
		return r;
	for (int dir = 0; dir < 2; dir++) {
		if (!ll->dir[dir].set)
			continue;
		r = qdisc_netem_replace(wl->nl, wl->where, egress_of(dir), &ll->dir[dir], e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int wire_start(struct engine *en, struct lc_err *e)
{
	(void)en; (void)e;
	return 0;
}

static int wire_link_impair(struct engine *en, int link, int dir, const struct lab_impair *imp,
			    struct lc_err *e)
{
	struct wire *w = en->priv;
	if (link < 0 || link >= w->nlinks || dir < 0 || dir > 1 || !w->links[link].nl)
		return err_set(e, -EINVAL, "netem engine: no link %d direction %d", link, dir);
	/* An empty parameter set still replaces the qdisc (with a transparent netem) rather
	 * than deleting it: a delete would fail on a direction that never had one. */
	return qdisc_netem_replace(w->links[link].nl, w->links[link].where, egress_of(dir), imp, e);
}

static int wire_wire_point(struct engine *en, int link, int *netns_fd, char *ifname, size_t len)
{
	struct wire *w = en->priv;
	if (link < 0 || link >= w->nlinks || w->links[link].netns_fd < 0)
		return -EINVAL;
	*netns_fd = w->links[link].netns_fd;
	snprintf(ifname, len, "%s", WIRE_DEV_A);
	return 0;
}

static int wire_link_stats(struct engine *en, int link, struct engine_dir_stats st[2],
			   struct lc_err *e)
{
	struct wire *w = en->priv;
	if (link < 0 || link >= w->nlinks || !w->links[link].nl)
		return err_set(e, -EINVAL, "netem: no link %d", link);
	for (int d = 0; d < 2; d++) {
		memset(&st[d], 0, sizeof(st[d]));
		int r = qdisc_stats(w->links[link].nl, w->links[link].where, egress_of(d),
				    &st[d].delivered, &st[d].dropped, e);
		if (r < 0)
			return r;
	}
	return 0;
}

const struct engine_ops wire_ops = {
	.name = "netem",
	.link_create = wire_link_create,
	.start = wire_start,
	.link_impair = wire_link_impair,
	.wire_point = wire_wire_point,
	.link_stats = wire_link_stats,
	.free = wire_free,
};

/* engine: choosing an impairment engine, and the plain veth engine.  See engine.h. */
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/netns.h"
#include "kernel/nlx.h"
#include "engine/pktlink.h"
#include "engine/qdisc.h"
#include "engine/userlink.h"
#include "engine/veth.h"
#include "engine/wire.h"

#define NO_NETEM_HELP "this kernel has no sch_netem (CONFIG_NET_SCH_NETEM); load it with " \
	"`modprobe sch_netem`, install your distribution's extra kernel modules (e.g. " \
	"linux-modules-extra), or use --engine userlink (`labctl doctor` lists what this " \
	"machine has)"

/* ---- the veth engine: no impairments ------------------------------------------------------- */

int engine_veth_create(struct engine *en, int link, const struct engine_host *a,
		       const struct engine_host *b, struct lc_err *e)
{
	const struct lab_link *ll = &en->lab->links[link];
	uint8_t mac_a[6], mac_b[6];
	char where_a[64], where_b[64];
	userlink_mac(link, 0, mac_a);
	userlink_mac(link, 1, mac_b);
	snprintf(where_a, sizeof(where_a), "host %s", a->name);
	snprintf(where_b, sizeof(where_b), "host %s", b->name);
	/* Distinct ifindexes on the two ends (see veth.h), one pair per link. */
	struct veth_end ea = {.where = where_a, .name = ll->dev_a, .mac = mac_a,
			      .ifindex = 20000 + 2 * link};
	struct veth_end eb = {.where = where_b, .name = ll->dev_b, .mac = mac_b,
			      .ifindex = 20001 + 2 * link};
	return veth_pair_add(a->nl, &ea, b->netns_fd, &eb, e);
}

static int veth_start(struct engine *en, struct lc_err *e)
{
	(void)en; (void)e;
	return 0;
}

static int veth_link_impair(struct engine *en, int link, int dir, const struct lab_impair *imp,
			    struct lc_err *e)
{
	(void)en; (void)link; (void)dir;
	if (!imp->set)
		return 0;
	return err_set(e, -ENOTSUP, "the veth engine cannot impair a link; use --engine netem "
		       "or --engine userlink");
}

static int veth_wire_point(struct engine *en, int link, int *netns_fd, char *ifname, size_t len)
{
	(void)en; (void)link; (void)netns_fd; (void)ifname; (void)len;
	return -ENOTSUP;
}

static void veth_free(struct engine *en)
{
	(void)en;
}

static const struct engine_ops veth_ops = {
	.name = "veth",
	.link_create = engine_veth_create,
	.start = veth_start,
	.link_impair = veth_link_impair,
	.wire_point = veth_wire_point,
	.free = veth_free,
};

/* ---- the probe ------------------------------------------------------------------------------ */

int engine_probe_netem(struct lc_err *e)
{
	/* A throwaway namespace's loopback takes a root qdisc like any device, so the probe
	 * needs no other module and touches nothing outside. */
	int fd, r;
	struct nlx *x = NULL;
	struct lc_err pe = {0};
	r = netns_new(&fd, e);
	if (r < 0)
		return err_prefix(e, "probing for sch_netem: ");
	r = nlx_new(fd, &x, e);
	if (r < 0) {
		close(fd);
		return err_prefix(e, "probing for sch_netem: ");
	}
	struct lab_impair imp = {.set = IMP_DELAY, .delay_ns = 1000000};
	r = qdisc_netem_replace(x, "a probe namespace", "lo", &imp, &pe);
	nlx_free(x);
	close(fd);
	if (r == 0)
		return 1;
	/* The kernel answers an unknown qdisc kind with ENOENT ("Specified qdisc kind is
	 * unknown"); anything else is a real failure worth showing. */
	if (r == -ENOENT || r == -EOPNOTSUPP) {
		err_set(e, r, "%s", NO_NETEM_HELP);
		return 0;
	}
	err_set(e, r, "probing for sch_netem: %s", pe.msg);
	return r;
}

/* ---- choosing ------------------------------------------------------------------------------- */

static int lab_has_impairments(const struct lab *lab)
{
	for (int i = 0; i < lab->nlinks; i++)
		if (lab->links[i].dir[0].set || lab->links[i].dir[1].set)
			return 1;
	for (int i = 0; i < lab->nsteps; i++)
		if (lab->steps[i].op == LAB_OP_IMPAIR)
			return 1;
	return 0;
}

static void rule_where(const struct lab *lab, char *buf, size_t len)
{
	const struct lab_rule *r = &lab->rules[0];
	snprintf(buf, len, "%s:%d:%d", lab->file[0] ? lab->file : "lab", r->pos.line, r->pos.col);
}

int engine_new(const char *name, const struct lab *lab, uint64_t seed, unsigned flags,
	       struct engine **out, char *why, size_t whylen, struct lc_err *e)
{
	const struct engine_ops *ops = NULL;
	char pos[300];
	int r;

	*out = NULL;
	if (why && whylen)
		why[0] = '\0';
	if (!name || !*name)
		name = "auto";
	if (lab->nrules > 0)
		rule_where(lab, pos, sizeof(pos));

	if (!strcmp(name, "userlink")) {
		ops = &userlink_ops;
		snprintf(why, whylen, "userlink: asked for");
	} else if (!strcmp(name, "pktlink")) {
		ops = &pktlink_ops;
		snprintf(why, whylen, "pktlink: asked for");
	} else if (!strcmp(name, "veth")) {
		if (lab->nrules > 0)
			return err_set(e, -ENOTSUP, "%s: drop rules need the userlink engine (the "
				       "veth engine has no impairments); use --engine userlink", pos);
		if (lab_has_impairments(lab))
			return err_set(e, -ENOTSUP, "the veth engine has no impairments but the lab "
				       "asks for some; use --engine netem or --engine userlink");
		ops = &veth_ops;
		snprintf(why, whylen, "veth: asked for");
	} else if (!strcmp(name, "netem")) {
		if (lab->nrules > 0)
			return err_set(e, -ENOTSUP, "%s: drop rules need the userlink engine: netem "
				       "drops at random and cannot pick given segments; use --engine "
				       "userlink", pos);
		r = engine_probe_netem(e);
		if (r < 0)
			return r;
		if (r == 0)
			return err_set(e, -ENOTSUP, "--engine netem: %s", NO_NETEM_HELP);
		ops = &wire_ops;
		snprintf(why, whylen, "netem: asked for; this kernel has sch_netem");
	} else if (!strcmp(name, "auto")) {
		int impaired = lab_has_impairments(lab);
		if (lab->nrules > 0) {
			ops = &userlink_ops;
			snprintf(why, whylen, "userlink: the lab has drop rules (%s), which only "
				 "userlink can apply", pos);
		} else if (!impaired && !(flags & ENGINE_LIVE)) {
			/* Nothing to impair, now or later: no probe (it costs a namespace). */
			ops = &veth_ops;
			snprintf(why, whylen, "veth: the lab impairs no link");
		} else {
			struct lc_err pe = {0};
			r = engine_probe_netem(&pe);
			if (r < 0) {
				err_set(e, r, "%s", pe.msg);
				return r;
			}
			const char *later = impaired ? "" : "; an up lab's links can be impaired "
				"later (labctl impair)";
			if (r == 1) {
				ops = &wire_ops;
				snprintf(why, whylen, "netem: this kernel has sch_netem%s", later);
			} else {
				ops = &userlink_ops;
				snprintf(why, whylen, "userlink: this kernel has no sch_netem "
					 "(CONFIG_NET_SCH_NETEM)%s", later);
			}
		}
	} else {
		return err_set(e, -EINVAL, "unknown engine \"%s\"; choose auto, netem, userlink, "
			       "pktlink or veth", name);
	}
	/* userlink's TAPs need /dev/net/tun, which is often root's alone (mode 0600, and a
	 * rootless lab is not root outside): the same forwarder then moves its frames through
	 * packet sockets on veth ends. */
	int tun;
	if (ops == &userlink_ops && (tun = pktlink_tun_usable()) < 0) {
		size_t n = strlen(why);
		snprintf(why + n, whylen - n, "; /dev/net/tun: %s, so its frames go through packet "
			 "sockets (pktlink)", strerror(-tun));
		ops = &pktlink_ops;
	}

	struct engine *en = calloc(1, sizeof(*en));
	if (!en)
		return err_set(e, -ENOMEM, "engine: out of memory");
	en->ops = ops;
	en->lab = lab;
	en->seed = seed;
	r = 0;
	if (ops == &userlink_ops || ops == &pktlink_ops)
		r = userlink_init(en, e);
	else if (ops == &wire_ops)
		r = wire_init(en, e);
	if (r < 0) {
		free(en);
		return r;
	}
	*out = en;
	return 0;
}

void engine_free(struct engine *en)
{
	if (!en)
		return;
	if (en->ops && en->ops->free)
		en->ops->free(en);
	free(en);
}

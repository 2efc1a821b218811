/* qdisc: netem qdiscs through libnl, with libmnl for what libnl lacks.  See qdisc.h. */
#include "engine/qdisc.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/pkt_sched.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/tc.h>

#include "engine/impair.h"
#include "kernel/nlx.h"

static int us_of(int64_t ns)
{
	int64_t us = (ns + 500) / 1000;
	return us > INT_MAX ? INT_MAX : (int)us;
}

static int ifindex_of(struct nlx *x, const char *where, const char *ifname, int *idx,
		      struct lc_err *e)
{
	struct rtnl_link *link = NULL;
	nlx_reset(x);
	int r = rtnl_link_get_kernel(x->sk, 0, ifname, &link);
	if (r < 0)
		return nlx_fail(x, r, e, "looking up device %s in %s", ifname, where);
	*idx = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return 0;
}

/* The raw attributes libnl 3.7 cannot express, appended inside libnl's TCA_OPTIONS (which
 * libnl stretches to the end of the message, the layout sch_netem expects: a struct
 * tc_netem_qopt followed by attributes). */
static int put_raw(struct nl_msg *msg, const struct lab_impair *imp)
{
	int want_rate = (imp->set & IMP_RATE) && imp->rate_bps;
	int want_ge = (imp->set & IMP_LOSS_GE) != 0;
	if (!want_rate && !want_ge)
		return 0;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	size_t room = nlmsg_get_max_size(msg);
	if (mnl_nlmsg_size(64) + nlh->nlmsg_len > room)
		return -EMSGSIZE;
	struct nlattr *opts = NULL, *a;
	mnl_attr_for_each(a, nlh, sizeof(struct tcmsg))
		if (mnl_attr_get_type(a) == TCA_OPTIONS)
			opts = a;
	if (!opts || (char *)opts + MNL_ALIGN(opts->nla_len) != (char *)mnl_nlmsg_get_payload_tail(nlh))
		return -EPROTO;  /* not the layout we know how to extend */
	if (want_rate) {
		uint64_t bytes = imp->rate_bps / 8;
		struct tc_netem_rate rate;
		memset(&rate, 0, sizeof(rate));
		if (bytes >= UINT32_MAX) {
			/* sch_netem reads RATE64 when the 32-bit field is saturated. */
			rate.rate = UINT32_MAX;
			mnl_attr_put(nlh, TCA_NETEM_RATE, sizeof(rate), &rate);
			mnl_attr_put_u64(nlh, TCA_NETEM_RATE64, bytes);
		} else {
			rate.rate = (uint32_t)(bytes ? bytes : 1);
			mnl_attr_put(nlh, TCA_NETEM_RATE, sizeof(rate), &rate);
		}
	}
	if (want_ge) {
		/* Our ge_h and ge_k are netem's "1-h" and "1-k" (loss in the bad and the
		 * good state); the kernel takes h itself and 1-k, as tc sends them. */
		struct tc_netem_gemodel ge = {
			.p = impair_pct_u32(imp->ge_p),
			.r = impair_pct_u32(imp->ge_r),
			.h = impair_pct_u32(100.0 - imp->ge_h),
			.k1 = impair_pct_u32(imp->ge_k),
		};
		struct nlattr *nest = mnl_attr_nest_start(nlh, TCA_NETEM_LOSS);
		mnl_attr_put(nlh, NETEM_LOSS_GE, sizeof(ge), &ge);
		mnl_attr_nest_end(nlh, nest);
	}
	opts->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)opts);
	return 0;
}

int qdisc_netem_replace(struct nlx *x, const char *where, const char *ifname,
			const struct lab_impair *imp, struct lc_err *e)
{
	struct rtnl_qdisc *q;
	struct nl_msg *msg = NULL;
	struct impair_dist dist = {0};
	int idx, r;

	r = ifindex_of(x, where, ifname, &idx, e);
	if (r < 0)
		return r;
	q = rtnl_qdisc_alloc();
	if (!q)
		return err_set(e, -ENOMEM, "netem qdisc on %s in %s: out of memory", ifname, where);
	rtnl_tc_set_ifindex(TC_CAST(q), idx);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	r = rtnl_tc_set_kind(TC_CAST(q), "netem");
	if (r < 0) {
		r = err_set(e, -ENOENT, "netem qdisc on %s in %s: libnl has no netem support",
			    ifname, where);
		goto put_qdisc;
	}

	rtnl_netem_set_limit(q, (imp->set & IMP_LIMIT) && imp->limit ? (int)imp->limit : 1000);
	if (imp->set & IMP_DELAY)
		rtnl_netem_set_delay(q, us_of(imp->delay_ns));
	if ((imp->set & IMP_JITTER) && imp->jitter_ns > 0) {
		rtnl_netem_set_jitter(q, us_of(imp->jitter_ns));
		if (imp->set & IMP_DELAY_CORR)
			rtnl_netem_set_delay_correlation(q, (int)impair_pct_u32(imp->delay_corr));
		if ((imp->set & IMP_DIST) && imp->dist > LAB_DIST_UNIFORM) {
			r = impair_dist_find(imp->dist, &dist, NULL, 0);
			if (r < 0) {
				r = err_set(e, r, "netem qdisc on %s in %s: delay distribution: %s",
					    ifname, where, strerror(-r));
				goto put_qdisc;
			}
			r = rtnl_netem_set_delay_distribution_data(q, dist.table, dist.size);
			if (r < 0) {
				r = err_set(e, -EINVAL, "netem qdisc on %s in %s: distribution table "
					    "rejected by libnl: %s", ifname, where, nl_geterror(r));
				goto free_dist;
			}
		}
	}
	if ((imp->set & IMP_LOSS) && !(imp->set & IMP_LOSS_GE)) {
		rtnl_netem_set_loss(q, (int)impair_pct_u32(imp->loss));
		if ((imp->set & IMP_LOSS_CORR) && imp->loss > 0)
			rtnl_netem_set_loss_correlation(q, (int)impair_pct_u32(imp->loss_corr));
	}
	if (imp->set & IMP_DUP) {
		rtnl_netem_set_duplicate(q, (int)impair_pct_u32(imp->dup));
		if ((imp->set & IMP_DUP_CORR) && imp->dup > 0)
			rtnl_netem_set_duplicate_correlation(q, (int)impair_pct_u32(imp->dup_corr));
	}
	if ((imp->set & IMP_REORDER) && imp->reorder > 0) {
		rtnl_netem_set_reorder_probability(q, (int)impair_pct_u32(imp->reorder));
		if (imp->set & IMP_REORDER_CORR)
			rtnl_netem_set_reorder_correlation(q, (int)impair_pct_u32(imp->reorder_corr));
		rtnl_netem_set_gap(q, (imp->set & IMP_GAP) && imp->gap ? (int)imp->gap : 1);
	}
	if ((imp->set & IMP_CORRUPT) && imp->corrupt > 0) {
		rtnl_netem_set_corruption_probability(q, (int)impair_pct_u32(imp->corrupt));
		if (imp->set & IMP_CORRUPT_CORR)
			rtnl_netem_set_corruption_correlation(q, (int)impair_pct_u32(imp->corrupt_corr));
	}

	/* CREATE|REPLACE with handle 0: what `tc qdisc replace` does: makes it, or changes the netem
	 * already there in place (its queue and its clocks survive a live change). */
	r = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_REPLACE, &msg);
	if (r < 0) {
		r = err_set(e, -EINVAL, "netem qdisc on %s in %s: building the request: %s%s",
			    ifname, where, nl_geterror(r),
			    r == -NLE_MISSING_ATTR ? " (reorder needs a delay; a delay "
			    "correlation or distribution needs a jitter)" : "");
		goto free_dist;
	}
	r = put_raw(msg, imp);
	if (r < 0) {
		r = err_set(e, r, "netem qdisc on %s in %s: adding rate/loss model attributes: %s",
			    ifname, where, strerror(-r));
		goto free_msg;
	}
	nlx_reset(x);
	r = nl_send_auto(x->sk, msg);
	if (r >= 0)
		r = nl_wait_for_ack(x->sk);
	if (r < 0) {
		r = nlx_fail(x, r, e, "netem qdisc on %s in %s", ifname, where);
		goto free_msg;
	}
	r = 0;
free_msg:
	nlmsg_free(msg);
free_dist:
	impair_dist_free(&dist);
put_qdisc:
	rtnl_qdisc_put(q);
	return r;
}

int qdisc_stats(struct nlx *x, const char *where, const char *ifname, uint64_t *sent,
		uint64_t *drops, struct lc_err *e)
{
	struct nl_cache *cache = NULL;
	int idx, r = ifindex_of(x, where, ifname, &idx, e);
	if (r < 0)
		return r;
	nlx_reset(x);
	r = rtnl_qdisc_alloc_cache(x->sk, &cache);
	if (r < 0)
		return nlx_fail(x, r, e, "reading the qdiscs of %s in %s", ifname, where);
	struct rtnl_qdisc *q = rtnl_qdisc_get_by_parent(cache, idx, TC_H_ROOT);
	if (!q) {
		nl_cache_free(cache);
		return err_set(e, -ENOENT, "no root qdisc on %s in %s", ifname, where);
	}
	*sent = rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_PACKETS);
	*drops = rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_DROPS);
	rtnl_qdisc_put(q);
	nl_cache_free(cache);
	return 0;
}

int qdisc_root_delete(struct nlx *x, const char *where, const char *ifname, struct lc_err *e)
{
	int idx, r = ifindex_of(x, where, ifname, &idx, e);
	if (r < 0)
		return r;
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	if (!q)
		return err_set(e, -ENOMEM, "deleting qdisc on %s in %s: out of memory", ifname, where);
	rtnl_tc_set_ifindex(TC_CAST(q), idx);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	nlx_reset(x);
	r = rtnl_qdisc_delete(x->sk, q);
	rtnl_qdisc_put(q);
	if (r < 0)
		return nlx_fail(x, r, e, "deleting the root qdisc of %s in %s", ifname, where);
	return 0;
}

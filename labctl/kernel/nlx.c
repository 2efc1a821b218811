#include "kernel/nlx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/errno.h>
#include <netlink/msg.h>

#include "kernel/netns.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* libnl hands us the nlmsgerr; the extack TLVs follow it (and the echoed request unless the
 * kernel capped it).  Validate every length: this is data from the kernel. */
static void extack_copy(struct nlx *x, const struct nlmsgerr *err)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)err - NLMSG_HDRLEN);
	x->extack[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	size_t off = NLMSG_HDRLEN + sizeof(*err);
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (err->msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += NLMSG_ALIGN(err->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	while (off + NLA_HDRLEN <= h->nlmsg_len) {
		const struct nlattr *a = (const struct nlattr *)((const char *)h + off);
		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
			return;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			size_t n = a->nla_len - NLA_HDRLEN;
			if (n >= sizeof(x->extack))
				n = sizeof(x->extack) - 1;
			memcpy(x->extack, (const char *)a + NLA_HDRLEN, n);
			x->extack[n] = '\0';
			x->extack[strcspn(x->extack, "\n")] = '\0';
			return;
		}
		off += NLA_ALIGN(a->nla_len);
	}
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	(void)nla;
	struct nlx *x = arg;
	x->last_err = err->error < 0 && err->error != INT_MIN ? -err->error : EPROTO;
	extack_copy(x, err);
	return NL_STOP; /* libnl turns err->error into its NLE_* return code */
}

int nlx_new(int netns_fd, struct nlx **out, struct lc_err *e)
{
	int saved = -1, rc;
	struct nlx *x = calloc(1, sizeof(*x));
	if (!x)
		return err_set(e, -ENOMEM, "out of memory");
	x->sk = nl_socket_alloc();
	if (!x->sk) {
		rc = err_set(e, -ENOMEM, "allocating a netlink socket");
		goto err_free;
	}
	nl_socket_modify_err_cb(x->sk, NL_CB_CUSTOM, on_error, x);
	if (netns_fd >= 0 && (rc = netns_enter(netns_fd, &saved, e)) < 0)
		goto err_sock;
	rc = nl_connect(x->sk, NETLINK_ROUTE);
	netns_leave(&saved);
	if (rc < 0) {
		rc = err_set(e, -EPROTO, "opening a route netlink socket: %s", nl_geterror(rc));
		goto err_sock;
	}
	int fd = nl_socket_get_fd(x->sk), one = 1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Ask for the kernel's explanation of failures, and don't echo our requests back. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	*out = x;
	return 0;
err_sock:
	nl_socket_free(x->sk);
err_free:
	free(x);
	return rc;
}

void nlx_free(struct nlx *x)
{
	if (!x)
		return;
	nl_socket_free(x->sk);
	free(x);
}

void nlx_reset(struct nlx *x)
{
	x->extack[0] = '\0';
	x->last_err = 0;
}

static int nle_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM: return ENOMEM;
	case NLE_EXIST: return EEXIST;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_NODEV: return ENODEV;
	case NLE_PERM: return EPERM;
	case NLE_BUSY: return EBUSY;
	case NLE_INVAL: return EINVAL;
	case NLE_RANGE: return ERANGE;
	case NLE_OPNOTSUPP: return EOPNOTSUPP;
	case NLE_NOACCESS: return EACCES;
	case NLE_AGAIN: return EAGAIN;
	default: return EPROTO;
	}
}

int nlx_fail(struct nlx *x, int nlerr, struct lc_err *e, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int code = x && x->last_err ? x->last_err : nle_to_errno(nlerr);
	const char *why = x && x->last_err ? strerror(x->last_err) : nl_geterror(nlerr);
	int rc;
	if (x && x->extack[0])
		rc = err_set(e, -code, "%s: %s (kernel: %s)", what, why, x->extack);
	else
		rc = err_set(e, -code, "%s: %s", what, why);
	if (x)
		nlx_reset(x);
	return rc;
}

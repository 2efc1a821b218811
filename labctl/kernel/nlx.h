/* nlx: libnl sockets that surface the kernel's extended ack (extack) messages.
 *
 * libnl-3 drops extack text; an nlx socket installs its own error callback that copies the
 * kernel's NLMSGERR_ATTR_MSG, so every failure can say what the kernel said.
 */
#ifndef LABCTL_NLX_H
#define LABCTL_NLX_H

#include <netlink/netlink.h>

#include "base/err.h"

struct nlx {
	struct nl_sock *sk;
	char extack[256];   /* the last error's kernel message, "" if none */
	int last_err;       /* the last error's errno (positive), 0 if none */
};

/* Open a NETLINK_ROUTE socket inside namespace netns_fd (-1: the current one). */
int nlx_new(int netns_fd, struct nlx **out, struct lc_err *e);
void nlx_free(struct nlx *x);

/* Turn a libnl return code into an lc_err: "WHAT: strerror (kernel: extack)".
 * Returns a negative errno. Call right after the failing libnl call. */
int nlx_fail(struct nlx *x, int nlerr, struct lc_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Clear the remembered extack before a request. */
void nlx_reset(struct nlx *x);

#endif

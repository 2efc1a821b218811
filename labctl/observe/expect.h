/* expect: evaluate one `expect` step of a lab against a host, now.
 *
 * The runner polls expect_eval() until it holds or the step's `within` passes.  Socket
 * expectations use one kernel-filtered sock_diag dump; counters read the namespace's
 * /proc/net files.  `seen` always receives a short account of what was observed, e.g.
 * "saw 97 CLOSE_WAIT on port 8080 (also: 3 ESTABLISHED)", which the runner prints when the
 * expectation fails.  Agent events (LAB_EXPECT_EVENT) belong to the runner: -ENOTSUP.
 */
#ifndef LABCTL_EXPECT_H
#define LABCTL_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/diag.h"
#include "base/err.h"
#include "lab/lab.h"

/* d: a diag socket in the host's namespace; netns_fd: the same namespace (for counters).
 * Returns 0 (with *held set), or a negative errno with e filled (e.g. an unknown counter). */
int expect_eval(struct diag *d, int netns_fd, const struct lab *lab, const struct lab_step *st,
		bool *held, char *seen, size_t seenlen, struct lc_err *e);

/* The same, counting for socket states only the sockets whose inodes are in owned (sorted,
 * n entries; NULL: every socket), which belong to the program named owner. */
struct expect_owner {
	const char *name;
	const uint32_t *inodes;
	size_t n;
};
int expect_eval_owned(struct diag *d, int netns_fd, const struct lab *lab,
		      const struct lab_step *st, const struct expect_owner *owner, bool *held,
		      char *seen, size_t seenlen, struct lc_err *e);

/* v OP n */
bool expect_count_holds(const struct lab_count *c, int64_t v);
/* "== 5", ">= 1", ... */
const char *expect_cmp_str(enum lab_cmp cmp);

#endif

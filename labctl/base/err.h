/* err: the one error convention of labctl.
 *
 * Functions return 0 or a negative errno and, on failure, write a human message into a
 * caller-supplied struct lc_err.  Library code never prints and never exits: main() decides
 * what the user sees and the exit code.  Netlink failures carry the kernel's extack text.
 */
#ifndef LABCTL_ERR_H
#define LABCTL_ERR_H

#include <stddef.h>

#define LC_ERR_MAX 1024

struct lc_err {
	int code;              /* negative errno, 0 when no error recorded */
	char msg[LC_ERR_MAX];  /* "what failed: why" */
};

/* Record an error; returns code (a negative errno) so callers can `return err_set(...)`.
 * code >= 0 is normalised to -EINVAL. */
int err_set(struct lc_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend context to an existing message ("building host client: " + old). Returns e->code. */
int err_prefix(struct lc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clear. */
void err_clear(struct lc_err *e);

/* Exit codes of every labctl command. */
enum {
	LC_EXIT_PASS = 0,   /* all expectations held / command succeeded */
	LC_EXIT_FAIL = 1,   /* an expectation failed */
	LC_EXIT_USAGE = 2,  /* bad input or environment (not root, missing kernel feature) */
};

#endif

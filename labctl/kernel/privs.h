/* privs: does this process have what labctl needs (root, or CAP_SYS_ADMIN and
 * CAP_NET_ADMIN)?  The message says what is missing and how to get it. */
#ifndef LABCTL_PRIVS_H
#define LABCTL_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

int privs_check(const char *what, struct lc_err *e);

/* The user a lab's programs run as: the one who invoked labctl.  Through sudo that is
 * SUDO_UID/SUDO_GID (with that user's supplementary groups); a non-root caller is itself;
 * root with no SUDO_UID has no user behind it, and programs get `nobody`.  In a rootless
 * lab (kernel/userns.h) the caller is uid 0 of the lab's user namespace: programs run as
 * uid 0 there, which is the caller's own uid outside. */
#define PRIVS_GROUPS_MAX 64
struct privs_user {
	uid_t uid;
	gid_t gid;
	char name[64];
	char home[256];
	char how[48];           /* "SUDO_UID", "the caller", "nobody: no SUDO_UID" */
	gid_t groups[PRIVS_GROUPS_MAX];
	int ngroups;            /* -1: keep the current supplementary groups (a rootless lab,
	                         * where setgroups is denied) */
};
int privs_invoker(struct privs_user *u, struct lc_err *e);
/* root, for a step that says as-root (the command line must have allowed it) */
void privs_root(struct privs_user *u);

#endif

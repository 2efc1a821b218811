/* userns: rootless labs, through a user namespace that maps the caller to root.
 *
 * A user who is not root owns a user namespace it creates, and inside it holds every
 * capability over the namespaces that user namespace owns: network namespaces, their
 * devices, addresses, routes, qdiscs, sysctls of net.*, raw and packet sockets.  A rootless
 * lab is one such user namespace, made by a child process of labctl (userns_run): the
 * caller's uid and gid are mapped to 0 and nothing else is (no subordinate ids, no setuid
 * helper), setgroups is denied (the kernel requires it for an unprivileged gid_map), and
 * every namespace of the lab is created from inside it.  Nothing is made in the host's
 * namespaces; the user namespace, and everything it owns, dies with its last process.
 *
 * What the caller's processes look like from outside: their own uid, as ever (uid 0 inside
 * is the caller outside; `ps` in the host shows the caller's name).
 */
#ifndef LABCTL_USERNS_H
#define LABCTL_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

/* Rootless labs: the real uid is not 0 and the process lacks CAP_SYS_ADMIN or CAP_NET_ADMIN,
 * unless LABCTL_ROOTLESS=0 (then such a run is refused, as before, with a hint). */
bool userns_wanted(void);

/* The caller is not root and lacks the capabilities (whether or not rootless is asked for). */
bool userns_unprivileged(void);

/* Enter a new user namespace mapping this process's uid and gid to 0, and a new, empty
 * network namespace owned by it (single-threaded callers only).  The message says why it cannot be (user.max_user_namespaces=0, AppArmor's
 * kernel.apparmor_restrict_unprivileged_userns=1, kernel.unprivileged_userns_clone=0) and
 * what an administrator can set. */
int userns_enter(struct lc_err *e);

/* Fork a child that enters a new user namespace (userns_enter) and returns fn(arg) as its
 * exit status; the parent waits for it, passing SIGINT, SIGTERM and SIGHUP on, and returns
 * the child's exit status (or a negative errno).  The child dies with the parent
 * (PR_SET_PDEATHSIG), so a SIGKILL of labctl takes the lab's user namespace with it. */
int userns_run(int (*fn)(void *), void *arg, struct lc_err *e);

/* Join the user namespace of process pid (a rootless lab's supervisor; its owner may) and
 * a new network namespace there to come back to.  Single-threaded callers only. */
int userns_join(pid_t pid, struct lc_err *e);

/* Inside a user namespace that maps uid 0 to another uid outside (a rootless lab): 1 and the
 * outside ids; 0 in the initial user namespace (or when uid 0 is root outside too). */
int userns_outside(uid_t *uid, gid_t *gid);

#endif

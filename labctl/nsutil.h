/* nsutil: step into a network namespace for one system call and back.
 *
 * The process never stays in a foreign namespace: nsutil_enter() saves the calling thread's
 * namespace (from /proc/thread-self, so it is right in any thread) and enters fd;
 * nsutil_leave() returns and closes the saved fd.  Sockets and /proc/net files opened in
 * between stay bound to the namespace they were opened in.
 */
#ifndef LABCTL_NSUTIL_H
#define LABCTL_NSUTIL_H

#include "err.h"

int nsutil_enter(int netns_fd, int *saved_fd, struct lc_err *e);
int nsutil_leave(int saved_fd, struct lc_err *e);

/* Open /run/netns/NAME read-only (O_CLOEXEC); returns the fd or a negative errno. */
int nsutil_open_named(const char *name, struct lc_err *e);

#endif

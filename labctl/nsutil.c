/* nsutil: see nsutil.h. */
#include "nsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int nsutil_enter(int netns_fd, int *saved_fd, struct lc_err *e)
{
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		return err_set(e, -errno, "saving the current network namespace: %s",
			       strerror(errno));
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		int rc = -errno;
		close(orig);
		return err_set(e, rc, "entering network namespace: %s", strerror(-rc));
	}
	*saved_fd = orig;
	return 0;
}

int nsutil_leave(int saved_fd, struct lc_err *e)
{
	int rc = 0;
	if (setns(saved_fd, CLONE_NEWNET) < 0)
		rc = err_set(e, -errno, "returning to the original network namespace: %s",
			     strerror(errno));
	close(saved_fd);
	return rc;
}

int nsutil_open_named(const char *name, struct lc_err *e)
{
	char path[512];
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, -EINVAL, "bad namespace name \"%s\"", name);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "opening namespace %s: %s", path, strerror(errno));
	return fd;
}

#include "kernel/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETNS_RUN_DIR "/run/netns"

static int open_self(int *fd, struct lc_err *e)
{
	*fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return err_set(e, -errno, "opening /proc/self/ns/net: %s", strerror(errno));
	return 0;
}

int netns_new(int *fd, struct lc_err *e)
{
	int saved, rc;
	if ((rc = open_self(&saved, e)) < 0)
		return rc;
	if (unshare(CLONE_NEWNET) < 0) {
		rc = -errno;
		close(saved);
		if (rc == -EPERM)
			return err_set(e, rc, "creating a network namespace: permission denied "
				       "(labctl needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN)");
		return err_set(e, rc, "creating a network namespace: %s", strerror(-rc));
	}
	rc = open_self(fd, e);
	netns_leave(&saved);
	return rc;
}

int netns_new_in(int parent, int *fd, struct lc_err *e)
{
	int saved, rc;
	if (parent < 0)
		return netns_new(fd, e);
	if ((rc = netns_enter(parent, &saved, e)) < 0)
		return rc;
	rc = netns_new(fd, e);
	netns_leave(&saved);
	return rc;
}

int netns_open(const char *path, int *fd, struct lc_err *e)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return err_set(e, -errno, "opening namespace %s: %s", path, strerror(errno));
	return 0;
}

int netns_enter(int fd, int *saved, struct lc_err *e)
{
	int rc;
	if ((rc = open_self(saved, e)) < 0)
		return rc;
	if (setns(fd, CLONE_NEWNET) < 0) {
		rc = -errno;
		close(*saved);
		*saved = -1;
		return err_set(e, rc, "entering a network namespace: %s", strerror(-rc));
	}
	return 0;
}

void netns_leave(int *saved)
{
	if (*saved < 0)
		return;
	if (setns(*saved, CLONE_NEWNET) < 0) {
		/* Staying in a lab namespace would make every later step act on the wrong
		 * network; there is no safe way on. */
		fprintf(stderr, "labctl: cannot return to the original network namespace: %s\n",
			strerror(errno));
		abort();
	}
	close(*saved);
	*saved = -1;
}

int netns_inode(int fd, unsigned long *ino, struct lc_err *e)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(e, -errno, "fstat on a namespace fd: %s", strerror(errno));
	*ino = (unsigned long)st.st_ino;
	return 0;
}

/* As ip-netns does: /run/netns is a shared mount point bound on itself, so binds made here
 * propagate to mount namespaces created later. */
static int run_dir_prepare(struct lc_err *e)
{
	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return err_set(e, -errno, "creating %s: %s", NETNS_RUN_DIR, strerror(errno));
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return err_set(e, -errno, "making %s shared: %s", NETNS_RUN_DIR, strerror(errno));
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
		return err_set(e, -errno, "bind-mounting %s: %s", NETNS_RUN_DIR, strerror(errno));
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return err_set(e, -errno, "making %s shared: %s", NETNS_RUN_DIR, strerror(errno));
	return 0;
}

int netns_bind(int fd, const char *name, struct lc_err *e)
{
	char path[256], src[64];
	int rc;
	if ((rc = run_dir_prepare(e)) < 0)
		return rc;
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (f < 0)
		return err_set(e, -errno, "creating %s: %s", path,
			       errno == EEXIST ? "a namespace of that name already exists"
					       : strerror(errno));
	close(f);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(src, path, "none", MS_BIND, NULL) < 0) {
		rc = -errno;
		unlink(path);
		return err_set(e, rc, "bind-mounting namespace %s: %s", path, strerror(-rc));
	}
	return 0;
}

int netns_unbind(const char *name, unsigned long ino, struct lc_err *e)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	}
	/* Only remove what we can prove is ours: the bind must still show our namespace. */
	if ((unsigned long)st.st_ino != ino)
		return err_set(e, -EEXIST, "%s is not the namespace labctl made (inode %lu, "
			       "expected %lu); leaving it alone", path, (unsigned long)st.st_ino, ino);
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL)
		return err_set(e, -errno, "unmounting %s: %s", path, strerror(errno));
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(e, -errno, "removing %s: %s", path, strerror(errno));
	return 0;
}

int netns_sysctl_write(int fd, const char *key, const char *value, struct lc_err *e)
{
	char path[256];
	int saved, rc;
	/* As sysctl(8): a key with a '/' is a path (device names may hold dots). */
	bool slashes = strchr(key, '/') != NULL;
	size_t n = (size_t)snprintf(path, sizeof(path), "/proc/sys/");
	for (const char *k = key; *k && n + 1 < sizeof(path); k++)
		path[n++] = *k == '.' && !slashes ? '/' : *k;
	path[n] = '\0';
	if ((rc = netns_enter(fd, &saved, e)) < 0)
		return rc;
	/* /proc/sys/net is resolved against the opener's namespace, so open while inside. */
	int f = open(path, O_WRONLY | O_CLOEXEC);
	rc = f < 0 ? -errno : 0;
	netns_leave(&saved);
	if (rc < 0)
		return err_set(e, rc, "sysctl %s: %s", key,
			       rc == -ENOENT ? "no such key in this kernel" : strerror(-rc));
	ssize_t w = write(f, value, strlen(value));
	rc = w < 0 ? -errno : 0;
	close(f);
	if (rc < 0)
		return err_set(e, rc, "sysctl %s=%s: %s", key, value, strerror(-rc));
	return 0;
}

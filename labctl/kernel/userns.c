/* userns: see userns.h. */
#include "kernel/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool userns_unprivileged(void)
{
	if (getuid() == 0)
		return false;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0, 0, 0}, {0, 0, 0}};
	if (syscall(SYS_capget, &hdr, d) < 0)
		return true;
	bool admin = (d[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1;
	bool net = (d[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1;
	return !(admin && net);
}

bool userns_wanted(void)
{
	/* The default for a caller without the privileges; LABCTL_ROOTLESS=0 asks for the old
	 * refusal (and a test of it). */
	const char *v = getenv("LABCTL_ROOTLESS");
	return !(v && !strcmp(v, "0")) && userns_unprivileged();
}

/* A sysctl's value as a number, -1 when the kernel has no such file. */
static long sysctl_num(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Why the kernel refused an unprivileged user namespace, and what an administrator can do. */
static int refused(struct lc_err *e, int rc, const char *step)
{
	if (sysctl_num("/proc/sys/user/max_user_namespaces") == 0)
		return err_set(e, rc, "rootless: %s: this kernel allows no user namespaces "
			       "(user.max_user_namespaces=0); an administrator can allow them with "
			       "`sysctl user.max_user_namespaces=15000`, or run labctl as root", step);
	if (sysctl_num("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return err_set(e, rc, "rootless: %s: this kernel keeps user namespaces to root "
			       "(kernel.unprivileged_userns_clone=0); an administrator can allow them "
			       "with `sysctl kernel.unprivileged_userns_clone=1`, or run labctl as "
			       "root", step);
	if (sysctl_num("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
		return err_set(e, rc, "rootless: %s: AppArmor restricts unprivileged user "
			       "namespaces (kernel.apparmor_restrict_unprivileged_userns=1); an "
			       "administrator can give labctl a profile that allows `userns,` "
			       "(docs/rootless.md) or set the sysctl to 0, or run labctl as root", step);
	return err_set(e, rc, "rootless: %s: %s (labctl needs an unprivileged user namespace; "
		       "`labctl doctor` says what this machine allows), or run labctl as root", step,
		       strerror(-rc));
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int rc = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

int userns_enter(struct lc_err *e)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int rc;
	/* A network namespace of our own too: the one we came from belongs to the host's user
	 * namespace, and setns back into it (netns_leave, after every step inside a lab host)
	 * would need CAP_SYS_ADMIN there.  This one is empty, and nothing reaches the host. */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return refused(e, -errno, "creating a user namespace");
	/* An unprivileged writer may map only its own ids, and its gid only once setgroups is
	 * denied (user_namespaces(7)): the lab's processes keep the caller's supplementary
	 * groups and cannot drop them. */
	if ((rc = write_file("/proc/self/setgroups", "deny")) < 0 && rc != -ENOENT)
		return refused(e, rc, "denying setgroups in the new user namespace");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if ((rc = write_file("/proc/self/uid_map", map)) < 0)
		return refused(e, rc, "writing the user namespace's uid_map");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	if ((rc = write_file("/proc/self/gid_map", map)) < 0)
		return refused(e, rc, "writing the user namespace's gid_map");
	/* The ids change with the map, but the effective ones are re-read only on a set. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return refused(e, -errno, "becoming root in the new user namespace");
	return 0;
}

int userns_join(pid_t pid, struct lc_err *e)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "rootless: %s: %s", path, strerror(errno));
	int rc = setns(fd, CLONE_NEWUSER) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return err_set(e, rc, "rootless: joining the lab's user namespace (%s): %s", path,
			       strerror(-rc));
	if (unshare(CLONE_NEWNET) < 0)
		return err_set(e, -errno, "rootless: a network namespace of our own: %s",
			       strerror(errno));
	return 0;
}

int userns_outside(uid_t *uid, gid_t *gid)
{
	unsigned long in, out, n;
	int found = 0;
	FILE *f = fopen("/proc/self/uid_map", "re");
	if (!f)
		return 0;
	while (fscanf(f, "%lu %lu %lu", &in, &out, &n) == 3)
		if (in == 0 && out != 0) {
			*uid = (uid_t)out;
			found = 1;
		}
	fclose(f);
	if (!found)
		return 0;
	*gid = (gid_t)*uid;
	if ((f = fopen("/proc/self/gid_map", "re"))) {
		while (fscanf(f, "%lu %lu %lu", &in, &out, &n) == 3)
			if (in == 0)
				*gid = (gid_t)out;
		fclose(f);
	}
	return 1;
}

int userns_run(int (*fn)(void *), void *arg, struct lc_err *e)
{
	sigset_t fwd, old;
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigaddset(&fwd, SIGCHLD);   /* wakes the wait below the moment the child ends */
	sigprocmask(SIG_BLOCK, &fwd, &old);
	pid_t parent = getpid();
	fflush(NULL);   /* the child must not repeat buffered output */
	pid_t pid = fork();
	if (pid < 0) {
		int rc = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return err_set(e, rc, "rootless: fork: %s", strerror(-rc));
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* Die with labctl, even by SIGKILL: the lab's namespaces go with us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		struct lc_err ce = {0};
		if (userns_enter(&ce) < 0) {
			fprintf(stderr, "labctl: %s\n", ce.msg);
			fflush(NULL);
			_exit(2);
		}
		int st = fn(arg);
		fflush(NULL);
		exit(st);
	}
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		struct timespec ts = {1, 0};
		siginfo_t si;
		int sig = sigtimedwait(&fwd, &si, &ts);
		if (sig == SIGCHLD)
			continue;
		/* A terminal's ^C reaches the child itself (one process group); pass on only
		 * what was sent to us alone. */
		if (sig > 0 && si.si_code != SI_KERNEL)
			kill(pid, sig);
		else if (sig == SIGHUP)
			kill(pid, sig);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (status < 0)
		return err_set(e, -ECHILD, "rootless: lost the lab's process");
	if (WIFSIGNALED(status))
		return err_set(e, -EINTR, "rootless: the lab's process was killed by signal %d",
			       WTERMSIG(status));
	return WEXITSTATUS(status);
}

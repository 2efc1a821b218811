/* sysprobe: see sysprobe.h. */
#include "kernel/sysprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel/netns.h"

/* "No", with why in e: the 0 of the 1/0/-errno answers. */
static int absent(struct lc_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int absent(struct lc_err *e, int code, const char *fmt, ...)
{
	char msg[LC_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(e, code, "%s", msg);
	return 0;
}

/* A /proc/sys value as a number: 0, -ENOENT when the file does not exist. */
static int read_long(const char *path, long *v)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int n = fscanf(f, "%ld", v);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

int sysprobe_userns(struct lc_err *e)
{
	long v;
	int r = read_long("/proc/sys/user/max_user_namespaces", &v);
	if (r == -ENOENT)
		return absent(e, -ENOENT, "this kernel has no user namespaces (CONFIG_USER_NS)");
	if (r < 0)
		return err_set(e, r, "reading user.max_user_namespaces: %s", strerror(-r));
	if (v <= 0)
		return absent(e, -EPERM, "user.max_user_namespaces is 0; allow them: sysctl -w "
			       "user.max_user_namespaces=10000");
	/* Debian's patch (kernels before 6.x); absent upstream */
	if (read_long("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0)
		return absent(e, -EPERM, "kernel.unprivileged_userns_clone is 0; allow them: "
			       "sysctl -w kernel.unprivileged_userns_clone=1");
	/* Ubuntu 23.10 and later */
	if (read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 && v)
		return absent(e, -EPERM, "AppArmor restricts unprivileged user namespaces "
			       "(kernel.apparmor_restrict_unprivileged_userns=1)");
	return 1;
}

int sysprobe_tun(struct lc_err *e)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == ENOENT)
		return absent(e, -ENOENT, "/dev/net/tun does not exist; load the tun module "
			       "(modprobe tun) or create it: mknod /dev/net/tun c 10 200");
	if (errno == ENODEV)
		return absent(e, -ENODEV, "/dev/net/tun exists but this kernel has no TUN/TAP "
			       "driver (CONFIG_TUN); modprobe tun");
	if (errno == EACCES || errno == EPERM)
		return absent(e, -errno, "/dev/net/tun cannot be opened by this user (%s)",
			       strerror(errno));
	return err_set(e, -errno, "opening /dev/net/tun: %s", strerror(errno));
}

/* Does modules.builtin or the module tree of this kernel name sch_netem? */
static int module_listed(const char *release, const char *list, const char *name)
{
	char path[512], line[512];
	snprintf(path, sizeof(path), "/lib/modules/%s/%s", release, list);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *base = strrchr(line, '/');
		base = base ? base + 1 : line;
		found = !strncmp(base, name, strlen(name)) && strchr(".:", base[strlen(name)]);
	}
	fclose(f);
	return found;
}

int sysprobe_netem_module(char *how, size_t len, struct lc_err *e)
{
	struct utsname u;
	struct stat st;
	if (stat("/sys/module/sch_netem", &st) == 0) {
		snprintf(how, len, "sch_netem is loaded");
		return 1;
	}
	if (uname(&u) < 0)
		return err_set(e, -errno, "uname: %s", strerror(errno));
	if (module_listed(u.release, "modules.builtin", "sch_netem.ko")) {
		snprintf(how, len, "sch_netem is built into the kernel");
		return 1;
	}
	if (module_listed(u.release, "modules.dep", "sch_netem.ko")) {
		snprintf(how, len, "sch_netem is a module of this kernel (loaded on first use)");
		return 1;
	}
	return absent(e, -ENOENT, "kernel %s has no sch_netem (not loaded, not built in, no "
		       "module under /lib/modules/%s)", u.release, u.release);
}

int sysprobe_btf(struct lc_err *e)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		return absent(e, -errno, "no kernel BTF (/sys/kernel/btf/vmlinux: %s): the kernel "
			       "needs CONFIG_DEBUG_INFO_BTF", strerror(errno));
	/* an unknown command: EINVAL when bpf() exists, ENOSYS when it does not */
	if (syscall(SYS_bpf, -1, NULL, 0) < 0 && errno == ENOSYS)
		return absent(e, -ENOSYS, "the kernel has BTF but no bpf() system call "
			       "(CONFIG_BPF_SYSCALL)");
	return 1;
}

int sysprobe_somaxconn(long *value, struct lc_err *e)
{
	int fd, saved, r;
	r = netns_new(&fd, e);
	if (r < 0)
		return r;
	r = netns_enter(fd, &saved, e);
	if (r < 0)
		goto close_fd;
	/* /proc/sys/net is the opener's namespace's */
	r = read_long("/proc/sys/net/core/somaxconn", value);
	netns_leave(&saved);
	if (r < 0)
		err_set(e, r, "reading net.core.somaxconn in a new namespace: %s", strerror(-r));
	else
		r = 1;
close_fd:
	close(fd);
	return r;
}

int sysprobe_nofile(unsigned long long *soft, unsigned long long *hard, struct lc_err *e)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_set(e, -errno, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	*soft = rl.rlim_cur;
	*hard = rl.rlim_max;
	return 1;
}

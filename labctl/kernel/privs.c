#include "kernel/privs.h"
#include "kernel/userns.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

int privs_check(const char *what, struct lc_err *e)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
	if (syscall(SYS_capget, &hdr, data) < 0)
		return err_set(e, -errno, "%s: cannot read this process's capabilities", what);
	int admin = has_cap(data, CAP_SYS_ADMIN), net = has_cap(data, CAP_NET_ADMIN);
	if (admin && net)
		return 0;
	if (!admin && !net)
		return err_set(e, -EPERM, "%s needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to make "
			       "network namespaces; run it with sudo, or without root and without "
			       "LABCTL_ROOTLESS=0, in a user namespace of its own (`labctl doctor` "
			       "says what this machine allows)", what);
	return err_set(e, -EPERM, "%s needs %s, which this process lacks; run it with sudo (see `labctl "
			       "doctor`)", what,
		       admin ? "CAP_NET_ADMIN" : "CAP_SYS_ADMIN");
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > 0xfffffffeUL ? -EINVAL : 0;
}

int privs_invoker(struct privs_user *u, struct lc_err *e)
{
	memset(u, 0, sizeof(*u));
	unsigned long uid, gid;
	struct passwd *pw;
	uid_t ouid;
	gid_t ogid;
	if (getuid() == 0 && userns_outside(&ouid, &ogid) == 1) {
		/* A rootless lab: uid 0 here is the caller outside, and no other id is mapped.
		 * Its supplementary groups cannot change (setgroups is denied): keep them. */
		u->uid = 0;
		u->gid = 0;
		snprintf(u->how, sizeof(u->how), "the caller (root of its user namespace)");
		pw = getpwuid(ouid);
		snprintf(u->name, sizeof(u->name), "%s", pw ? pw->pw_name : "");
		if (!u->name[0])
			snprintf(u->name, sizeof(u->name), "%u", (unsigned)ouid);
		snprintf(u->home, sizeof(u->home), "%s", pw && pw->pw_dir ? pw->pw_dir : "/");
		u->ngroups = -1;
		return 0;
	} else if (getuid() != 0) {
		u->uid = getuid();
		u->gid = getgid();
		snprintf(u->how, sizeof(u->how), "the caller");
	} else if (getenv("SUDO_UID")) {
		if (parse_id(getenv("SUDO_UID"), &uid) < 0 || parse_id(getenv("SUDO_GID"), &gid) < 0)
			return err_set(e, -EINVAL, "SUDO_UID=%s SUDO_GID=%s: not a uid and gid",
				       getenv("SUDO_UID"), getenv("SUDO_GID") ? getenv("SUDO_GID") : "");
		u->uid = (uid_t)uid;
		u->gid = (gid_t)gid;
		snprintf(u->how, sizeof(u->how), "SUDO_UID");
	} else {
		pw = getpwnam("nobody");
		u->uid = pw ? pw->pw_uid : 65534;
		u->gid = pw ? pw->pw_gid : 65534;
		snprintf(u->how, sizeof(u->how), "no SUDO_UID: nobody");
	}
	pw = getpwuid(u->uid);
	snprintf(u->name, sizeof(u->name), "%s", pw ? pw->pw_name : "");
	if (!u->name[0])
		snprintf(u->name, sizeof(u->name), "%u", (unsigned)u->uid);
	snprintf(u->home, sizeof(u->home), "%s", pw && pw->pw_dir ? pw->pw_dir : "/");
	int n = PRIVS_GROUPS_MAX;
	if (pw && u->uid != 0 && getgrouplist(pw->pw_name, u->gid, u->groups, &n) >= 0)
		u->ngroups = n;
	else {
		u->groups[0] = u->gid;
		u->ngroups = 1;
	}
	return 0;
}

void privs_root(struct privs_user *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "root");
	snprintf(u->home, sizeof(u->home), "/root");
	snprintf(u->how, sizeof(u->how), "as-root");
	u->ngroups = 1;
	uid_t ouid;
	gid_t ogid;
	if (userns_outside(&ouid, &ogid) == 1)
		u->ngroups = -1;   /* a rootless lab: root here is the caller, groups fixed */
}

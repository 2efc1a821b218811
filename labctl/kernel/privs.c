#include "kernel/privs.h"

#include <errno.h>
#include <linux/capability.h>
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
			       "network namespaces; run it with sudo (`labctl doctor` says what this "
			       "machine allows)", what);
	return err_set(e, -EPERM, "%s needs %s, which this process lacks; run it with sudo (see `labctl "
			       "doctor`)", what,
		       admin ? "CAP_NET_ADMIN" : "CAP_SYS_ADMIN");
}

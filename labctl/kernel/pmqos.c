/* pmqos: see pmqos.h. */
#include "kernel/pmqos.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int pmqos_hold(int us, struct lc_err *e)
{
	int fd = open(PMQOS_DEV, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		return err_set(e, r, "--low-latency: cannot open %s: %s%s", PMQOS_DEV, strerror(-r),
			       r == -ENOENT ? " (the kernel has no PM QoS CPU latency interface; "
			       "run without --low-latency)" :
			       r == -EACCES || r == -EPERM ? " (it needs root)" : "");
	}
	int32_t v = us;   /* the binary form: four bytes, the request in microseconds */
	if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
		int r = errno ? -errno : -EIO;
		close(fd);
		return err_set(e, r, "--low-latency: writing the request to %s: %s", PMQOS_DEV,
			       strerror(-r));
	}
	return fd;
}

/* capture: live packet capture inside a network namespace, written to a pcap file.
 *
 * capture_start() forks a capture child.  The child enters the namespace (setns on the
 * caller's fd), opens a libpcap live handle on the interface there (immediate mode, snaplen
 * CAPTURE_SNAPLEN, nanosecond timestamps when the kernel offers them), tells the parent the
 * capture is live, and from then on only moves packets from the kernel ring to the file with
 * pcap_dump.  A separate process keeps the capture independent of the caller's event loop:
 * timestamps are the kernel's (taken when the packet crossed the device), and a busy runner
 * never lets the ring overflow.  The child dies with its parent (PR_SET_PDEATHSIG).
 *
 * capture_start() returns only once the handle is active, so no packet sent after it returns
 * is missed.  capture_stop() asks the child to drain the ring, flush and close the file, and
 * waits for it: every packet the kernel had handed to the capture socket is in the file.
 *
 * Ownership: the struct capture belongs to the caller; capture_free() stops a running capture
 * (without waiting for a count) and frees it.  The file name is the caller's choice (the
 * runner names them LABID-HOST-IFNAME.pcap).
 */
#ifndef LABCTL_CAPTURE_H
#define LABCTL_CAPTURE_H

#include <stdint.h>

#include "base/err.h"

/* Enough for Ethernet + IPv6 + TCP with options and the start of the payload. */
#define CAPTURE_SNAPLEN 256

struct capture;

/* Start capturing on ifname inside the namespace netns_fd (an fd on /proc/PID/ns/net or
 * /run/netns/NAME; -1 means the caller's own namespace).  path is created (truncated). */
int capture_start(int netns_fd, const char *ifname, const char *path, struct capture **out,
		  struct lc_err *e);

/* Drain, flush and close the file; *packets (may be NULL) gets the number written.  The
 * capture stays allocated: free it with capture_free(). */
int capture_stop(struct capture *c, uint64_t *packets, struct lc_err *e);

/* Packets the kernel dropped before the capture could read them (after capture_stop). */
uint64_t capture_dropped(const struct capture *c);

void capture_free(struct capture *c);

#endif

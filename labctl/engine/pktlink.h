/* pktlink: userlink's frames through packet sockets instead of TAP devices.
 *
 * An unprivileged user cannot open /dev/net/tun where it is mode 0600 (here), but owns every
 * device of its user namespace's network namespaces.  So each link end is a veth pair: the
 * lab's device (dev_a, dev_b) in the host, its peer in one hidden wire namespace per lab,
 * and an AF_PACKET socket bound to the peer with an mmap'd receive ring (TPACKET_V2; no
 * per-frame read, no socket buffer limit, and the kernel's receive stamp of every frame).
 * The userlink forwarder holds the sockets and moves frames exactly as it moves them between
 * TAPs: its rules, its seeded model and its counters are the same code.
 *
 * A TAP hands over whole Ethernet frames with complete checksums; a veth hands over what the
 * stack gave it: 64 KB TSO super-frames and checksums left to "hardware".  The host ends
 * have segmentation and checksum offload switched off, so every frame on the wire is one
 * the receiver could have got from a real link, and a corrupted one fails its checksum.
 *
 * Lifetime: the packet sockets hold the wire namespace; when the forwarder dies (it dies
 * with labctl), the namespace and every veth pair in it go, host ends included.
 */
#ifndef LABCTL_PKTLINK_H
#define LABCTL_PKTLINK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct nlx;
struct engine_host;

/* Frames in each end's receive ring: what a TAP queues (500) and a little more. */
#define PKTLINK_RING_FRAMES 512
#define PKTLINK_FRAME_SIZE 2048

/* The lab's wire namespace (IPv6 off: the wire sends nothing of its own) and a route socket
 * in it.  Owner: the caller closes *fd and frees *nl. */
int pktlink_wire_new(int *fd, struct nlx **nl, struct lc_err *e);

/* One link end: dev (MAC mac, ifindex host_ifindex) in host h, its peer wire_dev in the wire
 * namespace, offloads off on dev, and a packet socket bound to wire_dev with its ring set up
 * (mapped by the forwarder: pktlink_ring_map).  *fd: the socket (nonblocking, CLOEXEC). */
int pktlink_end_open(int wire_fd, struct nlx *wire_nl, const struct engine_host *h,
		     const char *dev, const uint8_t mac[6], int host_ifindex, int wire_ifindex,
		     int *fd, struct lc_err *e);

/* The forwarder's view of one socket's receive ring. */
struct pktlink_ring {
	uint8_t *map;
	size_t len;
	unsigned nframes, head;
};

int pktlink_ring_map(int fd, struct pktlink_ring *r);
void pktlink_ring_unmap(struct pktlink_ring *r);
/* The next frame the kernel handed over, or NULL: its bytes, length and receive stamp
 * (CLOCK_REALTIME, ns).  Hand it back with pktlink_ring_release() before the next call.
 * *truncated: the frame was longer than a ring slot (never at MTU 1500). */
const uint8_t *pktlink_ring_next(struct pktlink_ring *r, size_t *len, int64_t *real_ns,
				 int *truncated);
void pktlink_ring_release(struct pktlink_ring *r);

/* Whether this process can open /dev/net/tun (userlink's TAP path): 0 yes, else -errno. */
int pktlink_tun_usable(void);

#endif

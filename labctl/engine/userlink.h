/* userlink: the impairment engine for kernels without sch_netem.
 *
 * Each end of a link is a TAP device (dev_a inside host a, dev_b inside host b), opened
 * non-persistent so the device lives exactly as long as its fd.  start() forks one forwarder
 * process that holds every TAP fd and runs one libev loop: it reads each frame, applies the
 * scripted rules (lab->rules) and the direction's impairments (impair.h, seeded per direction),
 * and writes the frame to the other end when its time comes (a timerfd armed at the earliest
 * pending frame: nanosecond timers, not libev's millisecond epoll timeout).  The forwarder
 * dies with its parent (PR_SET_PDEATHSIG) and then the TAP devices vanish with it.
 *
 * Live changes and counters go over a SOCK_SEQPACKET control pair.
 */
#ifndef LABCTL_USERLINK_H
#define LABCTL_USERLINK_H

#include <stdint.h>

#include "engine/engine.h"

extern const struct engine_ops userlink_ops;
/* The same engine with its frames through veth ends and packet sockets (engine/pktlink.h):
 * no /dev/net/tun, so it runs in a rootless lab. */
extern const struct engine_ops pktlink_ops;

/* Make en->priv for a userlink engine (engine_new calls this). */
int userlink_init(struct engine *en, struct lc_err *e);

/* Per link direction (0: a->b, 1: b->a). */
struct userlink_counters {
	uint64_t in;             /* frames read from the sender's TAP */
	uint64_t out;            /* frames written to the receiver's TAP (duplicates count) */
	uint64_t lost;           /* dropped by the loss model */
	uint64_t overlimit;      /* dropped: queue limit */
	uint64_t ruled;          /* dropped by a scripted rule */
	uint64_t duplicated, corrupted, reordered;
	uint64_t write_errors;   /* receiver TAP refused the frame (device down) */
};

/* Before start(): ask the forwarder to write one line per frame to fd (it dups fd):
 *   LINK DIR INDEX FATE DELAY_NS
 * where FATE is send, dup, loss, limit, rule; and its counters when it exits. */
int userlink_set_fate_log(struct engine *en, int fd, struct lc_err *e);

/* Counters of one link (both directions), from the running forwarder. */
int userlink_counters(struct engine *en, int link, struct userlink_counters out[2],
		      struct lc_err *e);

/* The stable MAC address of a link end (side 0: a, 1: b): 02:6c:63:LL:LL:SS. */
void userlink_mac(int link, int side, uint8_t mac[6]);

#endif

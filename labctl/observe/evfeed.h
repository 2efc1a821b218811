/* evfeed: the event observer's records (kernel/tcpev.h) turned into a timeline's states.
 *
 * A full socket's state change goes into the timeline as it is, with two exceptions the
 * kernel's tracepoint forces on us:
 *
 *  - TIME_WAIT.  The kernel enters it by replacing the socket with a timewait socket, which
 *    inherits the cookie and arms its timer *before* the old socket's FIN_WAIT_2 -> CLOSE
 *    event.  So the timer's start says TIME_WAIT (or FIN_WAIT_2, the timewait socket's
 *    substate after a FIN_WAIT_2 timeout), the full socket's ->CLOSE that follows is
 *    dropped, and the timewait socket's end is the connection's CLOSE.
 *  - SYN_RECV.  A listener's request socket has no state event: its SYN+ACK timer's first
 *    start opens it (keyed by a cookie made up here: the kernel's address of the request
 *    socket may be reused), and the full socket that replaces it is stitched on by tuple
 *    (timeline_transition).
 *
 * A timer's end is ambiguous at the moment it is reported: the kernel detaches a timer
 * (timer_cancel) both to fire it, to re-arm it and to delete it.  An expiry or a re-arm
 * follows the detach at once on the same CPU; a deletion is followed by nothing.  So a
 * detach is held for EVFEED_GRACE_NS, and becomes the socket's end (at the detach's own
 * time) only if nothing followed: evfeed_settle() decides, after the ring has been drained.
 *
 * The feed holds no reference to the timeline beyond what evfeed_new was given; the caller
 * keeps the timeline alive while the feed lives.
 */
#ifndef LABCTL_EVFEED_H
#define LABCTL_EVFEED_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/tcpev.h"
#include "observe/timeline.h"

#define EVFEED_GRACE_NS 5000000

struct evfeed;

/* real_off_ns: CLOCK_REALTIME - CLOCK_MONOTONIC, added to the kernel's monotonic time for
 * the timeline's real time.  NULL when out of memory. */
struct evfeed *evfeed_new(struct timeline *tl, int64_t real_off_ns);
void evfeed_free(struct evfeed *f);

/* Apply one record.  0, -ENOMEM, or -EINVAL (a host index the timeline refuses). */
int evfeed_apply(struct evfeed *f, const struct tcpev_event *ev);

/* Commit the detaches older than now_ns - EVFEED_GRACE_NS that nothing followed (INT64_MAX:
 * all of them, at the end of a run).  Call after draining the ring.  0, or -ENOMEM. */
int evfeed_settle(struct evfeed *f, int64_t now_ns);

/* Detaches still waiting for evfeed_settle. */
int evfeed_npending(const struct evfeed *f);

#endif

/* timeline: each connection's TCP state sequence with timestamps, built from sock_diag polls
 * (timeline_observe, timeline_poll_once) or from the kernel's own events (timeline_transition,
 * fed by observe/evfeed.h); readers never know which.
 *
 * Connections are keyed by (host, socket cookie), so two hosts or two sockets with the same
 * ports never mix.  A server-side connection starts as a request socket (SYN_RECV) whose
 * cookie the full socket does not inherit; the timeline stitches the two by 4-tuple so the
 * connection reads SYN_RECV, ESTABLISHED.  A socket that vanishes from the dumps is recorded
 * as CLOSED.  Events are appended only on a change, in observation order; each carries both
 * CLOCK_REALTIME (to line up with pcap timestamps) and CLOCK_MONOTONIC.
 *
 * Hash tables keep observing 100k sockets per poll linear.  The timeline owns everything it
 * holds; pointers returned by the accessors stay valid until the next observe/sweep/poll.
 */
#ifndef LABCTL_TIMELINE_H
#define LABCTL_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel/diag.h"

struct timeline;

struct timeline_conn {
	int host;
	int family;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint64_t cookie;           /* the current socket's (a request socket's is replaced) */
	enum lab_tcp_state state;  /* last state seen; LAB_TCP_CLOSE once gone */
	bool active;               /* still in the dumps */
	uint32_t seen_gen;
	int first_ev, last_ev;     /* event indexes; events chain through next */
	int nev;
};

struct timeline_event {
	int conn;                  /* index for timeline_conn() */
	int next;                  /* the connection's next event, -1 at the end */
	enum lab_tcp_state from;   /* LAB_TCP_NONE for the first sighting */
	enum lab_tcp_state to;
	int64_t real_ns;           /* CLOCK_REALTIME */
	int64_t mono_ns;           /* CLOCK_MONOTONIC */
};

/* Called for every appended event (e.g. `labctl watch` prints it). */
typedef void (*timeline_hook)(const struct timeline *tl, const struct timeline_event *ev,
			      void *arg);

struct timeline *timeline_new(void);
void timeline_free(struct timeline *tl);
void timeline_set_hook(struct timeline *tl, timeline_hook fn, void *arg);

/* Record s as seen on host now (appends an event only when its state changed).  0 or
 * -ENOMEM.  host is 0..LAB_MAX_HOSTS-1. */
int timeline_observe(struct timeline *tl, int host, const struct diag_sock *s, int64_t real_ns,
		     int64_t mono_ns);

/* Record a state change the kernel reported as it happened (the event observer): s carries
 * the socket's cookie, tuple and new state.  Same keys and stitching as timeline_observe; a
 * change to LAB_TCP_CLOSE ends the connection (no sweep needed), and a full socket whose
 * first change is to SYN_RECV takes over the request socket of the same tuple.  0,
 * -ENOMEM or -EINVAL (host out of range). */
int timeline_transition(struct timeline *tl, int host, const struct diag_sock *s,
			int64_t real_ns, int64_t mono_ns);

/* The connection index of (host, cookie), or -1. */
int timeline_find(const struct timeline *tl, int host, uint64_t cookie);

/* Start a new observation round for host: returns its generation number. */
uint32_t timeline_begin(struct timeline *tl, int host);

/* Every active connection of host not observed in round gen is recorded CLOSED at the given
 * time.  Call only after a complete dump whose filter covered those sockets. */
int timeline_sweep(struct timeline *tl, int host, uint32_t gen, int64_t real_ns,
		   int64_t mono_ns);

/* One filtered dump of host through d: begin, observe every socket, sweep. */
int timeline_poll_once(struct timeline *tl, struct diag *d, int host,
		       const struct diag_filter *f, struct lc_err *e);

/* The filter a lab's poller should use: the ports of its listen, connect and flood steps
 * (local or remote), every state, IPv4 only when no host has an IPv6 address (one dump
 * instead of two).  More ports than DIAG_MAX_PORTS: no port filter. */
void timeline_lab_filter(const struct lab *lab, struct diag_filter *f);

/* What host's connections went through (expect HOST path / seen).  A connection counts when
 * port is 0 or its local or remote port; listeners are left out.
 * timeline_count_path: connections whose states so far are exactly path[0..n).
 * timeline_count_seen: connections that were in state at some time.
 * timeline_describe: "SYN_SENT ESTABLISHED ..." of the first max such connections, joined
 * by "; " (for the step log when a path does not hold). */
int timeline_count_path(const struct timeline *tl, int host, uint16_t port,
			const enum lab_tcp_state *path, int n);
int timeline_count_seen(const struct timeline *tl, int host, uint16_t port,
			enum lab_tcp_state state);
void timeline_describe(const struct timeline *tl, int host, uint16_t port, int max, char *buf,
		       size_t len);

/* Iteration (for the ladder renderer and reports). */
int timeline_nconns(const struct timeline *tl);
const struct timeline_conn *timeline_conn(const struct timeline *tl, int i);
int timeline_nevents(const struct timeline *tl);
const struct timeline_event *timeline_event(const struct timeline *tl, int i);

/* The run report's form: connections order[0..n) (every one when order is NULL), each as
 *   "  client   10.0.0.1:40000 > 10.0.0.2:8080"
 *   "          SYN_SENT 0.0, ESTABLISHED 20.3, ..."   (ms since t0_ns, wrapped at 100 columns)
 * At most max connections (0: all); returns how many were left out.  host_names may be NULL
 * ("host0"...). */
int timeline_print(const struct timeline *tl, FILE *out, const char *const *host_names,
		   int nhosts, const int *order, int n, int64_t t0_ns, int max);

/* JSON lines, one object per connection with its events. */
void timeline_json(const struct timeline *tl, FILE *out, const char *const *host_names,
		   int nhosts);

#endif

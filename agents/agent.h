/* agent: the state of one labctl-agent process (one per host namespace, one libev loop).
 *
 * agent.c owns the control channel (framed requests in, answers and events out) and
 * dispatches requests; conn.c owns the TCP sockets: listeners, connections and groups.
 * Everything lives in one struct agent passed explicitly; watchers are embedded in their
 * owners and recovered with container_of.
 */
#ifndef LABCTL_AGENT_H
#define LABCTL_AGENT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "proto.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Values of the mode attributes (the same numbers as lab.h's enums). */
enum { ACC_AUTO, ACC_NEVER, ACC_MANUAL, ACC_AFTER };
enum { EOF_CLOSE, EOF_KEEP, EOF_SHUTDOWN };
enum { DATA_SINK, DATA_ECHO, DATA_SOURCE, DATA_IGNORE };
/* Event kinds (lab.h's enum lab_event_kind; op = PROTO_OP_EV_BASE + kind). */
enum { EVK_CONNECTED, EVK_ACCEPTED, EVK_DATA, EVK_EOF, EVK_REFUSED, EVK_TIMEOUT, EVK_RESET,
       EVK_CLOSED, EVK_ERROR };

/* A connection's 4-tuple, kept so later events need no syscall (and still have addresses
 * after a reset, when getpeername fails). */
struct tuple {
	uint8_t family;       /* AF_INET / AF_INET6, 0 = unknown */
	uint16_t lport, pport;
	uint8_t lip[16], pip[16];
};

enum conn_state { CS_CONNECTING, CS_OPEN };
enum {
	CF_EOF = 1 << 0,         /* peer's FIN seen */
	CF_SHUT_PENDING = 1 << 1, /* shutdown(SHUT_WR) once queued data is written */
	CF_SHUT = 1 << 2,        /* shutdown(SHUT_WR) done */
	CF_NOREAD = 1 << 3,      /* stopped reading (on-eof keep/shutdown) */
};

/* One TCP connection (~150 bytes; the kernel's socket is ~10x that). */
struct conn {
	ev_io io;                /* fd is io.fd */
	struct conn *prev, *next;  /* in its group */
	struct group *g;
	uint32_t id;
	uint8_t state;
	uint8_t flags;
	uint8_t end_kind;        /* how a connect in flight ended (EVK_*): for group steps */
	uint64_t to_send;        /* bytes queued by send */
	uint64_t rx;             /* bytes received */
	uint8_t *pend;           /* echo: bytes read but not yet written back */
	uint32_t pend_len, pend_off;
	struct tuple t;
};

enum group_kind { GK_LISTEN, GK_CONNECT, GK_CYCLE };

struct gstep;  /* a group step waiting for handshakes in flight (groupop.c) */

/* A named set of connections: those made by `connect ... as G` or accepted by
 * `listen ... as G`.  A listen group also owns the listening socket. */
struct group {
	struct group *next;
	struct agent *a;
	char name[PROTO_NAME_MAX];
	enum group_kind kind;
	struct conn *head;
	uint64_t nconns;
	struct gstep *steps;     /* steps waiting for handshakes, in arrival order */
	uint8_t on_eof, data;
	/* listen */
	int lfd;
	ev_io lio;
	ev_timer ltimer;         /* accept after DUR; EMFILE back-off */
	uint8_t accept_mode;
	int64_t accept_credit;   /* manual: accepts still allowed */
	struct sockaddr_storage laddr;
	/* connect / cycle */
	struct sockaddr_storage target, from;
	bool has_from;
	bool keepalive;          /* SO_KEEPALIVE on every connect */
	int64_t to_start, started;
	double rate;             /* per second, 0 = as fast as the loop goes */
	ev_tstamp t0;
	ev_timer ctimer;         /* paces connects */
	/* cycle */
	uint32_t cycle_tag;
	uint32_t concurrency;
	int64_t cycle_done, cycle_inflight;
	int64_t cycle_t0_ns;
	bool cycle_dead;         /* finished; freed by ctimer */
};

struct agent {
	struct ev_loop *loop;
	int ctl;                 /* control socket (fd 3) */
	ev_io ctl_r, ctl_w;
	ev_prepare flush;        /* sends batched frames before the loop blocks */
	uint8_t *out;            /* encoded frames not yet sent */
	size_t out_off, out_len, out_cap;
	uint8_t *rbuf;           /* shared read buffer (control and data) */
	size_t rbuf_cap;
	struct group *groups;
	struct flood *floods;    /* running SYN floods (flood.c) */
	uint32_t next_conn;
	bool quitting;
};

/* agent.c */
void agent_send(struct agent *a, const struct proto_msg *m);
void agent_reply_ok(struct agent *a, uint32_t tag);
/* ok, with a note for the step log (PA_MSG): what the request did beyond the obvious. */
void agent_reply_note(struct agent *a, uint32_t tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void agent_reply_err(struct agent *a, uint32_t tag, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Output above this is "backed up": data events are coalesced (their BYTES is cumulative). */
bool agent_backed_up(const struct agent *a);

/* conn.c: each handles one request and sends its answer. */
void conn_op_listen(struct agent *a, const struct proto_msg *m);
void conn_op_connect(struct agent *a, const struct proto_msg *m);
void conn_op_cycle(struct agent *a, const struct proto_msg *m);
void conn_free_all(struct agent *a);
/* conn.c, for groupop.c: what a request on a group acts with. */
struct group *group_find(struct agent *a, const char *name);
void listener_update(struct group *g);
int64_t listener_accept(struct group *g, int64_t max);  /* accept up to max now: how many */
void conn_settle(struct conn *c);  /* a connect the kernel finished before the loop saw it */
bool conn_write(struct conn *c);   /* false: the connection is gone */
void conn_update(struct conn *c);  /* watch for what it needs now */
void conn_do_shutdown(struct conn *c);
void conn_close(struct conn *c, bool abort);  /* the agent closes: closed event, close() */

/* groupop.c: a request on a group (send shutdown close abort accept unlisten).  send,
 * shutdown, close and abort wait for the handshakes they find in flight (at most the
 * request's DURATION_NS) and are answered once they have acted. */
void group_op(struct agent *a, const struct proto_msg *m);
/* A connect of c's group in flight has ended (kind: EVK_CONNECTED, or how it failed). */
void group_step_settled(struct conn *c, int kind);
/* Drop the waiting steps unanswered (the agent is exiting). */
void group_steps_free(struct group *g);

/* flood.c: a SYN flood; answered when it is over (see flood.c for what it refuses). */
struct flood;
void flood_op(struct agent *a, const struct proto_msg *m);
void flood_free_all(struct agent *a);

#endif

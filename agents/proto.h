/* proto: the control protocol between labctl and labctl-agent.
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socket pair.  One datagram carries one or more whole
 * frames back to back (the agent batches events); a frame never spans two datagrams, so a
 * corrupt length can never desynchronise the stream: the rest of that datagram is dropped.
 *
 * Frame:  struct proto_hdr { u32 len (whole frame, header included); u16 op; u16 flags;
 *                            u32 tag }                                          12 bytes
 *         then attributes, netlink style: { u16 len (header + value, unpadded); u16 type;
 *                                           value; zero padding to 4 bytes }
 * All integers are in host byte order (both ends run on one host, as with netlink).  The
 * frame length is the sum of the header and every padded attribute, at most PROTO_MAX_FRAME.
 *
 * Requests carry a tag chosen by labctl; the answer (PROTO_OP_OK or PROTO_OP_ERROR) carries
 * the same tag.  Events (PROTO_OP_EV_*) carry tag 0 and stream back at any time.
 *
 * Decoding trusts nothing: every length, type, value size, enum range, string terminator and
 * the attributes each op requires are checked; a bad frame yields -EBADMSG, never a crash.
 * Unknown ops and attribute types are rejected (-EPROTO): both ends are built together.
 */
#ifndef LABCTL_PROTO_H
#define LABCTL_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROTO_HDR_LEN 12u
#define PROTO_ATTR_HDR_LEN 4u
#define PROTO_MAX_FRAME 4096u       /* a frame; the biggest real one is ~600 bytes */
#define PROTO_MAX_DGRAM 65536u      /* a datagram of batched frames */
#define PROTO_NAME_MAX 32           /* group names, NUL included (== LAB_NAME_MAX) */
#define PROTO_ERRNAME_MAX 32
#define PROTO_TEXT_MAX 256

enum proto_op {
	/* requests (labctl -> agent) */
	PROTO_OP_LISTEN = 1,
	PROTO_OP_CONNECT,
	PROTO_OP_SEND,
	PROTO_OP_SHUTDOWN,
	PROTO_OP_CLOSE,
	PROTO_OP_ABORT,
	PROTO_OP_ACCEPT,
	PROTO_OP_FLOOD,     /* spoofed SYNs to ADDR at RATE_MILLI for DURATION_NS, sources from
			       FROM/FROM_PREFIX (default: the range) inside RANGE/RANGE_PREFIX
			       (the lab's black hole); answered when done, with COUNT (SYNs sent),
			       ELAPSED_NS and a MSG for the step log */
	PROTO_OP_PING,
	PROTO_OP_QUIT,
	PROTO_OP_CYCLE,     /* connect, close once connected, repeat COUNT times (benchmarks);
			       answered when done, with COUNT and ELAPSED_NS */
	PROTO_OP_UNLISTEN,  /* close GROUP's listening socket (accepted connections stay) */
	PROTO_OP_REQ_MAX,
	/* answers (agent -> labctl), tag = the request's */
	PROTO_OP_OK = 0x40,
	PROTO_OP_ERROR,     /* ERRNO, ERRNAME, MSG */
	/* events (agent -> labctl): PROTO_OP_EV_BASE + enum lab_event_kind */
	PROTO_OP_EV_BASE = 0x80,
	PROTO_OP_EV_CONNECTED = PROTO_OP_EV_BASE,
	PROTO_OP_EV_ACCEPTED,
	PROTO_OP_EV_DATA,    /* BYTES = bytes received so far on this connection */
	PROTO_OP_EV_EOF,
	PROTO_OP_EV_REFUSED,
	PROTO_OP_EV_TIMEOUT,
	PROTO_OP_EV_RESET,
	PROTO_OP_EV_CLOSED,  /* the agent closed it (close, abort, on-eof close) */
	PROTO_OP_EV_ERROR,   /* ERRNO (and MSG): EMFILE, ENOBUFS, EHOSTUNREACH, ... */
	PROTO_OP_EV_END,
};

/* Header flags. */
enum {
	PROTO_F_ABORT = 1 << 0,   /* on EV_CLOSED: closed with SO_LINGER {1,0} (RST) */
	PROTO_F_ALL_FAMILIES = 1 << 1,  /* on LISTEN, ADDR [::]:PORT: IPV6_V6ONLY 0, so one socket
					   (one accept queue) takes IPv4 connections too */
	PROTO_F_NO_REUSEADDR = 1 << 2,  /* on LISTEN: no SO_REUSEADDR (the agent sets it by
					   default, as servers do); an EADDRINUSE from bind is then
					   an error event of the group, not the request's error */
	PROTO_F_KEEPALIVE = 1 << 3,     /* on LISTEN (inherited by what it accepts) and CONNECT:
					   SO_KEEPALIVE, timed by the namespace's tcp_keepalive_*
					   sysctls; a peer that stops answering ends in a timeout
					   event */
	PROTO_F_ALL = PROTO_F_ABORT | PROTO_F_ALL_FAMILIES | PROTO_F_NO_REUSEADDR |
		      PROTO_F_KEEPALIVE,
};

enum proto_attr {
	PA_UNSPEC,
	PA_GROUP,        /* string */
	PA_ADDR,         /* address: listen address, connect target */
	PA_FROM,         /* address: connect source (port 0) */
	PA_BACKLOG,      /* u32 */
	PA_ACCEPT,       /* u32: enum lab_accept_mode */
	PA_AFTER_NS,     /* u64: accept after */
	PA_ON_EOF,       /* u32: enum lab_eof_mode */
	PA_DATA,         /* u32: enum lab_data_mode */
	PA_COUNT,        /* u64 (signed): connect/accept/cycle count; -1 = all pending */
	PA_RATE_MILLI,   /* u64: connects per 1000 s (0 = as fast as possible) */
	PA_BYTES,        /* u64: send amount; data source amount; data event total */
	PA_CONN,         /* u32: connection id */
	PA_TS_NS,        /* u64: CLOCK_MONOTONIC of the event */
	PA_LOCAL,        /* address */
	PA_PEER,         /* address */
	PA_ERRNO,        /* u32: positive errno */
	PA_ERRNAME,      /* string: "EADDRNOTAVAIL" */
	PA_MSG,          /* string: human text */
	PA_CONCURRENCY,  /* u32: cycle: connections in flight */
	PA_ELAPSED_NS,   /* u64: cycle, flood: time taken */
	PA_DURATION_NS,  /* u64: flood: how long; send/shutdown/close/abort: the longest wait for
			    the group's handshakes in flight (absent: 2 s; 0: act at once) */
	PA_FROM_PREFIX,  /* u32: flood: prefix length of FROM (the spoofed source range) */
	PA_RANGE,        /* address: flood: the lab's black-hole network (port 0) */
	PA_RANGE_PREFIX, /* u32: flood: its prefix length */
	PA_MAX,
};

#define PA_BIT(a) (1u << (a))

/* A decoded (or to-be-encoded) frame.  `have` says which attributes are present; encoders
 * emit exactly those.  Addresses are AF_INET or AF_INET6 sockaddrs (port included). */
struct proto_msg {
	uint16_t op;
	uint16_t flags;
	uint32_t tag;
	uint32_t have;                    /* PA_BIT(PA_*) */
	char group[PROTO_NAME_MAX];
	struct sockaddr_storage addr, from, local, peer, range;
	uint32_t backlog, accept, on_eof, data, conn, err, concurrency, from_prefix, range_prefix;
	int64_t after_ns, count, bytes, ts_ns, elapsed_ns, duration_ns;
	uint64_t rate_milli;
	char errname[PROTO_ERRNAME_MAX];
	char msg[PROTO_TEXT_MAX];
};

/* Encode m into buf (cap bytes).  Returns the frame length, or -EMSGSIZE when it does not fit,
 * -EINVAL when m is not a valid frame (unknown op, bad address family, string too long,
 * missing required attribute). */
int proto_encode(const struct proto_msg *m, void *buf, size_t cap);

/* The length of the frame at the start of buf (avail bytes there): 0 and *flen, or -EBADMSG
 * when the header is short or its length is impossible (< header, > PROTO_MAX_FRAME,
 * > avail, not a multiple of 4). */
int proto_frame_len(const void *buf, size_t avail, size_t *flen);

/* Decode exactly one frame of len bytes.  0, or -EBADMSG (malformed) / -EPROTO (unknown op
 * or attribute).  On error *m is unspecified but safe to read. */
int proto_decode(const void *buf, size_t len, struct proto_msg *m);

/* Helpers for the message fields. */
void proto_msg_init(struct proto_msg *m, uint16_t op, uint32_t tag);
void proto_set_group(struct proto_msg *m, const char *group);  /* truncates safely */
/* An error answer: ERRNO, ERRNAME (strerrorname_np) and MSG (formatted). */
void proto_set_error(struct proto_msg *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *proto_op_name(uint16_t op);       /* "listen", "ok", "ev-connected", "?" */
const char *proto_errno_name(int err);        /* "ECONNREFUSED"; "E?" when unknown */
int proto_is_event(uint16_t op);

#endif

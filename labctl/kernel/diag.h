/* diag: TCP socket states, queues, timers and tcp_info through netlink sock_diag (libmnl).
 *
 * One struct diag is one NETLINK_SOCK_DIAG socket opened inside one network namespace (the
 * process enters the namespace only for socket(), then returns).  diag_dump() sends one
 * inet_diag_req_v2 per address family with a state mask and a kernel-side bytecode filter,
 * and streams every socket to a callback as it parses the reply: a 100k-socket dump is never
 * held in memory.  Every reply is validated (message and attribute lengths, seq, portid);
 * malformed input is an error, never a crash.
 *
 * The parsers (diag_parse_msg, diag_parse_buf) are separate from the socket so unit tests
 * replay recorded dumps without root.
 */
#ifndef LABCTL_DIAG_H
#define LABCTL_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "lab/lab.h"

struct nlmsghdr;
struct diag;

/* Timer kinds, as the kernel reports them in idiag_timer. */
enum diag_timer {
	DIAG_TIMER_NONE = 0,
	DIAG_TIMER_RETRANS = 1,   /* retransmit (or SYN-ACK retransmit for a request socket) */
	DIAG_TIMER_KEEPALIVE = 2,
	DIAG_TIMER_TIMEWAIT = 3,
	DIAG_TIMER_PROBE = 4,     /* zero window probe */
};

/* The subset of struct tcp_info labctl uses (times in microseconds, as the kernel gives them). */
struct diag_tcp_info {
	uint8_t state, ca_state, retransmits, probes, backoff, options;
	uint8_t snd_wscale, rcv_wscale;
	uint32_t rto, ato, snd_mss, rcv_mss;
	uint32_t unacked, sacked, lost, retrans, fackets;
	uint32_t last_data_sent, last_ack_recv, last_data_recv;  /* ms */
	uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
	uint32_t rcv_rtt, rcv_space, total_retrans;
	uint64_t pacing_rate, bytes_acked, bytes_received, bytes_sent, bytes_retrans;
	uint32_t segs_out, segs_in, data_segs_out, data_segs_in;
	uint64_t delivery_rate;
	uint32_t min_rtt, delivered;
	uint32_t snd_wnd;
};

struct diag_mem {
	uint32_t rmem_alloc, rcvbuf, wmem_alloc, sndbuf, fwd_alloc, wmem_queued, optmem, backlog,
		drops;
};

struct diag_sock {
	int family;                   /* AF_INET or AF_INET6 */
	enum lab_tcp_state state;     /* kernel numbering; request sockets are LAB_TCP_SYN_RECV */
	uint8_t laddr[16], raddr[16]; /* network byte order; IPv4 uses the first 4 */
	uint16_t lport, rport;        /* host byte order */
	uint32_t ifindex;
	uint32_t rqueue;              /* LISTEN: accept queue length; else bytes not yet read */
	uint32_t wqueue;              /* LISTEN: backlog; else bytes not yet acknowledged */
	enum diag_timer timer;
	uint32_t expires_ms;
	uint32_t retrans;             /* timer retransmissions (probes for keepalive) */
	uint32_t uid;
	uint32_t inode;
	uint64_t cookie;
	int shutdown;                 /* -1 unknown, else bit 0 RCV_SHUTDOWN, bit 1 SEND_SHUTDOWN */
	bool has_info;
	struct diag_tcp_info info;
	bool has_mem;                 /* skmeminfo (or meminfo mapped onto it) */
	struct diag_mem mem;
	char cong[16];                /* congestion control name, "" when not reported */
	int tos;                      /* -1 when not reported */
};

#define DIAG_MAX_PORTS 64
#define DIAG_MAX_ADDRS 32

/* What to dump.  A zeroed filter (or NULL) means every TCP socket of both families. */
struct diag_filter {
	uint32_t states;                       /* 1 << LAB_TCP_x bits; 0 = all states */
	int family;                            /* 0 = both, AF_INET, AF_INET6 */
	uint16_t ports[DIAG_MAX_PORTS];        /* local OR remote port in this set (0 entries: any) */
	int nports;
	struct lab_addr addrs[DIAG_MAX_ADDRS]; /* AND local OR remote address in this set */
	int naddrs;                            /* (prefixlen -1 means a host address) */
	bool want_info;                        /* request tcp_info, memory, cong, tos */
};

/* Called once per socket.  s == NULL means the kernel interrupted the dump (NLM_F_DUMP_INTR)
 * and it restarts: forget what this dump delivered so far.  A non-zero return stops the dump
 * and diag_dump returns that value. */
typedef int (*diag_cb)(const struct diag_sock *s, void *arg);

/* Open a sock_diag socket inside the namespace netns_fd (-1: the current one).  The caller
 * keeps netns_fd; *out is owned by the caller (diag_free). */
int diag_new(int netns_fd, struct diag **out, struct lc_err *e);
void diag_free(struct diag *d);

/* Name used in error messages ("namespace lab-server"); copied. */
void diag_set_name(struct diag *d, const char *name);

/* Dump every matching socket to cb.  Returns 0, a negative errno (e filled), or cb's
 * non-zero return value. */
int diag_dump(struct diag *d, const struct diag_filter *f, diag_cb cb, void *arg,
	      struct lc_err *e);

/* Write every raw reply buffer of the next dumps to rec (NULL to stop); for recording test
 * data.  The caller keeps rec open. */
void diag_record(struct diag *d, FILE *rec);

/* Parse one SOCK_DIAG_BY_FAMILY message into *out. */
int diag_parse_msg(const struct nlmsghdr *nlh, struct diag_sock *out, struct lc_err *e);

/* Parse a buffer of netlink messages (one recv, or a recorded dump).  seq/portid 0 skip the
 * checks.  *done is set at NLMSG_DONE (parsing goes on: a recording holds one dump per
 * family); *intr when a message carries NLM_F_DUMP_INTR. */
int diag_parse_buf(const void *buf, size_t len, uint32_t seq, uint32_t portid, diag_cb cb,
		   void *arg, bool *done, bool *intr, struct lc_err *e);

/* Build the bytecode for f into buf (cap bytes); returns its length, 0 when f needs none,
 * or -ENOSPC.  Exposed for tests. */
int diag_bytecode(const struct diag_filter *f, int family, uint8_t *buf, size_t cap);

/* Kernel-side state mask of f (LAB_TCP_SYN_RECV also selects request sockets). */
uint32_t diag_state_mask(const struct diag_filter *f);

/* Format "10.0.0.1:8080" / "[fe80::1]:8080" ("*" for port 0 when star_zero); returns length. */
int diag_addr_format(int family, const uint8_t *addr, uint16_t port, bool star_zero, char *buf,
		     size_t len);

/* True when addr (family) equals a (IPv4-mapped IPv6 addresses match their IPv4 form). */
bool diag_addr_eq(int family, const uint8_t *addr, const struct lab_addr *a);

const char *diag_timer_name(enum diag_timer t);

#endif

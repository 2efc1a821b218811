/* lab: the parsed lab file.
 *
 * lab_parse_file()/lab_parse_string() turn a lab file into a struct lab, validating names,
 * values and cross references (links to unknown hosts, expectations on unknown hosts).  The
 * struct is plain data: fixed-size strings and arrays owned by the struct lab; lab_free()
 * releases everything.  Host, link and group references are indexes into the lab's arrays.
 *
 * The grammar is documented in docs/lab-format.md.  Every statement keeps its source position
 * so later stages (runner, engines) can report "FILE:LINE:COL: ..." too.
 */
#ifndef LABCTL_LAB_H
#define LABCTL_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define LAB_NAME_MAX 32     /* lab, host and group names */
#define LAB_IFNAME_MAX 16   /* IFNAMSIZ */
#define LAB_TEXT_MAX 512
#define LAB_HOST_ADDRS 8
#define LAB_HOST_SYSCTLS 16
#define LAB_MAX_HOSTS 256
/* send, shutdown, close, abort: how long a step waits for the handshakes it finds in flight
 * (wait-connect DUR), by default and at most (the agent's own default is the same) */
#define LAB_CONNECT_WAIT_NS (2LL * 1000000000)
#define LAB_CONNECT_WAIT_MAX_NS (60LL * 1000000000)

struct lab_pos {
	int line;  /* 1-based */
	int col;   /* 1-based */
};

/* An IPv4 or IPv6 address with an optional prefix length (prefixlen -1 when absent). */
struct lab_addr {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t bytes[16];   /* network byte order; IPv4 uses the first 4 */
	int prefixlen;
};

enum lab_cmp { LAB_CMP_EQ, LAB_CMP_GE, LAB_CMP_LE, LAB_CMP_GT, LAB_CMP_LT, LAB_CMP_NE };

struct lab_count {
	enum lab_cmp cmp;
	int64_t n;
};

/* TCP states, numbered as the kernel numbers them (include/net/tcp_states.h). */
enum lab_tcp_state {
	LAB_TCP_NONE = 0,
	LAB_TCP_ESTABLISHED = 1,
	LAB_TCP_SYN_SENT,
	LAB_TCP_SYN_RECV,
	LAB_TCP_FIN_WAIT1,
	LAB_TCP_FIN_WAIT2,
	LAB_TCP_TIME_WAIT,
	LAB_TCP_CLOSE,
	LAB_TCP_CLOSE_WAIT,
	LAB_TCP_LAST_ACK,
	LAB_TCP_LISTEN,
	LAB_TCP_CLOSING,
	LAB_TCP_NEW_SYN_RECV,  /* request socket; shown as SYN_RECV */
	LAB_TCP_MAX_STATES,
};

struct lab_sysctl {
	char key[96];   /* dotted, e.g. net.ipv4.tcp_fin_timeout */
	char value[64];
	struct lab_pos pos;
};

struct lab_host {
	char name[LAB_NAME_MAX];
	struct lab_addr addrs[LAB_HOST_ADDRS];
	int naddrs;
	struct lab_sysctl sysctls[LAB_HOST_SYSCTLS];
	int nsysctls;
	bool forward;        /* router: ip_forward / ipv6 forwarding */
	struct lab_pos pos;
};

/* One direction's impairments, netem-shaped.  `set` says which fields the lab gave. */
enum lab_dist { LAB_DIST_NONE, LAB_DIST_UNIFORM, LAB_DIST_NORMAL, LAB_DIST_PARETO,
		LAB_DIST_PARETONORMAL };

enum {
	IMP_DELAY = 1 << 0, IMP_JITTER = 1 << 1, IMP_DELAY_CORR = 1 << 2, IMP_DIST = 1 << 3,
	IMP_LOSS = 1 << 4, IMP_LOSS_CORR = 1 << 5, IMP_LOSS_GE = 1 << 6,
	IMP_DUP = 1 << 7, IMP_DUP_CORR = 1 << 8,
	IMP_REORDER = 1 << 9, IMP_REORDER_CORR = 1 << 10, IMP_GAP = 1 << 11,
	IMP_CORRUPT = 1 << 12, IMP_CORRUPT_CORR = 1 << 13,
	IMP_RATE = 1 << 14, IMP_LIMIT = 1 << 15,
};

struct lab_impair {
	uint32_t set;               /* IMP_* bits */
	int64_t delay_ns;
	int64_t jitter_ns;
	double delay_corr;          /* percentages are 0..100 */
	enum lab_dist dist;
	double loss, loss_corr;
	double ge_p, ge_r, ge_h, ge_k;  /* Gilbert-Elliott: p, r, 1-h, 1-k (netem's gemodel) */
	double dup, dup_corr;
	double reorder, reorder_corr;
	uint32_t gap;
	double corrupt, corrupt_corr;
	uint64_t rate_bps;          /* bits per second */
	uint32_t limit;             /* queue limit in packets */
};

/* A link joins host a and host b with a veth (or TAP pair under userlink).
 * dir[0] is a->b, dir[1] is b->a. */
struct lab_link {
	int a, b;                       /* host indexes */
	char dev_a[LAB_IFNAME_MAX];     /* interface name in a (default eth0, eth1, ...) */
	char dev_b[LAB_IFNAME_MAX];
	struct lab_impair dir[2];
	struct lab_pos pos;
};

/* A scripted per-packet rule (userlink engine only):
 *   drop A>B tcp SYN,ACK first 1
 * matches TCP segments whose flags equal `flags` exactly (as masked by `mask`). */
enum lab_rule_action { LAB_RULE_DROP };
enum { LAB_TCPF_FIN = 0x01, LAB_TCPF_SYN = 0x02, LAB_TCPF_RST = 0x04, LAB_TCPF_PSH = 0x08,
       LAB_TCPF_ACK = 0x10, LAB_TCPF_URG = 0x20 };
struct lab_rule {
	enum lab_rule_action action;
	int link;       /* link index */
	int dir;        /* 0: a->b, 1: b->a */
	uint8_t flags;  /* required flags */
	uint8_t mask;   /* flags compared (flags that must be set or clear) */
	int64_t first;  /* apply to the first N matching segments; -1 = all */
	struct lab_pos pos;
};

struct lab_route {
	int host;
	struct lab_addr dst;   /* prefixlen 0 for default */
	bool via_is_host;      /* via NAME: the named host's address on the shared subnet */
	int via_host;
	struct lab_addr via;   /* when !via_is_host */
	bool blackhole;        /* route HOST PREFIX blackhole */
	struct lab_pos pos;
};

struct lab_capture {
	int host;              /* -1 = all */
	struct lab_pos pos;
};

enum lab_op {
	LAB_OP_LISTEN, LAB_OP_CONNECT, LAB_OP_SEND, LAB_OP_SHUTDOWN, LAB_OP_CLOSE, LAB_OP_ABORT,
	LAB_OP_ACCEPT, LAB_OP_FLOOD, LAB_OP_IMPAIR, LAB_OP_WAIT, LAB_OP_EXPECT, LAB_OP_UNLISTEN,
	LAB_OP_START, LAB_OP_RUN, LAB_OP_STOP, LAB_OP_SIGNAL,   /* programs (struct lab_prog) */
};

/* A user's program in a host (`HOST start NAME ... -- ARGV`, `HOST run [NAME] ... -- ARGV`).
 * It runs as the invoking user, never through a shell unless `shell` was given. */
struct lab_prog {
	char name[LAB_NAME_MAX];
	int host;
	bool background;        /* start: lives until stopped or the lab ends; run: to completion */
	char **argv;            /* NULL-terminated, malloc'd, owned by the lab */
	int argc;
	char **env;             /* "KEY=VALUE" added to its environment; NULL-terminated or NULL */
	int nenv;
	bool shell;             /* argv is {"/bin/sh", "-c", TEXT}: the step asked for a shell */
	bool as_root;           /* `as-root`: only with labctl's --allow-root */
	int exit_code;          /* run: the exit status expected (default 0); -1 = any */
	int64_t timeout_ns;     /* run: its deadline (default 30 s) */
	uint16_t ready_port;    /* start: the step waits for a listener on this port (0: none) */
	int64_t ready_ns;       /* ... for at most this long (default 10 s) */
	struct lab_pos pos;
};

enum lab_accept_mode { LAB_ACCEPT_AUTO, LAB_ACCEPT_NEVER, LAB_ACCEPT_MANUAL, LAB_ACCEPT_AFTER };
enum lab_eof_mode { LAB_EOF_CLOSE, LAB_EOF_KEEP, LAB_EOF_SHUTDOWN };
/* ignore: never read, so unread data piles up (zero window; close() then sends RST). */
enum lab_data_mode { LAB_DATA_SINK, LAB_DATA_ECHO, LAB_DATA_SOURCE, LAB_DATA_IGNORE };

enum lab_expect_kind {
	LAB_EXPECT_STATE,     /* expect HOST STATE [port N] [peer HOST[:PORT]] [count C] */
	LAB_EXPECT_QUEUE,     /* expect HOST listen [port N] [queue C] [backlog C] [synrecv C] */
	LAB_EXPECT_COUNTER,   /* expect HOST counter NAME OP N */
	LAB_EXPECT_EVENT,     /* expect HOST event KIND [group G] [count C] */
	LAB_EXPECT_PROGRAM,   /* expect program NAME running | exited [code N | signal SIG] */
	LAB_EXPECT_PATH,      /* expect HOST path STATE... [port N]: a connection's whole history */
	LAB_EXPECT_SEEN,      /* expect HOST seen STATE [port N] [count C]: connections that passed */
};

#define LAB_PATH_MAX 16

enum lab_event_kind {
	LAB_EV_CONNECTED, LAB_EV_ACCEPTED, LAB_EV_DATA, LAB_EV_EOF, LAB_EV_REFUSED,
	LAB_EV_TIMEOUT, LAB_EV_RESET, LAB_EV_CLOSED, LAB_EV_ERROR, LAB_EV_MAX,
};

struct lab_step {
	enum lab_op op;
	int host;            /* acting host; -1 for wait/impair */
	int together;        /* steps sharing a together id (same line, joined by '&') start at
				the same instant; every step has one */
	struct lab_pos pos;
	union {
		struct {
			struct lab_addr addr;  /* family 0 = any */
			bool has_addr;
			uint16_t port;
			int backlog;           /* default 128 */
			enum lab_accept_mode accept;
			int64_t accept_after_ns;
			enum lab_eof_mode on_eof;
			enum lab_data_mode data;
			char group[LAB_NAME_MAX];  /* connections accepted here; default "s" */
			int no_reuseaddr;      /* `reuseaddr off` (1): no SO_REUSEADDR, and an
						  EADDRINUSE is an error event; 0 (on) by default */
			bool keepalive;        /* SO_KEEPALIVE, inherited by accepted sockets */
		} listen;
		struct {
			int target_host;       /* HOST:PORT names a host ... */
			struct lab_addr target; /* ... or an address (must be a lab host's) */
			uint16_t port;
			int64_t count;         /* default 1 */
			double rate;           /* per second, 0 = all at once */
			char group[LAB_NAME_MAX];  /* default "c" */
			struct lab_addr from;
			bool has_from;
		} connect;
		struct {                       /* send, shutdown, close, abort, accept */
			char group[LAB_NAME_MAX];
			int64_t bytes;         /* send */
			int64_t count;         /* accept: how many; -1 = all pending */
			/* send, shutdown, close, abort: wait at most this long for handshakes in
			 * flight, then act; 0 = at once (close/abort end them in SYN_SENT) */
			int64_t connect_wait_ns;
		} group;
		struct {
			int target_host;
			struct lab_addr target;
			uint16_t port;
			double rate;           /* SYNs per second */
			int64_t duration_ns;
			struct lab_addr from;  /* source range; default the lab's black hole */
			bool has_from;
		} flood;
		struct {
			int link;
			bool dir_only;         /* A>B given: only dir[dir] changes */
			int dir;
			struct lab_impair imp[2];
		} impair;
		struct {
			int64_t ns;
		} wait;
		struct {                       /* start, run, stop, signal */
			int prog;              /* index into lab->progs */
			int sig;               /* signal: the signal's number */
			int64_t grace_ns;      /* stop: SIGTERM, then SIGKILL after this (default 2 s) */
		} prog;
		struct {
			enum lab_expect_kind kind;
			int64_t within_ns;     /* 0 = check once, now */
			/* state */
			enum lab_tcp_state state;
			uint16_t port;         /* 0 = any (local or remote port) */
			bool has_peer;
			int peer_host;
			uint16_t peer_port;
			struct lab_count count; /* default >= 1 */
			/* queue */
			bool has_queue, has_backlog, has_synrecv;
			struct lab_count queue, backlog, synrecv;
			/* counter */
			char counter[64];      /* nstat name, e.g. TcpExtListenOverflows */
			/* event */
			enum lab_event_kind event;
			char group[LAB_NAME_MAX];  /* "" = any group */
			int err;               /* events with this errno only (`errno NAME`); 0 = any */
			/* program: state expectations with `program NAME` count only the sockets that
			 * program's processes hold; LAB_EXPECT_PROGRAM checks its life */
			bool has_prog;
			int prog;
			bool running;          /* LAB_EXPECT_PROGRAM: running (true) or exited */
			bool has_code, has_signal;
			int code, sig;
			/* path (seen uses state, port, count) */
			enum lab_tcp_state path[LAB_PATH_MAX];
			int npath;
		} expect;
	} u;
};

struct lab {
	char file[256];             /* as given, for messages */
	char name[LAB_NAME_MAX];
	char about[LAB_TEXT_MAX];
	uint64_t seed;
	bool has_seed;
	struct lab_host *hosts;     int nhosts;
	struct lab_link *links;     int nlinks;
	struct lab_route *routes;   int nroutes;
	struct lab_rule *rules;     int nrules;
	struct lab_capture *captures; int ncaptures;
	struct lab_step *steps;     int nsteps;
	struct lab_prog *progs;     int nprogs;
	struct lab_addr blackhole;  /* source range for floods: default 198.18.0.0/15's 198.18.0.0/24 */
	bool has_blackhole;
};

/* Parse. On failure returns a negative errno and e->msg holds every error found, one per
 * line, each "FILE:LINE:COL: message" (with "; did you mean X?" where a name is close).
 * On success *out is a new lab; free it with lab_free(). */
int lab_parse_file(const char *path, struct lab **out, struct lc_err *e);
int lab_parse_string(const char *name, const char *text, struct lab **out, struct lc_err *e);
void lab_free(struct lab *lab);

/* The same, and on failure *all (when all is not NULL) receives every error line, malloc'd,
 * caller frees: e->msg (LC_ERR_MAX bytes) holds only the errors that fit, followed by
 * "FILE: N more errors not shown".  Added for labctl check, which prints them all. */
int lab_parse_file_errs(const char *path, struct lab **out, struct lc_err *e, char **all);
int lab_parse_string_errs(const char *name, const char *text, struct lab **out,
			  struct lc_err *e, char **all);

/* Lookups; -1 when absent. */
int lab_host_find(const struct lab *lab, const char *name);
int lab_link_find(const struct lab *lab, int a, int b);

/* The address of host h on the subnet it shares with host peer (for "via NAME" and
 * "connect NAME:PORT"); returns 0 and fills *out, or -ENOENT. */
int lab_host_addr_toward(const struct lab *lab, int h, int peer, int family,
			 struct lab_addr *out);

/* Names: state names accept the kernel's, ss's and the textbooks' spellings
 * (FIN_WAIT_1, FIN-WAIT-1, fin_wait1).  The printed form is the textbook one. */
const char *lab_state_name(enum lab_tcp_state s);
int lab_state_parse(const char *s);           /* enum value or -1 */
const char *lab_event_name(enum lab_event_kind k);
int lab_event_parse(const char *s);
/* Signals by name: "STOP", "SIGSTOP", "stop" (number or -1); the name back ("STOP"), and
 * the accepted names for suggestions. */
int lab_signal_parse(const char *s);
const char *lab_signal_name(int sig);
const char *const *lab_signal_names(size_t *n);
/* The errors an agent event carries, by C name ("EADDRINUSE", any case): number or -1; the
 * name back ("?" when not in the table); the table, for suggestions. */
int lab_errno_parse(const char *s);
const char *lab_errno_name(int err);
const char *const *lab_errno_names(size_t *n);
int lab_prog_find(const struct lab *lab, const char *name);

/* Value parsers (0 or -EINVAL): durations "200us 10ms 1.5s 2m", percentages "5%",
 * rates "1000/s", bit rates "10mbit 1gbit 500kbit", sizes "1k 64KiB 1M", addresses. */
int lab_parse_duration(const char *s, int64_t *ns);
int lab_parse_percent(const char *s, double *pct);
int lab_parse_rate(const char *s, double *per_sec);
int lab_parse_bitrate(const char *s, uint64_t *bps);
int lab_parse_size(const char *s, int64_t *bytes);
int lab_parse_addr(const char *s, bool want_prefix, struct lab_addr *out);
int lab_addr_format(const struct lab_addr *a, char *buf, size_t len); /* with /len if >= 0 */
bool lab_addr_same_subnet(const struct lab_addr *a, const struct lab_addr *b);

/* The textbook name of the state closest to word (separators ignored, ties to the nearest
 * digit: FIN_WAIT3 gives FIN_WAIT_2), or NULL.  Added for the parser's "did you mean". */
const char *lab_state_suggest(const char *word);

/* The closest candidate within edit distance 2 (case-insensitive), or NULL. */
const char *lab_suggest(const char *word, const char *const *candidates, size_t n);

#endif

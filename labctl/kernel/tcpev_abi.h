/* tcpev_abi: the record the BPF program (tcpev.bpf.c) writes into its ring buffer and
 * tcpev.c decodes.  Shared by both sides, so only fixed-width kernel types; the layout is
 * checked by a static assertion on each side (64 bytes). */
#ifndef LABCTL_TCPEV_ABI_H
#define LABCTL_TCPEV_ABI_H

/* What happened.  STATE is the sock:inet_sock_set_state tracepoint (a full socket changed
 * state); the others are the timers of a timewait socket (TW_*) and of a request socket
 * (REQ_*: a listener's SYN_RECV entry), from the timer tracepoints. */
enum tcpev_kind {
	TCPEV_STATE = 1,
	TCPEV_TW_START = 2,    /* timewait timer armed (entry, or re-armed); new = its substate */
	TCPEV_TW_CANCEL = 3,   /* timer detached: an expiry or re-arm follows at once, or a kill */
	TCPEV_TW_EXPIRE = 4,   /* tw_timer_handler runs: the timewait socket is gone */
	TCPEV_REQ_START = 5,   /* SYN+ACK timer armed (the request is queued, or retransmits) */
	TCPEV_REQ_CANCEL = 6,  /* detached: expiry, re-arm, or the request leaves the queue */
	TCPEV_REQ_EXPIRE = 7,  /* reqsk_timer_handler runs: re-arms (retransmit) or drops */
	TCPEV_TW_SEGMENT = 8,  /* a timewait socket processed a segment; new = its substate */
};

struct tcpev_rec {
	__u64 ts_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 key;        /* the socket cookie; REQ_*: the request socket's address */
	__u32 host;       /* the value the loader put in the namespace map */
	__u8 kind;        /* enum tcpev_kind */
	__u8 family;      /* AF_INET (2) or AF_INET6 (10) */
	__u8 oldstate;    /* STATE only */
	__u8 newstate;    /* STATE: the new state; TW_START: the substate */
	__u16 sport;      /* host byte order */
	__u16 dport;
	__u8 saddr[16];   /* network byte order; IPv4 in the first 4 */
	__u8 daddr[16];
	__u32 pad;
};

#endif

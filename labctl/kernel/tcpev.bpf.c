// SPDX-License-Identifier: GPL-2.0
/* tcpev.bpf.c: TCP state changes of a lab's namespaces, as the kernel makes them.
 *
 * Built with clang -target bpf against build/.../vmlinux.h (CO-RE), loaded by tcpev.c through
 * its skeleton.  Three sources, all filtered on the socket's network namespace inode (the map
 * netns: inode -> host index), all written into one ring buffer:
 *
 *  - tp_btf/inet_sock_set_state: every state change of a full socket, with its cookie
 *    (bpf_get_socket_cookie, the value sock_diag reports as idiag_cookie).
 *  - the timer tracepoints and tp_btf/kfree_skb, for what that tracepoint never reports.  TIME_WAIT is entered by
 *    replacing the socket with a timewait socket (the trace says FIN_WAIT_2 -> CLOSE), which
 *    inherits the cookie and arms tw_timer; a listener's request socket (SYN_RECV) has no
 *    state event at all, only its SYN+ACK timer (reqsk_timer_handler).  fentry/fexit are
 *    refused and kprobes absent on the kernel this was written for, so the timers it is.
 *
 * Timer tracepoints fire for every timer of the machine: the function pointer is compared
 * first, so the cost elsewhere is a load and two compares.
 */
#include <vmlinux.h>  /* generated from this kernel's BTF into the build directory */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "kernel/tcpev_abi.h"

char LICENSE[] SEC("license") = "GPL";

_Static_assert(sizeof(struct tcpev_rec) == 64, "tcpev_rec layout");

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);    /* ns.inum */
	__type(value, __u32);  /* host index */
} netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);  /* the loader may resize it */
} events SEC(".maps");

/* Records that found the ring full (read by the loader through the skeleton's bss). */
__u64 ring_drops = 0;

extern void tw_timer_handler(struct timer_list *t) __ksym;
extern void reqsk_timer_handler(struct timer_list *t) __ksym;

static __always_inline int host_of(const struct sock_common *skc, __u32 *host)
{
	__u32 inum = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	__u32 *h = bpf_map_lookup_elem(&netns, &inum);
	if (!h)
		return -1;
	*host = *h;
	return 0;
}

static __always_inline void fill_addrs(struct tcpev_rec *r, const struct sock_common *skc)
{
	r->family = BPF_CORE_READ(skc, skc_family);
	if (r->family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->saddr, skc, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r->daddr, skc, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)r->saddr, skc, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)r->daddr, skc, skc_daddr);
	}
	r->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
}

static __always_inline struct tcpev_rec *reserve(void)
{
	struct tcpev_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&ring_drops, 1);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	return r;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 host;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (host_of(&sk->__sk_common, &host) < 0)
		return 0;
	struct tcpev_rec *r = reserve();
	if (!r)
		return 0;
	r->ts_ns = bpf_ktime_get_ns();
	r->key = bpf_get_socket_cookie((void *)sk);
	r->host = host;
	r->kind = TCPEV_STATE;
	r->oldstate = oldstate;
	r->newstate = newstate;
	fill_addrs(r, &sk->__sk_common);
	/* skc_num is already 0 at the ->CLOSE event (the port is unhashed first). */
	r->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

static __always_inline int on_timer(struct timer_list *t, int tw_kind, int req_kind)
{
	void *fn = BPF_CORE_READ(t, function);
	__u32 host;
	struct tcpev_rec *r;

	if (fn == (void *)tw_timer_handler) {
		struct inet_timewait_sock *tw = (void *)((char *)t -
			bpf_core_field_offset(struct inet_timewait_sock, tw_timer));
		if (host_of(&tw->__tw_common, &host) < 0)
			return 0;
		if (!(r = reserve()))
			return 0;
		r->ts_ns = bpf_ktime_get_ns();
		r->key = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);
		r->host = host;
		r->kind = tw_kind;
		r->newstate = BPF_CORE_READ(tw, tw_substate);
		fill_addrs(r, &tw->__tw_common);
		r->sport = bpf_ntohs(BPF_CORE_READ(tw, tw_sport));
		bpf_ringbuf_submit(r, 0);
	} else if (fn == (void *)reqsk_timer_handler) {
		struct request_sock *req = (void *)((char *)t -
			bpf_core_field_offset(struct request_sock, rsk_timer));
		if (host_of(&req->__req_common, &host) < 0)
			return 0;
		if (!(r = reserve()))
			return 0;
		r->ts_ns = bpf_ktime_get_ns();
		r->key = (__u64)req;
		r->host = host;
		r->kind = req_kind;
		r->newstate = 3;  /* TCP_SYN_RECV */
		fill_addrs(r, &req->__req_common);
		r->sport = BPF_CORE_READ(req, __req_common.skc_num);  /* ir_num: host order */
		bpf_ringbuf_submit(r, 0);
	}
	return 0;
}

/* A timewait socket changes its substate (FIN_WAIT_2 -> TIME_WAIT when the peer's FIN comes)
 * without a state event, and re-arms its timer through mod_timer_pending, which reports
 * nothing when the new expiry falls in the same wheel bucket (60 s and 60 s do).  What is
 * reported is the segment, freed after processing with the timewait socket as rx_sk. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	__u32 host;
	struct tcpev_rec *r;
	if (!rx_sk)
		return 0;
	struct inet_timewait_sock *tw = (void *)rx_sk;
	if (BPF_CORE_READ(tw, __tw_common.skc_state) != 6)  /* TCP_TIME_WAIT: a timewait socket */
		return 0;
	if (host_of(&tw->__tw_common, &host) < 0)
		return 0;
	if (!(r = reserve()))
		return 0;
	r->ts_ns = bpf_ktime_get_ns();
	r->key = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);
	r->host = host;
	r->kind = TCPEV_TW_SEGMENT;
	r->newstate = BPF_CORE_READ(tw, tw_substate);
	fill_addrs(r, &tw->__tw_common);
	r->sport = bpf_ntohs(BPF_CORE_READ(tw, tw_sport));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp_btf/timer_start")
int BPF_PROG(on_timer_start, struct timer_list *t)
{
	return on_timer(t, TCPEV_TW_START, TCPEV_REQ_START);
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(on_timer_cancel, struct timer_list *t)
{
	return on_timer(t, TCPEV_TW_CANCEL, TCPEV_REQ_CANCEL);
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(on_timer_expire, struct timer_list *t)
{
	return on_timer(t, TCPEV_TW_EXPIRE, TCPEV_REQ_EXPIRE);
}

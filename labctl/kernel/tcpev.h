/* tcpev: every TCP state change of a set of namespaces, from the kernel's own events (eBPF).
 *
 * tcpev_open() loads tcpev.bpf.c (built into the binary as a skeleton), fills its namespace
 * map with the inodes of the namespaces given (namespace i reports as host i) and attaches
 * it: tp_btf/inet_sock_set_state for full sockets, the timer tracepoints for timewait
 * sockets (tw_timer_handler) and request sockets (reqsk_timer_handler).  Records come out of
 * one BPF ring buffer: put tcpev_fd() in the event loop and call tcpev_read() when it is
 * readable; each record is decoded and handed to the callback.  libbpf is loaded with dlopen
 * on the first open, so commands that never observe never pay for it (pcapdl.h has the
 * reason).
 *
 * What the records mean, and how the timer ones become states, is observe/evfeed.h's job;
 * this module only loads, reads and decodes.  Built without BPF support (HAVE_BPF unset:
 * clang, bpftool or libbpf-dev missing), tcpev_open() fails with -ENOTSUP and says so.
 */
#ifndef LABCTL_TCPEV_H
#define LABCTL_TCPEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "base/err.h"
#include "kernel/tcpev_abi.h"
#include "lab/lab.h"


struct tcpev_event {
	int kind;                 /* enum tcpev_kind (tcpev_abi.h) */
	int host;
	int family;               /* AF_INET or AF_INET6 */
	uint8_t laddr[16], raddr[16];  /* network byte order (IPv4 in the first 4 bytes) */
	uint16_t lport, rport;    /* host byte order */
	uint64_t key;             /* socket cookie; REQ_*: the request socket's kernel address */
	enum lab_tcp_state from;  /* STATE only; LAB_TCP_NONE otherwise */
	enum lab_tcp_state to;
	int64_t mono_ns;          /* CLOCK_MONOTONIC, the kernel's time of the change */
};

struct tcpev_stats {
	uint64_t records;         /* decoded and delivered */
	uint64_t bad;             /* malformed records (never expected) */
	uint64_t ring_drops;      /* records the program could not write: the ring was full */
	uint64_t recursion_misses; /* program runs the kernel skipped (re-entered on one CPU) */
};

struct tcpev;
typedef void (*tcpev_cb)(const struct tcpev_event *ev, void *arg);

/* Decode one ring record.  0, or -EINVAL for a record of the wrong size or an unknown kind
 * or state (e says which).  Pure: unit-tested on hand-made records. */
int tcpev_decode(const void *data, size_t len, struct tcpev_event *ev, struct lc_err *e);

/* Load and attach for namespaces netns_fds[0..n) (n <= 256); ring_bytes 0 = 8 MiB (a power
 * of two of at least a page).  The fds are only read (their inodes).  *out is the caller's
 * (tcpev_free).  Fails, with what is missing and how to get it, when labctl was built
 * without BPF, libbpf is not installed, the kernel has no BTF or refuses the program (not
 * root / no CAP_BPF+CAP_PERFMON), or LABCTL_TEST_TCPEV_FAIL is set (for the tests). */
int tcpev_open(const int *netns_fds, int n, size_t ring_bytes, tcpev_cb cb, void *arg,
	       struct tcpev **out, struct lc_err *e);

/* The ring buffer's epoll fd: readable when records wait. */
int tcpev_fd(const struct tcpev *t);

/* Deliver every waiting record to the callback.  Returns how many, or a negative errno. */
int tcpev_read(struct tcpev *t, struct lc_err *e);

/* Counters so far (ring drops and recursion misses read from the kernel). */
void tcpev_get_stats(const struct tcpev *t, struct tcpev_stats *st);

void tcpev_free(struct tcpev *t);

/* True when this binary was built with the BPF program. */
bool tcpev_built(void);

#endif

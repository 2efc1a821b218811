/* agentctl: labctl's side of an agent.  Starts labctl-agent inside a host's namespace with a
 * control socket pair, sends it lab steps as frames (agents/proto.h) and turns what comes back
 * into answers (agentctl_wait) and events (the callback).
 *
 * Lifetimes: the agent dies with labctl (PR_SET_PDEATHSIG(SIGKILL), set before exec) and
 * exits by itself when its control socket closes.  agentctl_free() closes the socket, kills
 * and reaps the process.  Events are delivered from inside the caller's libev loop (during
 * ev_run or agentctl_wait); the callback must not free the agentctl.
 */
#ifndef LABCTL_AGENTCTL_H
#define LABCTL_AGENTCTL_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "base/err.h"
#include "lab/lab.h"

struct agentctl;

struct agent_event {
	int64_t ts_ns;                   /* CLOCK_MONOTONIC in the agent (same clock as ours) */
	uint32_t conn;                   /* connection id, unique within one agent */
	enum lab_event_kind kind;
	int err;                         /* positive errno for refused/timeout/reset/error, else 0 */
	int aborted;                     /* closed: with SO_LINGER {1,0} (RST) */
	int64_t bytes;                   /* data: bytes received so far on this connection */
	char group[LAB_NAME_MAX];
	struct sockaddr_storage local, peer;  /* ss_family 0 when unknown */
};

typedef void (*agentctl_event_cb)(void *arg, const struct agent_event *ev);

/* Fork; in the child: setns(netns_fd) (skipped when netns_fd < 0), PR_SET_PDEATHSIG(SIGKILL),
 * the control socket on fd 3, exec the agent binary: $LABCTL_AGENT, else
 * dirname(/proc/self/exe)/labctl-agent, else dirname(/proc/self/exe)/../agents/labctl-agent.
 * An exec failure is reported here (through a CLOEXEC pipe), not later. */
int agentctl_start(struct ev_loop *loop, int netns_fd, const char *host_name,
		   agentctl_event_cb cb, void *arg, struct agentctl **out, struct lc_err *e);

/* Send one lab step (listen/connect/send/shutdown/close/abort/accept) without waiting; *tag
 * identifies the answer.  target (connect) is already resolved by the runner; for listen,
 * NULL means the step's own address (or 0.0.0.0 for `:PORT`) and port. */
int agentctl_send(struct agentctl *a, const struct lab_step *st,
		  const struct sockaddr_storage *target, uint32_t *tag, struct lc_err *e);

/* A listen step.  all_families, for `:PORT` (a step without an address): one IPv6 socket on
 * [::]:PORT that takes IPv4 too (IPV6_V6ONLY 0), for a host with IPv6 addresses; without it,
 * as agentctl_send (0.0.0.0:PORT).  The answer's detail says what was opened. */
int agentctl_send_listen(struct agentctl *a, const struct lab_step *st, bool all_families,
			 uint32_t *tag, struct lc_err *e);

/* A flood step (the agent answers when it is over): target is resolved and checked by the
 * runner; blackhole is the lab's range, which the agent checks the sources against. */
int agentctl_send_flood(struct agentctl *a, const struct lab_step *st,
			const struct sockaddr_storage *target, const struct lab_addr *blackhole,
			uint32_t *tag, struct lc_err *e);

/* Benchmarks: COUNT connect+close cycles to target with `concurrency` in flight; answered
 * when done.  agentctl_wait_cycle() returns how many and how long (ns). */
int agentctl_send_cycle(struct agentctl *a, const struct sockaddr_storage *target,
			int64_t count, uint32_t concurrency, uint32_t *tag, struct lc_err *e);
int agentctl_send_ping(struct agentctl *a, uint32_t *tag, struct lc_err *e);

/* Run the loop until the answer to tag arrives (or timeout_ns passes, -ETIMEDOUT).  An error
 * answer becomes an lc_err ("connect c: EADDRNOTAVAIL: ...") with code -errno. */
int agentctl_wait(struct agentctl *a, uint32_t tag, int64_t timeout_ns, struct lc_err *e);
int agentctl_wait_cycle(struct agentctl *a, uint32_t tag, int64_t timeout_ns, int64_t *count,
			int64_t *elapsed_ns, struct lc_err *e);

/* What an answer reports besides "ok": numbers (cycle, flood: how many, how long) and a
 * note for the step log ("sent 2000 SYNs in 2.000 s (1000/s) from 198.18.0.0/24"). */
struct agentctl_result {
	int64_t count, elapsed_ns;
	char detail[256];
};
int agentctl_wait_result(struct agentctl *a, uint32_t tag, int64_t timeout_ns,
			 struct agentctl_result *res, struct lc_err *e);

pid_t agentctl_pid(const struct agentctl *a);
/* Closes the socket, SIGKILL, reaps.  NULL is fine. */
void agentctl_free(struct agentctl *a);

#endif

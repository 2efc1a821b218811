/* run_agent: the agent steps (listen, connect, send, shutdown, close, abort, accept, unlisten,
 * flood)
 * and the events the agents report. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "run/run_int.h"

bool run_is_agent_op(enum lab_op op)
{
	switch (op) {
	case LAB_OP_LISTEN: case LAB_OP_CONNECT: case LAB_OP_SEND: case LAB_OP_SHUTDOWN:
	case LAB_OP_CLOSE: case LAB_OP_ABORT: case LAB_OP_ACCEPT: case LAB_OP_FLOOD:
	case LAB_OP_UNLISTEN:
		return true;
	default:
		return false;
	}
}

static void on_event(void *arg, const struct agent_event *ev)
{
	struct run_host *h = arg;
	struct run *r = h->r;
	if (r->nevs == r->capevs) {
		size_t cap = r->capevs ? r->capevs * 2 : 1024;
		struct run_event *n = realloc(r->evs, cap * sizeof(*n));
		if (!n)
			return; /* losing an event only weakens `expect event`; never crash */
		r->evs = n;
		r->capevs = cap;
	}
	struct run_event *re = &r->evs[r->nevs++];
	re->ts_ns = ev->ts_ns;
	re->conn = ev->conn;
	re->host = (int16_t)h->index;
	re->kind = (uint8_t)ev->kind;
	re->err = ev->err;
	memcpy(re->group, ev->group, sizeof(re->group));
}

int run_events_count(const struct run *r, int host, enum lab_event_kind kind, const char *group,
		     int err, int64_t *n)
{
	*n = 0;
	for (size_t i = 0; i < r->nevs; i++) {
		const struct run_event *ev = &r->evs[i];
		if (ev->host == host && ev->kind == kind && (!err || ev->err == err) &&
		    (!group || !*group || !strcmp(group, ev->group)))
			(*n)++;
	}
	return 0;
}

static int agent_get(struct run *r, int h, struct agentctl **out, struct lc_err *e)
{
	struct run_host *rh = &r->hosts[h];
	if (!rh->agent) {
		int rc = agentctl_start(r->loop, r->topo->hosts[h].fd, r->topo->hosts[h].ns, on_event,
					rh, &rh->agent, e);
		if (rc < 0)
			return err_prefix(e, "starting the agent in host %s: ",
					  r->lab->hosts[h].name);
	}
	*out = rh->agent;
	return 0;
}

static bool addr_is_lab_host(const struct lab *lab, const struct lab_addr *a)
{
	for (int h = 0; h < lab->nhosts; h++)
		for (int i = 0; i < lab->hosts[h].naddrs; i++) {
			const struct lab_addr *b = &lab->hosts[h].addrs[i];
			size_t n = a->family == AF_INET ? 4 : 16;
			if (a->family == b->family && !memcmp(a->bytes, b->bytes, n))
				return true;
		}
	return false;
}

/* Where a connect or flood goes: the target host's address on the subnet it shares with the
 * acting host, else its first address (reached through routes); or the address given.
 * Refuses anything that is not a lab host's address: traffic stays inside the lab. */
static int resolve_target(struct run *r, const struct lab_step *st, int target_host,
			  const struct lab_addr *target, uint16_t port,
			  struct sockaddr_storage *ss, struct lc_err *e)
{
	const struct lab *lab = r->lab;
	struct lab_addr a;
	if (target_host >= 0) {
		if (lab_host_addr_toward(lab, target_host, st->host, AF_INET, &a) < 0 &&
		    lab_host_addr_toward(lab, target_host, st->host, 0, &a) < 0) {
			const struct lab_host *T = &lab->hosts[target_host];
			if (T->naddrs == 0)
				return err_set(e, -EINVAL, "%s:%d:%d: host %s has no address",
					       lab->file, st->pos.line, st->pos.col, T->name);
			a = T->addrs[0];
			for (int i = 0; i < T->naddrs; i++)
				if (T->addrs[i].family == AF_INET) {
					a = T->addrs[i];
					break;
				}
		}
	} else {
		a = *target;
	}
	if (!addr_is_lab_host(lab, &a)) {
		char txt[64];
		lab_addr_format(&a, txt, sizeof(txt));
		return err_set(e, -EPERM, "%s:%d:%d: %s is not an address of any host in this lab; "
			       "labctl connects only inside the lab", lab->file, st->pos.line,
			       st->pos.col, txt);
	}
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a.bytes, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a.bytes, 16);
	}
	return 0;
}

/* `listen :PORT` listens on every family the host has.  On a host with an IPv6 address that
 * is one IPv6 socket taking IPv4 too (IPV6_V6ONLY 0), as a program listening on [::] does,
 * not a socket per family: the port keeps one accept queue, so `expect HOST listen port N
 * queue ..` counts every pending connection against one backlog, whichever family it came
 * in on.  An IPv4-only host keeps 0.0.0.0: its lab may poll sock_diag for IPv4 only. */
static bool listen_all_families(const struct lab *lab, const struct lab_step *st)
{
	const struct lab_host *H = &lab->hosts[st->host];
	if (st->u.listen.has_addr)
		return false;
	for (int i = 0; i < H->naddrs; i++)
		if (H->addrs[i].family == AF_INET6)
			return true;
	return false;
}

int run_agent_send(struct run *r, const struct lab_step *st, uint32_t *tag, struct lc_err *e)
{
	struct agentctl *a = NULL;
	struct sockaddr_storage ss, *target = NULL;
	int rc;
	if (st->op == LAB_OP_CONNECT) {
		rc = resolve_target(r, st, st->u.connect.target_host, &st->u.connect.target,
				    st->u.connect.port, &ss, e);
		if (rc < 0)
			return rc;
		target = &ss;
	} else if (st->op == LAB_OP_FLOOD) {
		rc = resolve_target(r, st, st->u.flood.target_host, &st->u.flood.target,
				    st->u.flood.port, &ss, e);
		if (rc < 0)
			return rc;
		target = &ss;
	}
	if ((rc = agent_get(r, st->host, &a, e)) < 0)
		return rc;
	if (st->op == LAB_OP_FLOOD)  /* the agent checks the sources against the lab's range */
		rc = agentctl_send_flood(a, st, target, &r->lab->blackhole, tag, e);
	else if (st->op == LAB_OP_LISTEN)
		rc = agentctl_send_listen(a, st, listen_all_families(r->lab, st), tag, e);
	else
		rc = agentctl_send(a, st, target, tag, e);
	if (rc < 0)
		return err_prefix(e, "%s:%d:%d: ", r->lab->file, st->pos.line, st->pos.col);
	return 0;
}

int run_agent_wait(struct run *r, const struct lab_step *st, uint32_t tag, char *detail,
		   size_t len, struct lc_err *e)
{
	/* A flood answers when it is over; a group step once the handshakes it found in flight
	 * have settled (at most its wait-connect); everything else at once. */
	int64_t timeout = 10000000000LL;
	struct agentctl_result res;
	if (st->op == LAB_OP_FLOOD)
		timeout += st->u.flood.duration_ns;
	else if (st->op == LAB_OP_SEND || st->op == LAB_OP_SHUTDOWN || st->op == LAB_OP_CLOSE ||
		 st->op == LAB_OP_ABORT)
		timeout += st->u.group.connect_wait_ns;
	int rc = agentctl_wait_result(r->hosts[st->host].agent, tag, timeout, &res, e);
	if (len)
		snprintf(detail, len, "%s", rc == 0 ? res.detail : "");
	if (rc < 0)
		return err_prefix(e, "%s:%d:%d: host %s: ", r->lab->file, st->pos.line, st->pos.col,
				  r->lab->hosts[st->host].name);
	return 0;
}

void run_agents_free(struct run *r)
{
	for (int h = 0; r->hosts && h < r->lab->nhosts; h++) {
		agentctl_free(r->hosts[h].agent);
		r->hosts[h].agent = NULL;
	}
	free(r->evs);
	r->evs = NULL;
	r->nevs = r->capevs = 0;
}

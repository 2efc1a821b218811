/* diag: sock_diag dumps of TCP sockets (see diag.h). */
#include "kernel/diag.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel/netns.h"

/* The kernel caps one dump skb at about 32 KiB whatever we offer; a larger buffer only costs
 * cache.  64 KiB keeps a margin for a kernel that raises the cap. */
#define DIAG_RECV_BUF 65536
#define DIAG_DUMP_RETRIES 16
#define DIAG_BC_MAX 8192

struct diag {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char name[64];
	FILE *rec;
	uint8_t *buf;
};

const char *diag_timer_name(enum diag_timer t)
{
	switch (t) {
	case DIAG_TIMER_NONE: return "off";
	case DIAG_TIMER_RETRANS: return "on";
	case DIAG_TIMER_KEEPALIVE: return "keepalive";
	case DIAG_TIMER_TIMEWAIT: return "timewait";
	case DIAG_TIMER_PROBE: return "persist";
	}
	return "unknown";
}

int diag_new(int netns_fd, struct diag **out, struct lc_err *e)
{
	struct diag *d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(e, -ENOMEM, "sock_diag: out of memory");
	d->buf = malloc(DIAG_RECV_BUF);
	if (!d->buf) {
		free(d);
		return err_set(e, -ENOMEM, "sock_diag: out of memory");
	}
	snprintf(d->name, sizeof(d->name), "%s", netns_fd < 0 ? "current namespace" : "namespace");

	int orig = -1, rc;
	if (netns_fd >= 0) {
		rc = netns_enter(netns_fd, &orig, e);
		if (rc < 0)
			goto free_d;
	}
	d->nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	rc = d->nl ? 0 : -errno;
	if (netns_fd >= 0) {
		/* Return before anything else: the process never stays in a foreign namespace. */
		netns_leave(&orig);
	}
	if (rc < 0) {
		err_set(e, rc, "sock_diag: socket(NETLINK_SOCK_DIAG): %s", strerror(-rc));
		goto free_d;
	}
	int one = 1;
	/* Ask the kernel to explain failures (extack); best effort on old kernels. */
	(void)mnl_socket_setsockopt(d->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		err_set(e, rc, "sock_diag: bind: %s", strerror(errno));
		goto close_nl;
	}
	d->portid = mnl_socket_get_portid(d->nl);
	d->seq = (uint32_t)time(NULL);
	*out = d;
	return 0;

close_nl:
	if (d->nl)
		mnl_socket_close(d->nl);
free_d:
	free(d->buf);
	free(d);
	return rc;
}

void diag_free(struct diag *d)
{
	if (!d)
		return;
	if (d->nl)
		mnl_socket_close(d->nl);
	free(d->buf);
	free(d);
}

void diag_set_name(struct diag *d, const char *name)
{
	snprintf(d->name, sizeof(d->name), "%s", name);
}

void diag_record(struct diag *d, FILE *rec)
{
	d->rec = rec;
}

uint32_t diag_state_mask(const struct diag_filter *f)
{
	/* Only real TCP states: bit 13 (TCP_BOUND_INACTIVE) would make the kernel walk the
	 * whole bind hash table on every dump. */
	const uint32_t all = ((1u << LAB_TCP_MAX_STATES) - 1) & ~1u;
	uint32_t m = (f && f->states) ? (f->states & all) : all;
	/* Request sockets are TCP_NEW_SYN_RECV in the kernel's tables. */
	if (m & (1u << LAB_TCP_SYN_RECV))
		m |= 1u << LAB_TCP_NEW_SYN_RECV;
	return m;
}

/* ---- bytecode ------------------------------------------------------------------------ */

/* One test of the filter program: an op plus its argument bytes. */
struct bc_test {
	uint8_t code;
	uint8_t arg[sizeof(struct inet_diag_hostcond) + 16];
	int arglen;
};

static int bc_size(const struct bc_test *t)
{
	return (int)sizeof(struct inet_diag_bc_op) + t->arglen;
}

/* Emit an OR of tests: t1 JMP t2 JMP ... tk.  The kernel's auditor only accepts "no" targets
 * that lie on the chain of "yes" offsets from the start, so a test that succeeds cannot jump
 * over its siblings directly: it falls through to a JMP (which always takes "no") that skips
 * the rest of the group.  A failure of the last test jumps past the end (reject). */
static int bc_emit_or(const struct bc_test *t, int n, uint8_t *buf, int pos, int total)
{
	int glen = 0;
	for (int i = 0; i < n; i++)
		glen += bc_size(&t[i]) + (i < n - 1 ? 4 : 0);
	int gend = pos + glen;
	for (int i = 0; i < n; i++) {
		struct inet_diag_bc_op op = {.code = t[i].code};
		int sz = bc_size(&t[i]);
		op.yes = (unsigned char)sz;
		if (i < n - 1)
			op.no = (unsigned short)(sz + 4);
		else
			op.no = (unsigned short)(total - pos + 4);
		memcpy(buf + pos, &op, sizeof(op));
		memcpy(buf + pos + sizeof(op), t[i].arg, (size_t)t[i].arglen);
		pos += sz;
		if (i < n - 1) {
			struct inet_diag_bc_op j = {.code = INET_DIAG_BC_JMP, .yes = 4,
						    .no = (unsigned short)(gend - pos)};
			memcpy(buf + pos, &j, sizeof(j));
			pos += 4;
		}
	}
	return pos;
}

static void bc_port_test(struct bc_test *t, uint8_t code, uint16_t port)
{
	struct inet_diag_bc_op arg = {.no = port};
	t->code = code;
	memcpy(t->arg, &arg, sizeof(arg));
	t->arglen = sizeof(arg);
}

static void bc_addr_test(struct bc_test *t, uint8_t code, const struct lab_addr *a)
{
	int alen = a->family == AF_INET ? 4 : 16;
	struct inet_diag_hostcond hc = {
		.family = (uint8_t)a->family,
		.prefix_len = (uint8_t)(a->prefixlen < 0 ? alen * 8 : a->prefixlen),
		.port = -1,
	};
	t->code = code;
	memcpy(t->arg, &hc, sizeof(hc));
	memcpy(t->arg + sizeof(hc), a->bytes, (size_t)alen);
	t->arglen = (int)sizeof(hc) + alen;
}

int diag_bytecode(const struct diag_filter *f, int family, uint8_t *buf, size_t cap)
{
	(void)family;
	if (!f || (f->nports == 0 && f->naddrs == 0))
		return 0;
	if (f->nports > DIAG_MAX_PORTS || f->naddrs > DIAG_MAX_ADDRS || f->nports < 0 ||
	    f->naddrs < 0)
		return -EINVAL;
	struct bc_test ports[2 * DIAG_MAX_PORTS], addrs[2 * DIAG_MAX_ADDRS];
	int np = 0, na = 0, total = 0;
	for (int i = 0; i < f->nports; i++) {
		bc_port_test(&ports[np++], INET_DIAG_BC_S_EQ, f->ports[i]);
		bc_port_test(&ports[np++], INET_DIAG_BC_D_EQ, f->ports[i]);
	}
	for (int i = 0; i < f->naddrs; i++) {
		if (f->addrs[i].family != AF_INET && f->addrs[i].family != AF_INET6)
			return -EINVAL;
		bc_addr_test(&addrs[na++], INET_DIAG_BC_S_COND, &f->addrs[i]);
		bc_addr_test(&addrs[na++], INET_DIAG_BC_D_COND, &f->addrs[i]);
	}
	for (int i = 0; i < np; i++)
		total += bc_size(&ports[i]) + (i < np - 1 ? 4 : 0);
	for (int i = 0; i < na; i++)
		total += bc_size(&addrs[i]) + (i < na - 1 ? 4 : 0);
	if ((size_t)total > cap || total > 65535 - 8)
		return -ENOSPC;
	int pos = 0;
	if (np)
		pos = bc_emit_or(ports, np, buf, pos, total);
	if (na)
		pos = bc_emit_or(addrs, na, buf, pos, total);
	return pos;
}

/* ---- parsing ------------------------------------------------------------------------- */

static void info_copy(struct diag_tcp_info *o, const struct tcp_info *t)
{
	o->state = t->tcpi_state;
	o->ca_state = t->tcpi_ca_state;
	o->retransmits = t->tcpi_retransmits;
	o->probes = t->tcpi_probes;
	o->backoff = t->tcpi_backoff;
	o->options = t->tcpi_options;
	o->snd_wscale = t->tcpi_snd_wscale;
	o->rcv_wscale = t->tcpi_rcv_wscale;
	o->rto = t->tcpi_rto;
	o->ato = t->tcpi_ato;
	o->snd_mss = t->tcpi_snd_mss;
	o->rcv_mss = t->tcpi_rcv_mss;
	o->unacked = t->tcpi_unacked;
	o->sacked = t->tcpi_sacked;
	o->lost = t->tcpi_lost;
	o->retrans = t->tcpi_retrans;
	o->fackets = t->tcpi_fackets;
	o->last_data_sent = t->tcpi_last_data_sent;
	o->last_ack_recv = t->tcpi_last_ack_recv;
	o->last_data_recv = t->tcpi_last_data_recv;
	o->pmtu = t->tcpi_pmtu;
	o->rcv_ssthresh = t->tcpi_rcv_ssthresh;
	o->rtt = t->tcpi_rtt;
	o->rttvar = t->tcpi_rttvar;
	o->snd_ssthresh = t->tcpi_snd_ssthresh;
	o->snd_cwnd = t->tcpi_snd_cwnd;
	o->advmss = t->tcpi_advmss;
	o->reordering = t->tcpi_reordering;
	o->rcv_rtt = t->tcpi_rcv_rtt;
	o->rcv_space = t->tcpi_rcv_space;
	o->total_retrans = t->tcpi_total_retrans;
	o->pacing_rate = t->tcpi_pacing_rate;
	o->bytes_acked = t->tcpi_bytes_acked;
	o->bytes_received = t->tcpi_bytes_received;
	o->segs_out = t->tcpi_segs_out;
	o->segs_in = t->tcpi_segs_in;
	o->data_segs_out = t->tcpi_data_segs_out;
	o->data_segs_in = t->tcpi_data_segs_in;
	o->delivery_rate = t->tcpi_delivery_rate;
	o->min_rtt = t->tcpi_min_rtt;
	o->delivered = t->tcpi_delivered;
	o->bytes_sent = t->tcpi_bytes_sent;
	o->bytes_retrans = t->tcpi_bytes_retrans;
	o->snd_wnd = t->tcpi_snd_wnd;

}

/* The oldest tcp_info a kernel sends ends after tcpi_total_retrans (Linux 2.6). */
#define TCP_INFO_MIN_LEN (offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(uint32_t))

static int attr_bad(struct lc_err *e, const struct nlattr *a, const char *what)
{
	return err_set(e, -EBADMSG, "sock_diag: malformed %s attribute (type %u, length %u)", what,
		       mnl_attr_get_type(a), a->nla_len);
}

static int parse_attr(const struct nlattr *a, struct diag_sock *s, struct lc_err *e)
{
	uint16_t plen = mnl_attr_get_payload_len(a);
	const void *p = mnl_attr_get_payload(a);
	switch (mnl_attr_get_type(a)) {
	case INET_DIAG_INFO: {
		if (mnl_attr_validate(a, MNL_TYPE_UNSPEC) < 0 || plen < TCP_INFO_MIN_LEN)
			return attr_bad(e, a, "tcp_info");
		/* The kernel's struct may be shorter (old) or longer (newer) than ours. */
		struct tcp_info ti;
		memset(&ti, 0, sizeof(ti));
		memcpy(&ti, p, plen < sizeof(ti) ? plen : sizeof(ti));
		info_copy(&s->info, &ti);
		s->has_info = true;
		break;
	}
	case INET_DIAG_SKMEMINFO: {
		uint32_t m[SK_MEMINFO_VARS];
		if (mnl_attr_validate(a, MNL_TYPE_UNSPEC) < 0 || plen < 8 * sizeof(uint32_t))
			return attr_bad(e, a, "skmeminfo");
		memset(m, 0, sizeof(m));
		memcpy(m, p, plen < sizeof(m) ? plen : sizeof(m));
		s->mem = (struct diag_mem){
			.rmem_alloc = m[SK_MEMINFO_RMEM_ALLOC], .rcvbuf = m[SK_MEMINFO_RCVBUF],
			.wmem_alloc = m[SK_MEMINFO_WMEM_ALLOC], .sndbuf = m[SK_MEMINFO_SNDBUF],
			.fwd_alloc = m[SK_MEMINFO_FWD_ALLOC], .wmem_queued = m[SK_MEMINFO_WMEM_QUEUED],
			.optmem = m[SK_MEMINFO_OPTMEM], .backlog = m[SK_MEMINFO_BACKLOG],
			.drops = m[SK_MEMINFO_DROPS],
		};
		s->has_mem = true;
		break;
	}
	case INET_DIAG_MEMINFO: {
		if (mnl_attr_validate2(a, MNL_TYPE_BINARY, sizeof(struct inet_diag_meminfo)) < 0)
			return attr_bad(e, a, "meminfo");
		if (!s->has_mem) {  /* skmeminfo, when present, is the richer view */
			struct inet_diag_meminfo mi;
			memcpy(&mi, p, sizeof(mi));
			s->mem.rmem_alloc = mi.idiag_rmem;
			s->mem.wmem_queued = mi.idiag_wmem;
			s->mem.fwd_alloc = mi.idiag_fmem;
			s->mem.wmem_alloc = mi.idiag_tmem;
		}
		break;
	}
	case INET_DIAG_CONG:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
			return attr_bad(e, a, "congestion control");
		{
			size_t n = strnlen(p, plen);
			if (n >= sizeof(s->cong))
				n = sizeof(s->cong) - 1;
			/* Kernel names are [a-z0-9_]; anything else (a corrupt reply) must not reach
			 * the JSON or the terminal as is. */
			for (size_t i = 0; i < n; i++) {
				char ch = ((const char *)p)[i];
				s->cong[i] = (isalnum((unsigned char)ch) || ch == '_' || ch == '-') ? ch : '?';
			}
			s->cong[n] = '\0';
		}
		break;
	case INET_DIAG_SHUTDOWN:
		if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
			return attr_bad(e, a, "shutdown");
		s->shutdown = mnl_attr_get_u8(a) & 3;
		break;
	case INET_DIAG_TOS:
	case INET_DIAG_TCLASS:
		if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
			return attr_bad(e, a, "tos");
		s->tos = mnl_attr_get_u8(a);
		break;
	default:
		break;  /* attributes we do not use; their length was checked by the caller */
	}
	return 0;
}

int diag_parse_msg(const struct nlmsghdr *nlh, struct diag_sock *s, struct lc_err *e)
{
	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct inet_diag_msg))
		return err_set(e, -EBADMSG, "sock_diag: message too short (%u bytes)",
			       nlh->nlmsg_len);
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return err_set(e, -EBADMSG, "sock_diag: unexpected address family %u",
			       m->idiag_family);
	if (m->idiag_state >= LAB_TCP_MAX_STATES || m->idiag_state == 0)
		return err_set(e, -EBADMSG, "sock_diag: unknown TCP state %u", m->idiag_state);

	memset(s, 0, offsetof(struct diag_sock, info));
	s->family = m->idiag_family;
	s->state = m->idiag_state == LAB_TCP_NEW_SYN_RECV ? LAB_TCP_SYN_RECV
							  : (enum lab_tcp_state)m->idiag_state;
	memcpy(s->laddr, m->id.idiag_src, 16);
	memcpy(s->raddr, m->id.idiag_dst, 16);
	if (s->family == AF_INET) {
		memset(s->laddr + 4, 0, 12);
		memset(s->raddr + 4, 0, 12);
	}
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	s->ifindex = m->id.idiag_if;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	s->timer = (enum diag_timer)m->idiag_timer;
	s->expires_ms = m->idiag_expires;
	s->retrans = m->idiag_retrans;
	s->uid = m->idiag_uid;
	s->inode = m->idiag_inode;
	s->cookie = (uint64_t)m->id.idiag_cookie[0] | ((uint64_t)m->id.idiag_cookie[1] << 32);
	s->shutdown = -1;
	s->has_info = false;
	s->has_mem = false;
	s->cong[0] = '\0';
	s->tos = -1;

	/* Walk the attributes ourselves: mnl_attr_for_each stops silently at a bad length,
	 * and a truncated attribute must be an error. */
	size_t off = NLMSG_ALIGN(sizeof(struct inet_diag_msg));
	size_t plen = nlh->nlmsg_len - NLMSG_HDRLEN;
	const uint8_t *base = (const uint8_t *)m;
	while (off < plen) {
		size_t left = plen - off;
		if (left < sizeof(struct nlattr))
			return err_set(e, -EBADMSG, "sock_diag: %zu stray bytes after attributes",
				       left);
		const struct nlattr *a = (const struct nlattr *)(base + off);
		if (a->nla_len < sizeof(struct nlattr) || a->nla_len > left)
			return err_set(e, -EBADMSG,
				       "sock_diag: attribute type %u has length %u (%zu bytes left)",
				       a->nla_type & NLA_TYPE_MASK, a->nla_len, left);
		int rc = parse_attr(a, s, e);
		if (rc < 0)
			return rc;
		off += NLA_ALIGN(a->nla_len);
	}
	return 0;
}

/* The kernel's explanation from an error or done message (extack), or "". */
static void extack_msg(const struct nlmsghdr *nlh, size_t hdr_and_orig, char *out, size_t len)
{
	out[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	size_t plen = nlh->nlmsg_len - NLMSG_HDRLEN;
	size_t off = NLMSG_ALIGN(hdr_and_orig);
	const uint8_t *base = mnl_nlmsg_get_payload(nlh);
	while (off + sizeof(struct nlattr) <= plen) {
		const struct nlattr *a = (const struct nlattr *)(base + off);
		if (a->nla_len < sizeof(struct nlattr) || a->nla_len > plen - off)
			return;
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
			snprintf(out, len, "%s", mnl_attr_get_str(a));
			return;
		}
		off += NLA_ALIGN(a->nla_len);
	}
}

static int nl_error(const struct nlmsghdr *nlh, const char *what, struct lc_err *e)
{
	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr))
		return err_set(e, -EBADMSG, "sock_diag: truncated error message");
	const struct nlmsgerr *ne = mnl_nlmsg_get_payload(nlh);
	if (ne->error == 0)
		return 0;
	size_t orig = (nlh->nlmsg_flags & NLM_F_CAPPED) ? sizeof(struct nlmsghdr)
						       : ne->msg.nlmsg_len;
	char ext[256];
	if (orig < sizeof(struct nlmsghdr) ||
	    sizeof(int) + orig > nlh->nlmsg_len - NLMSG_HDRLEN)
		ext[0] = '\0';
	else
		extack_msg(nlh, sizeof(int) + orig, ext, sizeof(ext));
	int code = ne->error < 0 && ne->error != INT_MIN ? ne->error : -EPROTO;
	return err_set(e, code, "%s: %s%s%s", what, strerror(-code), ext[0] ? ": " : "", ext);
}

int diag_parse_buf(const void *buf, size_t len, uint32_t seq, uint32_t portid, diag_cb cb,
		   void *arg, bool *done, bool *intr, struct lc_err *e)
{
	const uint8_t *p = buf;
	struct diag_sock s;
	while (len > 0) {
		if (len < sizeof(struct nlmsghdr))
			return err_set(e, -EBADMSG, "sock_diag: truncated message (%zu bytes)", len);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		if (nlh->nlmsg_len < sizeof(struct nlmsghdr) || nlh->nlmsg_len > len)
			return err_set(e, -EBADMSG,
				       "sock_diag: message length %u does not fit the %zu bytes left",
				       nlh->nlmsg_len, len);
		if (seq && nlh->nlmsg_seq && nlh->nlmsg_seq != seq)
			return err_set(e, -EPROTO, "sock_diag: reply to another request (seq %u, want %u)",
				       nlh->nlmsg_seq, seq);
		if (portid && nlh->nlmsg_pid && nlh->nlmsg_pid != portid)
			return err_set(e, -EPROTO, "sock_diag: reply for port id %u, not ours",
				       nlh->nlmsg_pid);
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			*intr = true;
		switch (nlh->nlmsg_type) {
		case NLMSG_DONE: {
			*done = true;
			if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
				int err;
				memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
				if (err == INT_MIN)  /* untrusted: -INT_MIN would overflow */
					err = -EPROTO;
				if (err < 0) {
					char ext[256];
					extack_msg(nlh, sizeof(int), ext, sizeof(ext));
					return err_set(e, err, "sock_diag dump: %s%s%s", strerror(-err),
						       ext[0] ? ": " : "", ext);
				}
			}
			break;  /* a recorded file may hold further dumps */
		}
		case NLMSG_ERROR: {
			int rc = nl_error(nlh, "sock_diag", e);
			if (rc < 0)
				return rc;
			break;
		}
		case NLMSG_NOOP:
			break;
		case SOCK_DIAG_BY_FAMILY: {
			if (*intr)
				break;  /* the rest of an interrupted dump is drained and dropped */
			int rc = diag_parse_msg(nlh, &s, e);
			if (rc < 0)
				return rc;
			if (cb) {
				rc = cb(&s, arg);
				if (rc)
					return rc;
			}
			break;
		}
		default:
			return err_set(e, -EPROTO, "sock_diag: unexpected message type %u",
				       nlh->nlmsg_type);
		}
		size_t adv = NLMSG_ALIGN(nlh->nlmsg_len);
		if (adv >= len)
			break;
		p += adv;
		len -= adv;
	}
	return 0;
}

/* Read and discard the rest of a dump in progress (until NLMSG_DONE or an error). */
static void drain(struct diag *d, bool done)
{
	while (!done) {
		ssize_t m = mnl_socket_recvfrom(d->nl, d->buf, DIAG_RECV_BUF);
		if (m <= 0)
			break;
		struct lc_err dummy;
		bool di = false;
		if (diag_parse_buf(d->buf, (size_t)m, 0, 0, NULL, NULL, &done, &di, &dummy) < 0)
			break;
	}
}

/* ---- dumping ------------------------------------------------------------------------- */

static int dump_family(struct diag *d, const struct diag_filter *f, int family, diag_cb cb,
		       void *arg, bool *intr, struct lc_err *e)
{
	uint8_t req[sizeof(struct nlmsghdr) + sizeof(struct inet_diag_req_v2) + DIAG_BC_MAX + 64];
	uint8_t bc[DIAG_BC_MAX];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++d->seq;
	struct inet_diag_req_v2 *r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->sdiag_family = (uint8_t)family;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = diag_state_mask(f);
	if (f && f->want_info)
		r->idiag_ext = (1 << (INET_DIAG_MEMINFO - 1)) | (1 << (INET_DIAG_INFO - 1)) |
			       (1 << (INET_DIAG_CONG - 1)) | (1 << (INET_DIAG_TOS - 1)) |
			       (1 << (INET_DIAG_TCLASS - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1)) |
			       (1 << (INET_DIAG_SHUTDOWN - 1));
	int bclen = diag_bytecode(f, family, bc, sizeof(bc));
	if (bclen < 0)
		return err_set(e, bclen, "sock_diag %s: filter too large or invalid", d->name);
	if (bclen > 0)
		mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, (size_t)bclen, bc);

	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0)
		return err_set(e, -errno, "sock_diag %s: send: %s", d->name, strerror(errno));
	bool done = false;
	*intr = false;
	while (!done) {
		ssize_t n = mnl_socket_recvfrom(d->nl, d->buf, DIAG_RECV_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(e, -errno, "sock_diag %s: recv: %s", d->name, strerror(errno));
		}
		if (n == 0)
			return err_set(e, -EPROTO, "sock_diag %s: socket closed mid-dump", d->name);
		if (d->rec)
			fwrite(d->buf, 1, (size_t)n, d->rec);
		int rc = diag_parse_buf(d->buf, (size_t)n, nlh->nlmsg_seq, d->portid, cb, arg, &done,
					intr, e);
		if (rc != 0) {
			/* An error, or the callback stopped us: a dump cannot be cancelled, so
			 * drain the rest and the next dump on this socket starts clean. */
			if (rc < 0)
				err_prefix(e, "%s: ", d->name);
			drain(d, done);
			return rc;
		}
	}
	return 0;
}

int diag_dump(struct diag *d, const struct diag_filter *f, diag_cb cb, void *arg,
	      struct lc_err *e)
{
	int fam = f ? f->family : 0;
	for (int attempt = 0; attempt < DIAG_DUMP_RETRIES; attempt++) {
		bool intr = false;
		int rc = 0;
		if (fam == 0 || fam == AF_INET)
			rc = dump_family(d, f, AF_INET, cb, arg, &intr, e);
		if (rc == 0 && !intr && (fam == 0 || fam == AF_INET6))
			rc = dump_family(d, f, AF_INET6, cb, arg, &intr, e);
		if (rc != 0)
			return rc;
		if (!intr)
			return 0;
		/* The socket tables changed under the dump: what we streamed may be
		 * inconsistent.  Tell the consumer and start over. */
		if (cb) {
			rc = cb(NULL, arg);
			if (rc)
				return rc;
		}
	}
	return err_set(e, -EAGAIN, "sock_diag %s: dump interrupted %d times in a row", d->name,
		       DIAG_DUMP_RETRIES);
}

/* ---- addresses ----------------------------------------------------------------------- */

static char *fmt_u32(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

int diag_addr_format(int family, const uint8_t *addr, uint16_t port, bool star_zero, char *buf,
		     size_t len)
{
	char tmp[INET6_ADDRSTRLEN + 16];
	char *p = tmp;
	if (family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			p = fmt_u32(p, addr[i]);
			if (i < 3)
				*p++ = '.';
		}
	} else {
		*p++ = '[';
		if (!inet_ntop(AF_INET6, addr, p, INET6_ADDRSTRLEN))
			return -EINVAL;
		p += strlen(p);
		*p++ = ']';
	}
	*p++ = ':';
	if (port == 0 && star_zero)
		*p++ = '*';
	else
		p = fmt_u32(p, port);
	*p = '\0';
	size_t n = (size_t)(p - tmp);
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, tmp, n + 1);
	return (int)n;
}

bool diag_addr_eq(int family, const uint8_t *addr, const struct lab_addr *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (family == a->family)
		return !memcmp(addr, a->bytes, family == AF_INET ? 4 : 16);
	if (family == AF_INET6 && a->family == AF_INET)
		return !memcmp(addr, mapped, 12) && !memcmp(addr + 12, a->bytes, 4);
	return false;
}

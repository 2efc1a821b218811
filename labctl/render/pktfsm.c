/* pktfsm: TCP states inferred from a connection's packets (pktfsm.h). */
#include "render/pktfsm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/pcapdl.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

static bool ip_tcp(const uint8_t *p, size_t len, struct pktfsm_seg *s)
{
	size_t off;
	if (len < 1)
		return false;
	if ((p[0] >> 4) == 4) {
		off = (size_t)(p[0] & 15) * 4;
		if (len < 20 || off < 20 || p[9] != IPPROTO_TCP)
			return false;
		s->family = AF_INET;
		memset(s->src, 0, sizeof(s->src));
		memset(s->dst, 0, sizeof(s->dst));
		memcpy(s->src, p + 12, 4);
		memcpy(s->dst, p + 16, 4);
		s->ipid = (uint16_t)(p[4] << 8 | p[5]);
		size_t tot = (size_t)(p[2] << 8 | p[3]);
		if (tot >= off && tot < len)
			len = tot; /* Ethernet padding is not payload */
	} else if ((p[0] >> 4) == 6) {
		if (len < 40 || p[6] != IPPROTO_TCP)
			return false;  /* extension headers: not in labs' traffic */
		off = 40;
		s->family = AF_INET6;
		memcpy(s->src, p + 8, 16);
		memcpy(s->dst, p + 24, 16);
		s->ipid = 0;
		size_t tot = 40 + (size_t)(p[4] << 8 | p[5]);
		if (tot < len)
			len = tot;
	} else {
		return false;
	}
	if (len < off + 20)
		return false;
	const uint8_t *t = p + off;
	size_t doff = (size_t)(t[12] >> 4) * 4;
	s->sport = (uint16_t)(t[0] << 8 | t[1]);
	s->dport = (uint16_t)(t[2] << 8 | t[3]);
	s->seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
	s->ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
	s->flags = t[13] & 0x3f;
	/* The payload length from the IP header: a 256-byte snaplen cuts the data, not this. */
	s->len = len >= off + doff ? (uint32_t)(len - off - doff) : 0;
	return true;
}

bool pktfsm_frame_tcp(int dlt, const uint8_t *p, size_t len, struct pktfsm_seg *s)
{
	uint16_t et;
	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return false;
		et = (uint16_t)(p[12] << 8 | p[13]);
		p += 14;
		len -= 14;
		if (et == 0x8100 && len >= 4) {
			et = (uint16_t)(p[2] << 8 | p[3]);
			p += 4;
			len -= 4;
		}
		if (et != 0x0800 && et != 0x86dd)
			return false;
		break;
	case DLT_LINUX_SLL:
		if (len < 16)
			return false;
		p += 16;
		len -= 16;
		break;
	case DLT_LINUX_SLL2:
		if (len < 20)
			return false;
		p += 20;
		len -= 20;
		break;
	case DLT_NULL:
		if (len < 4)
			return false;
		p += 4;
		len -= 4;
		break;
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		break;
	default:
		return false;
	}
	return ip_tcp(p, len, s);
}

static void endpoint(const struct pktfsm_seg *s, bool src, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(s->family, src ? s->src : s->dst, a, sizeof(a));
	snprintf(buf, len, s->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 src ? s->sport : s->dport);
}

/* One side's state machine, driven by the segments it sends and receives. */
struct side {
	struct pktfsm_side *o;
	enum lab_tcp_state st;
	bool fin_sent;
	uint32_t fin_seq;        /* the sequence number of our FIN */
	uint32_t syn_seq;
	bool peer_fin;
	uint32_t peer_fin_seq;   /* the sequence number of the peer's FIN */
};

static bool seq_ge(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

static void go(struct side *sd, enum lab_tcp_state to, int64_t t)
{
	if (sd->st == to || sd->o->n == PKTFSM_MAX_STATES)
		return;
	sd->st = to;
	sd->o->states[sd->o->n] = to;
	sd->o->real_ns[sd->o->n] = t;
	sd->o->n++;
}

static void on_send(struct side *sd, const struct pktfsm_seg *s, int64_t t)
{
	bool syn = s->flags & LAB_TCPF_SYN, ack = s->flags & LAB_TCPF_ACK;
	if (s->flags & LAB_TCPF_RST) {
		go(sd, LAB_TCP_CLOSE, t);
		return;
	}
	if (syn && !ack && sd->st == LAB_TCP_CLOSE) {
		sd->syn_seq = s->seq;
		go(sd, LAB_TCP_SYN_SENT, t);
	} else if (syn && ack && (sd->st == LAB_TCP_LISTEN || sd->st == LAB_TCP_SYN_SENT ||
				  sd->st == LAB_TCP_SYN_RECV)) {
		sd->syn_seq = s->seq;
		go(sd, LAB_TCP_SYN_RECV, t);
	}
	if (s->flags & LAB_TCPF_FIN && !sd->fin_sent) {
		sd->fin_sent = true;
		sd->fin_seq = s->seq + s->len + (syn ? 1 : 0);
		if (sd->st == LAB_TCP_ESTABLISHED || sd->st == LAB_TCP_SYN_RECV) {
			go(sd, LAB_TCP_FIN_WAIT1, t);
		} else if (sd->st == LAB_TCP_CLOSE_WAIT && sd->peer_fin && sd->o->n > 0 &&
			   !(ack && seq_ge(s->ack, sd->peer_fin_seq + 1))) {
			/* Our FIN does not acknowledge the peer's: we closed before its FIN reached
			 * us, though the capture point (past our queue) saw them the other way
			 * round.  A simultaneous close: FIN_WAIT_1, then CLOSING. */
			sd->o->states[sd->o->n - 1] = LAB_TCP_FIN_WAIT1;
			sd->st = LAB_TCP_FIN_WAIT1;
			go(sd, LAB_TCP_CLOSING, t);
		} else if (sd->st == LAB_TCP_CLOSE_WAIT) {
			go(sd, LAB_TCP_LAST_ACK, t);
		}
	}
}

static void on_recv(struct side *sd, const struct pktfsm_seg *s, int64_t t)
{
	bool syn = s->flags & LAB_TCPF_SYN, ack = s->flags & LAB_TCPF_ACK;
	if (s->flags & LAB_TCPF_RST) {
		if (sd->st != LAB_TCP_LISTEN && sd->st != LAB_TCP_TIME_WAIT)
			go(sd, LAB_TCP_CLOSE, t);
		return;
	}
	if (syn && !ack && sd->st == LAB_TCP_LISTEN)
		go(sd, LAB_TCP_SYN_RECV, t);
	else if (syn && ack && sd->st == LAB_TCP_SYN_SENT && s->ack == sd->syn_seq + 1)
		go(sd, LAB_TCP_ESTABLISHED, t);
	else if (syn && !ack && sd->st == LAB_TCP_SYN_SENT)
		go(sd, LAB_TCP_SYN_RECV, t);  /* simultaneous open */
	else if (ack && sd->st == LAB_TCP_SYN_RECV && seq_ge(s->ack, sd->syn_seq + 1))
		go(sd, LAB_TCP_ESTABLISHED, t);
	bool fin_acked = ack && sd->fin_sent && seq_ge(s->ack, sd->fin_seq + 1);
	if (s->flags & LAB_TCPF_FIN) {
		sd->peer_fin = true;
		sd->peer_fin_seq = s->seq + s->len + (syn ? 1 : 0);
		if (sd->st == LAB_TCP_ESTABLISHED)
			go(sd, LAB_TCP_CLOSE_WAIT, t);
		else if (sd->st == LAB_TCP_FIN_WAIT1)
			go(sd, fin_acked ? LAB_TCP_TIME_WAIT : LAB_TCP_CLOSING, t);
		else if (sd->st == LAB_TCP_FIN_WAIT2)
			go(sd, LAB_TCP_TIME_WAIT, t);
		return;
	}
	if (fin_acked) {
		if (sd->st == LAB_TCP_FIN_WAIT1)
			go(sd, LAB_TCP_FIN_WAIT2, t);
		else if (sd->st == LAB_TCP_CLOSING)
			go(sd, LAB_TCP_TIME_WAIT, t);
		else if (sd->st == LAB_TCP_LAST_ACK)
			go(sd, LAB_TCP_CLOSE, t);
	}
}

/* One packet, as the capture points saw it: first (nearest its sender, when two files hold
 * both ends of a link) and last (nearest its receiver). */
struct pseg {
	struct pktfsm_seg s;
	int64_t t, t_last;
	bool from_left;
};

/* One side's view: the packets it sent at their first sighting and those it received at
 * their last, so that two FINs that crossed are seen crossing from both ends. */
struct pev {
	const struct pseg *p;
	int64_t t;
	bool send;
};

static int cmp_t(const void *a, const void *b)
{
	const struct pseg *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct pev *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

static bool same_packet(const struct pseg *a, const struct pseg *b)
{
	return a->from_left == b->from_left && a->s.seq == b->s.seq && a->s.ack == b->s.ack &&
	       a->s.flags == b->s.flags && a->s.len == b->s.len && a->s.ipid == b->s.ipid;
}

int pktfsm_infer(const char *const *files, int nfiles, const char *left, const char *right,
		 int64_t first_ns, int64_t last_ns, struct pktfsm_side out[2], struct lc_err *e)
{
	int rc = pcapdl_load(e);
	if (rc < 0)
		return rc;
	struct pseg *v = NULL;
	size_t n = 0, cap = 0;
	char errbuf[PCAP_ERRBUF_SIZE];
	for (int i = 0; i < nfiles; i++) {
		FILE *f = fopen(files[i], "re");
		if (!f) {
			free(v);
			return err_set(e, -errno, "%s: %s", files[i], strerror(errno));
		}
		pcap_t *p = sym_pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO,
									 errbuf);
		if (!p) {
			fclose(f);
			free(v);
			return err_set(e, -EINVAL, "%s: %s", files[i], errbuf);
		}
		int dlt = sym_pcap_datalink(p);
		struct pcap_pkthdr *h;
		const u_char *data;
		while (sym_pcap_next_ex(p, &h, &data) == 1) {
			struct pktfsm_seg s;
			int64_t t = (int64_t)h->ts.tv_sec * 1000000000 + h->ts.tv_usec;
			if (t < first_ns || t > last_ns || !pktfsm_frame_tcp(dlt, data, h->caplen, &s))
				continue;
			char a[64], b[64];
			endpoint(&s, true, a, sizeof(a));
			endpoint(&s, false, b, sizeof(b));
			bool l2r = !strcmp(a, left) && !strcmp(b, right);
			if (!l2r && !(!strcmp(a, right) && !strcmp(b, left)))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				struct pseg *nv = realloc(v, cap * sizeof(*nv));
				if (!nv) {
					sym_pcap_close(p);
					free(v);
					return err_set(e, -ENOMEM, "out of memory");
				}
				v = nv;
			}
			v[n++] = (struct pseg){s, t, t, l2r};
		}
		sym_pcap_close(p);
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_t);
	/* The same packet seen at the other end of the link counts once: its first sighting,
	 * stretched to its last. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = m > 1024 ? m - 1024 : 0;
		for (; j < m; j++)
			if (same_packet(&v[j], &v[i]) && v[i].t - v[j].t_last < 5000000000LL)
				break;
		if (j < m)
			v[j].t_last = v[i].t;
		else
			v[m++] = v[i];
	}
	memset(out, 0, 2 * sizeof(*out));
	out[0].start = LAB_TCP_CLOSE;
	out[1].start = LAB_TCP_LISTEN;
	struct pev *ev = calloc(m + 1, sizeof(*ev));
	if (!ev) {
		free(v);
		return err_set(e, -ENOMEM, "out of memory");
	}
	for (int side = 0; side < 2; side++) {
		struct side sd = {.o = &out[side], .st = out[side].start};
		for (size_t i = 0; i < m; i++) {
			bool send = v[i].from_left == (side == 0);
			ev[i] = (struct pev){&v[i], send ? v[i].t : v[i].t_last, send};
		}
		qsort(ev, m, sizeof(*ev), cmp_ev);
		for (size_t i = 0; i < m; i++) {
			if (ev[i].send)
				on_send(&sd, &ev[i].p->s, ev[i].t);
			else
				on_recv(&sd, &ev[i].p->s, ev[i].t);
		}
	}
	free(ev);
	free(v);
	return 0;
}

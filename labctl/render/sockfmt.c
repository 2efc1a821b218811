/* sockfmt: see sockfmt.h. */
#include "render/sockfmt.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* The longest row: two bracketed IPv6 addresses with ports, a timer and a tcp_info line. */
#define ROW_MAX 1024

void sockfmt_init(struct sockfmt_buf *b, FILE *out)
{
	b->out = out;
	b->len = 0;
	b->failed = false;
}

int sockfmt_flush(struct sockfmt_buf *b)
{
	if (b->len && fwrite(b->data, 1, b->len, b->out) != b->len)
		b->failed = true;
	b->len = 0;
	if (fflush(b->out) != 0)
		b->failed = true;
	return b->failed ? -EIO : 0;
}

static char *reserve(struct sockfmt_buf *b)
{
	if (b->len + ROW_MAX > sizeof(b->data)) {
		if (fwrite(b->data, 1, b->len, b->out) != b->len)
			b->failed = true;
		b->len = 0;
	}
	return b->data + b->len;
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static const char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Two digits per step: this runs ~40 times per socket in --json output. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 20;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		tmp[--n] = digits2[2 * r + 1];
		tmp[--n] = digits2[2 * r];
	}
	if (v >= 10) {
		tmp[--n] = digits2[2 * v + 1];
		tmp[--n] = digits2[2 * v];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(p, tmp + n, (size_t)(20 - n));
	return p + (20 - n);
}

static char *put_pad(char *p, const char *start, int width)
{
	while (p - start < width)
		*p++ = ' ';
	return p;
}

/* Right-aligned unsigned in width columns. */
static char *put_u64_right(char *p, uint64_t v, int width)
{
	char tmp[24];
	char *e = put_u64(tmp, v);
	int n = (int)(e - tmp);
	for (int i = n; i < width; i++)
		*p++ = ' ';
	memcpy(p, tmp, (size_t)n);
	return p + n;
}

/* Microseconds as milliseconds with three decimals ("20.312"). */
static char *put_ms3(char *p, uint32_t us)
{
	p = put_u64(p, us / 1000);
	*p++ = '.';
	uint32_t f = us % 1000;
	*p++ = (char)('0' + f / 100);
	*p++ = (char)('0' + f / 10 % 10);
	*p++ = (char)('0' + f % 10);
	return p;
}

void sockfmt_header(struct sockfmt_buf *b, bool info)
{
	(void)info;
	char *p = reserve(b), *start = p;
	p = put_str(p, "State       Recv-Q Send-Q Local Address:Port           "
		       "Peer Address:Port            Timer\n");
	b->len += (size_t)(p - start);
}

static char *put_addr(char *p, const struct diag_sock *s, bool local)
{
	int n = diag_addr_format(s->family, local ? s->laddr : s->raddr,
				 local ? s->lport : s->rport, true, p, 64);
	return n > 0 ? p + n : p;
}

static char *put_timer(char *p, const struct diag_sock *s)
{
	if (s->timer == DIAG_TIMER_NONE)
		return p;
	/* ss's form, so people can read both: timer:(on,200ms,0) */
	p = put_str(p, "timer:(");
	p = put_str(p, diag_timer_name(s->timer));
	*p++ = ',';
	if (s->expires_ms >= 10000) {
		p = put_u64(p, s->expires_ms / 1000);
		*p++ = 's';
	} else {
		p = put_u64(p, s->expires_ms);
		*p++ = 'm';
		*p++ = 's';
	}
	*p++ = ',';
	p = put_u64(p, s->retrans);
	*p++ = ')';
	return p;
}

static char *put_info_line(char *p, const struct diag_sock *s)
{
	const struct diag_tcp_info *t = &s->info;
	p = put_str(p, "\t ");
	if (s->cong[0]) {
		p = put_str(p, s->cong);
		*p++ = ' ';
	}
	p = put_str(p, "rtt:");
	p = put_ms3(p, t->rtt);
	*p++ = '/';
	p = put_ms3(p, t->rttvar);
	p = put_str(p, " rto:");
	p = put_u64(p, t->rto / 1000);
	p = put_str(p, " mss:");
	p = put_u64(p, t->snd_mss);
	p = put_str(p, " cwnd:");
	p = put_u64(p, t->snd_cwnd);
	if (t->snd_ssthresh < 0xffff) {
		p = put_str(p, " ssthresh:");
		p = put_u64(p, t->snd_ssthresh);
	}
	p = put_str(p, " retrans:");
	p = put_u64(p, t->retransmits);
	*p++ = '/';
	p = put_u64(p, t->total_retrans);
	p = put_str(p, " lost:");
	p = put_u64(p, t->lost);
	p = put_str(p, " unacked:");
	p = put_u64(p, t->unacked);
	p = put_str(p, " bytes_sent:");
	p = put_u64(p, t->bytes_sent);
	p = put_str(p, " bytes_acked:");
	p = put_u64(p, t->bytes_acked);
	p = put_str(p, " bytes_received:");
	p = put_u64(p, t->bytes_received);
	p = put_str(p, " segs_out:");
	p = put_u64(p, t->segs_out);
	p = put_str(p, " segs_in:");
	p = put_u64(p, t->segs_in);
	p = put_str(p, " min_rtt:");
	p = put_ms3(p, t->min_rtt);
	*p++ = '\n';
	return p;
}

void sockfmt_row(struct sockfmt_buf *b, const struct diag_sock *s, bool info)
{
	char *p = reserve(b), *start = p, *col;
	p = put_str(p, lab_state_name(s->state));
	p = put_pad(p, start, 11);
	*p++ = ' ';
	p = put_u64_right(p, s->rqueue, 6);
	*p++ = ' ';
	p = put_u64_right(p, s->wqueue, 6);
	*p++ = ' ';
	col = p;
	p = put_addr(p, s, true);
	p = put_pad(p, col, 32);
	*p++ = ' ';
	col = p;
	p = put_addr(p, s, false);
	if (s->timer != DIAG_TIMER_NONE) {
		p = put_pad(p, col, 28);
		*p++ = ' ';
		p = put_timer(p, s);
	}
	*p++ = '\n';
	if (info && s->has_info)
		p = put_info_line(p, s);
	b->len += (size_t)(p - start);
}

/* ,"key": with the literal's length known at compile time */
#define JSON_KEY(p, k) (memcpy((p), ",\"" k "\":", sizeof(k) + 3), (p) + sizeof(k) + 3)
#define json_u(p, k, v) put_u64(JSON_KEY(p, k), (v))
#define json_key(p, k) JSON_KEY(p, k)

void sockfmt_json(struct sockfmt_buf *b, const struct diag_sock *s)
{
	char *p = reserve(b), *start = p;
	p = put_str(p, "{\"state\":\"");
	p = put_str(p, lab_state_name(s->state));
	p = put_str(p, s->family == AF_INET ? "\",\"family\":\"inet\",\"local\":\""
					    : "\",\"family\":\"inet6\",\"local\":\"");
	p = put_addr(p, s, true);
	p = put_str(p, "\",\"peer\":\"");
	p = put_addr(p, s, false);
	*p++ = '"';
	p = json_u(p, "recv_q", s->rqueue);
	p = json_u(p, "send_q", s->wqueue);
	p = json_key(p, "timer");
	*p++ = '"';
	p = put_str(p, diag_timer_name(s->timer));
	*p++ = '"';
	p = json_u(p, "expires_ms", s->expires_ms);
	p = json_u(p, "timer_retrans", s->retrans);
	p = json_u(p, "uid", s->uid);
	p = json_u(p, "inode", s->inode);
	p = json_u(p, "cookie", s->cookie);
	if (s->cong[0]) {
		p = json_key(p, "cong");
		*p++ = '"';
		p = put_str(p, s->cong);  /* kernel names are [a-z0-9_] */
		*p++ = '"';
	}
	if (s->shutdown >= 0)
		p = json_u(p, "shutdown", (uint64_t)s->shutdown);
	if (s->has_mem) {
		const struct diag_mem *m = &s->mem;
		p = put_str(p, ",\"mem\":{\"rmem_alloc\":");
		p = put_u64(p, m->rmem_alloc);
		p = json_u(p, "rcvbuf", m->rcvbuf);
		p = json_u(p, "wmem_alloc", m->wmem_alloc);
		p = json_u(p, "sndbuf", m->sndbuf);
		p = json_u(p, "wmem_queued", m->wmem_queued);
		p = json_u(p, "fwd_alloc", m->fwd_alloc);
		p = json_u(p, "drops", m->drops);
		*p++ = '}';
	}
	if (s->has_info) {
		const struct diag_tcp_info *t = &s->info;
		p = put_str(p, ",\"tcp_info\":{\"rtt_us\":");
		p = put_u64(p, t->rtt);
		p = json_u(p, "rttvar_us", t->rttvar);
		p = json_u(p, "min_rtt_us", t->min_rtt);
		p = json_u(p, "rto_us", t->rto);
		p = json_u(p, "snd_cwnd", t->snd_cwnd);
		p = json_u(p, "snd_ssthresh", t->snd_ssthresh);
		p = json_u(p, "snd_mss", t->snd_mss);
		p = json_u(p, "rcv_mss", t->rcv_mss);
		p = json_u(p, "retransmits", t->retransmits);
		p = json_u(p, "total_retrans", t->total_retrans);
		p = json_u(p, "lost", t->lost);
		p = json_u(p, "unacked", t->unacked);
		p = json_u(p, "sacked", t->sacked);
		p = json_u(p, "probes", t->probes);
		p = json_u(p, "backoff", t->backoff);
		p = json_u(p, "ca_state", t->ca_state);
		p = json_u(p, "bytes_sent", t->bytes_sent);
		p = json_u(p, "bytes_acked", t->bytes_acked);
		p = json_u(p, "bytes_received", t->bytes_received);
		p = json_u(p, "bytes_retrans", t->bytes_retrans);
		p = json_u(p, "segs_out", t->segs_out);
		p = json_u(p, "segs_in", t->segs_in);
		p = json_u(p, "delivered", t->delivered);
		p = json_u(p, "snd_wnd", t->snd_wnd);
		p = json_u(p, "rcv_space", t->rcv_space);
		p = json_u(p, "pmtu", t->pmtu);
		p = json_u(p, "last_data_sent_ms", t->last_data_sent);
		p = json_u(p, "last_data_recv_ms", t->last_data_recv);
		p = json_u(p, "last_ack_recv_ms", t->last_ack_recv);
		*p++ = '}';
	}
	*p++ = '}';
	*p++ = '\n';
	b->len += (size_t)(p - start);
}

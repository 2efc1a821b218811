/* proto: encoder and decoder of the labctl <-> agent control frames (see proto.h). */
#include "proto.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ALIGN4(n) (((n) + 3u) & ~3u)

enum attr_kind { K_NONE, K_U32, K_U64, K_STR, K_ADDR };

static const struct {
	enum attr_kind kind;
	size_t max;   /* strings: buffer size, NUL included */
} attr_info[PA_MAX] = {
	[PA_GROUP] = {K_STR, PROTO_NAME_MAX},
	[PA_ADDR] = {K_ADDR, 0},
	[PA_FROM] = {K_ADDR, 0},
	[PA_BACKLOG] = {K_U32, 0},
	[PA_ACCEPT] = {K_U32, 0},
	[PA_AFTER_NS] = {K_U64, 0},
	[PA_ON_EOF] = {K_U32, 0},
	[PA_DATA] = {K_U32, 0},
	[PA_COUNT] = {K_U64, 0},
	[PA_RATE_MILLI] = {K_U64, 0},
	[PA_BYTES] = {K_U64, 0},
	[PA_CONN] = {K_U32, 0},
	[PA_TS_NS] = {K_U64, 0},
	[PA_LOCAL] = {K_ADDR, 0},
	[PA_PEER] = {K_ADDR, 0},
	[PA_ERRNO] = {K_U32, 0},
	[PA_ERRNAME] = {K_STR, PROTO_ERRNAME_MAX},
	[PA_MSG] = {K_STR, PROTO_TEXT_MAX},
	[PA_CONCURRENCY] = {K_U32, 0},
	[PA_ELAPSED_NS] = {K_U64, 0},
	[PA_DURATION_NS] = {K_U64, 0},
	[PA_FROM_PREFIX] = {K_U32, 0},
	[PA_RANGE] = {K_ADDR, 0},
	[PA_RANGE_PREFIX] = {K_U32, 0},
};

/* Upper bounds of the enum-valued attributes (lab.h's enums; kept numeric here so the agent
 * does not depend on the lab model). */
#define ACCEPT_MODES 4   /* auto never manual after */
#define EOF_MODES 3      /* close keep shutdown */
#define DATA_MODES 4     /* sink echo source ignore */

static uint32_t op_required(uint16_t op)
{
	switch (op) {
	case PROTO_OP_LISTEN: return PA_BIT(PA_ADDR);
	case PROTO_OP_CONNECT: return PA_BIT(PA_ADDR) | PA_BIT(PA_GROUP);
	case PROTO_OP_SEND: return PA_BIT(PA_GROUP) | PA_BIT(PA_BYTES);
	case PROTO_OP_SHUTDOWN:
	case PROTO_OP_CLOSE:
	case PROTO_OP_ABORT:
	case PROTO_OP_ACCEPT:
	case PROTO_OP_UNLISTEN: return PA_BIT(PA_GROUP);
	case PROTO_OP_FLOOD:
		return PA_BIT(PA_ADDR) | PA_BIT(PA_RATE_MILLI) | PA_BIT(PA_DURATION_NS) |
		       PA_BIT(PA_RANGE) | PA_BIT(PA_RANGE_PREFIX);
	case PROTO_OP_CYCLE: return PA_BIT(PA_ADDR) | PA_BIT(PA_COUNT);
	case PROTO_OP_PING:
	case PROTO_OP_QUIT:
	case PROTO_OP_OK: return 0;
	case PROTO_OP_ERROR: return PA_BIT(PA_ERRNO);
	default: return PA_BIT(PA_CONN) | PA_BIT(PA_TS_NS);  /* events */
	}
}

static int op_known(uint16_t op)
{
	return (op >= PROTO_OP_LISTEN && op < PROTO_OP_REQ_MAX) || op == PROTO_OP_OK ||
	       op == PROTO_OP_ERROR || (op >= PROTO_OP_EV_BASE && op < PROTO_OP_EV_END);
}

int proto_is_event(uint16_t op)
{
	return op >= PROTO_OP_EV_BASE && op < PROTO_OP_EV_END;
}

const char *proto_op_name(uint16_t op)
{
	static const char *const req[] = {
		[PROTO_OP_LISTEN] = "listen", [PROTO_OP_CONNECT] = "connect",
		[PROTO_OP_SEND] = "send", [PROTO_OP_SHUTDOWN] = "shutdown",
		[PROTO_OP_CLOSE] = "close", [PROTO_OP_ABORT] = "abort",
		[PROTO_OP_ACCEPT] = "accept", [PROTO_OP_FLOOD] = "flood",
		[PROTO_OP_PING] = "ping", [PROTO_OP_QUIT] = "quit", [PROTO_OP_CYCLE] = "cycle",
		[PROTO_OP_UNLISTEN] = "unlisten",
	};
	static const char *const ev[] = {
		"connected", "accepted", "data", "eof", "refused", "timeout", "reset", "closed",
		"error",
	};
	if (op >= PROTO_OP_LISTEN && op < PROTO_OP_REQ_MAX)
		return req[op];
	if (op == PROTO_OP_OK)
		return "ok";
	if (op == PROTO_OP_ERROR)
		return "error";
	if (proto_is_event(op))
		return ev[op - PROTO_OP_EV_BASE];
	return "?";
}

const char *proto_errno_name(int err)
{
	const char *n = err > 0 ? strerrorname_np(err) : NULL;
	return n ? n : "E?";
}

void proto_msg_init(struct proto_msg *m, uint16_t op, uint32_t tag)
{
	memset(m, 0, sizeof(*m));
	m->op = op;
	m->tag = tag;
}

void proto_set_group(struct proto_msg *m, const char *group)
{
	snprintf(m->group, sizeof(m->group), "%s", group);
	m->have |= PA_BIT(PA_GROUP);
}

void proto_set_error(struct proto_msg *m, int err, const char *fmt, ...)
{
	va_list ap;
	if (err < 0)
		err = -err;
	m->err = (uint32_t)err;
	snprintf(m->errname, sizeof(m->errname), "%s", proto_errno_name(err));
	va_start(ap, fmt);
	vsnprintf(m->msg, sizeof(m->msg), fmt, ap);
	va_end(ap);
	m->have |= PA_BIT(PA_ERRNO) | PA_BIT(PA_ERRNAME) | PA_BIT(PA_MSG);
}

/* ---- encoding ---- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
};

static int put(struct wbuf *w, uint16_t type, const void *val, size_t vlen)
{
	size_t alen = PROTO_ATTR_HDR_LEN + vlen;
	if (alen > UINT16_MAX || w->len + ALIGN4(alen) > w->cap)
		return -EMSGSIZE;
	uint16_t h[2] = {(uint16_t)alen, type};
	memcpy(w->p + w->len, h, sizeof(h));
	if (vlen)
		memcpy(w->p + w->len + PROTO_ATTR_HDR_LEN, val, vlen);
	memset(w->p + w->len + alen, 0, ALIGN4(alen) - alen);
	w->len += ALIGN4(alen);
	return 0;
}

static int put_addr(struct wbuf *w, uint16_t type, const struct sockaddr_storage *ss)
{
	uint8_t v[24];
	uint16_t fam = ss->ss_family, port;
	if (fam == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		port = ntohs(s4->sin_port);
		memcpy(v, &fam, 2);
		memcpy(v + 2, &port, 2);
		memcpy(v + 4, &s4->sin_addr, 4);
		return put(w, type, v, 8);
	}
	if (fam == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		uint32_t scope = s6->sin6_scope_id;
		port = ntohs(s6->sin6_port);
		memcpy(v, &fam, 2);
		memcpy(v + 2, &port, 2);
		memcpy(v + 4, &scope, 4);
		memcpy(v + 8, &s6->sin6_addr, 16);
		return put(w, type, v, 24);
	}
	return -EINVAL;
}

static const struct sockaddr_storage *msg_addr(const struct proto_msg *m, int type)
{
	switch (type) {
	case PA_ADDR: return &m->addr;
	case PA_FROM: return &m->from;
	case PA_LOCAL: return &m->local;
	case PA_RANGE: return &m->range;
	default: return &m->peer;
	}
}

static uint32_t *msg_u32(struct proto_msg *m, int type)
{
	switch (type) {
	case PA_BACKLOG: return &m->backlog;
	case PA_ACCEPT: return &m->accept;
	case PA_ON_EOF: return &m->on_eof;
	case PA_DATA: return &m->data;
	case PA_CONN: return &m->conn;
	case PA_ERRNO: return &m->err;
	case PA_FROM_PREFIX: return &m->from_prefix;
	case PA_RANGE_PREFIX: return &m->range_prefix;
	default: return &m->concurrency;
	}
}

static void *msg_u64(struct proto_msg *m, int type)
{
	switch (type) {
	case PA_AFTER_NS: return &m->after_ns;
	case PA_COUNT: return &m->count;
	case PA_RATE_MILLI: return &m->rate_milli;
	case PA_BYTES: return &m->bytes;
	case PA_TS_NS: return &m->ts_ns;
	case PA_DURATION_NS: return &m->duration_ns;
	default: return &m->elapsed_ns;
	}
}

static char *msg_str(struct proto_msg *m, int type)
{
	switch (type) {
	case PA_GROUP: return m->group;
	case PA_ERRNAME: return m->errname;
	default: return m->msg;
	}
}

static uint32_t prefix_max(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? 128 : 32;
}

/* Enum-valued attributes must be in range, on both sides. */
static int values_valid(const struct proto_msg *m)
{
	if ((m->have & PA_BIT(PA_ACCEPT)) && m->accept >= ACCEPT_MODES)
		return 0;
	if ((m->have & PA_BIT(PA_ON_EOF)) && m->on_eof >= EOF_MODES)
		return 0;
	if ((m->have & PA_BIT(PA_DATA)) && m->data >= DATA_MODES)
		return 0;
	if ((m->have & PA_BIT(PA_ERRNO)) && (m->err == 0 || m->err > 4095))
		return 0;
	if ((m->have & PA_BIT(PA_GROUP)) && !m->group[0])
		return 0;
	/* a prefix length needs its address, and fits its family */
	if ((m->have & PA_BIT(PA_FROM_PREFIX)) &&
	    (!(m->have & PA_BIT(PA_FROM)) || m->from_prefix > prefix_max(&m->from)))
		return 0;
	if ((m->have & PA_BIT(PA_RANGE_PREFIX)) &&
	    (!(m->have & PA_BIT(PA_RANGE)) || m->range_prefix > prefix_max(&m->range)))
		return 0;
	return 1;
}

int proto_encode(const struct proto_msg *m, void *buf, size_t cap)
{
	struct proto_msg tmp;  /* msg_* accessors are shared with the decoder (non-const) */
	struct wbuf w = {buf, cap < PROTO_MAX_FRAME ? cap : PROTO_MAX_FRAME, PROTO_HDR_LEN};
	int rc;

	if (!op_known(m->op) || (m->flags & ~PROTO_F_ALL) || (m->have & ~((1u << PA_MAX) - 2)))
		return -EINVAL;
	if ((m->have & op_required(m->op)) != op_required(m->op) || !values_valid(m))
		return -EINVAL;
	if (w.cap < PROTO_HDR_LEN)
		return -EMSGSIZE;
	memcpy(&tmp, m, sizeof(tmp));
	for (int t = 1; t < PA_MAX; t++) {
		if (!(m->have & PA_BIT(t)))
			continue;
		switch (attr_info[t].kind) {
		case K_U32:
			rc = put(&w, t, msg_u32(&tmp, t), 4);
			break;
		case K_U64:
			rc = put(&w, t, msg_u64(&tmp, t), 8);
			break;
		case K_STR: {
			const char *s = msg_str(&tmp, t);
			size_t n = strnlen(s, attr_info[t].max);
			if (n >= attr_info[t].max)
				return -EINVAL;
			rc = put(&w, t, s, n + 1);
			break;
		}
		case K_ADDR:
			rc = put_addr(&w, t, msg_addr(m, t));
			break;
		default:
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	uint32_t len = (uint32_t)w.len;
	memcpy(w.p, &len, 4);
	memcpy(w.p + 4, &m->op, 2);
	memcpy(w.p + 6, &m->flags, 2);
	memcpy(w.p + 8, &m->tag, 4);
	return (int)len;
}

/* ---- decoding ---- */

int proto_frame_len(const void *buf, size_t avail, size_t *flen)
{
	uint32_t len;
	if (avail < PROTO_HDR_LEN)
		return -EBADMSG;
	memcpy(&len, buf, 4);
	if (len < PROTO_HDR_LEN || len > PROTO_MAX_FRAME || len > avail || (len & 3))
		return -EBADMSG;
	*flen = len;
	return 0;
}

static int get_addr(const uint8_t *v, size_t n, struct sockaddr_storage *ss)
{
	uint16_t fam, port;
	if (n < 4)
		return -EBADMSG;
	memcpy(&fam, v, 2);
	memcpy(&port, v + 2, 2);
	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET && n == 8) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, v + 4, 4);
		return 0;
	}
	if (fam == AF_INET6 && n == 24) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		uint32_t scope;
		memcpy(&scope, v + 4, 4);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_scope_id = scope;
		memcpy(&s6->sin6_addr, v + 8, 16);
		return 0;
	}
	return -EBADMSG;
}

int proto_decode(const void *buf, size_t len, struct proto_msg *m)
{
	const uint8_t *p = buf;
	uint32_t flen;
	size_t pos = PROTO_HDR_LEN;

	memset(m, 0, sizeof(*m));
	if (len < PROTO_HDR_LEN || len > PROTO_MAX_FRAME)
		return -EBADMSG;
	memcpy(&flen, p, 4);
	memcpy(&m->op, p + 4, 2);
	memcpy(&m->flags, p + 6, 2);
	memcpy(&m->tag, p + 8, 4);
	if (flen != len || (len & 3))
		return -EBADMSG;
	if (!op_known(m->op))
		return -EPROTO;
	if (m->flags & ~PROTO_F_ALL)
		return -EBADMSG;

	while (pos < len) {
		uint16_t alen, type;
		if (len - pos < PROTO_ATTR_HDR_LEN)
			return -EBADMSG;
		memcpy(&alen, p + pos, 2);
		memcpy(&type, p + pos + 2, 2);
		if (alen < PROTO_ATTR_HDR_LEN || ALIGN4((size_t)alen) > len - pos)
			return -EBADMSG;
		if (type == PA_UNSPEC || type >= PA_MAX)
			return -EPROTO;
		if (m->have & PA_BIT(type))
			return -EBADMSG;  /* duplicates are ambiguous */
		const uint8_t *v = p + pos + PROTO_ATTR_HDR_LEN;
		size_t vlen = alen - PROTO_ATTR_HDR_LEN;
		for (size_t i = alen; i < ALIGN4((size_t)alen); i++)
			if (p[pos + i])
				return -EBADMSG;  /* padding is zero: catches shifted frames */
		switch (attr_info[type].kind) {
		case K_U32:
			if (vlen != 4)
				return -EBADMSG;
			memcpy(msg_u32(m, type), v, 4);
			break;
		case K_U64:
			if (vlen != 8)
				return -EBADMSG;
			memcpy(msg_u64(m, type), v, 8);
			break;
		case K_STR:
			/* one C string exactly filling the value, fitting its buffer */
			if (vlen < 1 || vlen > attr_info[type].max || v[vlen - 1] ||
			    memchr(v, 0, vlen) != v + vlen - 1)
				return -EBADMSG;
			memcpy(msg_str(m, type), v, vlen);
			break;
		case K_ADDR: {
			struct sockaddr_storage *ss = (struct sockaddr_storage *)msg_addr(m, type);
			if (get_addr(v, vlen, ss) < 0)
				return -EBADMSG;
			break;
		}
		default:
			return -EPROTO;
		}
		m->have |= PA_BIT(type);
		pos += ALIGN4((size_t)alen);
	}
	if ((m->have & op_required(m->op)) != op_required(m->op) || !values_valid(m))
		return -EBADMSG;
	return 0;
}

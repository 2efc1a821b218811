/* Unit tests of the agent control protocol (agents/proto.c): round trips of every op,
 * truncation at every byte, bad lengths, unknown ops and attributes, oversize frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void set_in4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof(*ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s4->sin_addr);
}

static void set_in6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &s6->sin6_addr);
}

/* A message of op with every attribute that op may carry set to a distinctive value. */
static void full_msg(struct proto_msg *m, uint16_t op)
{
	proto_msg_init(m, op, 0x01020304u + op);
	if (op < PROTO_OP_REQ_MAX || op == PROTO_OP_OK) {
		set_in4(&m->addr, "10.0.0.2", 8080);
		set_in6(&m->from, "fd00::1", 0);
		proto_set_group(m, "clients");
		m->backlog = 7;
		m->accept = 3;
		m->after_ns = 1500000000;
		m->on_eof = 1;
		m->data = 2;
		m->count = -1;
		m->rate_milli = 1000000;
		m->bytes = 1LL << 40;
		m->concurrency = 8;
		m->elapsed_ns = 123456789;
		m->duration_ns = 2500000000LL;
		m->from_prefix = 120;
		set_in4(&m->range, "198.18.0.0", 0);
		m->range_prefix = 24;
		if (op == PROTO_OP_LISTEN)
			m->flags = PROTO_F_ALL_FAMILIES;
		m->have |= PA_BIT(PA_DURATION_NS) | PA_BIT(PA_FROM_PREFIX) | PA_BIT(PA_RANGE) |
			   PA_BIT(PA_RANGE_PREFIX);
		m->have |= PA_BIT(PA_ADDR) | PA_BIT(PA_FROM) | PA_BIT(PA_BACKLOG) |
			   PA_BIT(PA_ACCEPT) | PA_BIT(PA_AFTER_NS) | PA_BIT(PA_ON_EOF) |
			   PA_BIT(PA_DATA) | PA_BIT(PA_COUNT) | PA_BIT(PA_RATE_MILLI) |
			   PA_BIT(PA_BYTES) | PA_BIT(PA_CONCURRENCY) | PA_BIT(PA_ELAPSED_NS);
	} else if (op == PROTO_OP_ERROR) {
		proto_set_error(m, EADDRNOTAVAIL, "binding 10.0.0.9: %s", "no such address");
	} else {  /* events */
		m->tag = 0;
		m->conn = 4242;
		m->ts_ns = 987654321012345LL;
		m->bytes = 1000;
		set_in4(&m->local, "10.0.0.1", 40000);
		set_in6(&m->peer, "fd00::2", 8080);
		((struct sockaddr_in6 *)&m->peer)->sin6_scope_id = 3;
		proto_set_group(m, "c");
		m->have |= PA_BIT(PA_CONN) | PA_BIT(PA_TS_NS) | PA_BIT(PA_LOCAL) | PA_BIT(PA_PEER) |
			   PA_BIT(PA_BYTES);
		if (op == PROTO_OP_EV_ERROR || op == PROTO_OP_EV_REFUSED)
			proto_set_error(m, op == PROTO_OP_EV_ERROR ? EMFILE : ECONNREFUSED, "x");
		if (op == PROTO_OP_EV_CLOSED)
			m->flags = PROTO_F_ABORT;
	}
}

static const uint16_t all_ops[] = {
	PROTO_OP_LISTEN, PROTO_OP_CONNECT, PROTO_OP_SEND, PROTO_OP_SHUTDOWN, PROTO_OP_CLOSE,
	PROTO_OP_ABORT, PROTO_OP_ACCEPT, PROTO_OP_FLOOD, PROTO_OP_PING, PROTO_OP_QUIT,
	PROTO_OP_CYCLE, PROTO_OP_UNLISTEN, PROTO_OP_OK, PROTO_OP_ERROR, PROTO_OP_EV_CONNECTED,
	PROTO_OP_EV_ACCEPTED,
	PROTO_OP_EV_DATA, PROTO_OP_EV_EOF, PROTO_OP_EV_REFUSED, PROTO_OP_EV_TIMEOUT,
	PROTO_OP_EV_RESET, PROTO_OP_EV_CLOSED, PROTO_OP_EV_ERROR,
};
#define NOPS (sizeof(all_ops) / sizeof(all_ops[0]))

static void assert_msg_equal(const struct proto_msg *a, const struct proto_msg *b)
{
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->tag, b->tag);
	assert_int_equal(a->have, b->have);
	assert_string_equal(a->group, b->group);
	assert_memory_equal(&a->addr, &b->addr, sizeof(a->addr));
	assert_memory_equal(&a->from, &b->from, sizeof(a->from));
	assert_memory_equal(&a->local, &b->local, sizeof(a->local));
	assert_memory_equal(&a->peer, &b->peer, sizeof(a->peer));
	assert_memory_equal(&a->range, &b->range, sizeof(a->range));
	assert_int_equal(a->from_prefix, b->from_prefix);
	assert_int_equal(a->range_prefix, b->range_prefix);
	assert_true(a->duration_ns == b->duration_ns);
	assert_int_equal(a->backlog, b->backlog);
	assert_int_equal(a->accept, b->accept);
	assert_int_equal(a->on_eof, b->on_eof);
	assert_int_equal(a->data, b->data);
	assert_int_equal(a->conn, b->conn);
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->concurrency, b->concurrency);
	assert_true(a->after_ns == b->after_ns && a->count == b->count && a->bytes == b->bytes);
	assert_true(a->ts_ns == b->ts_ns && a->elapsed_ns == b->elapsed_ns);
	assert_true(a->rate_milli == b->rate_milli);
	assert_string_equal(a->errname, b->errname);
	assert_string_equal(a->msg, b->msg);
}

static void test_round_trip_every_op(void **state)
{
	(void)state;
	for (size_t i = 0; i < NOPS; i++) {
		struct proto_msg in, out;
		uint8_t buf[PROTO_MAX_FRAME];
		size_t flen;
		full_msg(&in, all_ops[i]);
		int n = proto_encode(&in, buf, sizeof(buf));
		assert_true(n >= (int)PROTO_HDR_LEN);
		assert_int_equal(n % 4, 0);
		assert_int_equal(proto_frame_len(buf, (size_t)n, &flen), 0);
		assert_int_equal(flen, (size_t)n);
		assert_int_equal(proto_decode(buf, (size_t)n, &out), 0);
		assert_msg_equal(&in, &out);
		/* minimal form: only the required attributes */
		struct proto_msg min;
		proto_msg_init(&min, all_ops[i], 9);
		n = proto_encode(&min, buf, sizeof(buf));
		if (n > 0)  /* ops without required attributes */
			assert_int_equal(proto_decode(buf, (size_t)n, &out), 0);
		else
			assert_int_equal(n, -EINVAL);
	}
}

static void test_error_names(void **state)
{
	(void)state;
	struct proto_msg m, out;
	uint8_t buf[PROTO_MAX_FRAME];
	proto_msg_init(&m, PROTO_OP_ERROR, 5);
	proto_set_error(&m, -ECONNREFUSED, "nobody home");
	int n = proto_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &out), 0);
	assert_string_equal(out.errname, "ECONNREFUSED");
	assert_int_equal(out.err, ECONNREFUSED);
	assert_string_equal(out.msg, "nobody home");
	assert_string_equal(proto_errno_name(EADDRNOTAVAIL), "EADDRNOTAVAIL");
	assert_string_equal(proto_errno_name(0), "E?");
	assert_string_equal(proto_op_name(PROTO_OP_LISTEN), "listen");
	assert_string_equal(proto_op_name(PROTO_OP_EV_RESET), "reset");
	assert_string_equal(proto_op_name(0x7777), "?");
}

static void test_truncation_at_every_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < NOPS; i++) {
		struct proto_msg in, out;
		uint8_t buf[PROTO_MAX_FRAME];
		size_t flen;
		full_msg(&in, all_ops[i]);
		int n = proto_encode(&in, buf, sizeof(buf));
		assert_true(n > 0);
		for (int cut = 0; cut < n; cut++) {
			/* a fresh heap copy of exactly cut bytes, so ASan sees any overread */
			uint8_t *p = malloc(cut ? (size_t)cut : 1);
			memcpy(p, buf, (size_t)cut);
			assert_true(proto_decode(p, (size_t)cut, &out) < 0);
			assert_true(proto_frame_len(p, (size_t)cut, &flen) < 0);
			free(p);
		}
		/* the encoder refuses buffers that are too small, at every size */
		for (int cap = 0; cap < n; cap++)
			assert_int_equal(proto_encode(&in, buf, (size_t)cap), -EMSGSIZE);
	}
}

static int encode_ping(uint8_t *buf)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_OP_SEND, 1);
	proto_set_group(&m, "g");
	m.bytes = 10;
	m.have |= PA_BIT(PA_BYTES);
	return proto_encode(&m, buf, PROTO_MAX_FRAME);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static void test_bad_lengths(void **state)
{
	(void)state;
	uint8_t buf[PROTO_MAX_FRAME + 64], copy[PROTO_MAX_FRAME + 64];
	struct proto_msg out;
	size_t flen;
	int n = encode_ping(buf);
	assert_true(n > 0);
	/* frame length field disagrees with the bytes given */
	static const int64_t deltas[] = {-12, -4, -1, 1, 4, 100};
	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		memcpy(copy, buf, (size_t)n);
		put32(copy, (uint32_t)(n + deltas[i]));
		assert_int_equal(proto_decode(copy, (size_t)n, &out), -EBADMSG);
	}
	put32(copy, 0);
	assert_int_equal(proto_frame_len(copy, (size_t)n, &flen), -EBADMSG);
	put32(copy, 11);
	assert_int_equal(proto_frame_len(copy, (size_t)n, &flen), -EBADMSG);
	put32(copy, 0xffffffffu);
	assert_int_equal(proto_frame_len(copy, (size_t)n, &flen), -EBADMSG);
	/* attribute lengths: below the header, past the frame, wrong for the type */
	const size_t a0 = PROTO_HDR_LEN;  /* first attribute */
	static const uint16_t alens[] = {0, 1, 3, 0xffff, 5000};
	for (size_t i = 0; i < sizeof(alens) / sizeof(alens[0]); i++) {
		memcpy(copy, buf, (size_t)n);
		put16(copy + a0, alens[i]);
		assert_int_equal(proto_decode(copy, (size_t)n, &out), -EBADMSG);
	}
	/* trailing bytes that are not an attribute */
	memcpy(copy, buf, (size_t)n);
	memset(copy + n, 0, 4);
	put32(copy, (uint32_t)n + 4);
	assert_int_equal(proto_decode(copy, (size_t)n + 4, &out), -EBADMSG);
	/* a u64 attribute (BYTES) with 4 bytes: rebuild by hand */
	uint8_t f[64] = {0};
	put32(f, 12 + 8 + 8);
	put16(f + 4, PROTO_OP_SEND);
	put16(f + 12, 6);       /* GROUP "g" */
	put16(f + 14, PA_GROUP);
	f[16] = 'g';
	put16(f + 20, 8);       /* BYTES with a 4-byte value */
	put16(f + 22, PA_BYTES);
	assert_int_equal(proto_decode(f, 28, &out), -EBADMSG);
	/* the same frame made right decodes (so the test above can fail for the right reason) */
	put32(f, 12 + 8 + 12);
	put16(f + 20, 12);
	assert_int_equal(proto_decode(f, 32, &out), 0);
	assert_int_equal(out.bytes, 0);
	/* oversize */
	assert_int_equal(proto_decode(buf, PROTO_MAX_FRAME + 4, &out), -EBADMSG);
}

static void test_bad_values(void **state)
{
	(void)state;
	uint8_t buf[PROTO_MAX_FRAME];
	struct proto_msg m, out;
	int n = encode_ping(buf);
	/* string without its NUL, with an embedded NUL, empty */
	uint8_t copy[PROTO_MAX_FRAME];
	memcpy(copy, buf, (size_t)n);
	/* GROUP "g\0" + 2 pad: make the value "gX" (no NUL) */
	assert_int_equal(copy[PROTO_HDR_LEN + 2], PA_GROUP);
	copy[PROTO_HDR_LEN + 5] = 'X';
	assert_int_equal(proto_decode(copy, (size_t)n, &out), -EBADMSG);
	/* non-zero padding */
	memcpy(copy, buf, (size_t)n);
	copy[PROTO_HDR_LEN + 7] = 1;
	assert_int_equal(proto_decode(copy, (size_t)n, &out), -EBADMSG);
	/* duplicate attribute */
	proto_msg_init(&m, PROTO_OP_PING, 1);
	n = proto_encode(&m, buf, sizeof(buf));
	uint8_t dup[64] = {0};
	memcpy(dup, buf, (size_t)n);
	for (int i = 0; i < 2; i++) {
		put16(dup + 12 + 8 * i, 8);
		put16(dup + 14 + 8 * i, PA_CONN);
	}
	put32(dup, 28);
	assert_int_equal(proto_decode(dup, 28, &out), -EBADMSG);
	put32(dup, 20);
	assert_int_equal(proto_decode(dup, 20, &out), 0);
	/* enum out of range, on both sides */
	proto_msg_init(&m, PROTO_OP_LISTEN, 1);
	set_in4(&m.addr, "0.0.0.0", 80);
	m.on_eof = 3;
	m.have |= PA_BIT(PA_ADDR) | PA_BIT(PA_ON_EOF);
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.on_eof = 2;
	n = proto_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	uint32_t bad = 9;
	memcpy(buf + n - 4, &bad, 4);  /* ON_EOF is the last attribute */
	assert_int_equal(proto_decode(buf, (size_t)n, &out), -EBADMSG);
	/* address with an unknown family or a wrong size */
	proto_msg_init(&m, PROTO_OP_LISTEN, 1);
	set_in4(&m.addr, "1.2.3.4", 80);
	m.have |= PA_BIT(PA_ADDR);
	n = proto_encode(&m, buf, sizeof(buf));
	put16(buf + PROTO_HDR_LEN + 4, 99);
	assert_int_equal(proto_decode(buf, (size_t)n, &out), -EBADMSG);
	m.addr.ss_family = AF_UNIX;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	/* missing required attributes */
	proto_msg_init(&m, PROTO_OP_PING, 1);
	n = proto_encode(&m, buf, sizeof(buf));
	put16(buf + 4, PROTO_OP_CONNECT);
	assert_int_equal(proto_decode(buf, (size_t)n, &out), -EBADMSG);
	/* unknown flags */
	proto_msg_init(&m, PROTO_OP_PING, 1);
	m.flags = 0x8000;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.flags = 0;
	n = proto_encode(&m, buf, sizeof(buf));
	put16(buf + 6, 0x8000);
	assert_int_equal(proto_decode(buf, (size_t)n, &out), -EBADMSG);
	/* a too-long string is refused by the encoder */
	proto_msg_init(&m, PROTO_OP_CLOSE, 1);
	memset(m.group, 'a', sizeof(m.group));
	m.have |= PA_BIT(PA_GROUP);
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* A flood request: every attribute it needs, prefix lengths that fit their family. */
static void test_flood_request(void **state)
{
	(void)state;
	uint8_t buf[PROTO_MAX_FRAME];
	struct proto_msg m, out;
	proto_msg_init(&m, PROTO_OP_FLOOD, 5);
	set_in4(&m.addr, "10.0.0.2", 80);
	m.rate_milli = 2000000;
	m.duration_ns = 1000000000;
	m.have |= PA_BIT(PA_ADDR) | PA_BIT(PA_RATE_MILLI) | PA_BIT(PA_DURATION_NS);
	/* without the black-hole range: refused on both sides */
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	set_in4(&m.range, "198.18.0.0", 0);
	m.range_prefix = 24;
	m.have |= PA_BIT(PA_RANGE) | PA_BIT(PA_RANGE_PREFIX);
	int n = proto_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.range_prefix, 24);
	assert_true(out.duration_ns == 1000000000 && out.rate_milli == 2000000);
	/* a prefix longer than its family allows, or without its address */
	m.range_prefix = 33;
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.range_prefix = 24;
	m.from_prefix = 24;
	m.have |= PA_BIT(PA_FROM_PREFIX);
	assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
	set_in4(&m.from, "198.18.0.0", 0);
	m.have |= PA_BIT(PA_FROM);
	n = proto_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	/* RANGE_PREFIX is the last attribute: make it 40 on the wire */
	uint32_t bad = 40;
	memcpy(buf + n - 4, &bad, 4);
	assert_int_equal(proto_decode(buf, (size_t)n, &out), -EBADMSG);
}

static void test_unknown_ops_and_attrs(void **state)
{
	(void)state;
	uint8_t buf[PROTO_MAX_FRAME];
	struct proto_msg m, out;
	static const uint16_t bad_ops[] = {0, PROTO_OP_REQ_MAX, 0x3f, 0x42, 0x7f, PROTO_OP_EV_END,
					   0xffff};
	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		proto_msg_init(&m, bad_ops[i], 1);
		assert_int_equal(proto_encode(&m, buf, sizeof(buf)), -EINVAL);
		proto_msg_init(&m, PROTO_OP_PING, 1);
		int n = proto_encode(&m, buf, sizeof(buf));
		put16(buf + 4, bad_ops[i]);
		assert_int_equal(proto_decode(buf, (size_t)n, &out), -EPROTO);
	}
	static const uint16_t bad_types[] = {PA_UNSPEC, PA_MAX, 0x7fff, 0xffff};
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		uint8_t f[20] = {0};
		put32(f, 20);
		put16(f + 4, PROTO_OP_PING);
		put16(f + 12, 8);
		put16(f + 14, bad_types[i]);
		assert_int_equal(proto_decode(f, 20, &out), -EPROTO);
	}
}

/* Random corruption of valid frames: must never crash (the sanitizers watch) and whatever
 * decodes must encode again to an identical frame. */
static void test_random_corruption(void **state)
{
	(void)state;
	unsigned seed = 12345;
	int decoded = 0;
	for (int iter = 0; iter < 200000; iter++) {
		struct proto_msg in, out;
		uint8_t buf[PROTO_MAX_FRAME], again[PROTO_MAX_FRAME];
		full_msg(&in, all_ops[(unsigned)rand_r(&seed) % NOPS]);
		int n = proto_encode(&in, buf, sizeof(buf));
		int flips = 1 + rand_r(&seed) % 3;
		for (int f = 0; f < flips; f++)
			buf[(unsigned)rand_r(&seed) % (unsigned)n] ^= (uint8_t)(1 + rand_r(&seed) % 255);
		size_t len = (size_t)n;
		if (rand_r(&seed) % 4 == 0)
			len = (unsigned)rand_r(&seed) % (unsigned)n;
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, buf, len);
		if (proto_decode(p, len, &out) == 0) {
			decoded++;
			int m = proto_encode(&out, again, sizeof(again));
			assert_true(m > 0);
			struct proto_msg back;
			assert_int_equal(proto_decode(again, (size_t)m, &back), 0);
			assert_msg_equal(&out, &back);
		}
		free(p);
	}
	assert_true(decoded > 0);  /* some flips land in values and still decode */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_op),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_truncation_at_every_byte),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_flood_request),
		cmocka_unit_test(test_unknown_ops_and_attrs),
		cmocka_unit_test(test_random_corruption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

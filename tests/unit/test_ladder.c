/* ladder: golden tests on pcaps recorded by tests/netns/t_capture.sh (ours and tcpdump's),
 * plus synthetic captures written here with libpcap (raw IPv6, Linux cooked SLL) for what the
 * recordings do not cover: duplicate ACKs, fast retransmission, tuple reuse, state marks.
 *
 * LADDER_GOLDEN_UPDATE=1 rewrites the .golden files (then review the diff by hand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render/ladder.h"

#define DATA "tests/data/pcap/"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	fclose(f);
	return b;
}

/* Render files (NULL-terminated) as ASCII into a malloc'd string. */
static char *render(const char *const *files, bool abs_seq, int svg)
{
	struct lc_err e = {0};
	struct ladder *l;
	assert_int_equal(ladder_new(&l, &e), 0);
	for (; *files; files++) {
		int rc = ladder_add_pcap(l, *files, &e);
		if (rc < 0)
			fail_msg("%s", e.msg);
	}
	assert_int_equal(ladder_build(l, &e), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct ladder_render_opts o = {.abs_seq = abs_seq};
	assert_int_equal(svg ? ladder_render_svg(l, m, &o) : ladder_render_ascii(l, m, &o), 0);
	fclose(m);
	ladder_free(l);
	return buf;
}

static void golden(const char *name, const char *const *files, bool abs_seq)
{
	char path[256];
	snprintf(path, sizeof(path), DATA "%s.golden", name);
	char *got = render(files, abs_seq, 0);
	if (getenv("LADDER_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	char *want = slurp(path);
	if (!want)
		fail_msg("missing %s (run with LADDER_GOLDEN_UPDATE=1 and review it)", path);
	if (strcmp(got, want))
		fail_msg("%s differs from the rendering:\n%s", path, got);
	free(got);
	free(want);
}

#define FILES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void t_normal(void **s) { (void)s; golden("normal", FILES(DATA "normal.pcap"), false); }
static void t_normal_abs(void **s) { (void)s; golden("normal-abs", FILES(DATA "normal.pcap"), true); }
static void t_simclose(void **s) { (void)s; golden("simclose", FILES(DATA "simclose.pcap"), false); }
static void t_rst(void **s) { (void)s; golden("rst", FILES(DATA "rst.pcap"), false); }
static void t_synretrans(void **s) { (void)s; golden("synretrans", FILES(DATA "synretrans.pcap"), false); }
/* zero window segments and keep-alive probes (tests/data/labs/zerowin.lab's capture) */
static void t_zerowin(void **s) { (void)s; golden("zerowin", FILES(DATA "zerowin.pcap"), false); }
/* tcpdump -i any wrote these: Linux cooked SLL2, captured at the server. */
static void t_tcpdump(void **s) { (void)s; golden("rst-tcpdump", FILES(DATA "rst-tcpdump.pcap"), false); }
/* Both ends merged: every packet becomes one arrow with its time in flight. */
static void t_merged(void **s)
{
	(void)s;
	golden("simclose-merged", FILES(DATA "simclose.pcap", DATA "simclose-tcpdump.pcap"), false);
}

/* The same exchange read from ours (Ethernet, client side) and tcpdump's (SLL2, server side)
 * gives the same connection, flags and relative numbers: only times and frames differ. */
static void t_same_both_ends(void **s)
{
	(void)s;
	const char *names[] = {"normal", "simclose", "rst", "synretrans"};
	for (size_t i = 0; i < 4; i++) {
		char a[128], b[128];
		snprintf(a, sizeof(a), DATA "%s.pcap", names[i]);
		snprintf(b, sizeof(b), DATA "%s-tcpdump.pcap", names[i]);
		struct lc_err e = {0};
		struct ladder *la, *lb;
		assert_int_equal(ladder_new(&la, &e), 0);
		assert_int_equal(ladder_new(&lb, &e), 0);
		assert_int_equal(ladder_add_pcap(la, a, &e), 0);
		assert_int_equal(ladder_add_pcap(lb, b, &e), 0);
		assert_int_equal(ladder_build(la, &e), 0);
		assert_int_equal(ladder_build(lb, &e), 0);
		assert_int_equal(ladder_conn_count(la), ladder_conn_count(lb));
		struct ladder_conn_info ia, ib;
		assert_int_equal(ladder_conn_info(la, 1, &ia), 0);
		assert_int_equal(ladder_conn_info(lb, 1, &ib), 0);
		assert_string_equal(ia.left, ib.left);
		assert_string_equal(ia.right, ib.right);
		assert_int_equal(ia.packets, ib.packets);
		assert_string_equal(ia.end, ib.end);
		ladder_free(la);
		ladder_free(lb);
	}
}

static void t_svg(void **s)
{
	(void)s;
	char *svg = render(FILES(DATA "simclose.pcap", DATA "simclose-tcpdump.pcap"), false, 1);
	assert_non_null(strstr(svg, "<svg "));
	assert_non_null(strstr(svg, "</svg>"));
	assert_non_null(strstr(svg, "marker-end"));
	assert_non_null(strstr(svg, "retransmission"));
	free(svg);
}

static void t_errors(void **s)
{
	(void)s;
	struct lc_err e = {0};
	struct ladder *l;
	assert_int_equal(ladder_new(&l, &e), 0);
	assert_int_equal(ladder_add_pcap(l, DATA "no-such.pcap", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "no-such.pcap"));
	err_clear(&e);
	assert_int_equal(ladder_add_pcap(l, DATA "normal.golden", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a capture file"));
	/* A file cut in the middle of a record. */
	char tmp[] = "/tmp/ladder-trunc-XXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	char *whole = NULL;
	FILE *f = fopen(DATA "normal.pcap", "rb");
	assert_non_null(f);
	whole = malloc(4096);
	size_t n = fread(whole, 1, 4096, f);
	fclose(f);
	assert_true(n > 200);
	assert_int_equal(write(fd, whole, n - 20), (ssize_t)(n - 20));
	close(fd);
	err_clear(&e);
	assert_int_equal(ladder_add_pcap(l, tmp, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "truncated"));
	unlink(tmp);
	free(whole);
	ladder_free(l);
}

/* ---- synthetic captures ---- */

struct syn_seg {
	int64_t us;
	int from_client;
	const char *flags;  /* letters S A F R P; Z (not a flag): advertise window 0 */
	uint32_t seq, ack, len;
	uint16_t win;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* Write segments between [fd00::1]:40000 and [fd00::2]:80 as raw IPv6 (DLT_RAW) or as IPv4
 * in Linux cooked SLL frames. */
static void write_synthetic(const char *path, int dlt, const struct syn_seg *sg, size_t n)
{
	pcap_t *p = pcap_open_dead(dlt, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		uint8_t b[256] = {0}, *ip, *t;
		size_t l2 = dlt == DLT_LINUX_SLL ? 16 : 0, l3 = dlt == DLT_LINUX_SLL ? 20 : 40;
		ip = b + l2;
		t = ip + l3;
		if (dlt == DLT_LINUX_SLL) {
			put16(b, sg[i].from_client ? 4 : 0);
			put16(b + 14, 0x0800);
			ip[0] = 0x45;
			put16(ip + 2, (uint16_t)(20 + 20 + sg[i].len));
			put16(ip + 4, (uint16_t)(100 + i));  /* each transmission its own IP id */
			ip[8] = 64;
			ip[9] = 6;
			uint8_t c[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};
			memcpy(ip + 12, sg[i].from_client ? c : s, 4);
			memcpy(ip + 16, sg[i].from_client ? s : c, 4);
		} else {
			ip[0] = 0x60;
			put16(ip + 4, (uint16_t)(20 + sg[i].len));
			ip[6] = 6;
			ip[7] = 64;
			struct in6_addr c, s;
			inet_pton(AF_INET6, "fd00::1", &c);
			inet_pton(AF_INET6, "fd00::2", &s);
			memcpy(ip + 8, sg[i].from_client ? &c : &s, 16);
			memcpy(ip + 24, sg[i].from_client ? &s : &c, 16);
		}
		put16(t, sg[i].from_client ? 40000 : 80);
		put16(t + 2, sg[i].from_client ? 80 : 40000);
		put32(t + 4, sg[i].seq);
		put32(t + 8, sg[i].ack);
		t[12] = 5 << 4;
		for (const char *f = sg[i].flags; *f; f++)
			if (*f != 'Z')
				t[13] |= *f == 'F' ? 1 : *f == 'S' ? 2 : *f == 'R' ? 4 : *f == 'P' ? 8 : 16;
		put16(t + 14, strchr(sg[i].flags, 'Z') ? 0 : sg[i].win ? sg[i].win : 500);
		struct pcap_pkthdr h = {.caplen = (uint32_t)(l2 + l3 + 20), .len = (uint32_t)(l2 + l3 + 20 + sg[i].len)};
		h.ts.tv_sec = 1700000000 + sg[i].us / 1000000;
		h.ts.tv_usec = sg[i].us % 1000000;
		pcap_dump((u_char *)d, &h, b);
	}
	pcap_dump_close(d);
	pcap_close(p);
}

/* Loss in the middle of a transfer: three duplicate ACKs, a fast retransmission, then the
 * client reuses the tuple after the close (a second connection). */
static const struct syn_seg lossy[] = {
	{0, 1, "S", 1000, 0, 0, 0},
	{100, 0, "SA", 5000, 1001, 0, 0},
	{200, 1, "A", 1001, 5001, 0, 0},
	{300, 1, "PA", 1001, 5001, 100, 0},
	{310, 1, "PA", 1101, 5001, 100, 0},  /* lost on the way */
	{320, 1, "PA", 1201, 5001, 100, 0},
	{330, 1, "PA", 1301, 5001, 100, 0},
	{340, 1, "PA", 1401, 5001, 100, 0},
	{400, 0, "A", 5001, 1101, 0, 0},
	{420, 0, "A", 5001, 1101, 0, 0},     /* dup ACK 1 */
	{430, 0, "A", 5001, 1101, 0, 0},     /* dup ACK 2 */
	{440, 0, "A", 5001, 1101, 0, 0},     /* dup ACK 3 */
	{450, 1, "PA", 1101, 5001, 100, 0},  /* fast retransmission */
	{500, 0, "A", 5001, 1501, 0, 0},
	{600, 1, "FA", 1501, 5001, 0, 0},
	{700, 0, "FA", 5001, 1502, 0, 0},
	{800, 1, "A", 1502, 5002, 0, 0},
	{900000, 1, "S", 777777, 0, 0, 0},   /* same tuple, new connection */
	{900100, 0, "RA", 0, 777778, 0, 0},
};

/* Raw IPv6 segments against DATA NAME.golden; the pcap is kept in the data directory too
 * (written with the goldens), for t_ladder_tshark.sh's cross-check. */
static void synthetic_golden(const char *name, const struct syn_seg *sg, size_t n)
{
	char tmp[] = "/tmp/ladder-syn-XXXXXX", keep[256];
	close(mkstemp(tmp));
	write_synthetic(tmp, DLT_RAW, sg, n);
	snprintf(keep, sizeof(keep), DATA "%s.pcap", name);
	if (getenv("LADDER_GOLDEN_UPDATE"))
		write_synthetic(keep, DLT_RAW, sg, n);
	golden(name, FILES(tmp), false);
	unlink(tmp);
}

static void t_synthetic_ipv6(void **s)
{
	(void)s;
	synthetic_golden("synthetic-ipv6", lossy, sizeof(lossy) / sizeof(lossy[0]));
}

/* The receive window closes and opens: a zero window, a one-byte zero window probe, the
 * zero-window answer, a window update, then the data again (a retransmission of the probed
 * byte). */
static const struct syn_seg window[] = {
	{0, 1, "S", 1000, 0, 0, 0},
	{100, 0, "SA", 5000, 1001, 0, 0},
	{200, 1, "A", 1001, 5001, 0, 0},
	{300, 1, "PA", 1001, 5001, 100, 0},
	{400, 0, "AZ", 5001, 1101, 0, 0},    /* zero window */
	{600, 1, "PA", 1101, 5001, 1, 0},    /* zero window probe */
	{700, 0, "AZ", 5001, 1101, 0, 0},    /* zero window (the probe's byte not taken) */
	{900, 0, "A", 5001, 1101, 0, 300},   /* window update */
	{1000, 1, "PA", 1101, 5001, 100, 0}, /* retransmission (from the probed byte on) */
	{1100, 0, "A", 5001, 1201, 0, 300},
	{1200, 1, "FA", 1201, 5001, 0, 0},
	{1300, 0, "FA", 5001, 1202, 0, 300},
	{1400, 1, "A", 1202, 5002, 0, 0},
};

static void t_synthetic_window(void **s)
{
	(void)s;
	synthetic_golden("synthetic-window", window, sizeof(window) / sizeof(window[0]));
}

/* SLL (v1) with pkttype: the same packets written twice, once as outgoing and once as
 * incoming 50 us later: each pair is one slanted arrow.  And state marks. */
static void t_synthetic_sll_pairs(void **s)
{
	(void)s;
	static const struct syn_seg hs[] = {
		{0, 1, "S", 1, 0, 0, 0}, {100, 0, "SA", 9, 2, 0, 0}, {200, 1, "A", 2, 10, 0, 0},
	};
	char tmp[] = "/tmp/ladder-sll-XXXXXX";
	close(mkstemp(tmp));
	/* Interleave: send (outgoing at the client) then the copy arriving 50 us later. */
	pcap_t *p = pcap_open_dead(DLT_LINUX_SLL, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, tmp);
	for (size_t i = 0; i < 3; i++) {
		for (int copy = 0; copy < 2; copy++) {
			char one[] = "/tmp/ladder-one-XXXXXX";
			close(mkstemp(one));
			struct syn_seg g = hs[i];
			g.us += copy * 50;
			write_synthetic(one, DLT_LINUX_SLL, &g, 1);
			char eb[PCAP_ERRBUF_SIZE];
			pcap_t *r = pcap_open_offline(one, eb);
			struct pcap_pkthdr *h;
			const u_char *b;
			assert_int_equal(pcap_next_ex(r, &h, &b), 1);
			u_char fr[256];
			memcpy(fr, b, h->caplen);
			/* pkttype: outgoing at the sender, to-us at the receiver; same IP id. */
			fr[0] = 0;
			fr[1] = copy ? 0 : 4;
			fr[16 + 4] = 0;
			fr[16 + 5] = (u_char)i;
			pcap_dump((u_char *)d, h, fr);
			pcap_close(r);
			unlink(one);
		}
	}
	pcap_dump_close(d);
	pcap_close(p);

	struct lc_err e = {0};
	struct ladder *l;
	assert_int_equal(ladder_new(&l, &e), 0);
	assert_int_equal(ladder_add_pcap(l, tmp, &e), 0);
	assert_int_equal(ladder_build(l, &e), 0);
	struct sockaddr_storage c = {0}, sv = {0};
	struct sockaddr_in *c4 = (struct sockaddr_in *)&c, *s4 = (struct sockaddr_in *)&sv;
	c4->sin_family = s4->sin_family = AF_INET;
	c4->sin_port = htons(40000);
	s4->sin_port = htons(80);
	inet_pton(AF_INET, "10.0.0.1", &c4->sin_addr);
	inet_pton(AF_INET, "10.0.0.2", &s4->sin_addr);
	int64_t t0 = ladder_first_ns(l);
	assert_int_equal(ladder_add_state(l, t0 - 1000, &c, "SYN_SENT"), 0);
	assert_int_equal(ladder_add_state_conn(l, t0 + 60000, &sv, &c, "SYN_RECV"), 0);
	assert_int_equal(ladder_add_state(l, t0 + 150000, &c, "ESTABLISHED"), 0);
	assert_int_equal(ladder_add_state_conn(l, t0 + 250000, &sv, &c, "ESTABLISHED"), 0);
	/* Unpinned, on the server's side: found through the connection's right port. */
	assert_int_equal(ladder_add_state(l, t0 + 260000, &sv, "UNPINNED"), 0);
	/* A mark for another connection does not show. */
	c4->sin_port = htons(40001);
	assert_int_equal(ladder_add_state(l, t0 + 100, &c, "NOT_OURS"), 0);
	assert_int_equal(ladder_conn_count(l), 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_int_equal(ladder_render_ascii(l, m, NULL), 0);
	fclose(m);
	char path[] = DATA "synthetic-sll-pairs.golden";
	if (getenv("LADDER_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "w");
		fputs(buf, f);
		fclose(f);
	}
	char *want = slurp(path);
	assert_non_null(want);
	if (strcmp(buf, want))
		fail_msg("%s differs:\n%s", path, buf);
	free(want);
	free(buf);
	ladder_free(l);
	unlink(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_normal),          cmocka_unit_test(t_normal_abs),
		cmocka_unit_test(t_simclose),        cmocka_unit_test(t_rst),
		cmocka_unit_test(t_synretrans),
		cmocka_unit_test(t_zerowin),
		cmocka_unit_test(t_synthetic_window),      cmocka_unit_test(t_tcpdump),
		cmocka_unit_test(t_merged),          cmocka_unit_test(t_same_both_ends),
		cmocka_unit_test(t_svg),             cmocka_unit_test(t_errors),
		cmocka_unit_test(t_synthetic_ipv6),  cmocka_unit_test(t_synthetic_sll_pairs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_report: the state-machine figure's edges and jumps, the report page and the grading
 * output from synthetic data (no root, no run).  The browser and schema checks of the same
 * output are in tests/netns/t_report.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/grade.h"
#include "render/ladder.h"
#include "render/pktfsm.h"
#include "render/report.h"
#include "render/tcpfsm.h"

#define DATA "tests/data/pcap/"

static char *render_fsm(enum lab_tcp_state start, const enum lab_tcp_state *st, int n,
			bool standalone)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	struct tcpfsm_opts o = {.id = "t", .title = "a <b> & c", .start = start, .states = st,
				.n = n, .standalone = standalone};
	assert_int_equal(tcpfsm_render_svg(f, &o), 0);
	fclose(f);
	return buf;
}

static void test_edges(void **state)
{
	(void)state;
	const char *label;
	assert_true(tcpfsm_edge(LAB_TCP_CLOSE, LAB_TCP_SYN_SENT, &label));
	assert_string_equal(label, "active OPEN / snd SYN");
	assert_true(tcpfsm_edge(LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, NULL));
	assert_true(tcpfsm_edge(LAB_TCP_LISTEN, LAB_TCP_NEW_SYN_RECV, NULL)); /* a request socket */
	assert_true(tcpfsm_edge(LAB_TCP_FIN_WAIT1, LAB_TCP_TIME_WAIT, NULL)); /* FIN+ACK at once */
	assert_true(tcpfsm_edge(LAB_TCP_LAST_ACK, LAB_TCP_CLOSE, NULL));
	assert_true(tcpfsm_edge(LAB_TCP_TIME_WAIT, LAB_TCP_CLOSE, NULL));
	assert_false(tcpfsm_edge(LAB_TCP_ESTABLISHED, LAB_TCP_CLOSE, &label)); /* reset */
	assert_null(label);
	assert_false(tcpfsm_edge(LAB_TCP_ESTABLISHED, LAB_TCP_LAST_ACK, NULL));
	assert_string_equal(tcpfsm_state_name(LAB_TCP_NEW_SYN_RECV), "SYN_RECV");
}

/* The client of a handshake and active close: four solid edges, numbered 1..4, no jump. */
static void test_client_path(void **state)
{
	(void)state;
	enum lab_tcp_state p[] = {LAB_TCP_SYN_SENT, LAB_TCP_ESTABLISHED, LAB_TCP_FIN_WAIT1,
				  LAB_TCP_FIN_WAIT2, LAB_TCP_TIME_WAIT};
	char *s = render_fsm(LAB_TCP_CLOSE, p, 5, true);
	assert_non_null(strstr(s, "<?xml"));
	assert_non_null(strstr(s, "data-edge=\"CLOSED>SYN_SENT\" data-order=\"1\""));
	assert_non_null(strstr(s, "data-edge=\"SYN_SENT>ESTABLISHED\" data-order=\"2\""));
	assert_non_null(strstr(s, "data-edge=\"ESTABLISHED>FIN_WAIT_1\" data-order=\"3\""));
	assert_non_null(strstr(s, "data-edge=\"FIN_WAIT_1>FIN_WAIT_2\" data-order=\"4\""));
	assert_non_null(strstr(s, "data-edge=\"FIN_WAIT_2>TIME_WAIT\" data-order=\"5\""));
	assert_null(strstr(s, "fsm-edge fsm-jump"));
	assert_non_null(strstr(s, "fsm-state fsm-seen fsm-last\" data-state=\"TIME_WAIT\""));
	assert_non_null(strstr(s, "a &lt;b&gt; &amp; c")); /* the title is escaped */
	/* Every state once, CLOSED twice (top and bottom, as the RFC draws it). */
	int n = 0;
	for (const char *q = s; (q = strstr(q, "class=\"fsm-state")); q++)
		n++;
	assert_int_equal(n, 12);
	free(s);
}

/* The server of handshake.lab as the poller saw it: CLOSE_WAIT lasted under a poll, so
 * ESTABLISHED>LAST_ACK is a dashed jump, not the two edges through CLOSE_WAIT. */
static void test_jump(void **state)
{
	(void)state;
	enum lab_tcp_state p[] = {LAB_TCP_NEW_SYN_RECV, LAB_TCP_ESTABLISHED, LAB_TCP_LAST_ACK,
				  LAB_TCP_CLOSE};
	char *s = render_fsm(LAB_TCP_LISTEN, p, 4, false);
	assert_null(strstr(s, "<?xml"));
	assert_null(strstr(s, "http"));   /* inline: no namespace URL */
	assert_non_null(strstr(s, "data-edge=\"LISTEN>SYN_RECV\" data-order=\"1\""));
	assert_non_null(strstr(s, "fsm-edge fsm-jump\" data-edge=\"ESTABLISHED>LAST_ACK\" "
				  "data-order=\"3\""));
	assert_non_null(strstr(s, "not observed"));
	assert_non_null(strstr(s, "data-edge=\"LAST_ACK>CLOSED\" data-order=\"4\""));
	/* the states it skipped are not marked seen */
	assert_non_null(strstr(s, "<g class=\"fsm-state\" data-state=\"CLOSE_WAIT\""));
	free(s);
}

static void test_page(void **state)
{
	(void)state;
	struct lab *lab;
	struct lc_err e = {0};
	const char *text = "lab t\nabout \"a <test>\"\nhost a addr 10.0.0.1/24\n"
			   "host b addr 10.0.0.2/24\nlink a b\nb listen :80\na connect b:80\n"
			   "expect a ESTABLISHED within 1s\nexpect b CLOSE_WAIT within 1s\n";
	assert_int_equal(lab_parse_string("t.lab", text, &lab, &e), 0);
	const char *lines[] = {"lab t", "about \"a <test>\"", "host a addr 10.0.0.1/24",
			       "host b addr 10.0.0.2/24", "link a b", "b listen :80",
			       "a connect b:80", "expect a ESTABLISHED within 1s",
			       "expect b CLOSE_WAIT within 1s"};
	struct report_step steps[] = {
		{.line = 6, .col = 1, .mark = "ok", .text = "b listen :80"},
		{.line = 7, .col = 1, .mark = "ok", .text = "a connect b:80"},
		{.line = 8, .col = 1, .mark = "FAIL", .expect = true, .detail = "saw 0 <none>"},
	};
	struct report_state sa[] = {{LAB_TCP_SYN_SENT, 1000000}, {LAB_TCP_ESTABLISHED, 2000000}};
	struct report_side sides[] = {
		{.host = 0, .conn = 1, .local = "10.0.0.1:4000", .peer = "10.0.0.2:80",
		 .states = sa, .nstates = 2},
	};
	const char svg[] = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
			   "width=\"1\"><line marker-end=\"url(#ah)\"/></svg>\n";
	struct report_run rr = {
		.lab = lab, .lines = lines, .nlines = 9, .id = "t-1", .engine = "veth",
		.kernel = "Linux", .failed = 1, .nexpect = 2, .poll_ns = 1000000,
		.span_ns = 5000000, .steps = steps, .nsteps = 3, .sides = sides, .nsides = 1,
		.ladder_svg = svg, .ladder_len = sizeof(svg) - 1,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(report_html(f, &rr), 0);
	fclose(f);
	assert_non_null(strstr(buf, "data-verdict=\"FAIL\""));
	assert_non_null(strstr(buf, "a &lt;test&gt;"));
	assert_non_null(strstr(buf, "data-line=\"8\" data-step=\"1\">"));
	assert_non_null(strstr(buf, "data-result=\"FAIL\""));
	assert_non_null(strstr(buf, "saw 0 &lt;none&gt;"));
	/* line 9's expectation never ran */
	assert_non_null(strstr(buf, "data-result=\"not run\""));
	assert_non_null(strstr(buf, "class=\"r-lane\" data-conn=\"1\" data-host=\"a\""));
	assert_non_null(strstr(buf, "class=\"r-fsm\" data-conn=\"1\" data-host=\"a\""));
	assert_non_null(strstr(buf, "data-path=\"CLOSED>SYN_SENT SYN_SENT>ESTABLISHED\""));
	/* The ladder is inlined without its XML declaration and namespace: no URL at all. */
	assert_null(strstr(buf, "<?xml"));
	assert_null(strstr(buf, "http"));
	assert_non_null(strstr(buf, "<svg width=\"1\"><line marker-end=\"url(#ah)\"/>"));
	free(buf);
	lab_free(lab);
}

static void test_grade(void **state)
{
	(void)state;
	struct grade_suite s = {.name = "t", .file = "t.lab", .seconds = 1.5};
	struct grade_case c = {.name = "line 8: expect a ESTABLISHED # x", .line = 8,
			       .status = GRADE_PASS};
	assert_int_equal(grade_add(&s, &c), 0);
	c.status = GRADE_FAIL;
	c.line = 9;
	snprintf(c.name, sizeof(c.name), "line 9: expect b \"CLOSE_WAIT\"");
	snprintf(c.detail, sizeof(c.detail), "saw 0 <CLOSE_WAIT> & more");
	assert_int_equal(grade_add(&s, &c), 0);
	c.status = GRADE_SKIPPED;
	snprintf(c.detail, sizeof(c.detail), "not reached");
	assert_int_equal(grade_add(&s, &c), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(grade_junit(f, &s, 1), 0);
	fclose(f);
	assert_non_null(strstr(buf, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
	assert_non_null(strstr(buf, "<failure message=\"saw 0 &lt;CLOSE_WAIT&gt; &amp; more\">"));
	assert_non_null(strstr(buf, "name=\"line 9: expect b &quot;CLOSE_WAIT&quot;\""));
	assert_non_null(strstr(buf, "<skipped message=\"not reached\"/>"));
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	int num = 0;
	grade_tap_head(f);
	grade_tap_suite(f, &s, &num);
	grade_tap_plan(f, num);
	fclose(f);
	/* '#' in a description would start a directive: it is blanked. */
	assert_non_null(strstr(buf, "TAP version 13\nok 1 - t: line 8: expect a ESTABLISHED   x\n"));
	assert_non_null(strstr(buf, "not ok 2 - t: line 9"));
	assert_non_null(strstr(buf, "  ---\n  severity: fail\n  message: \"saw 0 <CLOSE_WAIT> & more\"\n"));
	assert_non_null(strstr(buf, "ok 3 - t: line 9: expect b \"CLOSE_WAIT\" # SKIP not reached\n"));
	assert_non_null(strstr(buf, "1..3\n"));
	free(buf);
	grade_suite_clear(&s);
}

/* Both sides' states as the recorded captures (tests/netns/t_capture.sh, both ends of the
 * link) imply them, as "STATE STATE ..." after the start. */
static void infer(const char *name, const char *want_left, const char *want_right)
{
	char a[256], b[256];
	snprintf(a, sizeof(a), DATA "%s.pcap", name);
	snprintf(b, sizeof(b), DATA "%s-tcpdump.pcap", name);
	const char *files[] = {a, b};
	struct ladder *l;
	struct lc_err e = {0};
	assert_int_equal(ladder_new(&l, &e), 0);
	assert_int_equal(ladder_add_pcap(l, a, &e), 0);
	assert_int_equal(ladder_add_pcap(l, b, &e), 0);
	assert_int_equal(ladder_build(l, &e), 0);
	struct ladder_conn_info in;
	assert_int_equal(ladder_conn_info(l, 1, &in), 0);
	struct pktfsm_side sides[2];
	assert_int_equal(pktfsm_infer(files, 2, in.left, in.right, in.first_ns, in.last_ns, sides,
				      &e), 0);
	const char *want[2] = {want_left, want_right};
	for (int s = 0; s < 2; s++) {
		char got[512] = "";
		for (int i = 0; i < sides[s].n; i++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
				 lab_state_name(sides[s].states[i]));
		assert_string_equal(got, want[s]);
	}
	assert_int_equal(sides[0].start, LAB_TCP_CLOSE);
	assert_int_equal(sides[1].start, LAB_TCP_LISTEN);
	ladder_free(l);
}

static void test_infer_normal(void **state)
{
	(void)state;
	infer("normal", "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT",
	      "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
}

/* The client's FIN waited in a token bucket: the capture point past it saw the server's FIN
 * first, but the client's FIN does not acknowledge it, so both sides closed at once. */
static void test_infer_simclose(void **state)
{
	(void)state;
	infer("simclose", "SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT",
	      "SYN_RECV ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT");
}

static void test_infer_rst(void **state)
{
	(void)state;
	infer("rst", "SYN_SENT ESTABLISHED CLOSED", "SYN_RECV ESTABLISHED CLOSED");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_client_path),
		cmocka_unit_test(test_jump),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_grade),
		cmocka_unit_test(test_infer_normal),
		cmocka_unit_test(test_infer_simclose),
		cmocka_unit_test(test_infer_rst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

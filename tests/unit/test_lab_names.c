/* Unit tests of labctl/lab/lab_names.c: state spellings as the kernel, ss and the textbooks
 * write them, event names, and the suggestions behind "did you mean". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lab/lab.h"

static void test_state_spellings(void **state)
{
	(void)state;
	static const struct { const char *s; int st; } cases[] = {
		{"ESTABLISHED", LAB_TCP_ESTABLISHED}, {"established", LAB_TCP_ESTABLISHED},
		{"ESTAB", LAB_TCP_ESTABLISHED},       {"estab", LAB_TCP_ESTABLISHED},
		{"SYN_SENT", LAB_TCP_SYN_SENT},       {"SYN-SENT", LAB_TCP_SYN_SENT},
		{"SYN_RECV", LAB_TCP_SYN_RECV},       {"SYN-RECV", LAB_TCP_SYN_RECV},
		{"SYN_RCVD", LAB_TCP_SYN_RECV},       {"SYN-RECEIVED", LAB_TCP_SYN_RECV},
		{"NEW_SYN_RECV", LAB_TCP_SYN_RECV},
		{"FIN_WAIT_1", LAB_TCP_FIN_WAIT1},    {"FIN-WAIT-1", LAB_TCP_FIN_WAIT1},
		{"fin_wait1", LAB_TCP_FIN_WAIT1},     {"FIN_WAIT1", LAB_TCP_FIN_WAIT1},
		{"FIN-WAIT1", LAB_TCP_FIN_WAIT1},     {"finwait1", LAB_TCP_FIN_WAIT1},
		{"FIN_WAIT_2", LAB_TCP_FIN_WAIT2},    {"fin-wait-2", LAB_TCP_FIN_WAIT2},
		{"TIME_WAIT", LAB_TCP_TIME_WAIT},     {"TIME-WAIT", LAB_TCP_TIME_WAIT},
		{"timewait", LAB_TCP_TIME_WAIT},
		{"CLOSED", LAB_TCP_CLOSE},            {"CLOSE", LAB_TCP_CLOSE},
		{"UNCONN", LAB_TCP_CLOSE},
		{"CLOSE_WAIT", LAB_TCP_CLOSE_WAIT},   {"CLOSE-WAIT", LAB_TCP_CLOSE_WAIT},
		{"LAST_ACK", LAB_TCP_LAST_ACK},       {"LAST-ACK", LAB_TCP_LAST_ACK},
		{"LISTEN", LAB_TCP_LISTEN},           {"listen", LAB_TCP_LISTEN},
		{"CLOSING", LAB_TCP_CLOSING},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = lab_state_parse(cases[i].s);
		if (got != cases[i].st)
			fail_msg("%s: want %d, got %d", cases[i].s, cases[i].st, got);
	}
	static const char *const bad[] = {"", "NONE", "FIN_WAIT3", "ESTABLISHEDX", "SYN",
					  "FIN_WAIT", "WAIT"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lab_state_parse(bad[i]), -1);
	assert_int_equal(lab_state_parse(NULL), -1);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(lab_state_name(LAB_TCP_FIN_WAIT1), "FIN_WAIT_1");
	assert_string_equal(lab_state_name(LAB_TCP_NEW_SYN_RECV), "SYN_RECV");
	assert_string_equal(lab_state_name(LAB_TCP_CLOSE), "CLOSED");
	assert_string_equal(lab_state_name(LAB_TCP_MAX_STATES), "UNKNOWN");
	assert_string_equal(lab_state_name((enum lab_tcp_state)-1), "UNKNOWN");
	/* every printed name parses back to its state (NEW_SYN_RECV prints as SYN_RECV) */
	for (int s = LAB_TCP_ESTABLISHED; s < LAB_TCP_NEW_SYN_RECV; s++)
		assert_int_equal(lab_state_parse(lab_state_name((enum lab_tcp_state)s)), s);
}

static void test_state_suggest(void **state)
{
	(void)state;
	assert_string_equal(lab_state_suggest("FIN_WAIT3"), "FIN_WAIT_2");
	assert_string_equal(lab_state_suggest("FIN_WAIT_0"), "FIN_WAIT_1");
	assert_string_equal(lab_state_suggest("ESTABLISHD"), "ESTABLISHED");
	assert_string_equal(lab_state_suggest("time-wiat"), "TIME_WAIT");
	assert_string_equal(lab_state_suggest("CLOSE_WIAT"), "CLOSE_WAIT");
	assert_string_equal(lab_state_suggest("LISTN"), "LISTEN");
	assert_null(lab_state_suggest("XYZZY"));
	assert_null(lab_state_suggest(NULL));
}

static void test_events(void **state)
{
	(void)state;
	for (int k = 0; k < LAB_EV_MAX; k++)
		assert_int_equal(lab_event_parse(lab_event_name((enum lab_event_kind)k)), k);
	assert_int_equal(lab_event_parse("REFUSED"), LAB_EV_REFUSED);
	assert_int_equal(lab_event_parse("refsued"), -1);
	assert_string_equal(lab_event_name(LAB_EV_MAX), "unknown");
}

static void test_suggest(void **state)
{
	(void)state;
	static const char *const c[] = {"host", "link", "listen", NULL, "delay"};
	assert_string_equal(lab_suggest("hots", c, 5), "host");
	assert_string_equal(lab_suggest("HOST", c, 5), "host");
	assert_string_equal(lab_suggest("dealy", c, 5), "delay");
	assert_string_equal(lab_suggest("lnk", c, 5), "link");
	assert_null(lab_suggest("zzzzzz", c, 5));
	assert_null(lab_suggest("hots", c, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_spellings),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_state_suggest),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_suggest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

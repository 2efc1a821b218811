/* test_lab_path: `expect HOST path STATE...` and `expect HOST seen STATE` (issue 14), kept
 * apart from test_lab_parse while the parser is being split. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"

#define LAB "host client addr 10.0.0.1/24\nhost server addr 10.0.0.2/24\nlink client server\n"

static void check_err(const char *text, const char *want)
{
	struct lab *lab = NULL;
	struct lc_err e = {0};
	char *all = NULL;
	assert_int_equal(lab_parse_string_errs("t.lab", text, &lab, &e, &all), -EINVAL);
	assert_null(lab);
	if (!all || strcmp(all, want))
		fail_msg("lab:\n%s\nwant: %s\ngot:  %s", text, want, all ? all : "(null)");
	free(all);
}

static void test_path_and_seen(void **state)
{
	(void)state;
	struct lab *lab = NULL;
	struct lc_err e = {0};
	int rc = lab_parse_string("t.lab", LAB
		"expect client path SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT port 8080 within 1s\n"
		"expect server seen SYN_RECV port 8080\n"
		"expect server seen TIME_WAIT count 0\n", &lab, &e);
	if (rc)
		fail_msg("%s", e.msg);
	assert_int_equal(lab->nsteps, 3);
	const struct lab_step *s = &lab->steps[0];
	assert_int_equal(s->u.expect.kind, LAB_EXPECT_PATH);
	assert_int_equal(s->u.expect.npath, 4);
	assert_int_equal(s->u.expect.path[0], LAB_TCP_SYN_SENT);
	assert_int_equal(s->u.expect.path[3], LAB_TCP_TIME_WAIT);
	assert_int_equal(s->u.expect.port, 8080);
	assert_int_equal(s->u.expect.within_ns, 1000000000LL);
	s = &lab->steps[1];
	assert_int_equal(s->u.expect.kind, LAB_EXPECT_SEEN);
	assert_int_equal(s->u.expect.state, LAB_TCP_SYN_RECV);
	assert_int_equal(s->u.expect.count.cmp, LAB_CMP_GE);
	assert_int_equal(s->u.expect.count.n, 1);
	s = &lab->steps[2];
	assert_int_equal(s->u.expect.count.cmp, LAB_CMP_EQ);
	assert_int_equal(s->u.expect.count.n, 0);
	lab_free(lab);
}

static void test_errors(void **state)
{
	(void)state;
	check_err(LAB "expect client path\n",
		  "t.lab:4:15: path needs the states, like path SYN_SENT ESTABLISHED TIME_WAIT");
	check_err(LAB "expect client path SYN_SNT\n",
		  "t.lab:4:20: unknown state \"SYN_SNT\"; did you mean SYN_SENT?");
	check_err(LAB "expect client seen SYN_SENT ESTABLISHED\n",
		  "t.lab:4:29: seen takes one state (use path for a sequence)");
	check_err(LAB "expect client path SYN_SENT count 1\n",
		  "t.lab:4:29: unknown key \"count\" (expect HOST path takes port, within)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_and_seen),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

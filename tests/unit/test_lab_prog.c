/* Unit tests of the program statements (labctl/lab/lab_prog.c): start, run, stop, signal,
 * expect program, and `program NAME` on socket expectations; every error with LINE:COL. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lab/lab.h"

#define HOSTS "host client addr 10.0.0.1/24\nhost server addr 10.0.0.2/24\nlink client server\n"

static struct lab *parse_ok(const char *text)
{
	struct lab *lab = NULL;
	struct lc_err e = {0};
	if (lab_parse_string("t.lab", text, &lab, &e))
		fail_msg("unexpected parse error:\n%s", e.msg);
	return lab;
}

static void check_err(const char *text, const char *want)
{
	struct lab *lab = NULL;
	struct lc_err e = {0};
	char *all = NULL;
	assert_int_equal(lab_parse_string_errs("t.lab", text, &lab, &e, &all), -EINVAL);
	assert_null(lab);
	if (!all || strcmp(all, want))
		fail_msg("lab:\n%s\nwant: %s\ngot:  %s", text, want, all ? all : "(none)");
	free(all);
}

static void test_start_and_run(void **state)
{
	(void)state;
	struct lab *lab = parse_ok(HOSTS
		"server start web env A=1 env B=\"two words\" ready port 80 within 3s -- python3 -m http.server 80\n"
		"client run exit 3 timeout 2s -- sh -c \"exit 3 # not a comment\"\n"
		"client run shell -- \"curl -s http://server/ | head -1\"\n"
		"client run named as-root exit any -- id -u\n"
		"signal web STOP\n"
		"signal web sigcont\n"
		"stop web grace 500ms\n"
		"expect server ESTABLISHED port 80 program web count 0\n"
		"expect program web exited signal TERM within 1s\n"
		"expect program curl-6 exited code 0\n"
		"expect program named running\n");
	assert_int_equal(lab->nprogs, 4);
	const struct lab_prog *w = &lab->progs[0];
	assert_string_equal(w->name, "web");
	assert_true(w->background);
	assert_int_equal(w->host, 1);
	assert_int_equal(w->argc, 4);
	assert_string_equal(w->argv[0], "python3");
	assert_string_equal(w->argv[3], "80");
	assert_null(w->argv[4]);
	assert_int_equal(w->nenv, 2);
	assert_string_equal(w->env[1], "B=two words");
	assert_int_equal(w->ready_port, 80);
	assert_int_equal(w->ready_ns, 3000000000LL);
	const struct lab_prog *r = &lab->progs[1];
	assert_false(r->background);
	assert_string_equal(r->name, "sh-5");
	assert_int_equal(r->exit_code, 3);
	assert_int_equal(r->timeout_ns, 2000000000LL);
	assert_string_equal(r->argv[2], "exit 3 # not a comment");
	const struct lab_prog *s = &lab->progs[2];
	assert_true(s->shell);
	assert_string_equal(s->name, "curl-6");
	assert_int_equal(s->argc, 3);
	assert_string_equal(s->argv[0], "/bin/sh");
	assert_string_equal(s->argv[1], "-c");
	assert_string_equal(s->argv[2], "curl -s http://server/ | head -1");
	assert_true(lab->progs[3].as_root);
	assert_int_equal(lab->progs[3].exit_code, -1);
	assert_int_equal(lab->progs[0].timeout_ns, 30000000000LL);  /* defaults */
	assert_int_equal(lab->nsteps, 11);
	assert_int_equal(lab->steps[0].op, LAB_OP_START);
	assert_int_equal(lab->steps[1].op, LAB_OP_RUN);
	assert_int_equal(lab->steps[4].op, LAB_OP_SIGNAL);
	assert_int_equal(lab->steps[4].u.prog.sig, SIGSTOP);
	assert_int_equal(lab->steps[5].u.prog.sig, SIGCONT);
	assert_int_equal(lab->steps[6].op, LAB_OP_STOP);
	assert_int_equal(lab->steps[6].u.prog.grace_ns, 500000000LL);
	const struct lab_step *e = &lab->steps[7];
	assert_true(e->u.expect.has_prog);
	assert_int_equal(e->u.expect.prog, 0);
	assert_int_equal(e->u.expect.kind, LAB_EXPECT_STATE);
	e = &lab->steps[8];
	assert_int_equal(e->u.expect.kind, LAB_EXPECT_PROGRAM);
	assert_false(e->u.expect.running);
	assert_true(e->u.expect.has_signal);
	assert_int_equal(e->u.expect.sig, SIGTERM);
	assert_int_equal(e->host, 1);  /* the program's host */
	assert_true(lab->steps[9].u.expect.has_code);
	assert_true(lab->steps[10].u.expect.running);
	assert_int_equal(lab_prog_find(lab, "named"), 3);
	assert_int_equal(lab_prog_find(lab, "nope"), -1);
	lab_free(lab);
}

static void test_signal_names(void **state)
{
	(void)state;
	assert_int_equal(lab_signal_parse("STOP"), SIGSTOP);
	assert_int_equal(lab_signal_parse("SIGKILL"), SIGKILL);
	assert_int_equal(lab_signal_parse("usr1"), SIGUSR1);
	assert_int_equal(lab_signal_parse("STP"), -1);
	assert_string_equal(lab_signal_name(SIGCONT), "CONT");
}

static void test_errors(void **state)
{
	(void)state;
	check_err(HOSTS "server start web python3 x.py\n",
		  "t.lab:4:26: start needs the command after \"--\", e.g. server start web -- "
		  "python3 apps/server.py 8080");
	check_err(HOSTS "server start -- x\n",
		  "t.lab:4:14: start needs a name for the program, e.g. server start web -- "
		  "COMMAND...");
	check_err(HOSTS "server start web --\n",
		  "t.lab:4:18: nothing after \"--\": which command should start run?");
	check_err(HOSTS "server start web -- a\nserver start web -- b\n",
		  "t.lab:5:14: program \"web\" is already defined at line 4; give this one another "
		  "name");
	check_err(HOSTS "server start web redy port 80 -- a\n",
		  "t.lab:4:18: unknown key \"redy\"; did you mean ready?");
	check_err(HOSTS "server start web ready 80 -- a\n",
		  "t.lab:4:18: ready needs \"port N\": the step waits until the program listens on "
		  "port N");
	check_err(HOSTS "client run exit 256 -- a\n",
		  "t.lab:4:17: exit status must be a whole number from 0 to 255, got \"256\"");
	check_err(HOSTS "client run env 1X=2 -- a\n",
		  "t.lab:4:16: env needs KEY=VALUE (KEY: letters, digits, '_'), not \"1X=2\"");
	check_err(HOSTS "client run shell -- curl -s\n",
		  "t.lab:4:26: shell takes the command line as one quoted string, e.g. -- \"curl -s "
		  "http://server/ | head -1\"");
	check_err(HOSTS "client run -- \"\"\n", "t.lab:4:15: the command is an empty string");
	check_err(HOSTS "stop web\n",
		  "t.lab:4:6: unknown program \"web\": no program is started before this line (HOST "
		  "start NAME -- COMMAND...)");
	check_err(HOSTS "server start web -- a\nstop wbe\n",
		  "t.lab:5:6: unknown program \"wbe\"; did you mean web?");
	check_err(HOSTS "server start web -- a\nsignal web STP\n",
		  "t.lab:5:12: unknown signal \"STP\"; did you mean STOP?");
	check_err(HOSTS "server start web -- a\nsignal web\n",
		  "t.lab:5:8: signal needs a program and a signal, e.g. signal web STOP");
	check_err(HOSTS "client run once -- true\nstop once\n",
		  "t.lab:5:6: stop: program \"once\" is a foreground run (line 4), over before the "
		  "next step; only a started program can be stopped");
	check_err(HOSTS "server start web -- a\nexpect program web runing\n",
		  "t.lab:5:20: expect program web: \"runing\" is neither running nor exited; did you "
		  "mean running?");
	check_err(HOSTS "server start web -- a\nexpect program web exited code 1 signal TERM\n",
		  "t.lab:5:34: one of code or signal");
	check_err(HOSTS "server start web -- a\nexpect client ESTABLISHED program web\n",
		  "t.lab:5:35: program \"web\" runs on server, not on client");
	check_err(HOSTS "server start web -- a\nexpect program web running code 0\n",
		  "t.lab:5:28: unknown key \"code\" (expect program takes within)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_and_run),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

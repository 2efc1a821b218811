/* labctl step ID LINE... / labctl expect ID LINE...
 *
 * One line of a lab file, issued to a lab kept by `labctl up`: the supervisor parses it after
 * the lab's own lines (and the live lines before it), so it reads exactly as in the file
 * (same grammar, same messages, groups and programs defined earlier are known), runs it,
 * and answers with the step log.  Exit 0 when the step ran or the expectation held, 1 when
 * it failed, 2 for a bad line or a lab that is not up. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cmd/cmds.h"
#include "run/registry.h"
#include "run/run.h"

static const char step_usage[] =
	"usage: labctl step ID LINE...\n"
	"\n"
	"Run one step line on a lab started with `labctl up`, as if it were the next line of\n"
	"its file: agent steps, program steps, impair, wait, expect.  For example:\n"
	"  labctl step ID client connect server:9000 count 3 as leak\n"
	"  labctl step ID server start web -- python3 -m http.server 8080\n"
	"  labctl step ID signal web STOP\n"
	"LINE may be one argument or several; an argument with spaces is quoted for you.\n"
	"Exit: 0 the step ran (an expect held), 1 it failed, 2 a bad line or no such lab.\n";

static const char expect_usage[] =
	"usage: labctl expect ID EXPECTATION...\n"
	"\n"
	"Check one expectation on a lab started with `labctl up`, with the lab file's syntax\n"
	"after the word expect, e.g.\n"
	"  labctl expect ID server CLOSE_WAIT port 9000 count 3 within 1s\n"
	"  labctl expect ID program web exited code 0 within 5s\n"
	"Exit: 0 it held, 1 it did not (what was seen instead is printed), 2 a bad line.\n";

/* The arguments as one lab line: a single argument is the line itself; several are joined,
 * quoting those the lexer would split or cut (spaces, '#', '&', quotes). */
static int join_line(int argc, char **argv, char *out, size_t len)
{
	size_t off = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool q = argc > 1 && (!*a || strpbrk(a, " \t#&\"\\"));
		if (off + strlen(a) * 2 + 4 >= len)
			return -1;
		if (i)
			out[off++] = ' ';
		if (q)
			out[off++] = '"';
		for (; *a; a++) {
			if (q && (*a == '"' || *a == '\\'))
				out[off++] = '\\';
			out[off++] = *a;
		}
		if (q)
			out[off++] = '"';
	}
	out[off] = '\0';
	return 0;
}

static int line_cmd(int argc, char **argv, int kind, const char *usage, const char *name)
{
	if (cmd_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return LC_EXIT_PASS;
	}
	if (argc < 3) {
		fputs(usage, stderr);
		return LC_EXIT_USAGE;
	}
	struct lc_err e = {0};
	struct reg_entry reg;
	if (reg_read(argv[1], &reg, &e) < 0) {
		fprintf(stderr, "labctl %s: %s\n", name, e.msg);
		return LC_EXIT_USAGE;
	}
	int status = LC_EXIT_USAGE;
	struct run_ctl_line *req = calloc(1, sizeof(*req));
	struct run_ctl_line_rep *rep = calloc(1, sizeof(*rep));
	if (!req || !rep)
		goto out;
	if (!reg_alive(&reg)) {
		fprintf(stderr, "labctl %s: lab %s's supervisor is gone (labctl down removes it)\n",
			name, reg.id);
		goto out;
	}
	req->magic = RUN_CTL_MAGIC_LINE;
	req->kind = kind;
	if (join_line(argc - 2, argv + 2, req->text, sizeof(req->text)) < 0) {
		fprintf(stderr, "labctl %s: the line is too long\n", name);
		goto out;
	}
	if (run_ctl_line_call(reg.id, req, rep, &e) < 0) {
		fprintf(stderr, "labctl %s: %s\n", name, e.msg);
		goto out;
	}
	status = rep->status;
	if (status == LC_EXIT_USAGE)
		fprintf(stderr, "labctl %s: %s\n", name, rep->out);
	else
		fputs(rep->out, stdout);
out:
	free(req);
	free(rep);
	reg_entry_clear(&reg);
	return status;
}

int cmd_step(int argc, char **argv)
{
	return line_cmd(argc, argv, RUN_LINE_STEP, step_usage, "step");
}

int cmd_expect(int argc, char **argv)
{
	return line_cmd(argc, argv, RUN_LINE_EXPECT, expect_usage, "expect");
}

/* labctl impair ID A B IMPAIR... | ID A>B IMPAIR... | ID A B clear
 *
 * Changes a link of a lab kept by `labctl up`.  The arguments are parsed as an `impair` step
 * appended to the lab's own file, so they are validated exactly as in a lab (same keys, same
 * messages, suggestions for host names), then sent to the supervisor, which applies them
 * through its engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "base/err.h"
#include "lab/lab.h"
#include "run/registry.h"
#include "run/run.h"

static const char impair_usage[] =
	"usage: labctl impair ID A B IMPAIR...     both directions of the link A-B\n"
	"       labctl impair ID A>B IMPAIR...     one direction\n"
	"       labctl impair ID A B clear         remove every impairment\n"
	"\n"
	"Change a link of a lab started with `labctl up`, e.g. a partition and its healing:\n"
	"  labctl impair ID client server loss 100%\n"
	"  labctl impair ID client server clear\n"
	"IMPAIR takes the lab file's keys: delay jitter delay-corr distribution loss loss-corr\n"
	"duplicate reorder gap corrupt rate limit (see docs/lab-format.md).\n";

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t k;
	while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += k;
		if (cap - n < 2) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

int cmd_impair(int argc, char **argv)
{
	if (cmd_wants_help(argc, argv)) {
		fputs(impair_usage, stdout);
		return LC_EXIT_PASS;
	}
	if (argc < 4) {
		fputs(impair_usage, stderr);
		return LC_EXIT_USAGE;
	}
	struct lc_err e = {0};
	struct reg_entry reg;
	if (reg_read(argv[1], &reg, &e) < 0) {
		fprintf(stderr, "labctl impair: %s\n", e.msg);
		return LC_EXIT_USAGE;
	}
	int status = LC_EXIT_USAGE;
	struct lab *lab = NULL;
	char *text = read_all(reg.lab), *joined = NULL;
	if (!text) {
		fprintf(stderr, "labctl impair: cannot read the lab's file %s: %s\n", reg.lab,
			strerror(errno));
		goto out;
	}
	size_t len = strlen(text) + 16;
	for (int i = 2; i < argc; i++)
		len += strlen(argv[i]) + 1;
	joined = malloc(len);
	if (!joined)
		goto out;
	int n = snprintf(joined, len, "%s\nimpair", text);
	for (int i = 2; i < argc; i++)
		n += snprintf(joined + n, len - (size_t)n, " %s", argv[i]);
	int argline = 1;
	for (const char *c = joined; *c; c++)
		argline += *c == '\n';
	char *all = NULL;
	if (lab_parse_string_errs(reg.lab, joined, &lab, &e, &all) < 0) {
		/* Errors on the appended line are about the arguments, not the lab file. */
		char prefix[600];
		int pl = snprintf(prefix, sizeof(prefix), "%s:%d:", reg.lab, argline);
		for (char *line = all ? all : e.msg, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (!strncmp(line, prefix, (size_t)pl)) {
				const char *msg = strstr(line + pl, ": ");
				fprintf(stderr, "labctl impair: %s\n", msg ? msg + 2 : line);
			} else {
				fprintf(stderr, "%s\n", line);
			}
		}
		free(all);
		goto out;
	}
	const struct lab_step *st = lab->nsteps ? &lab->steps[lab->nsteps - 1] : NULL;
	if (!st || st->op != LAB_OP_IMPAIR) {
		fprintf(stderr, "labctl impair: could not read the arguments as an impairment\n");
		goto out;
	}
	if (!reg_alive(&reg)) {
		fprintf(stderr, "labctl impair: lab %s's supervisor is gone (labctl down removes it)\n",
			reg.id);
		goto out;
	}
	struct run_ctl_req req = {.magic = RUN_CTL_MAGIC, .link = st->u.impair.link,
				  .dir_only = st->u.impair.dir_only, .dir = st->u.impair.dir};
	memcpy(req.imp, st->u.impair.imp, sizeof(req.imp));
	struct run_ctl_rep rep;
	if (run_ctl_call(reg.id, &req, &rep, &e) < 0) {
		fprintf(stderr, "labctl impair: %s\n", e.msg);
		goto out;
	}
	if (rep.rc < 0) {
		fprintf(stderr, "labctl impair: %s\n", rep.msg);
		goto out;
	}
	printf("%s: %s\n", reg.id, rep.msg);
	status = LC_EXIT_PASS;
out:
	lab_free(lab);
	free(joined);
	free(text);
	reg_entry_clear(&reg);
	return status;
}

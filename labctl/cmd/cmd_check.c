/* labctl check FILE...: parse and validate lab files.  No root, no kernel: only the parser. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmds.h"
#include "base/err.h"
#include "base/paths.h"
#include "lab/lab.h"

static void check_usage(FILE *f)
{
	fprintf(f,
		"usage: labctl check [--quiet] FILE...\n"
		"\n"
		"Parse and validate lab files (grammar: docs/lab-format.md).  Every error is\n"
		"printed to stderr as FILE:LINE:COL: message.  Needs no root.\n"
		"\n"
		"  -q, --quiet   print nothing for files that are fine\n"
		"  -h, --help    this text\n"
		"\n"
		"Exit codes: 0 every file is fine, 2 a file has errors (or cannot be read).\n");
}

/* An argument as a reader would type it: bare when it is plain, else in single quotes. */
static void print_arg(const char *a)
{
	bool plain = *a != '\0';
	for (const char *c = a; *c; c++)
		plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			 (*c >= '0' && *c <= '9') || strchr("-_./:=@%+,", *c);
	if (plain) {
		fputs(a, stdout);
		return;
	}
	putchar('\'');
	for (const char *c = a; *c; c++)
		fputs(*c == '\'' ? "'\\''" : (char[]){*c, 0}, stdout);
	putchar('\'');
}

/* A lab is a document that runs commands: show every one, and as whom. */
static void print_programs(const struct lab *lab)
{
	printf("  runs %d program%s, as the user who invokes labctl (SUDO_UID under sudo, "
	       "else nobody):\n", lab->nprogs, lab->nprogs == 1 ? "" : "s");
	for (int k = 0; k < lab->nprogs; k++) {
		const struct lab_prog *g = &lab->progs[k];
		printf("    line %-4d %-10s %-5s %-12s ", g->pos.line, lab->hosts[g->host].name,
		       g->background ? "start" : "run", g->name);
		for (int a = 0; a < g->argc; a++) {
			if (a)
				putchar(' ');
			print_arg(g->argv[a]);
		}
		for (int v = 0; v < g->nenv; v++) {
			fputs(v ? " " : "   (env ", stdout);
			print_arg(g->env[v]);
			if (v == g->nenv - 1)
				putchar(')');
		}
		if (g->shell)
			fputs("   [through a shell: the step says shell]", stdout);
		if (g->as_root)
			fputs("   [as root: only with --allow-root]", stdout);
		putchar('\n');
	}
}

int cmd_check(int argc, char **argv)
{
	bool quiet = false;
	int nfiles = 0, bad = 0;
	if (cmd_wants_help(argc, argv)) {
		check_usage(stdout);
		return LC_EXIT_PASS;
	}
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			quiet = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "labctl check: unknown option \"%s\"\n", argv[i]);
			check_usage(stderr);
			return LC_EXIT_USAGE;
		} else {
			break;
		}
	}
	for (; i < argc; i++) {
		struct lc_err e = {0};
		struct lab *lab = NULL;
		char *all = NULL;
		char file[PATH_MAX];  /* a catalogue lab by name, as for run */
		nfiles++;
		paths_lab_resolve(argv[i], file, sizeof(file));
		if (lab_parse_file_errs(file, &lab, &e, &all) < 0) {
			fprintf(stderr, "%s\n", all ? all : e.msg);
			free(all);
			bad++;
			continue;
		}
		if (!quiet)
			printf("%s: ok (%d hosts, %d links, %d steps)\n", file, lab->nhosts,
			       lab->nlinks, lab->nsteps);
		if (!quiet && lab->nprogs)
			print_programs(lab);
		lab_free(lab);
	}
	if (!nfiles) {
		fprintf(stderr, "labctl check: no lab files given\n");
		check_usage(stderr);
		return LC_EXIT_USAGE;
	}
	return bad ? LC_EXIT_USAGE : LC_EXIT_PASS;
}

/* labctl: build TCP labs in network namespaces, drive them, verify socket states. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/version.h"
#include "base/err.h"
#include "run/registry.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	bool notes_dead;  /* mention labs whose supervisor died (ls and down show them anyway) */
};

static const struct cmd cmds[] = {
	{"run", cmd_run, "build a lab, run its steps, check its expectations, tear it down", true},
	{"check", cmd_check, "validate lab files (no root needed)", false},
	{"up", cmd_up, "build a lab and keep it running under a supervisor", true},
	{"down", cmd_down, "tear down a lab started with up (or left by a dead supervisor)", false},
	{"ls", cmd_ls, "list running labs", false},
	{"exec", cmd_exec, "run a command inside a host of a running lab", true},
	{"ss", cmd_ss, "list TCP sockets of a lab host or any namespace (sock_diag)", true},
	{"watch", cmd_watch, "print socket state transitions live", true},
	{"ladder", cmd_ladder, "draw a pcap's TCP exchange as a ladder diagram", false},
	{"impair", cmd_impair, "change a link's impairments on a running lab", true},
	{"step", cmd_step, "run one step line (agent, program, impair) on a running lab", true},
	{"expect", cmd_expect, "check one expectation on a running lab (exit 0 or 1)", true},
	{"doctor", cmd_doctor, "check that this machine can run labs, and what to install", false},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: labctl COMMAND [ARGS...]   (labctl COMMAND --help for more)\n"
		"       labctl --version\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nA LAB is a file, or the name of a catalogue lab (labctl run handshake).\n"
		"Man pages: labctl(1), labctl-lab(5); labctl doctor checks this machine.\n");
	fprintf(f, "\nExit codes: 0 pass, 1 an expectation failed, 2 bad input or environment.\n");
}

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? LC_EXIT_USAGE : LC_EXIT_PASS;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("labctl %s\n", labctl_version);
		return LC_EXIT_PASS;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			if (cmds[i].notes_dead && !cmd_wants_help(argc - 1, argv + 1))
				reg_warn_dead(stderr);
			return cmds[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "labctl: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return LC_EXIT_USAGE;
}

/* Subcommands whose modules have not landed yet.  Each owner deletes its stub from here when
 * its cmd_NAME.c lands. */
#include <stdio.h>

#include "cmds.h"
#include "err.h"

#define STUB(name)                                                                  \
	int cmd_##name(int argc, char **argv)                                       \
	{                                                                           \
		(void)argc;                                                         \
		fprintf(stderr, "labctl %s: not built yet\n", argv[0]);             \
		return LC_EXIT_USAGE;                                               \
	}

STUB(ladder)

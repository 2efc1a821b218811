/* ssargs: the socket-selection arguments shared by `labctl ss` and `labctl watch`:
 *   ID HOST | --netns NAME,  STATE...,  port N (repeatable),  addr A[/LEN] (repeatable),
 *   -4 | -6.
 * Parsing fills a diag_filter and the namespace name; other options are left to the command
 * (their indexes are returned in rest[]). */
#ifndef LABCTL_SSARGS_H
#define LABCTL_SSARGS_H

#include "kernel/diag.h"

struct ss_args {
	char netns[256];            /* name under /run/netns */
	struct diag_filter filter;
	int rest[64];               /* argv indexes of options the command must handle */
	int nrest;
};

/* Returns 0 or a negative errno with e filled.  `with_value` lists options (other than the
 * shared ones) that take a value, e.g. {"--interval", NULL}. */
int ss_args_parse(int argc, char **argv, const char *const *with_value, struct ss_args *a,
		  struct lc_err *e);

/* Open /run/netns/NAME (a name, not a path). */
int ss_open_netns(const char *name, int *fd, struct lc_err *e);

#endif

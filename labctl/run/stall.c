#include "run/stall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void stall_point(const char *phase)
{
	const char *v = getenv("LABCTL_TEST_STALL");
	size_t n = strlen(phase);
	if (!v || strncmp(v, phase, n) != 0 || v[n] != ':')
		return;
	long ms = strtol(v + n + 1, NULL, 10);
	fprintf(stderr, "labctl: stall %s\n", phase);
	fflush(stderr);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* The clocks labctl and the agents read: monotonic for intervals and timeline order,
 * realtime only for printing wall-clock times. */
#ifndef LABCTL_CLOCK_H
#define LABCTL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static inline double mono_s(void)
{
	return (double)mono_ns() / 1e9;
}

#endif

/* hash: the 64-bit finaliser of MurmurHash3 (fmix64), for the open-addressing maps that key
 * connections by socket cookie (observe/timeline.c, observe/evfeed.c). */
#ifndef LABCTL_HASH_H
#define LABCTL_HASH_H

#include <stdint.h>

static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif

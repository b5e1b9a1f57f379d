/*
 * hash.h - the one integer mixer the hash tables share (the finaliser of
 * MurmurHash3): cheap, and it spreads sequential inodes, ports and
 * addresses over all the bits.
 */
#ifndef TCPSTATE_HASH_H
#define TCPSTATE_HASH_H

#include <stdint.h>

static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif

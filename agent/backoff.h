/* backoff: capped exponential backoff with full jitter (the one retry
 * policy every stream and sink uses). The n-th delay is uniform in
 * [floor, min(max, base * 2^n)], where floor is a tenth of base, so that a
 * run of failures never turns into a hot loop. */
#ifndef SINCH_BACKOFF_H
#define SINCH_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint64_t base_ms;
	uint64_t max_ms;
	unsigned attempt;
};

void backoff_init(struct backoff *b, uint64_t base_ms, uint64_t max_ms);
/* The delay before the next attempt; counts the attempt. */
uint64_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);
/* Uniform random integer in [lo, hi], from a per-process seeded PRNG. */
uint64_t backoff_rand(uint64_t lo, uint64_t hi);

#endif

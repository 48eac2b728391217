#include "backoff.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void backoff_init(struct backoff *b, uint64_t base_ms, uint64_t max_ms)
{
	b->base_ms = base_ms ? base_ms : 1;
	b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
	b->attempt = 0;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	if (!rng_state) {
		if (getrandom(&rng_state, sizeof(rng_state), GRND_NONBLOCK) != sizeof(rng_state))
			rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		rng_state |= 1;
	}
	/* xorshift64*: jitter needs spread, not cryptographic strength. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

uint64_t backoff_rand(uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + rng_next() % (hi - lo + 1);
}

uint64_t backoff_next(struct backoff *b)
{
	uint64_t cap = b->base_ms;
	for (unsigned i = 0; i < b->attempt && cap < b->max_ms; i++)
		cap *= 2;
	if (cap > b->max_ms)
		cap = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	return backoff_rand(b->base_ms / 10, cap);
}

/* idset: membership, the hard maximum, pruning by start time (which must keep
 * every surviving probe run intact), eviction of the oldest, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "err.h"
#include "idset.h"

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static int64_t start_of(const struct idset *s, uint64_t hash)
{
	size_t it = 0;
	uint64_t h;
	int64_t t;
	while (idset_next(s, &it, &h, &t))
		if (h == hash)
			return t;
	return INT64_MIN;
}

static void test_add_has(void **state)
{
	(void)state;
	struct idset s;
	idset_init(&s, 100);
	assert_false(idset_has(&s, 42));
	assert_int_equal(idset_add(&s, 42, 1000), 0);
	assert_int_equal(idset_add(&s, 0, 5), 0);
	assert_int_equal(idset_add(&s, UINT64_MAX, -7), 0);
	assert_true(idset_has(&s, 42));
	assert_true(idset_has(&s, 0));
	assert_true(idset_has(&s, UINT64_MAX));
	assert_false(idset_has(&s, 43));
	assert_int_equal(idset_len(&s), 3);
	/* Seen again: present, and its start moves to the later time only. */
	assert_int_equal(idset_add(&s, 42, 2000), 1);
	assert_int_equal(start_of(&s, 42), 2000);
	assert_int_equal(idset_add(&s, 42, 1500), 1);
	assert_int_equal(start_of(&s, 42), 2000);
	assert_int_equal(idset_len(&s), 3);
	assert_int_equal(idset_add(&s, 7, INT64_MIN), LG_EINVAL);
	assert_false(idset_has(&s, 7));
	idset_clear(&s);
	assert_int_equal(idset_len(&s), 0);
	assert_false(idset_has(&s, 42));
	idset_free(&s);
}

static void test_max(void **state)
{
	(void)state;
	struct idset s;
	idset_init(&s, 100);
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(idset_add(&s, i * 7919, (int64_t)i), 0);
	assert_int_equal(idset_add(&s, 1, 1), LG_ETOOBIG);
	assert_false(idset_has(&s, 1));
	/* A known id is still accepted on a full set. */
	assert_int_equal(idset_add(&s, 7919, 500), 1);
	assert_int_equal(idset_prune(&s, 10), 9);
	assert_int_equal(idset_add(&s, 1, 1), 0);
	idset_free(&s);

	idset_init(&s, 0);
	assert_int_equal(idset_add(&s, 1, 1), LG_ETOOBIG);
	assert_int_equal(idset_prune(&s, 100), 0);
	assert_int_equal(idset_evict_oldest(&s, 5), 0);
	idset_free(&s);
}

static void test_prune(void **state)
{
	(void)state;
	struct idset s;
	idset_init(&s, 10000);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(idset_add(&s, i, (int64_t)i), 0);
	assert_int_equal(idset_prune(&s, 500), 500);
	assert_int_equal(idset_len(&s), 500);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(idset_has(&s, i), i >= 500);
	assert_int_equal(idset_prune(&s, 500), 0);
	assert_int_equal(idset_prune(&s, INT64_MAX), 500);
	assert_int_equal(idset_len(&s), 0);
	assert_int_equal(idset_add(&s, 3, 3), 0);
	assert_true(idset_has(&s, 3));
	idset_free(&s);
}

/* At the maximum load (3/4) long probe runs are certain; removing random
 * members from the middle of runs must leave every survivor reachable and
 * every removed id gone. Hashes that differ only in their high bits mimic
 * a weak hash. */
static void test_collisions(void **state)
{
	(void)state;
	enum { N = 768 }; /* exactly 3/4 of 1024 slots */
	static uint64_t hash[N];
	static int64_t start[N];
	static unsigned char in[N];
	struct idset s;
	idset_init(&s, N);
	for (size_t i = 0; i < N; i++) {
		hash[i] = (i % 2) ? (uint64_t)i << 40 : rng();
		start[i] = (int64_t)(rng() % 1000);
		assert_int_equal(idset_add(&s, hash[i], start[i]), 0);
		in[i] = 1;
	}
	assert_int_equal(s.cap, 1024);
	for (int round = 0; round < 50; round++) {
		int64_t cut = (int64_t)(rng() % 100) + round * 20;
		size_t expect = 0;
		for (size_t i = 0; i < N; i++)
			if (in[i] && start[i] < cut) {
				in[i] = 0;
				expect++;
			}
		assert_int_equal(idset_prune(&s, cut), expect);
		for (size_t i = 0; i < N; i++)
			assert_int_equal(idset_has(&s, hash[i]), in[i]);
		/* Refill the removed ones with later start times. */
		for (size_t i = 0; i < N; i++)
			if (!in[i] && rng() % 2) {
				start[i] = cut + (int64_t)(rng() % 1000);
				assert_int_equal(idset_add(&s, hash[i], start[i]), 0);
				in[i] = 1;
			}
		size_t len = 0;
		for (size_t i = 0; i < N; i++)
			len += in[i];
		assert_int_equal(idset_len(&s), len);
	}
	idset_free(&s);
}

static void test_evict_oldest(void **state)
{
	(void)state;
	struct idset s;
	idset_init(&s, 5000);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(idset_add(&s, i, 1700000000000 + (int64_t)i * 37), 0);
	assert_int_equal(idset_evict_oldest(&s, 100), 100);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(idset_has(&s, i), i >= 100);
	idset_clear(&s);

	/* Ten ids per millisecond: the cutoff millisecond goes whole. */
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(idset_add(&s, i, (int64_t)(i / 10)), 0);
	assert_int_equal(idset_evict_oldest(&s, 15), 20);
	assert_false(idset_has(&s, 19));
	assert_true(idset_has(&s, 20));
	idset_clear(&s);

	/* The widest possible range must not overflow. */
	assert_int_equal(idset_add(&s, 1, INT64_MIN + 1), 0);
	assert_int_equal(idset_add(&s, 2, -5), 0);
	assert_int_equal(idset_add(&s, 3, 0), 0);
	assert_int_equal(idset_add(&s, 4, INT64_MAX - 1), 0);
	assert_int_equal(idset_add(&s, 5, INT64_MAX), 0);
	assert_int_equal(idset_add(&s, 6, INT64_MAX), 0);
	assert_int_equal(idset_evict_oldest(&s, 2), 2);
	assert_false(idset_has(&s, 1));
	assert_false(idset_has(&s, 2));
	assert_true(idset_has(&s, 3));
	assert_int_equal(idset_evict_oldest(&s, 2), 2);
	assert_true(idset_has(&s, 5));
	assert_int_equal(idset_evict_oldest(&s, 1), 2);
	assert_int_equal(idset_len(&s), 0);

	assert_int_equal(idset_add(&s, 9, 9), 0);
	assert_int_equal(idset_evict_oldest(&s, 50), 1);
	assert_int_equal(idset_evict_oldest(&s, 0), 0);
	idset_free(&s);
}

static void test_iterate_and_shrink(void **state)
{
	(void)state;
	enum { N = 20000 };
	static unsigned char seen[N];
	struct idset s;
	idset_init(&s, N);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(idset_add(&s, i * 0x9e3779b97f4a7c15ULL, (int64_t)i), 0);
	size_t it = 0, count = 0;
	uint64_t h;
	int64_t t;
	while (idset_next(&s, &it, &h, &t)) {
		assert_true(t >= 0 && t < N);
		assert_int_equal(h, (uint64_t)t * 0x9e3779b97f4a7c15ULL);
		assert_false(seen[t]);
		seen[t] = 1;
		count++;
	}
	assert_int_equal(count, N);
	size_t big = s.cap;
	assert_int_equal(idset_prune(&s, N - 10), N - 10);
	assert_true(s.cap < big / 4);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(idset_has(&s, i * 0x9e3779b97f4a7c15ULL), i >= N - 10);
	idset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_has),      cmocka_unit_test(test_max),
	    cmocka_unit_test(test_prune),        cmocka_unit_test(test_collisions),
	    cmocka_unit_test(test_evict_oldest), cmocka_unit_test(test_iterate_and_shrink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

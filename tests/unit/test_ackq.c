/* ackq: acknowledgements in any order advance exactly the contiguous done
 * prefix, in arrival order; the ring wraps, grows to its hard maximum and
 * refuses past it; bad sequence numbers are errors, not crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ackq.h"
#include "ckpt.h"
#include "err.h"

/* xorshift64*: a fixed, portable sequence so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

struct popped {
	int64_t starts[4096];
	uint64_t hashes[4096];
	size_t n;
	struct ckpt *ckpt;
};

static void on_pop(void *ud, int64_t start_ms, uint64_t id_hash)
{
	struct popped *p = ud;
	assert_true(p->n < 4096);
	p->starts[p->n] = start_ms;
	p->hashes[p->n] = id_hash;
	p->n++;
	if (p->ckpt)
		ckpt_advance_cb(p->ckpt, start_ms, id_hash);
}

static void test_basic_order(void **state)
{
	(void)state;
	struct ackq q;
	ackq_init(&q, 16);
	struct popped p = {.n = 0};
	uint64_t s1, s2, s3;
	assert_int_equal(ackq_next_seq(&q), 1);
	assert_int_equal(ackq_push(&q, 100, 0xa, 5000, &s1), 0);
	assert_int_equal(ackq_push(&q, 90, 0xb, 5001, &s2), 0);
	assert_int_equal(ackq_push(&q, 120, 0xc, 5002, &s3), 0);
	assert_int_equal(s1, 1);
	assert_int_equal(s2, 2);
	assert_int_equal(s3, 3);
	assert_int_equal(ackq_len(&q), 3);

	assert_int_equal(ackq_done(&q, s2), 0);
	assert_int_equal(ackq_advance(&q, on_pop, &p), 0);
	assert_int_equal(ackq_oldest(&q)->arrival_ms, 5000);

	assert_int_equal(ackq_done(&q, s1), 0);
	assert_int_equal(ackq_advance(&q, on_pop, &p), 2);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.starts[0], 100);
	assert_int_equal(p.hashes[0], 0xa);
	assert_int_equal(p.starts[1], 90);
	assert_int_equal(p.hashes[1], 0xb);
	assert_int_equal(ackq_len(&q), 1);
	assert_int_equal(ackq_oldest(&q)->start_ms, 120);
	assert_int_equal(ackq_oldest(&q)->arrival_ms, 5002);

	assert_int_equal(ackq_done(&q, s3), 0);
	assert_int_equal(ackq_advance(&q, NULL, NULL), 1);
	assert_int_equal(ackq_len(&q), 0);
	assert_null(ackq_oldest(&q));
	assert_int_equal(ackq_next_seq(&q), 4);
	ackq_free(&q);
}

/* Records arrive in completion order (start times jump back and forth) and
 * are acknowledged in a random order; after every acknowledgement the queue
 * must have popped exactly the done prefix, and the checkpoint fed by it
 * must hold the running maximum of the popped start times. */
static void test_random_permutations(void **state)
{
	(void)state;
	enum { N = 3000 };
	static int64_t start[N];
	static uint64_t seq[N];
	static size_t order[N];
	static unsigned char done[N];
	for (int round = 0; round < 20; round++) {
		struct ackq q;
		struct ckpt c;
		ackq_init(&q, N);
		ckpt_init(&c, 60000, N);
		struct popped p = {.n = 0, .ckpt = &c};
		int64_t base = 1700000000000;
		for (size_t i = 0; i < N; i++) {
			start[i] = base + (int64_t)i * 10 - (int64_t)(rng() % 5000);
			assert_int_equal(ackq_push(&q, start[i], 1000 + i, i, &seq[i]), 0);
			order[i] = i;
			done[i] = 0;
		}
		for (size_t i = N - 1; i > 0; i--) {
			size_t j = rng() % (i + 1);
			size_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		size_t prefix = 0, popped_total = 0;
		int64_t running_max = INT64_MIN;
		for (size_t k = 0; k < N; k++) {
			size_t i = order[k];
			assert_int_equal(ackq_done(&q, seq[i]), 0);
			done[i] = 1;
			p.n = 0;
			size_t n = ackq_advance(&q, on_pop, &p);
			assert_int_equal(n, p.n);
			while (prefix < N && done[prefix])
				prefix++;
			for (size_t m = 0; m < n; m++) {
				assert_int_equal(p.starts[m], start[popped_total + m]);
				assert_int_equal(p.hashes[m], 1000 + popped_total + m);
				if (start[popped_total + m] > running_max)
					running_max = start[popped_total + m];
			}
			popped_total += n;
			assert_int_equal(popped_total, prefix);
			assert_int_equal(ackq_len(&q), N - prefix);
			assert_true(c.since_ms == running_max);
			if (prefix < N)
				assert_int_equal(ackq_oldest(&q)->start_ms, start[prefix]);
		}
		assert_int_equal(popped_total, N);
		ckpt_free(&c);
		ackq_free(&q);
	}
}

static void test_wraparound(void **state)
{
	(void)state;
	struct ackq q;
	ackq_init(&q, 64);
	struct popped p = {.n = 0};
	uint64_t seq, first = 0;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(ackq_push(&q, i, (uint64_t)i, 0, &seq), 0);
		if (i == 0)
			first = seq;
	}
	for (uint64_t s = first; s < first + 40; s++)
		assert_int_equal(ackq_done(&q, s), 0);
	assert_int_equal(ackq_advance(&q, on_pop, &p), 40);
	/* 10 left at ring slots 40..49; 54 more fill 50..63 and wrap to 0..39. */
	for (int i = 50; i < 104; i++)
		assert_int_equal(ackq_push(&q, i, (uint64_t)i, 0, &seq), 0);
	assert_int_equal(q.cap, 64);
	assert_int_equal(ackq_len(&q), 64);
	assert_int_equal(ackq_push(&q, 0, 0, 0, &seq), LG_ETOOBIG);
	for (uint64_t s = first + 103; s >= first + 40; s--)
		assert_int_equal(ackq_done(&q, s), 0);
	p.n = 0;
	assert_int_equal(ackq_advance(&q, on_pop, &p), 64);
	for (size_t m = 0; m < 64; m++)
		assert_int_equal(p.starts[m], 40 + (int64_t)m);
	ackq_free(&q);
}

/* The ring grows by doubling while entries are pending, unwrapping a
 * wrapped ring, and stops exactly at the hard maximum. */
static void test_growth_to_max(void **state)
{
	(void)state;
	enum { MAX = 1000 };
	struct ackq q;
	ackq_init(&q, MAX);
	struct popped p = {.n = 0};
	uint64_t seq;
	for (int i = 0; i < 40; i++)
		assert_int_equal(ackq_push(&q, i, (uint64_t)i, 0, &seq), 0);
	for (uint64_t s = 1; s <= 30; s++)
		assert_int_equal(ackq_done(&q, s), 0);
	assert_int_equal(ackq_advance(&q, NULL, NULL), 30);
	/* head is at slot 30 of 64: the next pushes wrap, then force growth. */
	for (int i = 40; i < 30 + MAX; i++)
		assert_int_equal(ackq_push(&q, i, (uint64_t)i, 0, &seq), 0);
	assert_int_equal(ackq_len(&q), MAX);
	assert_true(q.cap <= MAX);
	assert_int_equal(ackq_push(&q, -1, 0, 0, &seq), LG_ETOOBIG);
	assert_int_equal(ackq_len(&q), MAX);
	assert_int_equal(ackq_done(&q, 31), 0);
	assert_int_equal(ackq_advance(&q, on_pop, &p), 1);
	assert_int_equal(ackq_push(&q, 30 + MAX, 0, 0, &seq), 0);
	assert_int_equal(seq, 31 + MAX);
	for (uint64_t s = 32; s <= seq; s++)
		assert_int_equal(ackq_done(&q, s), 0);
	p.n = 0;
	assert_int_equal(ackq_advance(&q, on_pop, &p), MAX);
	for (size_t m = 0; m < MAX; m++)
		assert_int_equal(p.starts[m], 31 + (int64_t)m);
	ackq_free(&q);
}

static void test_bad_seq(void **state)
{
	(void)state;
	struct ackq q;
	ackq_init(&q, 8);
	assert_int_equal(ackq_done(&q, 1), LG_ENOENT);
	assert_int_equal(ackq_done(&q, 0), LG_ENOENT);
	uint64_t a, b;
	assert_int_equal(ackq_push(&q, 1, 1, 0, &a), 0);
	assert_int_equal(ackq_push(&q, 2, 2, 0, &b), 0);
	assert_int_equal(ackq_done(&q, 0), LG_ENOENT);
	assert_int_equal(ackq_done(&q, b + 1), LG_ENOENT);
	assert_int_equal(ackq_done(&q, UINT64_MAX), LG_ENOENT);
	assert_int_equal(ackq_done(&q, b), 0);
	assert_int_equal(ackq_done(&q, b), LG_EINVAL);
	assert_int_equal(ackq_done(&q, a), 0);
	assert_int_equal(ackq_advance(&q, NULL, NULL), 2);
	assert_int_equal(ackq_done(&q, a), LG_ENOENT);
	assert_int_equal(ackq_done(&q, b), LG_ENOENT);
	ackq_free(&q);

	ackq_init(&q, 0);
	assert_int_equal(ackq_push(&q, 1, 1, 0, &a), LG_ETOOBIG);
	ackq_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_order), cmocka_unit_test(test_random_permutations),
	    cmocka_unit_test(test_wraparound),  cmocka_unit_test(test_growth_to_max),
	    cmocka_unit_test(test_bad_seq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ratelim: at most `limit` grants in any window; a waiter is called once a
 * slot frees, in FIFO order, never before; a cancelled waiter never; a
 * block (a 429's Retry-After) holds every grant back until it ends; closing
 * with waiters queued calls none of them and leaves nothing open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelim.h"

#define WINDOW 80

struct waiter {
	struct ratelim_wait w;
	int order;
};

static int granted_count;

static void on_grant(struct ratelim_wait *w)
{
	struct waiter *x = (struct waiter *)w;
	x->order = ++granted_count;
}

static uv_loop_t loop;
static struct ratelim rl;

static int setup(void **state)
{
	(void)state;
	granted_count = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(ratelim_init(&rl, &loop, 3, WINDOW), 0);
	/* The slack the limiter adds for the server is not under test. */
	rl.window_ms = WINDOW;
	return 0;
}

static void on_closed(struct ratelim *r)
{
	(void)r;
}

static int teardown(void **state)
{
	(void)state;
	ratelim_close(&rl, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void init_waiter(struct waiter *x)
{
	memset(x, 0, sizeof(*x));
	x->w.cb = on_grant;
}

static void test_limit_then_fifo(void **state)
{
	(void)state;
	struct waiter a, b, c;
	init_waiter(&a);
	init_waiter(&b);
	init_waiter(&c);
	uv_update_time(&loop);
	uint64_t t0 = uv_now(&loop);
	for (int i = 0; i < 3; i++)
		assert_true(ratelim_take(&rl, &a.w));
	assert_false(ratelim_take(&rl, &a.w));
	assert_false(ratelim_take(&rl, &b.w));
	assert_false(ratelim_take(&rl, &c.w));
	assert_true(ratelim_delay(&rl) > 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Each waited for a slot of the first three to leave the window. */
	assert_true(uv_now(&loop) - t0 >= WINDOW);
	assert_int_equal(a.order, 1);
	assert_int_equal(b.order, 2);
	assert_int_equal(c.order, 3);
	assert_int_equal(rl.stats.granted, 6);
	assert_int_equal(rl.stats.waited, 3);
	/* The window is full again: the next take waits. */
	assert_false(ratelim_take(&rl, &a.w));
	ratelim_cancel(&rl, &a.w);
	assert_false(a.w.queued);
}

static void test_cancelled_waiter_is_never_called(void **state)
{
	(void)state;
	struct waiter a, b;
	init_waiter(&a);
	init_waiter(&b);
	for (int i = 0; i < 3; i++)
		assert_true(ratelim_take(&rl, &a.w));
	assert_false(ratelim_take(&rl, &a.w));
	assert_false(ratelim_take(&rl, &b.w));
	ratelim_cancel(&rl, &a.w);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(a.order, 0);
	assert_int_equal(b.order, 1);
}

static void test_block_holds_grants_back(void **state)
{
	(void)state;
	struct waiter a;
	init_waiter(&a);
	uv_update_time(&loop);
	uint64_t t0 = uv_now(&loop);
	ratelim_block(&rl, 50);
	assert_false(ratelim_take(&rl, &a.w));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(a.order, 1);
	assert_true(uv_now(&loop) - t0 >= 50);
	assert_int_equal(rl.stats.blocked, 1);
	assert_true(ratelim_take(&rl, &a.w));
}

static void test_close_with_waiters(void **state)
{
	(void)state;
	struct waiter a;
	init_waiter(&a);
	for (int i = 0; i < 3; i++)
		assert_true(ratelim_take(&rl, &a.w));
	assert_false(ratelim_take(&rl, &a.w));
	/* teardown closes it with a queued; a is never called. */
	ratelim_close(&rl, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_false(a.w.queued);
	assert_int_equal(a.order, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	/* Teardown's own close: a fresh one to close. */
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(ratelim_init(&rl, &loop, 1, WINDOW), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_limit_then_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancelled_waiter_is_never_called, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_block_holds_grants_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_with_waiters, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sink_null and the registry: every record is acknowledged exactly once, in
 * order, never from inside submit; with ack_delay, no earlier than that after
 * its submit; flush waits for the acknowledgements up to its deadline; close
 * with records in flight acknowledges nothing more and leaves nothing open.
 * The registry finds each type by name and lists them all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink.h"

#define MAX_RECS 512

struct ctx {
	uv_loop_t loop;
	uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping forever */
	struct sink s;
	void *conf;
	struct conf_errs errs;
	struct record *recs[MAX_RECS];
	uint64_t submit_ms[MAX_RECS];
	size_t nrecs;
	uint64_t acked[MAX_RECS];
	uint64_t ack_ms[MAX_RECS];
	size_t nacked;
	bool in_submit;
	bool flushed, closed;
	size_t want;
	size_t resubmit; /* records to submit from inside on_ack */
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void submit_one(struct ctx *c);

static void on_ack(struct sink *s, struct record *r, int result, const char *reason)
{
	struct ctx *c = s->router_data;
	assert_false(c->in_submit);
	assert_int_equal(result, 0);
	assert_null(reason);
	assert_int_equal(r->pending, 0); /* exactly once */
	r->pending = 1;
	assert_true(c->nacked < MAX_RECS);
	c->ack_ms[c->nacked] = uv_now(&c->loop);
	c->acked[c->nacked++] = r->seq;
	if (c->resubmit) {
		c->resubmit--;
		submit_one(c);
	}
}

/* Sets option `name` (a duration) through the type's own table. */
static void set_duration(struct ctx *c, const char *name, uint64_t ms)
{
	for (const struct opt_def *o = c->s.type->opts; o->name; o++) {
		if (strcmp(o->name, name) == 0) {
			assert_int_equal(o->type, OPT_DURATION);
			memcpy((char *)c->conf + o->offset, &ms, sizeof(ms));
			return;
		}
	}
	fail_msg("no option %s", name);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	uv_timer_init(&c->loop, &c->tick);
	uv_timer_start(&c->tick, on_tick, 5, 5);
	c->s.type = sink_type_find("null");
	assert_non_null(c->s.type);
	c->conf = calloc(1, c->s.type->conf_size);
	assert_non_null(c->conf);
	set_duration(c, "ack_delay", 0);
	c->s.name = "bench";
	c->s.who = "sink bench";
	c->s.loop = &c->loop;
	c->s.conf = c->conf;
	c->s.file = "test.conf";
	c->s.line = 3;
	c->s.on_ack = on_ack;
	c->s.router_data = c;
	conf_errs_init(&c->errs);
	*state = c;
	return 0;
}

static void on_closed(struct sink *s)
{
	struct ctx *c = s->router_data;
	c->closed = true;
}

static void on_flushed(struct sink *s)
{
	struct ctx *c = s->router_data;
	c->flushed = true;
}

static bool run_until(struct ctx *c, bool (*pred)(struct ctx *), uint64_t ms)
{
	uv_update_time(&c->loop);
	uint64_t end = uv_now(&c->loop) + ms;
	while (!pred(c) && uv_now(&c->loop) < end)
		uv_run(&c->loop, UV_RUN_ONCE);
	return pred(c);
}

static bool p_closed(struct ctx *c)
{
	return c->closed;
}

static bool p_flushed(struct ctx *c)
{
	return c->flushed;
}

static bool p_acked(struct ctx *c)
{
	return c->nacked >= c->want;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	if (c->s.priv) {
		c->s.type->close(&c->s, on_closed);
		assert_true(run_until(c, p_closed, 5000));
	}
	assert_null(c->s.priv);
	uv_close((uv_handle_t *)&c->tick, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	for (size_t i = 0; i < c->nrecs; i++)
		record_unref(c->recs[i]);
	conf_errs_free(&c->errs);
	free(c->conf);
	free(c);
	return 0;
}

static void open_sink(struct ctx *c)
{
	assert_int_equal(c->s.type->open(&c->s, &c->errs), 0);
	assert_int_equal(c->errs.count, 0);
}

static void submit_one(struct ctx *c)
{
	size_t i = c->nrecs;
	assert_true(i < MAX_RECS);
	char *json, *id;
	assert_true(asprintf(&json, "{\"seq\":%zu}", i) > 0);
	assert_true(asprintf(&id, "id-%zu", i) > 0);
	struct record *r = record_new(RECORD_REQUEST, id, json, strlen(json));
	assert_non_null(r);
	r->seq = i;
	c->recs[i] = r;
	c->nrecs++;
	c->submit_ms[i] = uv_now(&c->loop);
	bool nested = c->in_submit;
	c->in_submit = true;
	assert_int_equal(c->s.type->submit(&c->s, r), 0);
	c->in_submit = nested;
}

static void submit(struct ctx *c, size_t n)
{
	for (size_t k = 0; k < n; k++)
		submit_one(c);
}

static void assert_acked_in_order(struct ctx *c, size_t n)
{
	assert_int_equal(c->nacked, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c->acked[i], i);
}

static void test_registry(void **state)
{
	(void)state;
	const struct sink_type *file = sink_type_find("file");
	const struct sink_type *null = sink_type_find("null");
	assert_non_null(file);
	assert_non_null(null);
	assert_string_equal(file->name, "file");
	assert_string_equal(null->name, "null");
	assert_null(sink_type_find("nope"));
	assert_null(sink_type_find(""));
	size_t n = 0;
	for (const struct sink_type *const *t = sink_types(); *t; t++, n++) {
		assert_non_null((*t)->desc);
		assert_non_null((*t)->open);
		assert_non_null((*t)->submit);
		assert_non_null((*t)->flush);
		assert_non_null((*t)->close);
		assert_true((*t)->conf_size > 0);
		assert_ptr_equal(sink_type_find((*t)->name), *t);
		for (const struct opt_def *o = (*t)->opts; o && o->name; o++)
			assert_non_null(o->desc);
	}
	assert_int_equal(n, 5);
}

static void test_acks_after_submit_returns(void **state)
{
	struct ctx *c = *state;
	open_sink(c);
	submit(c, 100);
	assert_int_equal(c->nacked, 0);
	c->want = 100;
	assert_true(run_until(c, p_acked, 1000));
	assert_acked_in_order(c, 100);
	/* Submitting from on_ack is fine and is acknowledged in a later round. */
	c->resubmit = 20;
	submit(c, 1);
	c->want = 121;
	assert_true(run_until(c, p_acked, 1000));
	assert_acked_in_order(c, 121);
}

static void test_ack_delay(void **state)
{
	struct ctx *c = *state;
	set_duration(c, "ack_delay", 60);
	open_sink(c);
	uv_update_time(&c->loop);
	submit(c, 10);
	c->want = 10;
	assert_true(run_until(c, p_acked, 2000));
	for (size_t i = 0; i < 10; i++)
		assert_true(c->ack_ms[i] >= c->submit_ms[i] + 60);
	/* A second wave, staggered, each at its own time. */
	for (int k = 0; k < 5; k++) {
		submit(c, 2);
		uv_sleep(15);
		uv_update_time(&c->loop);
	}
	c->want = 20;
	assert_true(run_until(c, p_acked, 2000));
	assert_acked_in_order(c, 20);
	for (size_t i = 0; i < 20; i++)
		assert_true(c->ack_ms[i] >= c->submit_ms[i] + 60);
}

static void test_flush_waits_for_acks(void **state)
{
	struct ctx *c = *state;
	set_duration(c, "ack_delay", 100);
	open_sink(c);
	submit(c, 5);
	uv_update_time(&c->loop);
	c->s.type->flush(&c->s, uv_now(&c->loop) + 2000, on_flushed);
	assert_true(run_until(c, p_flushed, 3000));
	assert_acked_in_order(c, 5);
	/* Nothing queued: done comes from the loop, not from flush itself. */
	c->flushed = false;
	c->s.type->flush(&c->s, uv_now(&c->loop) + 2000, on_flushed);
	assert_false(c->flushed);
	assert_true(run_until(c, p_flushed, 100));
}

static void test_flush_deadline_then_close(void **state)
{
	struct ctx *c = *state;
	set_duration(c, "ack_delay", 5000);
	open_sink(c);
	submit(c, 8);
	uv_update_time(&c->loop);
	uint64_t start = uv_now(&c->loop);
	c->s.type->flush(&c->s, start + 80, on_flushed);
	assert_true(run_until(c, p_flushed, 2000));
	assert_true(uv_now(&c->loop) - start >= 80);
	assert_int_equal(c->nacked, 0);
	c->s.type->close(&c->s, on_closed);
	assert_int_equal(c->s.type->submit(&c->s, c->recs[0]), LG_ECLOSED);
	assert_true(run_until(c, p_closed, 1000));
	assert_int_equal(c->nacked, 0);
	/* check_only: nothing set up; close still answers. */
	c->closed = false;
	c->s.check_only = true;
	open_sink(c);
	assert_null(c->s.priv);
	c->s.type->close(&c->s, on_closed);
	assert_true(c->closed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test_setup_teardown(test_acks_after_submit_returns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_delay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_waits_for_acks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_deadline_then_close, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

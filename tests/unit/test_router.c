/* router: selection by match/min_level/kinds; a record is done when every
 * sink that took it acknowledged it; a rejected record goes to the sink's
 * dead-letter file once, with its reason, within the size cap; a sink at its
 * queue bounds stops intake for the functions it takes and on_drain fires
 * once it is back under three quarters; a sink replaced by a reload hands
 * what it did not acknowledge to its successor, a removed one releases it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "router.h"

/* A sink that holds what it gets until the test acknowledges it. */
struct held {
	struct record *recs[64];
	size_t n;
};

static struct held held_store[4];
static size_t held_next;

static int hold_open(struct sink *s, struct conf_errs *errs)
{
	(void)errs;
	s->priv = &held_store[held_next++];
	return 0;
}

static int hold_submit(struct sink *s, struct record *r)
{
	struct held *h = s->priv;
	assert_true(h->n < 64);
	h->recs[h->n++] = record_ref(r);
	return 0;
}

static void hold_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	(void)deadline;
	done(s);
}

static void hold_close(struct sink *s, sink_cb closed)
{
	struct held *h = s->priv;
	for (size_t i = 0; i < h->n; i++)
		record_unref(h->recs[i]);
	h->n = 0;
	closed(s);
}

static const struct sink_type hold_type = {
    "hold", "test sink", NULL, 0, hold_open, hold_submit, hold_flush, hold_close, NULL,
};

struct fixture {
	char dir[64];
	char conf_path[128];
	uv_loop_t loop;
	struct conf conf;
	struct conf_errs errs;
	struct router rt;
	struct record *done[64];
	size_t ndone;
	unsigned drains;
};

static void on_done(struct router *rt, struct record *r)
{
	struct fixture *f = rt->data;
	f->done[f->ndone++] = r;
}

static void on_drain(struct router *rt)
{
	struct fixture *f = rt->data;
	f->drains++;
}

static void on_null_closed(struct sink *s)
{
	(void)s;
}

/* Loads `text` as a config and makes the router with it. Its sinks are null
 * sinks, closed at once and given the holding type instead, so that the test
 * decides when each record is acknowledged. */
static void setup_router(struct fixture *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	memset(held_store, 0, sizeof(held_store));
	held_next = 0;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-router-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->conf_path, sizeof(f->conf_path), "%s/t.conf", f->dir);
	FILE *fp = fopen(f->conf_path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	uv_loop_init(&f->loop);
	conf_errs_init(&f->errs);
	assert_int_equal(conf_load(f->conf_path, &f->conf, &f->errs), 0);
	router_init(&f->rt, &f->loop);
	f->rt.data = f;
	f->rt.on_done = on_done;
	f->rt.on_drain = on_drain;
	int rc = router_add_sinks(&f->rt, &f->conf, f->dir, 1 << 20, false, &f->errs);
	if (rc)
		fprintf(stderr, "%s", f->errs.text.data);
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < f->rt.nsinks; i++) {
		struct sink *s = &f->rt.sinks[i]->sink;
		s->type->close(s, on_null_closed);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		opts_free(s->type->opts, s->conf);
		s->type = &hold_type;
		hold_open(s, &f->errs);
	}
}

static void on_router_closed(struct router *rt)
{
	(void)rt;
}

static void teardown_router(struct fixture *f)
{
	router_close(&f->rt, on_router_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	router_free(&f->rt);
	conf_free(&f->conf);
	conf_errs_free(&f->errs);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

static struct record *make(const char *fn, enum record_level level, enum record_kind kind)
{
	static unsigned n;
	char *id = malloc(32);
	char *json = malloc(64);
	snprintf(id, 32, "r%u", ++n);
	int len = snprintf(json, 64, "{\"id\":\"r%u\",\"fn\":\"%s\"}", n, fn);
	struct record *r = record_new(kind, id, json, (size_t)len);
	r->function_name = fn;
	r->function_id = "id-0";
	r->level = level;
	return r;
}

static void ack(struct fixture *f, size_t sink, size_t i, int result, const char *reason)
{
	struct sink *s = &f->rt.sinks[sink]->sink;
	struct held *h = s->priv;
	struct record *r = h->recs[i];
	h->recs[i] = NULL;
	sink_ack(s, r, result, reason);
	record_unref(r);
}

static void test_selection_and_done(void **state)
{
	(void)state;
	struct fixture f;
	setup_router(&f, "[sink all]\ntype = null\n"
	                 "[sink errors]\ntype = null\nmin_level = error\nmatch = sms-*\n"
	                 "[sink status]\ntype = null\nkinds = status\n");
	struct record *a = make("sms-webhook", RECORD_ERROR, RECORD_REQUEST);
	struct record *b = make("ivr-handler", RECORD_ERROR, RECORD_REQUEST);
	struct record *c = make("sms-webhook", RECORD_INFO, RECORD_STATUS);
	router_submit(&f.rt, a);
	router_submit(&f.rt, b);
	router_submit(&f.rt, c);
	assert_int_equal(a->pending, 2); /* all + errors */
	assert_int_equal(b->pending, 1); /* all */
	assert_int_equal(c->pending, 2); /* all + status */
	assert_int_equal(held_store[0].n, 3);
	assert_int_equal(held_store[1].n, 1);
	assert_int_equal(held_store[2].n, 1);
	ack(&f, 0, 0, 0, NULL);
	assert_int_equal(f.ndone, 0); /* a still waits for "errors" */
	ack(&f, 1, 0, 0, NULL);
	assert_int_equal(f.ndone, 1);
	assert_ptr_equal(f.done[0], a);
	ack(&f, 0, 1, 0, NULL);
	assert_int_equal(f.ndone, 2);
	assert_ptr_equal(f.done[1], b);
	struct record *none = make("x", RECORD_DEBUG, RECORD_METRICS);
	f.rt.sinks[0]->kind_mask = 0; /* nobody takes it */
	router_submit(&f.rt, none);
	assert_int_equal(none->pending, 0);
	record_unref(a);
	record_unref(b);
	record_unref(c);
	record_unref(none);
	teardown_router(&f);
}

static void test_dead_letter_once_with_reason_and_cap(void **state)
{
	(void)state;
	struct fixture f;
	setup_router(&f, "[sink out]\ntype = null\ndead_letter_max_size = 300\n");
	struct record *r[3];
	for (int i = 0; i < 3; i++) {
		r[i] = make("fn", RECORD_INFO, RECORD_REQUEST);
		router_submit(&f.rt, r[i]);
	}
	ack(&f, 0, 0, LG_EREJECTED, "too \"large\" for the collector");
	ack(&f, 0, 1, LG_EREJECTED, "invalid");
	ack(&f, 0, 2, LG_EREJECTED, "invalid again"); /* over the 300-byte cap */
	assert_int_equal(f.ndone, 3);                 /* rejected records are done */
	struct router_sink *rs = f.rt.sinks[0];
	assert_int_equal(rs->dead_lettered, 2);
	assert_int_equal(rs->dead_letter_lost, 1);
	char path[256], line[1024];
	snprintf(path, sizeof(path), "%s/dead-letter/out.jsonl", f.dir);
	assert_string_equal(rs->dead_letter_path, path);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_non_null(strstr(line, "\"sink\":\"out\""));
	assert_non_null(strstr(line, "\"reason\":\"too \\\"large\\\" for the collector\""));
	assert_non_null(strstr(line, "\"record\":{\"id\":\"r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	for (int i = 0; i < 3; i++)
		record_unref(r[i]);
	teardown_router(&f);
}

static void test_queue_bounds_pause_and_drain(void **state)
{
	(void)state;
	struct fixture f;
	setup_router(&f, "[sink slow]\ntype = null\nqueue_max_records = 8\nmatch = sms-*\n"
	                 "[sink fast]\ntype = null\n");
	struct record *r[8];
	for (int i = 0; i < 8; i++) {
		assert_true(router_accepting(&f.rt, "sms-webhook"));
		r[i] = make("sms-webhook", RECORD_INFO, RECORD_REQUEST);
		router_submit(&f.rt, r[i]);
	}
	assert_false(router_accepting(&f.rt, "sms-webhook"));
	assert_true(router_accepting(&f.rt, "ivr-handler")); /* not fed to "slow" */
	ack(&f, 0, 0, 0, NULL);
	assert_false(router_accepting(&f.rt, "sms-webhook")); /* 7 > 3/4 of 8 */
	assert_int_equal(f.drains, 0);
	ack(&f, 0, 1, 0, NULL);
	assert_true(router_accepting(&f.rt, "sms-webhook")); /* 6 <= 6 */
	assert_int_equal(f.drains, 1);
	for (int i = 0; i < 8; i++)
		record_unref(r[i]);
	teardown_router(&f);
}

static void test_config_errors(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-router-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	FILE *fp = fopen(path, "w");
	fputs("[sink a]\ntype = null\nkinds = request, bogus\nqueue_max_records = 0\n"
	      "[sink b]\ntype = nope\n[sink c]\nmatch = x\n",
	      fp);
	fclose(fp);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct conf conf;
	struct conf_errs errs;
	conf_errs_init(&errs);
	assert_int_equal(conf_load(path, &conf, &errs), 0);
	struct router rt;
	router_init(&rt, &loop);
	assert_int_equal(router_add_sinks(&rt, &conf, dir, 1 << 20, true, &errs), LG_ECONFIG);
	const char *t = errs.text.data;
	assert_non_null(strstr(t, "t.conf:3: [sink a]: key 'kinds': unknown kind 'bogus'"));
	assert_non_null(strstr(t, "[sink a]: queue bounds must be positive"));
	assert_non_null(strstr(t, "t.conf:6: [sink b]: unknown sink type 'nope'"));
	assert_non_null(strstr(t, "t.conf:7: [sink c]: missing required key 'type'"));
	router_free(&rt);
	conf_free(&conf);
	conf_errs_free(&errs);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static unsigned swaps;

static void on_swapped(struct router *rt)
{
	(void)rt;
	swaps++;
}

/* Loads `text` as a second configuration (a reload's). */
static void load_second(struct fixture *f, struct conf *c, const char *text)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/new.conf", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(conf_load(path, c, &f->errs), 0);
}

static void test_replace_hands_over_and_remove_releases(void **state)
{
	(void)state;
	struct fixture f;
	setup_router(&f, "[sink a]\ntype = null\n[sink b]\ntype = null\nmatch = sms-*\n");
	f.rt.on_swapped = on_swapped;
	swaps = 0;
	struct record *r[6];
	for (int i = 0; i < 4; i++) {
		r[i] = make("sms-webhook", RECORD_INFO, RECORD_REQUEST);
		router_submit(&f.rt, r[i]);
	}
	ack(&f, 1, 0, 0, NULL); /* b delivered r0 before the reload */
	unsigned b_slot = f.rt.sinks[1]->slot;
	struct conf second;
	load_second(&f, &second, "[sink b]\ntype = null\nmatch = *\n");
	assert_int_equal(router_replace_sink(&f.rt, 1, &second.sections[0], f.dir, 1 << 20,
	                                     uv_now(&f.loop) + 1000, &f.errs),
	                 0);
	/* The holding sink flushed and closed at once: the successor is open
	 * and took r1..r3 (not r0), in order. */
	assert_int_equal(swaps, 1);
	assert_false(router_swapping(&f.rt));
	struct router_sink *nb = f.rt.sinks[1];
	assert_int_equal(nb->slot, b_slot);
	assert_false(nb->waiting);
	assert_int_equal(nb->submitted, 3);
	/* The new match takes every function now. */
	r[4] = make("ivr-handler", RECORD_INFO, RECORD_REQUEST);
	router_submit(&f.rt, r[4]);
	assert_int_equal(r[4]->pending, 2);
	while (nb->delivered < 4)
		uv_run(&f.loop, UV_RUN_ONCE);
	assert_int_equal(f.ndone, 0); /* a holds all five */
	for (size_t i = 0; i < 2; i++)
		ack(&f, 0, i, 0, NULL);
	assert_int_equal(f.ndone, 2);
	/* a is removed holding r2..r5: they are done as far as it goes. */
	r[5] = make("sms-webhook", RECORD_INFO, RECORD_REQUEST);
	router_submit(&f.rt, r[5]);
	assert_int_equal(
	    router_replace_sink(&f.rt, 0, NULL, f.dir, 1 << 20, uv_now(&f.loop), &f.errs), 0);
	assert_int_equal(f.rt.nsinks, 1);
	while (f.ndone < 6)
		uv_run(&f.loop, UV_RUN_ONCE);
	for (int i = 0; i < 6; i++) {
		size_t seen = 0;
		for (size_t j = 0; j < f.ndone; j++)
			seen += f.done[j] == r[i];
		assert_int_equal(seen, 1); /* each record done exactly once */
		assert_int_equal(r[i]->owed, 0);
	}
	assert_null(f.rt.head);
	assert_int_equal(swaps, 2);
	for (int i = 0; i < 6; i++)
		record_unref(r[i]);
	teardown_router(&f);
	conf_free(&second);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selection_and_done),
	    cmocka_unit_test(test_dead_letter_once_with_reason_and_cap),
	    cmocka_unit_test(test_queue_bounds_pause_and_drain),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_replace_hands_over_and_remove_releases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

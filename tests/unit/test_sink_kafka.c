/* sink_kafka against librdkafka's mock cluster in this process: templates;
 * the librdkafka configuration it builds (safe defaults, buffering from the
 * queue bounds, message.max.bytes from max_event_size, kafka.* overrides,
 * errors at their lines); every record acknowledged exactly once from its
 * delivery report, in order per function; brokers down: nothing
 * acknowledged, the sink down, flush ends at its deadline and close leaves
 * nothing open; a fatal error rebuilds the producer and loses nothing; a
 * too-large record is rejected once, with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sink_kafka.h"
/* After rdkafka.h (sink_kafka.h includes it). */
#include <librdkafka/rdkafka_mock.h>

#define MAX_RECS 600

static const char *const fn_ids[] = {"fn-a", "fn-b", "fn-c"};

struct ctx {
	char dir[64], path[128];
	uv_loop_t loop;
	uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping forever */
	struct conf conf;
	struct conf_errs errs;
	struct sink s;
	struct sink_kafka_conf kc;
	bool loaded;
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *mc;
	struct record *recs[MAX_RECS];
	size_t nrecs;
	size_t nacked, nrejected;
	uint64_t acked[MAX_RECS]; /* seq, in acknowledgement order */
	char reason[256];
	bool flushed, closed;
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void on_ack(struct sink *s, struct record *r, int result, const char *reason)
{
	struct ctx *c = s->router_data;
	assert_int_equal(r->pending, 1); /* exactly once */
	r->pending = 0;
	if (result == 0) {
		assert_null(reason);
		c->acked[c->nacked++] = r->seq;
		return;
	}
	assert_int_equal(result, LG_EREJECTED);
	assert_non_null(reason);
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->nrejected++;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	snprintf(c->dir, sizeof(c->dir), "/tmp/test-sink-kafka-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/t.conf", c->dir);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	uv_timer_init(&c->loop, &c->tick);
	uv_timer_start(&c->tick, on_tick, 5, 5);
	conf_errs_init(&c->errs);
	*state = c;
	return 0;
}

static void on_closed(struct sink *s);

static int teardown(void **state)
{
	struct ctx *c = *state;
	if (c->s.priv) /* a test that failed left it open */
		c->s.type->close(&c->s, on_closed);
	for (size_t i = 0; i < c->nrecs; i++)
		record_unref(c->recs[i]);
	if (c->loaded)
		opts_free(sink_kafka_opts, &c->kc);
	conf_free(&c->conf);
	conf_errs_free(&c->errs);
	uv_close((uv_handle_t *)&c->tick, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	if (c->mc)
		rd_kafka_mock_cluster_destroy(c->mc);
	if (c->host)
		rd_kafka_destroy(c->host);
	unlink(c->path);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* A mock cluster of 3 brokers with topic t.request (3 partitions). */
static const char *mock_cluster(struct ctx *c)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", "", err, sizeof(err)), 0);
	rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
	c->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(c->host);
	c->mc = rd_kafka_mock_cluster_new(c->host, 3);
	assert_non_null(c->mc);
	assert_int_equal(rd_kafka_mock_topic_create(c->mc, "t.request", 3, 3), 0);
	return rd_kafka_mock_cluster_bootstraps(c->mc);
}

/* Loads [sink k] with `extra` lines into c->s (not opened); the topic is
 * t.{kind} unless extra sets one. */
static void load(struct ctx *c, const char *brokers, const char *extra)
{
	FILE *fp = fopen(c->path, "w");
	assert_non_null(fp);
	fprintf(fp, "[sink k]\ntype = kafka\nbrokers = %s\n%s%s", brokers,
	        strstr(extra, "topic =") ? "" : "topic = t.{kind}\n", extra);
	fclose(fp);
	assert_int_equal(conf_load(c->path, &c->conf, &c->errs), 0);
	const struct conf_section *sec = conf_find(&c->conf, "sink", "k");
	assert_non_null(sec);
	assert_int_equal(opts_apply(sink_kafka_opts, &c->kc, sec, &c->errs), 0);
	c->loaded = true;
	c->s = (struct sink){.type = &sink_kafka_type,
	                     .name = "k",
	                     .who = "sink k",
	                     .loop = &c->loop,
	                     .conf = &c->kc,
	                     .file = sec->file,
	                     .line = sec->line,
	                     .section = sec,
	                     .max_event_size = 1 << 20,
	                     .max_record_size = 3 * (1 << 20) + (1 << 20),
	                     .queue_max_records = 10000,
	                     .queue_max_bytes = 16 << 20,
	                     .on_ack = on_ack,
	                     .router_data = c};
}

static void open_sink(struct ctx *c, const char *brokers, const char *extra)
{
	load(c, brokers, extra);
	int rc = c->s.type->open(&c->s, &c->errs);
	if (rc)
		fprintf(stderr, "%s", c->errs.text.data);
	assert_int_equal(rc, 0);
}

static struct record *make(struct ctx *c, const char *fn)
{
	char id[32], json[160];
	snprintf(id, sizeof(id), "req_%zu", c->nrecs);
	int n =
	    snprintf(json, sizeof(json), "{\"schema\":1,\"kind\":\"request\",\"id\":\"%s\"}", id);
	struct record *r = record_new(RECORD_REQUEST, strdup(id), strdup(json), (size_t)n);
	assert_non_null(r);
	r->project_id = "proj";
	r->function_id = fn;
	r->function_name = fn;
	r->seq = c->nrecs;
	r->pending = 1;
	assert_true(c->nrecs < MAX_RECS);
	c->recs[c->nrecs++] = r;
	return r;
}

static void submit(struct ctx *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c->s.type->submit(&c->s, make(c, fn_ids[c->nrecs % 3])), 0);
}

static bool run_until(struct ctx *c, bool (*pred)(struct ctx *), uint64_t ms)
{
	uv_update_time(&c->loop);
	uint64_t end = uv_now(&c->loop) + ms;
	while (!pred(c) && uv_now(&c->loop) < end)
		uv_run(&c->loop, UV_RUN_ONCE);
	return pred(c);
}

static bool all_done(struct ctx *c)
{
	return c->nacked + c->nrejected == c->nrecs;
}

static bool some_in_flight(struct ctx *c)
{
	struct kafka_sink *k = c->s.priv;
	return k->inflight.n > 0;
}

static bool is_flushed(struct ctx *c)
{
	return c->flushed;
}

static bool is_closed(struct ctx *c)
{
	return c->closed;
}

static void on_flushed(struct sink *s)
{
	((struct ctx *)s->router_data)->flushed = true;
}

static void on_closed(struct sink *s)
{
	((struct ctx *)s->router_data)->closed = true;
}

static void close_sink(struct ctx *c)
{
	c->s.type->close(&c->s, on_closed);
	assert_true(run_until(c, is_closed, 10000));
	assert_null(c->s.priv);
}

static struct sink_kafka_stats stats(struct ctx *c)
{
	struct sink_kafka_stats st;
	sink_kafka_stats(&c->s, &st);
	return st;
}

/* Each function's records were acknowledged in submit order. */
static void assert_order(struct ctx *c)
{
	uint64_t last[3] = {0, 0, 0};
	bool seen[3] = {false, false, false};
	for (size_t i = 0; i < c->nacked; i++) {
		size_t f = c->acked[i] % 3;
		if (seen[f])
			assert_true(c->acked[i] > last[f]);
		seen[f] = true;
		last[f] = c->acked[i];
	}
}

static void test_templates(void **state)
{
	(void)state;
	char err[256], out[64];
	assert_int_equal(sink_kafka_template_check("logs.{project}.{kind}", true, err, sizeof(err)),
	                 0);
	assert_int_equal(
	    sink_kafka_template_check("{function_name}/{function}", false, err, sizeof(err)), 0);
	assert_int_equal(sink_kafka_template_check("logs/{kind}", true, err, sizeof(err)),
	                 LG_EINVAL);
	assert_string_equal(err,
	                    "'/' is not allowed in a topic name (letters, digits, '.', '_', '-')");
	assert_int_equal(sink_kafka_template_check("{fn}", false, err, sizeof(err)), LG_EINVAL);
	assert_int_equal(sink_kafka_template_check("", false, err, sizeof(err)), LG_EINVAL);

	struct record r = {.kind = RECORD_STATUS,
	                   .project_id = "p 1",
	                   .function_id = "f:1",
	                   .function_name = "ivr handler"};
	assert_int_equal(
	    sink_kafka_expand("x.{project}.{function_name}.{kind}", &r, true, out, sizeof(out)),
	    24);
	assert_string_equal(out, "x.p_1.ivr_handler.status"); /* not allowed in a topic: '_' */
	assert_int_equal(
	    sink_kafka_expand("{function}/{function_name}", &r, false, out, sizeof(out)), 15);
	assert_string_equal(out, "f:1/ivr handler");
	assert_int_equal(sink_kafka_expand("{function}{function}", &r, false, out, 6), LG_ETOOBIG);
	r.function_name = NULL;
	assert_int_equal(sink_kafka_expand("{function_name}", &r, true, out, sizeof(out)),
	                 LG_EINVAL);
}

static void assert_prop(rd_kafka_conf_t *conf, const char *name, const char *want)
{
	char v[128];
	size_t len = sizeof(v);
	if (rd_kafka_conf_get(conf, name, v, &len) != RD_KAFKA_CONF_OK)
		fail_msg("no property %s", name);
	assert_string_equal(v, want);
}

static void test_conf_defaults_and_overrides(void **state)
{
	struct ctx *c = *state;
	load(c, "h:9092",
	     "compression = lz4\nkafka.linger.ms = 7\nkafka.message.timeout.ms = 600000\n");
	c->s.queue_max_records = 500;
	c->s.queue_max_bytes = 32 << 20;
	rd_kafka_conf_t *conf = NULL;
	assert_int_equal(sink_kafka_conf_build(&c->s, &c->errs, &conf), 0);
	assert_prop(conf, "enable.idempotence", "true");
	assert_prop(conf, "acks", "-1");
	assert_prop(conf, "compression.codec", "lz4");
	assert_prop(conf, "linger.ms", "7");
	assert_prop(conf, "message.timeout.ms", "600000"); /* overridden: expiry is retried */
	assert_prop(conf, "queue.buffering.max.messages", "500");
	assert_prop(conf, "queue.buffering.max.kbytes", "32769");
	assert_prop(conf, "message.max.bytes", "4198400"); /* the largest record and envelope */
	assert_prop(conf, "log.queue", "true");
	assert_int_equal(sink_kafka_conf_probe(&c->s, &c->errs, conf), 0);
	rd_kafka_conf_destroy(conf);
	assert_int_equal(c->errs.count, 0);
}

static void test_conf_errors_at_their_lines(void **state)
{
	struct ctx *c = *state;
	load(c, "h:9092",
	     "kafka.log.queue = false\n"         /* line 5 */
	     "kafka.message.max.bytes = 50000\n" /* line 6 */
	     "kafka.sasl.mechanisms = PLAIN\n"   /* line 7 */
	     "kafka.security.protocol = sasl_ssl\n" /* line 8 */);
	rd_kafka_conf_t *conf = NULL;
	assert_int_equal(sink_kafka_conf_build(&c->s, &c->errs, &conf), LG_ECONFIG);
	assert_null(conf);
	char want[1024];
	snprintf(
	    want, sizeof(want),
	    "%s:5: [sink k]: key 'kafka.log.queue': the sink reads librdkafka's logs as events\n"
	    "%s:6: [sink k]: key 'kafka.message.max.bytes': 50000 cannot hold an event of "
	    "max_event_size (1048576 bytes) with its key and headers: set at least 1052672, or "
	    "lower max_event_size\n",
	    c->path, c->path);
	assert_string_equal(c->errs.text.data, want);
	/* librdkafka's own messages go to the keys they name, or to the keys
	 * of the family they name, or to the section. */
	conf_errs_free(&c->errs);
	conf_errs_init(&c->errs);
	sink_kafka_conf_report(&c->s, &c->errs, "sasl.username and sasl.password must be set");
	sink_kafka_conf_report(&c->s, &c->errs, "`security.protocol` is odd");
	sink_kafka_conf_report(&c->s, &c->errs, "something else");
	snprintf(
	    want, sizeof(want),
	    "%s:7: [sink k]: key 'kafka.sasl.mechanisms': sasl.username and sasl.password must "
	    "be set\n"
	    "%s:8: [sink k]: key 'kafka.security.protocol': `security.protocol` is odd\n"
	    "%s:1: [sink k]: librdkafka refuses the configuration: something else\n",
	    c->path, c->path, c->path);
	assert_string_equal(c->errs.text.data, want);
}

static void test_delivers_each_once_in_order(void **state)
{
	struct ctx *c = *state;
	open_sink(c, mock_cluster(c), "kafka.linger.ms = 1\n");
	submit(c, 150);
	assert_true(run_until(c, all_done, 20000));
	submit(c, 150);
	assert_true(run_until(c, all_done, 20000));
	assert_int_equal(c->nacked, 300);
	assert_int_equal(c->nrejected, 0);
	assert_order(c);
	struct sink_kafka_stats st = stats(c);
	assert_int_equal(st.produced, 300);
	assert_int_equal(st.delivered, 300);
	assert_int_equal(st.in_flight + st.pending + st.failed + st.retried, 0);
	assert_false(st.down);
	c->s.type->flush(&c->s, uv_now(&c->loop) + 5000, on_flushed);
	assert_true(run_until(c, is_flushed, 100)); /* nothing to wait for */
	close_sink(c);
}

static void test_brokers_down_acks_nothing(void **state)
{
	struct ctx *c = *state;
	const char *boot = mock_cluster(c);
	assert_int_equal(rd_kafka_mock_broker_set_down(c->mc, -1), 0);
	open_sink(c, boot, "");
	submit(c, 40);
	struct kafka_sink *k = c->s.priv;
	assert_true(run_until(c, all_done, 1500) == false);
	assert_true(k->stats.down);
	assert_int_equal(c->nacked + c->nrejected, 0);
	uv_update_time(&c->loop);
	uint64_t t0 = uv_now(&c->loop);
	c->s.type->flush(&c->s, t0 + 300, on_flushed);
	assert_true(run_until(c, is_flushed, 5000));
	assert_true(uv_now(&c->loop) >= t0 + 300);
	assert_int_equal(stats(c).in_flight + stats(c).pending, 40);
	close_sink(c);
	assert_int_equal(c->nacked + c->nrejected, 0);
}

static void test_fatal_error_rebuilds(void **state)
{
	struct ctx *c = *state;
	const char *boot = mock_cluster(c);
	rd_kafka_mock_broker_set_rtt(c->mc, -1, 50);
	open_sink(c, boot, "");
	submit(c, 100);
	assert_true(run_until(c, all_done, 20000));
	submit(c, 100);
	assert_true(run_until(c, some_in_flight, 5000));
	struct kafka_sink *k = c->s.priv;
	assert_int_equal(rd_kafka_test_fatal_error(
	                     k->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "unit test"),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	submit(c, 100);
	assert_true(run_until(c, all_done, 20000));
	assert_int_equal(c->nacked, 300);
	assert_order(c);
	struct sink_kafka_stats st = stats(c);
	assert_int_equal(st.rebuilds, 1);
	assert_true(st.retried > 0);
	assert_int_equal(st.failed, 0);
	close_sink(c);
}

static void test_too_large_rejected_once(void **state)
{
	struct ctx *c = *state;
	const char *boot = mock_cluster(c);
	open_sink(c, boot, "kafka.batch.num.messages = 1\nkafka.max.in.flight = 1\n");
	submit(c, 5);
	assert_true(run_until(c, all_done, 20000));
	rd_kafka_mock_push_request_errors(c->mc, 0, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	submit(c, 20);
	assert_true(run_until(c, all_done, 20000));
	assert_int_equal(c->nrejected, 1);
	assert_int_equal(c->nacked, 24);
	assert_string_equal(c->reason, "kafka: Broker: Message size too large");
	struct sink_kafka_stats st = stats(c);
	assert_int_equal(st.dead_lettered, 1);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.retried, 0);
	close_sink(c);
}

static void test_bad_topic_rejected_locally(void **state)
{
	struct ctx *c = *state;
	open_sink(c, mock_cluster(c), "topic = t.{function_name}\n");
	char name[300];
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct record *r = make(c, "fn-a");
	r->function_name = name;
	assert_int_equal(c->s.type->submit(&c->s, r), 0);
	assert_int_equal(c->nrejected, 0); /* produced from the loop, never inside submit */
	assert_true(run_until(c, all_done, 5000));
	assert_int_equal(c->nrejected, 1);
	assert_string_equal(c->reason, "kafka: the topic name expands past 249 bytes");
	close_sink(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_defaults_and_overrides, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf_errors_at_their_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivers_each_once_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_brokers_down_acks_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fatal_error_rebuilds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large_rejected_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_topic_rejected_locally, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

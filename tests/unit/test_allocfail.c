/* Allocation failure: every parser and the record path run on whole inputs
 * once to count the allocations they make, then again with each of those
 * allocations failing in turn (failalloc.h). Each run must end in an error
 * or a result, never a crash; under the ASan build LeakSanitizer fails the
 * test on any leak left behind by a failed run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "agent.h"
#include "buf.h"
#include "ckpt.h"
#include "conf.h"
#include "err.h"
#include "failalloc.h"
#include "http_fmt.h"
#include "json.h"
#include "normalize.h"
#include "record.h"
#include "router.h"
#include "sse.h"
#include "syslog_fmt.h"

#include "datafiles.h"

#define MAX_EVENT (1u << 20)

/* Runs fn with no failure to count its allocations, then once per
 * allocation with that one failing. */
static void each_failure(const char *what, void (*fn)(void))
{
	failalloc_arm(0);
	fn();
	long n = failalloc_count();
	failalloc_disarm();
	assert_true(n > 0);
	for (long k = 1; k <= n; k++) {
		failalloc_arm(k);
		fn();
		bool fired = failalloc_fired();
		failalloc_disarm();
		if (!fired)
			fail_msg("%s: allocation %ld of %ld never happened", what, k, n);
	}
	fprintf(stderr, "%s: %ld allocations, each failed in turn\n", what, n);
}

/* ---- inputs, read before any failure is armed ---- */

static char *events[64];
static size_t event_len[64];
static size_t nevents;

static void load_event(const char *dir, const char *name)
{
	if (nevents == sizeof(events) / sizeof(events[0]) || strncmp(name, "bad_", 4) == 0)
		return;
	char path[2048];
	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	events[nevents] = df_read(path, &event_len[nevents]);
	assert_non_null(events[nevents]);
	nevents++;
}

static const struct norm_ctx ctx = {
    .project_id = "p1",
    .function_id = "f1",
    .function_name = "fn-one",
    .include_bodies = true,
    .host = "h",
    .version = "0",
};

/* The events as records, made with allocation working. */
static struct record *records[64];

static int setup(void **state)
{
	(void)state;
	df_each_case("normalize", load_event);
	assert_true(nevents >= 10);
	struct norm_scratch s;
	norm_scratch_init(&s, MAX_EVENT);
	for (size_t i = 0; i < nevents; i++) {
		const char *why;
		assert_int_equal(
		    norm_event(&ctx, &s, events[i], event_len[i], &records[i], NULL, &why), 0);
	}
	norm_scratch_free(&s);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nevents; i++) {
		free(events[i]);
		record_unref(records[i]);
	}
	return 0;
}

/* ---- the SSE parser ---- */

static void sse_event(void *ud, const struct sse_event *ev)
{
	(*(size_t *)ud) += ev->data_len;
}

static void run_sse(void)
{
	static const struct sse_callbacks cb = {sse_event, NULL, NULL, NULL};
	size_t seen = 0;
	struct sse_parser p;
	sse_init(&p, 4096, &cb, &seen);
	struct buf body;
	buf_init(&body, 1u << 20);
	int rc = 0;
	/* Events split across feeds make the parser keep lines and data. */
	for (size_t i = 0; i < nevents && !rc; i++)
		rc = buf_printf(&body, "id: %zu\nevent: e%zu\ndata: %.*s\ndata: more\n\n", i, i,
		                (int)(event_len[i] < 2000 ? event_len[i] : 2000), events[i]);
	for (size_t off = 0; !rc && off < body.len; off += 97) {
		size_t n = body.len - off < 97 ? body.len - off : 97;
		if (sse_feed(&p, body.data + off, n) == LG_ENOMEM)
			sse_reset(&p);
	}
	sse_reset(&p);
	sse_free(&p);
	buf_free(&body);
}

static void test_sse(void **state)
{
	(void)state;
	each_failure("sse", run_sse);
}

/* ---- the normalizer ---- */

static void run_normalize(void)
{
	struct norm_scratch s;
	norm_scratch_init(&s, MAX_EVENT);
	for (size_t i = 0; i < nevents; i++) {
		struct record *r = NULL;
		const char *why;
		int rc = norm_event(&ctx, &s, events[i], event_len[i], &r, NULL, &why);
		assert_true(rc == 0 || rc == LG_ENOMEM);
		assert_true((rc == 0) == (r != NULL));
		if (r)
			record_unref(r);
	}
	norm_scratch_free(&s);
}

static void test_normalize(void **state)
{
	(void)state;
	each_failure("normalize", run_normalize);
}

/* ---- the formatters ---- */

static int syslog_emit(void *arg, const char *msg, size_t len)
{
	return syslog_fmt_frame(SYSLOG_FMT_OCTET, msg, len, arg);
}

static void run_syslog(void)
{
	struct syslog_fmt f = {.facility = 16, .max_message_size = 2048, .mode = SYSLOG_FMT_LINE};
	struct json_doc doc;
	json_doc_init(&doc, 3 * MAX_EVENT);
	struct buf scratch, out;
	buf_init(&scratch, 4096);
	buf_init(&out, 16u << 20);
	struct syslog_fmt_stats st = {0};
	for (size_t i = 0; i < nevents; i++) {
		int rc = syslog_fmt_record(&f, records[i], &doc, &scratch, &st, syslog_emit, &out);
		assert_true(rc == 0 || rc == LG_ENOMEM);
	}
	buf_free(&out);
	buf_free(&scratch);
	json_doc_free(&doc);
}

static void test_syslog_fmt(void **state)
{
	(void)state;
	each_failure("syslog_fmt", run_syslog);
}

static void run_http_fmt(void)
{
	static const int formats[] = {HTTP_FMT_NDJSON,  HTTP_FMT_JSON_ARRAY, HTTP_FMT_SPLUNK_HEC,
	                              HTTP_FMT_ES_BULK, HTTP_FMT_LOKI,       HTTP_FMT_OTLP_JSON};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct http_fmt f = {.format = formats[i],
		                     .host = "h",
		                     .source = "{function_name}",
		                     .sourcetype = "sinch",
		                     .index = "logs-{function_name}"};
		char err[128];
		if (formats[i] == HTTP_FMT_LOKI) {
			assert_int_equal(
			    http_fmt_label_parse("function", &f.labels[0], err, sizeof(err)), 0);
			assert_int_equal(
			    http_fmt_label_parse("level", &f.labels[1], err, sizeof(err)), 0);
			f.nlabels = 2;
		}
		struct buf body, gz;
		buf_init(&body, 64u << 20);
		buf_init(&gz, 64u << 20);
		size_t bad;
		int rc = http_fmt_body(&f, records, nevents, &body, &bad);
		assert_true(rc == 0 || rc == LG_ENOMEM);
		if (rc == 0) {
			rc = http_fmt_gzip(body.data, body.len, 6, &gz);
			assert_true(rc == 0 || rc == LG_ENOMEM);
		}
		buf_free(&gz);
		buf_free(&body);
	}
}

static void test_http_fmt(void **state)
{
	(void)state;
	each_failure("http_fmt", run_http_fmt);
}

/* ---- the configuration: every shipped example, every option table ---- */

static const char *conf_files[] = {"demo.conf",        "kafka-siem.conf",
                                   "http-ndjson.conf", "http-splunk-hec.conf",
                                   "http-loki.conf",   "rsyslog-forward.conf"};
static char conf_path[2100];
static FILE *devnull;

static void run_conf(void)
{
	agent_check_config(conf_path, devnull);
}

static void test_conf(void **state)
{
	(void)state;
	const char *data = getenv("SINCH_TEST_DATA");
	assert_non_null(data);

	char tmp[] = "/tmp/test-allocfail-XXXXXX";
	assert_non_null(mkdtemp(tmp));
	/* What the examples expand, as an operator's environment would set it. */
	static const char *const env[][2] = {
	    {"DEMO_DIR", NULL},           {"SIM_URL", "http://127.0.0.1:1"},
	    {"SINCH_PROJECT_ID", "p"},    {"SINCH_KEY_ID", "k"},
	    {"SINCH_KEY_SECRET", "s"},    {"ES_API_KEY", "x"},
	    {"WEBHOOK_TOKEN", "x"},       {"SPLUNK_HEC_TOKEN", "x"},
	    {"KAFKA_SASL_USERNAME", "u"}, {"KAFKA_SASL_PASSWORD", "p"},
	};
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		setenv(env[i][0], env[i][1] ? env[i][1] : tmp, 1);
	devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	for (size_t i = 0; i < sizeof(conf_files) / sizeof(conf_files[0]); i++) {
		snprintf(conf_path, sizeof(conf_path), "%s/../../conf/%s", data, conf_files[i]);
		each_failure(conf_files[i], run_conf);
	}
	fclose(devnull);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	assert_int_equal(system(cmd), 0);
}

/* ---- checkpoints ---- */

static char ckpt_dir[64];

static void run_ckpt(void)
{
	struct ckpt c;
	ckpt_init(&c, 60000, 100000);
	int rc = ckpt_load(&c, ckpt_dir, "p-f");
	assert_true(rc == 0 || rc == LG_ENOMEM);
	if (rc == 0) {
		ckpt_advance(&c, c.since_ms + 1, 42);
		struct buf b;
		buf_init(&b, 16u << 20);
		rc = ckpt_encode(&c, &b);
		assert_true(rc == 0 || rc == LG_ENOMEM);
		buf_free(&b);
	}
	ckpt_free(&c);
}

static void test_ckpt(void **state)
{
	(void)state;
	snprintf(ckpt_dir, sizeof(ckpt_dir), "/tmp/test-allocfail-XXXXXX");
	assert_non_null(mkdtemp(ckpt_dir));
	struct ckpt c;
	ckpt_init(&c, 60000, 100000);
	for (int i = 0; i < 5000; i++)
		ckpt_advance(&c, 1771511400000 + i, (uint64_t)i * 2654435761u + 1);
	assert_int_equal(ckpt_set_last_event_id(&c, "evt-1", 5), 0);
	assert_int_equal(ckpt_save(&c, ckpt_dir, "p-f"), 0);
	ckpt_free(&c);
	each_failure("ckpt", run_ckpt);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ckpt_dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the record path: normalize, route to a file and a null sink,
 * acknowledge, close ---- */

static char route_dir[64];
static size_t route_done;

static void on_done(struct router *rt, struct record *r)
{
	(void)rt;
	(void)r;
	route_done++;
}

static void on_closed(struct router *rt)
{
	(void)rt;
}

static void on_flushed(struct router *rt)
{
	router_close(rt, on_closed);
}

static void run_route(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/agent.conf", route_dir);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct conf conf;
	struct conf_errs errs;
	conf_errs_init(&errs);
	struct router rt;
	router_init(&rt, &loop);
	rt.on_done = on_done;
	route_done = 0;
	if (conf_load(path, &conf, &errs) == 0 &&
	    router_add_sinks(&rt, &conf, route_dir, MAX_EVENT, false, &errs) == 0) {
		struct norm_scratch s;
		norm_scratch_init(&s, MAX_EVENT);
		for (size_t i = 0; i < nevents; i++) {
			struct record *r = NULL;
			const char *why;
			if (norm_event(&ctx, &s, events[i], event_len[i], &r, NULL, &why) != 0)
				continue;
			r->seq = i;
			router_submit(&rt, r);
			record_unref(r);
		}
		norm_scratch_free(&s);
		uv_run(&loop, UV_RUN_NOWAIT);
		router_flush(&rt, uv_now(&loop) + 2000, on_flushed);
		uv_run(&loop, UV_RUN_DEFAULT);
		conf_free(&conf);
	} else {
		conf_free(&conf);
		router_close(&rt, on_closed);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	router_free(&rt);
	conf_errs_free(&errs);
	assert_int_equal(uv_loop_close(&loop), 0);
	char out[128];
	snprintf(out, sizeof(out), "%s/out.jsonl", route_dir);
	unlink(out);
}

static void test_record_path(void **state)
{
	(void)state;
	snprintf(route_dir, sizeof(route_dir), "/tmp/test-allocfail-XXXXXX");
	assert_non_null(mkdtemp(route_dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/agent.conf", route_dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "[sink out]\ntype = file\npath = %s/out.jsonl\nfsync = always\n"
	        "[sink none]\ntype = null\nmin_level = warning\n",
	        route_dir);
	fclose(f);
	failalloc_arm(0);
	run_route();
	failalloc_disarm();
	assert_int_equal(route_done, nevents);
	each_failure("record path", run_route);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", route_dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sse),         cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_syslog_fmt),  cmocka_unit_test(test_http_fmt),
	    cmocka_unit_test(test_conf),        cmocka_unit_test(test_ckpt),
	    cmocka_unit_test(test_record_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

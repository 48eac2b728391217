/* The normalizer, driven by tests/data/normalize: NAME.in is one event;
 * NAME.out the exact record expected, or NAME.err the reason of the expected
 * LG_EPARSE. Names starting with "bodies_" run with include_bodies on. A
 * trailing newline of each file is not part of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "normalize.h"

static char *query_items[] = {"token", "api_key"};
static const struct opt_list query_list = {query_items, 2};

static struct norm_ctx test_ctx(bool bodies)
{
	struct norm_ctx c = {
	    .project_id = "p1",
	    .function_id = "f1",
	    .function_name = "fn-one",
	    .include_bodies = bodies,
	    .redact_headers = NULL,
	    .redact_query = &query_list,
	    .host = "testhost",
	    .version = "0.0.0-test",
	};
	return c;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 64u << 20);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), 0);
	fclose(f);
	if (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	return buf_detach(&b, len);
}

static const char *data_dir(void)
{
	const char *d = getenv("SINCH_TEST_DATA");
	assert_non_null(d);
	return d;
}

static int run_case(struct norm_scratch *s, const char *dir, const char *name)
{
	char path[1400];
	size_t in_len, want_len;
	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	char *in = read_file(path, &in_len);
	assert_non_null(in);
	bool bodies = strncmp(name, "bodies_", 7) == 0;
	struct norm_ctx ctx = test_ctx(bodies);
	struct norm_stats st = {0};
	struct record *r = NULL;
	const char *why = NULL;
	int rc = norm_event(&ctx, s, in, in_len, &r, &st, &why);
	int failures = 0;

	snprintf(path, sizeof(path), "%s/%s.out", dir, name);
	char *want = read_file(path, &want_len);
	if (want) {
		if (rc != 0) {
			print_error("%s: rc %d (%s)\n", name, rc, why ? why : "");
			failures++;
		} else if (r->json_len != want_len || memcmp(r->json, want, want_len) != 0) {
			print_error("%s:\n got  %.*s\n want %s\n", name, (int)r->json_len, r->json,
			            want);
			failures++;
		} else {
			/* What cJSON makes of it: the sinks' view. */
			cJSON *j = cJSON_ParseWithLength(r->json, r->json_len);
			if (!j || memchr(r->json, '\n', r->json_len)) {
				print_error("%s: output is not one line of JSON\n", name);
				failures++;
			}
			cJSON_Delete(j);
			if (r->id_hash != record_hash(r->id, strlen(r->id)) ||
			    r->kind != RECORD_REQUEST || strcmp(r->project_id, "p1") != 0) {
				print_error("%s: record fields wrong\n", name);
				failures++;
			}
			if (st.ok != 1) {
				print_error("%s: ok not counted\n", name);
				failures++;
			}
		}
	} else {
		snprintf(path, sizeof(path), "%s/%s.err", dir, name);
		char *err = read_file(path, &want_len);
		assert_non_null(err);
		if (rc != LG_EPARSE || r != NULL || !why || strcmp(why, err) != 0 ||
		    st.malformed != 1) {
			print_error("%s: rc %d why \"%s\", want LG_EPARSE \"%s\"\n", name, rc,
			            why ? why : "(null)", err);
			failures++;
		}
		free(err);
	}
	record_unref(r);
	free(want);
	free(in);
	return failures;
}

static void test_data_files(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/normalize", data_dir());
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct norm_scratch s;
	norm_scratch_init(&s, 1u << 20);
	int cases = 0, failures = 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		size_t n = strlen(de->d_name);
		if (n < 4 || strcmp(de->d_name + n - 3, ".in") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(n - 3), de->d_name);
		failures += run_case(&s, dir, name);
		cases++;
	}
	closedir(dp);
	norm_scratch_free(&s);
	assert_true(cases >= 28);
	assert_int_equal(failures, 0);
}

static struct record *norm_ok(struct norm_scratch *s, const struct norm_ctx *ctx, const char *ev,
                              struct norm_stats *st)
{
	struct record *r = NULL;
	const char *why = NULL;
	int rc = norm_event(ctx, s, ev, strlen(ev), &r, st, &why);
	if (rc)
		fail_msg("rc %d: %s", rc, why ? why : "");
	return r;
}

static void test_record_fields(void **state)
{
	(void)state;
	struct norm_scratch s;
	norm_scratch_init(&s, 1u << 20);
	struct norm_ctx ctx = test_ctx(false);
	struct norm_stats st = {0};
	struct record *r = norm_ok(&s, &ctx,
	                           "{\"id\":\"a\\\"b\",\"startTime\":\"1970-01-01T00:00:01.5Z\","
	                           "\"statusCode\":500,\"logs\":[{\"level\":\"x\\u0000\"}]}",
	                           &st);
	assert_string_equal(r->id, "a\\\"b");
	assert_int_equal(r->id_hash, record_hash("a\\\"b", 4));
	assert_int_equal(r->start_ms, 1500);
	assert_int_equal(r->level, RECORD_ERROR);
	assert_ptr_equal(r->function_id, ctx.function_id);
	assert_ptr_equal(r->function_name, ctx.function_name);
	assert_int_equal(r->refs, 1);
	assert_int_equal(strlen(r->json), r->json_len);
	record_unref(r);

	/* No id: the hash of the event names it, the same every time. */
	const char *ev = "{\"timestamp\":\"2026-02-19T14:30:00Z\"}";
	char want[32];
	snprintf(want, sizeof(want), "h:%016llx", (unsigned long long)record_hash(ev, strlen(ev)));
	r = norm_ok(&s, &ctx, ev, NULL);
	assert_string_equal(r->id, want);
	assert_int_equal(r->level, RECORD_INFO);
	record_unref(r);
	norm_scratch_free(&s);
}

static void test_ctx_options(void **state)
{
	(void)state;
	struct norm_scratch s;
	norm_scratch_init(&s, 1u << 20);
	char *deny[] = {"x-secret"};
	struct opt_list deny_list = {deny, 1};
	struct norm_ctx ctx = {
	    .project_id = NULL,
	    .function_id = "f1",
	    .redact_headers = &deny_list,
	    .labels_json = "{\"env\":\"prod\"}",
	    .version = "9",
	};
	struct record *r = norm_ok(&s, &ctx,
	                           "{\"id\":\"c\",\"startTime\":\"2026-02-19T14:30:00Z\",\"url\":"
	                           "\"/a?token=1\",\"requestHeaders\":{\"X-Secret\":\"s\","
	                           "\"Authorization\":\"kept: not on this list\"}}",
	                           NULL);
	assert_string_equal(
	    r->json, "{\"schema\":1,\"kind\":\"request\",\"time\":\"2026-02-19T14:30:00.000Z\","
	             "\"project_id\":null,\"function_id\":\"f1\",\"id\":\"c\",\"level\":"
	             "\"info\",\"url\":\"/a?token=1\",\"logs\":[],\"request\":{\"headers\":"
	             "{\"Authorization\":\"kept: not on this list\"}},\"labels\":{\"env\":"
	             "\"prod\"},\"agent\":{\"version\":\"9\"}}");
	record_unref(r);
	norm_scratch_free(&s);
}

static void test_utf8_stats(void **state)
{
	(void)state;
	struct norm_scratch s;
	norm_scratch_init(&s, 1u << 20);
	struct norm_ctx ctx = test_ctx(false);
	struct norm_stats st = {0};
	struct record *r = norm_ok(&s, &ctx,
	                           "{\"id\":\"u\",\"startTime\":\"2026-02-19T14:30:00Z\",\"logs\":["
	                           "{\"message\":\"\xff\"},{\"message\":\"\\udc00 \xc3\"}]}",
	                           &st);
	record_unref(r);
	r = norm_ok(&s, &ctx, "{\"id\":\"v\",\"startTime\":\"2026-02-19T14:30:00Z\"}", &st);
	record_unref(r);
	assert_int_equal(st.ok, 2);
	assert_int_equal(st.utf8_repaired, 1);
	assert_int_equal(st.utf8_replaced, 3);
	norm_scratch_free(&s);
}

static void test_limits(void **state)
{
	(void)state;
	struct norm_scratch s;
	norm_scratch_init(&s, 64);
	struct norm_ctx ctx = test_ctx(false);
	struct norm_stats st = {0};
	struct record *r = NULL;
	const char *why = NULL;
	char big[65];
	memset(big, ' ', sizeof(big));
	assert_int_equal(norm_event(&ctx, &s, big, sizeof(big), &r, &st, &why), LG_ETOOBIG);
	assert_null(r);
	assert_string_equal(why, "event too large");
	assert_int_equal(st.oversized, 1);
	norm_scratch_free(&s);
}

/* A 1 MiB event normalizes; then the same and smaller events, many times,
 * reuse the scratch without growing it. */
static void test_big_event_and_reuse(void **state)
{
	(void)state;
	size_t max = 1u << 20;
	struct norm_scratch s;
	norm_scratch_init(&s, max);
	struct norm_ctx ctx = test_ctx(true);
	struct buf ev;
	buf_init(&ev, max);
	assert_int_equal(buf_puts(&ev, "{\"id\":\"big\",\"startTime\":\"2026-02-19T14:30:00Z\","
	                               "\"logs\":["),
	                 0);
	const char *line = "{\"level\":\"info\",\"message\":\"0123456789 \xc3\xa5\xff\"},";
	while (ev.len + strlen(line) + 64 < max)
		assert_int_equal(buf_puts(&ev, line), 0);
	assert_int_equal(buf_puts(&ev, "{\"level\":\"warn\",\"message\":\"end\"}],\"pad\":\""), 0);
	while (ev.len < max - 2)
		assert_int_equal(buf_putc(&ev, 'x'), 0);
	assert_int_equal(buf_puts(&ev, "\"}"), 0);
	assert_int_equal(ev.len, max);

	struct norm_stats st = {0};
	struct record *r = norm_ok(&s, &ctx, ev.data, &st);
	assert_int_equal(r->level, RECORD_WARNING);
	assert_true(r->json_len > max);
	cJSON *j = cJSON_ParseWithLength(r->json, r->json_len);
	assert_non_null(j);
	cJSON_Delete(j);
	record_unref(r);

	const char *small = "{\"id\":\"x\",\"timestamp\":\"2026-02-19T14:30:00Z\","
	                    "\"url\":\"/?token=1\"}";
	r = norm_ok(&s, &ctx, small, &st);
	record_unref(r);
	size_t caps[4] = {s.out.cap, s.logs.cap, s.doc.cap, s.url.cap};
	for (int i = 0; i < 199; i++) {
		r = norm_ok(&s, &ctx, i % 2 ? ev.data : small, &st);
		record_unref(r);
	}
	assert_int_equal(s.out.cap, caps[0]);
	assert_int_equal(s.logs.cap, caps[1]);
	assert_int_equal(s.doc.cap, caps[2]);
	assert_int_equal(s.url.cap, caps[3]);
	assert_int_equal(st.ok, 201);
	buf_free(&ev);
	norm_scratch_free(&s);
}

static void test_parse_time(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t ms;
	} ok[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"1970-01-01T00:00:00.001Z", 1},
	    {"1970-01-01T00:00:00.0019999Z", 1},
	    {"1970-01-01T00:00:00.5z", 500},
	    {"1970-01-01t01:00:00+01:00", 0},
	    {"1970-01-01 00:00:00-0130", 5400000},
	    {"1970-01-01T00:00+00", 0},
	    {"1970-01-01", 0},
	    {"1969-12-31T23:59:59.999Z", -1},
	    {"2000-02-29T12:00:00Z", 951825600000},
	    {"2026-02-19T14:30:00.042Z", 1771511400042},
	    {"2026-02-19T14:30:00,042", 1771511400042},
	    {"9999-12-31T23:59:59.999Z", 253402300799999},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = 42;
		if (norm_parse_time(ok[i].in, strlen(ok[i].in), &ms) != 0 || ms != ok[i].ms)
			fail_msg("%s: got %lld", ok[i].in, (long long)ms);
	}
	static const char *const bad[] = {
	    "",
	    "2026",
	    "2026-02-30",
	    "2026-13-01",
	    "2026-02-19T",
	    "2026-02-19T24:00:00Z",
	    "2026-02-19T14:60Z",
	    "2026-02-19T14:30:00.Z",
	    "2026-02-19T14:30:00Zjunk",
	    "2026-02-19T14:30:00+2",
	    "2026-02-19X14:30:00Z",
	    "1900-02-29",
	    "2026-2-19",
	    "2026-02-19T14:30:00+01:75",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms;
		if (norm_parse_time(bad[i], strlen(bad[i]), &ms) != LG_EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_format_time(void **state)
{
	(void)state;
	char t[NORM_TIME_LEN];
	assert_int_equal(norm_format_time(0, t), 24);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	norm_format_time(-1, t);
	assert_string_equal(t, "1969-12-31T23:59:59.999Z");
	norm_format_time(1771511400042, t);
	assert_string_equal(t, "2026-02-19T14:30:00.042Z");
	norm_format_time(951825600000, t);
	assert_string_equal(t, "2000-02-29T12:00:00.000Z");
	assert_int_equal(norm_format_time(253402300800000, t), 0);
	assert_int_equal(norm_format_time(-62167219200001, t), 0);
	/* The extremes (an empty checkpoint is INT64_MIN) are refused without
	 * overflowing, and leave an empty string. */
	assert_int_equal(norm_format_time(INT64_MIN, t), 0);
	assert_string_equal(t, "");
	assert_int_equal(norm_format_time(INT64_MAX, t), 0);
	norm_format_time(-62167219200000, t);
	assert_string_equal(t, "0000-01-01T00:00:00.000Z");
	/* Round trip over a wide spread of instants. */
	for (int64_t ms = -62167219200000; ms < 253402300799999; ms += 7776000123) {
		int64_t back;
		size_t n = norm_format_time(ms, t);
		assert_int_equal(n, 24);
		assert_int_equal(norm_parse_time(t, n, &back), 0);
		assert_int_equal(back, ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_files),  cmocka_unit_test(test_record_fields),
	    cmocka_unit_test(test_ctx_options), cmocka_unit_test(test_utf8_stats),
	    cmocka_unit_test(test_limits),      cmocka_unit_test(test_big_event_and_reuse),
	    cmocka_unit_test(test_parse_time),  cmocka_unit_test(test_format_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

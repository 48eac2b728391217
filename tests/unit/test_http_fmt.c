/* The HTTP sink's formatters, driven by tests/data/http_fmt: NAME.in holds
 * option lines (format, host, source, sourcetype, index, bulk_action,
 * labels), a blank line, then one record's JSON per line (its kind, level,
 * time, id, project_id, function_id and function_name fill the record);
 * NAME.out is the exact body expected. Each case is also checked gzipped
 * (it inflates back to the same bytes) and against a bound one byte short
 * (LG_ETOOBIG, never an overrun). Then templates, labels and the record
 * OTLP cannot read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "datafiles.h"
#include "err.h"
#include "http_fmt.h"
#include "json.h"

#define MAX_RECS 64

static char *str_at(const struct json_doc *d, const char *key)
{
	int t = json_obj_get(d, 0, key);
	if (t < 0 || d->toks[t].type != JSON_STRING)
		return NULL;
	char *s = malloc(d->toks[t].len + 1);
	assert_non_null(s);
	long n = json_unescape(d, t, s, d->toks[t].len + 1);
	assert_true(n >= 0);
	s[n] = '\0';
	return s;
}

static int64_t parse_ms(const char *ts)
{
	struct tm tm = {0};
	int ms = 0;
	assert_non_null(ts);
	assert_int_equal(sscanf(ts, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
	                 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* A record as the normalizer makes it; its strings are owned by the test
 * (freed by free_record). */
static struct record *make_record(const char *json)
{
	struct json_doc d;
	json_doc_init(&d, (uint32_t)strlen(json) + 1);
	assert_int_equal(json_parse(&d, json, strlen(json)), 0);
	char *kind = str_at(&d, "kind"), *level = str_at(&d, "level"), *ts = str_at(&d, "time");
	struct record *r = record_new(record_kind_parse(kind, strlen(kind)), str_at(&d, "id"),
	                              strdup(json), strlen(json));
	assert_non_null(r);
	r->level = (enum record_level)record_level_parse(level, strlen(level));
	r->start_ms = parse_ms(ts);
	r->project_id = str_at(&d, "project_id");
	r->function_id = str_at(&d, "function_id");
	r->function_name = str_at(&d, "function_name");
	free(kind);
	free(level);
	free(ts);
	json_doc_free(&d);
	return r;
}

static void free_record(struct record *r)
{
	free((char *)r->project_id);
	free((char *)r->function_id);
	free((char *)r->function_name);
	record_unref(r);
}

static int enum_of(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return (int)i;
	fail_msg("unknown value %s", v);
	return -1;
}

static void parse_labels(struct http_fmt *f, char *v)
{
	char err[256];
	for (char *item = strtok(v, ","); item; item = strtok(NULL, ",")) {
		while (*item == ' ')
			item++;
		assert_true(f->nlabels < HTTP_FMT_MAX_LABELS);
		if (http_fmt_label_parse(item, &f->labels[f->nlabels++], err, sizeof(err)) != 0)
			fail_msg("label %s: %s", item, err);
	}
}

static void inflate_equal(const struct buf *gz, const struct buf *plain)
{
	assert_true(gz->len >= 18);
	assert_int_equal((unsigned char)gz->data[0], 0x1f);
	assert_int_equal((unsigned char)gz->data[1], 0x8b);
	char *out = malloc(plain->len + 1);
	assert_non_null(out);
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz->data;
	z.avail_in = (uInt)gz->len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)plain->len + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, plain->len);
	assert_int_equal(z.avail_in, 0); /* one member, nothing after it */
	assert_memory_equal(out, plain->data, plain->len);
	inflateEnd(&z);
	free(out);
}

static void run_case(const char *dir, const char *name)
{
	static const char *const formats[] = {
	    "ndjson", "json_array", "splunk_hec", "elasticsearch_bulk", "loki", "otlp_json"};
	char path[2048];
	size_t in_len, out_len;
	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	char *in = df_read(path, &in_len);
	assert_non_null(in);
	snprintf(path, sizeof(path), "%s/%s.out", dir, name);
	char *want = df_read(path, &out_len);
	if (!want)
		fail_msg("%s: missing .out", name);
	struct http_fmt f = {0};
	char *recs_text = strstr(in, "\n\n");
	assert_non_null(recs_text);
	*recs_text = '\0';
	recs_text += 2;
	char *save = NULL;
	for (char *line = strtok_r(in, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(line, " = ");
		assert_non_null(eq);
		*eq = '\0';
		char *v = eq + 3;
		if (strcmp(line, "format") == 0)
			f.format = enum_of(v, formats, 6);
		else if (strcmp(line, "host") == 0)
			f.host = v;
		else if (strcmp(line, "source") == 0)
			f.source = v;
		else if (strcmp(line, "sourcetype") == 0)
			f.sourcetype = v;
		else if (strcmp(line, "index") == 0)
			f.index = v;
		else if (strcmp(line, "bulk_action") == 0)
			f.bulk_index = strcmp(v, "index") == 0;
		else if (strcmp(line, "labels") == 0)
			parse_labels(&f, v);
		else
			fail_msg("%s: unknown option %s", name, line);
	}
	struct record *recs[MAX_RECS];
	size_t n = 0;
	for (char *line = strtok_r(recs_text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_true(n < MAX_RECS);
		recs[n++] = make_record(line);
	}
	struct buf body, gz, small;
	buf_init(&body, 64u << 20);
	size_t bad = SIZE_MAX;
	assert_int_equal(http_fmt_body(&f, recs, n, &body, &bad), 0);
	if (body.len != out_len || memcmp(body.data, want, out_len) != 0) {
		df_differs("test_http_fmt", name, body.data, body.len);
	}
	buf_init(&gz, body.len + 1024);
	assert_int_equal(http_fmt_gzip(body.data, body.len, 6, &gz), 0);
	inflate_equal(&gz, &body);
	buf_init(&small, body.len - 1);
	assert_int_equal(http_fmt_body(&f, recs, n, &small, &bad), LG_ETOOBIG);
	assert_true(small.len < body.len);
	buf_free(&small);
	buf_free(&gz);
	buf_free(&body);
	for (size_t i = 0; i < n; i++)
		free_record(recs[i]);
	free(in);
	free(want);
}

static void test_cases(void **state)
{
	(void)state;
	assert_true(df_each_case("http_fmt", run_case) >= 9);
}

static void test_templates(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(
	    http_fmt_template_check("a-{project}-{function}-%Y.%m.%d-%H%%", err, sizeof(err)), 0);
	assert_int_equal(http_fmt_template_check("{functions}", err, sizeof(err)), LG_EINVAL);
	assert_non_null(strstr(err, "unknown placeholder at '{functions}'"));
	assert_int_equal(http_fmt_template_check("x-%y", err, sizeof(err)), LG_EINVAL);
	assert_non_null(strstr(err, "unknown date field at '%y'"));
	assert_int_equal(http_fmt_template_check("x-%", err, sizeof(err)), LG_EINVAL);

	struct record *r = make_record(
	    "{\"schema\":1,\"kind\":\"request\",\"time\":\"2026-02-19T04:05:06.007Z\","
	    "\"project_id\":\"P\",\"function_id\":\"F\",\"function_name\":\"Name \\u00e9\","
	    "\"id\":\"i\",\"level\":\"error\"}");
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(http_fmt_expand(&b,
	                                 "{project}/{function}/{function_name}/{kind}/{level}"
	                                 "/%Y-%m-%dT%H%%",
	                                 r, false),
	                 0);
	assert_string_equal(b.data, "P/F/Name \xc3\xa9/request/error/2026-02-19T04%");
	buf_reset(&b);
	/* An index name: lower case, refused characters as '_'. */
	assert_int_equal(http_fmt_expand(&b, "Logs {function_name}:*?,#<>|\"\\/", r, true), 0);
	assert_string_equal(b.data, "logs_name_\xc3\xa9___________");
	/* Cut at HTTP_FMT_FIELD_MAX, never inside a UTF-8 character. */
	char tmpl[400];
	memset(tmpl, 'a', HTTP_FMT_FIELD_MAX - 6);
	strcpy(tmpl + HTTP_FMT_FIELD_MAX - 6, "{function_name}{function_name}");
	buf_reset(&b);
	assert_int_equal(http_fmt_expand(&b, tmpl, r, false), 0);
	assert_int_equal(b.len, HTTP_FMT_FIELD_MAX - 1);
	assert_string_equal(b.data + HTTP_FMT_FIELD_MAX - 6, "Name ");
	buf_free(&b);
	free_record(r);
}

static void test_labels(void **state)
{
	(void)state;
	struct http_fmt_label l;
	char err[256];
	assert_int_equal(http_fmt_label_parse("function", &l, err, sizeof(err)), 0);
	assert_int_equal(l.src, HTTP_LABEL_FUNCTION);
	assert_int_equal(http_fmt_label_parse("env = prod", &l, err, sizeof(err)), 0);
	assert_int_equal(l.src, HTTP_LABEL_STATIC);
	assert_string_equal(l.value, "prod");
	assert_int_equal(http_fmt_label_parse("functions", &l, err, sizeof(err)), LG_EINVAL);
	assert_non_null(strstr(err, "is not a record field"));
	assert_int_equal(http_fmt_label_parse("9x=1", &l, err, sizeof(err)), LG_EINVAL);
	assert_int_equal(http_fmt_label_parse("a-b=1", &l, err, sizeof(err)), LG_EINVAL);
	assert_non_null(strstr(err, "letters, digits and '_'"));
}

static void test_otlp_unreadable_record(void **state)
{
	(void)state;
	struct record *ok =
	    make_record("{\"schema\":1,\"kind\":\"request\",\"time\":"
	                "\"2026-02-19T04:05:06.007Z\",\"id\":\"a\",\"level\":\"info\"}");
	struct record *bad = record_new(RECORD_REQUEST, strdup("b"), strdup("{\"x\":"), 5);
	assert_non_null(bad);
	struct record *recs[] = {ok, bad};
	struct http_fmt f = {.format = HTTP_FMT_OTLP_JSON};
	struct buf b;
	buf_init(&b, 65536);
	size_t at = 99;
	assert_int_equal(http_fmt_body(&f, recs, 2, &b, &at), LG_EPARSE);
	assert_int_equal(at, 1);
	/* Formats that carry the JSON as it is do not read it. */
	f.format = HTTP_FMT_NDJSON;
	buf_reset(&b);
	assert_int_equal(http_fmt_body(&f, recs, 2, &b, &at), 0);
	buf_free(&b);
	record_unref(bad);
	free_record(ok);
}

static void test_content_types(void **state)
{
	(void)state;
	assert_string_equal(http_fmt_content_type(HTTP_FMT_NDJSON), "application/x-ndjson");
	assert_string_equal(http_fmt_content_type(HTTP_FMT_ES_BULK), "application/x-ndjson");
	assert_string_equal(http_fmt_content_type(HTTP_FMT_LOKI), "application/json");
	assert_string_equal(http_fmt_content_type(HTTP_FMT_OTLP_JSON), "application/json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),         cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_labels),        cmocka_unit_test(test_otlp_unreadable_record),
	    cmocka_unit_test(test_content_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The HTTP sink's answer parsers, driven by tests/data/http_resp: NAME.in
 * is a line naming the parser ("bulk N create|index", "hec", "hec_acks",
 * "otlp") and then the collector's answer body; NAME.out is what the parser
 * read, one line per fact (an unreadable answer is "rc=-5"). Each body is
 * also fed cut at every length, which must never read past it. Then the
 * status classes, Retry-After, excerpts and HEC codes, as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datafiles.h"
#include "err.h"
#include "http_resp.h"

static void on_ack(void *arg, uint64_t id, bool acked)
{
	buf_printf(arg, "%llu %s\n", (unsigned long long)id, acked ? "true" : "false");
}

/* Runs the parser `how` names over body[0..len) and describes the result. */
static void parse(const char *how, const char *body, size_t len, struct buf *out)
{
	struct json_doc d;
	json_doc_init(&d, (uint32_t)len + 1);
	int rc = 0;
	if (strncmp(how, "bulk ", 5) == 0) {
		size_t n = strtoul(how + 5, NULL, 10);
		bool create = strstr(how, "create") != NULL;
		struct http_bulk_item *items = calloc(n + 1, sizeof(*items));
		struct buf reasons;
		buf_init(&reasons, 65536);
		bool errors = false;
		rc = http_resp_bulk(&d, body, len, n, create, items, &reasons, &errors);
		if (rc == 0) {
			buf_printf(out, "errors=%s\n", errors ? "true" : "false");
			for (size_t i = 0; i < n; i++)
				buf_printf(out, "%d %s %.*s\n", items[i].status,
				           http_resp_verdict_name(items[i].verdict),
				           (int)items[i].reason_len,
				           reasons.data + items[i].reason_off);
		}
		free(items);
		buf_free(&reasons);
	} else if (strcmp(how, "hec") == 0) {
		struct http_hec_answer a;
		rc = http_resp_hec(&d, body, len, &a);
		if (rc == 0)
			buf_printf(out, "code=%d ack=%lld invalid=%lld verdict=%s text=%s\n",
			           a.code, (long long)a.ack_id, (long long)a.invalid_event,
			           http_resp_hec_verdict(a.code) < 0
			               ? "by-status"
			               : http_resp_verdict_name(http_resp_hec_verdict(a.code)),
			           a.text);
	} else if (strcmp(how, "hec_acks") == 0) {
		rc = http_resp_hec_acks(&d, body, len, on_ack, out);
	} else if (strcmp(how, "otlp") == 0) {
		int64_t rejected = -1;
		char msg[128];
		rc = http_resp_otlp(&d, body, len, &rejected, msg, sizeof(msg));
		if (rc == 0)
			buf_printf(out, "rejected=%lld msg=%s\n", (long long)rejected, msg);
	} else {
		fail_msg("unknown parser %s", how);
	}
	if (rc != 0) {
		buf_reset(out);
		buf_printf(out, "rc=%d\n", rc);
	}
	json_doc_free(&d);
}

static void run_case(const char *dir, const char *name)
{
	char path[2048];
	size_t in_len, out_len;
	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	char *in = df_read(path, &in_len);
	assert_non_null(in);
	snprintf(path, sizeof(path), "%s/%s.out", dir, name);
	char *want = df_read(path, &out_len);
	if (!want)
		fail_msg("%s: missing .out", name);
	char *nl = strchr(in, '\n');
	assert_non_null(nl);
	*nl = '\0';
	const char *body = nl + 1;
	size_t len = in_len - (size_t)(body - in);
	struct buf got;
	buf_init(&got, 1 << 20);
	parse(in, body, len, &got);
	if (got.len != out_len || (out_len && memcmp(got.data, want, out_len) != 0)) {
		df_differs("test_http_resp", name, got.data, got.len);
	}
	/* Cut short at every length, in a buffer of exactly that size (ASan
	 * catches a read past it). */
	for (size_t cut = 0; cut < len; cut++) {
		char *part = malloc(cut ? cut : 1);
		assert_non_null(part);
		memcpy(part, body, cut);
		buf_reset(&got);
		parse(in, part, cut, &got);
		free(part);
	}
	buf_free(&got);
	free(in);
	free(want);
}

static void test_cases(void **state)
{
	(void)state;
	assert_true(df_each_case("http_resp", run_case) >= 20);
}

static void test_classify(void **state)
{
	(void)state;
	static const struct {
		long status;
		int verdict;
	} t[] = {
	    {200, HTTP_ACK},    {201, HTTP_ACK},    {204, HTTP_ACK},    {299, HTTP_ACK},
	    {0, HTTP_RETRY},    {408, HTTP_RETRY},  {429, HTTP_RETRY},  {500, HTTP_RETRY},
	    {502, HTTP_RETRY},  {503, HTTP_RETRY},  {504, HTTP_RETRY},  {599, HTTP_RETRY},
	    {401, HTTP_DOWN},   {403, HTTP_DOWN},   {404, HTTP_DOWN},   {407, HTTP_DOWN},
	    {301, HTTP_DOWN},   {307, HTTP_DOWN},   {413, HTTP_SPLIT},  {400, HTTP_REJECT},
	    {422, HTTP_REJECT}, {501, HTTP_REJECT}, {405, HTTP_REJECT}, {409, HTTP_REJECT},
	    {100, HTTP_REJECT},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (http_resp_classify(t[i].status) != t[i].verdict)
			fail_msg("status %ld: %s, expected %s", t[i].status,
			         http_resp_verdict_name(http_resp_classify(t[i].status)),
			         http_resp_verdict_name(t[i].verdict));
}

static void test_retry_after(void **state)
{
	(void)state;
	/* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example. */
	time_t now = 784111777;
	const int64_t max = 900000;
	assert_int_equal(http_resp_retry_after(NULL, now, max), -1);
	assert_int_equal(http_resp_retry_after("", now, max), -1);
	assert_int_equal(http_resp_retry_after("0", now, max), 0);
	assert_int_equal(http_resp_retry_after("3", now, max), 3000);
	assert_int_equal(http_resp_retry_after(" 120 ", now, max), 120000);
	assert_int_equal(http_resp_retry_after("100000", now, max), max);
	assert_int_equal(http_resp_retry_after("99999999999999999999999", now, max), max);
	assert_int_equal(http_resp_retry_after("-1", now, max), -1);
	assert_int_equal(http_resp_retry_after("1.5", now, max), -1);
	assert_int_equal(http_resp_retry_after("soon", now, max), -1);
	assert_int_equal(http_resp_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, max), 30000);
	assert_int_equal(http_resp_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now, max), 0);
	assert_int_equal(http_resp_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now, max), max);
	assert_int_equal(http_resp_retry_after("Sun, 06 Nov 1994 08:49:37", now, max), -1);
}

static void test_excerpt(void **state)
{
	(void)state;
	char out[16];
	http_resp_excerpt("{\n  \"a\": 1\n}\n", 13, out, sizeof(out));
	assert_string_equal(out, "{ \"a\": 1 }");
	http_resp_excerpt("abcdefghijklmnopqrstuvwxyz", 26, out, sizeof(out));
	assert_string_equal(out, "abcdefghijkl...");
	http_resp_excerpt("a\x01\xc3\xa9", 4, out, sizeof(out));
	assert_string_equal(out, "a...");
	http_resp_excerpt(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_hec_verdicts(void **state)
{
	(void)state;
	static const int want[] = {HTTP_ACK,    HTTP_DOWN,   HTTP_DOWN,   HTTP_DOWN,   HTTP_DOWN,
	                           HTTP_REJECT, HTTP_REJECT, HTTP_DOWN,   HTTP_RETRY,  HTTP_RETRY,
	                           HTTP_DOWN,   HTTP_DOWN,   HTTP_REJECT, HTTP_REJECT, HTTP_DOWN,
	                           HTTP_REJECT, HTTP_DOWN,   -1,          HTTP_RETRY,  HTTP_RETRY};
	for (int code = 0; code < 20; code++)
		if (http_resp_hec_verdict(code) != want[code])
			fail_msg("HEC code %d: %d, expected %d", code, http_resp_hec_verdict(code),
			         want[code]);
	assert_int_equal(http_resp_hec_verdict(-1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),        cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_retry_after),  cmocka_unit_test(test_excerpt),
	    cmocka_unit_test(test_hec_verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

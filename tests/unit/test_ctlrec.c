/* ctlrec: status, metrics and cost records from the API's answers, in the
 * documented key order; numbers keep their exact text (also past 2^53);
 * unknown fields are kept under "extra"; Failed and Stopped are level
 * error; a billing record has a null function_id; bad answers are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctlrec.h"
#include "err.h"

static const struct ctlrec_ctx ctx = {
    .project_id = "p1",
    .function_id = "fn1",
    .function_name = "ivr-handler",
    .labels_json = "{\"env\":\"prod\"}",
    .host = "h",
    .version = "9.9",
    .now_ms = 1771511400042, /* 2026-02-19T14:30:00.042Z */
};

#define HEAD(kind, id, level)                                                                      \
	"{\"schema\":1,\"kind\":\"" kind "\",\"time\":\"2026-02-19T14:30:00.042Z\","               \
	"\"project_id\":\"p1\",\"function_id\":\"fn1\",\"function_name\":\"ivr-handler\","         \
	"\"id\":\"" id "\",\"level\":\"" level "\""
#define TAIL ",\"labels\":{\"env\":\"prod\"},\"agent\":{\"host\":\"h\",\"version\":\"9.9\"}"

static void expect(struct record *r, const char *json)
{
	assert_non_null(r);
	assert_string_equal(r->json, json);
	assert_int_equal(r->json_len, strlen(json));
	record_unref(r);
}

static void test_status_first_and_change(void **state)
{
	(void)state;
	struct record *r;
	const char *a = "{\"functionId\":\"fn1\",\"status\":\"Running\",\"error\":null,"
	                "\"url\":\"https://x\",\"region\":\"eu1\"}";
	assert_int_equal(ctlrec_status(&ctx, a, strlen(a), NULL, &r), 0);
	assert_int_equal(r->kind, RECORD_STATUS);
	assert_int_equal(r->level, RECORD_INFO);
	assert_string_equal(r->function_name, "ivr-handler");
	expect(
	    r,
	    HEAD("status", "status:fn1:1771511400042",
	         "info") ",\"function_status\":\"Running\",\"previous_status\":null,\"error\":null,"
	                 "\"url\":\"https://x\",\"message\":\"status Running\"" TAIL
	                 ",\"extra\":{\"region\":\"eu1\"}}");
	const char *f =
	    "{\"functionId\":\"fn1\",\"status\":\"Failed\",\"error\":\"exit \\\"1\\\"\"}";
	assert_int_equal(ctlrec_status(&ctx, f, strlen(f), "Running", &r), 0);
	assert_int_equal(r->level, RECORD_ERROR);
	expect(r, HEAD("status", "status:fn1:1771511400042",
	               "error") ",\"function_status\":\"Failed\",\"previous_status\":\"Running\","
	                        "\"error\":\"exit \\\"1\\\"\","
	                        "\"message\":\"status changed from Running to Failed: exit "
	                        "\\\"1\\\"\"" TAIL "}");
	const char *s = "{\"status\":\"Stopped\"}";
	assert_int_equal(ctlrec_status(&ctx, s, strlen(s), "Running", &r), 0);
	assert_int_equal(r->level, RECORD_ERROR);
	record_unref(r);
}

static void test_status_fields(void **state)
{
	(void)state;
	char st[16], err[8];
	const char *a = "{\"status\":\"Deploying\",\"error\":\"a long error text\"}";
	assert_int_equal(ctlrec_status_fields(a, strlen(a), st, sizeof(st), err, sizeof(err)), 0);
	assert_string_equal(st, "Deploying");
	assert_string_equal(err, ""); /* does not fit: left empty, never cut */
	const char *b = "{\"status\":\"Queued\",\"error\":null}";
	assert_int_equal(ctlrec_status_fields(b, strlen(b), st, sizeof(st), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(ctlrec_status_fields("{}", 2, st, sizeof(st), err, sizeof(err)),
	                 LG_EPARSE);
	assert_int_equal(ctlrec_status_fields("[1", 2, st, sizeof(st), err, sizeof(err)),
	                 LG_EPARSE);
}

static void test_metrics(void **state)
{
	(void)state;
	struct record *r;
	const char *m =
	    "{\"functionName\":\"ivr-handler\",\"timeRange\":\"1h\","
	    "\"summary\":{\"totalRequests\":12345678901234567890,\"avgResponseTime\":41.50,"
	    "\"errorRate\":1e-2},"
	    "\"responseTimeSeries\":[{\"timestamp\":\"t1\",\"averageResponseTime\":1},"
	    "{\"timestamp\":\"t2\",\"averageResponseTime\":2.0}],"
	    "\"requestVolumeSeries\":[{\"timestamp\":\"t2\",\"totalRequests\":7}],"
	    "\"emptySeries\":[],\"sampled\":true}";
	assert_int_equal(ctlrec_metrics(&ctx, m, strlen(m), &r), 0);
	assert_int_equal(r->kind, RECORD_METRICS);
	expect(r, HEAD("metrics", "metrics:fn1:1771511400042",
	               "info") ",\"time_range\":\"1h\",\"summary\":{\"totalRequests\":"
	                       "12345678901234567890,"
	                       "\"avgResponseTime\":41.50,\"errorRate\":1e-2},"
	                       "\"latest\":{\"responseTimeSeries\":{\"timestamp\":\"t2\","
	                       "\"averageResponseTime\":2.0},\"requestVolumeSeries\":{"
	                       "\"timestamp\":\"t2\","
	                       "\"totalRequests\":7}}" TAIL ",\"extra\":{\"sampled\":true}}");
	const char *bad = "{\"timeRange\":\"1h\"}";
	assert_int_equal(ctlrec_metrics(&ctx, bad, strlen(bad), &r), LG_EPARSE);
	assert_null(r);
	assert_int_equal(ctlrec_metrics(&ctx, "{", 1, &r), LG_EPARSE);
}

static void test_cost_and_billing(void **state)
{
	(void)state;
	struct record *r;
	const char *c =
	    "{\"functionId\":\"fn1\",\"invocations\":60,\"costs\":{\"total\":0.000012}}";
	assert_int_equal(ctlrec_cost(&ctx, c, strlen(c), &r), 0);
	assert_int_equal(r->kind, RECORD_COST);
	expect(r,
	       HEAD("cost", "cost:fn1:1771511400042",
	            "info") ",\"cost\":"
	                    "{\"functionId\":"
	                    "\"fn1\",\"invocations\":60,\"costs\":{\"total\":0.000012}}" TAIL "}");
	struct ctlrec_ctx p = ctx;
	p.function_id = NULL;
	p.function_name = NULL;
	p.labels_json = NULL;
	const char *b = "{\"projectId\":\"p1\",\"totalCost\":1.5}";
	assert_int_equal(ctlrec_cost(&p, b, strlen(b), &r), 0);
	assert_null(r->function_id);
	expect(r,
	       "{\"schema\":1,\"kind\":\"cost\",\"time\":\"2026-02-19T14:30:00.042Z\","
	       "\"project_id\":\"p1\",\"function_id\":null,\"id\":\"cost:project:1771511400042\","
	       "\"level\":\"info\",\"billing\":{\"projectId\":\"p1\",\"totalCost\":1.5},"
	       "\"agent\":{\"host\":\"h\",\"version\":\"9.9\"}}");
	assert_int_equal(ctlrec_cost(&ctx, "[]", 2, &r), LG_EPARSE);
}

static void test_invalid_utf8_is_repaired(void **state)
{
	(void)state;
	struct record *r;
	const char *a = "{\"status\":\"Failed\",\"error\":\"bad \xff byte\"}";
	assert_int_equal(ctlrec_status(&ctx, a, strlen(a), NULL, &r), 0);
	assert_non_null(strstr(r->json, "\"error\":\"bad \xef\xbf\xbd byte\""));
	record_unref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_first_and_change),
	    cmocka_unit_test(test_status_fields),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_cost_and_billing),
	    cmocka_unit_test(test_invalid_utf8_is_repaired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Aggregates computed from the generated events: metrics, costs, billing. */
#include "api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Per-request pricing of the simulated bill, in USD. */
#define PRICE_PER_INVOCATION 0.0000002
#define PRICE_PER_GB_SECOND 0.0000166667

struct range {
	const char *name;
	int64_t span_ms;
	int buckets;
};

static const struct range ranges[] = {
    {"1h", 3600000LL, 12},   {"4h", 14400000LL, 16},    {"24h", 86400000LL, 24},
    {"7d", 604800000LL, 28}, {"30d", 2592000000LL, 30},
};

struct sample {
	int bucket;
	uint32_t exec_ms;
	int error;
};

static int by_bucket(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	if (x->bucket != y->bucket)
		return x->bucket - y->bucket;
	return (x->exec_ms > y->exec_ms) - (x->exec_ms < y->exec_ms);
}

static double round_to(double v, double scale)
{
	return round(v * scale) / scale;
}

/* A stand-in for CPU load: longer requests burn more of their slice. */
static double cpu_of(const struct gen_event *ev)
{
	double v = 5.0 + ev->exec_ms / 20.0;

	return v > 95.0 ? 95.0 : v;
}

static void add_series_point(cJSON *arr, int64_t ts_ms, const char *k1, double v1, const char *k2,
                             double v2)
{
	cJSON *p = cJSON_CreateObject();
	char ts[32];

	sim_fmt_time(ts_ms, ts);
	cJSON_AddStringToObject(p, "timestamp", ts);
	cJSON_AddNumberToObject(p, k1, v1);
	if (k2)
		cJSON_AddNumberToObject(p, k2, v2);
	cJSON_AddItemToArray(arr, p);
}

void api_metrics(struct http_conn *c, struct http_req *r, struct gen_function *f)
{
	char *tr = sim_query_get(r->query, "timeRange");
	const struct range *rg = NULL;
	int64_t now = sim_now_ms(), from, step;
	struct sample *s;
	size_t n = 0, errors = 0;
	double sum_exec = 0, sum_mem = 0, sum_cpu = 0;
	cJSON *o, *sum, *rts, *vol, *ers;

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!strcmp(tr && *tr ? tr : "24h", ranges[i].name))
			rg = &ranges[i];
	free(tr);
	if (!rg) {
		api_error(c, r, 400, "", "timeRange must be 1h, 4h, 24h, 7d or 30d");
		return;
	}
	from = now - rg->span_ms;
	step = rg->span_ms / rg->buckets;
	s = malloc((f->ndone - f->done_head + 1) * sizeof(*s));
	if (!s) {
		api_error(c, r, 500, "", "out of memory");
		return;
	}
	for (size_t i = f->done_head; i < f->ndone; i++) {
		const struct gen_event *ev = f->done[i];

		if (ev->start_ms < from || ev->start_ms > now || !gen_retained(ev, now))
			continue;
		s[n].bucket = (int)((ev->start_ms - from) / step);
		if (s[n].bucket >= rg->buckets)
			s[n].bucket = rg->buckets - 1;
		s[n].exec_ms = ev->exec_ms;
		s[n].error = ev->status >= 400;
		n++;
		sum_exec += ev->exec_ms;
		sum_mem += ev->mem_mb;
		sum_cpu += cpu_of(ev);
		errors += ev->status >= 400;
	}
	qsort(s, n, sizeof(*s), by_bucket);

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "functionName", f->name);
	cJSON_AddStringToObject(o, "timeRange", rg->name);
	sum = cJSON_AddObjectToObject(o, "summary");
	cJSON_AddNumberToObject(sum, "totalRequests", (double)n);
	cJSON_AddNumberToObject(sum, "avgResponseTime", n ? round_to(sum_exec / n, 10) : 0);
	cJSON_AddNumberToObject(sum, "errorRate", n ? round_to(100.0 * errors / n, 100) : 0);
	cJSON_AddNumberToObject(sum, "avgMemory", n ? round_to(sum_mem / n, 10) : 0);
	cJSON_AddNumberToObject(sum, "avgCpuUsage", n ? round_to(sum_cpu / n, 10) : 0);
	rts = cJSON_AddArrayToObject(o, "responseTimeSeries");
	vol = cJSON_AddArrayToObject(o, "requestVolumeSeries");
	ers = cJSON_AddArrayToObject(o, "errorRateSeries");
	for (int b = 0, i = 0; b < rg->buckets; b++) {
		int start = i, cnt;
		double bsum = 0, p95 = 0, berr = 0;

		while (i < (int)n && s[i].bucket == b) {
			berr += s[i].error;
			bsum += s[i++].exec_ms;
		}
		cnt = i - start;
		if (cnt)
			p95 = s[start + (cnt * 95 + 99) / 100 - 1].exec_ms;
		add_series_point(rts, from + b * step, "averageResponseTime",
		                 cnt ? round_to(bsum / cnt, 10) : 0, "p95ResponseTime", p95);
		add_series_point(vol, from + b * step, "totalRequests", cnt, NULL, 0);
		add_series_point(ers, from + b * step, "errorRate",
		                 cnt ? round_to(100.0 * berr / cnt, 100) : 0, NULL, 0);
	}
	free(s);
	api_send_json(c, r, o);
}

static void month_bounds(int64_t now_ms, char start[64], char end[64])
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(start, 64, "%04d-%02d-01T00:00:00.000Z", tm.tm_year + 1900, tm.tm_mon + 1);
	snprintf(end, 64, "%04d-%02d-01T00:00:00.000Z", tm.tm_year + 1900 + (tm.tm_mon == 11),
	         tm.tm_mon == 11 ? 1 : tm.tm_mon + 2);
}

static double cost_of(const struct gen_function *f)
{
	return round_to(
	    (double)f->finished * PRICE_PER_INVOCATION + f->gb_seconds * PRICE_PER_GB_SECOND, 1e6);
}

void api_costs(struct http_conn *c, struct http_req *r, struct gen_function *f)
{
	char *period = sim_query_get(r->query, "period");
	char start[64], end[64];
	cJSON *o, *costs;
	int ok = !period || !*period || !strcmp(period, "month");

	free(period);
	if (!ok) {
		api_error(c, r, 400, "", "period must be month");
		return;
	}
	month_bounds(sim_now_ms(), start, end);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "functionId", f->id);
	cJSON_AddStringToObject(o, "functionName", f->name);
	cJSON_AddStringToObject(o, "period", "month");
	cJSON_AddStringToObject(o, "periodStart", start);
	cJSON_AddStringToObject(o, "periodEnd", end);
	cJSON_AddStringToObject(o, "currency", "USD");
	cJSON_AddNumberToObject(o, "invocations", (double)f->finished);
	cJSON_AddNumberToObject(o, "computeGbSeconds", round_to(f->gb_seconds, 1000));
	costs = cJSON_AddObjectToObject(o, "costs");
	cJSON_AddNumberToObject(costs, "invocations",
	                        round_to((double)f->finished * PRICE_PER_INVOCATION, 1e6));
	cJSON_AddNumberToObject(costs, "compute",
	                        round_to(f->gb_seconds * PRICE_PER_GB_SECOND, 1e6));
	cJSON_AddNumberToObject(costs, "total", cost_of(f));
	api_send_json(c, r, o);
}

void api_billing(struct http_conn *c, struct http_req *r)
{
	char start[64], end[64];
	double total = 0;
	cJSON *o = cJSON_CreateObject(), *arr;

	month_bounds(sim_now_ms(), start, end);
	cJSON_AddStringToObject(o, "projectId", sim_cfg.project);
	cJSON_AddStringToObject(o, "periodStart", start);
	cJSON_AddStringToObject(o, "periodEnd", end);
	cJSON_AddStringToObject(o, "currency", "USD");
	arr = cJSON_AddArrayToObject(o, "functions");
	for (int i = 0; i < gen_nfns; i++) {
		cJSON *fo;

		if (gen_fns[i].deleted)
			continue;
		fo = cJSON_CreateObject();
		cJSON_AddStringToObject(fo, "functionId", gen_fns[i].id);
		cJSON_AddStringToObject(fo, "functionName", gen_fns[i].name);
		cJSON_AddNumberToObject(fo, "invocations", (double)gen_fns[i].finished);
		cJSON_AddNumberToObject(fo, "cost", cost_of(&gen_fns[i]));
		cJSON_AddItemToArray(arr, fo);
		total += cost_of(&gen_fns[i]);
	}
	cJSON_AddNumberToObject(o, "totalCost", round_to(total, 1e6));
	api_send_json(c, r, o);
}

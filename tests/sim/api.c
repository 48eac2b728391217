/* Request routing and the /v1/projects/... endpoints except metrics and costs. */
#include "api.h"
#include "auth.h"
#include "ctl.h"
#include "fault.h"
#include "stream.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGMENTS 8

void api_error(struct http_conn *c, const struct http_req *r, int status, const char *extra,
               const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
	char *json;

	cJSON_AddNumberToObject(e, "code", status);
	cJSON_AddStringToObject(e, "message", msg);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	http_respond(c, r, status, extra, "application/json", json, json ? strlen(json) : 0);
	cJSON_free(json);
}

void api_send_json(struct http_conn *c, const struct http_req *r, cJSON *o)
{
	char *json = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	if (!json) {
		api_error(c, r, 500, "", "out of memory");
		return;
	}
	http_respond(c, r, 200, "", "application/json", json, strlen(json));
	cJSON_free(json);
}

/* Fetches a query parameter; a present but invalid value is a 400 by the caller. */
static char *param(const struct http_req *r, const char *key)
{
	return sim_query_get(r->query, key);
}

static void fmt_lower_url(const struct gen_function *f, char *out, size_t len)
{
	snprintf(out, len, "https://fn-%s.functions.sinch.com", f->id);
	for (char *p = out; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
}

static void list_functions(struct http_conn *c, struct http_req *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "functions");
	char ts[32];

	int total = 0;

	for (int i = 0; i < gen_nfns; i++) {
		cJSON *fo;

		if (gen_fns[i].deleted)
			continue;
		fo = cJSON_CreateObject();
		cJSON_AddStringToObject(fo, "id", gen_fns[i].id);
		cJSON_AddStringToObject(fo, "name", gen_fns[i].name);
		cJSON_AddStringToObject(fo, "runtime", gen_fns[i].runtime);
		cJSON_AddStringToObject(fo, "status", gen_fns[i].status);
		sim_fmt_time(gen_fns[i].created_ms, ts);
		cJSON_AddStringToObject(fo, "createdAt", ts);
		sim_fmt_time(i < sim_cfg.functions ? sim_cfg.epoch_ms - (int64_t)(i + 1) * 3600000
		                                   : gen_fns[i].created_ms,
		             ts);
		cJSON_AddStringToObject(fo, "updatedAt", ts);
		cJSON_AddItemToArray(arr, fo);
		total++;
	}
	cJSON_AddNumberToObject(o, "total", total);
	api_send_json(c, r, o);
}

static void function_status(struct http_conn *c, struct http_req *r, struct gen_function *f)
{
	cJSON *o = cJSON_CreateObject();
	char url[96];

	fmt_lower_url(f, url, sizeof(url));
	cJSON_AddStringToObject(o, "functionId", f->id);
	cJSON_AddStringToObject(o, "status", f->status);
	if (f->error[0])
		cJSON_AddStringToObject(o, "error", f->error);
	else
		cJSON_AddNullToObject(o, "error");
	cJSON_AddStringToObject(o, "url", url);
	api_send_json(c, r, o);
}

/* Parses an optional ?level=; 0 on success (absent means debug). */
static int level_param(const struct http_req *r, int *level)
{
	char *v = param(r, "level");

	*level = LVL_DEBUG;
	if (v && *v) {
		*level = sim_level_parse(v);
		free(v);
		return *level < 0 ? -1 : 0;
	}
	free(v);
	return 0;
}

static int time_param(const struct http_req *r, const char *key, int *have, int64_t *us)
{
	char *v = param(r, key);
	int rc = 0;

	*have = 0;
	if (v && *v) {
		rc = sim_parse_time(v, us) == SIM_OK ? 0 : -1;
		*have = rc == 0;
	}
	free(v);
	return rc;
}

static void logs_stream(struct http_conn *c, struct http_req *r, struct gen_function *f)
{
	struct stream_params p = {0};
	const char *last_id = http_req_header(r, "Last-Event-ID");

	if (time_param(r, "since", &p.have_since, &p.since_us)) {
		api_error(c, r, 400, "", "since must be an RFC 3339 timestamp");
		return;
	}
	if (level_param(r, &p.min_level)) {
		api_error(c, r, 400, "", "level must be debug, info, warning or error");
		return;
	}
	/* Resume works by ?since=; the header is only noted. */
	if (last_id)
		LOGI("stream for %s sent Last-Event-ID: %.64s", f->name, last_id);
	if (stream_start(c, f, &p) != SIM_OK)
		api_error(c, r, 500, "", "out of memory");
}

struct logs_query {
	int have_start, have_end;
	int64_t start_us, end_us;
	int min_level;
	char *search;
	int status_class; /* 0 any, 2 success, 3 redirect, 4 error */
	long page, page_size;
	int desc;
};

static int long_param(const struct http_req *r, const char *key, long def, long *out)
{
	char *v = param(r, key), *end;
	int rc = 0;

	*out = def;
	if (v && *v) {
		*out = strtol(v, &end, 10);
		rc = *end || *out < 1 ? -1 : 0;
	}
	free(v);
	return rc;
}

static const char *parse_logs_query(const struct http_req *r, struct logs_query *q)
{
	char *v;

	memset(q, 0, sizeof(*q));
	if (time_param(r, "startTime", &q->have_start, &q->start_us))
		return "startTime must be an RFC 3339 timestamp";
	if (time_param(r, "endTime", &q->have_end, &q->end_us))
		return "endTime must be an RFC 3339 timestamp";
	if (level_param(r, &q->min_level))
		return "level must be debug, info, warning or error";
	if (long_param(r, "page", 1, &q->page))
		return "page must be a positive integer";
	if (long_param(r, "pageSize", 100, &q->page_size))
		return "pageSize must be a positive integer";
	if (q->page_size > 1000)
		q->page_size = 1000;
	v = param(r, "status");
	if (v && *v) {
		q->status_class = !strcmp(v, "success")    ? 2
		                  : !strcmp(v, "redirect") ? 3
		                  : !strcmp(v, "error")    ? 4
		                                           : -1;
	}
	free(v);
	if (q->status_class < 0)
		return "status must be success, redirect or error";
	v = param(r, "order");
	q->desc = 1;
	if (v && *v) {
		q->desc = !strcmp(v, "desc") ? 1 : !strcmp(v, "asc") ? 0 : -1;
	}
	free(v);
	if (q->desc < 0)
		return "order must be asc or desc";
	q->search = param(r, "search");
	if (q->search && !*q->search) {
		free(q->search);
		q->search = NULL;
	}
	return NULL;
}

static int logs_match(const struct logs_query *q, const struct gen_event *ev)
{
	int64_t us = ev->start_ms * 1000;

	if (q->have_start && us < q->start_us)
		return 0;
	if (q->have_end && us > q->end_us)
		return 0;
	if (ev->level < q->min_level)
		return 0;
	if (q->status_class == 2 && (ev->status < 200 || ev->status >= 300))
		return 0;
	if (q->status_class == 3 && (ev->status < 300 || ev->status >= 400))
		return 0;
	if (q->status_class == 4 && ev->status < 400)
		return 0;
	return !q->search || strcasestr(ev->search, q->search);
}

static int by_start_asc(const void *a, const void *b)
{
	const struct gen_event *x = *(const struct gen_event *const *)a;
	const struct gen_event *y = *(const struct gen_event *const *)b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int by_start_desc(const void *a, const void *b)
{
	return by_start_asc(b, a);
}

static void logs_history(struct http_conn *c, struct http_req *r, struct gen_function *f)
{
	struct logs_query q;
	const char *err = parse_logs_query(r, &q);
	int64_t now = sim_now_ms();
	struct gen_event **sel;
	size_t n = 0, first, last, pages;
	struct sbuf out;

	if (err) {
		free(q.search);
		api_error(c, r, 400, "", err);
		return;
	}
	sel = malloc((f->ndone - f->done_head + 1) * sizeof(*sel));
	if (!sel) {
		free(q.search);
		api_error(c, r, 500, "", "out of memory");
		return;
	}
	for (size_t i = f->done_head; i < f->ndone; i++)
		if (gen_retained(f->done[i], now) && logs_match(&q, f->done[i]))
			sel[n++] = f->done[i];
	qsort(sel, n, sizeof(*sel), q.desc ? by_start_desc : by_start_asc);
	pages = (n + (size_t)q.page_size - 1) / (size_t)q.page_size;
	first = (size_t)(q.page - 1) * (size_t)q.page_size;
	if ((size_t)(q.page - 1) > n)
		first = n;
	last = first + (size_t)q.page_size > n ? n : first + (size_t)q.page_size;
	sbuf_init(&out, 256 * 1024 * 1024);
	sbuf_adds(&out, "{\"requests\":[");
	for (size_t i = first; i < last; i++) {
		if (i > first)
			sbuf_add(&out, ",", 1);
		sbuf_add(&out, sel[i]->json, sel[i]->json_len);
	}
	if (sbuf_printf(&out,
	                "],\"pagination\":{\"page\":%ld,\"pageSize\":%ld,\"totalCount\":%zu,"
	                "\"totalPages\":%zu}}",
	                q.page, q.page_size, n, pages) != SIM_OK)
		api_error(c, r, 500, "", "response too large");
	else
		http_respond(c, r, 200, "", "application/json", out.p, out.len);
	sbuf_free(&out);
	free(sel);
	free(q.search);
}

/* Applies the status=CODE[:COUNT] fault to a stream request; 1 if it answered. */
static int stream_status_fault(struct http_conn *c, struct http_req *r)
{
	int code = fault.status_code;

	if (!code)
		return 0;
	if (fault.status_count > 0 && --fault.status_count == 0)
		fault.status_code = 0;
	fault_applied[F_STATUS]++;
	switch (code) {
	case 401:
		auth_reject(c, r, AUTH_EXPIRED);
		break;
	case 204:
		http_respond(c, r, 204, "", "", "", 0);
		break;
	case 429:
	case 503:
		api_error(c, r, code, "Retry-After: 1\r\n", "injected fault");
		break;
	default:
		api_error(c, r, code, "", "injected fault");
	}
	return 1;
}

/* Applies the api-status=CODE[:COUNT] fault to a non-stream request; 1 if it answered. */
static int api_status_fault(struct http_conn *c, struct http_req *r)
{
	int code = fault.api_status_code;

	if (!code)
		return 0;
	if (fault.api_status_count > 0 && --fault.api_status_count == 0)
		fault.api_status_code = 0;
	fault_applied[F_API_STATUS]++;
	if (code == 401)
		auth_reject(c, r, AUTH_EXPIRED);
	else if (code == 429 || code == 503)
		api_error(c, r, code, "Retry-After: 1\r\n", "injected fault");
	else
		api_error(c, r, code, "", "injected fault");
	return 1;
}

/* Whether the forbid= fault names the function of this path segment. */
static int forbidden(const char *seg)
{
	const struct gen_function *f;

	if (!fault.forbid[0])
		return 0;
	f = gen_find_any(fault.forbid);
	return !strcmp(seg, fault.forbid) || (f && f == gen_find_any(seg));
}

static enum limit_class classify(char **seg, int nseg, int *kind)
{
	/* kind: 0 list, 1 status, 2 stream, 3 logs, 4 metrics, 5 costs, 6 billing */
	*kind = -1;
	if (nseg < 4 || strcmp(seg[0], "v1") || strcmp(seg[1], "projects"))
		return LC_OTHER;
	if (nseg == 5 && !strcmp(seg[3], "billing") && !strcmp(seg[4], "current")) {
		*kind = 6;
		return LC_API;
	}
	if (strcmp(seg[3], "functions"))
		return LC_OTHER;
	if (nseg == 4)
		*kind = 0;
	else if (nseg == 6 && !strcmp(seg[5], "status"))
		*kind = 1;
	else if (nseg == 7 && !strcmp(seg[5], "logs") && !strcmp(seg[6], "stream"))
		*kind = 2;
	else if (nseg == 6 && !strcmp(seg[5], "logs"))
		*kind = 3;
	else if (nseg == 6 && !strcmp(seg[5], "metrics"))
		*kind = 4;
	else if (nseg == 6 && !strcmp(seg[5], "costs"))
		*kind = 5;
	if (*kind == 2)
		return LC_STREAM;
	if (*kind == 3)
		return LC_LOGS;
	return *kind < 0 ? LC_OTHER : LC_API;
}

static void api_v1(struct http_conn *c, struct http_req *r, char **seg, int kind,
                   enum limit_class cls)
{
	enum auth_result ar;
	struct gen_function *f = NULL;
	int retry = 0;
	char hdr[64];

	if (strcmp(r->method, "GET") != 0) {
		api_error(c, r, 405, "Allow: GET\r\n", "method not allowed");
		return;
	}
	ar = auth_check(r);
	if (ar != AUTH_OK) {
		auth_reject(c, r, ar);
		return;
	}
	if (fault.token_expiry) {
		fault.token_expiry = 0;
		fault_applied[F_TOKEN_EXPIRY]++;
		auth_reject(c, r, AUTH_EXPIRED);
		return;
	}
	if (kind != 0 && kind != 6 && forbidden(seg[4])) {
		fault_applied[F_FORBID]++;
		api_error(c, r, 403, "", "injected fault: the key has no access to this function");
		return;
	}
	if (cls != LC_STREAM && api_status_fault(c, r))
		return;
	if (cls == LC_STREAM) {
		if (stream_status_fault(c, r))
			return;
		if (!sim_cfg.no_limits && stream_count() >= LIMIT_STREAMS) {
			sim_stats.limited[cls]++;
			api_error(c, r, 429, "Retry-After: 5\r\n",
			          "too many concurrent log streams for this project");
			return;
		}
	} else if (limit_take(cls, &retry)) {
		sim_stats.limited[cls]++;
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
		api_error(c, r, 429, hdr, "rate limit exceeded for this project");
		return;
	}
	if (strcmp(seg[2], sim_cfg.project) != 0) {
		api_error(c, r, 404, "", "project not found");
		return;
	}
	if (kind != 0 && kind != 6) {
		f = gen_find(seg[4]);
		if (!f) {
			api_error(c, r, 404, "", "function not found");
			return;
		}
	}
	switch (kind) {
	case 0:
		list_functions(c, r);
		break;
	case 1:
		function_status(c, r, f);
		break;
	case 2:
		logs_stream(c, r, f);
		break;
	case 3:
		logs_history(c, r, f);
		break;
	case 4:
		api_metrics(c, r, f);
		break;
	case 5:
		api_costs(c, r, f);
		break;
	default:
		api_billing(c, r);
	}
}

void api_handle(struct http_conn *c, struct http_req *r)
{
	char *seg[MAX_SEGMENTS], *copy, *save = NULL;
	int nseg = 0, kind;
	enum limit_class cls;

	LOGD("conn %llu: %s %s", (unsigned long long)c->id, r->method, r->path);
	if (!strcmp(r->path, "/oauth2/token")) {
		sim_stats.requests[LC_TOKEN]++;
		auth_token_endpoint(c, r);
		return;
	}
	if (!strncmp(r->path, "/_sim/", 6)) {
		sim_stats.requests[LC_SIM]++;
		if (!strcmp(r->path, "/_sim/fault"))
			ctl_fault(c, r);
		else if (!strcmp(r->path, "/_sim/stats"))
			ctl_stats(c, r);
		else if (!strcmp(r->path, "/_sim/events"))
			ctl_events(c, r);
		else if (!strcmp(r->path, "/_sim/functions"))
			ctl_functions(c, r);
		else
			api_error(c, r, 404, "", "no such control endpoint");
		return;
	}
	copy = strdup(r->path);
	if (!copy) {
		http_close(c);
		return;
	}
	for (char *t = strtok_r(copy, "/", &save); t && nseg < MAX_SEGMENTS;
	     t = strtok_r(NULL, "/", &save))
		seg[nseg++] = t;
	cls = classify(seg, nseg, &kind);
	sim_stats.requests[cls]++;
	if (kind < 0)
		api_error(c, r, 404, "", "no such endpoint");
	else
		api_v1(c, r, seg, kind, cls);
	free(copy);
}

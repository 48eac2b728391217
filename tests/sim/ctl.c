/* The unauthenticated /_sim/ control and observation endpoints. */
#include "ctl.h"
#include "api.h"
#include "fault.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_stats sim_stats;

static void send_faults(struct http_conn *c, struct http_req *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "faults", fault_to_json());
	api_send_json(c, r, o);
}

void ctl_fault(struct http_conn *c, struct http_req *r)
{
	char err[160];
	const char *p = r->query;

	if (!strcmp(r->method, "GET")) {
		send_faults(c, r);
		return;
	}
	if (strcmp(r->method, "POST")) {
		api_error(c, r, 405, "Allow: GET, POST\r\n", "method not allowed");
		return;
	}
	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *pair = strndup(p, len), *eq;
		int rc = SIM_OK;

		if (!pair) {
			api_error(c, r, 500, "", "out of memory");
			return;
		}
		eq = strchr(pair, '=');
		if (eq)
			*eq++ = '\0';
		sim_url_decode(pair);
		if (eq)
			sim_url_decode(eq);
		if (!strcmp(pair, "clear")) {
			fault_clear();
			LOGI("faults cleared");
		} else if (*pair) {
			rc = fault_set(pair, eq, err, sizeof(err));
			if (rc == SIM_OK)
				LOGI("fault %s=%s set", pair, eq ? eq : "1");
		}
		free(pair);
		if (rc != SIM_OK) {
			api_error(c, r, 400, "", err);
			return;
		}
		p = end ? end + 1 : NULL;
	}
	send_faults(c, r);
}

void ctl_stats(struct http_conn *c, struct http_req *r)
{
	cJSON *o = cJSON_CreateObject(), *fns, *st, *req, *lim, *fa;
	char ts[32];

	sim_fmt_time(sim_now_ms(), ts);
	cJSON_AddStringToObject(o, "simTime", ts);
	sim_fmt_time(sim_cfg.epoch_ms, ts);
	cJSON_AddStringToObject(o, "epoch", ts);
	fns = cJSON_AddArrayToObject(o, "functions");
	for (int i = 0; i < gen_nfns; i++) {
		const struct gen_function *f = &gen_fns[i];
		cJSON *fo = cJSON_CreateObject();

		cJSON_AddStringToObject(fo, "id", f->id);
		cJSON_AddStringToObject(fo, "name", f->name);
		cJSON_AddBoolToObject(fo, "deleted", f->deleted);
		cJSON_AddStringToObject(fo, "status", f->status);
		cJSON_AddNumberToObject(fo, "started", (double)f->started);
		cJSON_AddNumberToObject(fo, "generated", (double)f->finished);
		cJSON_AddNumberToObject(fo, "sent", (double)f->sent);
		cJSON_AddNumberToObject(fo, "retained", (double)(f->ndone - f->done_head));
		cJSON_AddItemToArray(fns, fo);
	}
	st = cJSON_AddObjectToObject(o, "streams");
	cJSON_AddNumberToObject(st, "total", (double)sim_stats.streams_total);
	cJSON_AddNumberToObject(st, "current", stream_count());
	cJSON_AddNumberToObject(st, "peak", (double)sim_stats.streams_peak);
	cJSON_AddNumberToObject(st, "eventsSent", (double)sim_stats.events_sent);
	req = cJSON_AddObjectToObject(o, "requests");
	lim = cJSON_AddObjectToObject(o, "rateLimited");
	for (int i = 0; i < LC_COUNT; i++) {
		cJSON_AddNumberToObject(req, limit_class_name(i), (double)sim_stats.requests[i]);
		cJSON_AddNumberToObject(lim, limit_class_name(i), (double)sim_stats.limited[i]);
	}
	cJSON_AddNumberToObject(o, "unauthorized", (double)sim_stats.unauthorized);
	cJSON_AddNumberToObject(o, "tokensIssued", (double)sim_stats.tokens_issued);
	fa = cJSON_AddObjectToObject(o, "faultsApplied");
	for (int i = 0; i < F_COUNT; i++)
		cJSON_AddNumberToObject(fa, fault_name(i), (double)fault_applied[i]);
	st = cJSON_AddObjectToObject(o, "injected");
	cJSON_AddNumberToObject(st, "malformed", (double)sim_stats.injected_malformed);
	cJSON_AddNumberToObject(st, "oversize", (double)sim_stats.injected_oversize);
	cJSON_AddItemToObject(o, "faults", fault_to_json());
	api_send_json(c, r, o);
}

void ctl_events(struct http_conn *c, struct http_req *r)
{
	char *id = sim_query_get(r->query, "function");
	struct gen_function *f = id ? gen_find_any(id) : NULL;
	struct sbuf out;
	char ts[32];

	free(id);
	if (!f) {
		api_error(c, r, 404, "", "pass ?function= with a known function id or name");
		return;
	}
	sbuf_init(&out, 512 * 1024 * 1024);
	sbuf_printf(&out, "{\"functionId\":\"%s\",\"count\":%zu,\"dropped\":%llu,\"events\":[",
	            f->id, f->noracle, (unsigned long long)f->oracle_dropped);
	for (size_t i = 0; i < f->noracle; i++) {
		sim_fmt_time(f->oracle[i].start_ms, ts);
		sbuf_printf(&out, "%s{\"id\":\"%s\",\"startTime\":\"%s\"}", i ? "," : "",
		            f->oracle[i].id, ts);
	}
	if (sbuf_adds(&out, "]}") != SIM_OK)
		api_error(c, r, 500, "", "response too large");
	else
		http_respond(c, r, 200, "", "application/json", out.p, out.len);
	sbuf_free(&out);
}

static cJSON *function_json(const struct gen_function *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", f->id);
	cJSON_AddStringToObject(o, "name", f->name);
	cJSON_AddStringToObject(o, "status", f->status);
	if (f->error[0])
		cJSON_AddStringToObject(o, "error", f->error);
	else
		cJSON_AddNullToObject(o, "error");
	cJSON_AddBoolToObject(o, "deleted", f->deleted);
	return o;
}

static const char *const statuses[] = {"Running",   "Stopped",        "Failed", "Building",
                                       "Deploying", "PreparingBuild", "Queued", "Created"};

/* POST ?set=ID|NAME&status=S[&error=TEXT]; the error is cleared when absent. */
static const char *set_status(const char *which, const char *status, const char *error,
                              struct gen_function **out)
{
	struct gen_function *f = gen_find(which);
	int ok = 0;

	if (!f)
		return "no such function";
	for (size_t i = 0; status && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		ok |= !strcmp(status, statuses[i]);
	if (!ok)
		return "status must be Running, Stopped, Failed, Building, Deploying, "
		       "PreparingBuild, Queued or Created";
	if (error && strlen(error) >= sizeof(f->error))
		return "error text too long";
	snprintf(f->status, sizeof(f->status), "%s", status);
	snprintf(f->error, sizeof(f->error), "%s", error ? error : "");
	LOGI("function %s status set to %s", f->name, f->status);
	*out = f;
	return NULL;
}

void ctl_functions(struct http_conn *c, struct http_req *r)
{
	char *add = sim_query_get(r->query, "add");
	char *del = sim_query_get(r->query, "remove");
	char *set = sim_query_get(r->query, "set");
	char *status = sim_query_get(r->query, "status");
	char *error = sim_query_get(r->query, "error");
	struct gen_function *f = NULL;
	const char *err = NULL;

	if (!strcmp(r->method, "GET")) {
		cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "functions");

		for (int i = 0; i < gen_nfns; i++)
			cJSON_AddItemToArray(arr, function_json(&gen_fns[i]));
		api_send_json(c, r, o);
	} else if (strcmp(r->method, "POST")) {
		api_error(c, r, 405, "Allow: GET, POST\r\n", "method not allowed");
	} else {
		if (add) {
			f = gen_add(add);
			err = f ? NULL : "cannot add: name empty or taken, or too many functions";
			if (f)
				LOGI("function %s (%s) added", f->name, f->id);
		} else if (del) {
			f = gen_find(del);
			err = f ? NULL : "no such function";
			if (f) {
				gen_remove(f);
				LOGI("function %s (%s) removed", f->name, f->id);
			}
		} else if (set) {
			err = set_status(set, status, error, &f);
		} else {
			err = "pass add=NAME, remove=ID|NAME or set=ID|NAME&status=S[&error=T]";
		}
		if (err)
			api_error(c, r, 400, "", err);
		else
			api_send_json(c, r, function_json(f));
	}
	free(add);
	free(del);
	free(set);
	free(status);
	free(error);
}

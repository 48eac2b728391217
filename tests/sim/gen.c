/* The deterministic event generator, its clock tick, and the retained history. */
#include "gen.h"
#include "stream.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TICK_MS 10

struct gen_function *gen_fns;
int gen_nfns;

static uv_timer_t tick_timer;

static const char *const fn_names[] = {
    "ivr-handler",          "sms-webhook",           "callback-router",
    "number-lookup",        "voicemail-transcriber", "conference-bridge",
    "otp-verifier",         "call-recorder",         "survey-bot",
    "appointment-reminder", "whatsapp-relay",        "fax-relay",
};
static const char *const runtimes[] = {"node", "node", "python", "dotnet", "node", "python"};
static const char *const paths[] = {
    "/voice/ice",          "/voice/ace", "/voice/dice",      "/sms/inbound", "/sms/status",
    "/callbacks/delivery", "/lookup",    "/api/v1/sessions", "/transcribe",  "/health",
};
static const char *const debug_msgs[] = {
    "parsed callback payload ({n} bytes)",
    "cache miss for +1555{p}",
    "state machine step {n}",
};
static const char *const info_msgs[] = {
    "ICE: call from +1555{p}",
    "SMS delivered to +4670{p}",
    "route selected: trunk-{n}",
    "request handled, {n} actions returned",
};
static const char *const warn_msgs[] = {
    "slow upstream response ({n} ms)",
    "retrying number lookup (attempt {n})",
    "deprecated field 'cli' used by caller {n}",
};
static const char *const error_msgs[] = {
    "upstream returned 503 after {n} ms",
    "failed to parse body: unexpected token at position {n}",
    "database timeout after {n} ms",
};
static const char *const *const msg_tables[] = {debug_msgs, info_msgs, warn_msgs, error_msgs};
static const unsigned msg_counts[] = {3, 4, 3, 3};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct gen_function *gen_find_any(const char *id_or_name)
{
	struct gen_function *found = NULL;

	/* A name reused after a delete names the live function. */
	for (int i = 0; i < gen_nfns; i++)
		if (strcmp(gen_fns[i].id, id_or_name) == 0 ||
		    strcmp(gen_fns[i].name, id_or_name) == 0)
			if (!found || found->deleted)
				found = &gen_fns[i];
	return found;
}

struct gen_function *gen_find(const char *id_or_name)
{
	struct gen_function *f = gen_find_any(id_or_name);

	return f && !f->deleted ? f : NULL;
}

int gen_retained(const struct gen_event *ev, int64_t now_ms)
{
	return ev->start_ms >= now_ms - sim_cfg.replay_horizon_s * 1000;
}

static int pick_status(uint64_t *r)
{
	static const int ok[] = {200, 200, 200, 200, 201, 204};
	static const int redirect[] = {301, 302, 304};
	static const int client[] = {400, 401, 404, 429};
	static const int server[] = {500, 502, 503};
	uint32_t p = sim_rng_below(r, 100);

	if (p < 80)
		return ok[sim_rng_below(r, NELEM(ok))];
	if (p < 85)
		return redirect[sim_rng_below(r, NELEM(redirect))];
	if (p < 95)
		return client[sim_rng_below(r, NELEM(client))];
	return server[sim_rng_below(r, NELEM(server))];
}

static uint32_t pick_exec(uint64_t *r)
{
	uint32_t p = sim_rng_below(r, 100);

	if (p < 2)
		return (uint32_t)(sim_cfg.long_ms * (80 + sim_rng_below(r, 41)) / 100);
	if (p < 12)
		return 200 + sim_rng_below(r, 1300);
	return 3 + sim_rng_below(r, 148);
}

static int pick_level(uint64_t *r)
{
	uint32_t p = sim_rng_below(r, 100);

	return p < 30 ? LVL_DEBUG : p < 75 ? LVL_INFO : p < 90 ? LVL_WARNING : LVL_ERROR;
}

static cJSON *num_or_string(long long v, int as_string)
{
	char tmp[32];

	if (!as_string)
		return cJSON_CreateNumber((double)v);
	snprintf(tmp, sizeof(tmp), "%lld", v);
	return cJSON_CreateString(tmp);
}

/*
 * Builds one event. Everything but the start time comes from a PRNG seeded by
 * (seed, function, sequence), so re-rendering an event gives the same bytes.
 */
static char *render(uint16_t fn, uint32_t seq, int64_t start_ms, int bad_utf8, struct gen_event *ev)
{
	const struct gen_function *f = &gen_fns[fn];
	uint64_t r = sim_mix(sim_cfg.seed, ((uint64_t)fn << 32) | seq);
	uint64_t idsalt = sim_mix(r, 0x1d);
	static const char *const methods[] = {"POST", "POST", "POST",  "GET",
	                                      "GET",  "PUT",  "DELETE"};
	const char *method = methods[sim_rng_below(&r, NELEM(methods))];
	const char *path = paths[sim_rng_below(&r, NELEM(paths))];
	int status = pick_status(&r);
	uint32_t exec_ms = pick_exec(&r);
	double mem = (200 + sim_rng_below(&r, 2360)) / 10.0;
	int nested = sim_cfg.shape == SHAPE_NESTED || (sim_cfg.shape == SHAPE_MIXED && seq % 2);
	int strnums = seq % 13 == 7;
	unsigned nlines = sim_rng_below(&r, 6);
	unsigned token = sim_rng_below(&r, 1000);
	int level = -1;
	char id[40], host[64], url[512], ts[32], reqbody[256], respbody[128], hv[128];
	struct sbuf search;
	cJSON *root, *reqh, *resph, *logs, *req = NULL, *resp = NULL;
	char *json;

	snprintf(id, sizeof(id), "req_%u_%08u_%06x", fn, seq, (unsigned)(idsalt & 0xffffff));
	{
		int n;
		char sep = '?';

		snprintf(host, sizeof(host), "fn-%s.functions.sinch.com", f->id);
		for (char *p = host; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		n = snprintf(url, sizeof(url), "https://%s%s", host, path);
		if (sim_rng_below(&r, 3) == 0) {
			n += snprintf(url + n, sizeof(url) - n, "%ccallId=c-%06u", sep,
			              sim_rng_below(&r, 1000000));
			sep = '&';
		}
		if (sim_rng_below(&r, 4) == 0) {
			n += snprintf(url + n, sizeof(url) - n, "%ctoken=fake-token-%03u", sep,
			              token);
			sep = '&';
		}
		if (sim_rng_below(&r, 5) == 0) {
			n += snprintf(url + n, sizeof(url) - n, "%capi_key=fake-key-%03u", sep,
			              token);
			sep = '&';
		}
		if (sim_rng_below(&r, 6) == 0)
			snprintf(url + n, sizeof(url) - n, "%cfrom=%%2B4670%07u&lang=en-US", sep,
			         sim_rng_below(&r, 10000000));
	}
	if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0)
		reqbody[0] = '\0';
	else
		snprintf(reqbody, sizeof(reqbody),
		         "{\"event\":\"%s\",\"callId\":\"c-%06u\",\"cli\":\"+1555%07u\","
		         "\"to\":\"+4670%07u\"}",
		         path + 1, sim_rng_below(&r, 1000000), sim_rng_below(&r, 10000000),
		         sim_rng_below(&r, 10000000));
	if (status >= 400)
		snprintf(respbody, sizeof(respbody), "{\"error\":\"%s\",\"status\":%d}",
		         status >= 500 ? "upstream failure" : "rejected", status);
	else if (status == 204 || status == 304)
		respbody[0] = '\0';
	else
		snprintf(respbody, sizeof(respbody), "{\"action\":{\"name\":\"%s\"},\"ok\":true}",
		         sim_rng_below(&r, 2) ? "connectPstn" : "runMenu");

	sbuf_init(&search, 64 * 1024);
	sbuf_printf(&search, "%s\n%s\n%s", url, reqbody, respbody);

	reqh = cJSON_CreateObject();
	cJSON_AddStringToObject(reqh, "Host", host);
	cJSON_AddStringToObject(reqh, "User-Agent", "Sinch-Callbacks/2.1");
	if (reqbody[0])
		cJSON_AddStringToObject(reqh, "Content-Type", "application/json");
	snprintf(hv, sizeof(hv), "Bearer fake-token-%03u", token);
	cJSON_AddStringToObject(reqh, "Authorization", hv);
	snprintf(hv, sizeof(hv), "session=fake-session-%03u; theme=dark", token);
	cJSON_AddStringToObject(reqh, "Cookie", hv);
	snprintf(hv, sizeof(hv), "%016llx", (unsigned long long)sim_mix(r, 7));
	cJSON_AddStringToObject(reqh, "X-Request-Id", hv);
	resph = cJSON_CreateObject();
	if (respbody[0])
		cJSON_AddStringToObject(resph, "Content-Type", "application/json");
	snprintf(hv, sizeof(hv), "sid=fake-sid-%03u; Path=/; HttpOnly", token);
	cJSON_AddStringToObject(resph, "Set-Cookie", hv);
	cJSON_AddStringToObject(resph, "X-Served-By", "fn-runtime-eu1-7");

	if (status >= 500 && nlines == 0)
		nlines = 1;
	logs = cJSON_CreateArray();
	for (unsigned i = 0; i < nlines + (bad_utf8 ? 1u : 0u); i++) {
		int lv = i == nlines ? LVL_DEBUG : pick_level(&r);
		char msg[192];
		cJSON *line = cJSON_CreateObject();

		if (status >= 500 && i == 0)
			lv = LVL_ERROR;
		if (i == nlines) {
			/* The extra line is Debug so the request's level is unchanged. */
			snprintf(msg, sizeof(msg),
			         "caller name: Malm\xc3\x28 \xff\xfe \xed\xa0\x80 end");
		} else {
			const char *tmpl = msg_tables[lv][sim_rng_below(&r, msg_counts[lv])];
			const char *hole = strchr(tmpl, '{');
			unsigned arg = hole[1] == 'p' ? 1000000 + sim_rng_below(&r, 9000000)
			                              : 1 + sim_rng_below(&r, 2000);

			/* Templates hold {p} (phone digits) or {n} (a count), so no
			 * format string is ever built at run time. */
			snprintf(msg, sizeof(msg), "%.*s%u%s", (int)(hole - tmpl), tmpl, arg,
			         hole + 3);
			if (lv > level)
				level = lv;
		}
		sim_fmt_time(start_ms + (int64_t)exec_ms * (i + 1) / (nlines + 2), ts);
		cJSON_AddStringToObject(line, "level", sim_level_name(lv));
		cJSON_AddStringToObject(line, "message", msg);
		cJSON_AddStringToObject(line, "timestamp", ts);
		cJSON_AddItemToArray(logs, line);
		sbuf_printf(&search, "\n%s", msg);
	}
	if (level < 0)
		level = LVL_INFO; /* no console output: an ordinary request */

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", id);
	cJSON_AddStringToObject(root, "functionId", f->id);
	sim_fmt_time(start_ms, ts);
	if (nested) {
		cJSON_AddStringToObject(root, "timestamp", ts);
		req = cJSON_AddObjectToObject(root, "request");
		cJSON_AddStringToObject(req, "method", method);
		cJSON_AddStringToObject(req, "url", url);
		cJSON_AddItemToObject(req, "headers", reqh);
		cJSON_AddStringToObject(req, "body", reqbody);
		resp = cJSON_AddObjectToObject(root, "response");
		cJSON_AddItemToObject(resp, "statusCode", num_or_string(status, strnums));
		cJSON_AddItemToObject(resp, "headers", resph);
		cJSON_AddStringToObject(resp, "body", respbody);
		cJSON_AddItemToObject(root, "executionTimeMs", num_or_string(exec_ms, strnums));
		cJSON_AddNumberToObject(root, "memoryUsedMB", mem);
	} else {
		cJSON_AddStringToObject(root, "httpMethod", method);
		cJSON_AddStringToObject(root, "url", url);
		cJSON_AddItemToObject(root, "statusCode", num_or_string(status, strnums));
		cJSON_AddItemToObject(root, "executionTimeMs", num_or_string(exec_ms, strnums));
		cJSON_AddNumberToObject(root, "memoryUsedMB", mem);
		cJSON_AddStringToObject(root, "startTime", ts);
		sim_fmt_time(start_ms + exec_ms, ts);
		cJSON_AddStringToObject(root, "endTime", ts);
		cJSON_AddItemToObject(root, "requestHeaders", reqh);
		cJSON_AddStringToObject(root, "requestBody", reqbody);
		cJSON_AddItemToObject(root, "responseHeaders", resph);
		cJSON_AddStringToObject(root, "responseBody", respbody);
	}
	cJSON_AddItemToObject(root, "logs", logs);
	if (sim_rng_below(&r, 9) == 0)
		cJSON_AddStringToObject(root, "region", "eu1");
	if (seq % 17 == 5) {
		/* Beyond 2^53 on purpose: clients must keep the exact digits. */
		snprintf(hv, sizeof(hv), "1%019llu",
		         (unsigned long long)(sim_rng_next(&r) % 8000000000000000000ULL));
		cJSON_AddRawToObject(root, "traceId", hv);
	}
	json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);

	if (ev) {
		ev->start_ms = start_ms;
		ev->end_ms = start_ms + exec_ms;
		ev->seq = seq;
		ev->fn = fn;
		ev->level = (uint8_t)level;
		ev->status = status;
		ev->exec_ms = exec_ms;
		ev->mem_mb = mem;
		memcpy(ev->id, id, sizeof(id));
		ev->search = search.p ? search.p : strdup("");
		ev->json_len = json ? strlen(json) : 0;
		ev->json = json;
	} else {
		sbuf_free(&search);
	}
	return json;
}

char *gen_render_bad_utf8(const struct gen_event *ev, size_t *len)
{
	char *json = render(ev->fn, ev->seq, ev->start_ms, 1, NULL);

	*len = json ? strlen(json) : 0;
	return json;
}

static void free_event(struct gen_event *ev)
{
	free(ev->json);
	free(ev->search);
	free(ev);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return SIM_OK;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*arr, ncap * elem);
	if (!np)
		return SIM_ENOMEM;
	*arr = np;
	*cap = ncap;
	return SIM_OK;
}

/* Ties (several requests in one millisecond) come in groups of 2 to 4. */
static void advance_timeline(struct gen_function *f)
{
	double period = 1000.0 / sim_cfg.rate;

	if (f->tie_left > 0) {
		f->tie_left--;
	} else {
		if (sim_rng_below(&f->timeline, 12) == 0)
			f->tie_left = 1 + (int)sim_rng_below(&f->timeline, 3);
		f->next_offset_ms += period * (0.5 + sim_rng_below(&f->timeline, 1001) / 1000.0);
	}
	f->next_start_ms = sim_cfg.epoch_ms + (int64_t)f->next_offset_ms;
}

static void start_due(struct gen_function *f, int fn, int64_t now)
{
	while (f->next_start_ms <= now &&
	       (sim_cfg.total < 0 || (long long)f->next_seq < sim_cfg.total)) {
		struct gen_event *ev = calloc(1, sizeof(*ev));

		if (!ev || grow((void **)&f->pending, &f->cappending, f->npending + 1,
		                sizeof(*f->pending))) {
			free(ev);
			return;
		}
		if (!render((uint16_t)fn, f->next_seq, f->next_start_ms, 0, ev)) {
			free_event(ev);
			return;
		}
		f->pending[f->npending++] = ev;
		f->started++;
		f->next_seq++;
		advance_timeline(f);
	}
}

static int by_completion(const void *a, const void *b)
{
	const struct gen_event *x = *(const struct gen_event *const *)a;
	const struct gen_event *y = *(const struct gen_event *const *)b;

	if (x->end_ms != y->end_ms)
		return x->end_ms < y->end_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void oracle_add(struct gen_function *f, const struct gen_event *ev)
{
	size_t i;

	if (sim_cfg.oracle_cap == 0)
		return;
	if (f->noracle >= sim_cfg.oracle_cap) {
		/* Drop the oldest tenth at once so trimming stays cheap. */
		size_t drop = f->noracle / 10 + 1;

		memmove(f->oracle, f->oracle + drop, (f->noracle - drop) * sizeof(*f->oracle));
		f->noracle -= drop;
		f->oracle_dropped += drop;
	}
	if (grow((void **)&f->oracle, &f->caporacle, f->noracle + 1, sizeof(*f->oracle)))
		return;
	/* Events finish roughly in start order, so insertion from the end is cheap. */
	for (i = f->noracle; i > 0; i--) {
		const struct gen_oracle_entry *o = &f->oracle[i - 1];

		if (o->start_ms < ev->start_ms ||
		    (o->start_ms == ev->start_ms && strcmp(o->id, ev->id) < 0))
			break;
	}
	memmove(f->oracle + i + 1, f->oracle + i, (f->noracle - i) * sizeof(*f->oracle));
	f->oracle[i].start_ms = ev->start_ms;
	memcpy(f->oracle[i].id, ev->id, sizeof(ev->id));
	f->noracle++;
}

static void finish_due(struct gen_function *f, int64_t now)
{
	size_t n = 0, keep = 0;
	struct gen_event **due;

	for (size_t i = 0; i < f->npending; i++)
		if (f->pending[i]->end_ms <= now)
			n++;
	if (!n || grow((void **)&f->done, &f->capdone, f->ndone + n, sizeof(*f->done)))
		return;
	due = f->done + f->ndone;
	for (size_t i = 0, j = 0; i < f->npending; i++) {
		if (f->pending[i]->end_ms <= now)
			due[j++] = f->pending[i];
		else
			f->pending[keep++] = f->pending[i];
	}
	f->npending = keep;
	qsort(due, n, sizeof(*due), by_completion);
	f->ndone += n;
	for (size_t i = 0; i < n; i++) {
		f->finished++;
		f->errors += due[i]->status >= 400;
		f->gb_seconds += due[i]->mem_mb / 1024.0 * due[i]->exec_ms / 1000.0;
		oracle_add(f, due[i]);
		stream_publish(due[i]);
	}
}

static void prune(struct gen_function *f, int64_t now)
{
	int64_t horizon = now - sim_cfg.replay_horizon_s * 1000;

	while (f->done_head < f->ndone && f->done[f->done_head]->end_ms < horizon)
		free_event(f->done[f->done_head++]);
	if (f->done_head > 1024 && f->done_head * 2 > f->ndone) {
		memmove(f->done, f->done + f->done_head,
		        (f->ndone - f->done_head) * sizeof(*f->done));
		f->ndone -= f->done_head;
		f->done_head = 0;
	}
}

static void on_tick(uv_timer_t *t)
{
	int64_t now = sim_now_ms();

	(void)t;
	for (int i = 0; i < gen_nfns; i++) {
		if (gen_fns[i].deleted)
			continue;
		start_due(&gen_fns[i], i, now);
		finish_due(&gen_fns[i], now);
		prune(&gen_fns[i], now);
	}
}

static void setup_function(int i, const char *name, int64_t created_ms, double start_offset_ms)
{
	struct gen_function *f = &gen_fns[i];
	uint64_t h = sim_mix(sim_cfg.seed, 0xf00d + (uint64_t)i);

	/* The index keeps ids unique even if two hashes collide. */
	snprintf(f->id, sizeof(f->id), "01JKXF%012llu%02d",
	         (unsigned long long)(h % 1000000000000ULL), i % 100);
	if (name)
		snprintf(f->name, sizeof(f->name), "%s", name);
	else if ((size_t)i < NELEM(fn_names))
		snprintf(f->name, sizeof(f->name), "%s", fn_names[i]);
	else
		snprintf(f->name, sizeof(f->name), "%s-%d", fn_names[i % NELEM(fn_names)],
		         i / (int)NELEM(fn_names) + 1);
	f->runtime = runtimes[i % NELEM(runtimes)];
	f->created_ms = created_ms;
	snprintf(f->status, sizeof(f->status), "Running");
	f->timeline = sim_mix(sim_cfg.seed, 0x7133 + (uint64_t)i);
	f->next_offset_ms = start_offset_ms;
	advance_timeline(f);
}

int gen_init(void)
{
	gen_nfns = sim_cfg.functions;
	gen_fns = calloc(GEN_MAX_FUNCTIONS, sizeof(*gen_fns));
	if (!gen_fns)
		return SIM_ENOMEM;
	for (int i = 0; i < gen_nfns; i++)
		setup_function(i, NULL, sim_cfg.epoch_ms - (int64_t)(30 + i * 7) * 86400000, 0);
	uv_timer_init(sim_loop, &tick_timer);
	uv_timer_start(&tick_timer, on_tick, 0, TICK_MS);
	return SIM_OK;
}

struct gen_function *gen_add(const char *name)
{
	int64_t now = sim_now_ms();

	if (gen_nfns >= GEN_MAX_FUNCTIONS || !name || !*name || gen_find(name))
		return NULL;
	/* Its requests start now, not at the epoch. */
	setup_function(gen_nfns, name, now, (double)(now - sim_cfg.epoch_ms));
	return &gen_fns[gen_nfns++];
}

void gen_remove(struct gen_function *f)
{
	f->deleted = 1;
	stream_close_function(f);
}

void gen_shutdown(void)
{
	uv_timer_stop(&tick_timer);
	uv_close((uv_handle_t *)&tick_timer, NULL);
}

void gen_free(void)
{
	for (int i = 0; i < gen_nfns; i++) {
		struct gen_function *f = &gen_fns[i];

		for (size_t j = 0; j < f->npending; j++)
			free_event(f->pending[j]);
		for (size_t j = f->done_head; j < f->ndone; j++)
			free_event(f->done[j]);
		free(f->pending);
		free(f->done);
		free(f->oracle);
	}
	free(gen_fns);
	gen_fns = NULL;
	gen_nfns = 0;
}

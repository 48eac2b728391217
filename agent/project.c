#include "project.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define LIST_MAX_BODY (8u << 20)

#define P(field) offsetof(struct project_conf, field)
const struct opt_def project_opts[] = {
    {"api_url", OPT_STRING, "https://functions.api.sinch.com", 0, P(api_url), NULL,
     "the Sinch Functions API"},
    {"token_url", OPT_STRING, "https://auth.sinch.com/oauth2/token", 0, P(token_url), NULL,
     "the OAuth2 token endpoint"},
    {"project_id", OPT_STRING, NULL, 0, P(project_id), NULL,
     "the Sinch project id (default: $SINCH_PROJECT_ID)"},
    {"key_id", OPT_STRING, NULL, 0, P(key_id), NULL,
     "access key id for client credentials (default: $SINCH_KEY_ID)"},
    {"key_secret", OPT_STRING, NULL, OPT_SECRET, P(key_secret), NULL,
     "access key secret (default: $SINCH_KEY_SECRET); or key_secret_file"},
    {"token", OPT_STRING, NULL, OPT_SECRET, P(token), NULL,
     "a static bearer token instead of client credentials; or token_file"},
    {"functions", OPT_LIST, "*", 0, P(functions), NULL,
     "function ids or names to follow; * = all, and functions added later (see "
     "discovery_interval)"},
    {"level", OPT_ENUM, "debug", 0, P(level), "debug|info|warning|error",
     "minimum level asked of the server (the stream's level parameter)"},
    {"idle_timeout", OPT_DURATION, "90s", 0, P(idle_timeout_ms), NULL,
     "reconnect a stream that sent no byte at all for this long"},
    {"max_event_size", OPT_SIZE, "1M", 0, P(max_event_size), NULL,
     "larger SSE events are skipped and counted"},
    {"resume_overlap", OPT_DURATION, "60s", 0, P(resume_overlap_ms), NULL,
     "a reconnect asks for events since the checkpoint minus this much"},
    {"initial_lookback", OPT_DURATION, "0", 0, P(initial_lookback_ms), NULL,
     "with no checkpoint yet, start this far back in history (0 = live events only)"},
    {"proxy", OPT_STRING, NULL, 0, P(proxy), NULL, "HTTP(S) proxy for the API and token URL"},
    {"ca_file", OPT_STRING, NULL, 0, P(ca_file), NULL,
     "CA bundle to verify the API's certificate (default: the system's)"},
    {"tls_verify", OPT_BOOL, "on", 0, P(tls_verify), NULL,
     "verify the certificates of the API and token URL; off encrypts without checking who "
     "answers (warned about at every start; never in production)"},
    {"labels", OPT_LIST, "", 0, P(labels), NULL,
     "static fields added to every record: key=value, comma-separated"},
    {"include_bodies", OPT_BOOL, "false", 0, P(include_bodies), NULL,
     "keep request and response bodies in records"},
    {"redact_headers", OPT_LIST, "Authorization,Cookie,Set-Cookie,X-Api-Key", 0, P(redact_headers),
     NULL, "headers dropped from records (case-insensitive)"},
    {"redact_query", OPT_LIST, "token,access_token,api_key,apikey,key,secret,password,signature", 0,
     P(redact_query), NULL, "query parameters whose values are masked as REDACTED"},
    {"backoff_base", OPT_DURATION, "500ms", 0, P(backoff_base_ms), NULL,
     "first reconnect delay (capped exponential, full jitter)"},
    {"backoff_max", OPT_DURATION, "60s", 0, P(backoff_max_ms), NULL, "longest reconnect delay"},
    {"max_dedup_ids", OPT_INT, "1000000", 0, P(max_dedup_ids), NULL,
     "ids kept per stream to drop replayed events inside resume_overlap"},
    {"max_in_flight", OPT_INT, "1000000", 0, P(max_in_flight), NULL,
     "records a stream may have read but not yet had acknowledged by every sink before it "
     "pauses (a slow sink that takes only some records holds the others back)"},
    {"max_streams", OPT_INT, "5", 0, P(max_streams), NULL,
     "functions followed by live streams at once (the API allows 5 per project); the "
     "others are followed by polling historical logs"},
    {"poll_interval", OPT_DURATION, "10s", 0, P(poll_interval_ms), NULL,
     "how often functions beyond max_streams are polled for new historical logs"},
    {"discovery_interval", OPT_DURATION, "5m", 0, P(discovery_interval_ms), NULL,
     "with functions = *, how often the functions list is read again (new functions are "
     "followed, deleted ones let go)"},
    {"status_interval", OPT_DURATION, "30s", 0, P(status_interval_ms), NULL,
     "how often each function's status is polled for status records (0 = never)"},
    {"metrics_interval", OPT_DURATION, "5m", 0, P(metrics_interval_ms), NULL,
     "how often each function's metrics are read into a metrics record (0 = never)"},
    {"metrics_time_range", OPT_ENUM, "1h", 0, P(metrics_time_range), "1h|4h|24h|7d|30d",
     "the time range of the metrics records"},
    {"cost_records", OPT_BOOL, "false", 0, P(cost_records), NULL,
     "emit cost records from the costs and billing endpoints every cost_interval"},
    {"cost_interval", OPT_DURATION, "24h", 0, P(cost_interval_ms), NULL,
     "how often cost records are made, with cost_records = true"},
    {"api_rate_limit", OPT_INT, "100", 0, P(api_rate_limit), NULL,
     "requests per rate_limit_window to the list, status, metrics, costs and billing "
     "endpoints together (the API's limit per project)"},
    {"logs_rate_limit", OPT_INT, "200", 0, P(logs_rate_limit), NULL,
     "requests per rate_limit_window to the historical logs (the API's limit per project)"},
    {"rate_limit_window", OPT_DURATION, "60s", 0, P(rate_limit_window_ms), NULL,
     "the window of api_rate_limit and logs_rate_limit"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

const char *const project_time_ranges[] = {"1h", "4h", "24h", "7d", "30d"};

static const char *const level_params[] = {"debug", "info", "warning", "error"};

static char *env_default(char *value, const char *var)
{
	if (value)
		return value;
	const char *e = getenv(var);
	return e && *e ? strdup(e) : NULL;
}

static char *labels_to_json(const struct project_conf *c, const struct conf_section *sec,
                            struct conf_errs *errs)
{
	if (c->labels.n == 0)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	struct opt_origin org = opts_origin(sec, "labels");
	for (size_t i = 0; o && i < c->labels.n; i++) {
		const char *item = c->labels.items[i];
		const char *eq = strchr(item, '=');
		if (!eq || eq == item) {
			conf_err(errs, org.file, org.line,
			         "[project %s]: key 'labels': '%s' is not key=value", sec->name,
			         item);
			continue;
		}
		char key[256];
		if ((size_t)(eq - item) >= sizeof(key)) {
			conf_err(
			    errs, org.file, org.line,
			    "[project %s]: key 'labels': a label name is longer than 255 bytes",
			    sec->name);
			continue;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - item), item);
		if (cJSON_GetObjectItemCaseSensitive(o, key)) {
			conf_err(errs, org.file, org.line,
			         "[project %s]: key 'labels': label '%s' is given twice", sec->name,
			         key);
			continue;
		}
		cJSON_AddStringToObject(o, key, eq + 1);
	}
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

static void check_url(const struct conf_section *sec, const char *key, const char *url,
                      struct conf_errs *errs)
{
	if (!url)
		return;
	CURLU *u = curl_url();
	char *scheme = NULL;
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	          curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	          (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_url_cleanup(u);
	if (!ok) {
		struct opt_origin o = opts_origin(sec, key);
		conf_err(errs, o.file, o.line,
		         "[project %s]: key '%s': not an http:// or https:// URL", sec->name, key);
	}
}

static void range(const struct project *p, const struct conf_section *sec, struct conf_errs *errs,
                  const char *key, uint64_t v, uint64_t min, uint64_t max, const char *what)
{
	if (v >= min && v <= max)
		return;
	struct opt_origin o = opts_origin(sec, key);
	conf_err(errs, o.file, o.line, "[project %s]: %s must be %s", p->name, key, what);
}

struct project *project_new(const struct conf_section *sec, struct conf_errs *errs)
{
	struct project *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	int before = errs->count;
	p->name = strdup(sec->name ? sec->name : "default");
	opts_apply(project_opts, &p->conf, sec, errs);
	conf_check_unused(sec, errs);
	if (!p->conf.tls_verify) {
		struct opt_origin o = opts_origin(sec, "tls_verify");
		conf_warn(errs, o.file, o.line,
		          "[project %s]: tls_verify = off: the API's and token URL's certificates "
		          "are not checked; anyone on the path can read the credentials",
		          sec->name);
	}
	struct project_conf *c = &p->conf;
	c->project_id = env_default(c->project_id, "SINCH_PROJECT_ID");
	c->key_id = env_default(c->key_id, "SINCH_KEY_ID");
	c->key_secret = env_default(c->key_secret, "SINCH_KEY_SECRET");
	check_url(sec, "api_url", c->api_url, errs);
	check_url(sec, "token_url", c->token_url, errs);
	if (!c->project_id)
		conf_err(errs, sec->file, sec->line,
		         "[project %s]: project_id is not set (nor is SINCH_PROJECT_ID)", p->name);
	/* A key_secret_file that could not be read was reported already. */
	if (errs->count == before && !c->token && (!c->key_id || !c->key_secret))
		conf_err(errs, sec->file, sec->line,
		         "[project %s]: no credentials: set key_id and key_secret (or "
		         "SINCH_KEY_ID and SINCH_KEY_SECRET), or token",
		         p->name);
	if (c->functions.n == 0)
		conf_err(errs, sec->file, sec->line, "[project %s]: 'functions' is empty", p->name);
	range(p, sec, errs, "max_event_size", c->max_event_size, 64, 256u << 20,
	      "between 64 bytes and 256M");
	range(p, sec, errs, "max_dedup_ids", c->max_dedup_ids, 1000, SIZE_MAX, "at least 1000");
	range(p, sec, errs, "max_in_flight", c->max_in_flight, 100, 100000000,
	      "between 100 and 100000000");
	static const uint64_t day_ms = 86400 * 1000, year_ms = 366 * day_ms;
	range(p, sec, errs, "initial_lookback", c->initial_lookback_ms, 0, year_ms, "at most 366d");
	/* Below a second, events sharing a start time or finishing out of order
	 * across a break would be missed by the strict `since`. */
	range(p, sec, errs, "resume_overlap", c->resume_overlap_ms, 1000, year_ms,
	      "between 1s and 366d");
	range(p, sec, errs, "idle_timeout", c->idle_timeout_ms, 1000, year_ms,
	      "between 1s and 366d");
	/* A zero backoff would turn a rejected token into a request storm. */
	range(p, sec, errs, "backoff_base", c->backoff_base_ms, 10, 3600 * 1000,
	      "between 10ms and 1h");
	if (c->backoff_max_ms < c->backoff_base_ms || c->backoff_max_ms > day_ms) {
		struct opt_origin o = opts_origin(sec, "backoff_max");
		conf_err(errs, o.file, o.line,
		         "[project %s]: backoff_max must be at least backoff_base and at most 1d",
		         p->name);
	}
	range(p, sec, errs, "max_streams", (uint64_t)c->max_streams, 0, 1000, "between 0 and 1000");
	range(p, sec, errs, "poll_interval", c->poll_interval_ms, 100, day_ms,
	      "between 100ms and 1d");
	range(p, sec, errs, "discovery_interval", c->discovery_interval_ms, 100, day_ms,
	      "between 100ms and 1d");
	/* 0 switches a poller off; below 100ms it would only queue on the
	 * rate limiter. */
	range(p, sec, errs, "status_interval", c->status_interval_ms ? c->status_interval_ms : 100,
	      100, day_ms, "0 or between 100ms and 1d");
	range(p, sec, errs, "metrics_interval",
	      c->metrics_interval_ms ? c->metrics_interval_ms : 100, 100, day_ms,
	      "0 or between 100ms and 1d");
	range(p, sec, errs, "cost_interval", c->cost_interval_ms, 1000, 31 * day_ms,
	      "between 1s and 31d");
	range(p, sec, errs, "api_rate_limit", (uint64_t)c->api_rate_limit, 1, 1000000,
	      "between 1 and 1000000");
	range(p, sec, errs, "logs_rate_limit", (uint64_t)c->logs_rate_limit, 1, 1000000,
	      "between 1 and 1000000");
	range(p, sec, errs, "rate_limit_window", c->rate_limit_window_ms, 1000, day_ms,
	      "between 1s and 1d");
	p->labels_json = labels_to_json(c, sec, errs);
	struct buf w;
	buf_init(&w, 1024);
	buf_printf(&w, "project %s", p->name);
	p->who = buf_detach(&w, NULL);
	if (errs->count > before || !p->name || !p->who) {
		project_free(p);
		return NULL;
	}
	return p;
}

void project_fatal(struct project *p)
{
	if (p->on_fatal)
		p->on_fatal(p);
}

/* ---- the functions ---- */

struct project_fn *project_fn_find(const struct project *p, const char *id)
{
	for (size_t i = 0; i < p->nfns; i++)
		if (strcmp(p->fns[i]->id, id) == 0)
			return p->fns[i];
	return NULL;
}

static bool streaming(const struct project_fn *fn)
{
	return fn->stream_open && !fn->removed && !fn->stream.gone &&
	       fn->stream.mode == STREAM_MODE_SSE;
}

static size_t count_streaming(const struct project *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nfns; i++)
		n += streaming(p->fns[i]);
	return n;
}

static void count_modes(struct project *p)
{
	p->stats.streamed = p->stats.polled = 0;
	for (size_t i = 0; i < p->nfns; i++) {
		const struct project_fn *fn = p->fns[i];
		if (!fn->stream_open || fn->removed || fn->stream.gone)
			continue;
		if (fn->stream.mode == STREAM_MODE_SSE)
			p->stats.streamed++;
		else
			p->stats.polled++;
	}
}

static enum stream_mode next_mode(const struct project *p)
{
	return count_streaming(p) < (size_t)p->conf.max_streams ? STREAM_MODE_SSE
	                                                        : STREAM_MODE_POLL;
}

/* A stream slot that freed up (a function removed, a stream refused for
 * good) goes to the first polled function. */
static void rebalance(struct project *p)
{
	if (p->stopping || !p->disc.resolved)
		return;
	size_t live = count_streaming(p);
	for (size_t i = 0; i < p->nfns && live < (size_t)p->conf.max_streams; i++) {
		struct project_fn *fn = p->fns[i];
		if (!fn->stream_open || fn->removed || fn->stream.gone ||
		    fn->stream.mode != STREAM_MODE_POLL || uv_now(p->loop) < fn->stream_retry_at)
			continue;
		log_info(p->who, "a stream slot is free: %s is streamed from now on", fn->name);
		stream_set_mode(&fn->stream, STREAM_MODE_SSE);
		live++;
	}
	count_modes(p);
}

/* The server refused a stream for the concurrent-stream limit although the
 * agent holds fewer: another client (a tail, a second agent) holds slots.
 * Polling keeps the function followed; streaming is tried again later. */
static void on_stream_limit(struct stream *s)
{
	struct project_fn *fn = s->data;
	struct project *p = fn->project;
	uint64_t wait = backoff_rand(p->conf.backoff_max_ms / 2, p->conf.backoff_max_ms);
	if (s->retry_after_ms > wait)
		wait = s->retry_after_ms;
	fn->stream_retry_at = uv_now(p->loop) + wait;
	p->stats.displaced++;
	log_warn(p->who,
	         "the API refused a stream for %s (HTTP 429: all %d of the project's streams are "
	         "open, some by another client): polling it, streaming again in %" PRIu64
	         " ms at the earliest (Retry-After and backoff_max)",
	         fn->name, PROJECT_MAX_STREAMS, wait);
	stream_set_mode(s, STREAM_MODE_POLL);
	count_modes(p);
}

int project_fn_add(struct project *p, const char *id, const char *name)
{
	if (project_fn_find(p, id))
		return 0;
	struct project_fn **grown = realloc(p->fns, (p->nfns + 1) * sizeof(*p->fns));
	if (!grown)
		return LG_ENOMEM;
	p->fns = grown;
	struct project_fn *fn = calloc(1, sizeof(*fn));
	if (!fn)
		return LG_ENOMEM;
	fn->project = p;
	fn->id = strdup(id);
	fn->name = strdup(name ? name : id);
	if (!fn->id || !fn->name) {
		free(fn->id);
		free(fn->name);
		free(fn);
		return LG_ENOMEM;
	}
	p->fns[p->nfns++] = fn;
	int rc = stream_init(&fn->stream, p->loop, &p->sconf, p->http, &p->auth, &p->api, p->router,
	                     id, fn->name);
	fn->stream_open = true; /* its handles exist even when init failed */
	fn->stream.data = fn;
	fn->stream.on_stream_limit = on_stream_limit;
	if (rc)
		return rc;
	if (p->disc.resolved) {
		enum stream_mode mode = next_mode(p);
		log_info(p->who, "function %s (%s) added: %s", fn->name, fn->id,
		         mode == STREAM_MODE_SSE ? "streaming it"
		                                 : "polling it (every stream slot is taken)");
		stream_start(&fn->stream, mode);
		count_modes(p);
	}
	return 0;
}

static void free_fn(struct project_fn *fn)
{
	free(fn->id);
	free(fn->name);
	free(fn->status);
	free(fn);
}

static void unlink_fn(struct project *p, struct project_fn *fn)
{
	for (size_t i = 0; i < p->nfns; i++) {
		if (p->fns[i] != fn)
			continue;
		memmove(p->fns + i, p->fns + i + 1, (p->nfns - i - 1) * sizeof(*p->fns));
		p->nfns--;
		return;
	}
}

static void on_retired(struct stream *s)
{
	struct project_fn *fn = s->data;
	struct project *p = fn->project;
	log_info(p->who, "function %s let go: its records are acknowledged, its checkpoint written",
	         fn->name);
	bool counted = fn->close_counted;
	unlink_fn(p, fn);
	free_fn(fn);
	if (counted)
		project_part_closed(p);
}

/* A removed function is let go once nothing refers to it: its records are
 * all acknowledged (the checkpoint is written last) and no control record
 * or request is in flight. */
static void maybe_retire(struct project_fn *fn)
{
	if (!fn->removed || fn->retiring || fn->holds || stream_in_flight(&fn->stream))
		return;
	fn->retiring = true;
	stream_save_checkpoint(&fn->stream);
	if (fn->project->closing) {
		fn->project->pending_close++;
		fn->close_counted = true;
	}
	stream_close(&fn->stream, on_retired);
}

void project_fn_remove(struct project_fn *fn)
{
	struct project *p = fn->project;
	if (fn->removed)
		return;
	fn->removed = true;
	p->stats.removed++;
	stream_stop(&fn->stream);
	log_info(p->who,
	         "function %s (%s) is no longer in the project: stopped following it (its "
	         "checkpoint is kept)",
	         fn->name, fn->id);
	rebalance(p);
	maybe_retire(fn);
}

static void check_retired(struct project *p);

void project_fn_release(struct project_fn *fn)
{
	if (!fn)
		return;
	fn->holds--;
	maybe_retire(fn);
	check_retired(fn->project);
}

void project_record_done(struct record *r)
{
	if (r->kind == RECORD_REQUEST) {
		struct stream *s = r->origin;
		struct project_fn *fn = s->data;
		struct project *p = fn->project;
		stream_record_done(s, r);
		maybe_retire(fn);
		check_retired(p);
		return;
	}
	project_fn_release(r->origin);
}

static void list_names(struct buf *b, const struct project *p, enum stream_mode mode)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nfns; i++) {
		const struct project_fn *fn = p->fns[i];
		if (fn->stream.mode == mode && !fn->removed)
			buf_printf(b, "%s%s", n++ ? ", " : "", fn->name);
	}
}

void project_functions_ready(struct project *p)
{
	size_t slots = (size_t)p->conf.max_streams;
	for (size_t i = 0; i < p->nfns; i++)
		stream_start(&p->fns[i]->stream, i < slots ? STREAM_MODE_SSE : STREAM_MODE_POLL);
	count_modes(p);
	struct buf b;
	buf_init(&b, 16384);
	buf_printf(&b, "following %zu function(s): ", p->nfns);
	if (p->stats.streamed) {
		buf_printf(&b, "streaming %" PRIu64 " (", p->stats.streamed);
		list_names(&b, p, STREAM_MODE_SSE);
		buf_puts(&b, ")");
	}
	if (p->stats.polled) {
		buf_printf(&b, "%spolling %" PRIu64 " every %" PRIu64 " ms (",
		           p->stats.streamed ? "; " : "", p->stats.polled,
		           p->conf.poll_interval_ms);
		list_names(&b, p, STREAM_MODE_POLL);
		buf_printf(&b,
		           "): the API allows %d concurrent streams per project (max_streams = "
		           "%" PRId64 ")",
		           PROJECT_MAX_STREAMS, p->conf.max_streams);
	}
	if (p->nfns)
		log_info(p->who, "%s", b.data ? b.data : "");
	else
		log_warn(p->who, "the project has no functions to follow");
	buf_free(&b);
	if (monitor_start(p) != 0)
		log_error(p->who, "cannot start the status and metrics pollers: out of memory");
}

/* ---- life ---- */

int project_open(struct project *p, uv_loop_t *loop, struct httpc *http, struct router *router)
{
	p->loop = loop;
	p->http = http;
	p->router = router;
	struct project_conf *c = &p->conf;
	struct stream_conf *sc = &p->sconf;
	sc->project_name = p->name;
	sc->api_url = c->api_url;
	sc->project_id = c->project_id;
	sc->level = c->level > 0 ? level_params[c->level] : NULL;
	sc->proxy = c->proxy;
	sc->ca_file = c->ca_file;
	sc->tls_verify = c->tls_verify;
	sc->idle_timeout_ms = c->idle_timeout_ms;
	sc->max_event_size = c->max_event_size;
	sc->resume_overlap_ms = c->resume_overlap_ms;
	sc->initial_lookback_ms = c->initial_lookback_ms;
	sc->backoff_base_ms = c->backoff_base_ms;
	sc->backoff_max_ms = c->backoff_max_ms;
	sc->max_ids = (size_t)c->max_dedup_ids;
	sc->max_in_flight = (size_t)c->max_in_flight;
	sc->poll_interval_ms = c->poll_interval_ms;
	sc->state_dir = p->state_dir;
	sc->norm.project_id = c->project_id;
	sc->norm.include_bodies = c->include_bodies;
	sc->norm.redact_headers = &c->redact_headers;
	sc->norm.redact_query = &c->redact_query;
	sc->norm.labels_json = p->labels_json;
	sc->norm.host = p->host;
	sc->norm.version = SINCH_LOGD_VERSION;
	struct auth_conf ac = {
	    .token_url = c->token_url,
	    .key_id = c->key_id,
	    .key_secret = c->key_secret,
	    .static_token = c->token,
	    .proxy = c->proxy,
	    .ca_file = c->ca_file,
	    .tls_verify = c->tls_verify,
	    .backoff_base_ms = c->backoff_base_ms,
	    .backoff_max_ms = c->backoff_max_ms,
	};
	if (auth_init(&p->auth, loop, http, &ac, p->who) != 0)
		return LG_ENOMEM;
	p->auth_open = true;
	struct api_conf apc = {
	    .api_url = c->api_url,
	    .project_id = c->project_id,
	    .proxy = c->proxy,
	    .ca_file = c->ca_file,
	    .tls_verify = c->tls_verify,
	    .backoff_base_ms = c->backoff_base_ms,
	    .backoff_max_ms = c->backoff_max_ms,
	    .limit = {(unsigned)c->api_rate_limit, (unsigned)c->logs_rate_limit},
	    .window_ms = c->rate_limit_window_ms,
	};
	p->api_open = true; /* api_close copes with a half-made one */
	if (api_init(&p->api, loop, http, &p->auth, &apc, p->who) != 0)
		return LG_ENOMEM;
	return 0;
}

int project_start(struct project *p, uv_loop_t *loop, struct httpc *http, struct router *router)
{
	int rc = project_open(p, loop, http, router);
	return rc ? rc : discovery_start(p);
}

void project_stop(struct project *p)
{
	p->stopping = true;
	discovery_stop(p);
	monitor_stop(p);
	for (size_t i = 0; i < p->nfns; i++)
		if (p->fns[i]->stream_open)
			stream_stop(&p->fns[i]->stream);
}

void project_resume(struct project *p)
{
	for (size_t i = 0; i < p->nfns; i++)
		if (p->fns[i]->stream_open && !p->fns[i]->removed)
			stream_resume(&p->fns[i]->stream);
}

void project_save_checkpoints(struct project *p)
{
	for (size_t i = 0; i < p->nfns; i++)
		if (p->fns[i]->stream_open && !p->fns[i]->retiring)
			stream_save_checkpoint(&p->fns[i]->stream);
	rebalance(p);
}

void project_part_closed(struct project *p)
{
	if (--p->pending_close > 0)
		return;
	p->closed = true;
	if (p->closed_cb)
		p->closed_cb(p);
}

static void on_stream_closed(struct stream *s)
{
	struct project_fn *fn = s->data;
	fn->stream_open = false;
	project_part_closed(fn->project);
}

static void on_api_closed(struct api *a)
{
	project_part_closed((struct project *)((char *)a - offsetof(struct project, api)));
}

static void on_auth_closed(struct auth *a)
{
	project_part_closed((struct project *)((char *)a - offsetof(struct project, auth)));
}

/* Everything that uses the token and the API closes first, then the API
 * client, then the token. */
static void close_tail(struct project *p)
{
	if (p->api_open) {
		p->api_open = false;
		p->pending_close++;
		api_close(&p->api, on_api_closed);
	}
	if (p->auth_open) {
		p->auth_open = false;
		p->pending_close++;
		auth_close(&p->auth, on_auth_closed);
	}
}

void project_close(struct project *p, void (*closed)(struct project *p))
{
	project_stop(p);
	p->closing = true;
	p->closed_cb = closed;
	p->pending_close = 1;
	for (size_t i = 0; i < p->nfns; i++) {
		struct project_fn *fn = p->fns[i];
		if (fn->retiring && !fn->close_counted) {
			p->pending_close++;
			fn->close_counted = true;
		}
		if (!fn->stream_open || fn->retiring)
			continue;
		p->pending_close++;
		stream_close(&fn->stream, on_stream_closed);
	}
	discovery_close(p);
	monitor_close(p);
	close_tail(p);
	project_part_closed(p);
}

size_t project_in_flight(const struct project *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nfns; i++) {
		const struct project_fn *fn = p->fns[i];
		n += fn->holds + (fn->stream_open ? stream_in_flight(&fn->stream) : 0);
	}
	return n;
}

static void check_retired(struct project *p)
{
	if (!p->retired_cb || p->closing || project_in_flight(p) > 0)
		return;
	void (*cb)(struct project * p) = p->retired_cb;
	p->retired_cb = NULL;
	log_info(p->who, "every record acknowledged, checkpoints written: closing");
	/* project_close writes the checkpoints (stream_close waits for the
	 * write). */
	project_save_checkpoints(p);
	project_close(p, cb);
}

void project_retire(struct project *p, void (*closed)(struct project *p))
{
	project_stop(p);
	p->retired_cb = closed;
	size_t n = project_in_flight(p);
	if (n)
		log_info(p->who,
		         "stopped reading; closing once its %zu record(s) in flight are done", n);
	check_retired(p);
}

void project_free(struct project *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nfns; i++)
		free_fn(p->fns[i]);
	free(p->fns);
	opts_free(project_opts, &p->conf);
	free(p->labels_json);
	free(p->name);
	free(p->who);
	free(p);
}

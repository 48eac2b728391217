#include "project.h"

#include <cjson/cJSON.h>
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
     "function ids or names to stream; * = all (at most 5 per project)"},
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
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

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
	bool all = false;
	for (size_t i = 0; i < c->functions.n; i++)
		all |= strcmp(c->functions.items[i], "*") == 0;
	if (!all && c->functions.n > PROJECT_MAX_STREAMS) {
		struct opt_origin o = opts_origin(sec, "functions");
		conf_err(errs, o.file, o.line,
		         "[project %s]: %zu functions listed, but the API allows %d concurrent "
		         "streams per project: list at most %d",
		         p->name, c->functions.n, PROJECT_MAX_STREAMS, PROJECT_MAX_STREAMS);
	}
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

static void fatal(struct project *p)
{
	if (p->on_fatal)
		p->on_fatal(p);
}

static int add_stream(struct project *p, const char *id, const char *name)
{
	for (size_t i = 0; i < p->nstreams; i++)
		if (strcmp(p->streams[i]->function_id, id) == 0)
			return 0;
	struct stream **grown = realloc(p->streams, (p->nstreams + 1) * sizeof(*p->streams));
	if (!grown)
		return LG_ENOMEM;
	p->streams = grown;
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return LG_ENOMEM;
	p->streams[p->nstreams++] = s;
	return stream_init(s, p->loop, &p->sconf, p->http, &p->auth, p->router, id, name);
}

/* Matches the configured functions against the list; 0, or a fatal error
 * already logged. */
static int resolve(struct project *p, const cJSON *list)
{
	const struct opt_list *want = &p->conf.functions;
	for (size_t i = 0; i < want->n; i++) {
		const char *w = want->items[i];
		bool found = false;
		const cJSON *f;
		cJSON_ArrayForEach(f, list)
		{
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id");
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
			if (!cJSON_IsString(id))
				continue;
			const char *nm = cJSON_IsString(name) ? name->valuestring : id->valuestring;
			if (strcmp(w, "*") == 0 || strcmp(w, id->valuestring) == 0 ||
			    strcmp(w, nm) == 0) {
				found = true;
				if (add_stream(p, id->valuestring, nm) != 0)
					return LG_ENOMEM;
			}
		}
		if (!found && strcmp(w, "*") != 0) {
			log_error(p->who, "function '%s' is not in project %s", w,
			          p->conf.project_id);
			return LG_ENOENT;
		}
	}
	if (p->nstreams > PROJECT_MAX_STREAMS) {
		struct buf names;
		buf_init(&names, 8192);
		for (size_t i = 0; i < p->nstreams; i++)
			buf_printf(&names, "%s%s", i ? ", " : "", p->streams[i]->function_name);
		log_error(p->who,
		          "%zu functions to stream (%s), but the API allows %d concurrent streams "
		          "per project: list at most %d in 'functions'",
		          p->nstreams, names.data ? names.data : "", PROJECT_MAX_STREAMS,
		          PROJECT_MAX_STREAMS);
		buf_free(&names);
		return LG_EINVAL;
	}
	if (p->nstreams == 0)
		log_warn(p->who, "the project has no functions to stream");
	return 0;
}

static void fetch_list(struct project *p);

static void on_retry_timer(uv_timer_t *t)
{
	fetch_list(t->data);
}

static void retry_list(struct project *p)
{
	uv_timer_start(&p->retry_timer, on_retry_timer, backoff_next(&p->backoff), 0);
}

static size_t on_list_body(char *ptr, size_t size, size_t n, void *ud)
{
	struct project *p = ud;
	return buf_append(&p->list_body, ptr, size * n) == 0 ? size * n : 0;
}

static void on_list_done(struct httpc_req *req, CURLcode result)
{
	struct project *p = req->data;
	long status = httpc_status(req);
	if (p->stopping)
		goto out;
	if (result != CURLE_OK || status == 429 || status >= 500) {
		log_warn(p->who, "listing functions failed (%s); retrying",
		         result != CURLE_OK ? httpc_strerror(req, result) : "server busy");
		retry_list(p);
		goto out;
	}
	if (status == 401) {
		auth_invalidate(&p->auth, p->list_token);
		log_warn(p->who, "listing functions: HTTP 401; refreshing the token");
		retry_list(p);
		goto out;
	}
	if (status != 200) {
		log_error(p->who,
		          "listing functions: HTTP %ld (check project_id and the key's "
		          "access)",
		          status);
		fatal(p);
		goto out;
	}
	cJSON *doc =
	    cJSON_ParseWithLength(p->list_body.data ? p->list_body.data : "", p->list_body.len);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "functions");
	if (!cJSON_IsArray(list)) {
		log_error(p->who, "the functions list is not in the expected shape; retrying");
		cJSON_Delete(doc);
		retry_list(p);
		goto out;
	}
	int rc = resolve(p, list);
	cJSON_Delete(doc);
	if (rc != 0) {
		fatal(p);
		goto out;
	}
	log_info(p->who, "streaming %zu function(s)", p->nstreams);
	for (size_t i = 0; i < p->nstreams; i++)
		stream_start(p->streams[i]);
out:
	buf_free(&p->list_body);
}

static void on_list_token(struct auth_wait *w, const char *token, int err)
{
	struct project *p = (struct project *)((char *)w - offsetof(struct project, wait));
	if (p->stopping || err == LG_ECLOSED)
		return;
	if (err) {
		retry_list(p);
		return;
	}
	char url[4096];
	CURL *e = p->list_req.easy;
	char *pid = curl_easy_escape(e, p->conf.project_id, 0);
	size_t base = strlen(p->conf.api_url);
	while (base && p->conf.api_url[base - 1] == '/')
		base--;
	snprintf(url, sizeof(url), "%.*s/v1/projects/%s/functions", (int)base, p->conf.api_url,
	         pid ? pid : "");
	curl_free(pid);
	free(p->list_token);
	p->list_token = strdup(token);
	struct buf h;
	buf_init(&h, 20000);
	buf_printf(&h, "Authorization: Bearer %s", token);
	struct curl_slist *hdrs = curl_slist_append(NULL, h.data);
	buf_free(&h);
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_list_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	httpc_set_common(e, p->conf.proxy, p->conf.ca_file);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
	buf_init(&p->list_body, LIST_MAX_BODY);
	/* curl copies nothing of the header list: keep it until the end. */
	p->list_req.data = p;
	if (httpc_start(p->http, &p->list_req) != 0) {
		curl_slist_free_all(hdrs);
		return;
	}
	curl_slist_free_all(p->list_hdrs);
	p->list_hdrs = hdrs;
}

static void fetch_list(struct project *p)
{
	if (p->stopping)
		return;
	auth_get(&p->auth, &p->wait);
}

int project_start(struct project *p, uv_loop_t *loop, struct httpc *http, struct router *router)
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
	sc->idle_timeout_ms = c->idle_timeout_ms;
	sc->max_event_size = c->max_event_size;
	sc->resume_overlap_ms = c->resume_overlap_ms;
	sc->initial_lookback_ms = c->initial_lookback_ms;
	sc->backoff_base_ms = c->backoff_base_ms;
	sc->backoff_max_ms = c->backoff_max_ms;
	sc->max_ids = (size_t)c->max_dedup_ids;
	sc->max_in_flight = (size_t)c->max_in_flight;
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
	};
	if (auth_init(&p->auth, loop, http, &ac, p->who) != 0)
		return LG_ENOMEM;
	p->auth_open = true;
	p->wait.cb = on_list_token;
	p->list_req.easy = curl_easy_init();
	if (!p->list_req.easy)
		return LG_ENOMEM;
	p->list_req.done = on_list_done;
	p->list_req.data = p;
	uv_timer_init(loop, &p->retry_timer);
	p->retry_timer.data = p;
	p->timer_open = true;
	backoff_init(&p->backoff, c->backoff_base_ms, c->backoff_max_ms);
	fetch_list(p);
	return 0;
}

void project_stop(struct project *p)
{
	p->stopping = true;
	if (p->timer_open)
		uv_timer_stop(&p->retry_timer);
	if (p->auth_open)
		auth_cancel(&p->auth, &p->wait);
	if (p->list_req.easy)
		httpc_cancel(&p->list_req);
	for (size_t i = 0; i < p->nstreams; i++)
		stream_stop(p->streams[i]);
}

void project_resume(struct project *p)
{
	for (size_t i = 0; i < p->nstreams; i++)
		stream_resume(p->streams[i]);
}

void project_save_checkpoints(struct project *p)
{
	for (size_t i = 0; i < p->nstreams; i++)
		stream_save_checkpoint(p->streams[i]);
}

static void part_closed(struct project *p)
{
	if (--p->pending_close > 0)
		return;
	p->closed = true;
	if (p->closed_cb)
		p->closed_cb(p);
}

static void on_stream_closed(struct stream *s)
{
	part_closed(s->data);
}

static void on_auth_closed(struct auth *a)
{
	part_closed((struct project *)((char *)a - offsetof(struct project, auth)));
}

static void on_timer_closed(uv_handle_t *h)
{
	part_closed(h->data);
}

void project_close(struct project *p, void (*closed)(struct project *p))
{
	project_stop(p);
	p->closed_cb = closed;
	p->pending_close = 1;
	for (size_t i = 0; i < p->nstreams; i++) {
		p->pending_close++;
		p->streams[i]->data = p;
		stream_close(p->streams[i], on_stream_closed);
	}
	if (p->auth_open) {
		p->pending_close++;
		auth_close(&p->auth, on_auth_closed);
	}
	if (p->timer_open) {
		p->pending_close++;
		uv_close((uv_handle_t *)&p->retry_timer, on_timer_closed);
	}
	part_closed(p);
}

void project_free(struct project *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstreams; i++)
		free(p->streams[i]);
	free(p->streams);
	if (p->list_req.easy)
		curl_easy_cleanup(p->list_req.easy);
	curl_slist_free_all(p->list_hdrs);
	buf_free(&p->list_body);
	opts_free(project_opts, &p->conf);
	free(p->labels_json);
	free(p->list_token);
	free(p->name);
	free(p->who);
	free(p);
}

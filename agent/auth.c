#include "auth.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define AUTH_MAX_BODY (64 * 1024)

static void fetch(struct auth *a);
static void on_timer(uv_timer_t *t);

static void notify(struct auth *a, int err)
{
	/* Callbacks may queue again (auth_get); take the list first. */
	struct auth_wait *w = a->waiters;
	a->waiters = NULL;
	while (w) {
		struct auth_wait *next = w->next;
		w->queued = false;
		w->next = NULL;
		w->cb(w, err ? NULL : a->token, err);
		w = next;
	}
}

/* Fetches now, or arms the timer for the time a fetch is allowed again. */
static void fetch_when_allowed(struct auth *a)
{
	if (a->fetching || a->closing)
		return;
	uint64_t now = uv_now(a->loop);
	if (now < a->not_before) {
		uv_timer_start(&a->timer, on_timer, a->not_before - now, 0);
		return;
	}
	fetch(a);
}

static void on_timer(uv_timer_t *t)
{
	fetch_when_allowed(t->data);
}

static void schedule_refresh(struct auth *a, uint64_t lifetime_ms)
{
	uint64_t margin = lifetime_ms / 10;
	if (margin > 60000)
		margin = 60000;
	uv_timer_start(&a->timer, on_timer, lifetime_ms - margin, 0);
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
	struct auth *a = ud;
	if (buf_append(&a->body, ptr, size * n) != 0)
		return 0; /* too large: curl fails the transfer */
	return size * n;
}

int auth_parse_answer(const char *body, size_t len, char **token, uint64_t *lifetime_ms)
{
	cJSON *doc = cJSON_ParseWithLength(body ? body : "", len);
	if (!doc)
		return LG_EPARSE;
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expires_in");
	int rc = LG_EPARSE;
	if (cJSON_IsString(tok) && tok->valuestring[0] &&
	    strlen(tok->valuestring) < AUTH_TOKEN_MAX) {
		*token = strdup(tok->valuestring);
		rc = *token ? 0 : LG_ENOMEM;
		double secs = cJSON_IsNumber(exp) ? exp->valuedouble : 3600;
		if (!(secs >= 1)) /* also NaN */
			secs = 1;
		if (secs > 86400 * 365)
			secs = 86400 * 365;
		*lifetime_ms = (uint64_t)(secs * 1000);
	}
	/* The parsed copy holds the token too. */
	if (cJSON_IsString(tok))
		explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	cJSON_Delete(doc);
	return rc;
}

static int parse_answer(struct auth *a, uint64_t *lifetime_ms)
{
	char *copy = NULL;
	int rc = auth_parse_answer(a->body.data, a->body.len, &copy, lifetime_ms);
	if (rc)
		return rc;
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	a->token = copy;
	return 0;
}

static void on_done(struct httpc_req *req, CURLcode result)
{
	struct auth *a = req->data;
	long status = httpc_status(req);
	a->fetching = false;
	int err = 0;
	uint64_t lifetime = 0;
	if (result != CURLE_OK) {
		log_warn(a->who, "token request failed: %s", httpc_strerror(req, result));
		err = LG_EAGAIN;
	} else if (status == 401 || status == 400 || status == 403) {
		log_error(a->who,
		          "token request rejected with HTTP %ld: check key_id and key_secret",
		          status);
		err = LG_EAUTH;
	} else if (status == 429 || status >= 500) {
		/* The token endpoint sends no Retry-After: the backoff decides. */
		a->stats.rate_limited += status == 429;
		err = LG_EAGAIN;
	} else if (status != 200) {
		log_error(a->who, "token endpoint answered HTTP %ld", status);
		err = LG_EPROTO;
	} else if ((err = parse_answer(a, &lifetime)) != 0) {
		log_error(a->who, "token endpoint answer is not a token response");
	}
	if (a->body.data)
		explicit_bzero(a->body.data, a->body.len);
	buf_free(&a->body);
	if (err) {
		a->stats.failures++;
		uint64_t delay = backoff_next(&a->backoff);
		a->not_before = uv_now(a->loop) + delay;
		if (err == LG_EAGAIN && result == CURLE_OK)
			log_warn(a->who,
			         "token endpoint answered HTTP %ld; next try in %" PRIu64 " ms",
			         status, delay);
		/* A proactive refresh failed while the old token still works:
		 * try again later, before it runs out. */
		if (a->token && uv_now(a->loop) < a->expires_at)
			fetch_when_allowed(a);
		notify(a, err);
		return;
	}
	a->stats.refreshes++;
	backoff_reset(&a->backoff);
	a->not_before = 0;
	a->expires_at = uv_now(a->loop) + lifetime;
	log_debug(a->who, "token refreshed, valid for %" PRIu64 " s", lifetime / 1000);
	schedule_refresh(a, lifetime);
	notify(a, 0);
}

static void fetch(struct auth *a)
{
	CURL *e = a->req.easy;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, a->conf.token_url);
	curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(e, CURLOPT_USERNAME, a->conf.key_id ? a->conf.key_id : "");
	curl_easy_setopt(e, CURLOPT_PASSWORD, a->conf.key_secret ? a->conf.key_secret : "");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
	httpc_set_common(e, a->conf.proxy, a->conf.ca_file, a->conf.tls_verify);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)a->conf.timeout_ms);
	buf_init(&a->body, AUTH_MAX_BODY);
	a->fetching = true;
	a->stats.requests++;
	if (httpc_start(a->http, &a->req) != 0) {
		a->fetching = false;
		notify(a, LG_ECLOSED);
	}
}

int auth_init(struct auth *a, uv_loop_t *loop, struct httpc *http, const struct auth_conf *conf,
              const char *who)
{
	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->http = http;
	a->conf = *conf;
	a->who = who;
	if (!a->conf.timeout_ms)
		a->conf.timeout_ms = 30000;
	uint64_t base = conf->backoff_base_ms ? conf->backoff_base_ms : 500;
	uint64_t max = conf->backoff_max_ms ? conf->backoff_max_ms : 60000;
	backoff_init(&a->backoff, base, max);
	backoff_init(&a->reject_backoff, base, max);
	if (conf->static_token) {
		a->token = strdup(conf->static_token);
		if (!a->token)
			return LG_ENOMEM;
		a->expires_at = UINT64_MAX;
	}
	a->req.easy = curl_easy_init();
	if (!a->req.easy) {
		free(a->token);
		return LG_ENOMEM;
	}
	a->req.done = on_done;
	a->req.data = a;
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	return 0;
}

void auth_get(struct auth *a, struct auth_wait *w)
{
	if (a->token && uv_now(a->loop) < a->expires_at) {
		w->cb(w, a->token, 0);
		return;
	}
	if (a->closing) {
		w->cb(w, NULL, LG_ECLOSED);
		return;
	}
	if (!w->queued) {
		w->queued = true;
		w->next = a->waiters;
		a->waiters = w;
	}
	if (a->conf.static_token) {
		notify(a, LG_EAUTH);
		return;
	}
	fetch_when_allowed(a);
}

void auth_cancel(struct auth *a, struct auth_wait *w)
{
	if (!w->queued)
		return;
	for (struct auth_wait **p = &a->waiters; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	w->queued = false;
	w->next = NULL;
}

void auth_invalidate(struct auth *a, const char *token)
{
	if (a->conf.static_token || !a->token || !token || strcmp(a->token, token) != 0)
		return;
	explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	a->token = NULL;
	a->expires_at = 0;
	a->stats.rejected++;
	if (a->reject_run++ == 0) {
		log_info(a->who, "the API answered HTTP 401: fetching a new token");
		return;
	}
	/* Fresh tokens keep being refused: the credentials work at the token
	 * endpoint but not at the API. Refreshing again at once would only
	 * hammer both. */
	uint64_t delay = backoff_next(&a->reject_backoff);
	uint64_t when = uv_now(a->loop) + delay;
	if (when > a->not_before)
		a->not_before = when;
	log_warn(a->who,
	         "the API refused %u tokens in a row (HTTP 401); next token request in %" PRIu64
	         " ms",
	         a->reject_run, delay);
}

void auth_confirm(struct auth *a)
{
	if (!a->reject_run)
		return;
	a->reject_run = 0;
	backoff_reset(&a->reject_backoff);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct auth *a = h->data;
	curl_easy_cleanup(a->req.easy);
	a->req.easy = NULL;
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	a->token = NULL;
	if (a->closed)
		a->closed(a);
}

void auth_close(struct auth *a, void (*closed)(struct auth *a))
{
	a->closing = true;
	a->closed = closed;
	if (a->fetching) {
		httpc_cancel(&a->req);
		a->fetching = false;
		buf_free(&a->body);
	}
	notify(a, LG_ECLOSED);
	uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}

#include "api.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"

#define API_DEFAULT_MAX_BODY (8u << 20)

const char *api_class_name(enum api_class c)
{
	return c == API_CLASS_LOGS ? "logs" : "api";
}

int api_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || (*p && strchr("-._~", *p)))
			rc = buf_putc(b, (char)*p);
		else if (!(rc = buf_putc(b, '%')) && !(rc = buf_putc(b, hex[*p >> 4])))
			rc = buf_putc(b, hex[*p & 15]);
	}
	return rc;
}

/* ---- the client ---- */

int api_init(struct api *a, uv_loop_t *loop, struct httpc *http, struct auth *auth,
             const struct api_conf *conf, const char *who)
{
	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->http = http;
	a->auth = auth;
	a->conf = *conf;
	a->who = who;
	if (!a->conf.timeout_ms)
		a->conf.timeout_ms = 60000;
	struct buf b;
	buf_init(&b, 8192);
	size_t n = strlen(conf->api_url);
	while (n && conf->api_url[n - 1] == '/')
		n--;
	int rc = buf_append(&b, conf->api_url, n);
	if (!rc)
		rc = buf_puts(&b, "/v1/projects/");
	if (!rc)
		rc = api_escape(&b, conf->project_id ? conf->project_id : "");
	a->base = rc ? NULL : buf_detach(&b, NULL);
	buf_free(&b);
	if (!a->base)
		return LG_ENOMEM;
	for (int c = 0; c < API_CLASS_COUNT; c++) {
		if (ratelim_init(&a->lim[c], loop, conf->limit[c], conf->window_ms) != 0)
			return LG_ENOMEM;
		a->lim[c].data = a;
		a->open_limiters++;
	}
	return 0;
}

static void on_limiter_closed(struct ratelim *rl)
{
	struct api *a = rl->data;
	if (--a->open_limiters > 0)
		return;
	free(a->base);
	a->base = NULL;
	if (a->closed)
		a->closed(a);
}

void api_close(struct api *a, void (*closed)(struct api *a))
{
	a->closed = closed;
	unsigned n = a->open_limiters;
	if (n == 0) {
		free(a->base);
		a->base = NULL;
		if (closed)
			closed(a);
		return;
	}
	for (unsigned c = 0; c < n; c++)
		ratelim_close(&a->lim[c], on_limiter_closed);
}

/* ---- one request ---- */

static void attempt(struct api_req *r);

static void finish(struct api_req *r, int err)
{
	r->active = false;
	r->granted = false;
	if (r->done)
		r->done(r, err);
}

static void on_retry_timer(uv_timer_t *t)
{
	attempt(t->data);
}

/* A transient failure: try again after `delay`, unless out of attempts. */
static void retry(struct api_req *r, uint64_t delay, const char *why)
{
	if (r->max_attempts && ++r->attempt >= r->max_attempts) {
		log_warn(r->api->who, "%s: %s; giving up after %u attempts", r->what, why,
		         r->attempt);
		finish(r, LG_EAGAIN);
		return;
	}
	log_debug(r->api->who, "%s: %s; retrying in %" PRIu64 " ms", r->what, why, delay);
	uv_timer_start(&r->timer, on_retry_timer, delay, 0);
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
	struct api_req *r = ud;
	if (buf_append(&r->body, ptr, size * n) == 0)
		return size * n;
	r->too_big = true;
	return 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct api_req *r = ud;
	size_t len = size * n;
	if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		const char *v = buf + 12;
		size_t vlen = len - 12;
		while (vlen && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
			vlen--;
		r->retry_after_ms = httpc_parse_retry_after(v, vlen);
	}
	return len;
}

/* The API's error message ({"error":{"message":…}}), printable ASCII only so
 * that it stays one log line. */
static void take_message(struct api_req *r)
{
	r->message[0] = '\0';
	cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(doc, "message");
	if (cJSON_IsString(m)) {
		size_t j = 0;
		for (const char *p = m->valuestring; *p && j + 1 < sizeof(r->message); p++)
			r->message[j++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		r->message[j] = '\0';
	}
	cJSON_Delete(doc);
}

static void on_done(struct httpc_req *req, CURLcode result)
{
	struct api_req *r = req->data;
	struct api *a = r->api;
	struct api_stats *st = &a->stats;
	enum api_class c = r->cls;
	long status = httpc_status(req);
	r->status = status;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	if (r->too_big) {
		log_warn(a->who, "%s: answer larger than %zu bytes", r->what, r->body.max);
		finish(r, LG_ETOOBIG);
		return;
	}
	if (result != CURLE_OK) {
		st->failed[c]++;
		retry(r, backoff_next(&r->backoff), httpc_strerror(req, result));
		return;
	}
	if (status >= 200 && status < 300) {
		st->ok[c]++;
		auth_confirm(a->auth);
		finish(r, 0);
		return;
	}
	take_message(r);
	switch (status) {
	case 401:
		st->unauthorized[c]++;
		auth_invalidate(a->auth, r->token);
		if (!r->refreshed_401) {
			r->refreshed_401 = true;
			attempt(r);
		} else {
			finish(r, LG_EAUTH);
		}
		return;
	case 403:
		st->forbidden[c]++;
		finish(r, LG_EFORBIDDEN);
		return;
	case 404:
		finish(r, LG_ENOENT);
		return;
	case 429: {
		st->rate_limited[c]++;
		uint64_t d = r->retry_after_ms ? r->retry_after_ms : backoff_next(&r->backoff);
		/* The whole class waits: the server's budget is the project's. */
		ratelim_block(&a->lim[c], d);
		log_warn(a->who, "%s: HTTP 429 (rate limited); %s requests wait %" PRIu64 " ms",
		         r->what, api_class_name(c), d);
		retry(r, 0, "rate limited");
		return;
	}
	default:
		break;
	}
	if (status >= 500) {
		st->server_errors[c]++;
		char why[32];
		snprintf(why, sizeof(why), "HTTP %ld", status);
		uint64_t d = backoff_next(&r->backoff);
		retry(r, r->retry_after_ms > d ? r->retry_after_ms : d, why);
		return;
	}
	finish(r, LG_EINVAL);
}

static void send_now(struct api_req *r, const char *token)
{
	struct api *a = r->api;
	CURL *e = r->req.easy;
	r->granted = false;
	if (r->token)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	r->token = strdup(token);
	struct buf h;
	buf_init(&h, 20000);
	buf_printf(&h, "Authorization: Bearer %s", token);
	curl_slist_free_all(r->hdrs);
	r->hdrs = h.data ? curl_slist_append(NULL, h.data) : NULL;
	if (h.data)
		explicit_bzero(h.data, h.len);
	buf_free(&h);
	if (r->hdrs)
		r->hdrs = curl_slist_append(r->hdrs, "Accept: application/json");
	if (!r->token || !r->hdrs) {
		finish(r, LG_ENOMEM);
		return;
	}
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	httpc_set_common(e, a->conf.proxy, a->conf.ca_file, a->conf.tls_verify);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)a->conf.timeout_ms);
	buf_free(&r->body);
	buf_init(&r->body, r->max_body ? r->max_body : API_DEFAULT_MAX_BODY);
	r->status = 0;
	r->too_big = false;
	r->retry_after_ms = 0;
	r->message[0] = '\0';
	a->stats.requests[r->cls]++;
	if (httpc_start(a->http, &r->req) != 0)
		finish(r, LG_ECLOSED);
}

static void on_token(struct auth_wait *w, const char *token, int err)
{
	struct api_req *r = (struct api_req *)((char *)w - offsetof(struct api_req, aw));
	if (!r->active)
		return;
	if (err == LG_EAGAIN) {
		retry(r, backoff_next(&r->backoff),
		      "no token (token endpoint unreachable or busy)");
		return;
	}
	if (err) {
		finish(r, err);
		return;
	}
	/* The slot is taken only with a token in hand, and the request goes at
	 * once: the server's window must see it when ours counted it. */
	if (!r->granted && !ratelim_take(&r->api->lim[r->cls], &r->rw))
		return;
	send_now(r, token);
}

static void on_grant(struct ratelim_wait *w)
{
	struct api_req *r = (struct api_req *)((char *)w - offsetof(struct api_req, rw));
	r->granted = true;
	auth_get(r->api->auth, &r->aw);
}

static void attempt(struct api_req *r)
{
	if (!r->active || r->closing)
		return;
	auth_get(r->api->auth, &r->aw);
}

int api_req_init(struct api_req *r, struct api *a)
{
	memset(r, 0, sizeof(*r));
	uv_timer_init(a->loop, &r->timer);
	r->timer.data = r;
	r->api = a;
	r->what = "request";
	r->max_body = API_DEFAULT_MAX_BODY;
	r->req.easy = curl_easy_init();
	if (!r->req.easy)
		return LG_ENOMEM;
	r->req.data = r;
	r->req.done = on_done;
	r->aw.cb = on_token;
	r->rw.cb = on_grant;
	buf_init(&r->body, r->max_body);
	backoff_init(&r->backoff, a->conf.backoff_base_ms, a->conf.backoff_max_ms);
	return 0;
}

int api_req_get(struct api_req *r, enum api_class cls, const char *path, api_done_cb done)
{
	if (r->active)
		return LG_EBUSY;
	if (r->closing)
		return LG_ECLOSED;
	struct buf u;
	buf_init(&u, 16384);
	if (buf_puts(&u, r->api->base) || buf_puts(&u, path)) {
		buf_free(&u);
		return LG_ETOOBIG;
	}
	free(r->url);
	r->url = buf_detach(&u, NULL);
	if (!r->url)
		return LG_ENOMEM;
	r->cls = cls;
	r->done = done;
	r->attempt = 0;
	r->refreshed_401 = false;
	r->granted = false;
	r->active = true;
	backoff_reset(&r->backoff);
	attempt(r);
	return 0;
}

bool api_req_active(const struct api_req *r)
{
	return r->active;
}

void api_req_cancel(struct api_req *r)
{
	if (!r->api)
		return;
	r->active = false;
	auth_cancel(r->api->auth, &r->aw);
	ratelim_cancel(&r->api->lim[r->cls], &r->rw);
	if (r->granted)
		r->granted = false;
	httpc_cancel(&r->req);
	if (!r->closing)
		uv_timer_stop(&r->timer);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct api_req *r = h->data;
	curl_easy_cleanup(r->req.easy);
	r->req.easy = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	buf_free(&r->body);
	if (r->token)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	free(r->url);
	r->token = r->url = NULL;
	if (r->closed)
		r->closed(r);
}

void api_req_close(struct api_req *r, void (*closed)(struct api_req *r))
{
	api_req_cancel(r);
	r->closing = true;
	r->closed = closed;
	uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

#include "stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"
#include "log.h"

#define MAX_URL 4096
/* A stream pauses at max_in_flight records in flight; the ack queue has room
 * for what one more chunk of the transfer may still carry. */
#define ACKQ_SLACK 65536

const char *stream_state_name(enum stream_state st)
{
	switch (st) {
	case STREAM_WAIT_TOKEN:
		return "wait_token";
	case STREAM_CONNECTING:
		return "connecting";
	case STREAM_STREAMING:
		return "streaming";
	case STREAM_BACKOFF:
		return "backoff";
	case STREAM_POLLING:
		return "polling";
	case STREAM_POLL_WAIT:
		return "poll_wait";
	case STREAM_STOPPED:
		return "stopped";
	}
	return "unknown";
}

const char *stream_mode_name(enum stream_mode m)
{
	return m == STREAM_MODE_SSE ? "stream" : m == STREAM_MODE_POLL ? "poll" : "window";
}

static void connect_now(struct stream *s);

/* Whether the stream may read: its sinks have room and the records it has in
 * flight (held back by one slow sink) stay well under the ack queue's cap. */
bool stream_can_read(const struct stream *s)
{
	if (ackq_len(&s->ackq) >= s->conf->max_in_flight)
		return false;
	return router_accepting(s->router, s->function_name);
}

static void on_retry_timer(uv_timer_t *t)
{
	struct stream *s = t->data;
	if (s->mode == STREAM_MODE_SSE)
		connect_now(s);
	else
		stream_poll_now(s);
}

void stream_schedule(struct stream *s, enum stream_state st, uint64_t delay_ms)
{
	s->state = st;
	uv_timer_start(&s->retry_timer, on_retry_timer, delay_ms, 0);
}

static void schedule(struct stream *s, uint64_t delay_ms)
{
	stream_schedule(s, STREAM_BACKOFF, delay_ms);
}

static void back_off(struct stream *s)
{
	uint64_t d = backoff_next(&s->backoff);
	log_debug(s->who, "reconnecting in %" PRIu64 " ms", d);
	schedule(s, d);
}

/* ---- SSE events to records ---- */

/* Returns whether the event was a valid one (new or not). */
static bool ingest(struct stream *s, const char *data, size_t len)
{
	struct record *r = NULL;
	const char *why = NULL;
	struct norm_stats ns = {0};
	s->stats.events++;
	if (norm_event(&s->norm, &s->scratch, data, len, &r, &ns, &why) != 0) {
		s->stats.malformed++;
		why = why ? why : "invalid";
		/* Reasons differ in detail (a byte offset, a detail after a colon); one
		 * log line per kind of problem is enough. */
		size_t kind = strcspn(why, ":0123456789");
		if (kind >= sizeof(s->last_malformed) ||
		    strncmp(why, s->last_malformed, kind) != 0 || s->last_malformed[kind] != '\0') {
			log_warn(s->who,
			         "malformed event skipped (%s); further ones like it are "
			         "counted, not logged",
			         why);
			snprintf(s->last_malformed, sizeof(s->last_malformed), "%.*s", (int)kind,
			         why);
		}
		return false;
	}
	s->stats.utf8_repaired += ns.utf8_repaired;
	if (ckpt_delivered(&s->ckpt, r->id_hash) || idset_has(&s->seen, r->id_hash)) {
		s->stats.duplicates++;
		record_unref(r);
		return true;
	}
	uint64_t seq;
	if (ackq_push(&s->ackq, r->start_ms, r->id_hash, uv_now(s->loop), &seq) != 0) {
		/* Cannot track it, so it must not be taken (nor remembered as
		 * seen): it comes back on the reconnect. */
		log_error(s->who, "too many records in flight; reconnecting");
		record_unref(r);
		s->abort_transfer = true;
		return true;
	}
	if (idset_add(&s->seen, r->id_hash, r->start_ms) < 0) {
		idset_prune(&s->seen, ckpt_keep_from(&s->ckpt));
		if (idset_add(&s->seen, r->id_hash, r->start_ms) < 0) {
			idset_evict_oldest(&s->seen, idset_len(&s->seen) / 8 + 1);
			idset_add(&s->seen, r->id_hash, r->start_ms);
		}
	}
	/* Only a new record proves the connection useful: one that replays
	 * nothing but duplicates must not reset the backoff. */
	s->got_data = true;
	r->origin = s;
	r->seq = seq;
	s->stats.records++;
	router_submit(s->router, r);
	if (r->pending == 0)
		stream_record_done(s, r);
	record_unref(r);
	return true;
}

void stream_gone(struct stream *s)
{
	s->state = STREAM_STOPPED;
	s->gone = true;
	if (s->on_gone)
		s->on_gone(s);
}

void stream_ingest(struct stream *s, const char *data, size_t len)
{
	ingest(s, data, len);
}

static void on_event(void *ud, const struct sse_event *ev)
{
	struct stream *s = ud;
	if (ingest(s, ev->data, ev->data_len) && ev->id_len)
		ckpt_set_last_event_id(&s->ckpt, ev->id, ev->id_len);
}

static void on_retry(void *ud, uint64_t ms)
{
	struct stream *s = ud;
	/* The server's wish, within our own bounds: a huge value must not
	 * stop the stream without a word. */
	s->server_retry_ms = ms < s->conf->backoff_max_ms ? ms : s->conf->backoff_max_ms;
}

static void on_comment(void *ud)
{
	struct stream *s = ud;
	s->stats.comments++;
}

static void on_oversize(void *ud, size_t size)
{
	struct stream *s = ud;
	s->stats.oversized++;
	log_warn(s->who, "event of %zu+ bytes exceeds max_event_size (%" PRIu64 "): skipped", size,
	         s->conf->max_event_size);
}

void stream_record_done(struct stream *s, struct record *r)
{
	if (ackq_done(&s->ackq, r->seq) != 0)
		return;
	ackq_advance(&s->ackq, ckpt_advance_cb, &s->ckpt);
}

/* ---- the transfer ---- */

static void on_idle(uv_timer_t *t)
{
	struct stream *s = t->data;
	if (s->state != STREAM_STREAMING && s->state != STREAM_CONNECTING)
		return;
	if (s->paused)
		return;
	log_warn(s->who, "no data for %" PRIu64 " ms: reconnecting", s->conf->idle_timeout_ms);
	httpc_cancel(&s->req);
	back_off(s);
}

static void touch(struct stream *s)
{
	uv_timer_start(&s->idle_timer, on_idle, s->conf->idle_timeout_ms, 0);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct stream *s = ud;
	size_t len = size * n;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		s->is_sse = false;
		s->retry_after_ms = 0;
		s->headers_done = false;
		return len;
	}
	size_t end = len;
	while (end && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
		end--;
	if (end == 0) {
		s->headers_done = true;
		s->status = httpc_status(&s->req);
		if (s->status == 200 && s->is_sse) {
			s->state = STREAM_STREAMING;
			s->stats.connects++;
			s->refreshed_after_401 = false;
			auth_confirm(s->auth);
			sse_reset(&s->sse);
			log_info(s->who, "connected");
		}
		return len;
	}
	const char *colon = memchr(buf, ':', end);
	if (!colon)
		return len;
	size_t nlen = (size_t)(colon - buf);
	const char *v = colon + 1;
	while (v < buf + end && (*v == ' ' || *v == '\t'))
		v++;
	size_t vlen = (size_t)(buf + end - v);
	if (nlen == 12 && strncasecmp(buf, "content-type", 12) == 0)
		s->is_sse = vlen >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
	else if (nlen == 11 && strncasecmp(buf, "retry-after", 11) == 0)
		s->retry_after_ms = httpc_parse_retry_after(v, vlen);
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	struct stream *s = ud;
	size_t len = size * n;
	if (s->status != 200)
		return len; /* an error answer's body: not needed */
	if (!s->is_sse)
		return 0; /* not an event stream: end the transfer */
	if (s->want_pause) {
		s->paused = true;
		s->stats.pauses++;
		return CURL_WRITEFUNC_PAUSE;
	}
	touch(s);
	if (sse_feed(&s->sse, buf, len) != 0 || s->abort_transfer)
		return 0;
	if (!stream_can_read(s))
		s->want_pause = true;
	return len;
}

static void on_done(struct httpc_req *req, CURLcode result)
{
	struct stream *s = req->data;
	uv_timer_stop(&s->idle_timer);
	s->paused = s->want_pause = false;
	if (s->stopping) {
		s->state = STREAM_STOPPED;
		return;
	}
	long st = s->status ? s->status : httpc_status(req);
	if (s->got_data)
		backoff_reset(&s->backoff);
	if (st == 200 && s->is_sse) {
		if (result == CURLE_OK)
			log_info(s->who, "stream ended by the server; reconnecting");
		else
			log_warn(s->who, "stream broken: %s; reconnecting",
			         httpc_strerror(req, result));
		uint64_t d = backoff_next(&s->backoff);
		schedule(s, d > s->server_retry_ms ? d : s->server_retry_ms);
		return;
	}
	if (st != 0)
		s->stats.http_errors++;
	switch (st) {
	case 0:
		log_warn(s->who, "connection failed: %s", httpc_strerror(req, result));
		back_off(s);
		return;
	case 200:
		log_warn(s->who, "answer is not text/event-stream; retrying");
		back_off(s);
		return;
	case 401:
		auth_invalidate(s->auth, s->token);
		if (!s->refreshed_after_401) {
			s->refreshed_after_401 = true;
			log_info(s->who, "HTTP 401: refreshing the token once");
			schedule(s, 0);
		} else {
			log_warn(s->who, "HTTP 401 again after a token refresh; backing off");
			back_off(s);
		}
		return;
	case 403:
	case 404:
		log_error(s->who, "HTTP %ld: %s; this stream is stopped, others go on", st,
		          st == 403 ? "the key has no access to this function"
		                    : "no such function or project");
		stream_gone(s);
		return;
	case 204:
		log_warn(s->who, "HTTP 204: the server asked not to reconnect; stream stopped");
		stream_gone(s);
		return;
	case 429:
		if (s->on_stream_limit) {
			s->on_stream_limit(s);
			return;
		}
		/* fall through */
	case 503:
		log_warn(s->who, "HTTP %ld: retrying in %s", st,
		         s->retry_after_ms ? "the time Retry-After asks" : "a backoff");
		if (s->retry_after_ms)
			schedule(s, s->retry_after_ms);
		else
			back_off(s);
		return;
	default:
		log_warn(s->who, "HTTP %ld; retrying", st);
		back_off(s);
	}
}

static int build_url(struct stream *s, char *url, size_t len)
{
	const struct stream_conf *c = s->conf;
	CURL *e = s->req.easy;
	char *pid = curl_easy_escape(e, c->project_id, 0);
	char *fid = curl_easy_escape(e, s->function_id, 0);
	if (!pid || !fid) {
		curl_free(pid);
		curl_free(fid);
		return LG_ENOMEM;
	}
	size_t base = strlen(c->api_url);
	while (base && c->api_url[base - 1] == '/')
		base--;
	int n = snprintf(url, len, "%.*s/v1/projects/%s/functions/%s/logs/stream", (int)base,
	                 c->api_url, pid, fid);
	curl_free(pid);
	curl_free(fid);
	char sep = '?';
	/* Before anything was acknowledged this is where the stream began
	 * (stream_start sets it), so a break in the first run loses nothing. */
	int64_t since = ckpt_resume_since(&s->ckpt);
	ckpt_set_replay_from(&s->ckpt, since);
	if (n > 0 && (size_t)n < len) {
		char ts[NORM_TIME_LEN];
		norm_format_time(since, ts);
		char *esc = curl_easy_escape(e, ts, 0);
		n += snprintf(url + n, len - (size_t)n, "%csince=%s", sep, esc ? esc : "");
		curl_free(esc);
		sep = '&';
	}
	if (c->level && n > 0 && (size_t)n < len)
		n += snprintf(url + n, len - (size_t)n, "%clevel=%s", sep, c->level);
	return n > 0 && (size_t)n < len ? 0 : LG_ETOOBIG;
}

static void start_request(struct stream *s, const char *token)
{
	char url[MAX_URL];
	CURL *e = s->req.easy;
	curl_easy_reset(e);
	free(s->token);
	s->token = strdup(token);
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	struct buf h;
	buf_init(&h, 20000);
	buf_printf(&h, "Authorization: Bearer %s", token);
	s->headers = curl_slist_append(s->headers, h.data);
	buf_free(&h);
	s->headers = curl_slist_append(s->headers, "Accept: text/event-stream");
	s->headers = curl_slist_append(s->headers, "Cache-Control: no-cache");
	const char *last_id = sse_last_event_id(&s->sse);
	if (last_id && *last_id && strlen(last_id) < 1024 && !strpbrk(last_id, "\r\n")) {
		char lh[1100];
		snprintf(lh, sizeof(lh), "Last-Event-ID: %s", last_id);
		s->headers = curl_slist_append(s->headers, lh);
	}
	if (!s->token || !s->headers || build_url(s, url, sizeof(url)) != 0) {
		log_error(s->who, "cannot build the stream request");
		back_off(s);
		return;
	}
	log_debug(s->who, "connecting: %s", strstr(url, "/logs/stream"));
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	httpc_set_common(e, s->conf->proxy, s->conf->ca_file, s->conf->tls_verify);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	s->status = 0;
	s->is_sse = false;
	s->headers_done = false;
	s->got_data = false;
	s->retry_after_ms = 0;
	s->abort_transfer = false;
	s->want_pause = !stream_can_read(s);
	s->paused = false;
	s->state = STREAM_CONNECTING;
	sse_reset(&s->sse);
	if (httpc_start(s->http, &s->req) != 0) {
		back_off(s);
		return;
	}
	if (s->stats.connects)
		s->stats.reconnects++;
	touch(s);
}

static void on_token(struct auth_wait *w, const char *token, int err)
{
	struct stream *s = (struct stream *)((char *)w - offsetof(struct stream, auth_wait));
	if (s->stopping || err == LG_ECLOSED)
		return;
	if (err) {
		back_off(s);
		return;
	}
	start_request(s, token);
}

static void connect_now(struct stream *s)
{
	if (s->stopping)
		return;
	/* Connecting only to pause at once would let the server buffer the
	 * whole replay for nothing (and drop us); wait for the sinks. */
	if (!stream_can_read(s)) {
		s->wait_drain = true;
		s->state = STREAM_BACKOFF;
		return;
	}
	s->state = STREAM_WAIT_TOKEN;
	auth_get(s->auth, &s->auth_wait);
}

/* ---- life ---- */

int stream_init(struct stream *s, uv_loop_t *loop, const struct stream_conf *conf,
                struct httpc *http, struct auth *auth, struct api *api, struct router *router,
                const char *function_id, const char *function_name)
{
	memset(s, 0, sizeof(*s));
	/* The handles first: stream_close() must work even after a failure. */
	uv_timer_init(loop, &s->retry_timer);
	uv_timer_init(loop, &s->idle_timer);
	s->retry_timer.data = s;
	s->idle_timer.data = s;
	s->open_handles = 2;
	s->state = STREAM_STOPPED;
	s->conf = conf;
	s->loop = loop;
	s->http = http;
	s->auth = auth;
	s->api = api;
	s->router = router;
	s->function_id = strdup(function_id);
	s->function_name = strdup(function_name ? function_name : function_id);
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b, "%s-%s", conf->project_id, function_id);
	s->key = buf_detach(&b, NULL);
	buf_init(&b, 4096);
	buf_printf(&b, "stream %s/%s", conf->project_name, s->function_name);
	s->who = buf_detach(&b, NULL);
	s->req.easy = curl_easy_init();
	if (!s->function_id || !s->function_name || !s->key || !s->who || !s->req.easy)
		return LG_ENOMEM;
	s->req.data = s;
	s->req.done = on_done;
	s->auth_wait.cb = on_token;
	s->norm = conf->norm;
	s->norm.function_id = s->function_id;
	s->norm.function_name = s->function_name;
	struct sse_callbacks cb = {on_event, on_retry, on_comment, on_oversize};
	sse_init(&s->sse, conf->max_event_size, &cb, s);
	norm_scratch_init(&s->scratch, conf->max_event_size);
	ckpt_init(&s->ckpt, conf->resume_overlap_ms, conf->max_ids);
	idset_init(&s->seen, conf->max_ids);
	buf_init(&s->ckpt_data, SIZE_MAX / 2);
	ackq_init(&s->ackq, conf->max_in_flight + ACKQ_SLACK);
	backoff_init(&s->backoff, conf->backoff_base_ms, conf->backoff_max_ms);
	return 0;
}

/* Reads the checkpoint; with none, `origin` becomes the starting point. */
static void load_checkpoint(struct stream *s, int64_t origin, const char *first_run)
{
	int rc = s->conf->state_dir ? ckpt_load(&s->ckpt, s->conf->state_dir, s->key) : LG_ENOENT;
	if (rc == 0 && ckpt_resume_since(&s->ckpt) != INT64_MIN) {
		char ts[NORM_TIME_LEN];
		norm_format_time(ckpt_resume_since(&s->ckpt), ts);
		log_info(s->who,
		         "resuming from checkpoint: since %s (%zu ids in the overlap window)", ts,
		         idset_len(&s->ckpt.delivered));
	} else if (rc == LG_EPARSE) {
		log_error(s->who, "checkpoint is corrupt (kept as .corrupt); starting as on %s",
		          first_run);
	} else if (rc != LG_ENOENT) {
		log_error(s->who, "cannot read checkpoint: %s; starting as on %s", lg_strerror(rc),
		          first_run);
	}
	if (ckpt_resume_since(&s->ckpt) == INT64_MIN) {
		/* A first run: the starting point is saved at once, so records
		 * read now and not acknowledged before a stop or a crash are read
		 * again at the next start instead of being skipped for live ones. */
		ckpt_set_origin(&s->ckpt, origin);
		stream_save_checkpoint(s);
	}
}

static void follow(struct stream *s)
{
	if (s->mode == STREAM_MODE_SSE)
		connect_now(s);
	else
		stream_poll_now(s);
}

void stream_start(struct stream *s, enum stream_mode mode)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t origin = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 -
	                 (int64_t)s->conf->initial_lookback_ms;
	load_checkpoint(s, origin, "a first run (initial_lookback)");
	s->mode = mode;
	if (mode != STREAM_MODE_SSE && stream_poll_init(s) != 0) {
		log_error(s->who, "out of memory");
		s->state = STREAM_STOPPED;
		return;
	}
	follow(s);
}

int stream_start_window(struct stream *s, const char *key, const struct history_query *q,
                        void (*done)(struct stream *s, int err))
{
	char *k = strdup(key);
	if (!k)
		return LG_ENOMEM;
	free(s->key);
	s->key = k;
	s->mode = STREAM_MODE_WINDOW;
	s->window = *q;
	s->window_done = done;
	int rc = stream_poll_init(s);
	if (rc)
		return rc;
	load_checkpoint(s, q->start_ms, "a new export");
	follow(s);
	return 0;
}

void stream_set_mode(struct stream *s, enum stream_mode mode)
{
	if (s->mode == mode || s->stopping || s->gone)
		return;
	if (mode != STREAM_MODE_SSE && stream_poll_init(s) != 0) {
		log_error(s->who, "out of memory: staying in %s mode", stream_mode_name(s->mode));
		return;
	}
	log_info(s->who, "switching from %s mode to %s mode", stream_mode_name(s->mode),
	         stream_mode_name(mode));
	uv_timer_stop(&s->retry_timer);
	uv_timer_stop(&s->idle_timer);
	if (s->mode == STREAM_MODE_SSE) {
		auth_cancel(s->auth, &s->auth_wait);
		httpc_cancel(&s->req);
		s->paused = s->want_pause = s->wait_drain = false;
	} else {
		stream_poll_stop(s);
	}
	s->mode = mode;
	backoff_reset(&s->backoff);
	follow(s);
}

size_t stream_in_flight(const struct stream *s)
{
	return ackq_len(&s->ackq);
}

void stream_resume(struct stream *s)
{
	if (!stream_can_read(s))
		return;
	if (s->mode != STREAM_MODE_SSE) {
		stream_poll_resume(s);
		return;
	}
	s->want_pause = false;
	if (s->wait_drain) {
		s->wait_drain = false;
		connect_now(s);
		return;
	}
	if (s->paused) {
		s->paused = false;
		touch(s);
		curl_easy_pause(s->req.easy, CURLPAUSE_CONT);
	}
}

void stream_stop(struct stream *s)
{
	s->stopping = true;
	uv_timer_stop(&s->retry_timer);
	uv_timer_stop(&s->idle_timer);
	auth_cancel(s->auth, &s->auth_wait);
	httpc_cancel(&s->req);
	stream_poll_stop(s);
	s->state = STREAM_STOPPED;
}

static void save_work(uv_work_t *req)
{
	struct stream *s = req->data;
	s->ckpt_rc = ckpt_write(s->conf->state_dir, s->key, s->ckpt_data.data, s->ckpt_data.len);
}

static void maybe_freed(struct stream *s);

static void save_done(uv_work_t *req, int status)
{
	struct stream *s = req->data;
	s->ckpt_writing = false;
	s->open_handles--;
	if (status != 0 || s->ckpt_rc != 0) {
		/* Try again at the next interval; the old file is intact. */
		s->ckpt.dirty = true;
		log_error(s->who, "cannot write checkpoint: %s",
		          status ? uv_strerror(status) : lg_strerror(s->ckpt_rc));
	} else if (log_get_level() == LOG_DEBUG) {
		char ts[NORM_TIME_LEN];
		if (!norm_format_time(s->ckpt_since_written, ts))
			snprintf(ts, sizeof(ts), "(nothing delivered yet)");
		log_debug(s->who, "checkpoint written: since %s, %zu delivered ids in the window",
		          ts, s->ckpt_ids_written);
	}
	if (s->ckpt.dirty && s->ckpt_again)
		stream_save_checkpoint(s);
	s->ckpt_again = false;
	maybe_freed(s);
}

/* The file is written (and fsynced) in the thread pool from an encoded
 * copy, so the loop never waits for the disk; one write at a time. */
int stream_save_checkpoint(struct stream *s)
{
	int64_t floor = ckpt_keep_from(&s->ckpt);
	if (floor != INT64_MIN)
		idset_prune(&s->seen, floor);
	if (!s->conf->state_dir)
		s->ckpt.dirty = false;
	if (!s->ckpt.dirty)
		return 0;
	if (s->ckpt_writing) {
		s->ckpt_again = true;
		return 0;
	}
	ckpt_prune(&s->ckpt);
	buf_reset(&s->ckpt_data);
	int rc = ckpt_encode(&s->ckpt, &s->ckpt_data);
	if (rc != 0) {
		log_error(s->who, "cannot encode checkpoint: %s", lg_strerror(rc));
		return rc;
	}
	s->ckpt.dirty = false;
	s->ckpt_since_written = s->ckpt.since_ms;
	s->ckpt_ids_written = idset_len(&s->ckpt.delivered);
	s->ckpt_writing = true;
	s->open_handles++;
	s->ckpt_work.data = s;
	rc = uv_queue_work(s->loop, &s->ckpt_work, save_work, save_done);
	if (rc != 0) {
		s->ckpt_writing = false;
		s->open_handles--;
		s->ckpt.dirty = true;
		log_error(s->who, "cannot queue checkpoint write: %s", uv_strerror(rc));
		return LG_EIO;
	}
	return 0;
}

static void maybe_freed(struct stream *s)
{
	if (s->open_handles > 0 || !s->closing)
		return;
	curl_easy_cleanup(s->req.easy);
	curl_slist_free_all(s->headers);
	sse_free(&s->sse);
	norm_scratch_free(&s->scratch);
	ckpt_free(&s->ckpt);
	buf_free(&s->ckpt_data);
	idset_free(&s->seen);
	ackq_free(&s->ackq);
	free(s->token);
	free(s->function_id);
	free(s->function_name);
	free(s->key);
	free(s->who);
	if (s->closed)
		s->closed(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct stream *s = h->data;
	s->open_handles--;
	maybe_freed(s);
}

static void on_hist_closed(struct history *h)
{
	struct stream *s = h->data;
	s->hist_open = false;
	s->open_handles--;
	maybe_freed(s);
}

void stream_close(struct stream *s, void (*closed)(struct stream *s))
{
	const struct stream_stats *st = &s->stats;
	if (st->connects || st->events || st->polls)
		log_info(s->who,
		         "%" PRIu64 " events: %" PRIu64 " records, %" PRIu64 " duplicates dropped, "
		         "%" PRIu64 " malformed, %" PRIu64 " oversized, %" PRIu64
		         " repaired UTF-8; %" PRIu64 " connections, %" PRIu64 " polls, %" PRIu64
		         " pauses",
		         st->events, st->records, st->duplicates, st->malformed, st->oversized,
		         st->utf8_repaired, st->connects, st->polls, st->pauses);
	stream_stop(s);
	s->closing = true;
	s->closed = closed;
	if (s->hist_open) {
		s->open_handles++;
		history_close(&s->hist, on_hist_closed);
	}
	uv_close((uv_handle_t *)&s->retry_timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->idle_timer, on_handle_closed);
}

/* sink_http: records in batches to an HTTP collector (sink_http.h says how
 * a record travels). This file owns the queue, the batches' life and the
 * retry state machine:
 * - a record waits in `pend` until a batch takes it; at most max_in_flight
 *   batches are active, so a collector that is down fills the queue and the
 *   router pauses the streams (back-pressure), never a growing heap;
 * - bodies are built on the thread pool (formatting and gzip are the only
 *   CPU-heavy work of the sink), sent on the agent's curl multi handle;
 * - a failure the collector may recover from holds every request of the
 *   sink for the shared capped, jittered backoff (or the answer's
 *   Retry-After), then one request probes, and all resume once it passes;
 * - acknowledgements and dead letters go to the router only after the
 *   sink's own state is consistent, since the router may submit, flush or
 *   close from inside them. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sink_http.h"

#define QUEUE_MAX ((size_t)1 << 20)
#define REMIND_MS 60000   /* a sink still failing says so again after this */
#define GZIP_LEVEL 6      /* zlib's default: most of the ratio, a fair speed */
#define BODY_EXTRA 65536  /* body bound: what a format adds to a batch... */
#define BODY_PER_REC 8192 /* ...and to each record (envelope, labels, attributes) */

static struct pend *pend_at(struct http_sink *h, size_t i)
{
	return &h->pend[(h->phead + i) % h->pcap];
}

static uint64_t now_ms(const struct http_sink *h)
{
	return uv_now(h->s->loop);
}

/* ---- batch lists ---- */

static void unlink_b(struct hbatch **head, struct hbatch **tail, struct hbatch *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		*head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		*tail = b->prev;
	b->prev = b->next = NULL;
}

static void insert_b(struct hbatch **head, struct hbatch **tail, struct hbatch *b,
                     struct hbatch *before)
{
	b->next = before;
	b->prev = before ? before->prev : *tail;
	if (b->prev)
		b->prev->next = b;
	else
		*head = b;
	if (before)
		before->prev = b;
	else
		*tail = b;
}

static void release(struct hbatch *b)
{
	buf_free(&b->body);
	buf_free(&b->answer.buf);
	free(b->recs);
	free(b);
}

void sink_http_batch_free(struct http_sink *h, struct hbatch *b)
{
	if (b->state == HB_ACKWAIT) {
		unlink_b(&h->ackwait, &h->ackwait_tail, b);
		h->nackwait--;
	} else {
		unlink_b(&h->active, &h->active_tail, b);
		h->nactive--;
	}
	release(b);
}

struct hbatch *sink_http_batch_new(struct http_sink *h, struct record **recs, size_t n,
                                   struct hbatch *before)
{
	struct hbatch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->h = h;
	b->recs = recs;
	b->n = n;
	for (size_t i = 0; i < n; i++)
		b->bytes += recs[i]->json_len;
	b->state = HB_UNBUILT;
	b->ack_id = -1;
	buf_init(&b->body, 0);
	buf_init(&b->answer.buf, h->answer_max);
	b->work.data = b;
	insert_b(&h->active, &h->active_tail, b, before);
	h->nactive++;
	return b;
}

void sink_http_settle(struct http_sink *h, struct record *r, int result, const char *reason)
{
	if (result == 0)
		h->n_acked++;
	else
		h->n_rejected++;
	if (!h->closing)
		sink_ack(h->s, r, result, reason);
	record_unref(r);
}

/* ---- building bodies (thread pool) ---- */

static size_t body_max(const struct hbatch *b)
{
	/* Escaping a record as a JSON string at most doubles it. */
	return (size_t)b->bytes * 2 + b->n * BODY_PER_REC + BODY_EXTRA;
}

/* Runs on a thread-pool thread: reads b's records and the sink's format
 * (both unchanged while it runs), writes only b's body and result. */
static void build_work(uv_work_t *w)
{
	struct hbatch *b = w->data;
	const struct http_sink *h = b->h;
	struct buf raw;
	buf_init(&raw, body_max(b));
	b->build_rc = http_fmt_body(&h->fmt, b->recs, b->n, &raw, &b->bad);
	b->raw_len = raw.len;
	if (b->build_rc < 0 || h->c->compression != HTTP_GZIP) {
		b->body = raw;
		return;
	}
	buf_init(&b->body, raw.len + raw.len / 100 + BODY_EXTRA);
	b->build_rc = http_fmt_gzip(raw.data, raw.len, GZIP_LEVEL, &b->body);
	buf_free(&raw);
}

static void close_unref(struct http_sink *h);

/* Takes recs[i] out of b (its order kept). */
static struct record *take_rec(struct hbatch *b, size_t i)
{
	struct record *r = b->recs[i];
	memmove(b->recs + i, b->recs + i + 1, (b->n - i - 1) * sizeof(*b->recs));
	b->n--;
	b->bytes -= r->json_len;
	return r;
}

static void unbuild(struct hbatch *b)
{
	buf_free(&b->body);
	b->state = HB_UNBUILT;
}

static void build_done(uv_work_t *w, int status)
{
	struct hbatch *b = w->data;
	struct http_sink *h = b->h;
	h->nworks--;
	if (h->closing) {
		close_unref(h);
		return;
	}
	(void)status;
	if (b->build_rc == 0) {
		b->state = HB_READY;
		h->raw_bytes += b->raw_len;
		sink_http_kick(h);
		return;
	}
	if (b->build_rc == LG_EPARSE && b->bad < b->n) {
		struct record *r = take_rec(b, b->bad);
		unbuild(b);
		if (b->n == 0)
			sink_http_batch_free(h, b);
		log_warn(h->s->who, "record %s: its JSON cannot be read for %s", r->id,
		         h->c->format == HTTP_FMT_OTLP_JSON ? "otlp_json" : "the format");
		sink_http_settle(h, r, LG_EREJECTED, "the record's JSON cannot be formatted");
	} else if (b->build_rc == LG_ETOOBIG) {
		sink_http_split(h, b, "the formatted batch outgrew its bound");
	} else {
		log_error(h->s->who, "building a request of %zu records failed: %s; retrying", b->n,
		          lg_strerror(b->build_rc));
		unbuild(b);
		sink_http_failed(h, b, HTTP_RETRY, -1, "out of memory");
	}
	sink_http_check_flush(h);
	sink_http_kick(h);
}

static void start_build(struct http_sink *h, struct hbatch *b)
{
	buf_free(&b->body);
	b->state = HB_BUILDING;
	b->bad = 0;
	h->nworks++;
	if (uv_queue_work(h->s->loop, &b->work, build_work, build_done) < 0) {
		/* Only a loop being torn down refuses work. */
		h->nworks--;
		b->state = HB_UNBUILT;
	}
}

void sink_http_split(struct http_sink *h, struct hbatch *b, const char *why)
{
	if (b->n == 1) {
		struct record *r = take_rec(b, 0);
		uint64_t size = r->json_len;
		sink_http_batch_free(h, b);
		log_warn(h->s->who, "record %s (%llu bytes) alone is too large: %s", r->id,
		         (unsigned long long)size, why);
		char reason[300];
		snprintf(reason, sizeof(reason), "too large for the collector (%llu bytes): %s",
		         (unsigned long long)size, why);
		sink_http_settle(h, r, LG_EREJECTED, reason);
		return;
	}
	size_t half = b->n / 2, rest = b->n - half;
	struct record **second = malloc(rest * sizeof(*second));
	struct hbatch *nb = second ? sink_http_batch_new(h, second, 0, b->next) : NULL;
	if (!nb) {
		free(second);
		unbuild(b);
		sink_http_failed(h, b, HTTP_RETRY, -1, "out of memory splitting a batch");
		return;
	}
	memcpy(second, b->recs + half, rest * sizeof(*second));
	nb->n = rest;
	for (size_t i = 0; i < rest; i++) {
		nb->bytes += second[i]->json_len;
		b->bytes -= second[i]->json_len;
	}
	b->n = half;
	unbuild(b);
	h->n_splits++;
	log_info(h->s->who, "%s: splitting %zu records in two batches", why, half + rest);
}

/* ---- failure and recovery ---- */

void sink_http_failed(struct http_sink *h, struct hbatch *b, int verdict, int64_t retry_after_ms,
                      const char *why)
{
	uint64_t now = now_ms(h);
	b->state = b->body.len ? HB_READY : HB_UNBUILT;
	h->n_retries++;
	/* Two requests failing together back off once. */
	uint64_t delay = now < h->hold_until ? h->hold_until - now : backoff_next(&h->backoff);
	if (retry_after_ms >= 0)
		delay = (uint64_t)retry_after_ms > h->backoff.base_ms / 10
		            ? (uint64_t)retry_after_ms
		            : h->backoff.base_ms / 10;
	if (now + delay > h->hold_until)
		h->hold_until = now + delay;
	bool was = h->failing;
	if (!was) {
		h->fail_since = now;
		h->fail_count = 0;
	}
	h->failing = true;
	h->s->down = verdict == HTTP_DOWN;
	h->fail_count++;
	size_t held = h->plen;
	for (struct hbatch *x = h->active; x; x = x->next)
		held += x->n;
	if (was && now - h->fail_logged < REMIND_MS) {
		log_debug(h->s->who, "%s (%s); retrying in %llu ms", why,
		          http_resp_verdict_name(verdict), (unsigned long long)delay);
		return;
	}
	h->fail_logged = now;
	if (verdict == HTTP_DOWN)
		log_error(
		    h->s->who,
		    "%s: the collector refuses this sink (check url, credentials, proxy); the "
		    "sink is down, %zu records wait, retrying in %llu ms",
		    why, held, (unsigned long long)delay);
	else
		log_warn(h->s->who, "%s; %zu records wait, retrying in %llu ms", why, held,
		         (unsigned long long)delay);
}

void sink_http_up(struct http_sink *h)
{
	if (h->failing)
		log_info(h->s->who,
		         "the collector accepts again (after %llu failed attempts over %llu ms)",
		         (unsigned long long)h->fail_count,
		         (unsigned long long)(now_ms(h) - h->fail_since));
	h->failing = false;
	h->s->down = false;
	backoff_reset(&h->backoff);
}

/* ---- splunk acknowledgement ---- */

static void on_ack_timer(uv_timer_t *t)
{
	sink_http_ack_poll(t->data);
}

void sink_http_ack_arm(struct http_sink *h)
{
	if (!h->closing && h->ackwait && !uv_is_active((uv_handle_t *)&h->ack_timer))
		uv_timer_start(&h->ack_timer, on_ack_timer, h->c->ack_interval, 0);
}

void sink_http_from_ackwait(struct http_sink *h, struct hbatch *b)
{
	unlink_b(&h->ackwait, &h->ackwait_tail, b);
	h->nackwait--;
	b->state = HB_UNBUILT;
	b->ack_id = -1;
	insert_b(&h->active, &h->active_tail, b, h->active);
	h->nactive++;
	h->n_resent++;
}

void sink_http_to_ackwait(struct http_sink *h, struct hbatch *b, int64_t ack_id)
{
	/* The same id again: the indexer forgot the older one (it restarted),
	 * so that batch goes again. */
	for (struct hbatch *x = h->ackwait; x; x = x->next) {
		if (x->ack_id == ack_id) {
			log_warn(h->s->who,
			         "ackId %lld given again: the batch that had it is sent again",
			         (long long)ack_id);
			sink_http_from_ackwait(h, x);
			break;
		}
	}
	unlink_b(&h->active, &h->active_tail, b);
	h->nactive--;
	buf_free(&b->body);
	b->state = HB_ACKWAIT;
	b->ack_id = ack_id;
	b->ack_since = now_ms(h);
	insert_b(&h->ackwait, &h->ackwait_tail, b, NULL);
	h->nackwait++;
	sink_http_ack_arm(h);
}

/* ---- the queue ---- */

static bool form_batch(struct http_sink *h)
{
	size_t n = 0;
	uint64_t bytes = 0;
	while (n < h->plen && n < (size_t)h->c->batch_max_records) {
		uint64_t len = pend_at(h, n)->r->json_len;
		if (n && bytes + len > h->c->batch_max_bytes)
			break;
		bytes += len;
		n++;
	}
	struct record **recs = malloc(n * sizeof(*recs));
	if (!recs)
		return false;
	for (size_t i = 0; i < n; i++)
		recs[i] = pend_at(h, i)->r;
	if (!sink_http_batch_new(h, recs, n, NULL)) {
		free(recs);
		return false;
	}
	h->phead = (h->phead + n) % h->pcap;
	h->plen -= n;
	h->pbytes -= bytes;
	h->n_batches++;
	return true;
}

static void on_kick(uv_timer_t *t)
{
	struct http_sink *h = t->data;
	sink_http_kick(h);
	sink_http_check_flush(h);
}

void sink_http_kick(struct http_sink *h)
{
	if (h->closing)
		return;
	uint64_t now = now_ms(h);
	const struct http_conf *c = h->c;
	while (h->plen && h->nactive < (size_t)c->max_in_flight) {
		bool full =
		    h->plen >= (size_t)c->batch_max_records || h->pbytes >= c->batch_max_bytes;
		if (!full && !h->flushing && now < pend_at(h, 0)->at + c->batch_linger)
			break;
		if (!form_batch(h))
			break;
	}
	if (h->plen && h->nactive < (size_t)c->max_in_flight) {
		uint64_t due = pend_at(h, 0)->at + c->batch_linger;
		uv_timer_start(&h->linger_timer, on_kick, due > now ? due - now : 0, 0);
	} else {
		uv_timer_stop(&h->linger_timer);
	}
	if (now < h->hold_until) {
		uv_timer_start(&h->hold_timer, on_kick, h->hold_until - now, 0);
		return;
	}
	/* While failing, one request probes the collector. */
	size_t limit = h->failing ? 1 : (size_t)c->max_in_flight;
	for (struct hbatch *b = h->active; b && !h->closing; b = b->next) {
		if (b->state == HB_UNBUILT)
			start_build(h, b);
		else if (b->state == HB_READY && h->nsending < limit && sink_http_send(h, b) == 0)
			h->nsending++;
	}
}

static void kick_soon(struct http_sink *h)
{
	if (!h->closing && !uv_is_active((uv_handle_t *)&h->kick_timer))
		uv_timer_start(&h->kick_timer, on_kick, 0, 0);
}

void sink_http_check_flush(struct http_sink *h)
{
	if (!h->flush_done || h->closing || h->plen || h->active || h->ackwait)
		return;
	sink_cb done = h->flush_done;
	h->flush_done = NULL;
	uv_timer_stop(&h->flush_timer);
	done(h->s);
}

static int http_submit(struct sink *s, struct record *r)
{
	struct http_sink *h = s->priv;
	if (!h || h->closing)
		return LG_ECLOSED;
	if (h->plen == h->pcap) {
		if (h->pcap >= QUEUE_MAX)
			return LG_ETOOBIG;
		size_t cap = h->pcap ? h->pcap * 2 : 256;
		struct pend *p = malloc(cap * sizeof(*p));
		if (!p)
			return LG_ENOMEM;
		for (size_t i = 0; i < h->plen; i++)
			p[i] = *pend_at(h, i);
		free(h->pend);
		h->pend = p;
		h->pcap = cap;
		h->phead = 0;
	}
	*pend_at(h, h->plen) = (struct pend){record_ref(r), now_ms(h)};
	h->plen++;
	h->pbytes += r->json_len;
	kick_soon(h);
	return 0;
}

/* ---- flush, close, open ---- */

static void on_flush_timer(uv_timer_t *t)
{
	struct http_sink *h = t->data;
	sink_cb done = h->flush_done;
	h->flush_done = NULL;
	if (done)
		done(h->s);
}

static void http_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	struct http_sink *h = s->priv;
	if (!h || h->closing) {
		done(s);
		return;
	}
	uint64_t now = now_ms(h);
	h->flushing = true;
	h->flush_done = done;
	uv_timer_start(&h->flush_timer, on_flush_timer, deadline > now ? deadline - now : 0, 0);
	kick_soon(h);
}

static void wipe_list(struct curl_slist *l)
{
	for (struct curl_slist *x = l; x; x = x->next)
		explicit_bzero(x->data, strlen(x->data));
	curl_slist_free_all(l);
}

static void free_batches(struct hbatch *b)
{
	while (b) {
		struct hbatch *next = b->next;
		if (b->req.easy)
			curl_easy_cleanup(b->req.easy);
		for (size_t i = 0; i < b->n; i++)
			record_unref(b->recs[i]);
		release(b);
		b = next;
	}
}

static void free_sink(struct http_sink *h)
{
	free_batches(h->active);
	free_batches(h->ackwait);
	for (size_t i = 0; i < h->plen; i++)
		record_unref(pend_at(h, i)->r);
	free(h->pend);
	if (h->ack_req.easy)
		curl_easy_cleanup(h->ack_req.easy);
	wipe_list(h->hdrs);
	wipe_list(h->ack_hdrs);
	free(h->ack_url);
	buf_free(&h->ack_body);
	buf_free(&h->ack_answer.buf);
	json_doc_free(&h->doc);
	free(h);
}

static void close_unref(struct http_sink *h)
{
	if (--h->close_pending > 0)
		return;
	struct sink *s = h->s;
	sink_cb closed = h->closed;
	free_sink(h);
	s->priv = NULL;
	closed(s);
}

static void on_handle_closed(uv_handle_t *handle)
{
	close_unref(handle->data);
}

static void http_close(struct sink *s, sink_cb closed)
{
	struct http_sink *h = s->priv;
	if (!h) {
		closed(s);
		return;
	}
	/* What is not acknowledged stays so: it is replayed at the next start. */
	h->closing = true;
	h->closed = closed;
	h->flush_done = NULL;
	size_t held = h->plen;
	for (struct hbatch *b = h->active; b; b = b->next)
		held += b->n;
	for (struct hbatch *b = h->ackwait; b; b = b->next)
		held += b->n;
	log_info(s->who,
	         "closing: %llu records delivered, %llu dead-lettered, %zu unacknowledged; %llu "
	         "batches, %llu retries, %llu splits, %llu resent; %llu bytes formatted, %llu sent",
	         (unsigned long long)h->n_acked, (unsigned long long)h->n_rejected, held,
	         (unsigned long long)h->n_batches, (unsigned long long)h->n_retries,
	         (unsigned long long)h->n_splits, (unsigned long long)h->n_resent,
	         (unsigned long long)h->raw_bytes, (unsigned long long)h->sent_bytes);
	for (struct hbatch *b = h->active; b; b = b->next) {
		if (b->state == HB_SENDING)
			httpc_cancel(&b->req);
		else if (b->state == HB_BUILDING)
			uv_cancel((uv_req_t *)&b->work);
	}
	if (h->ack_running)
		httpc_cancel(&h->ack_req);
	uv_timer_t *timers[] = {&h->kick_timer, &h->linger_timer, &h->hold_timer, &h->flush_timer,
	                        &h->ack_timer};
	h->close_pending = 5 + h->nworks;
	for (size_t i = 0; i < 5; i++)
		uv_close((uv_handle_t *)timers[i], on_handle_closed);
}

static int http_open(struct sink *s, struct conf_errs *errs)
{
	struct http_sink *h = s->check_only ? NULL : calloc(1, sizeof(*h));
	if (!s->check_only && !h)
		return LG_ENOMEM;
	if (h)
		h->s = s;
	int rc = sink_http_validate(s, errs, h);
	if (rc == 0 && h && !s->http) {
		conf_err(errs, s->file, s->line, "[sink %s]: no HTTP client to run on", s->name);
		rc = LG_ECONFIG;
	}
	if (rc < 0 || !h) {
		if (h) {
			wipe_list(h->hdrs);
			wipe_list(h->ack_hdrs);
			free(h->ack_url);
			free(h);
		}
		return rc;
	}
	const struct http_conf *c = s->conf;
	h->c = c;
	/* Elasticsearch answers a line per action, its errors with reasons. */
	h->answer_max =
	    65536 + (c->format == HTTP_FMT_ES_BULK ? 2048 * (size_t)c->batch_max_records : 0);
	json_doc_init(&h->doc, (uint32_t)(h->answer_max + 64 * (s->queue_max_records + 1)));
	buf_init(&h->ack_body, 64 + 24 * (size_t)(s->queue_max_records + 1));
	buf_init(&h->ack_answer.buf, 65536 + 32 * (size_t)(s->queue_max_records + 1));
	backoff_init(&h->backoff, c->backoff_base, c->backoff_max);
	uv_timer_t *timers[] = {&h->kick_timer, &h->linger_timer, &h->hold_timer, &h->flush_timer,
	                        &h->ack_timer};
	for (size_t i = 0; i < 5; i++) {
		uv_timer_init(s->loop, timers[i]);
		timers[i]->data = h;
	}
	if (strncasecmp(c->url, "https://", 8) == 0 && !c->tls_verify)
		log_warn(s->who, "tls_verify = off: the collector's certificate is not checked, "
		                 "anyone in the path can read and change what is sent");
	s->priv = h;
	return 0;
}

const struct sink_type sink_http_type = {
    .name = "http",
    .desc = "batches of records to an HTTP collector: JSON lines or array, Splunk HEC, "
            "Elasticsearch/OpenSearch _bulk, Loki, OTLP/HTTP JSON; gzip; acknowledged on 2xx",
    .opts = sink_http_opts,
    .conf_size = sizeof(struct http_conf),
    .open = http_open,
    .submit = http_submit,
    .flush = http_flush,
    .close = http_close,
    .reopen = NULL,
};

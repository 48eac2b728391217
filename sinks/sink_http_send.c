/* sink_http_send: a batch's request on the agent's curl multi handle, what
 * its answer means for each of its records (http_resp.h), and the Splunk
 * HEC acknowledgement poll. Answers are read into buffers with a hard
 * bound; past it the rest is discarded, and an answer that had to be read
 * whole (Elasticsearch items, HEC) counts as unreadable. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sink_http.h"

#define RETRY_AFTER_MAX_MS (15 * 60 * 1000)
#define WHY_MAX 600

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct answer *a = ud;
	size_t n = size * nmemb;
	size_t room = a->buf.max > a->buf.len ? a->buf.max - a->buf.len : 0;
	if (n > room)
		a->cut = true;
	buf_append(&a->buf, p, n < room ? n : room);
	return n;
}

static CURL *new_easy(const struct http_sink *h, const char *url, struct curl_slist *hdrs)
{
	const struct http_conf *c = h->c;
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	httpc_set_common(e, c->proxy, c->ca_file, c->tls_verify);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(c->timeout < 10000 ? c->timeout : 10000));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->cert_file) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	}
	if (c->auth == HTTP_AUTH_BASIC) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
	}
	return e;
}

/* ---- settling a batch ---- */

/* Takes b's records out of it (and frees b): the caller settles them once
 * the sink's state no longer refers to b. */
static struct record **detach(struct http_sink *h, struct hbatch *b, size_t *n)
{
	struct record **recs = b->recs;
	*n = b->n;
	b->recs = NULL;
	b->n = 0;
	sink_http_batch_free(h, b);
	return recs;
}

static void settle_all(struct http_sink *h, struct record **recs, size_t n, int result,
                       const char *reason)
{
	for (size_t i = 0; i < n; i++)
		sink_http_settle(h, recs[i], result, reason);
	free(recs);
}

static void delivered(struct http_sink *h, struct hbatch *b)
{
	sink_http_up(h);
	size_t n;
	struct record **recs = detach(h, b, &n);
	settle_all(h, recs, n, 0, NULL);
}

static void reject_all(struct http_sink *h, struct hbatch *b, const char *why)
{
	/* The collector answered: it is up, this content is what it refuses. */
	sink_http_up(h);
	log_warn(h->s->who, "%s: %zu records dead-lettered", why, b->n);
	size_t n;
	struct record **recs = detach(h, b, &n);
	settle_all(h, recs, n, LG_EREJECTED, why);
}

/* Removes b's first k records into a new array (the rest stays, unbuilt). */
static struct record **take_head(struct hbatch *b, size_t k)
{
	struct record **head = malloc((k ? k : 1) * sizeof(*head));
	if (!head)
		return NULL;
	memcpy(head, b->recs, k * sizeof(*head));
	memmove(b->recs, b->recs + k, (b->n - k) * sizeof(*b->recs));
	b->n -= k;
	for (size_t i = 0; i < k; i++)
		b->bytes -= head[i]->json_len;
	buf_free(&b->body);
	b->state = HB_UNBUILT;
	return head;
}

/* ---- Elasticsearch bulk ---- */

static void bulk_outcome(struct http_sink *h, struct hbatch *b)
{
	char why[WHY_MAX], ex[200];
	bool errors = false;
	size_t n = b->n;
	struct http_bulk_item *items = calloc(n, sizeof(*items));
	struct buf reasons;
	buf_init(&reasons, h->answer_max);
	int rc = items ? LG_EPARSE : LG_ENOMEM;
	if (items && !b->answer.cut)
		rc = http_resp_bulk(&h->doc, b->answer.buf.data ? b->answer.buf.data : "",
		                    b->answer.buf.len, n, !h->fmt.bulk_index, items, &reasons,
		                    &errors);
	if (rc < 0) {
		http_resp_excerpt(b->answer.buf.data, b->answer.buf.len, ex, sizeof(ex));
		snprintf(why, sizeof(why),
		         "%s answered 2xx, but not with a bulk answer for %zu actions%s: %s",
		         h->url_log, n, b->answer.cut ? " (too long to read)" : "", ex);
		sink_http_failed(h, b, rc == LG_ENOMEM ? HTTP_RETRY : HTTP_DOWN, -1, why);
	} else if (!errors) {
		delivered(h, b);
	} else {
		/* Settled: acked and rejected records, in order; b keeps the rest. */
		struct record **done = malloc(n * sizeof(*done));
		int *result = malloc(n * sizeof(*result));
		size_t *msg = malloc(n * sizeof(*msg));
		struct buf msgs;
		buf_init(&msgs, (size_t)1 << 30);
		if (!done || !result || !msg) {
			free(done);
			free(result);
			free(msg);
			sink_http_failed(h, b, HTTP_RETRY, -1,
			                 "out of memory reading a bulk answer");
			free(items);
			buf_free(&reasons);
			return;
		}
		size_t nd = 0, kept = 0, rejected = 0, first_rej = 0;
		int worst = HTTP_RETRY, first_kept = -1;
		for (size_t i = 0; i < n; i++) {
			const struct http_bulk_item *it = &items[i];
			if (it->verdict == HTTP_RETRY || it->verdict == HTTP_DOWN) {
				worst = it->verdict == HTTP_DOWN ? HTTP_DOWN : worst;
				first_kept = first_kept < 0 ? (int)i : first_kept;
				b->recs[kept++] = b->recs[i];
				continue;
			}
			msg[nd] = msgs.len;
			if (it->verdict != HTTP_ACK) {
				first_rej = rejected++ ? first_rej : nd;
				buf_printf(
				    &msgs, "elasticsearch rejected the document: status %d: %.*s",
				    it->status, (int)it->reason_len, reasons.data + it->reason_off);
			}
			buf_putc(&msgs, '\0');
			result[nd] = it->verdict == HTTP_ACK ? 0 : LG_EREJECTED;
			done[nd++] = b->recs[i];
		}
		if (rejected)
			log_warn(h->s->who,
			         "bulk answer: %zu of %zu documents rejected, dead-lettered "
			         "(first: %s)",
			         rejected, n, msgs.data + msg[first_rej]);
		if (kept) {
			const struct http_bulk_item *it = &items[first_kept];
			snprintf(why, sizeof(why),
			         "bulk answer: %zu of %zu items to retry (first: status %d: %.*s)",
			         kept, n, it->status,
			         (int)(it->reason_len < 300 ? it->reason_len : 300),
			         reasons.data + it->reason_off);
			b->n = kept;
			b->bytes = 0;
			for (size_t i = 0; i < kept; i++)
				b->bytes += b->recs[i]->json_len;
			buf_free(&b->body);
			b->state = HB_UNBUILT;
			sink_http_failed(h, b, worst, -1, why);
		} else {
			sink_http_up(h);
			sink_http_batch_free(h, b);
		}
		for (size_t i = 0; i < nd; i++)
			sink_http_settle(h, done[i], result[i],
			                 result[i] ? msgs.data + msg[i] : NULL);
		free(done);
		free(result);
		free(msg);
		buf_free(&msgs);
	}
	free(items);
	buf_free(&reasons);
}

/* ---- Splunk HEC ---- */

static void hec_outcome(struct http_sink *h, struct hbatch *b, long status, int64_t retry_after,
                        const char *why0)
{
	struct http_hec_answer a;
	http_resp_hec(&h->doc, b->answer.buf.data ? b->answer.buf.data : "", b->answer.buf.len, &a);
	int v = http_resp_classify(status);
	if (v != HTTP_ACK && http_resp_hec_verdict(a.code) >= 0)
		v = http_resp_hec_verdict(a.code);
	if (v == HTTP_ACK) {
		if (h->c->ack && a.ack_id >= 0) {
			sink_http_up(h);
			sink_http_to_ackwait(h, b, a.ack_id);
			return;
		}
		if (h->c->ack && !h->no_ack_id_logged) {
			h->no_ack_id_logged = true;
			log_error(h->s->who,
			          "ack = on, but %s answered without an ackId (indexer "
			          "acknowledgement is off for this token): batches count as "
			          "delivered on 200",
			          h->url_log);
		}
		delivered(h, b);
		return;
	}
	char why[WHY_MAX + 32];
	snprintf(why, sizeof(why), "%.*s (HEC code %d)", WHY_MAX, why0, a.code);
	/* Events before invalid-event-number were indexed; for content the
	 * collector refuses, that one event is at fault. */
	bool known = a.invalid_event >= 0 && (size_t)a.invalid_event < b->n;
	if (v == HTTP_REJECT && !known) {
		reject_all(h, b, why);
		return;
	}
	size_t ok = known ? (size_t)a.invalid_event : 0;
	size_t k = ok + (v == HTTP_REJECT);
	struct record **head = k ? take_head(b, k) : NULL;
	if (k && !head) {
		sink_http_failed(h, b, HTTP_RETRY, -1, "out of memory reading a HEC answer");
		return;
	}
	if (v == HTTP_REJECT) {
		sink_http_up(h);
		log_warn(h->s->who,
		         "%s: event %zu of the batch dead-lettered, %zu indexed, %zu sent again",
		         why, ok, ok, b->n);
		if (b->n == 0)
			sink_http_batch_free(h, b);
	} else {
		sink_http_failed(h, b, v, retry_after, why);
	}
	for (size_t i = 0; i < ok; i++)
		sink_http_settle(h, head[i], 0, NULL);
	if (v == HTTP_REJECT)
		sink_http_settle(h, head[ok], LG_EREJECTED, why);
	free(head);
}

/* ---- the answer ---- */

static void otlp_check(struct http_sink *h, struct hbatch *b)
{
	int64_t rejected = 0;
	char msg[200];
	if (http_resp_otlp(&h->doc, b->answer.buf.data ? b->answer.buf.data : "", b->answer.buf.len,
	                   &rejected, msg, sizeof(msg)) == 0 &&
	    rejected > 0)
		log_warn(
		    h->s->who,
		    "%s took the batch but rejected %lld of its %zu log records: %s (OTLP partial "
		    "success: not retried, not dead-lettered: the records are not named)",
		    h->url_log, (long long)rejected, b->n, msg);
}

static void outcome(struct http_sink *h, struct hbatch *b, CURLcode rc, long status,
                    int64_t retry_after)
{
	char why[WHY_MAX], ex[300];
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "request to %s failed: %s", h->url_log,
		         httpc_strerror(&b->req, rc));
		sink_http_failed(h, b, HTTP_RETRY, -1, why);
		return;
	}
	http_resp_excerpt(b->answer.buf.data, b->answer.buf.len, ex, sizeof(ex));
	snprintf(why, sizeof(why), "%s answered %ld%s%s", h->url_log, status, *ex ? ": " : "", ex);
	int v = http_resp_classify(status);
	if (h->c->format == HTTP_FMT_SPLUNK_HEC && v != HTTP_SPLIT) {
		hec_outcome(h, b, status, retry_after, why);
		return;
	}
	switch (v) {
	case HTTP_ACK:
		if (h->c->format == HTTP_FMT_ES_BULK) {
			bulk_outcome(h, b);
			return;
		}
		if (h->c->format == HTTP_FMT_OTLP_JSON)
			otlp_check(h, b);
		delivered(h, b);
		return;
	case HTTP_RETRY:
	case HTTP_DOWN:
		sink_http_failed(h, b, v, retry_after, why);
		return;
	case HTTP_SPLIT:
		sink_http_split(h, b, why);
		return;
	default:
		reject_all(h, b, why);
	}
}

static int64_t retry_after(CURL *e)
{
	struct curl_header *hd = NULL;
	if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || !hd)
		return -1;
	return http_resp_retry_after(hd->value, time(NULL), RETRY_AFTER_MAX_MS);
}

static void on_sent(struct httpc_req *req, CURLcode rc)
{
	struct hbatch *b = req->data;
	struct http_sink *h = b->h;
	long status = rc == CURLE_OK ? httpc_status(req) : 0;
	int64_t ra = rc == CURLE_OK ? retry_after(req->easy) : -1;
	curl_easy_cleanup(req->easy);
	req->easy = NULL;
	h->nsending--;
	b->state = HB_READY;
	outcome(h, b, rc, status, ra);
	sink_http_check_flush(h);
	sink_http_kick(h);
}

/* Starts POSTing body to url; the answer goes to ans. */
static int post(struct http_sink *h, struct httpc_req *req, const char *url,
                struct curl_slist *hdrs, const struct buf *body, struct answer *ans,
                httpc_done_cb done, void *data)
{
	CURL *e = new_easy(h, url, hdrs);
	if (!e)
		return LG_ENOMEM;
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, ans);
	buf_reset(&ans->buf);
	ans->cut = false;
	req->easy = e;
	req->done = done;
	req->data = data;
	if (httpc_start(h->s->http, req) < 0) {
		curl_easy_cleanup(e);
		req->easy = NULL;
		return LG_ECLOSED;
	}
	return 0;
}

int sink_http_send(struct http_sink *h, struct hbatch *b)
{
	int rc = post(h, &b->req, h->c->url, h->hdrs, &b->body, &b->answer, on_sent, b);
	if (rc < 0)
		return rc;
	b->state = HB_SENDING;
	h->sent_bytes += b->body.len;
	return 0;
}

/* ---- HEC indexer acknowledgement ---- */

struct acked {
	struct http_sink *h;
	struct hbatch **done;
	size_t n, cap;
};

static void on_ack_item(void *arg, uint64_t id, bool ok)
{
	struct acked *a = arg;
	if (!ok)
		return;
	for (struct hbatch *b = a->h->ackwait; b; b = b->next) {
		if (b->ack_id == (int64_t)id) {
			/* Marked now, settled once the answer was read. */
			b->ack_id = -1;
			if (a->n < a->cap)
				a->done[a->n++] = b;
			return;
		}
	}
}

/* Poll failures come every ack_interval: say so once a minute at most. */
static bool ack_log_due(struct http_sink *h)
{
	uint64_t now = uv_now(h->s->loop);
	if (h->ack_logged && now - h->ack_logged < 60000)
		return false;
	h->ack_logged = now;
	return true;
}

static void ack_answer(struct http_sink *h, long status)
{
	char ex[300];
	http_resp_excerpt(h->ack_answer.buf.data, h->ack_answer.buf.len, ex, sizeof(ex));
	if (http_resp_classify(status) != HTTP_ACK || h->ack_answer.cut) {
		struct http_hec_answer a;
		http_resp_hec(&h->doc, h->ack_answer.buf.data ? h->ack_answer.buf.data : "",
		              h->ack_answer.buf.len, &a);
		int v = http_resp_hec_verdict(a.code) >= 0 ? http_resp_hec_verdict(a.code)
		                                           : http_resp_classify(status);
		if (ack_log_due(h))
			log_msg(v == HTTP_DOWN ? LOG_ERROR : LOG_WARNING, h->s->who,
			        "asking %s for acknowledgements: answered %ld: %s%s", h->ack_log,
			        status, ex,
			        a.code == 14
			            ? " (indexer acknowledgement is off for the token: set ack "
			              "= off, or turn it on)"
			            : "");
		return;
	}
	/* Everything is allocated before the answer marks a batch. */
	size_t cap = h->nackwait;
	struct acked a = {h, calloc(cap + 1, sizeof(*a.done)), 0, cap};
	struct record ***recs = calloc(cap + 1, sizeof(*recs));
	size_t *counts = calloc(cap + 1, sizeof(*counts));
	if (a.done && recs && counts &&
	    http_resp_hec_acks(&h->doc, h->ack_answer.buf.data, h->ack_answer.buf.len, on_ack_item,
	                       &a) < 0 &&
	    ack_log_due(h))
		log_warn(h->s->who, "asking %s for acknowledgements: unreadable answer: %s",
		         h->ack_log, ex);
	/* Free every acknowledged batch first, then tell the router. */
	for (size_t i = 0; i < a.n; i++)
		recs[i] = detach(h, a.done[i], &counts[i]);
	for (size_t i = 0; i < a.n; i++)
		settle_all(h, recs[i], counts[i], 0, NULL);
	free(recs);
	free(counts);
	free(a.done);
}

static void on_acks(struct httpc_req *req, CURLcode rc)
{
	struct http_sink *h = req->data;
	long status = rc == CURLE_OK ? httpc_status(req) : 0;
	curl_easy_cleanup(req->easy);
	req->easy = NULL;
	h->ack_running = false;
	if (rc != CURLE_OK && ack_log_due(h))
		log_warn(h->s->who, "asking %s for acknowledgements failed: %s", h->ack_log,
		         httpc_strerror(req, rc));
	sink_http_ack_arm(h);
	if (rc == CURLE_OK)
		ack_answer(h, status);
	sink_http_check_flush(h);
	sink_http_kick(h);
}

void sink_http_ack_poll(struct http_sink *h)
{
	if (h->closing || h->ack_running)
		return;
	uint64_t now = uv_now(h->s->loop);
	bool resent = false;
	for (struct hbatch *b = h->ackwait, *next; b; b = next) {
		next = b->next;
		if (now - b->ack_since < h->c->ack_timeout)
			continue;
		log_warn(h->s->who,
		         "%zu records accepted with ackId %lld not acknowledged within "
		         "ack_timeout: sending them again",
		         b->n, (long long)b->ack_id);
		sink_http_from_ackwait(h, b);
		resent = true;
	}
	if (resent)
		sink_http_kick(h);
	if (!h->ackwait)
		return;
	buf_reset(&h->ack_body);
	int rc = buf_puts(&h->ack_body, "{\"acks\":[");
	for (struct hbatch *b = h->ackwait; b && rc == 0; b = b->next)
		rc = buf_printf(&h->ack_body, "%s%lld", b == h->ackwait ? "" : ",",
		                (long long)b->ack_id);
	if (rc == 0)
		rc = buf_puts(&h->ack_body, "]}");
	if (rc == 0)
		rc = post(h, &h->ack_req, h->ack_url, h->ack_hdrs, &h->ack_body, &h->ack_answer,
		          on_acks, h);
	if (rc < 0)
		sink_http_ack_arm(h);
	else
		h->ack_running = true;
}

/* sink_syslog: records as syslog messages (syslog_fmt.h) to a syslog
 * receiver over RELP, TCP, TLS, UDP or a unix datagram socket
 * (syslog_xport.h), acknowledged as DESIGN.md's table says:
 * - relp: on the receiver's "rsp 200" for every message of the record
 *   (sink_syslog_relp.c);
 * - tcp, tls: once every frame of the record was written to the socket;
 *   after a reconnect the last resend_window frames already acknowledged are
 *   sent again first (best effort: duplicates possible, and a frame the dead
 *   connection swallowed before that window is lost);
 * - udp, unix: once sent (no delivery guarantee exists).
 * A record that cannot be formatted is rejected (dead-lettered); a receiver
 * that is down is retried with the shared backoff, never rejected.
 *
 * Messages are formatted at submit (one record gives one message, or one per
 * console line with mode = line) and kept, unframed, until acknowledged;
 * frames are built when written, so a resend after a reconnect is identical
 * bytes (RELP: with new transaction numbers). */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sink_syslog.h"

#define QUEUE_MAX ((size_t)1 << 20)
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 60000
#define STABLE_MS 5000 /* a session this old resets the backoff when lost */

struct ent *sink_syslog_at(struct syslog_sink *y, size_t i)
{
	return &y->q[(y->head + i) % y->cap];
}

static void ent_free(struct ent *e)
{
	record_unref(e->r);
	free(e->msgs);
	free(e->lens);
}

static void check_flush(struct syslog_sink *y)
{
	if (!y->flush_done || y->len || y->closing)
		return;
	sink_cb done = y->flush_done;
	y->flush_done = NULL;
	uv_timer_stop(&y->flush_timer);
	done(y->s);
}

/* Acknowledges the first n entries; the router may submit, flush or close
 * from on_ack, so the state is consistent before each call. */
void sink_syslog_ack_head(struct syslog_sink *y, size_t n)
{
	while (n-- && y->len && !y->closing) {
		struct ent e = *sink_syslog_at(y, 0);
		y->head = (y->head + 1) % y->cap;
		y->len--;
		if (y->cur_ent)
			y->cur_ent--;
		if (e.reject < 0)
			sink_ack(y->s, e.r, LG_EREJECTED, lg_strerror(e.reject));
		else
			sink_ack(y->s, e.r, 0, NULL);
		ent_free(&e);
	}
	check_flush(y);
}

static void remember(struct syslog_sink *y, const char *data, size_t len)
{
	if (!y->rs_cap)
		return;
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return; /* resending is best effort */
	memcpy(copy, data, len);
	if (y->rs_len == y->rs_cap) {
		free(y->rs[y->rs_head].data);
		y->rs_head = (y->rs_head + 1) % y->rs_cap;
		y->rs_len--;
	}
	y->rs[(y->rs_head + y->rs_len) % y->rs_cap] = (struct frame){copy, len};
	y->rs_len++;
}

/* TCP syslog, plain or over TLS. */
static bool stream(const struct syslog_sink *y)
{
	return y->c->transport == T_TCP || y->c->transport == T_TLS;
}

static void on_kick(uv_timer_t *t)
{
	sink_syslog_kick(t->data);
}

static void schedule(struct syslog_sink *y)
{
	if (!y->closing && !uv_is_active((uv_handle_t *)&y->kick_timer))
		uv_timer_start(&y->kick_timer, on_kick, 0, 0);
}

static void on_retry(uv_timer_t *t)
{
	struct syslog_sink *y = t->data;
	if (syslog_xport_connect(&y->x) < 0)
		uv_timer_start(&y->retry_timer, on_retry, backoff_next(&y->backoff), 0);
}

/* The connection is gone: what was not acknowledged goes again on the next
 * one, after a backoff. */
void sink_syslog_lost(struct syslog_sink *y, const char *what, int err)
{
	syslog_xport_disconnect(&y->x);
	/* A session that worked for a while starts the backoff over; one that
	 * a receiver accepts and drops at once (a refused certificate) keeps
	 * it growing, so neither the retries nor their log lines spin. */
	if (y->est && uv_now(y->s->loop) - y->est_ms >= STABLE_MS)
		backoff_reset(&y->backoff);
	y->est = false;
	if (!y->failing || log_get_level() <= LOG_DEBUG)
		log_warn(y->s->who, "%s %s: %s; reconnecting", what, y->c->address,
		         syslog_xport_strerror(&y->x, err));
	y->failing = true;
	y->up = false;
	y->relp_open = false;
	y->inflight = 0;
	y->sent_msgs = 0;
	y->unanswered = 0;
	y->cur_ent = 0;
	y->cur_msg = y->len ? sink_syslog_at(y, 0)->done : 0;
	y->resending = false;
	y->resend_due = y->rs_len > 0;
	syslog_relp_reader_reset(&y->rd);
	y->reconnects++;
	if (!y->closing)
		uv_timer_start(&y->retry_timer, on_retry, backoff_next(&y->backoff), 0);
}

void sink_syslog_established(struct syslog_sink *y)
{
	if (y->failing)
		log_info(y->s->who, "connected to %s", y->c->address);
	y->failing = false;
	y->est = true;
	y->est_ms = uv_now(y->s->loop);
}

static void on_connect(struct syslog_xport *x, int status)
{
	struct syslog_sink *y = x->data;
	if (status < 0) {
		sink_syslog_lost(y, "connect to", status);
		return;
	}
	y->up = true;
	/* RELP: the session works once the receiver answered its open. */
	if (y->c->transport == T_RELP) {
		sink_syslog_relp_open(y);
		return;
	}
	sink_syslog_established(y);
	schedule(y);
}

static void on_written(struct syslog_xport *x, int status)
{
	struct syslog_sink *y = x->data;
	if (status < 0) {
		sink_syslog_lost(y, "write to", status);
		return;
	}
	if (y->c->transport == T_RELP) {
		sink_syslog_kick(y);
		return;
	}
	if (y->resending) {
		y->resending = false;
		y->resend_due = false;
		sink_syslog_kick(y);
		return;
	}
	size_t n = y->inflight;
	y->inflight = 0;
	if (!stream(y)) {
		/* Datagrams: the write carried sent_msgs messages from the
		 * head entry's first unsent one on. */
		size_t m = y->sent_msgs;
		y->sent_msgs = 0;
		for (size_t i = 0; i < y->len && m; i++) {
			struct ent *e = sink_syslog_at(y, i);
			size_t take = e->nmsg - e->done < m ? e->nmsg - e->done : m;
			e->done += (uint32_t)take;
			m -= take;
		}
		n = 0;
		while (n < y->len && sink_syslog_at(y, n)->done >= sink_syslog_at(y, n)->nmsg)
			n++;
	} else if (y->rs_cap) {
		/* y->msgs is free outside submit: frame the copies there. */
		for (size_t i = 0; i < n; i++) {
			struct ent *e = sink_syslog_at(y, i);
			size_t off = 0;
			for (uint32_t k = 0; k < e->nmsg; k++) {
				buf_reset(&y->msgs);
				if (syslog_fmt_frame(y->framing, e->msgs + off, e->lens[k],
				                     &y->msgs) == 0)
					remember(y, y->msgs.data, y->msgs.len);
				off += e->lens[k];
			}
		}
	}
	sink_syslog_ack_head(y, n);
	sink_syslog_kick(y);
}

static void on_readable(struct syslog_xport *x, const char *data, ssize_t n)
{
	struct syslog_sink *y = x->data;
	if (n < 0) {
		sink_syslog_lost(y, "connection to", (int)n);
		return;
	}
	/* Plain syslog receivers send nothing worth reading. */
	if (y->c->transport == T_RELP)
		sink_syslog_relp_read(y, data, (size_t)n);
}

static const struct syslog_xport_cbs xport_cbs = {on_connect, on_written, on_readable};

size_t sink_syslog_msg_off(const struct ent *e, uint32_t k)
{
	size_t off = 0;
	for (uint32_t i = 0; i < k; i++)
		off += e->lens[i];
	return off;
}

static void stream_kick(struct syslog_sink *y)
{
	buf_reset(&y->wbuf);
	if (y->resend_due) {
		for (size_t i = 0; i < y->rs_len; i++) {
			struct frame *f = &y->rs[(y->rs_head + i) % y->rs_cap];
			if (buf_append(&y->wbuf, f->data, f->len) < 0)
				break;
		}
		y->resent += y->rs_len;
		y->resending = true;
	} else {
		size_t n = 0;
		while (n < y->len && (n == 0 || y->wbuf.len < SINK_SYSLOG_WRITE_MAX)) {
			struct ent *e = sink_syslog_at(y, n);
			if (e->reject < 0 && n == 0) {
				sink_syslog_ack_head(y, 1);
				if (y->closing)
					return;
				continue;
			}
			if (e->reject < 0)
				break;
			size_t off = 0, before = y->wbuf.len;
			int rc = 0;
			for (uint32_t k = 0; k < e->nmsg && rc == 0; k++) {
				rc = syslog_fmt_frame(y->framing, e->msgs + off, e->lens[k],
				                      &y->wbuf);
				off += e->lens[k];
			}
			if (rc < 0) {
				y->wbuf.len = before;
				if (n > 0)
					break;
				e->reject = rc; /* can never fit: dead-letter it */
				continue;
			}
			n++;
		}
		y->inflight = n;
		if (!n)
			return;
	}
	y->iov[0] = uv_buf_init(y->wbuf.data, (unsigned)y->wbuf.len);
	if (syslog_xport_write(&y->x, y->iov, 1) < 0)
		sink_syslog_lost(y, "write to", UV_EIO);
}

static void dgram_kick(struct syslog_sink *y)
{
	while (y->len && sink_syslog_at(y, 0)->reject < 0) {
		sink_syslog_ack_head(y, 1);
		if (y->closing)
			return;
	}
	unsigned nb = 0;
	/* A record with more lines than one write carries goes in parts:
	 * done counts what was sent of it. */
	for (size_t n = 0; n < y->len && nb < SYSLOG_XPORT_DGRAM_MAX; n++) {
		struct ent *e = sink_syslog_at(y, n);
		if (e->reject < 0)
			break;
		size_t off = sink_syslog_msg_off(e, e->done);
		for (uint32_t k = e->done; k < e->nmsg && nb < SYSLOG_XPORT_DGRAM_MAX; k++) {
			y->iov[nb++] = uv_buf_init(e->msgs + off, e->lens[k]);
			off += e->lens[k];
		}
	}
	if (!nb)
		return;
	y->inflight = 1;
	y->sent_msgs = nb;
	if (syslog_xport_write(&y->x, y->iov, nb) < 0)
		sink_syslog_lost(y, "send to", UV_EIO);
}

void sink_syslog_kick(struct syslog_sink *y)
{
	if (y->closing || !y->up || y->x.writing || y->inflight)
		return;
	if (y->c->transport == T_RELP)
		sink_syslog_relp_kick(y);
	else if (stream(y))
		stream_kick(y);
	else
		dgram_kick(y);
}

static int collect(void *arg, const char *msg, size_t len)
{
	struct syslog_sink *y = arg;
	if (len > UINT32_MAX)
		return LG_ETOOBIG;
	int rc = buf_reserve(&y->msgs, sizeof(uint32_t) + len);
	if (rc < 0)
		return rc;
	uint32_t l = (uint32_t)len;
	/* Lengths and texts are kept apart later; here they interleave. */
	buf_append(&y->msgs, &l, sizeof(l));
	return buf_append(&y->msgs, msg, len);
}

/* Formats r into e: the lengths and the messages, each in one allocation. */
static int format(struct syslog_sink *y, struct record *r, struct ent *e)
{
	buf_reset(&y->msgs);
	int rc = syslog_fmt_record(&y->fmt, r, &y->doc, &y->scratch, &y->st, collect, y);
	if (rc < 0)
		return rc;
	size_t n = 0, total = 0;
	for (size_t off = 0; off < y->msgs.len; n++) {
		uint32_t l;
		memcpy(&l, y->msgs.data + off, sizeof(l));
		off += sizeof(l) + l;
		total += l;
	}
	e->lens = malloc((n ? n : 1) * sizeof(*e->lens));
	e->msgs = malloc(total ? total : 1);
	if (!e->lens || !e->msgs)
		return LG_ENOMEM;
	size_t k = 0, dst = 0;
	for (size_t off = 0; off < y->msgs.len; k++) {
		uint32_t l;
		memcpy(&l, y->msgs.data + off, sizeof(l));
		e->lens[k] = l;
		memcpy(e->msgs + dst, y->msgs.data + off + sizeof(l), l);
		dst += l;
		off += sizeof(l) + l;
	}
	e->nmsg = (uint32_t)n;
	return 0;
}

static int syslog_submit(struct sink *s, struct record *r)
{
	struct syslog_sink *y = s->priv;
	if (!y || y->closing)
		return LG_ECLOSED;
	if (y->len == y->cap) {
		if (y->cap >= QUEUE_MAX)
			return LG_ETOOBIG;
		size_t cap = y->cap ? y->cap * 2 : 64;
		struct ent *q = malloc(cap * sizeof(*q));
		if (!q)
			return LG_ENOMEM;
		for (size_t i = 0; i < y->len; i++)
			q[i] = *sink_syslog_at(y, i);
		free(y->q);
		y->q = q;
		y->cap = cap;
		y->head = 0;
	}
	struct ent e = {.r = record_ref(r)};
	int rc = format(y, r, &e);
	if (rc == LG_ENOMEM) {
		ent_free(&e);
		return rc;
	}
	if (rc < 0) {
		/* Acknowledged (as rejected) in order, from the loop. */
		log_warn(s->who, "record %s cannot be formatted: %s", r->id, lg_strerror(rc));
		e.reject = rc;
	}
	*sink_syslog_at(y, y->len) = e;
	if (y->len == 0 && y->c->transport == T_RELP)
		y->cur_msg = 0;
	y->len++;
	schedule(y);
	return 0;
}

static void on_flush_timer(uv_timer_t *t)
{
	struct syslog_sink *y = t->data;
	sink_cb done = y->flush_done;
	y->flush_done = NULL;
	if (done)
		done(y->s);
}

static void syslog_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	struct syslog_sink *y = s->priv;
	if (!y || y->closing) {
		done(s);
		return;
	}
	uint64_t now = uv_now(s->loop);
	y->flush_done = done;
	uv_timer_start(&y->flush_timer, on_flush_timer,
	               y->len && deadline > now ? deadline - now : 0, 0);
	schedule(y);
}

static void free_sink(struct syslog_sink *y)
{
	for (size_t i = 0; i < y->len; i++)
		ent_free(sink_syslog_at(y, i));
	for (size_t i = 0; i < y->rs_len; i++)
		free(y->rs[(y->rs_head + i) % y->rs_cap].data);
	free(y->rs);
	free(y->q);
	json_doc_free(&y->doc);
	buf_free(&y->scratch);
	buf_free(&y->msgs);
	buf_free(&y->wbuf);
	syslog_relp_reader_free(&y->rd);
	SSL_CTX_free(y->tls_ctx);
	free(y);
}

static void close_unref(struct syslog_sink *y)
{
	if (--y->close_pending > 0)
		return;
	struct sink *s = y->s;
	sink_cb closed = y->closed;
	free_sink(y);
	s->priv = NULL;
	closed(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	close_unref(h->data);
}

static void on_xport_closed(struct syslog_xport *x)
{
	close_unref(x->data);
}

static void syslog_close(struct sink *s, sink_cb closed)
{
	struct syslog_sink *y = s->priv;
	if (!y) {
		closed(s);
		return;
	}
	/* What is not acknowledged stays so: it is replayed on restart. */
	y->closing = true;
	y->closed = closed;
	y->flush_done = NULL;
	log_info(s->who,
	         "closing: %llu messages, %llu truncated, %llu without structured data, "
	         "%llu reconnects, %llu frames resent",
	         (unsigned long long)y->st.messages, (unsigned long long)y->st.truncated,
	         (unsigned long long)y->st.sd_dropped, (unsigned long long)y->reconnects,
	         (unsigned long long)y->resent);
	y->close_pending = 4;
	uv_close((uv_handle_t *)&y->kick_timer, on_handle_closed);
	uv_close((uv_handle_t *)&y->retry_timer, on_handle_closed);
	uv_close((uv_handle_t *)&y->flush_timer, on_handle_closed);
	syslog_xport_close(&y->x, on_xport_closed);
}

static int syslog_open(struct sink *s, struct conf_errs *errs)
{
	struct syslog_xport x;
	memset(&x, 0, sizeof(x));
	SSL_CTX *tls_ctx = NULL;
	int rc = sink_syslog_validate(s, errs, &x, &tls_ctx);
	struct syslog_sink *y = rc < 0 || s->check_only ? NULL : calloc(1, sizeof(*y));
	if (!y) {
		syslog_xport_free_address(&x);
		SSL_CTX_free(tls_ctx);
		return rc < 0 || s->check_only ? rc : LG_ENOMEM;
	}
	const struct syslog_conf *c = s->conf;
	y->s = s;
	y->c = c;
	y->x = x;
	y->tls_ctx = tls_ctx;
	if (c->hostname)
		snprintf(y->host, sizeof(y->host), "%s", c->hostname);
	else if (gethostname(y->host, sizeof(y->host) - 1) != 0)
		y->host[0] = '\0';
	y->framing = c->transport == T_UDP || c->transport == T_UNIX || c->transport == T_RELP
	                 ? SYSLOG_FMT_NONE
	                 : (c->framing == 1 ? SYSLOG_FMT_LF : SYSLOG_FMT_OCTET);
	y->fmt = (struct syslog_fmt){
	    c->format,   c->mode,  syslog_fmt_facility(c->facility), y->host,
	    c->app_name, c->sd_id, (size_t)c->max_message_size,      y->framing == SYSLOG_FMT_LF};
	uint64_t max_rec = s->max_record_size ? s->max_record_size : (16u << 20);
	json_doc_init(&y->doc, (uint32_t)(max_rec + 1 < UINT32_MAX ? max_rec + 1 : UINT32_MAX));
	/* A message, plus what a truncated text may overshoot by. */
	buf_init(&y->scratch, (size_t)c->max_message_size + 64);
	/* Bounds far above need (a console line's header is a few hundred
	 * bytes, LF framing may quadruple a text); a record past them is
	 * dead-lettered, never a stall. */
	buf_init(&y->msgs, (size_t)max_rec * 8 + (16u << 20));
	buf_init(&y->wbuf, SINK_SYSLOG_WRITE_MAX + (size_t)max_rec * 32 + (16u << 20) +
	                       (size_t)c->resend_window * ((size_t)c->max_message_size * 4 + 32));
	syslog_relp_reader_init(&y->rd);
	if ((c->transport == T_TCP || c->transport == T_TLS) && c->resend_window > 0) {
		y->rs_cap = (size_t)c->resend_window;
		y->rs = calloc(y->rs_cap, sizeof(*y->rs));
		if (!y->rs) {
			syslog_xport_free_address(&y->x);
			free_sink(y);
			return LG_ENOMEM;
		}
	}
	uv_timer_t *timers[] = {&y->kick_timer, &y->retry_timer, &y->flush_timer};
	for (size_t i = 0; i < 3; i++) {
		uv_timer_init(s->loop, timers[i]);
		timers[i]->data = y;
	}
	backoff_init(&y->backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
	syslog_xport_init(&y->x, s->loop, &xport_cbs, y);
	y->x.connect_timeout_ms = c->connect_timeout;
	y->x.user_timeout_ms = (unsigned)c->tcp_user_timeout;
	y->x.tls_ctx = tls_ctx;
	y->x.tls_name = c->tls_server_name;
	y->x.tls_verify = c->tls_verify;
	if (c->tls && !c->tls_verify)
		log_warn(s->who, "tls_verify = off: the receiver's certificate is not checked, "
		                 "anyone in the path can read and change what is sent");
	s->priv = y;
	/* Connecting is asynchronous: a receiver that is down is retried. */
	syslog_xport_connect(&y->x);
	return 0;
}

const struct sink_type sink_syslog_type = {
    .name = "syslog",
    .desc = "syslog messages (RFC 5424/3164) over RELP, TCP, TLS, UDP or a unix datagram "
            "socket",
    .opts = sink_syslog_opts,
    .conf_size = sizeof(struct syslog_conf),
    .open = syslog_open,
    .submit = syslog_submit,
    .flush = syslog_flush,
    .close = syslog_close,
    .reopen = NULL,
};

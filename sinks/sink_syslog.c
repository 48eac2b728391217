/* sink_syslog: records as syslog messages (syslog_fmt.h) to a syslog
 * receiver over RELP, TCP, UDP or a unix datagram socket (syslog_xport.h),
 * acknowledged as DESIGN.md's table says:
 * - relp: on the receiver's "rsp 200" for every message of the record;
 * - tcp: once every frame of the record was written to the socket; after a
 *   reconnect the last resend_window frames already acknowledged are sent
 *   again first (best effort: duplicates possible, and a frame the dead
 *   connection swallowed before that window is lost);
 * - udp, unix: once sent (no delivery guarantee exists).
 * A record that cannot be formatted is rejected (dead-lettered); a receiver
 * that is down is retried with the shared backoff, never rejected.
 *
 * RELP is implemented here on the loop rather than with librelp: librelp
 * runs its own blocking connect and select()-based send/receive loop
 * (relpCltSendSyslog waits on the window), which would stall the agent's one
 * thread; the client side of the protocol is small.
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

#include "backoff.h"
#include "log.h"
#include "sink.h"
#include "syslog_fmt.h"
#include "syslog_relp.h"
#include "syslog_xport.h"

#define QUEUE_MAX ((size_t)1 << 20)
#define WRITE_MAX (256 * 1024) /* bytes per stream write (at least one record) */
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 60000

enum transport { T_RELP, T_TCP, T_TLS, T_UDP, T_UNIX };

struct syslog_conf {
	int transport;
	char *address;
	int format;
	int framing;
	char *facility;
	char *app_name;
	char *hostname;
	char *sd_id;
	int mode;
	uint64_t max_message_size;
	int64_t resend_window;
	int64_t relp_window;
	uint64_t connect_timeout;
	uint64_t tcp_user_timeout;
};

#define C(f) offsetof(struct syslog_conf, f)
static const struct opt_def syslog_opts[] = {
    {"transport", OPT_ENUM, "tcp", 0, C(transport), "relp|tcp|tls|udp|unix",
     "relp (acknowledged by the receiver), tcp (acknowledged when written), udp or unix "
     "(datagrams, acknowledged when sent); tls is not available in this build"},
    {"address", OPT_STRING, NULL, OPT_REQUIRED, C(address), NULL,
     "host:port ([v6]:port) of the receiver, or the socket path for unix (e.g. /dev/log)"},
    {"format", OPT_ENUM, "rfc5424", 0, C(format), "rfc5424|rfc3164", "the syslog format"},
    {"framing", OPT_ENUM, "octet-counting", 0, C(framing), "octet-counting|lf",
     "tcp: octet counting (RFC 6587) or LF-terminated (a newline inside a message is "
     "sent as #012)"},
    {"facility", OPT_STRING, "local0", 0, C(facility), NULL,
     "syslog facility name (kern, user, daemon, ... local0..local7)"},
    {"app_name", OPT_STRING, "sinch-fn", 0, C(app_name), NULL,
     "APP-NAME; may use {function_name}, {function_id}, {project_id}"},
    {"hostname", OPT_STRING, NULL, 0, C(hostname), NULL,
     "HOSTNAME of every message (default: this host's name)"},
    {"sd_id", OPT_STRING, "fn@32473", 0, C(sd_id), NULL,
     "SD-ID of the structured-data element (rfc5424)"},
    {"mode", OPT_ENUM, "request", 0, C(mode), "request|line",
     "one message per record (its JSON), or one per console line"},
    {"max_message_size", OPT_SIZE, "0", 0, C(max_message_size), NULL,
     "longest message before framing, longer ones are truncated (0: 2048 for udp, 8192 "
     "otherwise; at least 600)"},
    {"resend_window", OPT_INT, "10", 0, C(resend_window), NULL,
     "tcp: how many of the last written frames are sent again after a reconnect"},
    {"relp_window", OPT_INT, "128", 0, C(relp_window), NULL,
     "relp: messages sent and not yet answered, at most (1..10000)"},
    {"connect_timeout", OPT_DURATION, "10s", 0, C(connect_timeout), NULL,
     "give up a connection attempt after this long (then back off and retry)"},
    {"tcp_user_timeout", OPT_DURATION, "30s", 0, C(tcp_user_timeout), NULL,
     "tcp, relp: drop the connection when sent data stays unacknowledged by the peer's "
     "TCP this long (TCP_USER_TIMEOUT; 0 = the kernel's default)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct ent {
	struct record *r;
	char *msgs;     /* the messages, unframed, back to back */
	uint32_t *lens; /* each message's length */
	uint32_t nmsg;
	uint32_t done; /* relp: messages answered with 200 */
	int reject;    /* < 0: cannot be formatted, dead-letter it */
};

struct frame {
	char *data;
	size_t len;
};

struct syslog_sink {
	struct sink *s;
	const struct syslog_conf *c;
	struct syslog_fmt fmt;
	int framing; /* enum syslog_fmt_framing */
	char host[256];
	struct json_doc doc;
	struct buf scratch, msgs, wbuf;
	uv_buf_t iov[SYSLOG_XPORT_DGRAM_MAX];

	struct ent *q;
	size_t cap, head, len;
	size_t inflight;  /* tcp: entries in the write under way; datagram: 1 */
	size_t sent_msgs; /* datagram: messages in the write under way */

	/* tcp: copies of the last resend_window frames written. */
	struct frame *rs;
	size_t rs_cap, rs_head, rs_len;
	bool resend_due, resending;

	/* relp: the session. */
	struct syslog_relp_reader rd;
	bool relp_open;
	uint32_t txnr;       /* the last one used */
	uint32_t oldest;     /* the oldest unanswered */
	size_t unanswered;   /* messages sent, not answered */
	size_t cur_ent;      /* the next message to send: entry index from head... */
	uint32_t cur_msg;    /* ...and message within it */

	struct syslog_xport x;
	struct backoff backoff;
	uv_timer_t kick_timer, retry_timer, flush_timer;
	bool up, failing;
	sink_cb flush_done, closed;
	bool closing;
	unsigned close_pending;
	struct syslog_fmt_stats st;
	uint64_t reconnects, resent;
};

static void kick(struct syslog_sink *y);

static struct ent *at(struct syslog_sink *y, size_t i)
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
static void ack_head(struct syslog_sink *y, size_t n)
{
	while (n-- && y->len && !y->closing) {
		struct ent e = *at(y, 0);
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

static void on_kick(uv_timer_t *t)
{
	kick(t->data);
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
static void lost(struct syslog_sink *y, const char *what, int err)
{
	syslog_xport_disconnect(&y->x);
	if (!y->failing || log_get_level() <= LOG_DEBUG)
		log_warn(y->s->who, "%s %s: %s; reconnecting", what, y->c->address,
		         uv_strerror(err));
	y->failing = true;
	y->up = false;
	y->relp_open = false;
	y->inflight = 0;
	y->sent_msgs = 0;
	y->unanswered = 0;
	y->cur_ent = 0;
	y->cur_msg = y->len ? at(y, 0)->done : 0;
	y->resending = false;
	y->resend_due = y->rs_len > 0;
	syslog_relp_reader_reset(&y->rd);
	y->reconnects++;
	if (!y->closing)
		uv_timer_start(&y->retry_timer, on_retry, backoff_next(&y->backoff), 0);
}

static void relp_send_open(struct syslog_sink *y)
{
	static const char offer[] = "relp_version=0\nrelp_software=sinch-logd," SINCH_LOGD_VERSION
	                            "\ncommands=syslog";
	buf_reset(&y->wbuf);
	y->txnr = 1;
	y->oldest = 1;
	if (syslog_relp_frame(&y->wbuf, y->txnr, "open", offer, sizeof(offer) - 1) < 0)
		return;
	y->iov[0] = uv_buf_init(y->wbuf.data, (unsigned)y->wbuf.len);
	if (syslog_xport_write(&y->x, y->iov, 1) < 0)
		lost(y, "write to", UV_EIO);
}

static void on_connect(struct syslog_xport *x, int status)
{
	struct syslog_sink *y = x->data;
	if (status < 0) {
		lost(y, "connect to", status);
		return;
	}
	if (y->failing)
		log_info(y->s->who, "connected to %s", y->c->address);
	y->failing = false;
	backoff_reset(&y->backoff);
	y->up = true;
	if (y->c->transport == T_RELP)
		relp_send_open(y);
	else
		schedule(y);
}

static void on_written(struct syslog_xport *x, int status)
{
	struct syslog_sink *y = x->data;
	if (status < 0) {
		lost(y, "write to", status);
		return;
	}
	if (y->c->transport == T_RELP) {
		kick(y);
		return;
	}
	if (y->resending) {
		y->resending = false;
		y->resend_due = false;
		kick(y);
		return;
	}
	size_t n = y->inflight;
	y->inflight = 0;
	if (y->c->transport != T_TCP) {
		/* Datagrams: the write carried sent_msgs messages from the
		 * head entry's first unsent one on. */
		size_t m = y->sent_msgs;
		y->sent_msgs = 0;
		for (size_t i = 0; i < y->len && m; i++) {
			struct ent *e = at(y, i);
			size_t take = e->nmsg - e->done < m ? e->nmsg - e->done : m;
			e->done += (uint32_t)take;
			m -= take;
		}
		n = 0;
		while (n < y->len && at(y, n)->done >= at(y, n)->nmsg)
			n++;
	} else if (y->rs_cap) {
		/* y->msgs is free outside submit: frame the copies there. */
		for (size_t i = 0; i < n; i++) {
			struct ent *e = at(y, i);
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
	ack_head(y, n);
	kick(y);
}

/* Acknowledges the entries at the head that need no more answers, so that
 * the next answer always belongs to the head entry. */
static void relp_pop_done(struct syslog_sink *y)
{
	while (y->len && !y->closing) {
		struct ent *e = at(y, 0);
		if (e->reject >= 0 && e->done < e->nmsg)
			return;
		if (y->cur_ent == 0)
			y->cur_msg = 0;
		ack_head(y, 1);
	}
}

static void relp_answer(struct syslog_sink *y, const struct syslog_relp_answer *a)
{
	if (strcmp(a->command, "serverclose") == 0) {
		lost(y, "receiver closed", UV_EOF);
		return;
	}
	if (strcmp(a->command, "rsp") != 0 || a->code != 200 || a->txnr != y->oldest ||
	    (y->relp_open && y->unanswered == 0)) {
		log_warn(y->s->who, "RELP answer %u %s %d from %s not expected", a->txnr,
		         a->command, a->code, y->c->address);
		lost(y, "protocol error from", UV_EPROTO);
		return;
	}
	y->oldest = syslog_relp_next(y->oldest);
	if (!y->relp_open) {
		y->relp_open = true;
		kick(y);
		return;
	}
	y->unanswered--;
	at(y, 0)->done++;
	relp_pop_done(y);
}

static void on_readable(struct syslog_xport *x, const char *data, ssize_t n)
{
	struct syslog_sink *y = x->data;
	if (n < 0) {
		lost(y, "connection to", (int)n);
		return;
	}
	if (y->c->transport != T_RELP)
		return; /* plain syslog receivers send nothing worth reading */
	if (syslog_relp_feed(&y->rd, data, (size_t)n) < 0) {
		lost(y, "oversized RELP answer from", UV_EPROTO);
		return;
	}
	struct syslog_relp_answer a;
	int rc;
	while (y->up && !y->closing && (rc = syslog_relp_next_answer(&y->rd, &a)) != 0) {
		if (rc < 0) {
			lost(y, "malformed RELP answer from", UV_EPROTO);
			return;
		}
		relp_answer(y, &a);
	}
	if (y->up && !y->closing)
		kick(y);
}

static const struct syslog_xport_cbs xport_cbs = {on_connect, on_written, on_readable};

static size_t msg_off(const struct ent *e, uint32_t k)
{
	size_t off = 0;
	for (uint32_t i = 0; i < k; i++)
		off += e->lens[i];
	return off;
}

static void relp_kick(struct syslog_sink *y)
{
	if (!y->relp_open || y->x.writing)
		return;
	relp_pop_done(y);
	if (y->closing)
		return;
	buf_reset(&y->wbuf);
	size_t window = (size_t)y->c->relp_window;
	while (y->unanswered < window && y->cur_ent < y->len && y->wbuf.len < WRITE_MAX) {
		struct ent *e = at(y, y->cur_ent);
		if (e->reject < 0 || y->cur_msg >= e->nmsg) {
			y->cur_ent++;
			y->cur_msg = y->cur_ent < y->len ? at(y, y->cur_ent)->done : 0;
			continue;
		}
		uint32_t txnr = syslog_relp_next(y->txnr);
		size_t off = msg_off(e, y->cur_msg);
		if (syslog_relp_frame(&y->wbuf, txnr, "syslog", e->msgs + off, e->lens[y->cur_msg]) <
		    0)
			break;
		y->txnr = txnr;
		y->unanswered++;
		y->cur_msg++;
	}
	if (!y->wbuf.len)
		return;
	y->iov[0] = uv_buf_init(y->wbuf.data, (unsigned)y->wbuf.len);
	if (syslog_xport_write(&y->x, y->iov, 1) < 0)
		lost(y, "write to", UV_EIO);
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
		while (n < y->len && (n == 0 || y->wbuf.len < WRITE_MAX)) {
			struct ent *e = at(y, n);
			if (e->reject < 0 && n == 0) {
				ack_head(y, 1);
				if (y->closing)
					return;
				continue;
			}
			if (e->reject < 0)
				break;
			size_t off = 0, before = y->wbuf.len;
			int rc = 0;
			for (uint32_t k = 0; k < e->nmsg && rc == 0; k++) {
				rc = syslog_fmt_frame(y->framing, e->msgs + off, e->lens[k], &y->wbuf);
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
		lost(y, "write to", UV_EIO);
}

static void dgram_kick(struct syslog_sink *y)
{
	while (y->len && at(y, 0)->reject < 0) {
		ack_head(y, 1);
		if (y->closing)
			return;
	}
	unsigned nb = 0;
	/* A record with more lines than one write carries goes in parts:
	 * done counts what was sent of it. */
	for (size_t n = 0; n < y->len && nb < SYSLOG_XPORT_DGRAM_MAX; n++) {
		struct ent *e = at(y, n);
		if (e->reject < 0)
			break;
		size_t off = msg_off(e, e->done);
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
		lost(y, "send to", UV_EIO);
}

static void kick(struct syslog_sink *y)
{
	if (y->closing || !y->up || y->x.writing || y->inflight)
		return;
	if (y->c->transport == T_RELP)
		relp_kick(y);
	else if (y->c->transport == T_TCP)
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
			q[i] = *at(y, i);
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
	*at(y, y->len) = e;
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
		ent_free(at(y, i));
	for (size_t i = 0; i < y->rs_len; i++)
		free(y->rs[(y->rs_head + i) % y->rs_cap].data);
	free(y->rs);
	free(y->q);
	json_doc_free(&y->doc);
	buf_free(&y->scratch);
	buf_free(&y->msgs);
	buf_free(&y->wbuf);
	syslog_relp_reader_free(&y->rd);
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

static void bad_key(struct sink *s, struct conf_errs *errs, const char *key, const char *msg)
{
	struct opt_origin o = {s->file, s->line};
	if (s->section)
		o = opts_origin(s->section, key);
	conf_err(errs, o.file, o.line, "[sink %s]: key '%s': %s", s->name, key, msg);
}

static const int xport_kind[] = {SYSLOG_XPORT_TCP, SYSLOG_XPORT_TCP, SYSLOG_XPORT_TCP,
                                 SYSLOG_XPORT_UDP, SYSLOG_XPORT_UNIX};

static int validate(struct sink *s, struct conf_errs *errs, struct syslog_xport *x)
{
	struct syslog_conf *c = s->conf;
	int bad = 0;
	if (c->transport == T_TLS) {
		bad_key(s, errs, "transport",
		        "tls is not available in this build (no TLS library is linked); use relp "
		        "or tcp through a local TLS forwarder");
		bad = 1;
	}
	if (c->transport >= 0 && syslog_xport_parse(x, xport_kind[c->transport], c->address) < 0) {
		bad_key(s, errs, "address",
		        c->transport == T_UNIX ? "must be a socket path"
		                               : "must be host:port (or [v6]:port)");
		bad = 1;
	}
	if (!c->facility || syslog_fmt_facility(c->facility) < 0) {
		bad_key(s, errs, "facility", "must be a facility name such as local0 or daemon");
		bad = 1;
	}
	if (!c->sd_id || !syslog_fmt_sd_id_valid(c->sd_id)) {
		bad_key(s, errs, "sd_id", "must be 1..32 printable characters without = ] \" or space");
		bad = 1;
	}
	if (c->max_message_size == 0)
		c->max_message_size = c->transport == T_UDP ? 2048 : 8192;
	if (c->max_message_size < SYSLOG_FMT_MIN_SIZE || c->max_message_size > (64u << 20)) {
		bad_key(s, errs, "max_message_size", "must be 600 bytes .. 64M");
		bad = 1;
	}
	if (c->transport == T_UDP && c->max_message_size > 65000) {
		bad_key(s, errs, "max_message_size", "must fit one UDP datagram (at most 65000)");
		bad = 1;
	}
	if (c->resend_window < 0 || c->resend_window > 100000) {
		bad_key(s, errs, "resend_window", "must be 0..100000");
		bad = 1;
	}
	if (c->relp_window < 1 || c->relp_window > 10000) {
		bad_key(s, errs, "relp_window", "must be 1..10000");
		bad = 1;
	}
	if (c->tcp_user_timeout > UINT_MAX) {
		bad_key(s, errs, "tcp_user_timeout", "is too long");
		bad = 1;
	}
	return bad ? LG_ECONFIG : 0;
}

static int syslog_open(struct sink *s, struct conf_errs *errs)
{
	struct syslog_xport x;
	memset(&x, 0, sizeof(x));
	int rc = validate(s, errs, &x);
	if (rc < 0 || s->check_only) {
		syslog_xport_free_address(&x);
		return rc;
	}
	const struct syslog_conf *c = s->conf;
	struct syslog_sink *y = calloc(1, sizeof(*y));
	if (!y) {
		syslog_xport_free_address(&x);
		return LG_ENOMEM;
	}
	y->s = s;
	y->c = c;
	y->x = x;
	if (c->hostname)
		snprintf(y->host, sizeof(y->host), "%s", c->hostname);
	else if (gethostname(y->host, sizeof(y->host) - 1) != 0)
		y->host[0] = '\0';
	y->fmt = (struct syslog_fmt){c->format, c->mode, syslog_fmt_facility(c->facility), y->host,
	                             c->app_name, c->sd_id, (size_t)c->max_message_size};
	y->framing = c->transport == T_UDP || c->transport == T_UNIX || c->transport == T_RELP
	                 ? SYSLOG_FMT_NONE
	                 : (c->framing == 1 ? SYSLOG_FMT_LF : SYSLOG_FMT_OCTET);
	uint64_t max_rec = s->max_record_size ? s->max_record_size : (16u << 20);
	json_doc_init(&y->doc, (uint32_t)(max_rec + 1 < UINT32_MAX ? max_rec + 1 : UINT32_MAX));
	/* A message, plus what a truncated text may overshoot by. */
	buf_init(&y->scratch, (size_t)c->max_message_size + 64);
	/* Bounds far above need (a console line's header is a few hundred
	 * bytes, LF framing may quadruple a text); a record past them is
	 * dead-lettered, never a stall. */
	buf_init(&y->msgs, (size_t)max_rec * 8 + (16u << 20));
	buf_init(&y->wbuf, WRITE_MAX + (size_t)max_rec * 32 + (16u << 20) +
	                       (size_t)c->resend_window * ((size_t)c->max_message_size * 4 + 32));
	syslog_relp_reader_init(&y->rd);
	if (c->transport == T_TCP && c->resend_window > 0) {
		y->rs_cap = (size_t)c->resend_window;
		y->rs = calloc(y->rs_cap, sizeof(*y->rs));
		if (!y->rs) {
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
	s->priv = y;
	/* Connecting is asynchronous: a receiver that is down is retried. */
	syslog_xport_connect(&y->x);
	return 0;
}

const struct sink_type sink_syslog_type = {
    .name = "syslog",
    .desc = "syslog messages (RFC 5424/3164) over RELP, TCP, UDP or a unix datagram socket",
    .opts = syslog_opts,
    .conf_size = sizeof(struct syslog_conf),
    .open = syslog_open,
    .submit = syslog_submit,
    .flush = syslog_flush,
    .close = syslog_close,
    .reopen = NULL,
};

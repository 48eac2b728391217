#include "sink_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "log.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 60000
/* When librdkafka says QUEUE_FULL with nothing of ours in flight (its queue
 * is shared with nothing else, so this is only a safety net). */
#define QUEUE_FULL_RETRY_MS 100
/* Events handled per wakeup before the loop gets its turn again. */
#define EVENTS_PER_WAKEUP 10000

/* One submitted record, in exactly one of the pending and in-flight lists
 * until it is acknowledged. */
struct kmsg {
	struct record *r;
	struct kmsg *prev, *next;
	uint64_t seq;        /* submit order: retries go back in this order */
	uint64_t not_before; /* uv_now() before which it is not produced again */
};

struct klist {
	struct kmsg *head, *tail;
	size_t n;
};

/* A producer being destroyed on the thread pool (rd_kafka_destroy blocks),
 * with references to the records whose payloads it may still point at. */
struct zombie {
	uv_work_t work;
	struct kafka_sink *k;
	rd_kafka_t *rk;
	struct record **refs;
	size_t nrefs;
};

struct kafka_sink {
	struct sink *s;
	const struct sink_kafka_conf *conf;
	rd_kafka_conf_t *tmpl; /* every producer is made from a copy */
	rd_kafka_t *rk;        /* NULL between a fatal error and the rebuild */
	rd_kafka_queue_t *q;   /* its main queue: reports, logs, errors */
	int pipe[2];           /* q's io-event pipe, watched by poll */
	uv_poll_t poll;
	uv_timer_t kick_timer, retry_timer, flush_timer;
	struct klist pending, inflight;
	uint64_t next_seq;
	struct backoff backoff;
	int last_error; /* the last librdkafka error logged, to log changes only */
	bool failing;   /* deliveries fail; logged once until one succeeds */
	bool fatal;     /* a fatal error waits for the rebuild */
	unsigned busy;  /* inside event handling or pump: close waits */
	unsigned zombies;
	bool closing, close_started;
	unsigned close_pending;
	sink_cb flush_done, closed;
	struct sink_kafka_stats stats;
};

static void pump(struct kafka_sink *k);
static void on_retry_timer(uv_timer_t *t);
static void finish_close(struct kafka_sink *k);

static void list_remove(struct klist *l, struct kmsg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	m->prev = m->next = NULL;
	l->n--;
}

static void list_append(struct klist *l, struct kmsg *m)
{
	m->next = NULL;
	m->prev = l->tail;
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->n++;
}

/* Inserts in seq order, searching from the tail: retries are few and
 * usually older than everything behind them. */
static void list_insert_sorted(struct klist *l, struct kmsg *m)
{
	struct kmsg *after = l->tail;
	while (after && after->seq > m->seq)
		after = after->prev;
	m->prev = after;
	m->next = after ? after->next : l->head;
	if (m->next)
		m->next->prev = m;
	else
		l->tail = m;
	if (after)
		after->next = m;
	else
		l->head = m;
	l->n++;
}

static bool permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
		return true;
	default:
		return false;
	}
}

static bool topic_error(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

static void check_flush(struct kafka_sink *k)
{
	if (!k->flush_done || k->closing || k->pending.n || k->inflight.n)
		return;
	sink_cb done = k->flush_done;
	k->flush_done = NULL;
	uv_timer_stop(&k->flush_timer);
	done(k->s);
}

/* Frees m and reports its record; the router may submit, flush or close
 * from sink_ack, so m is out of every list first. */
static void ack(struct kafka_sink *k, struct kmsg *m, int result, const char *reason)
{
	struct record *r = m->r;
	free(m);
	if (result == 0)
		k->stats.delivered++;
	else
		k->stats.dead_lettered++;
	sink_ack(k->s, r, result, reason);
	record_unref(r);
}

static void reject(struct kafka_sink *k, struct kmsg *m, const char *why)
{
	char reason[300];
	snprintf(reason, sizeof(reason), "kafka: %s", why);
	ack(k, m, LG_EREJECTED, reason);
}

/* Puts m back in the pending list to be produced again after a backoff. */
static void retry_later(struct kafka_sink *k, struct kmsg *m, rd_kafka_resp_err_t err,
                        const char *topic)
{
	m->not_before = uv_now(k->s->loop) + backoff_next(&k->backoff);
	list_insert_sorted(&k->pending, m);
	k->stats.retried++;
	if (k->failing)
		return;
	k->failing = true;
	if (topic_error(err))
		log_error(k->s->who, "topic %s: %s; the sink is down, retrying", topic ? topic : "?",
		          rd_kafka_err2str(err));
	else
		log_warn(k->s->who, "delivery failed: %s; retrying", rd_kafka_err2str(err));
}

static void delivered_ok(struct kafka_sink *k)
{
	backoff_reset(&k->backoff);
	if (k->failing)
		log_info(k->s->who, "delivering again");
	k->failing = false;
}

static void on_dr(struct kafka_sink *k, rd_kafka_event_t *ev)
{
	const rd_kafka_message_t *msg;
	while (!k->closing && (msg = rd_kafka_event_message_next(ev))) {
		struct kmsg *m = msg->_private;
		list_remove(&k->inflight, m);
		if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			delivered_ok(k);
			ack(k, m, 0, NULL);
			continue;
		}
		k->stats.failed++;
		if (permanent(msg->err))
			reject(k, m, rd_kafka_err2str(msg->err));
		else
			retry_later(k, m, msg->err, msg->rkt ? rd_kafka_topic_name(msg->rkt) : NULL);
	}
}

static void on_log(struct kafka_sink *k, rd_kafka_event_t *ev)
{
	const char *fac = "", *str = "";
	int level = 6;
	if (rd_kafka_event_log(ev, &fac, &str, &level) != 0)
		return;
	/* librdkafka uses syslog levels. */
	enum log_level l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARNING
	                                        : level <= 6   ? LOG_INFO
	                                                       : LOG_DEBUG;
	log_msg(l, k->s->who, "librdkafka %s: %s", fac, str);
}

static void on_error(struct kafka_sink *k, rd_kafka_event_t *ev)
{
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	if (rd_kafka_event_error_is_fatal(ev)) {
		k->fatal = true;
		return;
	}
	/* A broker that is down repeats its error every reconnect attempt. */
	enum log_level l = (int)err == k->last_error ? LOG_DEBUG : LOG_WARNING;
	k->last_error = (int)err;
	log_msg(l, k->s->who, "kafka: %s%s", rd_kafka_event_error_string(ev),
	        err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? "; records wait in the queue" : "");
}

static void zombie_work(uv_work_t *w)
{
	struct zombie *z = w->data;
	/* Without brokers, destroy would wait for messages it cannot send. */
	rd_kafka_purge(z->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(z->rk);
}

static void close_unref(struct kafka_sink *k);

static void zombie_after(uv_work_t *w, int status)
{
	(void)status;
	struct zombie *z = w->data;
	struct kafka_sink *k = z->k;
	for (size_t i = 0; i < z->nrefs; i++)
		record_unref(z->refs[i]);
	free(z->refs);
	free(z);
	k->zombies--;
	if (k->close_started)
		close_unref(k);
}

/* Hands the producer to the thread pool for destruction. Records in flight
 * go back to the pending list (requeue) or are dropped unacknowledged
 * (closing: replayed at the next start). */
static void retire(struct kafka_sink *k, bool requeue)
{
	rd_kafka_queue_io_event_enable(k->q, -1, NULL, 0);
	rd_kafka_queue_destroy(k->q);
	k->q = NULL;
	struct zombie *z = calloc(1, sizeof(*z));
	struct record **refs = malloc((k->inflight.n + 1) * sizeof(*refs));
	size_t n = 0;
	while (k->inflight.head) {
		struct kmsg *m = k->inflight.head;
		list_remove(&k->inflight, m);
		if (refs)
			refs[n++] = record_ref(m->r);
		if (requeue) {
			m->not_before = 0;
			list_insert_sorted(&k->pending, m);
			k->stats.retried++;
		} else {
			record_unref(m->r);
			free(m);
		}
	}
	if (z && refs) {
		z->k = k;
		z->rk = k->rk;
		z->refs = refs;
		z->nrefs = n;
		z->work.data = z;
		if (uv_queue_work(k->s->loop, &z->work, zombie_work, zombie_after) == 0) {
			k->zombies++;
			k->rk = NULL;
			return;
		}
	}
	/* Out of memory: block the loop once rather than lose the payloads. */
	log_warn(k->s->who, "destroying the producer on the loop (out of memory)");
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(k->rk);
	k->rk = NULL;
	for (size_t i = 0; i < n; i++)
		record_unref(refs[i]);
	free(refs);
	free(z);
}

static int start_producer(struct kafka_sink *k, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->tmpl);
	if (!conf) {
		snprintf(err, errlen, "out of memory");
		return LG_ENOMEM;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return LG_EINVAL;
	}
	k->rk = rk;
	k->q = rd_kafka_queue_get_main(rk);
	rd_kafka_set_log_queue(rk, NULL);
	rd_kafka_queue_io_event_enable(k->q, k->pipe[1], "1", 1);
	/* Events queued before the io-event was enabled wrote nothing. */
	(void)!write(k->pipe[1], "1", 1);
	return 0;
}

static void rebuild(struct kafka_sink *k)
{
	k->fatal = false;
	if (k->rk) {
		char why[512] = "";
		rd_kafka_resp_err_t err = rd_kafka_fatal_error(k->rk, why, sizeof(why));
		k->stats.rebuilds++;
		log_error(k->s->who,
		          "fatal producer error: %s (%s); rebuilding the producer, %zu records in "
		          "flight are produced again",
		          why, rd_kafka_err2name(err), k->inflight.n);
		retire(k, true);
	}
	char err[512];
	if (start_producer(k, err, sizeof(err)) < 0) {
		log_error(k->s->who, "cannot create a producer: %s; retrying", err);
		k->fatal = true; /* the retry timer rebuilds */
		uv_timer_start(&k->retry_timer, on_retry_timer, backoff_next(&k->backoff), 0);
	}
}

static void leave(struct kafka_sink *k)
{
	if (--k->busy == 0 && k->closing && !k->close_started)
		finish_close(k);
}

static void on_retry_timer(uv_timer_t *t)
{
	struct kafka_sink *k = t->data;
	if (k->fatal)
		rebuild(k);
	pump(k);
}

static void process_events(struct kafka_sink *k)
{
	k->busy++;
	rd_kafka_event_t *ev;
	unsigned n = 0;
	while (!k->closing && k->q && n++ < EVENTS_PER_WAKEUP &&
	       (ev = rd_kafka_queue_poll(k->q, 0))) {
		switch (rd_kafka_event_type(ev)) {
		case RD_KAFKA_EVENT_DR:
			on_dr(k, ev);
			break;
		case RD_KAFKA_EVENT_LOG:
			on_log(k, ev);
			break;
		case RD_KAFKA_EVENT_ERROR:
			on_error(k, ev);
			break;
		default:
			break;
		}
		rd_kafka_event_destroy(ev);
	}
	if (n > EVENTS_PER_WAKEUP && !k->closing)
		(void)!write(k->pipe[1], "1", 1); /* more to do: come back */
	if (!k->closing && k->fatal)
		rebuild(k);
	if (!k->closing)
		pump(k);
	leave(k);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct kafka_sink *k = h->data;
	char buf[256];
	while (read(k->pipe[0], buf, sizeof(buf)) > 0)
		;
	process_events(k);
}

/* Produces m; 0 or librdkafka's error, with a reason for local rejections. */
static rd_kafka_resp_err_t produce(struct kafka_sink *k, struct kmsg *m, const char **why)
{
	struct record *r = m->r;
	char topic[SINK_KAFKA_TOPIC_MAX + 1], key[SINK_KAFKA_KEY_MAX + 1], schema[16];
	int tl = sink_kafka_expand(k->conf->topic, r, true, topic, sizeof(topic));
	int kl = sink_kafka_expand(k->conf->key, r, false, key, sizeof(key));
	if (tl < 0 || kl == LG_ETOOBIG) {
		*why = tl == LG_ETOOBIG   ? "the topic name expands past 249 bytes"
		       : tl < 0           ? "the topic name expands to nothing"
		                          : "the key expands past 1024 bytes";
		return RD_KAFKA_RESP_ERR__INVALID_ARG;
	}
	snprintf(schema, sizeof(schema), "%d", RECORD_SCHEMA);
	const char *fn = r->function_id ? r->function_id : "";
	const char *proj = r->project_id ? r->project_id : "";
	/* No copy: the record, referenced until its report, outlives the send. */
	return rd_kafka_producev(
	    k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(0),
	    RD_KAFKA_V_VALUE(r->json, r->json_len), RD_KAFKA_V_KEY(key, kl > 0 ? (size_t)kl : 0),
	    RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_HEADER("project", proj, -1),
	    RD_KAFKA_V_HEADER("function", fn, -1),
	    RD_KAFKA_V_HEADER("kind", record_kind_name(r->kind), -1),
	    RD_KAFKA_V_HEADER("schema", schema, -1), RD_KAFKA_V_END);
}

/* Produces what is pending and due, in submit order, until librdkafka's
 * queue is full (its delivery reports wake us again). */
static void pump(struct kafka_sink *k)
{
	if (!k->rk || k->closing || k->fatal)
		return;
	k->busy++;
	uint64_t now = uv_now(k->s->loop), wait = UINT64_MAX;
	struct kmsg *next;
	for (struct kmsg *m = k->pending.head; m && !k->closing; m = next) {
		next = m->next;
		if (m->not_before > now) {
			if (m->not_before - now < wait)
				wait = m->not_before - now;
			continue;
		}
		const char *why = NULL;
		rd_kafka_resp_err_t err = produce(k, m, &why);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			list_remove(&k->pending, m);
			list_append(&k->inflight, m);
			k->stats.produced++;
			continue;
		}
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			k->stats.queue_full++;
			if (!k->inflight.n && QUEUE_FULL_RETRY_MS < wait)
				wait = QUEUE_FULL_RETRY_MS;
			break;
		}
		if (err == RD_KAFKA_RESP_ERR__FATAL) {
			k->fatal = true;
			wait = 0;
			break;
		}
		list_remove(&k->pending, m);
		if (why || permanent(err)) {
			k->stats.failed++;
			reject(k, m, why ? why : rd_kafka_err2str(err));
			next = k->pending.head; /* the router may have changed the list */
			continue;
		}
		retry_later(k, m, err, NULL);
		if (m->not_before - now < wait)
			wait = m->not_before - now;
	}
	if (wait != UINT64_MAX && !k->closing)
		uv_timer_start(&k->retry_timer, on_retry_timer, wait, 0);
	check_flush(k);
	leave(k);
}

static void on_kick_timer(uv_timer_t *t)
{
	pump(t->data);
}

static int kafka_submit(struct sink *s, struct record *r)
{
	struct kafka_sink *k = s->priv;
	if (!k || k->closing)
		return LG_ECLOSED;
	struct kmsg *m = calloc(1, sizeof(*m));
	if (!m)
		return LG_ENOMEM;
	m->r = record_ref(r);
	m->seq = ++k->next_seq;
	list_append(&k->pending, m);
	/* Produced from the loop, never from inside submit: a rejection acks,
	 * and the router does not expect that re-entrancy. One timer serves
	 * every record submitted in this loop iteration. */
	if (!uv_is_active((uv_handle_t *)&k->kick_timer))
		uv_timer_start(&k->kick_timer, on_kick_timer, 0, 0);
	return 0;
}

static void on_flush_timer(uv_timer_t *t)
{
	struct kafka_sink *k = t->data;
	sink_cb done = k->flush_done;
	k->flush_done = NULL;
	if (done)
		done(k->s);
}

static void kafka_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	struct kafka_sink *k = s->priv;
	if (!k || k->closing) {
		done(s);
		return;
	}
	uint64_t now = uv_now(s->loop);
	k->flush_done = done;
	/* librdkafka sends on its own (linger.ms); the reports end the wait. */
	uv_timer_start(&k->flush_timer, on_flush_timer,
	               (k->pending.n || k->inflight.n) && deadline > now ? deadline - now : 0, 0);
}

static void free_sink(struct kafka_sink *k)
{
	while (k->pending.head) {
		struct kmsg *m = k->pending.head;
		list_remove(&k->pending, m);
		record_unref(m->r);
		free(m);
	}
	if (k->pipe[0] >= 0)
		close(k->pipe[0]);
	if (k->pipe[1] >= 0)
		close(k->pipe[1]);
	if (k->tmpl)
		rd_kafka_conf_destroy(k->tmpl);
	free(k);
}

static void close_unref(struct kafka_sink *k)
{
	if (--k->close_pending > 0)
		return;
	struct sink *s = k->s;
	sink_cb closed = k->closed;
	free_sink(k);
	s->priv = NULL;
	closed(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	close_unref(h->data);
}

static void finish_close(struct kafka_sink *k)
{
	k->close_started = true;
	k->close_pending = 1;
	if (k->rk) {
		if (k->inflight.n)
			log_info(k->s->who, "%zu records got no delivery report; they are sent again "
			                    "at the next start",
			         k->inflight.n);
		retire(k, false);
	}
	k->close_pending += k->zombies;
	uv_handle_t *handles[] = {(uv_handle_t *)&k->poll, (uv_handle_t *)&k->kick_timer,
	                          (uv_handle_t *)&k->retry_timer, (uv_handle_t *)&k->flush_timer};
	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
		k->close_pending++;
		uv_close(handles[i], on_handle_closed);
	}
	close_unref(k);
}

static void kafka_close(struct sink *s, sink_cb closed)
{
	struct kafka_sink *k = s->priv;
	if (!k) {
		closed(s);
		return;
	}
	k->closed = closed;
	k->closing = true;
	k->flush_done = NULL;
	if (!k->busy)
		finish_close(k);
}

static int kafka_open(struct sink *s, struct conf_errs *errs)
{
	rd_kafka_conf_t *conf = NULL;
	int rc = sink_kafka_conf_build(s, errs, !s->check_only, &conf);
	if (rc < 0)
		return rc == LG_ENOMEM ? rc : LG_ECONFIG;
	char err[512];
	if (s->check_only) {
		/* librdkafka checks some combinations only here; without
		 * bootstrap.servers the handle connects nowhere. */
		rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
		if (!rk) {
			rd_kafka_conf_destroy(conf);
			sink_kafka_conf_report(s, errs, err);
			return LG_ECONFIG;
		}
		rd_kafka_destroy(rk);
		return 0;
	}
	struct kafka_sink *k = calloc(1, sizeof(*k));
	if (!k) {
		rd_kafka_conf_destroy(conf);
		return LG_ENOMEM;
	}
	k->s = s;
	k->conf = s->conf;
	k->tmpl = conf;
	k->last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (pipe2(k->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		k->pipe[0] = k->pipe[1] = -1;
		conf_err(errs, s->file, s->line, "[sink %s]: pipe: %s", s->name, strerror(errno));
		free_sink(k);
		return LG_ECONFIG;
	}
	if (start_producer(k, err, sizeof(err)) < 0) {
		sink_kafka_conf_report(s, errs, err);
		free_sink(k);
		return LG_ECONFIG;
	}
	backoff_init(&k->backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
	uv_poll_init(s->loop, &k->poll, k->pipe[0]);
	k->poll.data = k;
	uv_poll_start(&k->poll, UV_READABLE, on_poll);
	uv_timer_t *timers[] = {&k->kick_timer, &k->retry_timer, &k->flush_timer};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		uv_timer_init(s->loop, timers[i]);
		timers[i]->data = k;
	}
	s->priv = k;
	return 0;
}

void sink_kafka_stats(const struct sink *s, struct sink_kafka_stats *out)
{
	const struct kafka_sink *k = s && s->type == &sink_kafka_type ? s->priv : NULL;
	if (!k) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = k->stats;
	out->in_flight = k->inflight.n;
	out->pending = k->pending.n;
}

const struct sink_type sink_kafka_type = {
    .name = "kafka",
    .desc = "one Kafka message per record, acknowledged by its delivery report (librdkafka)",
    .opts = sink_kafka_opts,
    .conf_size = sizeof(struct sink_kafka_conf),
    .open = kafka_open,
    .submit = kafka_submit,
    .flush = kafka_flush,
    .close = kafka_close,
    .reopen = NULL,
};

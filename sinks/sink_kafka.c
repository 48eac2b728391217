/* sink_kafka: the sink (sink_kafka.h): its queue of records, producing them
 * in order, reading delivery reports, logs and errors on the loop, flush and
 * close. */
#include "sink_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 60000
/* When librdkafka says QUEUE_FULL with nothing of ours in flight (its queue
 * is shared with nothing else, so this is only a safety net). */
#define QUEUE_FULL_RETRY_MS 100
/* Events handled per wakeup before the loop gets its turn again. */
#define EVENTS_PER_WAKEUP 10000

static void pump(struct kafka_sink *k);
static void on_retry_timer(uv_timer_t *t);
static void finish_close(struct kafka_sink *k);

void sink_kafka_list_remove(struct klist *l, struct kmsg *m)
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
void sink_kafka_list_insert_sorted(struct klist *l, struct kmsg *m)
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

/* Errors that one record can never get past. */
static bool permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return true;
	default:
		return false;
	}
}

static bool topic_error(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
	       err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

/* Reports that say the producer is going away, not that the record failed:
 * after a fatal error librdkafka purges what it holds. */
static bool producer_gone(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	       err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
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

/* The sink cannot deliver (brokers, topic): logged once until it can. */
static void set_down(struct kafka_sink *k, rd_kafka_resp_err_t err, const char *topic)
{
	if (k->stats.down)
		return;
	k->stats.down = true;
	k->down_since = uv_now(k->s->loop);
	size_t held = k->pending.n + k->inflight.n;
	if (topic_error(err))
		log_error(k->s->who, "topic %s: %s; the sink is down, retrying (%zu records held)",
		          topic ? topic : "?", rd_kafka_err2str(err), held);
	else
		log_warn(k->s->who, "cannot deliver: %s; retrying (%zu records held)",
		         rd_kafka_err2str(err), held);
}

static void delivered_ok(struct kafka_sink *k)
{
	backoff_reset(&k->backoff);
	k->retry_at = 0;
	k->brokers_down = false;
	if (!k->stats.down)
		return;
	k->stats.down = false;
	log_info(k->s->who, "delivering again after %" PRIu64 " ms",
	         uv_now(k->s->loop) - k->down_since);
}

/* Puts m back in the pending list to be produced again after a backoff;
 * every record failing in one round waits for the same time. */
static void retry_later(struct kafka_sink *k, struct kmsg *m, rd_kafka_resp_err_t err,
                        const char *topic)
{
	uint64_t now = uv_now(k->s->loop);
	if (k->retry_at <= now)
		k->retry_at = now + backoff_next(&k->backoff);
	m->not_before = k->retry_at;
	sink_kafka_list_insert_sorted(&k->pending, m);
	k->stats.retried++;
	set_down(k, err, topic);
}

static void requeue_now(struct kafka_sink *k, struct kmsg *m)
{
	m->not_before = 0;
	sink_kafka_list_insert_sorted(&k->pending, m);
	k->stats.retried++;
}

static void test_trigger(struct kafka_sink *k)
{
	if (!k->test_fatal_after || k->stats.delivered != k->test_fatal_after || !k->rk)
		return;
	log_warn(k->s->who, "injecting a fatal producer error (%s)", SINK_KAFKA_TEST_FATAL_ENV);
	rd_kafka_test_fatal_error(k->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
	                          "injected for a test");
}

static void on_dr(struct kafka_sink *k, rd_kafka_event_t *ev)
{
	const rd_kafka_message_t *msg;
	while (!k->closing && (msg = rd_kafka_event_message_next(ev))) {
		struct kmsg *m = msg->_private;
		sink_kafka_list_remove(&k->inflight, m);
		if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			delivered_ok(k);
			ack(k, m, 0, NULL);
			sink_kafka_producer_delivered(k);
			test_trigger(k);
			continue;
		}
		if (producer_gone(msg->err)) {
			k->fatal = true;
			requeue_now(k, m);
			continue;
		}
		k->stats.failed++;
		if (permanent(msg->err))
			reject(k, m, rd_kafka_err2str(msg->err));
		else
			retry_later(k, m, msg->err,
			            msg->rkt ? rd_kafka_topic_name(msg->rkt) : NULL);
	}
}

static void on_log(struct kafka_sink *k, rd_kafka_event_t *ev)
{
	const char *fac = "", *str = "";
	int level = 6;
	if (rd_kafka_event_log(ev, &fac, &str, &level) != 0)
		return;
	/* librdkafka uses syslog levels. Its FAIL lines repeat what its error
	 * events say, and those are logged once per change (on_error). */
	enum log_level l = level <= 3   ? LOG_ERROR
	                   : level == 4 ? LOG_WARNING
	                   : level <= 6 ? LOG_INFO
	                                : LOG_DEBUG;
	if (strcmp(fac, "FAIL") == 0)
		l = LOG_DEBUG;
	log_msg(l, k->s->who, "librdkafka %s: %s", fac, str);
}

static void on_error(struct kafka_sink *k, rd_kafka_event_t *ev)
{
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	if (rd_kafka_event_error_is_fatal(ev)) {
		k->fatal = true;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		/* Said once per outage: remembered until a delivery succeeds,
		 * and the sink is down while it holds records. */
		k->brokers_down = true;
		if (k->pending.n || k->inflight.n)
			set_down(k, err, NULL);
		return;
	}
	/* A broker that is down repeats its error every reconnect attempt. */
	enum log_level l = (int)err == k->last_error ? LOG_DEBUG : LOG_WARNING;
	k->last_error = (int)err;
	log_msg(l, k->s->who, "kafka: %s", rd_kafka_event_error_string(ev));
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
		sink_kafka_producer_rebuild(k, on_retry_timer);
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
		sink_kafka_producer_rebuild(k, on_retry_timer);
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
		*why = tl == LG_ETOOBIG ? "the topic name expands past 249 bytes"
		       : tl < 0         ? "the topic name expands to nothing"
		                        : "the key expands past 1024 bytes";
		return RD_KAFKA_RESP_ERR__INVALID_ARG;
	}
	snprintf(schema, sizeof(schema), "%d", RECORD_SCHEMA);
	const char *fn = r->function_id ? r->function_id : "";
	const char *proj = r->project_id ? r->project_id : "";
	/* No copy: the record, referenced until its report (and by a retired
	 * producer until it is destroyed), outlives the send. */
	return rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(0),
	                         RD_KAFKA_V_VALUE(r->json, r->json_len),
	                         RD_KAFKA_V_KEY(key, kl > 0 ? (size_t)kl : 0), RD_KAFKA_V_OPAQUE(m),
	                         RD_KAFKA_V_HEADER("project", proj, -1),
	                         RD_KAFKA_V_HEADER("function", fn, -1),
	                         RD_KAFKA_V_HEADER("kind", record_kind_name(r->kind), -1),
	                         RD_KAFKA_V_HEADER("schema", schema, -1), RD_KAFKA_V_END);
}

/* Produces what is pending, in submit order, until librdkafka's queue is
 * full (its delivery reports wake us again) or a record waits for its retry
 * (the records behind it wait too, so that order holds). */
static void pump(struct kafka_sink *k)
{
	if (!k->rk || k->closing || k->fatal)
		return;
	k->busy++;
	uint64_t now = uv_now(k->s->loop), wait = UINT64_MAX;
	struct kmsg *m;
	while ((m = k->pending.head) && !k->closing) {
		if (m->not_before > now) {
			wait = m->not_before - now;
			break;
		}
		const char *why = NULL;
		rd_kafka_resp_err_t err = produce(k, m, &why);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			sink_kafka_list_remove(&k->pending, m);
			list_append(&k->inflight, m);
			k->stats.produced++;
			continue;
		}
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			k->stats.queue_full++;
			if (!k->inflight.n)
				wait = QUEUE_FULL_RETRY_MS;
			break;
		}
		if (err == RD_KAFKA_RESP_ERR__FATAL) {
			k->fatal = true;
			wait = 0;
			break;
		}
		sink_kafka_list_remove(&k->pending, m);
		k->stats.failed++;
		if (why || permanent(err))
			reject(k, m, why ? why : rd_kafka_err2str(err));
		else
			retry_later(k, m, err, NULL);
	}
	if (wait != UINT64_MAX && !k->closing)
		uv_timer_start(&k->retry_timer, on_retry_timer, wait, 0);
	if (k->brokers_down && k->inflight.n)
		set_down(k, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, NULL);
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
	if (k->pending.n || k->inflight.n)
		log_info(s->who, "flushing: %zu records wait for their delivery report",
		         k->pending.n + k->inflight.n);
	/* librdkafka sends on its own (linger.ms); the reports end the wait. */
	uv_timer_start(&k->flush_timer, on_flush_timer,
	               (k->pending.n || k->inflight.n) && deadline > now ? deadline - now : 0, 0);
}

static void free_sink(struct kafka_sink *k)
{
	while (k->pending.head) {
		struct kmsg *m = k->pending.head;
		sink_kafka_list_remove(&k->pending, m);
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

void sink_kafka_close_unref(struct kafka_sink *k)
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
	sink_kafka_close_unref(h->data);
}

static void finish_close(struct kafka_sink *k)
{
	k->close_started = true;
	k->close_pending = 1;
	const struct sink_kafka_stats *st = &k->stats;
	size_t unacked = k->inflight.n + k->pending.n;
	log_info(k->s->who,
	         "closing: %" PRIu64 " produced, %" PRIu64 " delivered, %" PRIu64
	         " retried, %" PRIu64 " failed, %" PRIu64 " dead-lettered, %" PRIu64
	         " producer rebuilds; %zu records "
	         "without a delivery report are sent again at the next start",
	         st->produced, st->delivered, st->retried, st->failed, st->dead_lettered,
	         st->rebuilds, unacked);
	if (k->rk)
		sink_kafka_producer_retire(k, false);
	k->close_pending += k->zombies;
	uv_handle_t *handles[] = {(uv_handle_t *)&k->poll, (uv_handle_t *)&k->kick_timer,
	                          (uv_handle_t *)&k->retry_timer, (uv_handle_t *)&k->flush_timer,
	                          (uv_handle_t *)&k->gauge_timer};
	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
		k->close_pending++;
		uv_close(handles[i], on_handle_closed);
	}
	sink_kafka_close_unref(k);
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

/* Records count as delivered when the leader alone (or nobody) has them
 * only if the configuration says so; say it at start. */
static void warn_acks(struct sink *s, const rd_kafka_conf_t *conf)
{
	char v[32];
	size_t len = sizeof(v);
	if (rd_kafka_conf_get(conf, "acks", v, &len) != RD_KAFKA_CONF_OK)
		return;
	if (strcmp(v, "-1") != 0 && strcmp(v, "all") != 0)
		log_warn(s->who,
		         "kafka.acks = %s: a record counts as delivered before every in-sync "
		         "replica has it",
		         v);
}

static int kafka_open(struct sink *s, struct conf_errs *errs)
{
	rd_kafka_conf_t *conf = NULL;
	int rc = sink_kafka_conf_build(s, errs, &conf);
	if (rc < 0)
		return rc == LG_ENOMEM ? rc : LG_ECONFIG;
	/* The same checks at start as with --check-config. */
	if (sink_kafka_conf_probe(s, errs, conf) < 0) {
		rd_kafka_conf_destroy(conf);
		return LG_ECONFIG;
	}
	warn_acks(s, conf);
	char err[512];
	if (s->check_only) {
		rd_kafka_conf_destroy(conf);
		return 0;
	}
	const struct sink_kafka_conf *c = s->conf;
	if (rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		sink_kafka_conf_report(s, errs, err);
		rd_kafka_conf_destroy(conf);
		return LG_ECONFIG;
	}
	struct kafka_sink *k = calloc(1, sizeof(*k));
	if (!k) {
		rd_kafka_conf_destroy(conf);
		return LG_ENOMEM;
	}
	k->s = s;
	k->conf = c;
	k->tmpl = conf;
	k->last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (pipe2(k->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		k->pipe[0] = k->pipe[1] = -1;
		conf_err(errs, s->file, s->line, "[sink %s]: pipe: %s", s->name, strerror(errno));
		free_sink(k);
		return LG_ECONFIG;
	}
	if (sink_kafka_producer_start(k, err, sizeof(err)) < 0) {
		sink_kafka_conf_report(s, errs, err);
		free_sink(k);
		return LG_ECONFIG;
	}
	const char *fatal_after = getenv(SINK_KAFKA_TEST_FATAL_ENV);
	if (fatal_after && *fatal_after)
		k->test_fatal_after = strtoull(fatal_after, NULL, 10);
	backoff_init(&k->backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
	uv_poll_init(s->loop, &k->poll, k->pipe[0]);
	k->poll.data = k;
	uv_poll_start(&k->poll, UV_READABLE, on_poll);
	uv_timer_t *timers[] = {&k->kick_timer, &k->retry_timer, &k->flush_timer, &k->gauge_timer};
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

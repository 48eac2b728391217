/* sink_kafka_producer: a producer's life (sink_kafka.h). It is made from
 * the sink's configuration template with its events going to the sink's
 * pipe; it is destroyed on the thread pool (rd_kafka_destroy blocks until
 * librdkafka's threads are gone), holding references to the records whose
 * payloads it may still point at; after a fatal error a new one replaces
 * it, and a timer measures how late the loop runs until the old one is gone
 * and the new one has delivered (the rebuild must never stall the loop). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "sink_kafka.h"

/* The stall gauge's tick: a tick that comes later than this measures a
 * stall of the loop. */
#define GAUGE_TICK_MS 5

/* A producer being destroyed on the thread pool. */
struct zombie {
	uv_work_t work;
	struct kafka_sink *k;
	rd_kafka_t *rk;
	struct record **refs;
	size_t nrefs;
	uint64_t destroy_ns;
};

int sink_kafka_producer_start(struct kafka_sink *k, char *err, size_t errlen)
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

static void zombie_work(uv_work_t *w)
{
	struct zombie *z = w->data;
	uint64_t t0 = uv_hrtime();
	/* Without brokers, destroy would wait for messages it cannot send. */
	rd_kafka_purge(z->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(z->rk);
	z->destroy_ns = uv_hrtime() - t0;
}

static void gauge_report(struct kafka_sink *k)
{
	struct kafka_gauge *g = &k->gauge;
	uv_timer_stop(&k->gauge_timer);
	g->active = false;
	uint64_t max_ms = g->max_ns / 1000000;
	if (max_ms > k->stats.max_stall_ms)
		k->stats.max_stall_ms = max_ms;
	log_info(k->s->who,
	         "producer rebuilt: %.1f ms on the loop to replace it, %.1f ms on the thread pool "
	         "to destroy the old one; longest loop stall until the new one delivered %.1f ms",
	         g->rebuild_ns / 1e6, g->destroy_ns / 1e6, g->max_ns / 1e6);
}

static void zombie_after(uv_work_t *w, int status)
{
	(void)status;
	struct zombie *z = w->data;
	struct kafka_sink *k = z->k;
	for (size_t i = 0; i < z->nrefs; i++)
		record_unref(z->refs[i]);
	k->gauge.destroy_ns += z->destroy_ns;
	free(z->refs);
	free(z);
	k->zombies--;
	if (k->close_started) {
		sink_kafka_close_unref(k);
		return;
	}
	if (k->gauge.active && k->gauge.delivered && k->zombies == 0)
		gauge_report(k);
}

void sink_kafka_producer_delivered(struct kafka_sink *k)
{
	if (!k->gauge.active || k->gauge.delivered)
		return;
	k->gauge.delivered = true;
	if (k->zombies == 0)
		gauge_report(k);
}

void sink_kafka_producer_retire(struct kafka_sink *k, bool requeue)
{
	rd_kafka_queue_io_event_enable(k->q, -1, NULL, 0);
	rd_kafka_queue_destroy(k->q);
	k->q = NULL;
	struct zombie *z = calloc(1, sizeof(*z));
	struct record **refs = malloc((k->inflight.n + 1) * sizeof(*refs));
	size_t n = 0;
	while (k->inflight.head) {
		struct kmsg *m = k->inflight.head;
		sink_kafka_list_remove(&k->inflight, m);
		if (refs)
			refs[n++] = record_ref(m->r);
		if (requeue) {
			m->not_before = 0;
			sink_kafka_list_insert_sorted(&k->pending, m);
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

static void on_gauge(uv_timer_t *t)
{
	struct kafka_sink *k = t->data;
	uint64_t now = uv_hrtime(), due = k->gauge.last_ns + GAUGE_TICK_MS * 1000000ull;
	if (now > due && now - due > k->gauge.max_ns)
		k->gauge.max_ns = now - due;
	k->gauge.last_ns = now;
}

static void gauge_start(struct kafka_sink *k, uint64_t t0)
{
	struct kafka_gauge *g = &k->gauge;
	uint64_t now = uv_hrtime();
	if (!g->active) {
		*g = (struct kafka_gauge){.active = true};
		uv_timer_start(&k->gauge_timer, on_gauge, GAUGE_TICK_MS, GAUGE_TICK_MS);
	}
	g->rebuild_ns += now - t0;
	if (now - t0 > g->max_ns)
		g->max_ns = now - t0;
	g->last_ns = now;
}

void sink_kafka_producer_rebuild(struct kafka_sink *k, uv_timer_cb retry)
{
	uint64_t t0 = uv_hrtime();
	k->fatal = false;
	if (k->rk) {
		char why[512] = "";
		rd_kafka_resp_err_t err = rd_kafka_fatal_error(k->rk, why, sizeof(why));
		k->stats.rebuilds++;
		log_error(k->s->who,
		          "fatal producer error: %s (%s); rebuilding the producer, %zu records in "
		          "flight are produced again",
		          *why ? why : "-", rd_kafka_err2name(err), k->inflight.n);
		sink_kafka_producer_retire(k, true);
	}
	char err[512];
	int rc = sink_kafka_producer_start(k, err, sizeof(err));
	gauge_start(k, t0);
	if (rc < 0) {
		log_error(k->s->who, "cannot create a producer: %s; retrying", err);
		k->fatal = true; /* the retry timer rebuilds */
		uv_timer_start(&k->retry_timer, retry, backoff_next(&k->backoff), 0);
	}
}

/* sink_kafka: produces each record as one Kafka message through librdkafka,
 * acknowledging it only from its delivery report (acks=all, idempotent).
 * What the Kafka sink's files share: sink_kafka.c (the sink: its queue,
 * producing, delivery reports, flush and close), sink_kafka_producer.c (a
 * producer's life: start, destruction on the thread pool, rebuild after a
 * fatal error), sink_kafka_conf.c (options, templates, the librdkafka
 * configuration). Only these files and the tests include it.
 *
 * Message: the record's JSON as the value; the key from the `key` template
 * (default the function id, so one function's records stay in one partition,
 * in order); headers project, function, kind and schema. The topic comes from
 * the `topic` template ({project}, {function}, {function_name}, {kind});
 * characters Kafka does not allow in a topic name become '_'.
 *
 * Everything librdkafka reports (delivery reports, logs, errors) reaches the
 * loop through one rd_kafka queue whose io-event writes to a pipe watched by
 * a uv_poll: no timer polls librdkafka and none of our code runs on its
 * threads. Records are produced in submit order; one that waits for a retry
 * holds back those behind it, so each partition keeps their order.
 *
 * Error classes: a too-large or invalid message is rejected once (the router
 * dead-letters it); any other failure (brokers down, unknown or unauthorized
 * topic, throttling, an expired message.timeout.ms) keeps the record and
 * produces it again after the shared capped backoff, the sink counting as
 * down (logged once, `down` in its stats) until a delivery succeeds;
 * librdkafka's QUEUE_FULL keeps the record in our pending list until
 * delivery reports make room; a fatal error (idempotence broken) moves the
 * records in flight back to the pending list, destroys the producer on the
 * thread pool and builds a new one, measuring the loop's longest stall
 * meanwhile. message.timeout.ms defaults to 0 (infinite), so librdkafka never
 * expires a record on its own.
 *
 * close() acknowledges nothing more: what got no delivery report is replayed
 * at the next start. The producer is destroyed on the thread pool.
 *
 * For tests only: with SINCH_LOGD_TEST_KAFKA_FATAL_AFTER=N in its
 * environment the sink injects one fatal error (rd_kafka_test_fatal_error)
 * after its N-th delivered record. */
#ifndef SINCH_SINK_KAFKA_H
#define SINCH_SINK_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "backoff.h"
#include "sink.h"

enum sink_kafka_compression {
	SINK_KAFKA_COMPRESS_NONE,
	SINK_KAFKA_COMPRESS_GZIP,
	SINK_KAFKA_COMPRESS_SNAPPY,
	SINK_KAFKA_COMPRESS_LZ4,
	SINK_KAFKA_COMPRESS_ZSTD,
};

/* Room for the key, the headers and Kafka's per-message overhead beside the
 * record itself, when sizing message.max.bytes. */
#define SINK_KAFKA_ENVELOPE 4096
/* Expanded templates longer than these reject the record. */
#define SINK_KAFKA_TOPIC_MAX 249 /* Kafka's own limit */
#define SINK_KAFKA_KEY_MAX 1024
#define SINK_KAFKA_TEST_FATAL_ENV "SINCH_LOGD_TEST_KAFKA_FATAL_AFTER"

/* Filled from sink_kafka_type.opts. */
struct sink_kafka_conf {
	char *brokers;
	char *topic;
	char *key;
	int compression; /* enum sink_kafka_compression */
	struct opt_kvlist kafka;
};

/* The counters of one sink (for the metrics endpoint and the close log). */
struct sink_kafka_stats {
	uint64_t produced;      /* accepted by rd_kafka_produce (again after a retry) */
	uint64_t delivered;     /* acknowledged from a delivery report */
	uint64_t retried;       /* produced again after a failed report or produce */
	uint64_t failed;        /* failed delivery reports and produce calls, of any class */
	uint64_t dead_lettered; /* rejected for good (too large, invalid) */
	uint64_t in_flight;     /* inside librdkafka now */
	uint64_t pending;       /* waiting in our own list (queue full, backoff) */
	uint64_t rebuilds;      /* producers rebuilt after a fatal error */
	uint64_t queue_full;    /* QUEUE_FULL answers from librdkafka */
	bool down;              /* failing (brokers, topic) since the last delivery: not ready */
	uint64_t max_stall_ms;  /* longest loop stall measured during a rebuild */
};

void sink_kafka_stats(const struct sink *s, struct sink_kafka_stats *out);

extern const struct sink_type sink_kafka_type;
extern const struct opt_def sink_kafka_opts[];

/* ---- shared by the sink's files ---- */

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

/* The loop stall gauge run while a retired producer is being destroyed. */
struct kafka_gauge {
	bool active;
	bool delivered;      /* the new producer has delivered a record */
	uint64_t rebuild_ns; /* retiring the old producer and starting the new one, on the loop */
	uint64_t destroy_ns; /* rd_kafka_destroy of the old one, on the thread pool */
	uint64_t last_ns;    /* the previous tick */
	uint64_t max_ns;     /* longest stall seen */
};

struct kafka_sink {
	struct sink *s;
	const struct sink_kafka_conf *conf;
	rd_kafka_conf_t *tmpl; /* every producer is made from a copy */
	rd_kafka_t *rk;        /* NULL between a fatal error and the rebuild */
	rd_kafka_queue_t *q;   /* its main queue: reports, logs, errors */
	int pipe[2];           /* q's io-event pipe, watched by poll */
	uv_poll_t poll;
	uv_timer_t kick_timer, retry_timer, flush_timer, gauge_timer;
	struct klist pending, inflight;
	uint64_t next_seq;
	struct backoff backoff;
	uint64_t retry_at; /* when records failed now are produced again */
	int last_error;    /* the last librdkafka error logged, to log changes only */
	uint64_t down_since;
	bool brokers_down; /* librdkafka said so, and no delivery succeeded since */
	bool fatal;        /* a fatal error waits for the rebuild */
	unsigned busy;     /* inside event handling or pump: close waits */
	unsigned zombies;
	bool closing, close_started;
	unsigned close_pending;
	sink_cb flush_done, closed;
	struct sink_kafka_stats stats;
	struct kafka_gauge gauge;
	uint64_t test_fatal_after; /* SINK_KAFKA_TEST_FATAL_ENV, 0 = never */
};

/* sink_kafka.c */
void sink_kafka_list_insert_sorted(struct klist *l, struct kmsg *m);
void sink_kafka_list_remove(struct klist *l, struct kmsg *m);
void sink_kafka_close_unref(struct kafka_sink *k);

/* sink_kafka_producer.c. start: a producer from k->tmpl whose events wake
 * k->poll. retire: hands it to the thread pool for destruction; its records
 * in flight go back to the pending list (requeue) or are dropped
 * unacknowledged (closing: replayed at the next start). rebuild: after a
 * fatal error, retire with requeue, start a new one, and measure the loop's
 * longest stall until the old one is gone and the new one has delivered. */
int sink_kafka_producer_start(struct kafka_sink *k, char *err, size_t errlen);
void sink_kafka_producer_retire(struct kafka_sink *k, bool requeue);
void sink_kafka_producer_rebuild(struct kafka_sink *k, uv_timer_cb retry);
/* A delivery report said delivered (ends a rebuild's stall measurement). */
void sink_kafka_producer_delivered(struct kafka_sink *k);

/* ---- sink_kafka_conf.c: templates and the librdkafka configuration ---- */

/* Checks a template: only {project}, {function}, {function_name}, {kind};
 * with topic, the literal text must be legal in a topic name. Returns 0 or
 * LG_EINVAL with a reason in err. */
int sink_kafka_template_check(const char *tmpl, bool topic, char *err, size_t errlen);
/* Expands tmpl for r into out (NUL-terminated); with topic, characters not
 * allowed in a topic name become '_'. Returns the length, LG_ETOOBIG when it
 * does not fit in n - 1 bytes, or LG_EINVAL when the expansion is empty. */
int sink_kafka_expand(const char *tmpl, const struct record *r, bool topic, char *out, size_t n);
/* Validates s->conf and builds the producer configuration without
 * bootstrap.servers (a handle made from it connects nowhere): safe defaults,
 * then every kafka.* key, then what the sink needs (events, log queue).
 * Errors go to errs with the file:line of the key. */
int sink_kafka_conf_build(struct sink *s, struct conf_errs *errs, rd_kafka_conf_t **out);
/* Makes a producer from a copy of conf, without connecting, so that
 * librdkafka checks what it checks only in rd_kafka_new (combinations,
 * files), and reads its configuration warnings: a property librdkafka would
 * ignore is an error; other warnings are logged. Errors go to errs at the
 * lines of the kafka.* keys they name. Returns 0 or LG_ECONFIG. */
int sink_kafka_conf_probe(struct sink *s, struct conf_errs *errs, const rd_kafka_conf_t *conf);
/* Reports an error at the lines of the kafka.* keys msg names (or of keys of
 * the same family, e.g. sasl.*), else at the section's line. */
void sink_kafka_conf_report(struct sink *s, struct conf_errs *errs, const char *msg);

#endif

/* sink_kafka: produces each record as one Kafka message through librdkafka,
 * acknowledging it only from its delivery report (acks=all, idempotent).
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
 * threads. Error classes: a too-large or invalid message is rejected once
 * (the router dead-letters it); any other failure (broker down, unknown or
 * unauthorized topic, throttling) keeps the record and produces it again with
 * the shared backoff; librdkafka's QUEUE_FULL keeps the record in our pending
 * list until delivery reports make room; a fatal error (idempotence broken)
 * moves the records in flight back to the pending list, destroys the producer
 * on the thread pool and builds a new one. message.timeout.ms defaults to 0
 * (infinite), so librdkafka never expires a record on its own.
 *
 * close() acknowledges nothing more: what got no delivery report is replayed
 * at the next start. The producer is destroyed on the thread pool. */
#ifndef SINCH_SINK_KAFKA_H
#define SINCH_SINK_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

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

/* Filled from sink_kafka_type.opts. */
struct sink_kafka_conf {
	char *brokers;
	char *topic;
	char *key;
	int compression; /* enum sink_kafka_compression */
	struct opt_kvlist kafka;
};

struct sink_kafka_stats {
	uint64_t produced;      /* accepted by rd_kafka_produce (again after a retry) */
	uint64_t delivered;     /* acknowledged from a delivery report */
	uint64_t retried;       /* produced again after a failed report or produce */
	uint64_t failed;        /* failed delivery reports, of any class */
	uint64_t dead_lettered; /* rejected for good (too large, invalid) */
	uint64_t in_flight;     /* inside librdkafka now */
	uint64_t pending;       /* waiting in our own list (queue full, backoff) */
	uint64_t rebuilds;      /* producers rebuilt after a fatal error */
	uint64_t queue_full;    /* QUEUE_FULL answers from librdkafka */
};

void sink_kafka_stats(const struct sink *s, struct sink_kafka_stats *out);

extern const struct sink_type sink_kafka_type;
extern const struct opt_def sink_kafka_opts[];

/* ---- sink_kafka_conf.c: templates and the librdkafka configuration ---- */

/* Checks a template: only {project}, {function}, {function_name}, {kind};
 * with topic, the literal text must be legal in a topic name. Returns 0 or
 * LG_EINVAL with a reason in err. */
int sink_kafka_template_check(const char *tmpl, bool topic, char *err, size_t errlen);
/* Expands tmpl for r into out (NUL-terminated); with topic, characters not
 * allowed in a topic name become '_'. Returns the length, LG_ETOOBIG when it
 * does not fit in n - 1 bytes, or LG_EINVAL when the expansion is empty. */
int sink_kafka_expand(const char *tmpl, const struct record *r, bool topic, char *out, size_t n);
/* Validates s->conf and builds the producer configuration: safe defaults,
 * then every kafka.* key, then what the sink needs (events, log queue).
 * Errors go to errs with the file:line of the key. with_brokers false leaves
 * bootstrap.servers out, so a handle made from it connects nowhere. */
int sink_kafka_conf_build(struct sink *s, struct conf_errs *errs, bool with_brokers,
                          rd_kafka_conf_t **out);
/* Reports an rd_kafka_new failure at the lines of the kafka.* keys its
 * message names (or at the section's line). */
void sink_kafka_conf_report(struct sink *s, struct conf_errs *errs, const char *errstr);

#endif

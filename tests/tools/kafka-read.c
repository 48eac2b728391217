/* kafka-read: reads a topic back with a real librdkafka consumer, every
 * partition from the beginning (no consumer group), and prints one line per
 * message:
 *
 *   PARTITION<TAB>OFFSET<TAB>KEY<TAB>NAME=VALUE;NAME=VALUE...<TAB>VALUE
 *
 * (the headers in order; the value is the record's one-line JSON). With
 * COUNT > 0 it stops after COUNT messages, with COUNT 0 once it has reached
 * the end of every partition; either way it gives up when TIMEOUT_MS pass
 * without progress. Exits 0 when it got what it asked for, 1 otherwise.
 * With --count instead of COUNT it reads nothing and prints how many
 * messages the topic holds (the partitions' watermarks).
 *
 *   kafka-read BOOTSTRAP TOPIC COUNT|--count TIMEOUT_MS
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

static void print_message(const rd_kafka_message_t *m)
{
	printf("%" PRId32 "\t%" PRId64 "\t%.*s\t", m->partition, m->offset, (int)m->key_len,
	       m->key ? (const char *)m->key : "");
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const char *name;
		const void *val;
		size_t len;
		for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == 0; i++)
			printf("%s%s=%.*s", i ? ";" : "", name, (int)len,
			       val ? (const char *)val : "");
	}
	printf("\t%.*s\n", (int)m->len, m->payload ? (const char *)m->payload : "");
}

/* The number of partitions of topic, or -1 (with a message). */
static int partitions(rd_kafka_t *rk, const char *topic, int timeout)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout);
	rd_kafka_topic_destroy(rkt);
	if (!e && md->topic_cnt != 1)
		e = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
	if (!e)
		e = md->topics[0].err;
	int n = e ? -1 : md->topics[0].partition_cnt;
	if (e)
		fprintf(stderr, "kafka-read: metadata of %s: %s\n", topic, rd_kafka_err2str(e));
	if (md)
		rd_kafka_metadata_destroy(md);
	return n;
}

/* Prints the number of messages in the topic's partitions. */
static int count(rd_kafka_t *rk, const char *topic, int nparts, int timeout)
{
	int64_t total = 0;
	for (int i = 0; i < nparts; i++) {
		int64_t lo = 0, hi = 0;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, timeout);
		if (e) {
			fprintf(stderr, "kafka-read: watermarks of %s [%d]: %s\n", topic, i,
			        rd_kafka_err2str(e));
			return 1;
		}
		total += hi - lo;
	}
	printf("%" PRId64 "\n", total);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: kafka-read BOOTSTRAP TOPIC COUNT|--count TIMEOUT_MS\n");
		return 2;
	}
	const char *topic = argv[2];
	long want = atol(argv[3]);
	int timeout = atoi(argv[4]);
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", "kafka-read", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err))) {
		fprintf(stderr, "kafka-read: %s\n", err);
		return 2;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kafka-read: %s\n", err);
		return 2;
	}
	int nparts = partitions(rk, topic, timeout);
	if (nparts < 0) {
		rd_kafka_destroy(rk);
		return 1;
	}
	if (strcmp(argv[3], "--count") == 0) {
		int rc = count(rk, topic, nparts, timeout);
		rd_kafka_destroy(rk);
		return rc;
	}
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
	for (int i = 0; i < nparts; i++)
		rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);

	bool *at_end = calloc((size_t)nparts + 1, sizeof(*at_end));
	int ends = 0;
	long got = 0;
	while (want ? got < want : ends < nparts) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout);
		if (!m)
			break;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			print_message(m);
			got++;
		} else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < nparts && !at_end[m->partition]) {
				at_end[m->partition] = true;
				ends++;
			}
		} else {
			fprintf(stderr, "kafka-read: %s\n", rd_kafka_message_errstr(m));
		}
		rd_kafka_message_destroy(m);
	}
	fflush(stdout);
	free(at_end);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return (want ? got >= want : ends >= nparts) ? 0 : 1;
}

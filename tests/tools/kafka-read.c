/* kafka-read: reads a topic back with a real librdkafka consumer, every
 * partition from the beginning (no consumer group), and prints one line per
 * message:
 *
 *   PARTITION<TAB>OFFSET<TAB>KEY<TAB>NAME=VALUE;NAME=VALUE...<TAB>VALUE
 *
 * (the headers in order; the value is the record's one-line JSON). Stops
 * after COUNT messages (0: when TIMEOUT_MS passes with nothing new) or when
 * TIMEOUT_MS passes without a message; exits 0 when COUNT were read (or
 * COUNT is 0), 1 otherwise.
 *
 *   kafka-read BOOTSTRAP TOPIC COUNT TIMEOUT_MS
 */
#include <inttypes.h>
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

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: kafka-read BOOTSTRAP TOPIC COUNT TIMEOUT_MS\n");
		return 2;
	}
	const char *topic = argv[2];
	long want = atol(argv[3]);
	int timeout = atoi(argv[4]);
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", "kafka-read", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
		fprintf(stderr, "kafka-read: %s\n", err);
		return 2;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kafka-read: %s\n", err);
		return 2;
	}
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout);
	rd_kafka_topic_destroy(rkt);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "kafka-read: metadata of %s: %s\n", topic,
		        rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err
		                                               : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_destroy(rk);
		return 1;
	}
	rd_kafka_topic_partition_list_t *parts =
	    rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
		    ->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);

	long got = 0;
	while (want == 0 || got < want) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout);
		if (!m)
			break;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			print_message(m);
			got++;
		} else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			fprintf(stderr, "kafka-read: %s\n", rd_kafka_message_errstr(m));
		}
		rd_kafka_message_destroy(m);
	}
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return want == 0 || got >= want ? 0 : 1;
}

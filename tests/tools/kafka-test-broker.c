/* kafka-test-broker: a Kafka cluster for tests, on librdkafka's mock cluster
 * (rdkafka_mock.h: the real protocol over TCP on loopback, 3 brokers by
 * default). Prints "bootstrap HOST:PORT,HOST:PORT,..." as its first line of
 * standard output, then reads commands on standard input, one per line,
 * answering each with "ok" or "error: ..." on standard output:
 *
 *   topic NAME PARTITIONS        create a topic (replication: every broker)
 *   topic-error NAME CODE        metadata requests for topic NAME answer error
 *                                CODE (3 = unknown topic; 0 clears it)
 *   down N | up N                take broker N (1..count, or all) down (close
 *                                its connections, refuse new ones) or up
 *   error APIKEY CODE COUNT      the next COUNT requests of API key APIKEY
 *                                (0 = Produce) fail with error CODE (e.g. 10,
 *                                MSG_SIZE_TOO_LARGE: the mock has no size
 *                                limit of its own)
 *   rtt N MS                     delay broker N's (or all) answers by MS
 *
 * Exits 0 at end of input or on SIGTERM/SIGINT.
 *
 *   kafka-test-broker [--brokers N]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* A broker id 1..nbrokers, or -1 for "all"; 0 when it is neither. */
static int broker_id(const char *s, int nbrokers)
{
	if (strcmp(s, "all") == 0)
		return -1;
	int id = atoi(s);
	return id >= 1 && id <= nbrokers ? id : 0;
}

static int run(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line)
{
	char name[256], who[16];
	int a, b, c;
	if (sscanf(line, "topic-error %255s %d", name, &a) == 2) {
		rd_kafka_mock_topic_set_error(mc, name, (rd_kafka_resp_err_t)a);
		return 0;
	}
	if (sscanf(line, "topic %255s %d", name, &a) == 2)
		return rd_kafka_mock_topic_create(mc, name, a, nbrokers) ? -1 : 0;
	if (sscanf(line, "down %15s", who) == 1 && (a = broker_id(who, nbrokers)))
		return rd_kafka_mock_broker_set_down(mc, a) ? -1 : 0;
	if (sscanf(line, "up %15s", who) == 1 && (a = broker_id(who, nbrokers)))
		return rd_kafka_mock_broker_set_up(mc, a) ? -1 : 0;
	if (sscanf(line, "rtt %15s %d", who, &b) == 2 && (a = broker_id(who, nbrokers)))
		return rd_kafka_mock_broker_set_rtt(mc, a, b) ? -1 : 0;
	if (sscanf(line, "error %d %d %d", &a, &b, &c) == 3 && c > 0) {
		rd_kafka_resp_err_t *errs = calloc((size_t)c, sizeof(*errs));
		if (!errs)
			return -1;
		for (int i = 0; i < c; i++)
			errs[i] = (rd_kafka_resp_err_t)b;
		rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)c, errs);
		free(errs);
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	int nbrokers = 3;
	if (argc == 3 && strcmp(argv[1], "--brokers") == 0)
		nbrokers = atoi(argv[2]);
	if ((argc != 1 && argc != 3) || nbrokers < 1 || nbrokers > 100) {
		fprintf(stderr, "usage: kafka-test-broker [--brokers N]\n");
		return 2;
	}
	/* No SA_RESTART: a signal ends the blocking read of stdin. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* The handle only hosts the cluster; it must not wander to a broker. */
	rd_kafka_conf_set(conf, "bootstrap.servers", "", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kafka-test-broker: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (!mc) {
		fprintf(stderr, "kafka-test-broker: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	char line[1024];
	while (!stop && fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		if (run(mc, nbrokers, line) == 0)
			printf("ok\n");
		else
			printf("error: %s\n", line);
		fflush(stdout);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}

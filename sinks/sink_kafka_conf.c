/* sink_kafka_conf: the Kafka sink's options, its topic and key templates,
 * and the librdkafka configuration built from them (sink_kafka.h). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sink_kafka.h"

const struct opt_def sink_kafka_opts[] = {
    {"brokers", OPT_STRING, NULL, OPT_REQUIRED, offsetof(struct sink_kafka_conf, brokers), NULL,
     "bootstrap brokers, host:port, comma-separated"},
    {"topic", OPT_STRING, NULL, OPT_REQUIRED, offsetof(struct sink_kafka_conf, topic), NULL,
     "topic template: literal text and {project}, {function}, {function_name}, {kind}"},
    {"key", OPT_STRING, "{function}", 0, offsetof(struct sink_kafka_conf, key), NULL,
     "message key template (same placeholders); the default keeps each function's "
     "records in one partition, in order"},
    {"compression", OPT_ENUM, "zstd", 0, offsetof(struct sink_kafka_conf, compression),
     "none|gzip|snappy|lz4|zstd", "compression codec of message batches"},
    {"kafka.", OPT_KV, NULL, OPT_SECRET, offsetof(struct sink_kafka_conf, kafka), NULL,
     "any librdkafka producer property, e.g. kafka.security.protocol = ssl, "
     "kafka.ssl.ca.location, kafka.sasl.mechanisms; overrides the sink's defaults"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

enum field { F_PROJECT, F_FUNCTION, F_FUNCTION_NAME, F_KIND, F_COUNT };
static const char *const fields[F_COUNT] = {"project", "function", "function_name", "kind"};

static bool topic_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* The placeholder at p ('{'): its field, and its length in *len; -1 if none. */
static int placeholder(const char *p, size_t *len)
{
	for (int f = 0; f < F_COUNT; f++) {
		size_t n = strlen(fields[f]);
		if (strncmp(p + 1, fields[f], n) == 0 && p[n + 1] == '}') {
			*len = n + 2;
			return f;
		}
	}
	return -1;
}

int sink_kafka_template_check(const char *tmpl, bool topic, char *err, size_t errlen)
{
	if (!tmpl || !*tmpl) {
		snprintf(err, errlen, "must not be empty");
		return LG_EINVAL;
	}
	for (const char *p = tmpl; *p;) {
		size_t len;
		if (*p == '{') {
			if (placeholder(p, &len) < 0) {
				snprintf(
				    err, errlen,
				    "unknown placeholder at '%.20s' (use {project}, {function}, "
				    "{function_name}, {kind})",
				    p);
				return LG_EINVAL;
			}
			p += len;
			continue;
		}
		if (topic && !topic_char(*p)) {
			snprintf(err, errlen,
			         "'%c' is not allowed in a topic name (letters, digits, '.', '_', "
			         "'-')",
			         *p);
			return LG_EINVAL;
		}
		p++;
	}
	return 0;
}

static const char *field_value(const struct record *r, int f)
{
	const char *v = NULL;
	switch (f) {
	case F_PROJECT:
		v = r->project_id;
		break;
	case F_FUNCTION:
		v = r->function_id;
		break;
	case F_FUNCTION_NAME:
		v = r->function_name;
		break;
	default:
		v = record_kind_name(r->kind);
		break;
	}
	return v ? v : "";
}

int sink_kafka_expand(const char *tmpl, const struct record *r, bool topic, char *out, size_t n)
{
	size_t o = 0;
	for (const char *p = tmpl; *p;) {
		size_t len = 1;
		int f = *p == '{' ? placeholder(p, &len) : -1;
		const char *v = f >= 0 ? field_value(r, f) : p;
		size_t vlen = f >= 0 ? strlen(v) : 1;
		p += f >= 0 ? len : 1;
		if (o + vlen >= n)
			return LG_ETOOBIG;
		for (size_t i = 0; i < vlen; i++)
			out[o++] = topic && !topic_char(v[i]) ? '_' : v[i];
	}
	out[o] = '\0';
	return o ? (int)o : LG_EINVAL;
}

static struct opt_origin origin(const struct sink *s, const char *key)
{
	struct opt_origin o = {s->file, s->line};
	if (s->section)
		o = opts_origin(s->section, key);
	return o;
}

static void bad_key(struct sink *s, struct conf_errs *errs, const char *key, const char *msg)
{
	struct opt_origin o = origin(s, key);
	conf_err(errs, o.file, o.line, "[sink %s]: key '%s': %s", s->name, key, msg);
}

/* Properties the sink sets itself, and why a kafka.* key may not. */
static const char *const owned[][2] = {
    {"bootstrap.servers", "use 'brokers'"},
    {"metadata.broker.list", "use 'brokers'"},
    {"compression.codec", "use 'compression'"},
    {"compression.type", "use 'compression'"},
    {"log.queue", "the sink reads librdkafka's logs as events"},
    {"enabled_events", "the sink reads librdkafka's events itself"},
    {"delivery.report.only.error", "records are acknowledged by their delivery reports"},
    {"queue.buffering.max.messages", "sized from queue_max_records"},
    {"queue.buffering.max.kbytes", "sized from queue_max_bytes"},
    {"transactional.id", "the sink is not transactional"},
};

/* Properties naming files librdkafka opens only in rd_kafka_new or later;
 * checked here so that the error names the file. */
static const char *const file_keys[] = {
    "ssl.ca.location",       "ssl.certificate.location", "ssl.key.location",
    "ssl.keystore.location", "ssl.crl.location",         "sasl.kerberos.keytab",
};

static const struct opt_kv *find_kv(const struct sink_kafka_conf *c, const char *key)
{
	for (size_t i = 0; i < c->kafka.n; i++)
		if (strcmp(c->kafka.items[i].key, key) == 0)
			return &c->kafka.items[i];
	return NULL;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	return rd_kafka_conf_set(conf, k, v, err, errlen) == RD_KAFKA_CONF_OK ? 0 : LG_EINVAL;
}

static int check_brokers(struct sink *s, struct conf_errs *errs, const char *brokers)
{
	/* Each item is host:port; librdkafka would only complain when it
	 * first connects, long after --check-config said yes. */
	char *copy = strdup(brokers);
	if (!copy)
		return LG_ENOMEM;
	int bad = 0, n = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t len = strcspn(tok, " ");
		tok[len] = '\0';
		if (!*tok)
			continue;
		n++;
		const char *colon = strrchr(tok, ':');
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == tok || !end || *end || port < 1 || port > 65535) {
			char msg[300];
			snprintf(msg, sizeof(msg), "'%.200s' is not host:port", tok);
			bad_key(s, errs, "brokers", msg);
			bad = 1;
		}
	}
	free(copy);
	if (!n && !bad) {
		bad_key(s, errs, "brokers", "names no broker");
		bad = 1;
	}
	return bad ? LG_ECONFIG : 0;
}

static int check_templates(struct sink *s, struct conf_errs *errs)
{
	const struct sink_kafka_conf *c = s->conf;
	char err[256];
	int rc = 0;
	if (sink_kafka_template_check(c->topic, true, err, sizeof(err)) < 0) {
		bad_key(s, errs, "topic", err);
		rc = LG_ECONFIG;
	}
	if (sink_kafka_template_check(c->key, false, err, sizeof(err)) < 0) {
		bad_key(s, errs, "key", err);
		rc = LG_ECONFIG;
	}
	return rc;
}

/* message.max.bytes: by default large enough for the largest record the
 * agent can make (so that only the brokers' own limit refuses one); a
 * configured value must at least hold an event of max_event_size with its
 * key and headers (records grown larger by normalizing are dead-lettered). */
static int check_max_bytes(struct sink *s, struct conf_errs *errs, rd_kafka_conf_t *conf,
                           const struct opt_kv *kv)
{
	char v[64], err[512];
	if (!kv) {
		uint64_t want = s->max_record_size + SINK_KAFKA_ENVELOPE;
		if (want <= 1000000)
			return 0;
		if (want > 1000000000)
			want = 1000000000; /* librdkafka's maximum */
		snprintf(v, sizeof(v), "%" PRIu64, want);
		if (set(conf, "message.max.bytes", v, err, sizeof(err)) < 0) {
			bad_key(s, errs, "type", err);
			return LG_ECONFIG;
		}
		return 0;
	}
	uint64_t need = s->max_event_size + SINK_KAFKA_ENVELOPE;
	size_t len = sizeof(v);
	if (rd_kafka_conf_get(conf, "message.max.bytes", v, &len) != RD_KAFKA_CONF_OK)
		return 0;
	uint64_t have = strtoull(v, NULL, 10);
	if (have >= need)
		return 0;
	char msg[256];
	snprintf(msg, sizeof(msg),
	         "%" PRIu64 " cannot hold an event of max_event_size (%" PRIu64
	         " bytes) with its key and headers: set at least %" PRIu64
	         ", or lower max_event_size",
	         have, s->max_event_size, need);
	conf_err(errs, kv->file, kv->line, "[sink %s]: key 'kafka.%s': %s", s->name, kv->key, msg);
	return LG_ECONFIG;
}

/* librdkafka's own buffer holds at most what the router lets the sink hold
 * (its queue bounds), never less than two of the largest messages. */
static int set_buffering(rd_kafka_conf_t *conf, const struct sink *s, char *err, size_t errlen)
{
	uint64_t msgs = s->queue_max_records ? s->queue_max_records : 10000;
	uint64_t bytes = s->queue_max_bytes ? s->queue_max_bytes : 16u << 20;
	uint64_t floor = 2 * (s->max_record_size + SINK_KAFKA_ENVELOPE);
	uint64_t kb = (bytes > floor ? bytes : floor) / 1024 + 1;
	if (msgs > 10000000)
		msgs = 10000000;
	if (kb > INT32_MAX)
		kb = INT32_MAX;
	char v[32];
	snprintf(v, sizeof(v), "%" PRIu64, msgs);
	if (set(conf, "queue.buffering.max.messages", v, err, errlen) < 0)
		return LG_EINVAL;
	snprintf(v, sizeof(v), "%" PRIu64, kb);
	return set(conf, "queue.buffering.max.kbytes", v, err, errlen);
}

/* A kafka.* file property that cannot be read fails only when the first
 * producer is made, with an OpenSSL message that does not name the file. */
static int check_file(struct sink *s, struct conf_errs *errs, const struct opt_kv *kv)
{
	for (size_t i = 0; i < sizeof(file_keys) / sizeof(file_keys[0]); i++) {
		if (strcmp(kv->key, file_keys[i]) != 0)
			continue;
		if (strcmp(kv->value, "probe") == 0 || access(kv->value, R_OK) == 0)
			return 0;
		conf_err(errs, kv->file, kv->line, "[sink %s]: key 'kafka.%s': cannot read %s: %s",
		         s->name, kv->key, kv->value, strerror(errno));
		return LG_ECONFIG;
	}
	return 0;
}

int sink_kafka_conf_build(struct sink *s, struct conf_errs *errs, rd_kafka_conf_t **out)
{
	const struct sink_kafka_conf *c = s->conf;
	*out = NULL;
	int rc = check_brokers(s, errs, c->brokers ? c->brokers : "");
	if (rc == LG_ENOMEM)
		return rc;
	if (check_templates(s, errs) < 0)
		rc = LG_ECONFIG;
	if (c->compression < 0 || c->compression > SINK_KAFKA_COMPRESS_ZSTD) {
		bad_key(s, errs, "compression", "must be none, gzip, snappy, lz4 or zstd");
		return LG_ECONFIG;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!conf)
		return LG_ENOMEM;
	char err[512];
	/* Safe defaults first, so that kafka.* keys may override them. */
	static const char *const defaults[][2] = {
	    {"enable.idempotence", "true"},
	    {"acks", "all"},
	    {"message.timeout.ms", "0"}, /* never expire: the sink retries forever */
	    {"allow.auto.create.topics", "false"},
	};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (set(conf, defaults[i][0], defaults[i][1], err, sizeof(err)) < 0) {
			bad_key(s, errs, "type", err);
			rc = LG_ECONFIG;
		}
	if (set(conf, "compression.codec", codecs[c->compression], err, sizeof(err)) < 0) {
		bad_key(s, errs, "compression", err);
		rc = LG_ECONFIG;
	}
	if (set_buffering(conf, s, err, sizeof(err)) < 0) {
		bad_key(s, errs, "queue_max_records", err);
		rc = LG_ECONFIG;
	}
	bool max_bytes_ok = true;
	for (size_t i = 0; i < c->kafka.n; i++) {
		const struct opt_kv *kv = &c->kafka.items[i];
		const char *why = NULL;
		for (size_t j = 0; j < sizeof(owned) / sizeof(owned[0]); j++)
			if (strcmp(kv->key, owned[j][0]) == 0)
				why = owned[j][1];
		if (!why && set(conf, kv->key, kv->value, err, sizeof(err)) == 0) {
			if (check_file(s, errs, kv) < 0)
				rc = LG_ECONFIG;
			continue;
		}
		conf_err(errs, kv->file, kv->line, "[sink %s]: key 'kafka.%s': %s", s->name,
		         kv->key, why ? why : err);
		if (strcmp(kv->key, "message.max.bytes") == 0)
			max_bytes_ok = false;
		rc = LG_ECONFIG;
	}
	if (max_bytes_ok && check_max_bytes(s, errs, conf, find_kv(c, "message.max.bytes")) < 0)
		rc = LG_ECONFIG;
	/* Not overridable: how librdkafka talks to the loop. */
	if (set(conf, "log.queue", "true", err, sizeof(err)) < 0) {
		bad_key(s, errs, "type", err);
		rc = LG_ECONFIG;
	}
	rd_kafka_conf_set_events(conf,
	                         RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_LOG | RD_KAFKA_EVENT_ERROR);
	if (rc < 0) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	*out = conf;
	return 0;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_';
}

/* Whether msg names `name` as a whole property name (with prefix true: a
 * property starting with name, e.g. "sasl." in "sasl.username"). */
static bool names(const char *msg, const char *name, bool prefix)
{
	size_t n = strlen(name);
	for (const char *p = msg; (p = strstr(p, name)); p++) {
		if (p > msg && name_char(p[-1]))
			continue;
		if (prefix ? name_char(p[n])
		           : !name_char(p[n]) || (p[n] == '.' && !name_char(p[n + 1])))
			return true;
	}
	return false;
}

void sink_kafka_conf_report(struct sink *s, struct conf_errs *errs, const char *msg)
{
	const struct sink_kafka_conf *c = s->conf;
	/* The keys the message names; failing that, the keys of the families
	 * it names ("sasl.username and sasl.password must be set" points at
	 * kafka.sasl.mechanisms); failing that, the section. */
	for (int pass = 0; pass < 2; pass++) {
		bool named = false;
		for (size_t i = 0; i < c->kafka.n; i++) {
			const struct opt_kv *kv = &c->kafka.items[i];
			char family[64];
			const char *dot = strchr(kv->key, '.');
			size_t flen = dot ? (size_t)(dot - kv->key) + 1 : 0;
			if (pass == 1 && (!flen || flen >= sizeof(family)))
				continue;
			snprintf(family, sizeof(family), "%.*s", (int)flen, kv->key);
			if (!names(msg, pass == 0 ? kv->key : family, pass == 1))
				continue;
			conf_err(errs, kv->file, kv->line, "[sink %s]: key 'kafka.%s': %s", s->name,
			         kv->key, msg);
			named = true;
		}
		if (named)
			return;
	}
	conf_err(errs, s->file, s->line, "[sink %s]: librdkafka refuses the configuration: %s",
	         s->name, msg);
}

int sink_kafka_conf_probe(struct sink *s, struct conf_errs *errs, const rd_kafka_conf_t *conf)
{
	char err[512];
	rd_kafka_conf_t *copy = rd_kafka_conf_dup(conf);
	if (!copy)
		return LG_ENOMEM;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, copy, err, sizeof(err));
	if (!rk) {
		rd_kafka_conf_destroy(copy);
		sink_kafka_conf_report(s, errs, err);
		return LG_ECONFIG;
	}
	/* rd_kafka_new logged its warnings (log.queue) before returning. */
	rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
	rd_kafka_set_log_queue(rk, NULL);
	int rc = 0;
	rd_kafka_event_t *ev;
	while ((ev = rd_kafka_queue_poll(q, 0))) {
		const char *fac = "", *str = "";
		int level = 6;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LOG &&
		    rd_kafka_event_log(ev, &fac, &str, &level) == 0 &&
		    strcmp(fac, "CONFWARN") == 0 && !names(str, "bootstrap.servers", false)) {
			if (strstr(str, "will be ignored")) {
				sink_kafka_conf_report(s, errs, str);
				rc = LG_ECONFIG;
			} else {
				log_warn(s->who, "librdkafka: %s", str);
			}
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* sink_http_conf: the HTTP sink's options, one row each, and the checks
 * that run at open (and for --check-config): every error names its key. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "sink_http.h"
#include "syslog_tls.h"

#define C(f) offsetof(struct http_conf, f)
const struct opt_def sink_http_opts[] = {
    {"url", OPT_STRING, NULL, OPT_REQUIRED, C(url), NULL,
     "the collector's endpoint, http:// or https://, e.g. "
     "https://splunk:8088/services/collector/event, http://es:9200/_bulk, "
     "http://loki:3100/loki/api/v1/push, http://otel:4318/v1/logs"},
    {"format", OPT_ENUM, "ndjson", 0, C(format),
     "ndjson|json_array|splunk_hec|elasticsearch_bulk|loki|otlp_json",
     "the request body: JSON lines, a JSON array, Splunk HEC events, Elasticsearch/OpenSearch "
     "_bulk, Loki push, OTLP/HTTP JSON logs"},
    {"compression", OPT_ENUM, "gzip", 0, C(compression), "gzip|none",
     "request bodies gzip-compressed (Content-Encoding: gzip) or not"},
    {"headers", OPT_LIST, "", OPT_SECRET, C(headers), NULL,
     "extra request headers, Name: value, comma-separated (an item without ':' continues the "
     "previous value); redacted in listings"},
    {"auth", OPT_ENUM, "none", 0, C(auth), "none|bearer|basic|splunk",
     "Authorization: none, Bearer TOKEN, Basic (username, password), or Splunk TOKEN (HEC)"},
    {"token", OPT_STRING, NULL, OPT_SECRET, C(token), NULL, "auth = bearer or splunk: the token"},
    {"username", OPT_STRING, NULL, 0, C(username), NULL, "auth = basic: the user name"},
    {"password", OPT_STRING, NULL, OPT_SECRET, C(password), NULL, "auth = basic: the password"},
    {"batch_max_records", OPT_INT, "500", 0, C(batch_max_records), NULL,
     "records per request, at most (1..10000)"},
    {"batch_max_bytes", OPT_SIZE, "1M", 0, C(batch_max_bytes), NULL,
     "record bytes per request (before the format's envelope and compression), at most; a "
     "larger record goes alone"},
    {"batch_linger", OPT_DURATION, "1s", 0, C(batch_linger), NULL,
     "how long a record waits for its batch to fill before the batch is sent"},
    {"timeout", OPT_DURATION, "30s", 0, C(timeout), NULL,
     "a request without a complete answer after this long fails (and is retried)"},
    {"max_in_flight", OPT_INT, "2", 0, C(max_in_flight), NULL,
     "batches being sent or retried at once (1..64); one while the collector is failing"},
    {"proxy", OPT_STRING, NULL, 0, C(proxy), NULL,
     "HTTP(S) proxy, e.g. http://proxy:3128 (default: none, or curl's *_proxy variables)"},
    {"ca_file", OPT_STRING, NULL, 0, C(ca_file), NULL,
     "https: PEM file of the CAs to trust (default: the system's store)"},
    {"cert_file", OPT_STRING, NULL, 0, C(cert_file), NULL,
     "https: PEM client certificate to present, with key_file"},
    {"key_file", OPT_STRING, NULL, 0, C(key_file), NULL,
     "https: PEM private key of cert_file (unencrypted; keep it mode 0600)"},
    {"tls_verify", OPT_BOOL, "on", 0, C(tls_verify), NULL,
     "https: verify the collector's certificate chain and name (off: encrypted but talking to "
     "whoever answers)"},
    {"backoff_base", OPT_DURATION, "500ms", 0, C(backoff_base), NULL,
     "first retry delay after a failed request (capped exponential, full jitter)"},
    {"backoff_max", OPT_DURATION, "60s", 0, C(backoff_max), NULL, "longest retry delay"},
    {"host", OPT_STRING, NULL, 0, C(host), NULL,
     "splunk_hec: the events' host (default: this host's name)"},
    {"source", OPT_STRING, "sinch:{function_name}", 0, C(source), NULL,
     "splunk_hec: the events' source; a template of {project}, {function}, {function_name}, "
     "{kind}, {level}"},
    {"sourcetype", OPT_STRING, "_json", 0, C(sourcetype), NULL,
     "splunk_hec: the events' sourcetype (a template)"},
    {"index", OPT_STRING, NULL, 0, C(index), NULL,
     "splunk_hec: the index (default: the token's); elasticsearch_bulk: the index template, "
     "with the record's UTC date as %Y %m %d %H (default sinch-functions-%Y.%m.%d)"},
    {"ack", OPT_BOOL, "off", 0, C(ack), NULL,
     "splunk_hec: a batch counts as delivered only once /services/collector/ack confirms it "
     "(indexer acknowledgement must be on for the token)"},
    {"channel", OPT_STRING, NULL, 0, C(channel), NULL,
     "splunk_hec: the X-Splunk-Request-Channel GUID (default with ack = on: a new one per "
     "start)"},
    {"ack_url", OPT_STRING, NULL, 0, C(ack_url), NULL,
     "splunk_hec: the acknowledgement endpoint (default: the url up to /services/collector, "
     "or its scheme and host, with /services/collector/ack)"},
    {"ack_interval", OPT_DURATION, "1s", 0, C(ack_interval), NULL,
     "splunk_hec: how often unacknowledged batches are asked about"},
    {"ack_timeout", OPT_DURATION, "5m", 0, C(ack_timeout), NULL,
     "splunk_hec: a batch not acknowledged this long after it was accepted is sent again"},
    {"bulk_action", OPT_ENUM, "create", 0, C(bulk_action), "create|index",
     "elasticsearch_bulk: the action (create also suits data streams; a replayed record "
     "answers 409, counted as delivered)"},
    {"labels", OPT_LIST, "function, level", 0, C(labels), NULL,
     "loki: stream labels: record fields (function, function_id, project, level, kind) and "
     "fixed NAME=VALUE pairs"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void bad_key(struct sink *s, struct conf_errs *errs, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad_key(struct sink *s, struct conf_errs *errs, const char *key, const char *fmt, ...)
{
	struct opt_origin o = {s->file, s->line};
	if (s->section)
		o = opts_origin(s->section, key);
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err(errs, o.file, o.line, "[sink %s]: key '%s': %s", s->name, key, msg);
}

/* Whether the section sets key (or KEY_file) itself. */
static bool is_set(const struct sink *s, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; s->section && i < s->section->n; i++) {
		const char *k = s->section->entries[i].key;
		if (strncmp(k, key, n) == 0 && (!k[n] || strcmp(k + n, "_file") == 0))
			return true;
	}
	return false;
}

static const char *const format_names[] = {
    "ndjson", "json_array", "splunk_hec", "elasticsearch_bulk", "loki", "otlp_json"};

/* Options that only one or two formats read. */
static int check_applies(struct sink *s, struct conf_errs *errs)
{
	const struct http_conf *c = s->conf;
	static const struct {
		const char *key;
		unsigned formats; /* bit per enum http_fmt_format */
	} only[] = {
	    {"host", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"source", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"sourcetype", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"index", 1u << HTTP_FMT_SPLUNK_HEC | 1u << HTTP_FMT_ES_BULK},
	    {"ack", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"channel", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"ack_url", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"ack_interval", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"ack_timeout", 1u << HTTP_FMT_SPLUNK_HEC},
	    {"bulk_action", 1u << HTTP_FMT_ES_BULK},
	    {"labels", 1u << HTTP_FMT_LOKI},
	};
	int bad = 0;
	for (size_t i = 0; c->format >= 0 && i < sizeof(only) / sizeof(only[0]); i++) {
		if ((only[i].formats >> c->format) & 1u || !is_set(s, only[i].key))
			continue;
		bad_key(s, errs, only[i].key, "applies to format = %s, not %s",
		        only[i].formats & (1u << HTTP_FMT_SPLUNK_HEC) ? "splunk_hec"
		        : only[i].formats & (1u << HTTP_FMT_ES_BULK)  ? "elasticsearch_bulk"
		                                                      : "loki",
		        format_names[c->format]);
		bad = 1;
	}
	if (c->format != HTTP_FMT_SPLUNK_HEC || c->ack)
		return bad;
	static const char *const ack_keys[] = {"ack_url", "ack_interval", "ack_timeout"};
	for (size_t i = 0; i < 3; i++)
		if (is_set(s, ack_keys[i])) {
			bad_key(s, errs, ack_keys[i], "needs ack = on");
			bad = 1;
		}
	return bad;
}

/* Whether u is an http(s) URL with a host and without credentials; log (if
 * not NULL) gets it without query or fragment, fit for log lines. */
static bool is_http_url(const char *u, bool *https, char *log, size_t loglen)
{
	*https = strncasecmp(u, "https://", 8) == 0;
	if (!*https && strncasecmp(u, "http://", 7) != 0)
		return false;
	CURLU *h = curl_url();
	if (!h)
		return false;
	char *host = NULL, *user = NULL, *port = NULL, *path = NULL;
	bool ok = curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
	          curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host &&
	          curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_NO_USER;
	if (ok && log) {
		curl_url_get(h, CURLUPART_PORT, &port, 0);
		curl_url_get(h, CURLUPART_PATH, &path, 0);
		snprintf(log, loglen, "%s://%s%s%s%s", *https ? "https" : "http", host,
		         port ? ":" : "", port ? port : "", path ? path : "");
	}
	curl_free(host);
	curl_free(user);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(h);
	return ok;
}

static int check_auth(struct sink *s, struct conf_errs *errs)
{
	const struct http_conf *c = s->conf;
	int bad = 0;
	bool tok = c->auth == HTTP_AUTH_BEARER || c->auth == HTTP_AUTH_SPLUNK;
	if (tok && !c->token) {
		bad_key(s, errs, "auth", "needs token (or token_file)");
		bad = 1;
	}
	if (!tok && c->token) {
		bad_key(s, errs, "token", "needs auth = bearer or splunk");
		bad = 1;
	}
	bool basic = c->auth == HTTP_AUTH_BASIC;
	if (basic && (!c->username || !c->password)) {
		bad_key(s, errs, "auth",
		        "auth = basic needs username and password (or password_file)");
		bad = 1;
	}
	if (!basic && (c->username || c->password)) {
		bad_key(s, errs, c->username ? "username" : "password", "needs auth = basic");
		bad = 1;
	}
	if (basic && c->username && strchr(c->username, ':')) {
		bad_key(s, errs, "username", "must not contain ':'");
		bad = 1;
	}
	const char *secrets[] = {c->token, c->password};
	for (size_t i = 0; i < 2; i++)
		if (secrets[i] && strpbrk(secrets[i], "\r\n")) {
			bad_key(s, errs, i ? "password" : "token", "must be one line");
			bad = 1;
		}
	return bad;
}

static bool header_name_ok(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
			return false;
	return true;
}

static int append_header(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);
	if (!n)
		return LG_ENOMEM;
	*l = n;
	return 0;
}

/* The configured headers, items without ':' joined to the one before. */
static int check_headers(struct sink *s, struct conf_errs *errs, struct curl_slist **out)
{
	const struct http_conf *c = s->conf;
	static const char *const ours[] = {"Content-Length", "Content-Encoding",
	                                   "Transfer-Encoding", "Host", "Expect"};
	struct buf line;
	buf_init(&line, 16384);
	int bad = 0;
	for (size_t i = 0; i < c->headers.n && !bad; i++) {
		const char *item = c->headers.items[i];
		const char *colon = strchr(item, ':');
		if (strpbrk(item, "\r\n")) {
			bad_key(s, errs, "headers", "a header must be one line");
			bad = 1;
			break;
		}
		if (!colon && i == 0) {
			bad_key(s, errs, "headers", "'%.40s' is not Name: value", item);
			bad = 1;
			break;
		}
		if (!colon) {
			buf_printf(&line, ", %s", item);
		} else {
			size_t n = (size_t)(colon - item);
			if (!header_name_ok(item, n)) {
				bad_key(s, errs, "headers", "'%.*s' is not a header name", (int)n,
				        item);
				bad = 1;
			}
			for (size_t k = 0; k < sizeof(ours) / sizeof(ours[0]) && !bad; k++)
				if (strlen(ours[k]) == n && strncasecmp(item, ours[k], n) == 0) {
					bad_key(s, errs, "headers", "%s is set by the sink",
					        ours[k]);
					bad = 1;
				}
			if (!bad && n == 13 && strncasecmp(item, "Authorization", n) == 0 &&
			    c->auth != HTTP_AUTH_NONE) {
				bad_key(s, errs, "headers", "Authorization is set by auth");
				bad = 1;
			}
			if (line.len && out && append_header(out, line.data) < 0)
				bad = 1;
			buf_reset(&line);
			buf_append(&line, item, n);
			buf_puts(&line, ": ");
			buf_puts(&line, colon[1] == ' ' ? colon + 2 : colon + 1);
		}
	}
	if (!bad && line.len && out && append_header(out, line.data) < 0)
		bad = 1;
	if (line.data)
		explicit_bzero(line.data, line.len);
	buf_free(&line);
	return bad;
}

static int check_tls(struct sink *s, struct conf_errs *errs, bool https)
{
	const struct http_conf *c = s->conf;
	static const char *const keys[] = {"ca_file", "cert_file", "key_file", "tls_verify"};
	int bad = 0;
	for (size_t i = 0; i < 4; i++)
		if (!https && is_set(s, keys[i])) {
			bad_key(s, errs, keys[i], "applies to an https:// url");
			bad = 1;
		}
	if (bad || !https)
		return bad;
	if (!c->cert_file != !c->key_file) {
		bad_key(s, errs, c->cert_file ? "key_file" : "cert_file",
		        "a client certificate needs both cert_file and key_file");
		return 1;
	}
	/* Load every file now, with OpenSSL's words for what is wrong. */
	struct syslog_tls_opts o = {c->ca_file, c->cert_file, c->key_file, c->tls_verify};
	char err[SYSLOG_TLS_ERR_MAX];
	SSL_CTX *ctx = NULL;
	if (syslog_tls_ctx_new(&ctx, &o, err, sizeof(err)) < 0) {
		char *colon = strchr(err, ':');
		if (colon)
			*colon = '\0';
		bad_key(s, errs, strcmp(err, "transport") ? err : "url", "%s",
		        colon ? colon + 2 : "");
		return 1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

static int check_ranges(struct sink *s, struct conf_errs *errs)
{
	const struct http_conf *c = s->conf;
	int bad = 0;
	if (c->batch_max_records < 1 || c->batch_max_records > 10000) {
		bad_key(s, errs, "batch_max_records", "must be 1..10000");
		bad = 1;
	}
	if (c->batch_max_bytes < 1024 || c->batch_max_bytes > (256u << 20)) {
		bad_key(s, errs, "batch_max_bytes", "must be 1K..256M");
		bad = 1;
	}
	if (c->batch_linger > 600000) {
		bad_key(s, errs, "batch_linger", "must be at most 10m");
		bad = 1;
	}
	if (c->timeout < 100 || c->timeout > 3600000) {
		bad_key(s, errs, "timeout", "must be 100ms..1h");
		bad = 1;
	}
	if (c->max_in_flight < 1 || c->max_in_flight > 64) {
		bad_key(s, errs, "max_in_flight", "must be 1..64");
		bad = 1;
	}
	if (c->backoff_base < 10 || c->backoff_base > c->backoff_max || c->backoff_max > 3600000) {
		bad_key(s, errs, c->backoff_base < 10 ? "backoff_base" : "backoff_max",
		        "need 10ms <= backoff_base <= backoff_max <= 1h");
		bad = 1;
	}
	if (c->ack && (c->ack_interval < 10 || c->ack_timeout < c->ack_interval)) {
		bad_key(s, errs, c->ack_interval < 10 ? "ack_interval" : "ack_timeout",
		        "need 10ms <= ack_interval <= ack_timeout");
		bad = 1;
	}
	return bad;
}

static int check_templates(struct sink *s, struct conf_errs *errs)
{
	const struct http_conf *c = s->conf;
	const char *keys[] = {"source", "sourcetype", "index"};
	const char *vals[] = {c->source, c->sourcetype, c->index};
	char err[256];
	int bad = 0;
	for (size_t i = 0; i < 3; i++) {
		if (vals[i] && http_fmt_template_check(vals[i], err, sizeof(err)) < 0) {
			bad_key(s, errs, keys[i], "%s", err);
			bad = 1;
		}
	}
	if (c->format == HTTP_FMT_ES_BULK && c->index && strchr("-_+", c->index[0])) {
		bad_key(s, errs, "index", "an index name must not start with '-', '_' or '+'");
		bad = 1;
	}
	return bad;
}

static bool guid_ok(const char *g)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (strlen(g) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == '-' ? g[i] != '-' : !isxdigit((unsigned char)g[i]))
			return false;
	return true;
}

static int check_hec(struct sink *s, struct conf_errs *errs, struct http_sink *h)
{
	const struct http_conf *c = s->conf;
	int bad = 0;
	bool https;
	if (c->channel && !guid_ok(c->channel)) {
		bad_key(s, errs, "channel", "must be a GUID (8-4-4-4-12 hex digits)");
		bad = 1;
	}
	if (c->ack_url && !is_http_url(c->ack_url, &https, NULL, 0)) {
		bad_key(s, errs, "ack_url",
		        "must be an http:// or https:// URL with a host and without credentials");
		bad = 1;
	}
	if (bad || !h)
		return bad;
	if (c->channel) {
		snprintf(h->channel, sizeof(h->channel), "%s", c->channel);
	} else if (c->ack) {
		unsigned char r[16];
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return 1;
		r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
		r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
		snprintf(h->channel, sizeof(h->channel),
		         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
		         r[12], r[13], r[14], r[15]);
	}
	if (!c->ack)
		return 0;
	if (c->ack_url) {
		h->ack_url = strdup(c->ack_url);
	} else {
		/* The url up to its /services/collector (a proxy may add a
		 * prefix), else its scheme://authority, and the ack path. */
		const char *p = strstr(c->url, "://") + 3;
		const char *svc = strstr(p, "/services/collector");
		size_t n = svc ? (size_t)(svc - c->url) : (size_t)(p - c->url) + strcspn(p, "/?#");
		h->ack_url = malloc(n + sizeof("/services/collector/ack"));
		if (h->ack_url) {
			memcpy(h->ack_url, c->url, n);
			strcpy(h->ack_url + n, "/services/collector/ack");
		}
	}
	return h->ack_url && is_http_url(h->ack_url, &https, h->ack_log, sizeof(h->ack_log)) ? 0
	                                                                                     : 1;
}

static int check_labels(struct sink *s, struct conf_errs *errs, struct http_fmt *f)
{
	const struct http_conf *c = s->conf;
	if (c->format != HTTP_FMT_LOKI)
		return 0;
	if (c->labels.n == 0 || c->labels.n > HTTP_FMT_MAX_LABELS) {
		bad_key(s, errs, "labels", "loki needs 1..%d labels", HTTP_FMT_MAX_LABELS);
		return 1;
	}
	char err[256];
	for (size_t i = 0; i < c->labels.n; i++) {
		if (http_fmt_label_parse(c->labels.items[i], &f->labels[i], err, sizeof(err)) < 0) {
			bad_key(s, errs, "labels", "%s", err);
			return 1;
		}
		size_t n = strcspn(f->labels[i].name, "= ");
		for (size_t j = 0; j < i; j++)
			if (strcspn(f->labels[j].name, "= ") == n &&
			    strncmp(f->labels[j].name, f->labels[i].name, n) == 0) {
				bad_key(s, errs, "labels", "label '%.*s' is given twice", (int)n,
				        f->labels[i].name);
				return 1;
			}
	}
	f->nlabels = c->labels.n;
	return 0;
}

static int build_headers(struct sink *s, struct http_sink *h)
{
	const struct http_conf *c = s->conf;
	struct buf line;
	buf_init(&line, 70000);
	/* A Content-Type among the configured headers replaces the format's. */
	bool own_type = false;
	for (size_t i = 0; i < c->headers.n; i++)
		own_type |= strncasecmp(c->headers.items[i], "Content-Type:", 13) == 0;
	int rc = buf_printf(&line, "Content-Type: %s", http_fmt_content_type(c->format));
	if (rc == 0 && !own_type)
		rc = append_header(&h->hdrs, line.data);
	/* Expect: 100-continue would cost a round trip (or a second's wait
	 * with a server that ignores it) on every large batch. */
	if (rc == 0)
		rc = append_header(&h->hdrs, "Expect:");
	if (rc == 0)
		rc = append_header(&h->ack_hdrs, "Content-Type: application/json");
	if (rc == 0 && c->compression == HTTP_GZIP)
		rc = append_header(&h->hdrs, "Content-Encoding: gzip");
	if (rc == 0 && h->channel[0]) {
		buf_reset(&line);
		buf_printf(&line, "X-Splunk-Request-Channel: %s", h->channel);
		rc = append_header(&h->hdrs, line.data);
		if (rc == 0)
			rc = append_header(&h->ack_hdrs, line.data);
	}
	if (rc == 0 && c->token) {
		buf_reset(&line);
		rc = buf_printf(&line, "Authorization: %s %s",
		                c->auth == HTTP_AUTH_SPLUNK ? "Splunk" : "Bearer", c->token);
		if (rc == 0)
			rc = append_header(&h->hdrs, line.data);
		if (rc == 0)
			rc = append_header(&h->ack_hdrs, line.data);
	}
	if (line.data)
		explicit_bzero(line.data, line.len);
	buf_free(&line);
	return rc;
}

int sink_http_validate(struct sink *s, struct conf_errs *errs, struct http_sink *h)
{
	struct http_conf *c = s->conf;
	int bad = 0;
	bool https = false;
	char urllog[sizeof(h->url_log)];
	if (c->url && !is_http_url(c->url, &https, urllog, sizeof(urllog))) {
		bad_key(s, errs, "url",
		        "must be an http:// or https:// URL with a host and without credentials "
		        "(auth = basic takes username and password)");
		return LG_ECONFIG;
	}
	if (h)
		memcpy(h->url_log, urllog, sizeof(urllog));
	bad |= check_applies(s, errs);
	bad |= check_auth(s, errs);
	bad |= check_ranges(s, errs);
	bad |= check_tls(s, errs, https);
	if (c->format == HTTP_FMT_ES_BULK && !c->index &&
	    !(c->index = strdup("sinch-functions-%Y.%m.%d")))
		return LG_ENOMEM;
	bad |= check_templates(s, errs);
	struct http_fmt f = {.format = c->format};
	bad |= check_labels(s, errs, &f);
	bad |= check_headers(s, errs, h ? &h->hdrs : NULL);
	if (c->format == HTTP_FMT_SPLUNK_HEC)
		bad |= check_hec(s, errs, h);
	if (bad || !h)
		return bad ? LG_ECONFIG : 0;
	if (c->host)
		snprintf(h->host, sizeof(h->host), "%s", c->host);
	else if (gethostname(h->host, sizeof(h->host) - 1) != 0)
		snprintf(h->host, sizeof(h->host), "unknown");
	f.host = h->host;
	if (c->format == HTTP_FMT_SPLUNK_HEC) {
		f.source = c->source;
		f.sourcetype = c->sourcetype;
	}
	f.index = c->index;
	f.bulk_index = c->bulk_action == 1;
	h->fmt = f;
	return build_headers(s, h) < 0 ? LG_ENOMEM : 0;
}

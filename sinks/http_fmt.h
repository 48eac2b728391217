/* http_fmt: the body of one HTTP request from a batch of records, in the
 * collector's format, and its gzip compression. Pure: no I/O, no globals,
 * no clock (every time comes from the records); it only reads the records,
 * so it runs on a thread-pool thread while the loop shares them.
 *
 * Formats:
 * - ndjson: each record's JSON and "\n";
 * - json_array: [record,record,...];
 * - splunk_hec: one event envelope per record, "\n"-separated:
 *   {"time":SECONDS.MMM,"host","source","sourcetype","index","event":RECORD}
 *   (host, source, sourcetype and index left out when unset);
 * - elasticsearch_bulk: per record an action line {"create"|"index":
 *   {"_index":INDEX,"_id":ID}} and the record with "@timestamp" (its start
 *   time) added first, each line ending in "\n" (the _id, the record id,
 *   makes a retried create answer 409 instead of indexing twice; ids over
 *   512 bytes are left out);
 * - loki: {"streams":[{"stream":{LABELS},"values":[["NS","LINE"],...]}]},
 *   one stream per distinct label set in order of first appearance, its
 *   values sorted by time (stable), NS the start time in nanoseconds and
 *   LINE the record's JSON;
 * - otlp_json: ExportLogsServiceRequest as OTLP/HTTP JSON: one resourceLogs
 *   per function (service.name = its name, sinch.project_id,
 *   sinch.function_id), one scopeLogs (scope "sinch-logd"), a logRecord per
 *   record: timeUnixNano, severityNumber/severityText from its level (DEBUG
 *   5, INFO 9, WARN 13, ERROR 17), body the record's JSON as stringValue,
 *   attributes log.record.uid (its id), sinch.kind, and when present
 *   http.request.method, http.response.status_code, sinch.duration_ms.
 *
 * Templates (source, sourcetype, index): literal text with {project},
 * {function} (id), {function_name}, {kind}, {level}, and the record's UTC
 * start as %Y %m %d %H (%% for '%'). An Elasticsearch index expands in lower
 * case, with the characters index names refuse (\ / * ? " < > | , # : and
 * space) as '_'. An expansion is cut at HTTP_FMT_FIELD_MAX bytes. */
#ifndef SINCH_HTTP_FMT_H
#define SINCH_HTTP_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "record.h"

enum http_fmt_format {
	HTTP_FMT_NDJSON,
	HTTP_FMT_JSON_ARRAY,
	HTTP_FMT_SPLUNK_HEC,
	HTTP_FMT_ES_BULK,
	HTTP_FMT_LOKI,
	HTTP_FMT_OTLP_JSON,
};

/* Where a Loki label's value comes from. */
enum http_fmt_label_src {
	HTTP_LABEL_STATIC,
	HTTP_LABEL_FUNCTION, /* the function's name (its id when it has none) */
	HTTP_LABEL_FUNCTION_ID,
	HTTP_LABEL_PROJECT,
	HTTP_LABEL_LEVEL,
	HTTP_LABEL_KIND,
};

#define HTTP_FMT_MAX_LABELS 15
#define HTTP_FMT_FIELD_MAX 255 /* bytes of one expanded template */
#define HTTP_FMT_ID_MAX 512    /* Elasticsearch's limit on an _id */

struct http_fmt_label {
	int src;           /* enum http_fmt_label_src */
	const char *name;  /* [A-Za-z_][A-Za-z0-9_]* */
	const char *value; /* HTTP_LABEL_STATIC only */
};

struct http_fmt {
	int format; /* enum http_fmt_format */
	/* splunk_hec: NULL leaves the field out. */
	const char *host;
	const char *source, *sourcetype; /* templates */
	/* splunk_hec: the index (a template; NULL: the token's default);
	 * elasticsearch_bulk: the index template (required). */
	const char *index;
	bool bulk_index; /* elasticsearch_bulk: "index" actions, not "create" */
	/* loki */
	struct http_fmt_label labels[HTTP_FMT_MAX_LABELS];
	size_t nlabels;
};

/* Checks a template; 0, or LG_EINVAL with the reason in err. */
int http_fmt_template_check(const char *tmpl, char *err, size_t errlen);
/* Appends tmpl expanded for r to out (es_index: as an index name). */
int http_fmt_expand(struct buf *out, const char *tmpl, const struct record *r, bool es_index);
/* Parses a Loki label item: a record field (function, function_id,
 * project, level, kind) or NAME=VALUE. 0, or LG_EINVAL with err. */
int http_fmt_label_parse(const char *item, struct http_fmt_label *out, char *err, size_t errlen);

/* Appends the body for recs[0..n) to out. Returns 0, LG_ETOOBIG when it
 * outgrows out's bound, LG_ENOMEM, or LG_EPARSE with *bad set to the index
 * of a record whose JSON cannot be read (otlp_json reads it). */
int http_fmt_body(const struct http_fmt *f, struct record *const *recs, size_t n, struct buf *out,
                  size_t *bad);

/* The Content-Type of a format's bodies. */
const char *http_fmt_content_type(int format);

/* Appends in[0..len) compressed as one gzip member (RFC 1952) to out.
 * Returns 0, LG_ETOOBIG or LG_ENOMEM. */
int http_fmt_gzip(const char *in, size_t len, int level, struct buf *out);

#endif

#include "http_fmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "err.h"
#include "json.h"

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

/* ---- templates ---- */

enum { P_PROJECT, P_FUNCTION, P_FUNCTION_NAME, P_KIND, P_LEVEL, P_COUNT };
static const char *const placeholders[P_COUNT] = {"{project}", "{function}", "{function_name}",
                                                  "{kind}", "{level}"};

static int placeholder(const char *p, size_t *len)
{
	for (int i = 0; i < P_COUNT; i++) {
		size_t n = strlen(placeholders[i]);
		if (strncmp(p, placeholders[i], n) == 0) {
			*len = n;
			return i;
		}
	}
	return -1;
}

int http_fmt_template_check(const char *tmpl, char *err, size_t errlen)
{
	for (const char *p = tmpl; *p; p++) {
		size_t len;
		if (*p == '{' && placeholder(p, &len) < 0) {
			snprintf(err, errlen,
			         "unknown placeholder at '%.20s' (use {project}, {function}, "
			         "{function_name}, {kind}, {level})",
			         p);
			return LG_EINVAL;
		}
		if (*p == '%' && !strchr("Ymd%H", p[1] ? p[1] : 'x')) {
			snprintf(err, errlen,
			         "unknown date field at '%.20s' (use %%Y, %%m, %%d, %%H, %%%%)", p);
			return LG_EINVAL;
		}
		if (*p == '%')
			p++;
	}
	return 0;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static const char *field_value(const struct record *r, int f)
{
	switch (f) {
	case P_PROJECT:
		return nz(r->project_id);
	case P_FUNCTION:
		return nz(r->function_id);
	case P_FUNCTION_NAME:
		return nz(r->function_name);
	case P_KIND:
		return record_kind_name(r->kind);
	default:
		return record_level_name(r->level);
	}
}

static void utc(int64_t ms, struct tm *tm)
{
	int64_t sec = ms / 1000 - (ms % 1000 < 0);
	time_t t = (time_t)sec;
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

static char index_char(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if (strchr("\\/*?\"<>|,#: ", c) || (unsigned char)c < 0x20)
		return '_';
	return c;
}

int http_fmt_expand(struct buf *out, const char *tmpl, const struct record *r, bool es_index)
{
	size_t start = out->len;
	struct tm tm;
	bool have_tm = false;
	for (const char *p = tmpl; *p;) {
		size_t len = 1;
		char num[8];
		const char *v = p;
		size_t vlen = 1;
		int f = *p == '{' ? placeholder(p, &len) : -1;
		if (f >= 0) {
			v = field_value(r, f);
			vlen = strlen(v);
		} else if (*p == '%' && p[1]) {
			len = 2;
			if (!have_tm) {
				utc(r->start_ms, &tm);
				have_tm = true;
			}
			int x = p[1] == 'Y'   ? tm.tm_year + 1900
			        : p[1] == 'm' ? tm.tm_mon + 1
			        : p[1] == 'd' ? tm.tm_mday
			        : p[1] == 'H' ? tm.tm_hour
			                      : -1;
			if (x >= 0)
				snprintf(num, sizeof(num), p[1] == 'Y' ? "%04d" : "%02d", x);
			else
				snprintf(num, sizeof(num), "%c", p[1]);
			v = num;
			vlen = strlen(num);
		}
		p += len;
		size_t room = HTTP_FMT_FIELD_MAX - (out->len - start);
		if (vlen > room)
			vlen = room;
		size_t at = out->len;
		TRY(buf_append(out, v, vlen));
		if (es_index)
			for (size_t i = at; i < out->len; i++)
				out->data[i] = index_char(out->data[i]);
	}
	/* A cut may have split a UTF-8 character: drop its first bytes. */
	if (out->len - start == HTTP_FMT_FIELD_MAX) {
		size_t lead = out->len;
		while (lead > start && ((unsigned char)out->data[lead - 1] & 0xC0) == 0x80)
			lead--;
		if (lead > start && ((unsigned char)out->data[lead - 1] & 0x80)) {
			unsigned char c = (unsigned char)out->data[lead - 1];
			size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
			if (out->len - (lead - 1) < need) {
				out->len = lead - 1;
				out->data[out->len] = '\0';
			}
		}
	}
	return 0;
}

/* ---- labels ---- */

static bool label_name_ok(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

int http_fmt_label_parse(const char *item, struct http_fmt_label *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int src;
	} fields[] = {
	    {"function", HTTP_LABEL_FUNCTION}, {"function_id", HTTP_LABEL_FUNCTION_ID},
	    {"project", HTTP_LABEL_PROJECT},   {"level", HTTP_LABEL_LEVEL},
	    {"kind", HTTP_LABEL_KIND},
	};
	const char *eq = strchr(item, '=');
	size_t n = eq ? (size_t)(eq - item) : strlen(item);
	while (n && item[n - 1] == ' ')
		n--;
	if (!label_name_ok(item, n)) {
		snprintf(err, errlen, "'%.40s': a label name is letters, digits and '_'", item);
		return LG_EINVAL;
	}
	out->name = item;
	if (eq) {
		const char *v = eq + 1;
		while (*v == ' ')
			v++;
		out->src = HTTP_LABEL_STATIC;
		out->value = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].name, item) == 0) {
			out->src = fields[i].src;
			out->value = NULL;
			return 0;
		}
	}
	snprintf(err, errlen,
	         "'%.40s' is not a record field (function, function_id, project, level, kind); "
	         "a fixed label is NAME=VALUE",
	         item);
	return LG_EINVAL;
}

static size_t label_name_len(const struct http_fmt_label *l)
{
	size_t n = strcspn(l->name, "=");
	while (n && l->name[n - 1] == ' ')
		n--;
	return n;
}

static const char *label_value(const struct http_fmt_label *l, const struct record *r)
{
	switch (l->src) {
	case HTTP_LABEL_STATIC:
		return l->value;
	case HTTP_LABEL_FUNCTION:
		return r->function_name && *r->function_name ? r->function_name
		                                             : nz(r->function_id);
	case HTTP_LABEL_FUNCTION_ID:
		return nz(r->function_id);
	case HTTP_LABEL_PROJECT:
		return nz(r->project_id);
	case HTTP_LABEL_LEVEL:
		return record_level_name(r->level);
	default:
		return record_kind_name(r->kind);
	}
}

/* ---- pieces ---- */

static int put_str(struct buf *b, const char *s, size_t n)
{
	size_t repairs = 0;
	return json_write_str(b, s, n, &repairs);
}

static int put_cstr(struct buf *b, const char *s)
{
	return put_str(b, s, strlen(s));
}

/* Appends tmpl expanded for r as a JSON string: expanded at the end of
 * out, moved aside, then written back escaped. */
static int put_expanded(struct buf *out, const char *tmpl, const struct record *r, bool es_index)
{
	char tmp[HTTP_FMT_FIELD_MAX];
	size_t at = out->len;
	TRY(http_fmt_expand(out, tmpl, r, es_index));
	size_t n = out->len - at;
	memcpy(tmp, out->data + at, n);
	out->len = at;
	return put_str(out, tmp, n);
}

static int put_time_ms(struct buf *b, int64_t ms)
{
	struct tm tm;
	utc(ms, &tm);
	int frac = (int)(ms % 1000);
	if (frac < 0)
		frac += 1000;
	return buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int put_ns(struct buf *b, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	return buf_printf(b, "\"%lld000000\"", (long long)ms);
}

/* ---- formats ---- */

static int fmt_hec(const struct http_fmt *f, const struct record *r, struct buf *b)
{
	int64_t sec = r->start_ms / 1000, frac = r->start_ms % 1000;
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	TRY(buf_printf(b, "{\"time\":%lld.%03d", (long long)sec, (int)frac));
	if (f->host) {
		TRY(buf_puts(b, ",\"host\":"));
		TRY(put_cstr(b, f->host));
	}
	const char *names[] = {"source", "sourcetype", "index"};
	const char *tmpls[] = {f->source, f->sourcetype, f->index};
	for (size_t i = 0; i < 3; i++) {
		if (!tmpls[i])
			continue;
		TRY(buf_printf(b, ",\"%s\":", names[i]));
		TRY(put_expanded(b, tmpls[i], r, false));
	}
	TRY(buf_puts(b, ",\"event\":"));
	TRY(buf_append(b, r->json, r->json_len));
	return buf_puts(b, "}\n");
}

static int fmt_bulk(const struct http_fmt *f, const struct record *r, struct buf *b)
{
	TRY(buf_printf(b, "{\"%s\":{\"_index\":", f->bulk_index ? "index" : "create"));
	TRY(put_expanded(b, f->index ? f->index : "sinch-functions", r, true));
	size_t idlen = strlen(nz(r->id));
	if (idlen && idlen <= HTTP_FMT_ID_MAX) {
		TRY(buf_puts(b, ",\"_id\":"));
		TRY(put_str(b, r->id, idlen));
	}
	TRY(buf_puts(b, "}}\n{\"@timestamp\":\""));
	TRY(put_time_ms(b, r->start_ms));
	TRY(buf_putc(b, '"'));
	/* The record is a JSON object: its members follow ours. */
	if (r->json_len > 2 && r->json[0] == '{') {
		TRY(buf_putc(b, ','));
		TRY(buf_append(b, r->json + 1, r->json_len - 1));
	} else {
		TRY(buf_putc(b, '}'));
	}
	return buf_putc(b, '\n');
}

/* Loki and OTLP group records: by label set, by function. */
struct slot {
	const char *key; /* into keys.data, once every key is built */
	size_t key_off, key_len;
	int64_t ms;
	size_t i;
};

struct grp {
	size_t a, b;  /* slots [a, b) */
	size_t first; /* the lowest record index in it */
};

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	if (x->ms != y->ms)
		return x->ms < y->ms ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_grp(const void *a, const void *b)
{
	const struct grp *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

static bool same_key(const struct slot *x, const struct slot *y)
{
	return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

static int put_key(const struct http_fmt *f, const struct record *r, struct buf *keys)
{
	if (f->format == HTTP_FMT_LOKI) {
		for (size_t l = 0; l < f->nlabels; l++) {
			TRY(buf_puts(keys, label_value(&f->labels[l], r)));
			TRY(buf_putc(keys, '\0'));
		}
		return 0;
	}
	TRY(buf_puts(keys, nz(r->project_id)));
	TRY(buf_putc(keys, '\0'));
	return buf_puts(keys, nz(r->function_id));
}

/* Groups recs by key (Loki: the label values; OTLP: the function): the
 * slots sorted by key, then time (by_time) or arrival; the groups in order
 * of first appearance. */
struct grouping {
	struct buf keys;
	struct slot *s;
	struct grp *g;
	size_t ng;
};

static void grouping_free(struct grouping *gr)
{
	buf_free(&gr->keys);
	free(gr->s);
	free(gr->g);
}

static int group(const struct http_fmt *f, struct record *const *recs, size_t n, bool by_time,
                 struct grouping *gr)
{
	memset(gr, 0, sizeof(*gr));
	buf_init(&gr->keys, (size_t)1 << 30);
	gr->s = calloc(n ? n : 1, sizeof(*gr->s));
	gr->g = calloc(n ? n : 1, sizeof(*gr->g));
	if (!gr->s || !gr->g)
		return LG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		gr->s[i].key_off = gr->keys.len;
		TRY(put_key(f, recs[i], &gr->keys));
		gr->s[i].key_len = gr->keys.len - gr->s[i].key_off;
		gr->s[i].ms = by_time ? recs[i]->start_ms : 0;
		gr->s[i].i = i;
	}
	for (size_t i = 0; i < n; i++)
		gr->s[i].key = gr->keys.data + gr->s[i].key_off;
	qsort(gr->s, n, sizeof(*gr->s), cmp_slot);
	for (size_t a = 0; a < n;) {
		struct grp *g = &gr->g[gr->ng++];
		g->a = a;
		g->first = gr->s[a].i;
		for (g->b = a; g->b < n && same_key(&gr->s[g->b], &gr->s[a]); g->b++)
			g->first = gr->s[g->b].i < g->first ? gr->s[g->b].i : g->first;
		a = g->b;
	}
	qsort(gr->g, gr->ng, sizeof(*gr->g), cmp_grp);
	return 0;
}

static int loki_stream(const struct http_fmt *f, struct record *const *recs,
                       const struct grouping *gr, const struct grp *g, struct buf *b)
{
	const struct record *r0 = recs[gr->s[g->a].i];
	TRY(buf_puts(b, "{\"stream\":{"));
	for (size_t l = 0; l < f->nlabels; l++) {
		const struct http_fmt_label *lb = &f->labels[l];
		if (l)
			TRY(buf_putc(b, ','));
		TRY(put_str(b, lb->name, label_name_len(lb)));
		TRY(buf_putc(b, ':'));
		TRY(put_cstr(b, label_value(lb, r0)));
	}
	TRY(buf_puts(b, "},\"values\":["));
	for (size_t k = g->a; k < g->b; k++) {
		const struct record *r = recs[gr->s[k].i];
		TRY(buf_puts(b, k > g->a ? ",[" : "["));
		TRY(put_ns(b, r->start_ms));
		TRY(buf_putc(b, ','));
		TRY(put_str(b, r->json, r->json_len));
		TRY(buf_putc(b, ']'));
	}
	return buf_puts(b, "]}");
}

static int fmt_loki(const struct http_fmt *f, struct record *const *recs, size_t n, struct buf *b)
{
	struct grouping gr;
	int rc = group(f, recs, n, true, &gr);
	if (rc == 0)
		rc = buf_puts(b, "{\"streams\":[");
	for (size_t k = 0; k < gr.ng && rc == 0; k++) {
		if (k)
			rc = buf_putc(b, ',');
		if (rc == 0)
			rc = loki_stream(f, recs, &gr, &gr.g[k], b);
	}
	if (rc == 0)
		rc = buf_puts(b, "]}");
	grouping_free(&gr);
	return rc;
}

static int otlp_attr_str(struct buf *b, bool *first, const char *key, const char *v, size_t n)
{
	TRY(buf_puts(b, *first ? "{\"key\":\"" : ",{\"key\":\""));
	*first = false;
	TRY(buf_puts(b, key));
	TRY(buf_puts(b, "\",\"value\":{\"stringValue\":"));
	TRY(put_str(b, v, n));
	return buf_puts(b, "}}");
}

/* A JSON number token as an OTLP value: an integer as intValue (a string
 * in OTLP JSON), anything else as doubleValue. */
static int otlp_attr_num(struct buf *b, bool *first, const char *key, const char *v, size_t n)
{
	bool integer = n <= 18 && !memchr(v, '.', n) && !memchr(v, 'e', n) && !memchr(v, 'E', n);
	TRY(buf_puts(b, *first ? "{\"key\":\"" : ",{\"key\":\""));
	*first = false;
	TRY(buf_puts(b, key));
	TRY(buf_puts(b,
	             integer ? "\",\"value\":{\"intValue\":\"" : "\",\"value\":{\"doubleValue\":"));
	TRY(buf_append(b, v, n));
	return buf_puts(b, integer ? "\"}}" : "}}");
}

static int otlp_severity(int level, const char **text)
{
	switch (level) {
	case RECORD_DEBUG:
		*text = "DEBUG";
		return 5;
	case RECORD_WARNING:
		*text = "WARN";
		return 13;
	case RECORD_ERROR:
		*text = "ERROR";
		return 17;
	default:
		*text = "INFO";
		return 9;
	}
}

static int otlp_record(struct json_doc *d, const struct record *r, struct buf *b)
{
	int rc = json_parse(d, r->json, r->json_len);
	if (rc < 0 || d->toks[0].type != JSON_OBJECT)
		return rc == LG_ENOMEM ? rc : LG_EPARSE;
	const char *sev_text;
	int sev = otlp_severity(r->level, &sev_text);
	TRY(buf_puts(b, "{\"timeUnixNano\":"));
	TRY(put_ns(b, r->start_ms));
	TRY(buf_printf(
	    b, ",\"severityNumber\":%d,\"severityText\":\"%s\",\"body\":{\"stringValue\":", sev,
	    sev_text));
	TRY(put_str(b, r->json, r->json_len));
	TRY(buf_puts(b, "},\"attributes\":["));
	bool first = true;
	TRY(otlp_attr_str(b, &first, "log.record.uid", nz(r->id), strlen(nz(r->id))));
	const char *kind = record_kind_name(r->kind);
	TRY(otlp_attr_str(b, &first, "sinch.kind", kind, strlen(kind)));
	int t = json_obj_get(d, 0, "method");
	if (t >= 0 && d->toks[t].type == JSON_STRING) {
		TRY(buf_puts(b, ",{\"key\":\"http.request.method\",\"value\":{\"stringValue\":"));
		size_t repairs = 0;
		TRY(json_write_strtok(b, d, t, &repairs));
		TRY(buf_puts(b, "}}"));
	}
	t = json_obj_get(d, 0, "status");
	if (t >= 0 && d->toks[t].type == JSON_NUMBER)
		TRY(otlp_attr_num(b, &first, "http.response.status_code", json_text(d, t),
		                  d->toks[t].len));
	t = json_obj_get(d, 0, "duration_ms");
	if (t >= 0 && d->toks[t].type == JSON_NUMBER) {
		/* Always a double: the semantic is a measurement. */
		TRY(buf_puts(b, ",{\"key\":\"sinch.duration_ms\",\"value\":{\"doubleValue\":"));
		TRY(buf_append(b, json_text(d, t), d->toks[t].len));
		TRY(buf_puts(b, "}}"));
	}
	return buf_puts(b, "]}");
}

static int otlp_resource(struct json_doc *d, struct record *const *recs, const struct grouping *gr,
                         const struct grp *g, struct buf *b, size_t *bad)
{
	const struct record *r0 = recs[gr->s[g->a].i];
	const char *service =
	    r0->function_name && *r0->function_name ? r0->function_name : nz(r0->function_id);
	bool first = true;
	TRY(buf_puts(b, "{\"resource\":{\"attributes\":["));
	TRY(otlp_attr_str(b, &first, "service.name", service, strlen(service)));
	if (r0->project_id)
		TRY(otlp_attr_str(b, &first, "sinch.project_id", r0->project_id,
		                  strlen(r0->project_id)));
	if (r0->function_id)
		TRY(otlp_attr_str(b, &first, "sinch.function_id", r0->function_id,
		                  strlen(r0->function_id)));
	TRY(buf_puts(b, "]},\"scopeLogs\":[{\"scope\":{\"name\":\"sinch-logd\"},\"logRecords\":["));
	for (size_t k = g->a; k < g->b; k++) {
		if (k > g->a)
			TRY(buf_putc(b, ','));
		int rc = otlp_record(d, recs[gr->s[k].i], b);
		if (rc == LG_EPARSE)
			*bad = gr->s[k].i;
		TRY(rc);
	}
	return buf_puts(b, "]}]}");
}

static int fmt_otlp(const struct http_fmt *f, struct record *const *recs, size_t n, struct buf *b,
                    size_t *bad)
{
	size_t maxlen = 0;
	for (size_t i = 0; i < n; i++)
		maxlen = recs[i]->json_len > maxlen ? recs[i]->json_len : maxlen;
	struct json_doc d;
	json_doc_init(&d, (uint32_t)(maxlen + 1 < UINT32_MAX ? maxlen + 1 : UINT32_MAX));
	struct grouping gr;
	int rc = group(f, recs, n, false, &gr);
	if (rc == 0)
		rc = buf_puts(b, "{\"resourceLogs\":[");
	for (size_t k = 0; k < gr.ng && rc == 0; k++) {
		if (k)
			rc = buf_putc(b, ',');
		if (rc == 0)
			rc = otlp_resource(&d, recs, &gr, &gr.g[k], b, bad);
	}
	if (rc == 0)
		rc = buf_puts(b, "]}");
	json_doc_free(&d);
	grouping_free(&gr);
	return rc;
}

int http_fmt_body(const struct http_fmt *f, struct record *const *recs, size_t n, struct buf *out,
                  size_t *bad)
{
	switch (f->format) {
	case HTTP_FMT_LOKI:
		return fmt_loki(f, recs, n, out);
	case HTTP_FMT_OTLP_JSON:
		return fmt_otlp(f, recs, n, out, bad);
	case HTTP_FMT_JSON_ARRAY:
		TRY(buf_putc(out, '['));
		for (size_t i = 0; i < n; i++) {
			if (i)
				TRY(buf_putc(out, ','));
			TRY(buf_append(out, recs[i]->json, recs[i]->json_len));
		}
		return buf_putc(out, ']');
	default:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		const struct record *r = recs[i];
		if (f->format == HTTP_FMT_SPLUNK_HEC)
			TRY(fmt_hec(f, r, out));
		else if (f->format == HTTP_FMT_ES_BULK)
			TRY(fmt_bulk(f, r, out));
		else {
			TRY(buf_append(out, r->json, r->json_len));
			TRY(buf_putc(out, '\n'));
		}
	}
	return 0;
}

const char *http_fmt_content_type(int format)
{
	switch (format) {
	case HTTP_FMT_NDJSON:
	case HTTP_FMT_ES_BULK:
		return "application/x-ndjson";
	default:
		return "application/json";
	}
}

int http_fmt_gzip(const char *in, size_t len, int level, struct buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer around the deflate stream. */
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return LG_ENOMEM;
	int rc = buf_reserve(out, deflateBound(&z, len) + 1);
	if (rc < 0) {
		deflateEnd(&z);
		return rc;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	int zr = Z_OK;
	while (zr == Z_OK) {
		if (out->cap - out->len < 2 && (rc = buf_reserve(out, 65536)) < 0)
			break;
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = z.avail_out;
		zr = deflate(&z, Z_FINISH);
		out->len += before - z.avail_out;
	}
	deflateEnd(&z);
	if (rc < 0)
		return rc;
	out->data[out->len] = '\0';
	return zr == Z_STREAM_END ? 0 : LG_ENOMEM;
}

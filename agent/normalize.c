#include "normalize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

/* ---- the writer: errors are sticky, checked once at the end ---- */

struct writer {
	struct buf *b;
	const struct json_doc *d;
	size_t repairs;
	int rc;
};

static void w_raw(struct writer *w, const char *s, size_t n)
{
	if (!w->rc)
		w->rc = buf_append(w->b, s, n);
}

/* Only for string literals: sizeof of a pointer would be wrong. */
#define W_LIT(w, lit) w_raw(w, "" lit, sizeof(lit) - 1)

static void w_cs(struct writer *w, const char *s)
{
	w_raw(w, s, strlen(s));
}

static void w_str(struct writer *w, const char *s, size_t n)
{
	if (!w->rc)
		w->rc = json_write_str(w->b, s, n, &w->repairs);
}

static void w_cstr_or_null(struct writer *w, const char *s)
{
	if (s)
		w_str(w, s, strlen(s));
	else
		W_LIT(w, "null");
}

static void w_tok(struct writer *w, int tok)
{
	if (!w->rc)
		w->rc = json_write_strtok(w->b, w->d, tok, &w->repairs);
}

static void w_val(struct writer *w, int tok)
{
	if (!w->rc)
		w->rc = json_write_value(w->b, w->d, tok, &w->repairs);
}

static void w_time(struct writer *w, int64_t ms)
{
	char t[NORM_TIME_LEN];
	size_t n = norm_format_time(ms, t);
	w_raw(w, "\"", 1);
	w_raw(w, t, n);
	w_raw(w, "\"", 1);
}

/* ---- fields ---- */

enum field {
	F_ID,
	F_METHOD,
	F_URL,
	F_STATUS,
	F_DURATION,
	F_MEMORY,
	F_START,
	F_TIMESTAMP,
	F_END,
	F_LOGS,
	F_FUNCTION_ID,
	F_REQ_HEADERS,
	F_REQ_BODY,
	F_RESP_HEADERS,
	F_RESP_BODY,
	F_REQUEST,
	F_RESPONSE,
	F_COUNT,
	F_UNKNOWN = -1,
};

struct key {
	const char *name;
	size_t len;
	enum field f;
};

#define K(name, f)                                                                                 \
	{                                                                                          \
		name, sizeof(name) - 1, f                                                          \
	}

static const struct key top_keys[] = {
    K("id", F_ID),
    K("httpMethod", F_METHOD),
    K("url", F_URL),
    K("statusCode", F_STATUS),
    K("executionTimeMs", F_DURATION),
    K("memoryUsedMB", F_MEMORY),
    K("startTime", F_START),
    K("timestamp", F_TIMESTAMP),
    K("endTime", F_END),
    K("logs", F_LOGS),
    K("functionId", F_FUNCTION_ID),
    K("requestHeaders", F_REQ_HEADERS),
    K("requestBody", F_REQ_BODY),
    K("responseHeaders", F_RESP_HEADERS),
    K("responseBody", F_RESP_BODY),
    K("request", F_REQUEST),
    K("response", F_RESPONSE),
    {NULL, 0, F_UNKNOWN},
};

static const struct key request_keys[] = {
    K("method", F_METHOD), K("url", F_URL),      K("headers", F_REQ_HEADERS),
    K("body", F_REQ_BODY), {NULL, 0, F_UNKNOWN},
};

static const struct key response_keys[] = {
    K("statusCode", F_STATUS),
    K("headers", F_RESP_HEADERS),
    K("body", F_RESP_BODY),
    {NULL, 0, F_UNKNOWN},
};

static enum field lookup(const struct json_doc *d, int key, const struct key *table)
{
	for (const struct key *k = table; k->name; k++)
		if (json_str_eq(d, key, k->name, k->len))
			return k->f;
	return F_UNKNOWN;
}

enum disposition { D_TAKE, D_DROP, D_EXTRA };

struct event {
	const struct norm_ctx *ctx;
	const struct json_doc *d;
	int slot[F_COUNT];
	int64_t start_ms, ts_ms, end_ms;
	size_t nextra;
};

static bool is_type(const struct json_doc *d, int v, int type)
{
	return d->toks[v].type == type;
}

/* Years 0000-9999: what norm_format_time can write back. */
static bool time_ok(int64_t ms)
{
	return ms >= -62167219200000 && ms <= 253402300799999;
}

static bool tok_time(const struct json_doc *d, int v, int64_t *ms)
{
	return is_type(d, v, JSON_STRING) && !(d->toks[v].flags & JSON_F_ESCAPED) &&
	       norm_parse_time(json_text(d, v), d->toks[v].len, ms) == 0 && time_ok(*ms);
}

/* What to do with known field f whose value is v. */
static enum disposition dispose(struct event *e, enum field f, int v, int64_t *ms)
{
	const struct json_doc *d = e->d;
	int type = d->toks[v].type;
	if (f == F_UNKNOWN)
		return D_EXTRA;
	if (type == JSON_NULL)
		return D_DROP;
	switch (f) {
	case F_ID:
		return type == JSON_NUMBER || (type == JSON_STRING && d->toks[v].len) ? D_TAKE
		                                                                      : D_EXTRA;
	case F_METHOD:
	case F_URL:
		return type == JSON_STRING ? D_TAKE : D_EXTRA;
	case F_STATUS:
	case F_DURATION:
	case F_MEMORY:
		return type == JSON_NUMBER || type == JSON_STRING ? D_TAKE : D_EXTRA;
	case F_START:
	case F_TIMESTAMP:
	case F_END:
		return tok_time(d, v, ms) ? D_TAKE : D_EXTRA;
	case F_LOGS:
		return type == JSON_ARRAY ? D_TAKE : D_EXTRA;
	case F_FUNCTION_ID: {
		const char *fid = e->ctx->function_id;
		return fid && json_str_eq(d, v, fid, strlen(fid)) ? D_DROP : D_EXTRA;
	}
	case F_REQ_HEADERS:
	case F_RESP_HEADERS:
		/* Anything else could hide a secret we cannot find. */
		return type == JSON_OBJECT || type == JSON_ARRAY ? D_TAKE : D_DROP;
	case F_REQ_BODY:
	case F_RESP_BODY:
		return D_TAKE;
	case F_REQUEST:
	case F_RESPONSE:
		return type == JSON_OBJECT ? D_TAKE : D_EXTRA;
	default:
		return D_EXTRA;
	}
}

static void take(struct event *e, enum field f, int v, int64_t ms)
{
	e->slot[f] = v;
	if (f == F_START)
		e->start_ms = ms;
	else if (f == F_TIMESTAMP)
		e->ts_ms = ms;
	else if (f == F_END)
		e->end_ms = ms;
}

static void scan_members(struct event *e, int obj, const struct key *table)
{
	const struct json_doc *d = e->d;
	int k = obj + 1;
	for (uint32_t m = 0; m < d->toks[obj].size; m++) {
		int v = k + 1;
		enum field f = lookup(d, k, table);
		int64_t ms = 0;
		switch (dispose(e, f, v, &ms)) {
		case D_TAKE:
			take(e, f, v, ms);
			if (f == F_REQUEST)
				scan_members(e, v, request_keys);
			else if (f == F_RESPONSE)
				scan_members(e, v, response_keys);
			break;
		case D_EXTRA:
			e->nextra++;
			break;
		case D_DROP:
			break;
		}
		k = (int)d->toks[v].next;
	}
}

/* Writes the members of obj that go to extra; returns how many. */
static size_t write_extra_members(struct writer *w, struct event *e, int obj,
                                  const struct key *table, size_t nwritten)
{
	const struct json_doc *d = e->d;
	int k = obj + 1;
	for (uint32_t m = 0; m < d->toks[obj].size; m++) {
		int v = k + 1;
		enum field f = lookup(d, k, table);
		int64_t ms;
		enum disposition disp = dispose(e, f, v, &ms);
		if (disp == D_EXTRA) {
			if (nwritten++)
				W_LIT(w, ",");
			w_tok(w, k);
			W_LIT(w, ":");
			w_val(w, v);
		} else if (disp == D_TAKE && (f == F_REQUEST || f == F_RESPONSE)) {
			const struct key *sub = f == F_REQUEST ? request_keys : response_keys;
			size_t mark = w->b->len;
			if (nwritten)
				W_LIT(w, ",");
			w_cs(w, f == F_REQUEST ? "\"request\":{" : "\"response\":{");
			if (write_extra_members(w, e, v, sub, 0)) {
				W_LIT(w, "}");
				nwritten++;
			} else if (!w->rc) {
				w->b->len = mark;
			}
		}
		k = (int)d->toks[v].next;
	}
	return nwritten;
}

/* ---- values ---- */

/* A number field: numbers as they are, numeric strings as numbers, other
 * strings as strings. */
static void w_number(struct writer *w, int v)
{
	const struct json_tok *t = &w->d->toks[v];
	if (t->type == JSON_STRING && !(t->flags & JSON_F_ESCAPED) &&
	    json_is_number(json_text(w->d, v), t->len))
		w_raw(w, json_text(w->d, v), t->len);
	else
		w_val(w, v);
}

/* The number text of a number field, or NULL (len set) if it has none. */
static const char *number_text(const struct json_doc *d, int v, size_t *len)
{
	const struct json_tok *t = &d->toks[v];
	if (t->type == JSON_STRING &&
	    (t->flags & JSON_F_ESCAPED || !json_is_number(json_text(d, v), t->len)))
		return NULL;
	*len = t->len;
	return json_text(d, v);
}

static int status_level(const struct json_doc *d, int v)
{
	size_t n;
	const char *s = number_text(d, v, &n);
	if (!s || n != 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
	    s[2] > '9')
		return -1;
	return s[0] == '5' ? RECORD_ERROR : s[0] == '4' ? RECORD_WARNING : -1;
}

/* The duration in whole ms, or -1. */
static int64_t duration_ms(const struct json_doc *d, int v)
{
	size_t n;
	const char *s = number_text(d, v, &n);
	char tmp[64];
	if (!s || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	double ms = strtod(tmp, NULL);
	return ms >= 0 && ms < 1e13 ? (int64_t)ms : -1;
}

static bool name_in(const char *name, size_t n, const struct opt_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		if (strlen(list->items[i]) == n && strncasecmp(list->items[i], name, n) == 0)
			return true;
	return false;
}

static char *default_redact[] = {"Authorization", "Cookie", "Set-Cookie", "X-Api-Key"};
static const struct opt_list default_redact_list = {default_redact, 4};

static bool redacted_header(const struct json_doc *d, int name, const struct opt_list *deny)
{
	char tmp[256];
	if (!is_type(d, name, JSON_STRING))
		return false;
	long n = json_unescape(d, name, tmp, sizeof(tmp));
	return n >= 0 && name_in(tmp, (size_t)n, deny);
}

/* Object {name: value} or array of [name, value] / {name|key, value}. */
static void w_headers(struct writer *w, const struct norm_ctx *ctx, int v)
{
	const struct json_doc *d = w->d;
	const struct opt_list *deny =
	    ctx->redact_headers ? ctx->redact_headers : &default_redact_list;
	bool obj = is_type(d, v, JSON_OBJECT);
	size_t nwritten = 0;
	w_cs(w, obj ? "{" : "[");
	int c = v + 1;
	for (uint32_t m = 0; m < d->toks[v].size; m++) {
		int val = obj ? c + 1 : c;
		int name = -1;
		if (obj)
			name = c;
		else if (is_type(d, c, JSON_ARRAY) && d->toks[c].size > 0)
			name = c + 1;
		else if (is_type(d, c, JSON_OBJECT) && (name = json_obj_get(d, c, "name")) < 0)
			name = json_obj_get(d, c, "key");
		if (name < 0 || !redacted_header(d, name, deny)) {
			if (nwritten++)
				W_LIT(w, ",");
			if (obj) {
				w_tok(w, c);
				W_LIT(w, ":");
			}
			w_val(w, val);
		}
		c = (int)d->toks[val].next;
	}
	w_cs(w, obj ? "}" : "]");
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool query_name_redacted(const char *s, size_t n, const struct opt_list *deny)
{
	char name[256];
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o == sizeof(name))
			return false;
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexdig(s[i + 1])) >= 0 &&
		    (lo = hexdig(s[i + 2])) >= 0) {
			name[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			name[o++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	return name_in(name, o, deny);
}

/* The url with the values of deny-listed query parameters replaced; the
 * rest byte for byte. */
static void w_url(struct writer *w, struct norm_scratch *s, const struct norm_ctx *ctx, int v)
{
	const struct json_doc *d = w->d;
	const struct json_tok *t = &d->toks[v];
	const struct opt_list *deny = ctx->redact_query;
	if (!deny || !deny->n) {
		w_tok(w, v);
		return;
	}
	/* Unescaped first, so an escaped '?' or '&' cannot hide a parameter. */
	struct buf *u = &s->url;
	buf_reset(u);
	if (buf_reserve(u, t->len)) {
		w->rc = LG_ETOOBIG;
		return;
	}
	long n = json_unescape(d, v, u->data, t->len);
	u->len = (size_t)n;
	const char *q = memchr(u->data, '?', u->len);
	if (!q) {
		w_tok(w, v);
		return;
	}
	size_t qs = (size_t)(q - u->data) + 1;
	const char *hash = memchr(u->data + qs, '#', u->len - qs);
	size_t qe = hash ? (size_t)(hash - u->data) : u->len;
	/* Appending from u to itself is safe only without a realloc: reserve
	 * the worst case (every parameter masked) first. */
	size_t params = 1;
	for (size_t i = qs; i < qe; i++)
		params += u->data[i] == '&';
	int rc = buf_reserve(u, (size_t)n + 8 * params);
	if (rc) {
		w->rc = rc;
		return;
	}
	bool changed = false;
	rc = buf_append(u, u->data, qs);
	for (size_t p = qs; p < qe && !rc;) {
		const char *amp = memchr(u->data + p, '&', qe - p);
		size_t pe = amp ? (size_t)(amp - u->data) : qe;
		const char *eq = memchr(u->data + p, '=', pe - p);
		if (eq && query_name_redacted(u->data + p, (size_t)(eq - u->data) - p, deny)) {
			size_t ne = (size_t)(eq - u->data) + 1;
			if (!(rc = buf_append(u, u->data + p, ne - p)))
				rc = buf_append(u, "REDACTED", 8);
			changed = true;
		} else {
			rc = buf_append(u, u->data + p, pe - p);
		}
		if (!rc && pe < qe)
			rc = buf_putc(u, '&');
		p = pe + 1;
	}
	if (!rc)
		rc = buf_append(u, u->data + qe, (size_t)n - qe);
	if (rc) {
		w->rc = rc;
		return;
	}
	if (changed)
		w_str(w, u->data + n, u->len - (size_t)n);
	else
		w_tok(w, v);
}

static int line_level(const struct json_doc *d, int v)
{
	char tmp[32];
	long n = v >= 0 && is_type(d, v, JSON_STRING) ? json_unescape(d, v, tmp, sizeof(tmp)) : -1;
	int level = n >= 0 ? record_level_parse(tmp, (size_t)n) : -1;
	return level < 0 ? RECORD_INFO : level;
}

/* One console line: level, time, message first, its other members after.
 * Returns its level. */
static int w_line(struct writer *w, int c)
{
	const struct json_doc *d = w->d;
	if (!is_type(d, c, JSON_OBJECT)) {
		W_LIT(w, "{\"level\":\"info\",\"message\":");
		w_val(w, c);
		W_LIT(w, "}");
		return RECORD_INFO;
	}
	int lv = json_obj_get(d, c, "level");
	int msg = json_obj_get(d, c, "message");
	int ts = json_obj_get(d, c, "timestamp");
	int64_t ms = 0;
	bool has_time = ts >= 0 && tok_time(d, ts, &ms);
	int level = line_level(d, lv);
	W_LIT(w, "{\"level\":\"");
	w_cs(w, record_level_name(level));
	W_LIT(w, "\"");
	if (has_time) {
		W_LIT(w, ",\"time\":");
		w_time(w, ms);
	}
	if (msg >= 0) {
		W_LIT(w, ",\"message\":");
		w_val(w, msg);
	}
	int k = c + 1;
	for (uint32_t m = 0; m < d->toks[c].size; m++) {
		int v = k + 1;
		if (!json_str_eq(d, k, "level", 5) && !json_str_eq(d, k, "message", 7) &&
		    !(has_time && json_str_eq(d, k, "timestamp", 9))) {
			W_LIT(w, ",");
			w_tok(w, k);
			W_LIT(w, ":");
			w_val(w, v);
		}
		k = (int)d->toks[v].next;
	}
	W_LIT(w, "}");
	return level;
}

/* Returns the highest level of the lines, -1 when there are none. */
static int w_logs(struct writer *w, int v)
{
	int level = -1;
	W_LIT(w, "[");
	if (v >= 0) {
		int c = v + 1;
		for (uint32_t m = 0; m < w->d->toks[v].size; m++) {
			if (m)
				W_LIT(w, ",");
			int l = w_line(w, c);
			if (l > level)
				level = l;
			c = (int)w->d->toks[c].next;
		}
	}
	W_LIT(w, "]");
	return level;
}

static void w_exchange(struct writer *w, const struct norm_ctx *ctx, const char *key, int headers,
                       int body)
{
	if (!ctx->include_bodies)
		body = -1;
	if (headers < 0 && body < 0)
		return;
	w_cs(w, key);
	if (headers >= 0) {
		W_LIT(w, "\"headers\":");
		w_headers(w, ctx, headers);
	}
	if (body >= 0) {
		w_cs(w, headers >= 0 ? ",\"body\":" : "\"body\":");
		w_val(w, body);
	}
	W_LIT(w, "}");
}

static char *make_id(const struct json_doc *d, int v, const char *data, size_t len)
{
	char *id;
	if (v >= 0) {
		const struct json_tok *t = &d->toks[v];
		id = malloc(t->len + 1);
		if (id) {
			memcpy(id, json_text(d, v), t->len);
			id[t->len] = '\0';
		}
	} else {
		id = malloc(19);
		if (id)
			snprintf(id, 19, "h:%016llx", (unsigned long long)record_hash(data, len));
	}
	return id;
}

static int bad(struct norm_stats *st, const char **why, const char *reason)
{
	st->malformed++;
	*why = reason;
	return LG_EPARSE;
}

/* Builds the record's JSON in s->out. */
static int build(struct norm_scratch *s, struct event *e, const char *data, size_t len, int *level,
                 size_t *repairs)
{
	const struct norm_ctx *ctx = e->ctx;
	const struct json_doc *d = e->d;
	const int *f = e->slot;
	int64_t start = f[F_START] >= 0 ? e->start_ms : e->ts_ms;
	int64_t end = e->end_ms;
	bool has_end = f[F_END] >= 0;
	if (!has_end && f[F_DURATION] >= 0 && duration_ms(d, f[F_DURATION]) >= 0) {
		end = start + duration_ms(d, f[F_DURATION]);
		has_end = time_ok(end);
	}

	struct writer lw = {.b = &s->logs, .d = d};
	buf_reset(&s->logs);
	int lvl = w_logs(&lw, f[F_LOGS]);
	int sl = f[F_STATUS] >= 0 ? status_level(d, f[F_STATUS]) : -1;
	if (sl > lvl)
		lvl = sl;
	*level = lvl < 0 ? RECORD_INFO : lvl;

	struct writer w = {.b = &s->out, .d = d, .rc = lw.rc};
	buf_reset(&s->out);
	W_LIT(&w, "{\"schema\":1,\"kind\":\"request\",\"time\":");
	w_time(&w, start);
	if (has_end) {
		W_LIT(&w, ",\"end_time\":");
		w_time(&w, end);
	}
	W_LIT(&w, ",\"project_id\":");
	w_cstr_or_null(&w, ctx->project_id);
	W_LIT(&w, ",\"function_id\":");
	w_cstr_or_null(&w, ctx->function_id);
	if (ctx->function_name) {
		W_LIT(&w, ",\"function_name\":");
		w_cstr_or_null(&w, ctx->function_name);
	}
	W_LIT(&w, ",\"id\":");
	if (f[F_ID] < 0) {
		char id[24];
		int n = snprintf(id, sizeof(id), "\"h:%016llx\"",
		                 (unsigned long long)record_hash(data, len));
		w_raw(&w, id, (size_t)n);
	} else if (is_type(d, f[F_ID], JSON_NUMBER)) {
		W_LIT(&w, "\"");
		w_val(&w, f[F_ID]);
		W_LIT(&w, "\"");
	} else {
		w_tok(&w, f[F_ID]);
	}
	W_LIT(&w, ",\"level\":\"");
	w_cs(&w, record_level_name((enum record_level) * level));
	W_LIT(&w, "\"");
	if (f[F_METHOD] >= 0) {
		W_LIT(&w, ",\"method\":");
		w_tok(&w, f[F_METHOD]);
	}
	if (f[F_URL] >= 0) {
		W_LIT(&w, ",\"url\":");
		w_url(&w, s, ctx, f[F_URL]);
	}
	static const struct {
		enum field f;
		const char *key;
	} nums[] = {
	    {F_STATUS, ",\"status\":"},
	    {F_DURATION, ",\"duration_ms\":"},
	    {F_MEMORY, ",\"memory_mb\":"},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (f[nums[i].f] >= 0) {
			w_cs(&w, nums[i].key);
			w_number(&w, f[nums[i].f]);
		}
	}
	W_LIT(&w, ",\"logs\":");
	w_raw(&w, s->logs.data, s->logs.len);
	w_exchange(&w, ctx, ",\"request\":{", f[F_REQ_HEADERS], f[F_REQ_BODY]);
	w_exchange(&w, ctx, ",\"response\":{", f[F_RESP_HEADERS], f[F_RESP_BODY]);
	if (ctx->labels_json && ctx->labels_json[0]) {
		W_LIT(&w, ",\"labels\":");
		w_cs(&w, ctx->labels_json);
	}
	if (ctx->host || ctx->version) {
		W_LIT(&w, ",\"agent\":{");
		if (ctx->host) {
			W_LIT(&w, "\"host\":");
			w_cstr_or_null(&w, ctx->host);
		}
		if (ctx->version) {
			w_cs(&w, ctx->host ? ",\"version\":" : "\"version\":");
			w_cstr_or_null(&w, ctx->version);
		}
		W_LIT(&w, "}");
	}
	if (e->nextra) {
		W_LIT(&w, ",\"extra\":{");
		write_extra_members(&w, e, 0, top_keys, 0);
		W_LIT(&w, "}");
	}
	W_LIT(&w, "}");
	*repairs = w.repairs + lw.repairs;
	return w.rc;
}

int norm_event(const struct norm_ctx *ctx, struct norm_scratch *s, const char *data, size_t len,
               struct record **out, struct norm_stats *st, const char **why)
{
	struct norm_stats dummy;
	if (!st)
		st = &dummy;
	*out = NULL;
	*why = NULL;
	if (len > s->max_event) {
		st->oversized++;
		*why = "event too large";
		return LG_ETOOBIG;
	}
	const struct json_doc *d = &s->doc;
	int rc = json_parse(&s->doc, data, len);
	if (rc == LG_EPARSE) {
		snprintf(s->why, sizeof(s->why), "invalid JSON at byte %zu: %s", d->err_off,
		         d->err);
		return bad(st, why, s->why);
	}
	if (rc) {
		if (rc == LG_ETOOBIG) {
			st->oversized++;
			*why = "too many JSON tokens";
		}
		return rc;
	}
	if (d->toks[0].type != JSON_OBJECT) {
		return bad(st, why, "not a JSON object");
	}
	struct event e = {.ctx = ctx, .d = d};
	for (int i = 0; i < F_COUNT; i++)
		e.slot[i] = -1;
	scan_members(&e, 0, top_keys);
	if (e.slot[F_START] < 0 && e.slot[F_TIMESTAMP] < 0) {
		bool present =
		    json_obj_get(d, 0, "startTime") >= 0 || json_obj_get(d, 0, "timestamp") >= 0;
		return bad(st, why, present ? "invalid start time" : "missing start time");
	}
	int level;
	size_t repairs = 0;
	rc = build(s, &e, data, len, &level, &repairs);
	if (rc) {
		if (rc == LG_ETOOBIG) {
			st->oversized++;
			*why = "record too large";
		}
		return rc;
	}
	char *id = make_id(d, e.slot[F_ID], data, len);
	char *json = malloc(s->out.len + 1);
	if (!id || !json) {
		free(id);
		free(json);
		return LG_ENOMEM;
	}
	memcpy(json, s->out.data, s->out.len + 1);
	struct record *r = record_new(RECORD_REQUEST, id, json, s->out.len);
	if (!r)
		return LG_ENOMEM;
	r->level = (enum record_level)level;
	r->start_ms = e.slot[F_START] >= 0 ? e.start_ms : e.ts_ms;
	r->id_hash = record_hash(r->id, strlen(r->id));
	r->project_id = ctx->project_id;
	r->function_id = ctx->function_id;
	r->function_name = ctx->function_name;
	st->ok++;
	if (repairs) {
		st->utf8_repaired++;
		st->utf8_replaced += repairs;
	}
	*out = r;
	return 0;
}

void norm_scratch_init(struct norm_scratch *s, size_t max_event_size)
{
	memset(s, 0, sizeof(*s));
	s->max_event = max_event_size;
	uint64_t toks = (uint64_t)max_event_size + 1;
	json_doc_init(&s->doc, toks > UINT32_MAX ? UINT32_MAX : (uint32_t)toks);
	buf_init(&s->out, 3 * max_event_size + (1u << 20));
	buf_init(&s->logs, 3 * max_event_size + (1u << 20));
	buf_init(&s->url, 5 * max_event_size + 64);
}

void norm_scratch_free(struct norm_scratch *s)
{
	json_doc_free(&s->doc);
	buf_free(&s->out);
	buf_free(&s->logs);
	buf_free(&s->url);
}

#include "ctlrec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "normalize.h"

#define CTLREC_MAX_ANSWER (16u << 20)

struct w {
	struct buf b;
	struct json_doc d;
	size_t repairs;
	int rc;
};

static void raw(struct w *w, const char *s)
{
	if (!w->rc)
		w->rc = buf_puts(&w->b, s);
}

static void str(struct w *w, const char *s)
{
	if (w->rc)
		return;
	if (s)
		w->rc = json_write_str(&w->b, s, strlen(s), &w->repairs);
	else
		w->rc = buf_puts(&w->b, "null");
}

static void val(struct w *w, int tok)
{
	if (!w->rc)
		w->rc = json_write_value(&w->b, &w->d, tok, &w->repairs);
}

static void key(struct w *w, const char *k)
{
	raw(w, ",\"");
	raw(w, k);
	raw(w, "\":");
}

static int open_doc(struct w *w, const char *answer, size_t len)
{
	memset(w, 0, sizeof(*w));
	buf_init(&w->b, 3 * (size_t)len + (1u << 20));
	if (len > CTLREC_MAX_ANSWER)
		return LG_ETOOBIG;
	json_doc_init(&w->d, (uint32_t)len + 1);
	int rc = json_parse(&w->d, answer, len);
	if (rc == 0 && w->d.toks[0].type != JSON_OBJECT)
		rc = LG_EPARSE;
	return rc;
}

static void close_doc(struct w *w)
{
	json_doc_free(&w->d);
	buf_free(&w->b);
}

/* schema … level, the common head of every control record. */
static void head(struct w *w, const struct ctlrec_ctx *c, const char *kind, const char *id,
                 enum record_level level)
{
	char ts[NORM_TIME_LEN];
	norm_format_time(c->now_ms, ts);
	raw(w, "{\"schema\":1,\"kind\":\"");
	raw(w, kind);
	raw(w, "\",\"time\":\"");
	raw(w, ts);
	raw(w, "\"");
	key(w, "project_id");
	str(w, c->project_id);
	key(w, "function_id");
	str(w, c->function_id);
	if (c->function_name) {
		key(w, "function_name");
		str(w, c->function_name);
	}
	key(w, "id");
	str(w, id);
	key(w, "level");
	raw(w, "\"");
	raw(w, record_level_name(level));
	raw(w, "\"");
}

static void tail(struct w *w, const struct ctlrec_ctx *c)
{
	if (c->labels_json && c->labels_json[0]) {
		key(w, "labels");
		raw(w, c->labels_json);
	}
	if (c->host || c->version) {
		key(w, "agent");
		raw(w, "{\"host\":");
		str(w, c->host);
		raw(w, ",\"version\":");
		str(w, c->version);
		raw(w, "}");
	}
}

/* Writes ,"extra":{…} with the members of the root not named in known (nor
 * arrays, with skip_arrays). */
static void extra(struct w *w, const char *const *known, bool skip_arrays)
{
	const struct json_doc *d = &w->d;
	bool any = false;
	int k = 1;
	for (uint32_t m = 0; m < d->toks[0].size; m++) {
		bool skip = skip_arrays && d->toks[k + 1].type == JSON_ARRAY;
		for (const char *const *n = known; *n && !skip; n++)
			skip = json_str_eq(d, k, *n, strlen(*n));
		if (!skip) {
			raw(w, any ? "," : ",\"extra\":{");
			if (!w->rc)
				w->rc = json_write_strtok(&w->b, d, k, &w->repairs);
			raw(w, ":");
			val(w, k + 1);
			any = true;
		}
		k = (int)d->toks[k + 1].next;
	}
	if (any)
		raw(w, "}");
}

static int finish(struct w *w, enum record_kind kind, const struct ctlrec_ctx *c,
                  enum record_level level, const char *id, struct record **out)
{
	int rc = w->rc;
	*out = NULL;
	if (!rc) {
		size_t len = w->b.len;
		char *json = buf_detach(&w->b, NULL);
		char *idc = strdup(id);
		struct record *r = json && idc ? record_new(kind, idc, json, len) : NULL;
		if (!r) {
			if (!json || !idc) {
				free(json);
				free(idc);
			}
			rc = LG_ENOMEM;
		} else {
			r->level = level;
			r->start_ms = c->now_ms;
			r->id_hash = record_hash(idc, strlen(idc));
			r->project_id = c->project_id;
			r->function_id = c->function_id;
			r->function_name = c->function_name;
			*out = r;
		}
	}
	close_doc(w);
	return rc;
}

static void make_id(char *id, size_t cap, const char *kind, const struct ctlrec_ctx *c)
{
	snprintf(id, cap, "%s:%s:%lld", kind, c->function_id ? c->function_id : "project",
	         (long long)c->now_ms);
}

/* The unescaped string value of member k of the root, or "" (absent, null,
 * not a string). */
static void member_str(const struct json_doc *d, const char *k, char *out, size_t cap)
{
	int v = json_obj_get(d, 0, k);
	long n = -1;
	if (v >= 0 && d->toks[v].type == JSON_STRING)
		n = json_unescape(d, v, out, cap - 1);
	out[n < 0 ? 0 : n] = '\0';
}

int ctlrec_status_fields(const char *answer, size_t len, char *status, size_t status_cap,
                         char *error, size_t error_cap)
{
	struct w w;
	int rc = open_doc(&w, answer, len);
	if (!rc && json_obj_get(&w.d, 0, "status") < 0)
		rc = LG_EPARSE;
	if (!rc) {
		member_str(&w.d, "status", status, status_cap);
		member_str(&w.d, "error", error, error_cap);
	}
	close_doc(&w);
	return rc;
}

int ctlrec_status(const struct ctlrec_ctx *c, const char *answer, size_t len, const char *previous,
                  struct record **out)
{
	struct w w;
	char id[256], status[128], error[1024];
	*out = NULL;
	int rc = open_doc(&w, answer, len);
	if (rc) {
		close_doc(&w);
		return rc;
	}
	member_str(&w.d, "status", status, sizeof(status));
	member_str(&w.d, "error", error, sizeof(error));
	enum record_level level = strcmp(status, "Failed") == 0 || strcmp(status, "Stopped") == 0
	                              ? RECORD_ERROR
	                              : RECORD_INFO;
	make_id(id, sizeof(id), "status", c);
	head(&w, c, "status", id, level);
	key(&w, "function_status");
	str(&w, status);
	key(&w, "previous_status");
	str(&w, previous);
	int e = json_obj_get(&w.d, 0, "error");
	key(&w, "error");
	if (e >= 0)
		val(&w, e);
	else
		raw(&w, "null");
	int u = json_obj_get(&w.d, 0, "url");
	if (u >= 0) {
		key(&w, "url");
		val(&w, u);
	}
	struct buf msg;
	buf_init(&msg, 4096);
	if (previous)
		buf_printf(&msg, "status changed from %s to %s", previous, status);
	else
		buf_printf(&msg, "status %s", status);
	if (error[0])
		buf_printf(&msg, ": %s", error);
	key(&w, "message");
	str(&w, msg.data ? msg.data : "");
	buf_free(&msg);
	tail(&w, c);
	static const char *const known[] = {"functionId", "status", "error", "url", NULL};
	extra(&w, known, false);
	raw(&w, "}");
	return finish(&w, RECORD_STATUS, c, level, id, out);
}

int ctlrec_metrics(const struct ctlrec_ctx *c, const char *answer, size_t len, struct record **out)
{
	struct w w;
	char id[256];
	*out = NULL;
	int rc = open_doc(&w, answer, len);
	int sum = rc ? -1 : json_obj_get(&w.d, 0, "summary");
	if (!rc && (sum < 0 || w.d.toks[sum].type != JSON_OBJECT))
		rc = LG_EPARSE;
	if (rc) {
		close_doc(&w);
		return rc;
	}
	const struct json_doc *d = &w.d;
	make_id(id, sizeof(id), "metrics", c);
	head(&w, c, "metrics", id, RECORD_INFO);
	int tr = json_obj_get(d, 0, "timeRange");
	if (tr >= 0) {
		key(&w, "time_range");
		val(&w, tr);
	}
	key(&w, "summary");
	val(&w, sum);
	/* The newest point of every series (an array member), by its name. */
	bool any = false;
	int k = 1;
	for (uint32_t m = 0; m < d->toks[0].size; m++) {
		int v = k + 1;
		if (d->toks[v].type == JSON_ARRAY && d->toks[v].size > 0) {
			int el = v + 1, last = el;
			for (uint32_t i = 0; i < d->toks[v].size; i++) {
				last = el;
				el = (int)d->toks[el].next;
			}
			raw(&w, any ? "," : ",\"latest\":{");
			if (!w.rc)
				w.rc = json_write_strtok(&w.b, d, k, &w.repairs);
			raw(&w, ":");
			val(&w, last);
			any = true;
		}
		k = (int)d->toks[v].next;
	}
	if (any)
		raw(&w, "}");
	tail(&w, c);
	/* Series are summarized above; what else the answer holds is kept. */
	static const char *const known[] = {"functionName", "timeRange", "summary", NULL};
	extra(&w, known, true);
	raw(&w, "}");
	return finish(&w, RECORD_METRICS, c, RECORD_INFO, id, out);
}

int ctlrec_cost(const struct ctlrec_ctx *c, const char *answer, size_t len, struct record **out)
{
	struct w w;
	char id[256];
	*out = NULL;
	int rc = open_doc(&w, answer, len);
	if (rc) {
		close_doc(&w);
		return rc;
	}
	make_id(id, sizeof(id), "cost", c);
	head(&w, c, "cost", id, RECORD_INFO);
	key(&w, c->function_id ? "cost" : "billing");
	val(&w, 0);
	tail(&w, c);
	raw(&w, "}");
	return finish(&w, RECORD_COST, c, RECORD_INFO, id, out);
}

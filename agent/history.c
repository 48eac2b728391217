#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "normalize.h"

static int fetch(struct history *h);

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void free_query(struct history *h)
{
	free(h->level);
	free(h->search);
	free(h->status);
	h->level = h->search = h->status = NULL;
}

static void end(struct history *h, int err)
{
	h->running = false;
	h->waiting = false;
	h->cb.done(h, err);
}

static int add_param(struct buf *b, const char *key, const char *value)
{
	int rc = buf_printf(b, "&%s=", key);
	return rc ? rc : api_escape(b, value);
}

static int add_time(struct buf *b, const char *key, int64_t ms)
{
	char ts[NORM_TIME_LEN];
	if (!norm_format_time(ms, ts))
		return LG_EINVAL;
	return add_param(b, key, ts);
}

int64_t history_entry_start(const struct json_doc *d, int el)
{
	int v = json_obj_get(d, el, "startTime");
	if (v < 0)
		v = json_obj_get(d, el, "timestamp");
	char tmp[64];
	long n;
	int64_t ms;
	if (v < 0 || d->toks[v].type != JSON_STRING ||
	    (n = json_unescape(d, v, tmp, sizeof(tmp) - 1)) < 0 ||
	    norm_parse_time(tmp, (size_t)n, &ms) != 0)
		return INT64_MIN;
	return ms;
}

/* Starts over at page 1 from the last entry delivered (the consumer drops
 * the repeats). */
static void restart(struct history *h, const char *why)
{
	h->restarts++;
	if (h->last_start_ms != INT64_MIN && h->last_start_ms > h->start_ms)
		h->start_ms = h->last_start_ms;
	log_info(h->req.api->who, "%s: %s; continuing from page 1 at the last entry read", h->what,
	         why);
	h->page = 0;
	int rc = fetch(h);
	if (rc)
		end(h, rc);
}

static int64_t member_int(const struct json_doc *d, int obj, const char *key)
{
	int v = json_obj_get(d, obj, key);
	if (v < 0 || d->toks[v].type != JSON_NUMBER || d->toks[v].len > 18)
		return -1;
	char tmp[24];
	memcpy(tmp, json_text(d, v), d->toks[v].len);
	tmp[d->toks[v].len] = '\0';
	/* A count is a whole number: "12.5", "-3" or "1e3" mean nothing. */
	char *end;
	long long n = strtoll(tmp, &end, 10);
	return *end || n < 0 ? -1 : n;
}

int history_parse_page(struct json_doc *d, const char *body, size_t len, struct history_page *out)
{
	int rc = json_parse(d, body, len);
	if (rc)
		return rc;
	if (d->toks[0].type != JSON_OBJECT)
		return LG_EPARSE;
	int reqs = json_obj_get(d, 0, "requests");
	if (reqs < 0 || d->toks[reqs].type != JSON_ARRAY)
		return LG_EPARSE;
	int pag = json_obj_get(d, 0, "pagination");
	if (pag >= 0 && d->toks[pag].type != JSON_OBJECT)
		pag = -1;
	out->requests = reqs;
	out->n = d->toks[reqs].size;
	out->total_count = pag >= 0 ? member_int(d, pag, "totalCount") : -1;
	out->total_pages = pag >= 0 ? member_int(d, pag, "totalPages") : -1;
	return 0;
}

static void on_page(struct api_req *r, int err)
{
	struct history *h = r->data;
	if (err == LG_ETOOBIG && h->page_size > 1) {
		h->page_size /= 2;
		char why[64];
		snprintf(why, sizeof(why), "a page was too large; page size now %u", h->page_size);
		restart(h, why);
		return;
	}
	if (err) {
		end(h, err);
		return;
	}
	struct json_doc *d = &h->doc;
	struct history_page pg;
	int rc = history_parse_page(d, r->body.data ? r->body.data : "", r->body.len, &pg);
	if (rc) {
		log_error(r->api->who, "%s: the answer is not a page of historical logs", h->what);
		end(h, rc == LG_ENOMEM ? rc : LG_EPARSE);
		return;
	}
	int64_t total = pg.total_count, pages = pg.total_pages;
	int reqs = pg.requests;
	if (total >= 0 && h->page > 1 && (uint64_t)total < h->total_count) {
		restart(h, "entries left the server's retention while paging");
		return;
	}
	if (total >= 0)
		h->total_count = (uint64_t)total;
	h->total_pages = pages;
	uint32_t n = pg.n;
	int el = reqs + 1;
	for (uint32_t i = 0; i < n && h->running; i++) {
		const struct json_tok *t = &d->toks[el];
		int64_t start = history_entry_start(d, el);
		if (start != INT64_MIN)
			h->last_start_ms = start;
		h->entries++;
		h->cb.entry(h, json_text(d, el), t->len);
		el = (int)t->next;
	}
	if (!h->running)
		return;
	/* The last page: fewer entries than asked, or the count says so. */
	bool last = n < h->page_size || (pages >= 0 && h->page >= pages);
	if (last) {
		end(h, 0);
		return;
	}
	h->waiting = true;
	if (h->cb.page(h))
		history_resume(h);
}

static int fetch(struct history *h)
{
	struct buf p;
	buf_init(&p, 8192);
	h->page++;
	int rc = buf_puts(&p, "/functions/");
	rc = rc ? rc : api_escape(&p, h->function_id);
	rc =
	    rc ? rc : buf_printf(&p, "/logs?order=asc&pageSize=%u&page=%ld", h->page_size, h->page);
	if (!rc && h->start_ms != INT64_MIN)
		rc = add_time(&p, "startTime", h->start_ms);
	if (!rc && h->end_ms != INT64_MAX)
		rc = add_time(&p, "endTime", h->end_ms);
	if (!rc && h->level)
		rc = add_param(&p, "level", h->level);
	if (!rc && h->search)
		rc = add_param(&p, "search", h->search);
	if (!rc && h->status)
		rc = add_param(&p, "status", h->status);
	if (!rc)
		rc = api_req_get(&h->req, API_CLASS_LOGS, p.data, on_page);
	buf_free(&p);
	return rc;
}

int history_init(struct history *h, struct api *a, const char *function_id,
                 const char *function_name, const struct history_cb *cb, void *data)
{
	memset(h, 0, sizeof(*h));
	int rc = api_req_init(&h->req, a);
	if (rc)
		return rc;
	h->req.data = h;
	h->req.max_body = HISTORY_MAX_BODY;
	h->req.max_attempts = 0;
	snprintf(h->what, sizeof(h->what), "historical logs of %s", function_name);
	h->req.what = h->what;
	h->cb = *cb;
	h->data = data;
	h->function_id = strdup(function_id);
	json_doc_init(&h->doc, HISTORY_MAX_BODY);
	return h->function_id ? 0 : LG_ENOMEM;
}

int history_start(struct history *h, const struct history_query *q)
{
	if (h->running)
		return LG_EBUSY;
	free_query(h);
	h->level = dup_or_null(q->level);
	h->search = dup_or_null(q->search);
	h->status = dup_or_null(q->status);
	if ((q->level && *q->level && !h->level) || (q->search && *q->search && !h->search) ||
	    (q->status && *q->status && !h->status))
		return LG_ENOMEM;
	h->start_ms = q->start_ms;
	h->end_ms = q->end_ms;
	h->page_size = q->page_size && q->page_size < HISTORY_MAX_PAGE_SIZE ? q->page_size
	                                                                    : HISTORY_MAX_PAGE_SIZE;
	h->page = 0;
	h->total_pages = -1;
	h->total_count = 0;
	h->entries = 0;
	h->last_start_ms = INT64_MIN;
	h->running = true;
	h->waiting = false;
	int rc = fetch(h);
	if (rc)
		h->running = false;
	return rc;
}

void history_resume(struct history *h)
{
	if (!h->running || !h->waiting)
		return;
	h->waiting = false;
	int rc = fetch(h);
	if (rc)
		end(h, rc);
}

void history_cancel(struct history *h)
{
	h->running = false;
	h->waiting = false;
	api_req_cancel(&h->req);
}

static void on_req_closed(struct api_req *r)
{
	struct history *h = r->data;
	free_query(h);
	free(h->function_id);
	h->function_id = NULL;
	json_doc_free(&h->doc);
	if (h->closed)
		h->closed(h);
}

void history_close(struct history *h, void (*closed)(struct history *h))
{
	history_cancel(h);
	h->closed = closed;
	api_req_close(&h->req, on_req_closed);
}

/* discovery: a project's functions list (GET …/functions). At start it
 * resolves `functions` (ids or names; * = all) and hands the set to the
 * project; with `functions = *` it reads the list again every
 * discovery_interval, adds the functions that appeared and removes the ones
 * that are gone. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "project.h"

#define LIST_MAX_BODY (8u << 20)

static void fetch(struct project *p);

static struct project *of_req(struct api_req *r)
{
	return r->data;
}

static void on_timer(uv_timer_t *t)
{
	fetch(t->data);
}

static void again_in(struct project *p, uint64_t ms)
{
	uv_timer_start(&p->disc.timer, on_timer, ms, 0);
}

/* The id and name of one entry of the list; false when it has no id. */
static bool entry(const cJSON *f, const char **id, const char **name)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(f, "id");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "name");
	if (!cJSON_IsString(i) || !i->valuestring[0])
		return false;
	*id = i->valuestring;
	*name = cJSON_IsString(n) ? n->valuestring : i->valuestring;
	return true;
}

/* Matches `functions` against the list: 0, or LG_ENOENT (logged). */
static int resolve(struct project *p, const cJSON *list)
{
	const struct opt_list *want = &p->conf.functions;
	for (size_t i = 0; i < want->n; i++) {
		const char *w = want->items[i];
		bool found = false;
		const cJSON *f;
		cJSON_ArrayForEach(f, list)
		{
			const char *id, *nm;
			if (!entry(f, &id, &nm))
				continue;
			if (strcmp(w, "*") == 0 || strcmp(w, id) == 0 || strcmp(w, nm) == 0) {
				found = true;
				if (project_fn_add(p, id, nm) != 0)
					return LG_ENOMEM;
			}
		}
		if (!found && strcmp(w, "*") != 0) {
			log_error(p->who, "function '%s' is not in project %s", w,
			          p->conf.project_id);
			return LG_ENOENT;
		}
	}
	return 0;
}

/* A later list: new functions are followed, missing ones let go. */
static int update(struct project *p, const cJSON *list)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, list)
	{
		const char *id, *nm;
		/* A function deleted and created again with the same id waits
		 * until the old one is let go. */
		if (!entry(f, &id, &nm) || project_fn_find(p, id))
			continue;
		p->stats.added++;
		int rc = project_fn_add(p, id, nm);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < p->nfns; i++) {
		struct project_fn *fn = p->fns[i];
		bool present = false;
		cJSON_ArrayForEach(f, list)
		{
			const char *id, *nm;
			present |= entry(f, &id, &nm) && strcmp(id, fn->id) == 0;
		}
		if (!present && !fn->removed)
			project_fn_remove(fn);
	}
	return 0;
}

static void on_list(struct api_req *r, int err)
{
	struct project *p = of_req(r);
	struct discovery *d = &p->disc;
	if (p->stopping)
		return;
	if (err) {
		bool fatal_now = !d->resolved && err != LG_EAUTH && err != LG_EAGAIN;
		if (fatal_now) {
			log_error(
			    p->who,
			    "listing functions: %s%s%s (check project_id and the key's access)",
			    err == LG_EFORBIDDEN ? "HTTP 403"
			    : err == LG_ENOENT   ? "HTTP 404"
			                         : lg_strerror(err),
			    r->message[0] ? ": " : "", r->message);
			project_fatal(p);
			return;
		}
		if (err == LG_EFORBIDDEN) {
			log_error(p->who, "listing functions: HTTP 403; discovery stopped, the "
			                  "functions found so far are still followed");
			return;
		}
		uint64_t delay = backoff_next(&d->backoff);
		log_warn(p->who, "listing functions failed (%s); retrying in %" PRIu64 " ms",
		         lg_strerror(err), delay);
		again_in(p, delay);
		return;
	}
	cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "functions");
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(doc);
		uint64_t delay = backoff_next(&d->backoff);
		log_error(p->who,
		          "the functions list is not in the expected shape; retrying in %" PRIu64
		          " ms",
		          delay);
		again_in(p, delay);
		return;
	}
	backoff_reset(&d->backoff);
	p->stats.discoveries++;
	int rc;
	if (!d->resolved) {
		rc = resolve(p, list);
		if (rc == 0) {
			d->resolved = true;
			project_functions_ready(p);
		}
	} else {
		rc = update(p, list);
	}
	cJSON_Delete(doc);
	if (rc) {
		if (rc == LG_ENOMEM)
			log_error(p->who, "out of memory while reading the functions list");
		project_fatal(p);
		return;
	}
	if (d->all)
		again_in(p, p->conf.discovery_interval_ms);
}

static void fetch(struct project *p)
{
	if (p->stopping)
		return;
	int rc = api_req_get(&p->disc.req, API_CLASS_API, "/functions", on_list);
	if (rc && rc != LG_EBUSY) {
		log_error(p->who, "cannot list functions: %s", lg_strerror(rc));
		project_fatal(p);
	}
}

int discovery_start(struct project *p)
{
	struct discovery *d = &p->disc;
	for (size_t i = 0; i < p->conf.functions.n; i++)
		d->all |= strcmp(p->conf.functions.items[i], "*") == 0;
	backoff_init(&d->backoff, p->conf.backoff_base_ms, p->conf.backoff_max_ms);
	uv_timer_init(p->loop, &d->timer);
	d->timer.data = p;
	d->timer_open = true;
	int rc = api_req_init(&d->req, &p->api);
	d->req_open = true;
	if (rc)
		return rc;
	d->req.data = p;
	d->req.what = "functions list";
	d->req.max_body = LIST_MAX_BODY;
	/* Transient failures come back here, to retry with the project's
	 * backoff and log each time. */
	d->req.max_attempts = 3;
	fetch(p);
	return 0;
}

void discovery_stop(struct project *p)
{
	if (p->disc.timer_open)
		uv_timer_stop(&p->disc.timer);
	if (p->disc.req_open)
		api_req_cancel(&p->disc.req);
}

static void on_req_closed(struct api_req *r)
{
	project_part_closed(of_req(r));
}

static void on_timer_closed(uv_handle_t *h)
{
	project_part_closed(h->data);
}

void discovery_close(struct project *p)
{
	struct discovery *d = &p->disc;
	if (d->req_open) {
		d->req_open = false;
		p->pending_close++;
		d->req.data = p;
		api_req_close(&d->req, on_req_closed);
	}
	if (d->timer_open) {
		d->timer_open = false;
		p->pending_close++;
		uv_close((uv_handle_t *)&d->timer, on_timer_closed);
	}
}

/* monitor: a project's control-plane pollers. Every status_interval each
 * function's status (a status record at its first observation and at each
 * change), every metrics_interval its metrics (a metrics record), and with
 * cost_records every cost_interval its costs and then the project's bill
 * (cost records). Each poller asks one function at a time, in rounds; the
 * api client's rate limiter spaces the requests, so a round over many
 * functions may take longer than its interval (logged once), never more
 * requests than the API allows. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlrec.h"
#include "err.h"
#include "log.h"
#include "project.h"

#define MONITOR_MAX_BODY (4u << 20)

static const char *kind_what(int kind)
{
	return kind == RECORD_STATUS ? "status" : kind == RECORD_METRICS ? "metrics" : "costs";
}

static unsigned *round_of(struct project_fn *fn, int kind)
{
	return kind == RECORD_STATUS    ? &fn->status_round
	       : kind == RECORD_METRICS ? &fn->metrics_round
	                                : &fn->cost_round;
}

static bool *off_of(struct project_fn *fn, int kind)
{
	return kind == RECORD_STATUS    ? &fn->status_off
	       : kind == RECORD_METRICS ? &fn->metrics_off
	                                : &fn->cost_off;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void submit(struct project *p, struct project_fn *fn, struct record *r)
{
	r->origin = fn;
	router_submit(p->router, r);
	if (r->pending && fn)
		fn->holds++;
	record_unref(r);
}

/* A status answer: a record at the first observation and at each change. */
static int on_status(struct project *p, struct project_fn *fn, const struct ctlrec_ctx *c,
                     const struct buf *body, struct record **r)
{
	char status[128], error[512];
	int rc = ctlrec_status_fields(body->data, body->len, status, sizeof(status), error,
	                              sizeof(error));
	if (rc)
		return rc;
	if (fn->status && strcmp(fn->status, status) == 0)
		return 0;
	rc = ctlrec_status(c, body->data, body->len, fn->status, r);
	if (rc)
		return rc;
	if (fn->status)
		log_info(p->who, "function %s: status %s -> %s%s%s", fn->name, fn->status, status,
		         error[0] ? ": " : "", error);
	free(fn->status);
	fn->status = strdup(status);
	p->stats.status_records++;
	return 0;
}

static void emit(struct monitor_poll *m, struct project_fn *fn, const struct buf *body)
{
	struct project *p = m->p;
	struct ctlrec_ctx c = {
	    .project_id = p->conf.project_id,
	    .function_id = fn ? fn->id : NULL,
	    .function_name = fn ? fn->name : NULL,
	    .labels_json = p->labels_json,
	    .host = p->host,
	    .version = SINCH_LOGD_VERSION,
	    .now_ms = wall_ms(),
	};
	struct record *r = NULL;
	int rc;
	if (m->kind == RECORD_STATUS) {
		rc = on_status(p, fn, &c, body, &r);
	} else if (m->kind == RECORD_METRICS) {
		rc = ctlrec_metrics(&c, body->data, body->len, &r);
		p->stats.metrics_records += rc == 0;
	} else {
		rc = ctlrec_cost(&c, body->data, body->len, &r);
		p->stats.cost_records += rc == 0;
	}
	if (rc) {
		p->stats.monitor_failures++;
		log_warn(p->who, "%s of %s: the answer is not usable (%s); skipped",
		         kind_what(m->kind), fn ? fn->name : "the project", lg_strerror(rc));
		return;
	}
	if (r)
		submit(p, fn, r);
}

static void next(struct monitor_poll *m);
static void round_end(struct monitor_poll *m);

static void on_answer(struct api_req *r, int err)
{
	struct monitor_poll *m = r->data;
	struct project *p = m->p;
	struct project_fn *fn = m->cur;
	m->cur = NULL;
	const char *name = fn ? fn->name : "the project";
	if (fn && fn->removed) {
		/* Gone meanwhile: nothing to say about it. */
	} else if (err == 0) {
		emit(m, fn, &r->body);
	} else if (err == LG_EFORBIDDEN) {
		if (fn)
			*off_of(fn, m->kind) = true;
		else
			m->billing_done = true;
		log_error(p->who,
		          "%s of %s: HTTP 403, the key has no access; no more %s polling for it",
		          kind_what(m->kind), name, kind_what(m->kind));
	} else if (err == LG_ENOENT) {
		log_debug(p->who, "%s of %s: HTTP 404 (deleted?)", kind_what(m->kind), name);
	} else if (err == LG_EAUTH) {
		/* Every other request of the round would meet the same refusal:
		 * the round ends here and the next waits a growing backoff. */
		p->stats.monitor_failures++;
		if (!m->backoff.attempt)
			log_warn(p->who, "%s of %s: authentication failed; polling %s again later",
			         kind_what(m->kind), name, kind_what(m->kind));
		m->auth_failed = true;
		project_fn_release(fn);
		round_end(m);
		return;
	} else {
		p->stats.monitor_failures++;
		log_warn(p->who, "%s of %s failed: %s%s%s", kind_what(m->kind), name,
		         lg_strerror(err), r->message[0] ? ": " : "", r->message);
	}
	project_fn_release(fn);
	next(m);
}

static void on_timer(uv_timer_t *t)
{
	struct monitor_poll *m = t->data;
	m->auth_failed = false;
	m->round++;
	m->round_start = uv_now(m->p->loop);
	m->billing_done = false;
	next(m);
}

static void round_end(struct monitor_poll *m)
{
	struct project *p = m->p;
	uint64_t took = uv_now(p->loop) - m->round_start;
	uint64_t delay = took < m->interval_ms ? m->interval_ms - took : 0;
	if (m->auth_failed) {
		uint64_t b = backoff_next(&m->backoff);
		delay = b > delay ? b : delay;
	} else {
		backoff_reset(&m->backoff);
	}
	if (took > m->interval_ms && !m->slow_logged) {
		m->slow_logged = true;
		log_warn(p->who,
		         "polling %s of %zu function(s) took %" PRIu64 " ms, more than its "
		         "interval (%" PRIu64 " ms): the API's rate limit sets the pace",
		         kind_what(m->kind), p->nfns, took, m->interval_ms);
	}
	uv_timer_start(&m->timer, on_timer, delay, 0);
}

static int ask(struct monitor_poll *m, struct project_fn *fn)
{
	struct buf path;
	buf_init(&path, 4096);
	int rc = 0;
	if (!fn) {
		rc = buf_puts(&path, "/billing/current");
	} else {
		rc = buf_puts(&path, "/functions/");
		rc = rc ? rc : api_escape(&path, fn->id);
		if (!rc && m->kind == RECORD_STATUS)
			rc = buf_puts(&path, "/status");
		else if (!rc && m->kind == RECORD_METRICS)
			rc = buf_printf(&path, "/metrics?timeRange=%s",
			                project_time_ranges[m->p->conf.metrics_time_range]);
		else if (!rc)
			rc = buf_puts(&path, "/costs?period=month");
	}
	if (!rc)
		rc = api_req_get(&m->req, API_CLASS_API, path.data, on_answer);
	buf_free(&path);
	return rc;
}

static void next(struct monitor_poll *m)
{
	struct project *p = m->p;
	if (p->stopping)
		return;
	struct project_fn *fn = NULL;
	for (size_t i = 0; i < p->nfns && !fn; i++) {
		struct project_fn *f = p->fns[i];
		if (!f->removed && !*off_of(f, m->kind) && *round_of(f, m->kind) < m->round)
			fn = f;
	}
	if (!fn && (m->kind != RECORD_COST || m->billing_done)) {
		round_end(m);
		return;
	}
	if (fn) {
		*round_of(fn, m->kind) = m->round;
		fn->holds++;
	} else {
		m->billing_done = true;
	}
	m->cur = fn;
	int rc = ask(m, fn);
	if (rc) {
		log_error(p->who, "cannot ask for %s: %s", kind_what(m->kind), lg_strerror(rc));
		m->cur = NULL;
		project_fn_release(fn);
		round_end(m);
	}
}

static int start_poll(struct project *p, struct monitor_poll *m, int kind, uint64_t interval)
{
	m->p = p;
	m->kind = kind;
	m->interval_ms = interval;
	if (!interval)
		return 0;
	uv_timer_init(p->loop, &m->timer);
	m->timer.data = m;
	m->timer_open = true;
	int rc = api_req_init(&m->req, &p->api);
	m->req_open = true;
	if (rc)
		return rc;
	m->req.data = m;
	m->req.what = kind_what(kind);
	m->req.max_body = MONITOR_MAX_BODY;
	/* A poll that fails is tried again at the next round. */
	m->req.max_attempts = 2;
	backoff_init(&m->backoff, p->conf.backoff_base_ms, p->conf.backoff_max_ms);
	m->round = 1;
	m->round_start = uv_now(p->loop);
	next(m);
	return 0;
}

int monitor_start(struct project *p)
{
	struct project_conf *c = &p->conf;
	struct monitor *mon = &p->mon;
	int rc = start_poll(p, &mon->status, RECORD_STATUS, c->status_interval_ms);
	if (!rc)
		rc = start_poll(p, &mon->metrics, RECORD_METRICS, c->metrics_interval_ms);
	if (!rc)
		rc = start_poll(p, &mon->cost, RECORD_COST,
		                c->cost_records ? c->cost_interval_ms : 0);
	return rc;
}

static void stop_poll(struct monitor_poll *m)
{
	if (m->timer_open)
		uv_timer_stop(&m->timer);
	if (m->req_open)
		api_req_cancel(&m->req);
	if (m->cur) {
		struct project_fn *fn = m->cur;
		m->cur = NULL;
		project_fn_release(fn);
	}
}

void monitor_stop(struct project *p)
{
	stop_poll(&p->mon.status);
	stop_poll(&p->mon.metrics);
	stop_poll(&p->mon.cost);
}

static void on_req_closed(struct api_req *r)
{
	struct monitor_poll *m = r->data;
	project_part_closed(m->p);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct monitor_poll *m = h->data;
	project_part_closed(m->p);
}

static void close_poll(struct project *p, struct monitor_poll *m)
{
	if (m->req_open) {
		m->req_open = false;
		p->pending_close++;
		m->req.data = m;
		api_req_close(&m->req, on_req_closed);
	}
	if (m->timer_open) {
		m->timer_open = false;
		p->pending_close++;
		uv_close((uv_handle_t *)&m->timer, on_timer_closed);
	}
}

void monitor_close(struct project *p)
{
	close_poll(p, &p->mon.status);
	close_poll(p, &p->mon.metrics);
	close_poll(p, &p->mon.cost);
}

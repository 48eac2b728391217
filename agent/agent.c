#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define A(field) offsetof(struct agent_conf, field)
const struct opt_def agent_opts[] = {
    {"state_dir", OPT_STRING, "/var/lib/sinch-logd", 0, A(state_dir), NULL,
     "checkpoints, dead letters and the lock live here; one agent per state_dir"},
    {"log_level", OPT_ENUM, "info", 0, A(log_level), "debug|info|warning|error",
     "the agent's own log level"},
    {"include", OPT_LIST, "", 0, A(include), NULL,
     "more configuration files (globs, relative to this file), e.g. conf.d/*.conf"},
    {"checkpoint_interval", OPT_DURATION, "1s", 0, A(checkpoint_interval_ms), NULL,
     "how often acknowledged progress is written"},
    {"shutdown_timeout", OPT_DURATION, "10s", 0, A(shutdown_timeout_ms), NULL,
     "how long SIGTERM waits for the sinks to drain"},
    {"hostname", OPT_STRING, NULL, 0, A(hostname), NULL,
     "the host name written into records (default: the system's)"},
    {"allow_core_dumps", OPT_BOOL, "false", 0, A(allow_core_dumps), NULL,
     "let the process dump core (it holds secrets and records: off, the process is not "
     "dumpable)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void on_project_fatal(struct project *p);

static void check_agent(const struct agent_conf *ac, const struct conf_section *sec,
                        struct conf_errs *errs)
{
	static const uint64_t hour_ms = 3600 * 1000;
	if (ac->shutdown_timeout_ms > hour_ms) {
		struct opt_origin o = opts_origin(sec, "shutdown_timeout");
		conf_err(errs, o.file, o.line, "[agent]: shutdown_timeout must be at most 1h");
	}
	if (ac->checkpoint_interval_ms < 10 || ac->checkpoint_interval_ms > hour_ms) {
		struct opt_origin o = opts_origin(sec, "checkpoint_interval");
		conf_err(errs, o.file, o.line,
		         "[agent]: checkpoint_interval must be between 10ms and 1h");
	}
	struct stat st;
	if (ac->state_dir && stat(ac->state_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		struct opt_origin o = opts_origin(sec, "state_dir");
		conf_err(errs, o.file, o.line,
		         "[agent]: state_dir %s exists and is not a directory", ac->state_dir);
	}
}

int agent_load_config(const char *path, struct conf *c, struct agent_conf *ac,
                      struct conf_errs *errs)
{
	if (conf_load(path, c, errs) != 0)
		return LG_ECONFIG;
	const struct conf_section *sec = conf_find(c, "agent", NULL);
	if (sec) {
		opts_apply(agent_opts, ac, sec, errs);
		conf_check_unused(sec, errs);
		check_agent(ac, sec, errs);
	} else {
		opts_defaults(agent_opts, ac);
	}
	return errs->count ? LG_ECONFIG : 0;
}

int agent_load_projects(struct agent *a, const struct conf *c, struct project ***out, size_t *n,
                        struct conf_errs *errs)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct conf_section *sec = &c->sections[i];
		if (strcmp(sec->type, "project") != 0)
			continue;
		struct project *p = project_new(sec, errs);
		if (!p)
			continue;
		/* Two sections on one project would share its stream limit and
		 * overwrite each other's checkpoints. */
		for (size_t j = 0; j < *n; j++) {
			const struct project *q = (*out)[j];
			if (!p->conf.project_id || !q->conf.project_id ||
			    strcmp(q->conf.project_id, p->conf.project_id) != 0)
				continue;
			struct opt_origin o = opts_origin(sec, "project_id");
			conf_err(errs, o.file, o.line,
			         "[project %s]: project_id %s is [project %s]'s too: one section "
			         "per project",
			         p->name, p->conf.project_id, q->name);
			break;
		}
		struct project **grown = realloc(*out, (*n + 1) * sizeof(**out));
		if (!grown) {
			project_free(p);
			return LG_ENOMEM;
		}
		*out = grown;
		(*out)[(*n)++] = p;
		p->state_dir = a->ac.state_dir;
		p->host = a->host;
		p->agent = a;
		p->on_fatal = on_project_fatal;
	}
	if (*n == 0 && errs->count == 0)
		conf_err(errs, c->nfiles ? c->files[0] : "?", 1,
		         "no [project NAME] section: nothing to read");
	return errs->count ? LG_ECONFIG : 0;
}

/* Without a sink every record would be "delivered" nowhere and checkpointed
 * past: refuse that rather than lose what a sink added later would want. */
static void require_sink(const struct router *rt, const struct conf *c, struct conf_errs *errs)
{
	if (rt->nsinks == 0 && c->nfiles)
		conf_err(errs, c->files[0], 1,
		         "no [sink NAME] section: records would go nowhere (type = null "
		         "discards them on purpose)");
}

uint64_t agent_max_event_size(struct project *const *projects, size_t n)
{
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (projects[i]->conf.max_event_size > m)
			m = projects[i]->conf.max_event_size;
	return m;
}

void agent_check_sinks(struct agent *a, const struct conf *c, struct project *const *projects,
                       size_t n, struct conf_errs *errs)
{
	struct router rt;
	router_init(&rt, &a->loop);
	router_add_sinks(&rt, c, a->ac.state_dir, agent_max_event_size(projects, n), true, errs);
	require_sink(&rt, c, errs);
	router_free(&rt);
}

static void log_lines(const struct buf *b, enum log_level level, const char *tag)
{
	if (!b->len)
		return;
	const char *p = b->data, *end = p + b->len;
	size_t taglen = tag ? strlen(tag) : 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* The level says "warning" already. */
		const char *t = tag ? memmem(p, n, tag, taglen) : NULL;
		size_t head = t ? (size_t)(t - p) : 0, skip = t ? taglen : 0;
		log_msg(level, NULL, "%.*s%.*s", (int)head, p, (int)(n - head - skip),
		        p + head + skip);
		p += n + 1;
	}
}

void agent_log_conf_errs(const struct conf_errs *errs)
{
	log_lines(&errs->warnings, LOG_WARNING, "warning: ");
	log_lines(&errs->text, LOG_ERROR, NULL);
}

int agent_check_config(const char *path, FILE *err)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct conf_errs errs;
	conf_errs_init(&errs);
	if (!a)
		return 1;
	uv_loop_init(&a->loop);
	router_init(&a->router, &a->loop);
	snprintf(a->host, sizeof(a->host), "check");
	int rc = agent_load_config(path, &a->conf, &a->ac, &errs);
	if (rc == 0 || a->conf.n) {
		agent_load_projects(a, &a->conf, &a->projects, &a->nprojects, &errs);
		agent_check_sinks(a, &a->conf, a->projects, a->nprojects, &errs);
	}
	conf_warnings_print(&errs, err);
	conf_errs_print(&errs, err);
	int status = errs.count ? 2 : 0;
	for (size_t i = 0; i < a->nprojects; i++)
		project_free(a->projects[i]);
	free(a->projects);
	router_free(&a->router);
	opts_free(agent_opts, &a->ac);
	conf_free(&a->conf);
	conf_errs_free(&errs);
	uv_run(&a->loop, UV_RUN_NOWAIT);
	uv_loop_close(&a->loop);
	free(a);
	return status;
}

/* ---- running ---- */

static void on_ckpt_timer(uv_timer_t *t)
{
	struct agent *a = t->data;
	for (size_t i = 0; i < a->nprojects; i++) {
		struct project *p = a->projects[i];
		if (p->closing)
			continue;
		project_save_checkpoints(p);
		/* Streams paused by their own in-flight cap wake up here. */
		if (!p->stopping)
			project_resume(p);
	}
}

static void close_handle(uv_handle_t *h)
{
	if (h->loop && !uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_router_closed(struct router *rt)
{
	struct agent *a = rt->data;
	httpc_close(&a->http, NULL);
	close_handle((uv_handle_t *)&a->sig_term);
	close_handle((uv_handle_t *)&a->sig_int);
	close_handle((uv_handle_t *)&a->sig_hup);
	close_handle((uv_handle_t *)&a->ckpt_timer);
	close_handle((uv_handle_t *)&a->shutdown_timer);
	reload_close(a);
	notify_close(&a->notify);
}

static void on_projects_closed(struct agent *a)
{
	router_close(&a->router, on_router_closed);
}

void agent_project_closed(struct project *p)
{
	struct agent *a = p->agent;
	if (!a->flushed)
		return;
	for (size_t i = 0; i < a->nprojects; i++)
		if (a->projects[i] && a->projects[i]->closing && !a->projects[i]->closed)
			return;
	on_projects_closed(a);
}

static void on_flushed(struct router *rt)
{
	struct agent *a = rt->data;
	if (a->flushed)
		return;
	a->flushed = true;
	uv_timer_stop(&a->shutdown_timer);
	for (size_t i = 0; i < a->nprojects; i++)
		if (!a->projects[i]->closing)
			project_save_checkpoints(a->projects[i]);
	uint64_t held = 0;
	for (size_t i = 0; i < a->router.nsinks; i++)
		held += a->router.sinks[i]->held_records;
	if (held)
		log_warn(NULL,
		         "%llu record(s) not acknowledged by the sinks in time; they are "
		         "read again at the next start",
		         (unsigned long long)held);
	else if (a->started && !a->drain_timed_out)
		log_info(NULL, "sinks drained, checkpoints written; stopping");
	else
		log_info(NULL, "stopping");
	size_t n = a->nprojects;
	/* Projects a reload is closing already finish by themselves. */
	bool *mine = n ? calloc(n, sizeof(*mine)) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (a->projects[i]->closing)
			continue;
		a->projects[i]->closing = true;
		if (mine)
			mine[i] = true;
	}
	bool waiting = false;
	for (size_t i = 0; i < n; i++) {
		if (mine ? mine[i] : !a->projects[i]->closed) {
			project_close(a->projects[i], agent_project_closed);
			waiting = true;
		} else if (!a->projects[i]->closed) {
			waiting = true;
		}
	}
	free(mine);
	if (!waiting)
		on_projects_closed(a);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct agent *a = t->data;
	log_error(NULL, "sinks did not drain within shutdown_timeout; what they hold is replayed "
	                "at the next start");
	a->drain_timed_out = true;
	on_flushed(&a->router);
}

static void agent_shutdown(struct agent *a, int exit_code)
{
	if (a->shutting_down)
		return;
	a->shutting_down = true;
	if (exit_code)
		a->exit_code = exit_code;
	notify_send(&a->notify, "STOPPING=1");
	notify_status(&a->notify, "stopping: draining the sinks");
	if (a->started)
		log_info(NULL, "shutting down: draining sinks (up to %llu ms)",
		         (unsigned long long)a->ac.shutdown_timeout_ms);
	for (size_t i = 0; i < a->nprojects; i++)
		project_stop(a->projects[i]);
	uv_timer_stop(&a->ckpt_timer);
	/* A sink that misses its own deadline must not hold the exit. */
	uv_timer_start(&a->shutdown_timer, on_shutdown_timeout, a->ac.shutdown_timeout_ms + 2000,
	               0);
	router_flush(&a->router, uv_now(&a->loop) + a->ac.shutdown_timeout_ms, on_flushed);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;
	if (signum == SIGHUP) {
		if (a->shutting_down)
			return;
		/* logrotate's postrotate depends on this, whatever the new
		 * configuration holds. */
		log_info(NULL, "SIGHUP: reopening sink files, reading the configuration again");
		router_reopen(&a->router);
		reload_start(a);
		return;
	}
	if (a->shutting_down) {
		log_warn(NULL, "second signal: exiting without waiting for the sinks");
		/* _exit: exit() would wait for thread-pool threads, and one may
		 * be stuck in a blocking open() or fsync(). */
		_exit(1);
	}
	agent_shutdown(a, 0);
}

static void on_record_done(struct router *rt, struct record *r)
{
	(void)rt;
	project_record_done(r);
}

static void on_drain(struct router *rt)
{
	struct agent *a = rt->data;
	for (size_t i = 0; i < a->nprojects; i++)
		if (!a->projects[i]->stopping)
			project_resume(a->projects[i]);
}

static void on_project_fatal(struct project *p)
{
	agent_shutdown(p->agent, 1);
}

/* Secrets (keys, tokens) and customers' records live in this process's
 * memory: no core file, and no ptrace by other users, unless asked for. */
static void set_dumpable(bool allow)
{
	if (prctl(PR_SET_DUMPABLE, allow ? 1 : 0, 0, 0, 0) != 0)
		log_warn(NULL, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
}

void agent_apply_live(struct agent *a, const struct agent_conf *ac)
{
	if (a->cli_log_level < 0)
		log_set_level((enum log_level)ac->log_level);
	a->ac.log_level = ac->log_level;
	a->ac.shutdown_timeout_ms = ac->shutdown_timeout_ms;
	if (a->ac.checkpoint_interval_ms != ac->checkpoint_interval_ms) {
		a->ac.checkpoint_interval_ms = ac->checkpoint_interval_ms;
		if (uv_is_active((uv_handle_t *)&a->ckpt_timer))
			uv_timer_start(&a->ckpt_timer, on_ckpt_timer, ac->checkpoint_interval_ms,
			               ac->checkpoint_interval_ms);
	}
	a->ac.allow_core_dumps = ac->allow_core_dumps;
	set_dumpable(ac->allow_core_dumps);
	/* Streams read the host name from this buffer for each record. */
	if (ac->hostname)
		snprintf(a->host, sizeof(a->host), "%s", ac->hostname);
	else if (gethostname(a->host, sizeof(a->host) - 1) != 0)
		snprintf(a->host, sizeof(a->host), "unknown");
}

static int start(struct agent *a, struct conf_errs *errs)
{
	uv_signal_init(&a->loop, &a->sig_term);
	uv_signal_init(&a->loop, &a->sig_int);
	uv_signal_init(&a->loop, &a->sig_hup);
	a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
	uv_signal_start(&a->sig_term, on_signal, SIGTERM);
	uv_signal_start(&a->sig_int, on_signal, SIGINT);
	uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
	uv_timer_init(&a->loop, &a->ckpt_timer);
	uv_timer_init(&a->loop, &a->shutdown_timer);
	uv_timer_init(&a->loop, &a->reload_timer);
	uv_timer_init(&a->loop, &a->reload_ready_timer);
	a->ckpt_timer.data = a->shutdown_timer.data = a;
	a->reload_timer.data = a->reload_ready_timer.data = a;
	notify_init(&a->notify, &a->loop);
	notify_status(&a->notify, "starting");
	if (httpc_init(&a->http, &a->loop) != 0)
		return 1;
	a->router.data = a;
	a->router.http = &a->http;
	a->router.on_done = on_record_done;
	a->router.on_drain = on_drain;
	char msg[512];
	if (statedir_open(a->ac.state_dir, &a->sd, msg, sizeof(msg)) != 0) {
		log_error(NULL, "%s", msg);
		return 1;
	}
	uint64_t mes = agent_max_event_size(a->projects, a->nprojects);
	if (router_add_sinks(&a->router, &a->conf, a->ac.state_dir, mes, false, errs) != 0)
		return 1;
	require_sink(&a->router, &a->conf, errs);
	if (errs->count)
		return 1;
	if (confdiff_build(&a->digests, &a->conf, mes) != 0)
		return 1;
	a->started = true;
	uint64_t iv = a->ac.checkpoint_interval_ms;
	uv_timer_start(&a->ckpt_timer, on_ckpt_timer, iv, iv);
	for (size_t i = 0; i < a->nprojects; i++) {
		struct project *p = a->projects[i];
		if (project_start(p, &a->loop, &a->http, &a->router) != 0)
			return 1;
	}
	log_info(NULL, "sinch-logd %s started: %zu project(s), %zu sink(s), state in %s",
	         SINCH_LOGD_VERSION, a->nprojects, a->router.nsinks, a->ac.state_dir);
	notify_send(&a->notify, "READY=1");
	notify_status(&a->notify, "running: %zu project(s), %zu sink(s)", a->nprojects,
	              a->router.nsinks);
	return 0;
}

int agent_run(const char *path, int log_level)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (!a)
		return 1;
	struct conf_errs errs;
	conf_errs_init(&errs);
	uv_loop_init(&a->loop);
	router_init(&a->router, &a->loop);
	a->path = path;
	a->cli_log_level = log_level;
	if (gethostname(a->host, sizeof(a->host) - 1) != 0)
		snprintf(a->host, sizeof(a->host), "unknown");
	signal(SIGPIPE, SIG_IGN);
	int status = 0;
	if (agent_load_config(path, &a->conf, &a->ac, &errs) == 0)
		agent_load_projects(a, &a->conf, &a->projects, &a->nprojects, &errs);
	if (a->ac.hostname)
		snprintf(a->host, sizeof(a->host), "%s", a->ac.hostname);
	log_set_level(log_level >= 0 ? (enum log_level)log_level : (enum log_level)a->ac.log_level);
	/* main() made the process undumpable before anything was read. */
	if (a->ac.allow_core_dumps)
		set_dumpable(true);
	log_lines(&errs.warnings, LOG_WARNING, "warning: ");
	if (errs.count == 0) {
		if (start(a, &errs) != 0)
			agent_shutdown(a, 1);
		uv_run(&a->loop, UV_RUN_DEFAULT);
		status = a->exit_code;
	}
	if (errs.count) {
		conf_errs_print(&errs, stderr);
		status = 2;
	}
	for (size_t i = 0; i < a->nprojects; i++)
		project_free(a->projects[i]);
	free(a->projects);
	router_free(&a->router);
	statedir_close(&a->sd);
	opts_free(agent_opts, &a->ac);
	conf_free(&a->conf);
	confdiff_free(&a->digests);
	conf_errs_free(&errs);
	if (uv_loop_close(&a->loop) != 0)
		log_warn(NULL, "event loop closed with handles still open");
	free(a);
	return status;
}

#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "project.h"
#include "router.h"
#include "statedir.h"

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
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct agent {
	uv_loop_t loop;
	struct conf conf;
	struct agent_conf ac;
	struct statedir sd;
	struct httpc http;
	struct router router;
	struct project **projects;
	size_t nprojects;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t ckpt_timer, shutdown_timer;
	bool shutting_down;
	bool started;
	bool flushed;
	bool drain_timed_out;
	int exit_code;
	char host[256];
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

static int load_config(const char *path, struct conf *c, struct agent_conf *ac,
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

/* Reads and validates the project sections into a, without connecting. */
static int load_projects(struct agent *a, struct conf_errs *errs)
{
	for (size_t i = 0; i < a->conf.n; i++) {
		const struct conf_section *sec = &a->conf.sections[i];
		if (strcmp(sec->type, "project") != 0)
			continue;
		struct project *p = project_new(sec, errs);
		if (!p)
			continue;
		/* Two sections on one project would share its stream limit and
		 * overwrite each other's checkpoints. */
		for (size_t j = 0; j < a->nprojects; j++) {
			const struct project *q = a->projects[j];
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
		struct project **grown =
		    realloc(a->projects, (a->nprojects + 1) * sizeof(*a->projects));
		if (!grown) {
			project_free(p);
			return LG_ENOMEM;
		}
		a->projects = grown;
		a->projects[a->nprojects++] = p;
		p->state_dir = a->ac.state_dir;
		p->host = a->host;
		p->agent = a;
		p->on_fatal = on_project_fatal;
	}
	if (a->nprojects == 0 && errs->count == 0)
		conf_err(errs, a->conf.nfiles ? a->conf.files[0] : "?", 1,
		         "no [project NAME] section: nothing to read");
	return errs->count ? LG_ECONFIG : 0;
}

/* Without a sink every record would be "delivered" nowhere and checkpointed
 * past: refuse that rather than lose what a sink added later would want. */
static void require_sink(const struct agent *a, struct conf_errs *errs)
{
	if (a->router.nsinks == 0 && a->conf.nfiles)
		conf_err(errs, a->conf.files[0], 1,
		         "no [sink NAME] section: records would go nowhere (type = null "
		         "discards them on purpose)");
}

static uint64_t max_event_size(const struct agent *a)
{
	uint64_t m = 0;
	for (size_t i = 0; i < a->nprojects; i++)
		if (a->projects[i]->conf.max_event_size > m)
			m = a->projects[i]->conf.max_event_size;
	return m;
}

/* Each "FILE:LINE: warning: message" of the configuration as one log line. */
static void log_conf_warnings(const struct conf_errs *errs)
{
	if (!errs->warnings.len)
		return;
	const char *p = errs->warnings.data, *end = p + errs->warnings.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* The level says "warning" already. */
		const char *tag = memmem(p, n, "warning: ", 9);
		size_t head = tag ? (size_t)(tag - p) : 0, skip = tag ? 9 : 0;
		log_warn(NULL, "%.*s%.*s", (int)head, p, (int)(n - head - skip), p + head + skip);
		p += n + 1;
	}
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
	int rc = load_config(path, &a->conf, &a->ac, &errs);
	if (rc == 0 || a->conf.n) {
		load_projects(a, &errs);
		router_add_sinks(&a->router, &a->conf, a->ac.state_dir, max_event_size(a), true,
		                 &errs);
		require_sink(a, &errs);
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
		project_save_checkpoints(a->projects[i]);
		/* Streams paused by their own in-flight cap wake up here. */
		project_resume(a->projects[i]);
	}
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
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
}

static void on_projects_closed(struct agent *a)
{
	router_close(&a->router, on_router_closed);
}

static void on_project_closed(struct project *p)
{
	struct agent *a = p->agent;
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
	if (n == 0) {
		on_projects_closed(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		a->projects[i]->closing = true;
	for (size_t i = 0; i < n; i++)
		project_close(a->projects[i], on_project_closed);
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
		log_info(NULL, "SIGHUP: reopening sink files");
		router_reopen(&a->router);
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
		project_resume(a->projects[i]);
}

static void on_project_fatal(struct project *p)
{
	agent_shutdown(p->agent, 1);
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
	a->ckpt_timer.data = a->shutdown_timer.data = a;
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
	if (router_add_sinks(&a->router, &a->conf, a->ac.state_dir, max_event_size(a), false,
	                     errs) != 0)
		return 1;
	require_sink(a, errs);
	if (errs->count)
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
	if (gethostname(a->host, sizeof(a->host) - 1) != 0)
		snprintf(a->host, sizeof(a->host), "unknown");
	signal(SIGPIPE, SIG_IGN);
	int status = 0;
	if (load_config(path, &a->conf, &a->ac, &errs) == 0)
		load_projects(a, &errs);
	if (a->ac.hostname)
		snprintf(a->host, sizeof(a->host), "%s", a->ac.hostname);
	log_set_level(log_level >= 0 ? (enum log_level)log_level : (enum log_level)a->ac.log_level);
	log_conf_warnings(&errs);
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
	conf_errs_free(&errs);
	if (uv_loop_close(&a->loop) != 0)
		log_warn(NULL, "event loop closed with handles still open");
	free(a);
	return status;
}

/* reload: SIGHUP's second half (agent.c reopens the files first, whatever
 * follows). The configuration file is read and validated as
 * --check-config would; a configuration with errors is rejected, each error
 * logged as FILE:LINE: message, and the running one stays. Otherwise the
 * difference is applied (confdiff.h says what "changed" means):
 *
 * - [agent]: log_level, checkpoint_interval, shutdown_timeout, hostname,
 *   allow_core_dumps and include apply at once; any other key (state_dir)
 *   differing rejects the reload: it takes a restart.
 * - a sink whose section changed is replaced (router_replace_sink: flushed
 *   until shutdown_timeout, closed, its unacknowledged records handed to the
 *   new one), a removed one closed, a new one opened; the others keep
 *   running, file handles and connections included.
 * - a project whose section changed, or that is gone, stops reading and
 *   closes once every record it made is done, checkpoints written; then the
 *   new and changed projects start, resuming from those checkpoints. Nothing
 *   is lost, and nothing is read twice but what the resume overlap always
 *   drops by id.
 *
 * The service manager hears RELOADING=1 first and READY=1 when it is over
 * (or after shutdown_timeout, with a STATUS= saying what still waits). A
 * SIGHUP during a reload reopens the files and reads the configuration again
 * once the reload in progress is over. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"

struct reload {
	struct conf conf;
	struct agent_conf ac;
	struct confdiff digests;
	struct project **fresh; /* to start once the retiring projects closed */
	size_t nfresh;
	unsigned retiring;
	unsigned sinks_changed, projects_changed;
};

static const char *const live_keys[] = {"log_level",
                                        "checkpoint_interval",
                                        "shutdown_timeout",
                                        "hostname",
                                        "include",
                                        "allow_core_dumps",
                                        NULL};

static void free_reload(struct reload *rl)
{
	for (size_t i = 0; i < rl->nfresh; i++)
		project_free(rl->fresh[i]);
	free(rl->fresh);
	opts_free(agent_opts, &rl->ac);
	conf_free(&rl->conf);
	confdiff_free(&rl->digests);
	free(rl);
}

static void schedule_step(struct agent *a);

static void on_project_retired(struct project *p)
{
	struct agent *a = p->agent;
	if (a->shutting_down)
		agent_project_closed(p);
	else
		schedule_step(a);
}

static void on_swapped(struct router *rt)
{
	schedule_step(rt->data);
}

static void finish(struct agent *a)
{
	struct reload *rl = a->reload;
	conf_free(&a->conf);
	a->conf = rl->conf;
	memset(&rl->conf, 0, sizeof(rl->conf));
	confdiff_free(&a->digests);
	a->digests = rl->digests;
	memset(&rl->digests, 0, sizeof(rl->digests));
	log_info(NULL,
	         "reload complete: %u sink(s) and %u project(s) restarted, added or removed; "
	         "%zu project(s), %zu sink(s) running",
	         rl->sinks_changed, rl->projects_changed, a->nprojects, a->router.nsinks);
	free_reload(rl);
	a->reload = NULL;
	uv_timer_stop(&a->reload_ready_timer);
	notify_send(&a->notify, "READY=1");
	notify_status(&a->notify, "running: %zu project(s), %zu sink(s)", a->nprojects,
	              a->router.nsinks);
	if (a->reload_again) {
		a->reload_again = false;
		reload_start(a);
	}
}

static void start_fresh(struct agent *a, struct reload *rl)
{
	struct project **grown =
	    realloc(a->projects, (a->nprojects + rl->nfresh) * sizeof(*a->projects));
	if (!grown) {
		log_error(NULL, "out of memory: the new projects are not started");
		return;
	}
	a->projects = grown;
	for (size_t i = 0; i < rl->nfresh; i++) {
		struct project *p = rl->fresh[i];
		a->projects[a->nprojects++] = p;
		log_info(p->who, "starting with the new configuration");
		if (project_start(p, &a->loop, &a->http, &a->router) != 0)
			log_error(p->who, "cannot start: out of memory");
	}
	free(rl->fresh);
	rl->fresh = NULL;
	rl->nfresh = 0;
}

static void step(uv_timer_t *t)
{
	struct agent *a = t->data;
	struct reload *rl = a->reload;
	if (!rl || a->shutting_down)
		return;
	for (size_t i = 0; i < a->nprojects;) {
		struct project *p = a->projects[i];
		if (!p->closed) {
			i++;
			continue;
		}
		memmove(a->projects + i, a->projects + i + 1,
		        (a->nprojects - i - 1) * sizeof(*a->projects));
		a->nprojects--;
		project_free(p);
		rl->retiring--;
	}
	/* A project that took the place of one closing shares its checkpoint
	 * files and stream slots: it starts only once the old one is gone. */
	if (rl->retiring == 0 && rl->nfresh)
		start_fresh(a, rl);
	if (rl->retiring == 0 && !router_swapping(&a->router))
		finish(a);
}

static void schedule_step(struct agent *a)
{
	if (a->reload && !a->shutting_down)
		uv_timer_start(&a->reload_timer, step, 0, 0);
}

static void on_ready_timeout(uv_timer_t *t)
{
	struct agent *a = t->data;
	struct reload *rl = a->reload;
	if (!rl)
		return;
	log_warn(NULL,
	         "reload still in progress after shutdown_timeout: %u project(s) wait for their "
	         "records in flight, %zu sink(s) are still closing",
	         rl->retiring, a->router.nretiring);
	notify_send(&a->notify, "READY=1");
	notify_status(&a->notify, "reloading: %u project(s) wait for records in flight",
	              rl->retiring);
}

static void apply_sinks(struct agent *a, struct reload *rl, uint64_t max_event_size,
                        uint64_t deadline)
{
	struct router *rt = &a->router;
	struct conf_errs errs;
	conf_errs_init(&errs);
	for (size_t i = rt->nsinks; i-- > 0;) {
		struct router_sink *rs = rt->sinks[i];
		const struct conf_section *sec = conf_find(&rl->conf, "sink", rs->sink.name);
		if (sec && !rs->open_failed &&
		    !confdiff_changed(&a->digests, &rl->digests, "sink", rs->sink.name))
			continue;
		rl->sinks_changed++;
		if (router_replace_sink(rt, i, sec, a->ac.state_dir, max_event_size, deadline,
		                        &errs) != 0)
			log_error(rs->sink.who,
			          "cannot be replaced (out of memory); it keeps running");
	}
	for (size_t i = 0; i < rl->conf.n; i++) {
		const struct conf_section *sec = &rl->conf.sections[i];
		if (strcmp(sec->type, "sink") != 0 || router_find_sink(rt, sec->name))
			continue;
		rl->sinks_changed++;
		log_info(NULL, "sink %s added", sec->name);
		if (router_add_sink(rt, sec, NULL, a->ac.state_dir, max_event_size, false, &errs) !=
		    0) {
			struct router_sink *rs = router_find_sink(rt, sec->name);
			if (rs)
				rs->open_failed = true;
		}
	}
	agent_log_conf_errs(&errs);
	conf_errs_free(&errs);
}

static struct project *take_fresh(struct reload *rl, const char *name)
{
	for (size_t i = 0; i < rl->nfresh; i++) {
		struct project *q = rl->fresh[i];
		if (strcmp(q->name, name) != 0)
			continue;
		memmove(rl->fresh + i, rl->fresh + i + 1,
		        (rl->nfresh - i - 1) * sizeof(*rl->fresh));
		rl->nfresh--;
		return q;
	}
	return NULL;
}

static void apply_projects(struct agent *a, struct reload *rl)
{
	for (size_t i = 0; i < a->nprojects; i++) {
		struct project *p = a->projects[i];
		if (p->stopping)
			continue;
		bool changed = confdiff_changed(&a->digests, &rl->digests, "project", p->name);
		if (!changed) {
			project_free(take_fresh(rl, p->name));
			continue;
		}
		rl->projects_changed++;
		bool gone = !conf_find(&rl->conf, "project", p->name);
		log_info(p->who, "%s: closing it once its records in flight are done%s",
		         gone ? "no longer configured" : "section changed",
		         gone ? "" : ", then starting it again");
		rl->retiring++;
		project_retire(p, on_project_retired);
	}
	for (size_t i = 0; i < rl->nfresh; i++)
		if (!conf_find(&a->conf, "project", rl->fresh[i]->name))
			rl->projects_changed++;
}

void reload_start(struct agent *a)
{
	if (a->reload) {
		a->reload_again = true;
		log_info(NULL,
		         "a reload is in progress: the configuration is read again when it ends");
		return;
	}
	notify_reloading(&a->notify);
	notify_status(&a->notify, "reloading the configuration");
	struct reload *rl = calloc(1, sizeof(*rl));
	if (!rl) {
		log_error(NULL, "reload: out of memory; the running configuration stays");
		notify_send(&a->notify, "READY=1");
		return;
	}
	struct conf_errs errs;
	conf_errs_init(&errs);
	if (agent_load_config(a->path, &rl->conf, &rl->ac, &errs) == 0) {
		agent_load_projects(a, &rl->conf, &rl->fresh, &rl->nfresh, &errs);
		agent_check_sinks(a, &rl->conf, rl->fresh, rl->nfresh, &errs);
		confdiff_agent(conf_find(&a->conf, "agent", NULL),
		               conf_find(&rl->conf, "agent", NULL), live_keys, &errs);
	}
	uint64_t mes = agent_max_event_size(rl->fresh, rl->nfresh);
	if (!errs.count && confdiff_build(&rl->digests, &rl->conf, mes) != 0)
		conf_err(&errs, a->path, 0, "out of memory");
	agent_log_conf_errs(&errs);
	if (errs.count) {
		log_error(NULL,
		          "reload rejected (%d error(s) in %s): the running configuration stays",
		          errs.count, a->path);
		notify_send(&a->notify, "READY=1");
		notify_status(&a->notify,
		              "running: %zu project(s), %zu sink(s); the last reload was "
		              "rejected (%d error(s))",
		              a->nprojects, a->router.nsinks, errs.count);
		conf_errs_free(&errs);
		free_reload(rl);
		return;
	}
	conf_errs_free(&errs);
	agent_apply_live(a, &rl->ac);
	a->reload = rl;
	a->router.on_swapped = on_swapped;
	uint64_t deadline = uv_now(&a->loop) + a->ac.shutdown_timeout_ms;
	apply_sinks(a, rl, mes, deadline);
	apply_projects(a, rl);
	if (rl->sinks_changed + rl->projects_changed == 0)
		log_info(NULL, "configuration unchanged");
	uv_timer_start(&a->reload_ready_timer, on_ready_timeout, a->ac.shutdown_timeout_ms + 1000,
	               0);
	schedule_step(a);
}

void reload_close(struct agent *a)
{
	if (a->reload_timer.loop && !uv_is_closing((uv_handle_t *)&a->reload_timer))
		uv_close((uv_handle_t *)&a->reload_timer, NULL);
	if (a->reload_ready_timer.loop && !uv_is_closing((uv_handle_t *)&a->reload_ready_timer))
		uv_close((uv_handle_t *)&a->reload_ready_timer, NULL);
	if (a->reload) {
		free_reload(a->reload);
		a->reload = NULL;
	}
}

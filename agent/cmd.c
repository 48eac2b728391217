/* cmd: the commands' shared set-up and close (cmd.h). */
#include "cmd.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "normalize.h"

int64_t cmd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_parse_when(const char *s, int64_t now_ms, int64_t *ms)
{
	uint64_t ago;
	if (strcmp(s, "now") == 0) {
		*ms = now_ms;
		return 0;
	}
	if (conf_parse_duration(s, &ago) == 0 && ago <= (uint64_t)now_ms) {
		*ms = now_ms - (int64_t)ago;
		return 0;
	}
	return norm_parse_time(s, strlen(s), ms) == 0 ? 0 : LG_EINVAL;
}

int cmd_usage(const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sinch-logd %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see sinch-logd %s --help)\n", name);
	return CMD_USAGE;
}

void cmd_err(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sinch-logd %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cmd_common_opt(struct cmd_opts *o, int opt, const char *arg, const char *name)
{
	switch (opt) {
	case 'c':
		o->config = arg;
		return 1;
	case CMD_OPT_PROJECT:
		o->project = arg;
		return 1;
	case CMD_OPT_API_URL:
		o->api_url = arg;
		return 1;
	case CMD_OPT_TOKEN_URL:
		o->token_url = arg;
		return 1;
	case 'v':
		o->log_level = o->log_level == LOG_INFO ? LOG_DEBUG : LOG_INFO;
		return 1;
	case CMD_OPT_LOG_LEVEL:
		o->log_level = log_level_parse(arg);
		if (o->log_level < 0) {
			cmd_usage(name, "--log-level: '%s' is not debug, info, warning or error",
			          arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

/* ---- closing ---- */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_router_closed(struct router *rt)
{
	struct cmd *c = rt->data;
	httpc_close(&c->http, NULL);
	close_handle((uv_handle_t *)&c->sig_int);
	close_handle((uv_handle_t *)&c->sig_term);
}

static void on_project_closed(struct project *p)
{
	struct cmd *c = p->agent;
	router_close(&c->router, on_router_closed);
}

void cmd_part_closed(struct cmd *c)
{
	if (--c->pending > 0)
		return;
	if (c->p)
		project_close(c->p, on_project_closed);
	else
		router_close(&c->router, on_router_closed);
}

void cmd_finish(struct cmd *c, int status)
{
	if (c->finishing)
		return;
	c->finishing = true;
	c->status = status;
	c->pending = 1;
	if (c->close_own)
		c->close_own(c);
	cmd_part_closed(c);
}

int cmd_run(struct cmd *c)
{
	uv_run(&c->loop, UV_RUN_DEFAULT);
	project_free(c->p);
	c->p = NULL;
	router_free(&c->router);
	opts_free(agent_opts, &c->ac);
	conf_free(&c->conf);
	free(c->env_sec.name);
	if (uv_loop_close(&c->loop) != 0)
		log_warn(NULL, "event loop closed with handles still open");
	return c->status;
}

/* ---- opening ---- */

static void on_signal(uv_signal_t *h, int signum)
{
	struct cmd *c = h->data;
	(void)signum;
	if (c->finishing) {
		/* A second signal while closing: go now. */
		_exit(130);
	}
	if (c->on_signal)
		c->on_signal(c);
	else
		cmd_finish(c, 130);
}

static void on_record_done(struct router *rt, struct record *r)
{
	struct cmd *c = rt->data;
	if (c->record_done)
		c->record_done(c, r);
}

static void on_drain(struct router *rt)
{
	struct cmd *c = rt->data;
	if (c->on_drain)
		c->on_drain(c);
}

/* The [project] section: the one named, or the only one. */
static const struct conf_section *find_project(struct cmd *c, const char *name)
{
	const struct conf_section *found = NULL;
	size_t n = 0;
	for (size_t i = 0; i < c->conf.n; i++) {
		const struct conf_section *s = &c->conf.sections[i];
		if (strcmp(s->type, "project") != 0)
			continue;
		n++;
		if (!name || strcmp(s->name, name) == 0)
			found = found && !name ? found : s;
	}
	if (name && !found)
		cmd_err(c, "%s: no [project %s]", c->conf.files[0], name);
	else if (!found)
		cmd_err(c, "%s: no [project NAME] section", c->conf.files[0]);
	else if (!name && n > 1)
		cmd_err(c, "%s: %zu [project] sections: choose one with --project NAME",
		        c->conf.files[0], n);
	return name || n == 1 ? found : NULL;
}

static int replace(char **field, const char *value)
{
	if (!value)
		return 0;
	char *v = strdup(value);
	if (!v)
		return LG_ENOMEM;
	free(*field);
	*field = v;
	return 0;
}

static int load_project(struct cmd *c, const struct cmd_opts *o, struct conf_errs *errs)
{
	const struct conf_section *sec;
	if (o->config) {
		if (conf_load(o->config, &c->conf, errs) != 0)
			return CMD_USAGE;
		const struct conf_section *as = conf_find(&c->conf, "agent", NULL);
		opts_apply(agent_opts, &c->ac, as, errs);
		if (!(sec = find_project(c, o->project)))
			return CMD_USAGE;
	} else {
		/* No file: the Sinch CLI's environment, and the URLs given. */
		opts_defaults(agent_opts, &c->ac);
		struct conf_section *s = &c->env_sec;
		s->type = "project";
		s->name = strdup("cli");
		s->file = "(environment)";
		s->entries = c->env_entries;
		if (o->api_url)
			c->env_entries[s->n++] = (struct conf_entry){"api_url", (char *)o->api_url,
			                                             "(--api-url)", 0, false};
		if (o->token_url)
			c->env_entries[s->n++] = (struct conf_entry){
			    "token_url", (char *)o->token_url, "(--token-url)", 0, false};
		sec = s;
	}
	if (errs->count)
		return CMD_USAGE;
	c->p = project_new(sec, errs);
	if (!c->p)
		return CMD_USAGE;
	if (o->config && (replace(&c->p->conf.api_url, o->api_url) ||
	                  replace(&c->p->conf.token_url, o->token_url)))
		return CMD_FAILED;
	return 0;
}

int cmd_open(struct cmd *c, const char *name, const struct cmd_opts *o, double logs_share)
{
	static char host[256];
	c->name = name;
	log_set_level(o->log_level >= 0 ? (enum log_level)o->log_level : LOG_WARNING);
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&c->loop);
	router_init(&c->router, &c->loop);
	c->router.data = c;
	c->router.http = &c->http;
	c->router.on_done = on_record_done;
	c->router.on_drain = on_drain;
	uv_signal_init(&c->loop, &c->sig_int);
	uv_signal_init(&c->loop, &c->sig_term);
	c->sig_int.data = c->sig_term.data = c;
	uv_signal_start(&c->sig_int, on_signal, SIGINT);
	uv_signal_start(&c->sig_term, on_signal, SIGTERM);
	int rc = httpc_init(&c->http, &c->loop) ? CMD_FAILED : 0;
	struct conf_errs errs;
	conf_errs_init(&errs);
	if (!rc)
		rc = load_project(c, o, &errs);
	conf_warnings_print(&errs, stderr);
	conf_errs_print(&errs, stderr);
	conf_errs_free(&errs);
	if (!rc) {
		struct project *p = c->p;
		if (gethostname(host, sizeof(host) - 1) != 0)
			snprintf(host, sizeof(host), "unknown");
		p->host = c->ac.hostname ? c->ac.hostname : host;
		p->state_dir = c->ac.state_dir;
		p->agent = c;
		int64_t limit = (int64_t)((double)p->conf.logs_rate_limit * logs_share);
		p->conf.logs_rate_limit = limit < 1 ? 1 : limit;
		if (project_open(p, &c->loop, &c->http, &c->router) != 0)
			rc = CMD_FAILED;
	}
	if (rc)
		cmd_finish(c, rc);
	return rc;
}

int cmd_api_error(struct cmd *c, int err, const struct api_req *r, const char *what)
{
	const char *msg = r && r->message[0] ? r->message : NULL;
	switch (err) {
	case LG_EAUTH:
		cmd_err(c,
		        "%s: authentication failed: check key_id and key_secret (or "
		        "SINCH_KEY_ID and SINCH_KEY_SECRET), or the token",
		        what);
		return CMD_USAGE;
	case LG_EFORBIDDEN:
		cmd_err(c, "%s: HTTP 403: the key has no access%s%s", what, msg ? ": " : "",
		        msg ? msg : "");
		return CMD_USAGE;
	case LG_ENOENT:
		cmd_err(c, "%s: HTTP 404: no such project or function%s%s", what, msg ? ": " : "",
		        msg ? msg : "");
		return CMD_USAGE;
	case LG_EINVAL:
		cmd_err(c, "%s: the API refused the request (HTTP %ld)%s%s", what,
		        r ? r->status : 0L, msg ? ": " : "", msg ? msg : "");
		return CMD_FAILED;
	default:
		cmd_err(c, "%s failed: %s", what, lg_strerror(err));
		return CMD_FAILED;
	}
}

/* ---- resolving a function ---- */

static void on_list(struct api_req *req, int err)
{
	struct cmd_resolve *r = req->data;
	struct cmd *c = r->c;
	if (err) {
		r->done(r, NULL, NULL, cmd_api_error(c, err, req, "listing functions"));
		return;
	}
	cJSON *doc = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "functions");
	const cJSON *f, *hit = NULL;
	cJSON_ArrayForEach(f, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
		if (cJSON_IsString(id) &&
		    (strcmp(id->valuestring, r->want) == 0 ||
		     (cJSON_IsString(nm) && strcmp(nm->valuestring, r->want) == 0)))
			hit = f;
	}
	if (!cJSON_IsArray(list)) {
		cmd_err(c, "the functions list is not in the expected shape");
		r->done(r, NULL, NULL, CMD_FAILED);
	} else if (!hit) {
		cmd_err(c, "no function '%s' in project %s", r->want, c->p->conf.project_id);
		r->done(r, NULL, NULL, CMD_USAGE);
	} else {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(hit, "id");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(hit, "name");
		r->done(r, id->valuestring, cJSON_IsString(nm) ? nm->valuestring : id->valuestring,
		        0);
	}
	cJSON_Delete(doc);
}

int cmd_resolve(struct cmd_resolve *r, struct cmd *c, const char *function,
                void (*done)(struct cmd_resolve *r, const char *id, const char *name, int status))
{
	r->c = c;
	r->done = done;
	r->want = strdup(function);
	int rc = api_req_init(&r->req, &c->p->api);
	r->open = true;
	if (rc || !r->want)
		return LG_ENOMEM;
	r->req.data = r;
	r->req.what = "functions list";
	r->req.max_attempts = 3;
	return api_req_get(&r->req, API_CLASS_API, "/functions", on_list);
}

static void on_resolve_closed(struct api_req *req)
{
	struct cmd_resolve *r = req->data;
	free(r->want);
	r->want = NULL;
	cmd_part_closed(r->c);
}

void cmd_resolve_close(struct cmd_resolve *r)
{
	if (!r->open)
		return;
	r->open = false;
	r->c->pending++;
	r->req.data = r;
	api_req_close(&r->req, on_resolve_closed);
}

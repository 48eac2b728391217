/* The inspection commands: `list` (the functions of the project) and
 * `status FUNCTION` (its status, or waiting for one: for CI after a
 * deploy). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "ctlrec.h"
#include "err.h"
#include "json.h"

/* ---- list ---- */

struct list_cmd {
	struct cmd c;
	struct api_req req;
	bool req_open;
	bool json;
};

static const char *member(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "-";
}

static void print_table(const cJSON *list)
{
	static const char *const cols[] = {"id", "name", "runtime", "status", "updatedAt"};
	static const char *const heads[] = {"ID", "NAME", "RUNTIME", "STATUS", "UPDATED"};
	enum { NCOLS = 5 };
	int w[NCOLS];
	for (int i = 0; i < NCOLS; i++)
		w[i] = (int)strlen(heads[i]);
	const cJSON *f;
	cJSON_ArrayForEach(f, list)
	{
		for (int i = 0; i < NCOLS; i++) {
			int n = (int)strlen(member(f, cols[i]));
			w[i] = n > w[i] ? n : w[i];
		}
	}
	for (int i = 0; i < NCOLS; i++)
		printf("%-*s%s", i < NCOLS - 1 ? w[i] : 0, heads[i], i < NCOLS - 1 ? "  " : "\n");
	cJSON_ArrayForEach(f, list)
	{
		for (int i = 0; i < NCOLS; i++)
			printf("%-*s%s", i < NCOLS - 1 ? w[i] : 0, member(f, cols[i]),
			       i < NCOLS - 1 ? "  " : "\n");
	}
}

/* The API's own array, verbatim (its numbers and unknown fields intact). */
static int print_json(const struct buf *body)
{
	struct json_doc d;
	json_doc_init(&d, (uint32_t)body->len + 1);
	int rc = json_parse(&d, body->data ? body->data : "", body->len);
	int arr = rc ? -1 : json_obj_get(&d, 0, "functions");
	if (arr >= 0 && d.toks[arr].type == JSON_ARRAY)
		printf("%.*s\n", (int)d.toks[arr].len, json_text(&d, arr));
	else
		rc = LG_EPARSE;
	json_doc_free(&d);
	return rc;
}

static void on_list(struct api_req *r, int err)
{
	struct list_cmd *l = r->data;
	struct cmd *c = &l->c;
	if (err) {
		cmd_finish(c, cmd_api_error(c, err, r, "listing functions"));
		return;
	}
	cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "functions");
	int status = CMD_OK;
	if (!cJSON_IsArray(list) || (l->json && print_json(&r->body) != 0)) {
		cmd_err(c, "the functions list is not in the expected shape");
		status = CMD_FAILED;
	} else if (!l->json) {
		print_table(list);
	}
	cJSON_Delete(doc);
	fflush(stdout);
	cmd_finish(c, status);
}

static void on_list_req_closed(struct api_req *r)
{
	struct list_cmd *l = r->data;
	cmd_part_closed(&l->c);
}

static void list_close(struct cmd *c)
{
	struct list_cmd *l = c->data;
	if (!l->req_open)
		return;
	l->req_open = false;
	c->pending++;
	api_req_close(&l->req, on_list_req_closed);
}

static void list_usage(FILE *out)
{
	fprintf(out, "Usage: sinch-logd list [--json] [-c FILE | --api-url URL --token-url URL]\n"
	             "Lists the project's functions: id, name, runtime, status, last update.\n\n"
	             "      --json            the API's list as one JSON array\n" CMD_COMMON_HELP);
}

int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CMD_COMMON_LONGOPTS,
	    {"json", no_argument, NULL, CMD_OPT_OWN},
	    {NULL, 0, NULL, 0},
	};
	struct cmd_opts o = {.log_level = -1};
	struct list_cmd l = {0};
	int opt, rc;
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if ((rc = cmd_common_opt(&o, opt, optarg, "list")) != 0) {
			if (rc < 0)
				return CMD_USAGE;
		} else if (opt == CMD_OPT_OWN) {
			l.json = true;
		} else if (opt == 'h') {
			list_usage(stdout);
			return CMD_OK;
		} else {
			list_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind < argc)
		return cmd_usage("list", "unexpected argument '%s'", argv[optind]);
	l.c.data = &l;
	l.c.close_own = list_close;
	if (cmd_open(&l.c, "list", &o, 1.0) != 0)
		return cmd_run(&l.c);
	l.req_open = true;
	if (api_req_init(&l.req, &l.c.p->api) != 0) {
		cmd_finish(&l.c, CMD_FAILED);
		return cmd_run(&l.c);
	}
	l.req.data = &l;
	l.req.what = "functions list";
	l.req.max_attempts = 3;
	if (api_req_get(&l.req, API_CLASS_API, "/functions", on_list) != 0)
		cmd_finish(&l.c, CMD_FAILED);
	return cmd_run(&l.c);
}

/* ---- status ---- */

static const char *const statuses[] = {"Running",   "Stopped",        "Failed", "Building",
                                       "Deploying", "PreparingBuild", "Queued", "Created"};

struct status_cmd {
	struct cmd c;
	struct cmd_resolve res;
	struct api_req req;
	bool req_open;
	uv_timer_t poll_timer, deadline;
	bool timers_open;
	char *fid, *fname;
	char *path;
	const char *wait_for;
	uint64_t timeout_ms, interval_ms;
	char last[128];
};

static void ask(struct status_cmd *s);

static void on_poll_timer(uv_timer_t *t)
{
	ask(t->data);
}

static void on_deadline(uv_timer_t *t)
{
	struct status_cmd *s = t->data;
	cmd_err(&s->c, "timed out after %llu s waiting for %s to be %s (status: %s)",
	        (unsigned long long)(s->timeout_ms / 1000), s->fname ? s->fname : "the function",
	        s->wait_for, s->last[0] ? s->last : "unknown");
	cmd_finish(&s->c, CMD_FAILED);
}

static void on_status(struct api_req *r, int err)
{
	struct status_cmd *s = r->data;
	struct cmd *c = &s->c;
	if (err == LG_EAGAIN && s->wait_for) {
		uv_timer_start(&s->poll_timer, on_poll_timer, s->interval_ms, 0);
		return;
	}
	if (err) {
		cmd_finish(c, cmd_api_error(c, err, r, "reading the status"));
		return;
	}
	char status[128], error[1024];
	if (ctlrec_status_fields(r->body.data, r->body.len, status, sizeof(status), error,
	                         sizeof(error)) != 0) {
		cmd_err(c, "the status answer is not in the expected shape");
		cmd_finish(c, CMD_FAILED);
		return;
	}
	if (strcmp(status, s->last) != 0) {
		printf("%s (%s): %s%s%s\n", s->fname, s->fid, status, error[0] ? ": " : "", error);
		fflush(stdout);
		snprintf(s->last, sizeof(s->last), "%s", status);
	}
	if (!s->wait_for) {
		cmd_finish(c, CMD_OK);
	} else if (strcmp(status, s->wait_for) == 0) {
		cmd_finish(c, CMD_OK);
	} else if (strcmp(status, "Failed") == 0) {
		cmd_err(c, "%s failed while waiting for %s%s%s", s->fname, s->wait_for,
		        error[0] ? ": " : "", error);
		cmd_finish(c, CMD_FAILED);
	} else {
		uv_timer_start(&s->poll_timer, on_poll_timer, s->interval_ms, 0);
	}
}

static void ask(struct status_cmd *s)
{
	if (api_req_get(&s->req, API_CLASS_API, s->path, on_status) != 0)
		cmd_finish(&s->c, CMD_FAILED);
}

static void on_resolved(struct cmd_resolve *r, const char *id, const char *name, int status)
{
	struct status_cmd *s = r->c->data;
	if (!id) {
		cmd_finish(&s->c, status);
		return;
	}
	struct buf p;
	buf_init(&p, 4096);
	s->fid = strdup(id);
	s->fname = strdup(name);
	if (buf_puts(&p, "/functions/") || api_escape(&p, id) || buf_puts(&p, "/status") ||
	    !s->fid || !s->fname) {
		buf_free(&p);
		cmd_finish(&s->c, CMD_FAILED);
		return;
	}
	s->path = buf_detach(&p, NULL);
	ask(s);
}

static void on_status_part_closed(uv_handle_t *h)
{
	struct status_cmd *s = h->data;
	cmd_part_closed(&s->c);
}

static void on_status_req_closed(struct api_req *r)
{
	struct status_cmd *s = r->data;
	cmd_part_closed(&s->c);
}

static void status_close(struct cmd *c)
{
	struct status_cmd *s = c->data;
	cmd_resolve_close(&s->res);
	if (s->req_open) {
		s->req_open = false;
		c->pending++;
		api_req_close(&s->req, on_status_req_closed);
	}
	if (s->timers_open) {
		s->timers_open = false;
		c->pending += 2;
		uv_close((uv_handle_t *)&s->poll_timer, on_status_part_closed);
		uv_close((uv_handle_t *)&s->deadline, on_status_part_closed);
	}
}

static void status_usage(FILE *out)
{
	fprintf(out,
	        "Usage: sinch-logd status FUNCTION [--wait-for STATUS] [--timeout 300s] "
	        "[--interval 5s]\n"
	        "Prints a function's status. With --wait-for, polls until it has that status "
	        "(exit 0), or\nuntil it is Failed or the timeout passes (exit 1); 2 means a usage, "
	        "configuration or\nauthentication error.\n\n"
	        "      --wait-for S      Running, Stopped, Failed, Building, Deploying, "
	        "PreparingBuild,\n"
	        "                        Queued or Created\n"
	        "      --timeout D       how long to wait (default 300s)\n"
	        "      --interval D      how often to ask (default 5s)\n" CMD_COMMON_HELP);
}

static const char *canonical_status(const char *s)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcasecmp(s, statuses[i]) == 0)
			return statuses[i];
	return NULL;
}

int cmd_status(int argc, char **argv)
{
	enum { OPT_WAIT = CMD_OPT_OWN, OPT_TIMEOUT, OPT_INTERVAL };
	static const struct option longopts[] = {
	    CMD_COMMON_LONGOPTS,
	    {"wait-for", required_argument, NULL, OPT_WAIT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {NULL, 0, NULL, 0},
	};
	struct cmd_opts o = {.log_level = -1};
	struct status_cmd s = {.timeout_ms = 300000, .interval_ms = 5000};
	int opt, rc;
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if ((rc = cmd_common_opt(&o, opt, optarg, "status")) != 0) {
			if (rc < 0)
				return CMD_USAGE;
		} else if (opt == OPT_WAIT) {
			if (!(s.wait_for = canonical_status(optarg)))
				return cmd_usage("status", "--wait-for: '%s' is not a status",
				                 optarg);
		} else if (opt == OPT_TIMEOUT || opt == OPT_INTERVAL) {
			uint64_t *v = opt == OPT_TIMEOUT ? &s.timeout_ms : &s.interval_ms;
			if (conf_parse_duration(optarg, v) != 0 || *v == 0)
				return cmd_usage("status", "%s: '%s' is not a duration",
				                 opt == OPT_TIMEOUT ? "--timeout" : "--interval",
				                 optarg);
		} else if (opt == 'h') {
			status_usage(stdout);
			return CMD_OK;
		} else {
			status_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cmd_usage("status",
		                 optind < argc ? "one FUNCTION only" : "no FUNCTION given");
	s.c.data = &s;
	s.c.close_own = status_close;
	if (cmd_open(&s.c, "status", &o, 1.0) != 0)
		return cmd_run(&s.c);
	uv_timer_init(&s.c.loop, &s.poll_timer);
	uv_timer_init(&s.c.loop, &s.deadline);
	s.poll_timer.data = s.deadline.data = &s;
	s.timers_open = true;
	s.req_open = true;
	if (api_req_init(&s.req, &s.c.p->api) != 0) {
		cmd_finish(&s.c, CMD_FAILED);
		return cmd_run(&s.c);
	}
	s.req.data = &s;
	s.req.what = "status";
	s.req.max_attempts = 3;
	if (s.wait_for)
		uv_timer_start(&s.deadline, on_deadline, s.timeout_ms, 0);
	if (cmd_resolve(&s.res, &s.c, argv[optind], on_resolved) != 0)
		cmd_finish(&s.c, CMD_FAILED);
	rc = cmd_run(&s.c);
	free(s.fid);
	free(s.fname);
	free(s.path);
	return rc;
}

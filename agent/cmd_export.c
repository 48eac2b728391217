/* `sinch-logd export FUNCTION --since 24h …`: one window of a function's
 * historical logs, read once, in order, through a sink of the
 * configuration (--sink NAME) or into a file (-o FILE). It is a stream in
 * window mode (stream.h): the records, dedup, acknowledgements and
 * checkpoint are the agent's own. The historical-logs rate limit is shared
 * (--rate-share, default half), so a running agent keeps its room.
 *
 * Resumable: STATE.json keeps the arguments and the absolute window,
 * STATE.ckpt the progress (the newest start time acknowledged and the ids
 * delivered at it), written every second and at an interruption. Running
 * the same command again continues where it stopped, without repeats after
 * a SIGINT (after a SIGKILL, at most the last second again); both files go
 * once the export is complete. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "cmd.h"
#include "err.h"
#include "log.h"
#include "normalize.h"

#define PROGRESS_MS 250
#define STATE_MAX (64 * 1024)

struct export_args {
	const char *function, *since, *until, *level, *search, *status, *sink, *out, *state;
	double share;
	unsigned page_size;
	bool restart;
};

struct export_cmd {
	struct cmd c;
	struct export_args a;
	struct cmd_resolve res;
	struct stream_conf sconf;
	struct stream stream;
	bool stream_open;
	uv_timer_t timer;
	bool timer_open;
	char *state;     /* STATE: the path without .json/.ckpt */
	char *state_dir; /* its directory and its name, for the checkpoint */
	char *state_name;
	struct history_query q;
	bool window_done, complete, interrupted, resumed, progress, bar_shown;
	uint64_t exported; /* records acknowledged in this run */
};

static struct export_cmd *current;

/* ---- the state file ---- */

static char *path_with(const char *base, const char *suffix)
{
	struct buf b;
	buf_init(&b, PATH_MAX);
	if (buf_puts(&b, base) || buf_puts(&b, suffix)) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static cJSON *args_json(const struct export_cmd *e)
{
	const struct export_args *a = &e->a;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "version", 1);
	cJSON_AddStringToObject(o, "function", a->function);
	cJSON_AddStringToObject(o, "since", a->since);
	cJSON_AddStringToObject(o, "until", a->until ? a->until : "");
	cJSON_AddStringToObject(o, "level", a->level ? a->level : "");
	cJSON_AddStringToObject(o, "search", a->search ? a->search : "");
	cJSON_AddStringToObject(o, "status", a->status ? a->status : "");
	cJSON_AddStringToObject(o, "to", a->out ? a->out : a->sink);
	return o;
}

/* 0: a state with these arguments (the window filled in); LG_ENOENT: none;
 * LG_EINVAL: one with other arguments; LG_EPARSE: unreadable. */
static int read_state(struct export_cmd *e, const char *path)
{
	struct buf b;
	buf_init(&b, STATE_MAX);
	int rc = conf_read_file(path, &b);
	if (rc) {
		buf_free(&b);
		return errno == ENOENT ? LG_ENOENT : LG_EPARSE;
	}
	cJSON *doc = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
	buf_free(&b);
	cJSON *want = args_json(e);
	const char *keys[] = {"function", "since", "until", "level", "search", "status", "to"};
	rc = doc ? 0 : LG_EPARSE;
	for (size_t i = 0; !rc && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, keys[i]);
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(want, keys[i]);
		if (!cJSON_IsString(x) || strcmp(x->valuestring, y->valuestring) != 0)
			rc = LG_EINVAL;
	}
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "start");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "end");
	if (!rc && (!cJSON_IsString(s) || !cJSON_IsString(t) ||
	            norm_parse_time(s->valuestring, strlen(s->valuestring), &e->q.start_ms) ||
	            norm_parse_time(t->valuestring, strlen(t->valuestring), &e->q.end_ms)))
		rc = LG_EPARSE;
	cJSON_Delete(doc);
	cJSON_Delete(want);
	return rc;
}

static int write_state(struct export_cmd *e, const char *path)
{
	char ts[NORM_TIME_LEN];
	cJSON *o = args_json(e);
	norm_format_time(e->q.start_ms, ts);
	cJSON_AddStringToObject(o, "start", ts);
	norm_format_time(e->q.end_ms, ts);
	cJSON_AddStringToObject(o, "end", ts);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char *tmp = path_with(path, ".tmp");
	int rc = text && tmp ? 0 : LG_ENOMEM;
	int fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!rc && (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	            fsync(fd) != 0 || rename(tmp, path) != 0))
		rc = LG_EIO;
	if (fd >= 0)
		close(fd);
	free(text);
	free(tmp);
	return rc;
}

static void remove_state(struct export_cmd *e)
{
	char *json = path_with(e->state, ".json");
	char *ckpt = path_with(e->state, ".ckpt");
	if (json)
		unlink(json);
	if (ckpt)
		unlink(ckpt);
	free(json);
	free(ckpt);
}

/* ---- progress ---- */

static void show_progress(struct export_cmd *e, bool last)
{
	if (!e->progress)
		return;
	uint64_t total = e->stream.hist.total_count, done = e->exported;
	int width = 30;
	int fill = total ? (int)(done * (uint64_t)width / total) : 0;
	fill = fill > width ? width : fill;
	fprintf(stderr, "\r[%.*s%*s] %3d%%  %llu/%llu records  page %ld/%ld", fill,
	        "##############################", width - fill, "",
	        total ? (int)(done * 100 / total > 100 ? 100 : done * 100 / total) : 0,
	        (unsigned long long)done, (unsigned long long)total, e->stream.hist.page,
	        e->stream.hist.total_pages < 0 ? 0 : e->stream.hist.total_pages);
	if (last)
		fputc('\n', stderr);
	e->bar_shown = !last;
}

static void on_timer(uv_timer_t *t)
{
	struct export_cmd *e = t->data;
	show_progress(e, false);
	if (e->stream_open)
		stream_save_checkpoint(&e->stream);
}

/* ---- the run ---- */

static void check_complete(struct export_cmd *e)
{
	if (!e->window_done || e->complete || stream_in_flight(&e->stream))
		return;
	e->complete = true;
	show_progress(e, true);
	char from[NORM_TIME_LEN], to[NORM_TIME_LEN];
	norm_format_time(e->q.start_ms, from);
	norm_format_time(e->q.end_ms, to);
	fprintf(stderr, "sinch-logd export: %llu record(s) of %s from %s to %s %s %s%s\n",
	        (unsigned long long)e->exported, e->stream.function_name, from, to,
	        e->a.out ? "written to" : "delivered to sink", e->a.out ? e->a.out : e->a.sink,
	        e->resumed ? " (this run; the export was resumed)" : "");
	cmd_finish(&e->c, CMD_OK);
}

static void on_window_done(struct stream *s, int err)
{
	struct export_cmd *e = current;
	(void)s;
	if (err) {
		if (e->bar_shown)
			fputc('\n', stderr);
		e->bar_shown = false;
		int st = cmd_api_error(&e->c, err, &e->stream.hist.req, "reading historical logs");
		cmd_err(&e->c, "the export is incomplete; run the same command again to resume it");
		stream_save_checkpoint(&e->stream);
		cmd_finish(&e->c, st);
		return;
	}
	e->window_done = true;
	check_complete(e);
}

static void export_record_done(struct cmd *c, struct record *r)
{
	struct export_cmd *e = c->data;
	stream_record_done(r->origin, r);
	e->exported++;
	check_complete(e);
}

static void export_drain(struct cmd *c)
{
	struct export_cmd *e = c->data;
	if (e->stream_open && !e->interrupted)
		stream_resume(&e->stream);
}

static void on_flushed(struct router *rt)
{
	struct export_cmd *e = ((struct cmd *)rt->data)->data;
	if (e->bar_shown)
		fputc('\n', stderr);
	e->bar_shown = false;
	stream_save_checkpoint(&e->stream);
	cmd_err(&e->c, "interrupted after %llu record(s)%s; run the same command again to resume",
	        (unsigned long long)e->exported,
	        stream_in_flight(&e->stream) ? " (some not acknowledged: they are read again)"
	                                     : "");
	cmd_finish(&e->c, 130);
}

/* SIGINT: read no more, let the sink acknowledge what it holds, write the
 * checkpoint, stop. */
static void export_signal(struct cmd *c)
{
	struct export_cmd *e = c->data;
	if (e->interrupted || !e->stream_open) {
		cmd_finish(c, 130);
		return;
	}
	e->interrupted = true;
	stream_stop(&e->stream);
	router_flush(&c->router, uv_now(&c->loop) + 10000, on_flushed);
}

/* Resumes the export recorded in the state, or records a new one (and
 * empties the output file). 0, or the exit status after saying why. */
static int prepare_state(struct export_cmd *e)
{
	char *json = path_with(e->state, ".json");
	char *ckpt = path_with(e->state, ".ckpt");
	int rc = !json || !ckpt ? LG_ENOMEM : e->a.restart ? LG_ENOENT : read_state(e, json);
	int status = 0;
	if (rc == 0) {
		e->resumed = true;
		log_info(NULL, "resuming the export recorded in %s", json);
	} else if (rc == LG_EINVAL || rc == LG_EPARSE) {
		cmd_err(
		    &e->c, "%s: %s; run the same command as before to resume it, or add --restart",
		    json,
		    rc == LG_EINVAL ? "an unfinished export with other arguments is recorded here"
		                    : "unreadable export state");
		status = CMD_USAGE;
	} else if (rc == LG_ENOMEM) {
		status = CMD_FAILED;
	} else {
		unlink(ckpt);
		/* The agent's state directory may not exist yet; the agent is
		 * not locked out of it (an export runs beside a running agent). */
		if (mkdir(e->state_dir, 0700) != 0 && errno != EEXIST)
			log_debug(NULL, "cannot create %s: %s", e->state_dir, strerror(errno));
		int fd =
		    e->a.out ? open(e->a.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640) : -2;
		if (fd == -1 || write_state(e, json) != 0) {
			cmd_err(&e->c, "cannot write %s: %s", fd == -1 ? e->a.out : json,
			        strerror(errno));
			status = CMD_FAILED;
		}
		if (fd >= 0)
			close(fd);
	}
	free(json);
	free(ckpt);
	return status;
}

static int start_stream(struct export_cmd *e, const char *id, const char *name)
{
	struct project *p = e->c.p;
	e->sconf = p->sconf;
	e->sconf.state_dir = e->state_dir;
	e->sconf.resume_overlap_ms = 0;
	e->sconf.page_size = e->a.page_size;
	e->stream_open = true;
	if (stream_init(&e->stream, &e->c.loop, &e->sconf, &e->c.http, &p->auth, &p->api,
	                &e->c.router, id, name) != 0 ||
	    stream_start_window(&e->stream, e->state_name, &e->q, on_window_done) != 0)
		return CMD_FAILED;
	return 0;
}

static void on_resolved(struct cmd_resolve *r, const char *id, const char *name, int status)
{
	struct export_cmd *e = r->c->data;
	if (!id) {
		cmd_finish(&e->c, status);
		return;
	}
	int rc = start_stream(e, id, name);
	if (rc) {
		cmd_finish(&e->c, rc);
		return;
	}
	uv_timer_start(&e->timer, on_timer, PROGRESS_MS, PROGRESS_MS);
}

static void on_stream_closed(struct stream *s)
{
	struct export_cmd *e = current;
	(void)s;
	/* The last checkpoint write has ended: the state can go. */
	if (e->complete)
		remove_state(e);
	cmd_part_closed(&e->c);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct export_cmd *e = h->data;
	cmd_part_closed(&e->c);
}

static void export_close(struct cmd *c)
{
	struct export_cmd *e = c->data;
	cmd_resolve_close(&e->res);
	if (e->stream_open) {
		e->stream_open = false;
		c->pending++;
		stream_close(&e->stream, on_stream_closed);
	}
	if (e->timer_open) {
		e->timer_open = false;
		c->pending++;
		uv_close((uv_handle_t *)&e->timer, on_timer_closed);
	}
}

/* ---- set-up ---- */

/* STATE (--state, or FILE.export, or STATE_DIR/export-SINK-FUNCTION):
 * its directory, its name, and the path of its files without suffix (the
 * name escaped as checkpoint names are). */
static int state_paths(struct export_cmd *e)
{
	struct buf b;
	buf_init(&b, PATH_MAX);
	if (e->a.state)
		buf_puts(&b, e->a.state);
	else if (e->a.out)
		buf_printf(&b, "%s.export", e->a.out);
	else
		buf_printf(&b, "%s/export-%s-%s", e->c.ac.state_dir, e->a.sink, e->a.function);
	char *whole = buf_detach(&b, NULL);
	char *d = whole ? strdup(whole) : NULL;
	char *n = whole ? strdup(whole) : NULL;
	char esc[CKPT_NAME_MAX + 16];
	int rc = !whole || !d || !n ? LG_ENOMEM : 0;
	if (!rc) {
		e->state_dir = strdup(dirname(d));
		e->state_name = strdup(basename(n));
		rc = !e->state_dir || !e->state_name
		         ? LG_ENOMEM
		         : ckpt_file_name(e->state_name, esc, sizeof(esc));
	}
	if (!rc) {
		buf_init(&b, PATH_MAX);
		buf_printf(&b, "%s/%s", e->state_dir, esc);
		e->state = buf_detach(&b, NULL);
		rc = e->state ? 0 : LG_ENOMEM;
	}
	free(whole);
	free(d);
	free(n);
	if (rc)
		cmd_err(&e->c, "cannot use the export state %s: %s",
		        e->a.state ? e->a.state : "(default)", lg_strerror(rc));
	return rc ? CMD_USAGE : 0;
}

static int add_sink(struct export_cmd *e)
{
	struct cmd *c = &e->c;
	struct conf_errs errs;
	conf_errs_init(&errs);
	uint64_t max = c->p->conf.max_event_size;
	int rc;
	if (e->a.sink) {
		const struct conf_section *sec = conf_find(&c->conf, "sink", e->a.sink);
		if (!sec) {
			cmd_err(c, "--sink %s: no [sink %s] in %s", e->a.sink, e->a.sink,
			        c->conf.nfiles ? c->conf.files[0] : "the configuration");
			conf_errs_free(&errs);
			return CMD_USAGE;
		}
		rc = router_add_sink(&c->router, sec, NULL, c->ac.state_dir, max, false, &errs);
	} else {
		/* A file sink of its own: fsync after each write, so the end of the
		 * export does not wait for an interval. */
		struct conf_entry ent[] = {
		    {"type", "file", "(-o)", 0, false},
		    {"path", (char *)e->a.out, "(-o)", 0, false},
		    {"fsync", "always", "(-o)", 0, false},
		};
		struct conf_section sec = {
		    .type = "sink", .name = "export", .file = "(-o)", .entries = ent, .n = 3};
		rc = router_add_sink(&c->router, &sec, NULL, NULL, max, false, &errs);
	}
	conf_errs_print(&errs, stderr);
	conf_errs_free(&errs);
	return rc ? CMD_USAGE : 0;
}

static void export_usage(FILE *out)
{
	fprintf(out,
	        "Usage: sinch-logd export FUNCTION --since WHEN [--until WHEN] [--level L]\n"
	        "                         [--search TEXT] [--status success|redirect|error]\n"
	        "                         (--sink NAME | -o FILE)\n"
	        "Reads one window of a function's historical logs, in order, into a sink of the\n"
	        "configuration or a file, as the agent's records. Interrupted (Ctrl-C), it is\n"
	        "resumed by running the same command again.\n\n"
	        "      --since WHEN      the window's start: a duration back from now (24h) or an\n"
	        "                        RFC 3339 time\n"
	        "      --until WHEN      its end (default: now)\n"
	        "      --level L, --search TEXT, --status S: the API's filters\n"
	        "      --sink NAME       deliver through [sink NAME] of -c FILE\n"
	        "  -o, --output FILE     write JSON lines to FILE\n"
	        "      --rate-share P    the share of the historical-logs rate limit to use "
	        "(50%%)\n"
	        "      --page-size N     entries per page (1..1000, default 1000)\n"
	        "      --state PATH      where progress is kept (default FILE.export, or\n"
	        "                        STATE_DIR/export-SINK-FUNCTION); PATH.json, PATH.ckpt\n"
	        "      --restart         forget an unfinished export and start again\n"
	        "Exit status: 0 done, 1 failed (resumable), 2 usage or authentication errors, 130\n"
	        "interrupted (resumable).\n" CMD_COMMON_HELP);
}

static int parse_share(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || !(v > 0 && v <= 1))
		return -1;
	*out = v;
	return 0;
}

static int parse_args(struct export_args *a, struct cmd_opts *o, int argc, char **argv)
{
	enum {
		OPT_SINCE = CMD_OPT_OWN,
		OPT_UNTIL,
		OPT_LEVEL,
		OPT_SEARCH,
		OPT_STATUS,
		OPT_SINK,
		OPT_SHARE,
		OPT_PAGE,
		OPT_STATE,
		OPT_RESTART,
	};
	static const struct option longopts[] = {
	    CMD_COMMON_LONGOPTS,
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"level", required_argument, NULL, OPT_LEVEL},
	    {"search", required_argument, NULL, OPT_SEARCH},
	    {"status", required_argument, NULL, OPT_STATUS},
	    {"sink", required_argument, NULL, OPT_SINK},
	    {"output", required_argument, NULL, 'o'},
	    {"rate-share", required_argument, NULL, OPT_SHARE},
	    {"page-size", required_argument, NULL, OPT_PAGE},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"restart", no_argument, NULL, OPT_RESTART},
	    {NULL, 0, NULL, 0},
	};
	static const char *const levels[] = {"debug", "info", "warning", "error"};
	int opt, rc;
	char *end;
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "o:", longopts, NULL)) != -1) {
		if ((rc = cmd_common_opt(o, opt, optarg, "export")) != 0) {
			if (rc < 0)
				return CMD_USAGE;
			continue;
		}
		switch (opt) {
		case OPT_SINCE:
			a->since = optarg;
			break;
		case OPT_UNTIL:
			a->until = optarg;
			break;
		case OPT_LEVEL:
			if ((rc = log_level_parse(optarg)) < 0)
				return cmd_usage("export", "--level: '%s' is not a level", optarg);
			a->level = levels[rc];
			break;
		case OPT_SEARCH:
			a->search = optarg;
			break;
		case OPT_STATUS:
			if (strcmp(optarg, "success") && strcmp(optarg, "redirect") &&
			    strcmp(optarg, "error"))
				return cmd_usage("export",
				                 "--status: '%s' is not success, redirect or error",
				                 optarg);
			a->status = optarg;
			break;
		case OPT_SINK:
			a->sink = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case OPT_SHARE:
			if (parse_share(optarg, &a->share) != 0)
				return cmd_usage("export",
				                 "--rate-share: '%s' is not a share in "
				                 "(0, 100%%]",
				                 optarg);
			break;
		case OPT_PAGE:
			a->page_size = (unsigned)strtoul(optarg, &end, 10);
			if (*end || a->page_size < 1 || a->page_size > HISTORY_MAX_PAGE_SIZE)
				return cmd_usage("export", "--page-size: '%s' is not in 1..1000",
				                 optarg);
			break;
		case OPT_STATE:
			a->state = optarg;
			break;
		case OPT_RESTART:
			a->restart = true;
			break;
		case 'h':
			export_usage(stdout);
			return -1;
		default:
			export_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cmd_usage("export",
		                 optind < argc ? "one FUNCTION only" : "no FUNCTION given");
	a->function = argv[optind];
	if (!a->since)
		return cmd_usage("export", "--since is required");
	if (!a->sink == !a->out)
		return cmd_usage("export", "give one of --sink NAME and -o FILE");
	if (a->sink && !o->config)
		return cmd_usage("export", "--sink needs the configuration: -c FILE");
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct cmd_opts o = {.log_level = -1};
	struct export_cmd e = {.a = {.share = 0.5, .page_size = HISTORY_MAX_PAGE_SIZE}};
	int rc = parse_args(&e.a, &o, argc, argv);
	if (rc)
		return rc < 0 ? CMD_OK : rc;
	int64_t now = cmd_now_ms();
	if (cmd_parse_when(e.a.since, now, &e.q.start_ms) != 0)
		return cmd_usage("export", "--since: '%s' is neither a duration nor a time",
		                 e.a.since);
	e.q.end_ms = now;
	if (e.a.until && cmd_parse_when(e.a.until, now, &e.q.end_ms) != 0)
		return cmd_usage("export", "--until: '%s' is neither a duration nor a time",
		                 e.a.until);
	if (e.q.end_ms < e.q.start_ms)
		return cmd_usage("export", "--until is before --since");
	e.q.level = e.a.level;
	e.q.search = e.a.search;
	e.q.status = e.a.status;
	e.q.page_size = e.a.page_size;
	current = &e;
	e.c.data = &e;
	e.c.close_own = export_close;
	e.c.record_done = export_record_done;
	e.c.on_drain = export_drain;
	e.c.on_signal = export_signal;
	e.progress = isatty(STDERR_FILENO);
	if (cmd_open(&e.c, "export", &o, e.a.share) != 0)
		return cmd_run(&e.c);
	uv_timer_init(&e.c.loop, &e.timer);
	e.timer.data = &e;
	e.timer_open = true;
	rc = state_paths(&e);
	if (!rc)
		rc = prepare_state(&e);
	if (!rc)
		rc = add_sink(&e);
	if (!rc && cmd_resolve(&e.res, &e.c, e.a.function, on_resolved) != 0)
		rc = CMD_FAILED;
	if (rc)
		cmd_finish(&e.c, rc);
	rc = cmd_run(&e.c);
	free(e.state);
	free(e.state_dir);
	free(e.state_name);
	return rc;
}

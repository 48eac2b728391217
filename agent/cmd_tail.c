/* `sinch-logd tail FUNCTION`: a function's live logs on the terminal. It is
 * a stream (stream.h) like the agent's, feeding one sink of its own that
 * prints each record: coloured and readable on a terminal (time, status,
 * duration, level, then the console lines), JSON lines otherwise. When the
 * project already has its 5 concurrent streams open (HTTP 429 on the
 * stream), it says so and follows the function by polling its historical
 * logs instead. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "log.h"

struct tail_cmd {
	struct cmd c;
	struct cmd_resolve res;
	struct stream_conf sconf;
	struct stream stream;
	bool stream_open;
	bool human;
	bool color;
	const char *level;
	uint64_t since_ms, poll_ms;
};

/* ---- the printing sink ---- */

struct printer {
	struct sink *s;
	bool human, color;
	struct record **q; /* printed, acknowledged on the next loop turn */
	size_t n, cap;
	uv_timer_t timer;
	sink_cb closed;
};

static struct tail_cmd *current; /* the sink's open() finds its command here */

static const char *level_color(const char *level)
{
	if (strcmp(level, "error") == 0)
		return "\033[31m";
	if (strcmp(level, "warning") == 0)
		return "\033[33m";
	if (strcmp(level, "debug") == 0)
		return "\033[2m";
	return "\033[32m";
}

static const char *status_color(int status)
{
	return status >= 500 ? "\033[31m" : status >= 400 ? "\033[33m" : "\033[32m";
}

static const char *str_of(const cJSON *o, const char *k, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : def;
}

/* HH:MM:SS.mmm of an RFC 3339 UTC time. */
static const char *clock_of(const char *t)
{
	return strlen(t) >= 23 ? t + 11 : t;
}

static void print_human(const struct printer *pr, const struct record *r)
{
	cJSON *o = cJSON_ParseWithLength(r->json, r->json_len);
	if (!o)
		return;
	const char *off = pr->color ? "\033[0m" : "";
	const char *level = str_of(o, "level", "info");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(o, "duration_ms");
	char stbuf[16] = "-", durbuf[32] = "-";
	int status = cJSON_IsNumber(st) ? st->valueint : 0;
	if (status)
		snprintf(stbuf, sizeof(stbuf), "%d", status);
	if (cJSON_IsNumber(dur))
		snprintf(durbuf, sizeof(durbuf), "%.0fms", dur->valuedouble);
	printf("%s  %s%3s%s %7s  %s%-7s%s  %s %s\n", clock_of(str_of(o, "time", "")),
	       pr->color ? status_color(status) : "", stbuf, off, durbuf,
	       pr->color ? level_color(level) : "", level, off, str_of(o, "method", "-"),
	       str_of(o, "url", ""));
	const cJSON *line;
	cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(o, "logs"))
	{
		const char *lv = str_of(line, "level", "info");
		printf("              %s%-7s%s  %s\n", pr->color ? level_color(lv) : "", lv, off,
		       str_of(line, "message", ""));
	}
	cJSON_Delete(o);
}

static void on_ack_timer(uv_timer_t *t)
{
	struct printer *pr = t->data;
	/* Records submitted while acknowledging wait for the next turn. */
	size_t n = pr->n;
	struct record **q = pr->q;
	pr->q = NULL;
	pr->n = pr->cap = 0;
	for (size_t i = 0; i < n; i++) {
		sink_ack(pr->s, q[i], 0, NULL);
		record_unref(q[i]);
	}
	free(q);
}

static int printer_open(struct sink *s, struct conf_errs *errs)
{
	(void)errs;
	struct printer *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return LG_ENOMEM;
	pr->s = s;
	pr->human = current->human;
	pr->color = current->color;
	uv_timer_init(s->loop, &pr->timer);
	pr->timer.data = pr;
	s->priv = pr;
	return 0;
}

static int printer_submit(struct sink *s, struct record *r)
{
	struct printer *pr = s->priv;
	if (pr->n == pr->cap) {
		size_t cap = pr->cap ? 2 * pr->cap : 64;
		struct record **q = realloc(pr->q, cap * sizeof(*q));
		if (!q)
			return LG_ENOMEM;
		pr->q = q;
		pr->cap = cap;
	}
	if (pr->human)
		print_human(pr, r);
	else
		printf("%.*s\n", (int)r->json_len, r->json);
	fflush(stdout);
	pr->q[pr->n++] = record_ref(r);
	uv_timer_start(&pr->timer, on_ack_timer, 0, 0);
	return 0;
}

static void printer_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	(void)deadline;
	on_ack_timer(&((struct printer *)s->priv)->timer);
	done(s);
}

static void on_printer_closed(uv_handle_t *h)
{
	struct printer *pr = h->data;
	for (size_t i = 0; i < pr->n; i++)
		record_unref(pr->q[i]);
	free(pr->q);
	sink_cb closed = pr->closed;
	struct sink *s = pr->s;
	free(pr);
	closed(s);
}

static void printer_close(struct sink *s, sink_cb closed)
{
	struct printer *pr = s->priv;
	pr->closed = closed;
	uv_close((uv_handle_t *)&pr->timer, on_printer_closed);
}

static const struct sink_type printer_type = {
    "tail",         "prints records", NULL,          0,    printer_open,
    printer_submit, printer_flush,    printer_close, NULL,
};

/* ---- the command ---- */

static void on_stream_limit(struct stream *s)
{
	struct tail_cmd *t = current;
	cmd_err(&t->c,
	        "the project already has its 5 log streams open (HTTP 429): following %s by "
	        "polling its historical logs every %llu ms instead",
	        s->function_name, (unsigned long long)t->poll_ms);
	stream_set_mode(s, STREAM_MODE_POLL);
}

static void on_gone(struct stream *s)
{
	(void)s;
	cmd_err(&current->c, "the function cannot be followed (see the message above)");
	cmd_finish(&current->c, CMD_FAILED);
}

static void on_resolved(struct cmd_resolve *r, const char *id, const char *name, int status)
{
	struct tail_cmd *t = r->c->data;
	if (!id) {
		cmd_finish(&t->c, status);
		return;
	}
	struct project *p = t->c.p;
	t->sconf = p->sconf;
	t->sconf.state_dir = NULL;
	t->sconf.initial_lookback_ms = t->since_ms;
	t->sconf.poll_interval_ms = t->poll_ms;
	if (t->level)
		t->sconf.level = t->level;
	t->stream_open = true;
	if (stream_init(&t->stream, &t->c.loop, &t->sconf, &t->c.http, &p->auth, &p->api,
	                &t->c.router, id, name) != 0) {
		cmd_finish(&t->c, CMD_FAILED);
		return;
	}
	t->stream.on_stream_limit = on_stream_limit;
	t->stream.on_gone = on_gone;
	stream_start(&t->stream, STREAM_MODE_SSE);
}

static void tail_record_done(struct cmd *c, struct record *r)
{
	(void)c;
	stream_record_done(r->origin, r);
}

static void tail_drain(struct cmd *c)
{
	struct tail_cmd *t = c->data;
	if (t->stream_open)
		stream_resume(&t->stream);
}

/* Ctrl-C is how a tail ends: not an error. */
static void tail_signal(struct cmd *c)
{
	cmd_finish(c, CMD_OK);
}

static void on_stream_closed(struct stream *s)
{
	(void)s;
	cmd_part_closed(&current->c);
}

static void tail_close(struct cmd *c)
{
	struct tail_cmd *t = c->data;
	cmd_resolve_close(&t->res);
	if (t->stream_open) {
		t->stream_open = false;
		c->pending++;
		stream_close(&t->stream, on_stream_closed);
	}
}

static void tail_usage(FILE *out)
{
	fprintf(out,
	        "Usage: sinch-logd tail FUNCTION [--level L] [--since 1h] [--json]\n"
	        "Follows a function's logs live: readable and coloured on a terminal, JSON lines\n"
	        "(the records the agent writes) otherwise. Ctrl-C ends it.\n\n"
	        "      --level L         debug, info, warning or error: the least to show\n"
	        "      --since D         start this far back (default: live only)\n"
	        "      --json            JSON lines even on a terminal\n"
	        "      --poll-interval D when the project's 5 streams are taken, poll this often "
	        "(2s)\n" CMD_COMMON_HELP);
}

int cmd_tail(int argc, char **argv)
{
	enum { OPT_LEVEL = CMD_OPT_OWN, OPT_SINCE, OPT_JSON, OPT_POLL };
	static const struct option longopts[] = {
	    CMD_COMMON_LONGOPTS,
	    {"level", required_argument, NULL, OPT_LEVEL},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"poll-interval", required_argument, NULL, OPT_POLL},
	    {NULL, 0, NULL, 0},
	};
	static const char *const levels[] = {"debug", "info", "warning", "error"};
	struct cmd_opts o = {.log_level = -1};
	struct tail_cmd t = {.poll_ms = 2000};
	bool json = false;
	int opt, rc;
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if ((rc = cmd_common_opt(&o, opt, optarg, "tail")) != 0) {
			if (rc < 0)
				return CMD_USAGE;
		} else if (opt == OPT_LEVEL) {
			int l = log_level_parse(optarg);
			if (l < 0)
				return cmd_usage("tail",
				                 "--level: '%s' is not debug, info, warning or "
				                 "error",
				                 optarg);
			t.level = levels[l];
		} else if (opt == OPT_SINCE || opt == OPT_POLL) {
			uint64_t *v = opt == OPT_SINCE ? &t.since_ms : &t.poll_ms;
			if (conf_parse_duration(optarg, v) != 0 || (opt == OPT_POLL && *v < 100))
				return cmd_usage("tail", "%s: '%s' is not a duration",
				                 opt == OPT_SINCE ? "--since" : "--poll-interval",
				                 optarg);
		} else if (opt == OPT_JSON) {
			json = true;
		} else if (opt == 'h') {
			tail_usage(stdout);
			return CMD_OK;
		} else {
			tail_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cmd_usage("tail", optind < argc ? "one FUNCTION only" : "no FUNCTION given");
	t.human = !json && isatty(STDOUT_FILENO);
	t.color = t.human && getenv("NO_COLOR") == NULL;
	current = &t;
	t.c.data = &t;
	t.c.close_own = tail_close;
	t.c.record_done = tail_record_done;
	t.c.on_drain = tail_drain;
	t.c.on_signal = tail_signal;
	if (cmd_open(&t.c, "tail", &o, 1.0) != 0)
		return cmd_run(&t.c);
	struct conf_entry type = {"type", "tail", "(tail)", 0, false};
	struct conf_section sec = {
	    .type = "sink", .name = "tail", .file = "(tail)", .entries = &type, .n = 1};
	struct conf_errs errs;
	conf_errs_init(&errs);
	if (router_add_sink(&t.c.router, &sec, &printer_type, NULL, t.c.p->conf.max_event_size,
	                    false, &errs) != 0 ||
	    cmd_resolve(&t.res, &t.c, argv[optind], on_resolved) != 0)
		cmd_finish(&t.c, CMD_FAILED);
	conf_errs_free(&errs);
	return cmd_run(&t.c);
}

/* sinch-fn-sim: command line, start-up and orderly shutdown. */
#include "auth.h"
#include "fault.h"
#include "gen.h"
#include "http.h"
#include "limits.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OT_FLAG, OT_STR, OT_LONG, OT_DOUBLE, OT_FAULT };

struct opt {
	const char *name;
	enum opt_type type;
	const char *arg;
	const char *def;
	const char *help;
};

/* One row per flag: the same table parses the command line and prints --help. */
static const struct opt opts[] = {
    {"listen", OT_STR, "HOST:PORT", "127.0.0.1:0", "address to bind; port 0 picks a free one"},
    {"allow-remote", OT_FLAG, NULL, "off", "allow binding a non-loopback address"},
    {"key-id", OT_STR, "ID", "demo-key", "client id accepted by /oauth2/token"},
    {"key-secret", OT_STR, "SECRET", "demo-secret", "client secret accepted by /oauth2/token"},
    {"project", OT_STR, "ID", "demo-project", "the one project id that exists"},
    {"token-ttl", OT_LONG, "SECONDS", "3600", "access token lifetime"},
    {"seed", OT_LONG, "N", "1", "seed of the deterministic event generator"},
    {"epoch", OT_STR, "RFC3339", "start time", "simulated time at start-up"},
    {"functions", OT_LONG, "N", "3", "number of functions"},
    {"rate", OT_DOUBLE, "R", "5", "events per second per function"},
    {"total", OT_LONG, "N", "unlimited", "events per function, then only heartbeats"},
    {"long-ms", OT_LONG, "MS", "5000", "duration of the ~2% long-running requests"},
    {"shape", OT_STR, "flat|nested|mixed", "flat", "event JSON shape"},
    {"replay-horizon", OT_LONG, "SECONDS", "3600", "how long finished events are kept"},
    {"heartbeat", OT_LONG, "MS", "15000", "SSE ': ping' interval; 0 = off"},
    {"sse-ids", OT_FLAG, NULL, "off", "send 'id:' lines"},
    {"sse-event", OT_STR, "NAME", "none", "send 'event: NAME' lines"},
    {"sse-retry", OT_LONG, "MS", "none", "send 'retry: MS' at stream start"},
    {"no-limits", OT_FLAG, NULL, "off", "disable every rate and concurrency limit"},
    {"limit-window", OT_LONG, "SECONDS", "60", "sliding window of the API rate limits"},
    {"oversize-bytes", OT_LONG, "BYTES", "2097152", "data size of oversize-every events"},
    {"oracle-cap", OT_LONG, "N", "100000", "ids kept per function by /_sim/events"},
    {"stream-buffer-max", OT_LONG, "BYTES", "67108864",
     "unsent bytes a stream may hold before its client is dropped"},
    {"fault", OT_FAULT, "NAME[=VALUE]", "none", "inject a fault (repeatable; see README)"},
    {"verbose", OT_FLAG, NULL, "off", "log every request"},
    {"help", OT_FLAG, NULL, NULL, "show this help"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static uv_signal_t sig_term, sig_int;

static void usage(FILE *out)
{
	fprintf(out, "usage: sinch-fn-sim [options]\n\n"
	             "A deterministic simulator of the Sinch Functions operations API.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
		         opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-34s %s", left, opts[i].help);
		if (opts[i].def)
			fprintf(out, " (default: %s)", opts[i].def);
		fputc('\n', out);
	}
}

static int to_long(const char *name, const char *v, long long min, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno || *end || !*v || *out < min) {
		fprintf(stderr, "sinch-fn-sim: --%s needs an integer >= %lld, got '%s'\n", name,
		        min, v);
		return -1;
	}
	return 0;
}

static int parse_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	const char *host = v;
	size_t hlen;
	long long port;

	if (!colon)
		return -1;
	hlen = (size_t)(colon - v);
	if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(sim_cfg.listen_host))
		return -1;
	if (to_long("listen", colon + 1, 0, &port) || port > 65535)
		return -1;
	memcpy(sim_cfg.listen_host, host, hlen);
	sim_cfg.listen_host[hlen] = '\0';
	if (!strcmp(sim_cfg.listen_host, "localhost"))
		strcpy(sim_cfg.listen_host, "127.0.0.1");
	sim_cfg.listen_port = (int)port;
	return 0;
}

static int is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

static int apply(const struct opt *o, const char *v)
{
	long long n = 0;
	char err[160];

	if (o->type == OT_LONG && strcmp(o->name, "seed") &&
	    to_long(o->name, v, !strcmp(o->name, "functions") ? 1 : 0, &n))
		return -1;
	if (!strcmp(o->name, "listen"))
		return parse_listen(v)
		           ? (fprintf(stderr, "sinch-fn-sim: bad --listen '%s'\n", v), -1)
		           : 0;
	if (!strcmp(o->name, "allow-remote"))
		sim_cfg.allow_remote = 1;
	else if (!strcmp(o->name, "key-id"))
		snprintf(sim_cfg.key_id, sizeof(sim_cfg.key_id), "%s", v);
	else if (!strcmp(o->name, "key-secret"))
		snprintf(sim_cfg.key_secret, sizeof(sim_cfg.key_secret), "%s", v);
	else if (!strcmp(o->name, "project"))
		snprintf(sim_cfg.project, sizeof(sim_cfg.project), "%s", v);
	else if (!strcmp(o->name, "token-ttl"))
		sim_cfg.token_ttl_s = (long)n;
	else if (!strcmp(o->name, "seed")) {
		char *end;

		errno = 0;
		sim_cfg.seed = strtoull(v, &end, 10);
		if (errno || *end || !*v)
			return fprintf(stderr, "sinch-fn-sim: bad --seed '%s'\n", v), -1;
	} else if (!strcmp(o->name, "epoch")) {
		int64_t us;

		if (sim_parse_time(v, &us))
			return fprintf(stderr, "sinch-fn-sim: bad --epoch '%s'\n", v), -1;
		sim_cfg.have_epoch = 1;
		sim_cfg.epoch_ms = us / 1000;
	} else if (!strcmp(o->name, "functions"))
		sim_cfg.functions = (int)(n > 1000 ? 1000 : n);
	else if (!strcmp(o->name, "rate")) {
		char *end;

		sim_cfg.rate = strtod(v, &end);
		if (*end || !(sim_cfg.rate > 0.0 && sim_cfg.rate <= 100000.0))
			return fprintf(stderr, "sinch-fn-sim: bad --rate '%s'\n", v), -1;
	} else if (!strcmp(o->name, "total"))
		sim_cfg.total = n;
	else if (!strcmp(o->name, "long-ms"))
		sim_cfg.long_ms = (long)n;
	else if (!strcmp(o->name, "shape")) {
		if (!strcmp(v, "flat"))
			sim_cfg.shape = SHAPE_FLAT;
		else if (!strcmp(v, "nested"))
			sim_cfg.shape = SHAPE_NESTED;
		else if (!strcmp(v, "mixed"))
			sim_cfg.shape = SHAPE_MIXED;
		else
			return fprintf(stderr, "sinch-fn-sim: bad --shape '%s'\n", v), -1;
	} else if (!strcmp(o->name, "replay-horizon"))
		sim_cfg.replay_horizon_s = (long)n;
	else if (!strcmp(o->name, "heartbeat"))
		sim_cfg.heartbeat_ms = (long)n;
	else if (!strcmp(o->name, "sse-ids"))
		sim_cfg.sse_ids = 1;
	else if (!strcmp(o->name, "sse-event"))
		snprintf(sim_cfg.sse_event, sizeof(sim_cfg.sse_event), "%s", v);
	else if (!strcmp(o->name, "sse-retry"))
		sim_cfg.sse_retry_ms = (long)n;
	else if (!strcmp(o->name, "no-limits"))
		sim_cfg.no_limits = 1;
	else if (!strcmp(o->name, "limit-window"))
		sim_cfg.limit_window_s = n < 1 ? 1 : (long)n;
	else if (!strcmp(o->name, "oversize-bytes"))
		sim_cfg.oversize_bytes = (size_t)n;
	else if (!strcmp(o->name, "oracle-cap"))
		sim_cfg.oracle_cap = (size_t)n;
	else if (!strcmp(o->name, "stream-buffer-max"))
		sim_cfg.stream_buffer_max = (size_t)(n < 65536 ? 65536 : n);
	else if (!strcmp(o->name, "fault")) {
		if (fault_parse(v, err, sizeof(err)))
			return fprintf(stderr, "sinch-fn-sim: %s\n", err), -1;
	} else if (!strcmp(o->name, "verbose"))
		sim_cfg.verbose = 1;
	return 0;
}

/* Returns 0 to run, 1 to exit successfully (--help), -1 on a usage error. */
static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *v = NULL;
		const struct opt *o = NULL;
		size_t nlen;

		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "sinch-fn-sim: unexpected argument '%s'\n", a);
			return -1;
		}
		a += 2;
		eq = strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < NOPTS; k++)
			if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen))
				o = &opts[k];
		if (!o) {
			fprintf(stderr, "sinch-fn-sim: unknown option '%s' (see --help)\n",
			        argv[i]);
			return -1;
		}
		if (!strcmp(o->name, "help")) {
			usage(stdout);
			return 1;
		}
		if (o->type == OT_FLAG) {
			if (eq) {
				fprintf(stderr, "sinch-fn-sim: --%s takes no value\n", o->name);
				return -1;
			}
		} else if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "sinch-fn-sim: --%s needs a value\n", o->name);
			return -1;
		}
		if (apply(o, v ? v : ""))
			return -1;
	}
	return 0;
}

static void defaults(void)
{
	strcpy(sim_cfg.listen_host, "127.0.0.1");
	strcpy(sim_cfg.key_id, "demo-key");
	strcpy(sim_cfg.key_secret, "demo-secret");
	strcpy(sim_cfg.project, "demo-project");
	sim_cfg.token_ttl_s = 3600;
	sim_cfg.seed = 1;
	sim_cfg.functions = 3;
	sim_cfg.rate = 5;
	sim_cfg.total = -1;
	sim_cfg.long_ms = 5000;
	sim_cfg.replay_horizon_s = 3600;
	sim_cfg.heartbeat_ms = 15000;
	sim_cfg.sse_retry_ms = -1;
	sim_cfg.limit_window_s = 60;
	sim_cfg.oversize_bytes = 2 * 1024 * 1024;
	sim_cfg.oracle_cap = 100000;
	sim_cfg.stream_buffer_max = 64 * 1024 * 1024;
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	LOGI("signal %d: shutting down", signum);
	gen_shutdown();
	http_shutdown();
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
}

int main(int argc, char **argv)
{
	char bound[128];
	uv_loop_t loop;
	int rc;

	defaults();
	fault_clear();
	rc = parse_args(argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (!is_loopback(sim_cfg.listen_host) && !sim_cfg.allow_remote) {
		fprintf(stderr,
		        "sinch-fn-sim: refusing to listen on non-loopback %s without "
		        "--allow-remote\n",
		        sim_cfg.listen_host);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	sim_loop = &loop;
	sim_clock_start();
	if (limit_init() || gen_init()) {
		fprintf(stderr, "sinch-fn-sim: out of memory\n");
		return 1;
	}
	rc = http_listen(sim_cfg.listen_host, sim_cfg.listen_port, bound, sizeof(bound));
	if (rc < 0) {
		fprintf(stderr, "sinch-fn-sim: cannot listen on %s:%d: %s\n", sim_cfg.listen_host,
		        sim_cfg.listen_port, uv_strerror(rc));
		return 1;
	}
	printf("listening on http://%s\n", bound);
	fflush(stdout);
	LOGI("project %s, %d functions, seed %llu, %.3g events/s each", sim_cfg.project,
	     sim_cfg.functions, (unsigned long long)sim_cfg.seed, sim_cfg.rate);
	uv_signal_init(&loop, &sig_term);
	uv_signal_init(&loop, &sig_int);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_start(&sig_int, on_signal, SIGINT);

	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc)
		LOGW("loop closed with handles still open: %s", uv_strerror(rc));
	gen_free();
	auth_free();
	limit_free();
	LOGI("stopped");
	return rc ? 1 : 0;
}

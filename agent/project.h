/* project: one [project NAME] section at run time: its options, its token
 * (auth), its API client and rate limits (api), and the functions it
 * follows. Each function (struct project_fn) has a stream (stream.h): up to
 * max_streams of them live (the API allows 5 concurrent streams per
 * project), the others polling historical logs every poll_interval; a slot
 * that frees up goes to the first polled function.
 *
 * The functions come from `functions` (ids or names, resolved through the
 * functions list at start; discovery.c) and, with `functions = *`, from the
 * list again every discovery_interval: new functions start, deleted ones
 * stop reading and are let go once their records are acknowledged (the
 * checkpoint stays on disk). The monitor (monitor.c) polls each function's
 * status, metrics and costs into records of kinds status, metrics, cost. */
#ifndef SINCH_PROJECT_H
#define SINCH_PROJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "api.h"
#include "auth.h"
#include "backoff.h"
#include "conf.h"
#include "httpc.h"
#include "router.h"
#include "stream.h"

#define PROJECT_MAX_STREAMS 5

struct project_conf {
	char *api_url;
	char *token_url;
	char *project_id;
	char *key_id;
	char *key_secret;
	char *token;
	struct opt_list functions;
	int level;
	uint64_t idle_timeout_ms;
	uint64_t max_event_size;
	uint64_t resume_overlap_ms;
	uint64_t initial_lookback_ms;
	char *proxy;
	char *ca_file;
	bool tls_verify;
	struct opt_list labels;
	bool include_bodies;
	struct opt_list redact_headers;
	struct opt_list redact_query;
	uint64_t backoff_base_ms;
	uint64_t backoff_max_ms;
	int64_t max_dedup_ids;
	int64_t max_in_flight;
	int64_t max_streams;
	uint64_t poll_interval_ms;
	uint64_t discovery_interval_ms;
	uint64_t status_interval_ms;
	uint64_t metrics_interval_ms;
	int metrics_time_range;
	bool cost_records;
	uint64_t cost_interval_ms;
	int64_t api_rate_limit;
	int64_t logs_rate_limit;
	uint64_t rate_limit_window_ms;
};

extern const struct opt_def project_opts[];
extern const char *const project_time_ranges[];

struct project;

/* One followed function. Freed only once its stream is closed and no
 * record or request of the monitor refers to it. */
struct project_fn {
	struct project *project;
	char *id;
	char *name;
	struct stream stream;
	bool stream_open;
	bool removed;       /* gone from the project: let go once idle */
	bool retiring;      /* its stream is closing */
	bool close_counted; /* project_close waits for it */
	/* Its stream was refused for the concurrent-stream limit (someone
	 * else holds the slots): polled, not streamed again before this. */
	uint64_t stream_retry_at;
	unsigned holds; /* control records and monitor requests in flight */
	/* The monitor's view. */
	char *status; /* last status seen, NULL before the first */
	unsigned status_round, metrics_round, cost_round;
	bool status_off, metrics_off, cost_off; /* 403: that polling stopped */
};

/* Counters for the metrics endpoint (with auth.stats and api.stats). */
struct project_stats {
	uint64_t streamed, polled; /* functions in each mode now */
	uint64_t added, removed;   /* by discovery, since start */
	uint64_t displaced;        /* streams refused with 429, polled instead */
	uint64_t discoveries;      /* functions lists read */
	uint64_t status_records, metrics_records, cost_records;
	uint64_t monitor_failures; /* status, metrics or cost requests that failed */
};

struct discovery {
	struct api_req req;
	bool req_open;
	uv_timer_t timer;
	bool timer_open;
	bool all;      /* functions = * */
	bool resolved; /* the first list was read */
	struct backoff backoff;
};

struct monitor_poll {
	struct project *p;
	struct api_req req;
	bool req_open;
	uv_timer_t timer;
	bool timer_open;
	unsigned round;
	uint64_t round_start;
	uint64_t interval_ms;
	bool slow_logged;
	bool auth_failed;       /* this round met LG_EAUTH: back off */
	struct backoff backoff; /* rounds after authentication failures */
	bool billing_done;
	struct project_fn *cur;
	int kind; /* enum record_kind */
};

struct monitor {
	struct monitor_poll status, metrics, cost;
};

struct project {
	char *name;
	char *who;
	struct project_conf conf;
	struct stream_conf sconf;
	char *labels_json;
	const char *state_dir; /* set by the agent */
	const char *host;

	uv_loop_t *loop;
	struct httpc *http;
	struct router *router;
	struct auth auth;
	bool auth_open;
	struct api api;
	bool api_open;
	struct discovery disc;
	struct monitor mon;
	struct project_fn **fns;
	size_t nfns;
	struct project_stats stats;

	void *agent;
	void (*on_fatal)(struct project *p);
	/* project_retire: runs once nothing is in flight, then the close. */
	void (*retired_cb)(struct project *p);
	bool stopping, closing, closed;
	unsigned pending_close;
	void (*closed_cb)(struct project *p);
};

/* Reads and validates a [project NAME] section; NULL with errors in errs. */
struct project *project_new(const struct conf_section *sec, struct conf_errs *errs);
/* Sets up the token and the API client only (the commands use this). */
int project_open(struct project *p, uv_loop_t *loop, struct httpc *http, struct router *router);
/* project_open, then resolves the functions and follows them
 * (asynchronously). */
int project_start(struct project *p, uv_loop_t *loop, struct httpc *http, struct router *router);
void project_stop(struct project *p);
void project_resume(struct project *p);
/* Writes the checkpoints; also hands free stream slots to polled functions. */
void project_save_checkpoints(struct project *p);
/* The router says r (of any kind, from a project) is done. */
void project_record_done(struct record *r);
void project_close(struct project *p, void (*closed)(struct project *p));
/* A reload replaces or removes the project: it stops reading, waits until
 * every record it made is done (acknowledged or dead-lettered by every sink
 * that took it) and no request is in flight, writes its checkpoints, then
 * closes; closed runs at the end. Records in sinks point into their stream,
 * so the streams live until then. */
void project_retire(struct project *p, void (*closed)(struct project *p));
/* Records read and not yet done, over all functions. */
size_t project_in_flight(const struct project *p);
void project_free(struct project *p);

/* Between project.c, discovery.c and monitor.c. */
struct project_fn *project_fn_find(const struct project *p, const char *id);
int project_fn_add(struct project *p, const char *id, const char *name);
void project_fn_remove(struct project_fn *fn);
/* The first list was read: logs the choice of modes and starts the
 * monitor. */
void project_functions_ready(struct project *p);
void project_fn_release(struct project_fn *fn); /* holds-- and maybe let go */
void project_fatal(struct project *p);
/* One more part of the project finished closing (see project_close). */
void project_part_closed(struct project *p);
int discovery_start(struct project *p);
void discovery_stop(struct project *p);
void discovery_close(struct project *p); /* pending_close += its parts */
int monitor_start(struct project *p);
void monitor_stop(struct project *p);
void monitor_close(struct project *p);

#endif

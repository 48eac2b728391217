/* project: one [project NAME] section at run time: its options, its token
 * (auth), the resolution of `functions` (ids, names or `*`) through the
 * functions list, and one stream per resolved function (at most 5, the
 * API's limit on concurrent streams). */
#ifndef SINCH_PROJECT_H
#define SINCH_PROJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

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
	struct opt_list labels;
	bool include_bodies;
	struct opt_list redact_headers;
	struct opt_list redact_query;
	uint64_t backoff_base_ms;
	uint64_t backoff_max_ms;
	int64_t max_dedup_ids;
	int64_t max_in_flight;
};

extern const struct opt_def project_opts[];

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
	struct auth_wait wait;
	struct httpc_req list_req;
	struct buf list_body;
	struct curl_slist *list_hdrs;
	char *list_token;
	uv_timer_t retry_timer;
	bool timer_open;
	struct backoff backoff;
	struct stream **streams;
	size_t nstreams;

	void *agent;
	void (*on_fatal)(struct project *p);
	bool stopping, closing, closed;
	unsigned pending_close;
	void (*closed_cb)(struct project *p);
};

/* Reads and validates a [project NAME] section; NULL with errors in errs. */
struct project *project_new(const struct conf_section *sec, struct conf_errs *errs);
/* Resolves the functions and starts their streams (asynchronously). */
int project_start(struct project *p, uv_loop_t *loop, struct httpc *http, struct router *router);
void project_stop(struct project *p);
void project_resume(struct project *p);
void project_save_checkpoints(struct project *p);
void project_close(struct project *p, void (*closed)(struct project *p));
void project_free(struct project *p);

#endif

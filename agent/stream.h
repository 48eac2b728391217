/* stream: one function's live log stream. It owns the SSE connection (a
 * curl transfer on the shared httpc), the parser, the normalizer's scratch,
 * the dedup sets and the ack queue, and the checkpoint of the function; it
 * hands each new record to the router.
 *
 * States: WAIT_TOKEN -> CONNECTING -> STREAMING -> (end or error) -> BACKOFF
 * -> WAIT_TOKEN …; STOPPED for good after 403, 404 or 204. Every connection
 * asks for `since` = checkpoint - resume_overlap and drops events already
 * seen or delivered (by id hash). Back-pressure pauses the transfer (curl
 * pause) and resumes it when the router drains. */
#ifndef SINCH_STREAM_H
#define SINCH_STREAM_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ackq.h"
#include "auth.h"
#include "backoff.h"
#include "ckpt.h"
#include "httpc.h"
#include "idset.h"
#include "normalize.h"
#include "router.h"
#include "sse.h"

/* What a project gives each of its streams (owned by the project). */
struct stream_conf {
	const char *project_name;
	const char *api_url;
	const char *project_id;
	const char *level; /* server-side minimum level, or NULL */
	const char *proxy;
	const char *ca_file;
	uint64_t idle_timeout_ms;
	uint64_t max_event_size;
	uint64_t resume_overlap_ms;
	uint64_t initial_lookback_ms;
	uint64_t backoff_base_ms, backoff_max_ms;
	size_t max_ids;
	size_t max_in_flight; /* records read but not yet done, before pausing */
	const char *state_dir;
	struct norm_ctx norm; /* function fields are filled per stream */
};

enum stream_state {
	STREAM_WAIT_TOKEN,
	STREAM_CONNECTING,
	STREAM_STREAMING,
	STREAM_BACKOFF,
	STREAM_STOPPED,
};

struct stream_stats {
	uint64_t connects, reconnects, events, records, duplicates, malformed, oversized,
	    utf8_repaired, comments, pauses, http_errors;
};

struct stream {
	const struct stream_conf *conf;
	struct norm_ctx norm;
	char *function_id;
	char *function_name;
	char *key; /* "project/function-id", names the checkpoint and log lines */
	char *who;
	uv_loop_t *loop;
	struct httpc *http;
	struct auth *auth;
	struct router *router;

	enum stream_state state;
	struct httpc_req req;
	struct curl_slist *headers;
	struct auth_wait auth_wait;
	char *token; /* the token the current request carries */
	bool refreshed_after_401;
	long status;
	bool is_sse;
	bool headers_done;
	uint64_t retry_after_ms;  /* from a Retry-After header, 0 if none */
	uint64_t server_retry_ms; /* from an SSE retry: field */
	bool got_data;            /* the current connection delivered an event */
	bool want_pause, paused;
	bool wait_drain;     /* a connect waits for the router to drain */
	bool abort_transfer; /* set inside a callback, acted on after it */
	bool stopping;

	struct sse_parser sse;
	struct norm_scratch scratch;
	struct ckpt ckpt;
	uv_work_t ckpt_work;
	struct buf ckpt_data; /* the encoded checkpoint being written */
	int ckpt_rc;
	int64_t ckpt_since_written; /* what the write in flight holds, for the log */
	size_t ckpt_ids_written;
	bool ckpt_writing, ckpt_again;
	bool closing;
	struct idset seen;
	struct ackq ackq;
	struct backoff backoff;
	uv_timer_t retry_timer;
	uv_timer_t idle_timer;
	unsigned open_handles;
	char last_malformed[96]; /* the reason last logged */
	struct stream_stats stats;
	void (*closed)(struct stream *s);
	void *data;
};

int stream_init(struct stream *s, uv_loop_t *loop, const struct stream_conf *conf,
                struct httpc *http, struct auth *auth, struct router *router,
                const char *function_id, const char *function_name);
/* Loads the checkpoint and connects. */
void stream_start(struct stream *s);
/* The router says record r of this stream is done. */
void stream_record_done(struct stream *s, struct record *r);
/* The router drained: read again if paused. */
void stream_resume(struct stream *s);
/* Stops reading (shutdown); records in flight still complete. */
void stream_stop(struct stream *s);
/* Writes the checkpoint if it changed (in the thread pool; stream_close
 * waits for it). */
int stream_save_checkpoint(struct stream *s);
void stream_close(struct stream *s, void (*closed)(struct stream *s));
const char *stream_state_name(enum stream_state st);

#endif

/* stream: one function's log follower. It owns the normalizer's scratch,
 * the dedup sets, the ack queue and the checkpoint of the function, and
 * hands each new record to the router, in one of three modes that share
 * that path (stream_ingest()):
 *
 * - sse: the live stream (a curl transfer on the shared httpc and the SSE
 *   parser). States: WAIT_TOKEN -> CONNECTING -> STREAMING -> (end or
 *   error) -> BACKOFF -> WAIT_TOKEN …; STOPPED for good after 403, 404 or
 *   204. Every connection asks for `since` = checkpoint - resume_overlap.
 *   Back-pressure pauses the transfer (curl pause) and resumes it when the
 *   router drains.
 * - poll (stream_poll.c): for functions beyond the project's concurrent
 *   stream limit, every poll_interval the historical logs from checkpoint -
 *   resume_overlap on (history.h), page by page; back-pressure holds the
 *   next page. States POLLING and POLL_WAIT; STOPPED after 403 or 404.
 * - window (stream_poll.c): one window [start, end] of historical logs
 *   (export, gap backfill), then window_done. A checkpoint with overlap 0
 *   makes it resumable: it restarts at the newest start time acknowledged
 *   and drops the ids delivered at that time.
 *
 * Whatever the mode, events already seen or delivered are dropped by id
 * hash, so records, checkpoints and dedup are the same. */
#ifndef SINCH_STREAM_H
#define SINCH_STREAM_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ackq.h"
#include "api.h"
#include "auth.h"
#include "backoff.h"
#include "ckpt.h"
#include "httpc.h"
#include "history.h"
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
	bool tls_verify;
	uint64_t idle_timeout_ms;
	uint64_t max_event_size;
	uint64_t resume_overlap_ms;
	uint64_t initial_lookback_ms;
	uint64_t backoff_base_ms, backoff_max_ms;
	size_t max_ids;
	size_t max_in_flight;      /* records read but not yet done, before pausing */
	uint64_t poll_interval_ms; /* poll mode */
	unsigned page_size;        /* poll and window modes; 0: the largest */
	const char *state_dir;     /* NULL: no checkpoint is read or written */
	struct norm_ctx norm;      /* function fields are filled per stream */
};

enum stream_mode { STREAM_MODE_SSE, STREAM_MODE_POLL, STREAM_MODE_WINDOW };

enum stream_state {
	STREAM_WAIT_TOKEN,
	STREAM_CONNECTING,
	STREAM_STREAMING,
	STREAM_BACKOFF,
	STREAM_POLLING,
	STREAM_POLL_WAIT,
	STREAM_STOPPED,
};

struct stream_stats {
	uint64_t connects, reconnects, events, records, duplicates, malformed, oversized,
	    utf8_repaired, comments, pauses, http_errors, polls, pages;
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
	struct api *api; /* poll and window modes */
	struct router *router;

	enum stream_mode mode;
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
	bool gone; /* stopped for good (403, 404, 204) */

	/* Poll and window modes. */
	struct history hist;
	bool hist_open;
	bool wait_drain_page; /* a page waits for the router to drain */
	int64_t window_start_ms, window_end_ms;
	struct history_query window;
	void (*window_done)(struct stream *s, int err);
	/* sse mode: the server refused the connection for the concurrent
	 * stream limit (429); NULL: retry after Retry-After. */
	void (*on_stream_limit)(struct stream *s);
	/* Stopped for good (403, 404, 204); may be NULL. */
	void (*on_gone)(struct stream *s);

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
                struct httpc *http, struct auth *auth, struct api *api, struct router *router,
                const char *function_id, const char *function_name);
/* Loads the checkpoint and starts following in `mode` (sse or poll). */
void stream_start(struct stream *s, enum stream_mode mode);
/* Window mode: reads q's window once (resuming from the checkpoint, kept
 * under `key` in the state dir), then calls done; the records may still be
 * in flight then. 0 or an error (nothing started). */
int stream_start_window(struct stream *s, const char *key, const struct history_query *q,
                        void (*done)(struct stream *s, int err));
/* Switches a running stream between sse and poll modes; the checkpoint,
 * dedup sets and records in flight carry over. */
void stream_set_mode(struct stream *s, enum stream_mode mode);
/* Records read and not yet acknowledged by every sink. */
size_t stream_in_flight(const struct stream *s);
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
const char *stream_mode_name(enum stream_mode m);

/* Between stream.c and stream_poll.c. */
/* Normalizes one event (SSE data or a history entry) into a record, drops it
 * when already seen or delivered, and hands it to the router. */
void stream_ingest(struct stream *s, const char *data, size_t len);
bool stream_can_read(const struct stream *s);
/* Marks the stream stopped for good (after logging why). */
void stream_gone(struct stream *s);
void stream_schedule(struct stream *s, enum stream_state st, uint64_t delay_ms);
void stream_poll_now(struct stream *s);
void stream_poll_stop(struct stream *s);
void stream_poll_resume(struct stream *s);
int stream_poll_init(struct stream *s);

#endif

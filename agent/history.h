/* history: one window [start, end] of a function's historical logs
 * (GET …/functions/{id}/logs), fetched in ascending start order with the
 * largest page size, page after page in sequence, within the project's
 * rate limit for historical logs (the api client waits for each slot).
 *
 * Each entry's JSON text (verbatim: exact numbers, unknown fields) goes to
 * the entry callback in order; the consumer normalizes, deduplicates,
 * acknowledges and checkpoints it exactly as it does a streamed event (see
 * stream.h: a stream in poll or window mode is such a consumer; gap
 * backfill and export use the same path). After each page the page
 * callback says whether to fetch the next one now, or wait for
 * history_resume() (back-pressure). done runs once at the end.
 *
 * Pages may move under the reader: entries that finish meanwhile are
 * inserted (the next page then repeats a few entries: the consumer's dedup
 * drops them), and entries older than the server's retention vanish at the
 * old end (a later page would skip as many). A page whose total count
 * shrank is therefore not delivered: the window restarts at page 1 from the
 * start time of the last entry delivered. An answer too large for the
 * buffer halves the page size and restarts the same way. */
#ifndef SINCH_HISTORY_H
#define SINCH_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "json.h"

#define HISTORY_MAX_PAGE_SIZE 1000
#define HISTORY_MAX_BODY (64u << 20)

struct history_query {
	int64_t start_ms;   /* inclusive; INT64_MIN: from the oldest retained */
	int64_t end_ms;     /* inclusive; INT64_MAX: up to the newest */
	const char *level;  /* minimum level, or NULL */
	const char *search; /* substring, or NULL */
	const char *status; /* success, redirect, error, or NULL */
	unsigned page_size; /* 0: HISTORY_MAX_PAGE_SIZE */
};

struct history;
struct history_cb {
	/* One entry, in ascending start order (repeats possible, see above). */
	void (*entry)(struct history *h, const char *json, size_t len);
	/* The page's entries were delivered: true fetches the next page now,
	 * false waits for history_resume(). */
	bool (*page)(struct history *h);
	/* The window is complete (0) or failed (LG_EFORBIDDEN, LG_ENOENT,
	 * LG_EAUTH, LG_EINVAL, LG_EAGAIN, LG_ETOOBIG, LG_EPARSE). */
	void (*done)(struct history *h, int err);
};

struct history {
	struct api_req req;
	struct history_cb cb;
	void *data;
	char *function_id;
	char *level, *search, *status;
	int64_t start_ms, end_ms;
	unsigned page_size;
	/* Progress, valid in the callbacks. */
	long page;        /* the page just delivered (from 1) */
	long total_pages; /* as the last answer said */
	uint64_t total_count;
	uint64_t entries;  /* entries delivered since history_start() */
	uint64_t restarts; /* shrunk pages and halved page sizes */
	int64_t last_start_ms;
	bool running;
	bool waiting;
	struct json_doc doc;
	char what[160];
	void (*closed)(struct history *h);
};

/* One answer of GET …/logs, read without I/O (history_parse_page() is pure:
 * it is fuzzed alone). */
struct history_page {
	int requests;        /* the token of the "requests" array */
	uint32_t n;          /* its entries */
	int64_t total_count; /* pagination.totalCount; -1: absent or not a count */
	int64_t total_pages; /* pagination.totalPages; -1: absent or not a count */
};

/* Parses body into d (sized for HISTORY_MAX_BODY). 0, or LG_EPARSE when it
 * is not JSON or has no "requests" array; LG_ETOOBIG, LG_ENOMEM. */
int history_parse_page(struct json_doc *d, const char *body, size_t len, struct history_page *out);
/* The start time (startTime, or timestamp in the nested shape) of the entry
 * at token el, or INT64_MIN when it has none that parses. */
int64_t history_entry_start(const struct json_doc *d, int el);

/* function_name only names the fetch in log lines. */
int history_init(struct history *h, struct api *a, const char *function_id,
                 const char *function_name, const struct history_cb *cb, void *data);
/* Starts the window at page 1. LG_EBUSY while one runs. */
int history_start(struct history *h, const struct history_query *q);
/* Fetches the next page after a page callback returned false. */
void history_resume(struct history *h);
/* Stops; no callback runs after it. */
void history_cancel(struct history *h);
void history_close(struct history *h, void (*closed)(struct history *h));

#endif

/* sse: an incremental, pure parser of text/event-stream bytes, following the
 * WHATWG HTML "Server-sent events" parsing rules exactly. It does no I/O: feed
 * it bytes as they arrive, split anywhere, and it calls back with each
 * dispatched event.
 *
 * One parser serves a stream across reconnects: sse_reset() at every new
 * response (a leading BOM is allowed again, partial lines and the pending
 * event are dropped) keeps the last event id, as EventSource does. */
#ifndef SINCH_SSE_H
#define SINCH_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct sse_event {
	const char *type; /* "message" unless an event: field set it */
	size_t type_len;
	const char *data; /* data lines joined with LF, the final LF removed */
	size_t data_len;
	const char *id;   /* the last event id (may be empty) */
	size_t id_len;
};

struct sse_callbacks {
	/* A complete event; the pointers are valid during the call only. */
	void (*on_event)(void *ud, const struct sse_event *ev);
	/* A retry: field with only ASCII digits. May be NULL. */
	void (*on_retry)(void *ud, uint64_t ms);
	/* A comment line (heartbeat); counts as activity. May be NULL. */
	void (*on_comment)(void *ud);
	/* An event was longer than max_event_size and skipped whole; size is
	 * how many bytes of it were seen. May be NULL. */
	void (*on_oversize)(void *ud, size_t size);
};

struct sse_parser {
	struct sse_callbacks cb;
	void *ud;
	size_t max_event_size;
	struct buf line;   /* the current, unterminated line */
	struct buf data;   /* the pending event's data */
	struct buf type;   /* the pending event's type */
	struct buf last_id;
	size_t event_bytes; /* bytes of the pending event so far */
	bool skipping;      /* the pending event is oversized */
	bool bom_checked;   /* the response's first bytes were looked at */
	size_t bom_seen;    /* bytes of a BOM matched so far */
	bool after_cr;      /* the previous byte was CR (a following LF is eaten) */
	uint64_t events, comments, oversized;
};

/* max_event_size bounds one event (all its lines); lines beyond it make the
 * whole event skipped, the stream goes on. */
void sse_init(struct sse_parser *p, size_t max_event_size, const struct sse_callbacks *cb,
	      void *ud);
/* Consumes all of data. Returns 0, or LG_ENOMEM. */
int sse_feed(struct sse_parser *p, const char *data, size_t len);
/* A new response begins; the unterminated event of the previous one is
 * discarded. The last event id is kept. */
void sse_reset(struct sse_parser *p);
void sse_free(struct sse_parser *p);
const char *sse_last_event_id(const struct sse_parser *p);

#endif

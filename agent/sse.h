/* sse: an incremental, pure parser of text/event-stream bytes, following the
 * WHATWG HTML "Server-sent events" parsing rules exactly. It does no I/O: feed
 * it bytes as they arrive, split anywhere, and it calls back with each
 * dispatched event. Bytes are never decoded: invalid UTF-8 and NUL bytes in
 * values reach the callbacks untouched (repair is the normalizer's job).
 *
 * One parser serves a stream across reconnects: sse_reset() at every new
 * response (a leading BOM is allowed again, partial lines and the pending
 * event are dropped) keeps the last event id, as EventSource does; an id:
 * seen only in the dropped event is dropped with it.
 *
 * Size bound: an event's size is the sum of the bytes of its field lines
 * (names included, line ends and comment lines excluded). Past
 * max_event_size the rest of the event is skipped unread; when it ends (blank
 * line, or sse_reset) on_oversize reports its size and the stream goes on.
 * Its id: lines read before the limit still take effect, as if it had been
 * dispatched with no data. No buffer grows past max_event_size (+1 for NUL).
 *
 * Callbacks must not call back into the parser. */
#ifndef SINCH_SSE_H
#define SINCH_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct sse_event {
	const char *type; /* "message" unless an event: field set it */
	size_t type_len;
	/* Data lines joined with LF, the final LF removed; may hold NUL bytes,
	 * is not NUL-terminated. */
	const char *data;
	size_t data_len;
	const char *id; /* the last event id (may be empty) */
	size_t id_len;
};

struct sse_callbacks {
	/* A complete event; the pointers are valid during the call only. */
	void (*on_event)(void *ud, const struct sse_event *ev);
	/* A retry: field of one or more ASCII digits (saturating at
	 * UINT64_MAX). May be NULL. */
	void (*on_retry)(void *ud, uint64_t ms);
	/* A comment line (heartbeat); counts as activity. May be NULL. */
	void (*on_comment)(void *ud);
	/* An event was longer than max_event_size and skipped whole; size is
	 * how many bytes of it were seen. May be NULL. */
	void (*on_oversize)(void *ud, size_t size);
};

enum sse_line_state {
	SSE_LINE_START,   /* no byte of the current line seen yet */
	SSE_LINE_COMMENT, /* a ':' line: consumed without storing */
	SSE_LINE_FIELD,   /* a field line: bytes go to `line` if it spans feeds */
	SSE_LINE_SKIP,    /* a line of an oversized event: counted, not stored */
};

/* Private: read only the counters. */
struct sse_parser {
	struct sse_callbacks cb;
	void *ud;
	size_t max_event_size;
	struct buf line;    /* the current field line, once it spans two feeds */
	struct buf data;    /* the pending event's data, each line + LF */
	struct buf type;    /* the pending event's type */
	struct buf id;      /* the spec's last event ID buffer, when id_dirty */
	struct buf last_id; /* the last event ID string, committed at dispatch */
	/* The pending event's only data line, still inside the chunk being fed:
	 * the common single-line event is dispatched without a copy. */
	const char *held;
	size_t held_len;
	size_t event_bytes; /* bytes of the pending event so far */
	enum sse_line_state line_state;
	bool skipping;          /* the pending event is oversized */
	bool id_dirty;          /* an id: line set `id` since the last dispatch */
	bool bom_done;          /* the response's first bytes were looked at */
	unsigned char bom_seen; /* bytes of a BOM matched so far */
	bool after_cr;          /* the previous byte was CR (a following LF is eaten) */
	uint64_t events, comments, oversized;
};

/* max_event_size bounds one event (all its lines); lines beyond it make the
 * whole event skipped, the stream goes on. */
void sse_init(struct sse_parser *p, size_t max_event_size, const struct sse_callbacks *cb,
              void *ud);
/* Consumes all of data. Returns 0, or LG_ENOMEM: then the rest of the
 * response cannot be trusted, and the caller must sse_reset() (reconnect)
 * before feeding again. */
int sse_feed(struct sse_parser *p, const char *data, size_t len);
/* A new response begins; the unterminated event of the previous one is
 * discarded (reported through on_oversize if it was oversized). The last
 * event id is kept. */
void sse_reset(struct sse_parser *p);
/* Discards any pending event without calling back. */
void sse_free(struct sse_parser *p);
/* NUL-terminated: an id containing U+0000 is never accepted. */
const char *sse_last_event_id(const struct sse_parser *p);

#endif

/*
 * stream_: SSE log streams. A stream owns its connection's output from the
 * response head on: a bounded output buffer (--stream-buffer-max; a client
 * that lets it fill up is dropped, as a real server drops a stalled client),
 * a heartbeat timer and a pacing timer for the drip fault. Faults that shape
 * the bytes (drops, cuts, bogus events, line ends, BOM, chunking) are applied
 * here. Memory is freed once both timers have closed.
 */
#ifndef SINCH_FN_SIM_STREAM_H
#define SINCH_FN_SIM_STREAM_H

#include "gen.h"
#include "http.h"

struct stream_params {
	int have_since;
	int64_t since_us;
	int min_level;
};

/* Turns the connection into a stream, replays history, then goes live. */
int stream_start(struct http_conn *c, struct gen_function *f, const struct stream_params *p);
/* Called by the generator for each newly finished event, in completion order. */
void stream_publish(struct gen_event *ev);
/* Called by http.c when the connection closes. */
void stream_detach(struct stream *s);
/* Called by http.c when the stream's last write has completed. */
void stream_on_drain(struct stream *s);
int stream_count(void);
/* Ends every stream of f (it was deleted), as a server does: the
 * connection closes after what is queued. */
void stream_close_function(struct gen_function *f);

#endif

/* stream_poll: the poll and window modes of a stream (stream.h): its
 * records come from the historical logs (history.h) instead of the live
 * stream, through the same stream_ingest() path. */
#include <inttypes.h>

#include "err.h"
#include "log.h"
#include "stream.h"

static void on_entry(struct history *h, const char *json, size_t len)
{
	stream_ingest(h->data, json, len);
}

static bool on_page(struct history *h)
{
	struct stream *s = h->data;
	s->stats.pages++;
	if (stream_can_read(s))
		return true;
	s->wait_drain_page = true;
	s->stats.pauses++;
	return false;
}

static void on_done(struct history *h, int err)
{
	struct stream *s = h->data;
	if (s->mode == STREAM_MODE_WINDOW) {
		s->state = STREAM_STOPPED;
		if (s->window_done)
			s->window_done(s, err);
		return;
	}
	if (err == 0) {
		backoff_reset(&s->backoff);
		stream_schedule(s, STREAM_POLL_WAIT, s->conf->poll_interval_ms);
		return;
	}
	if (err == LG_EFORBIDDEN || err == LG_ENOENT) {
		log_error(s->who,
		          "polling historical logs: %s; this function is no longer followed, "
		          "others go on",
		          err == LG_EFORBIDDEN ? "HTTP 403, the key has no access to this function"
		                               : "HTTP 404, no such function or project");
		stream_gone(s);
		return;
	}
	uint64_t d = backoff_next(&s->backoff);
	if (d < s->conf->poll_interval_ms)
		d = s->conf->poll_interval_ms;
	log_warn(s->who, "polling historical logs failed: %s; next poll in %" PRIu64 " ms",
	         lg_strerror(err), d);
	stream_schedule(s, STREAM_POLL_WAIT, d);
}

int stream_poll_init(struct stream *s)
{
	if (s->hist_open)
		return s->hist.function_id ? 0 : LG_ENOMEM;
	static const struct history_cb cb = {on_entry, on_page, on_done};
	int rc = history_init(&s->hist, s->api, s->function_id, s->function_name, &cb, s);
	s->hist_open = true; /* closed with the stream, even half made */
	return rc;
}

void stream_poll_now(struct stream *s)
{
	if (s->stopping || s->gone || !s->hist_open)
		return;
	if (!stream_can_read(s)) {
		s->wait_drain = true;
		s->state = STREAM_POLL_WAIT;
		return;
	}
	struct history_query q = {0};
	int64_t since = ckpt_resume_since(&s->ckpt);
	if (s->mode == STREAM_MODE_WINDOW) {
		q = s->window;
		if (since != INT64_MIN && since > q.start_ms)
			q.start_ms = since;
	} else {
		q.start_ms = since;
		q.end_ms = INT64_MAX;
		q.level = s->conf->level;
		q.page_size = s->conf->page_size;
	}
	/* Acknowledgements during this poll must not prune the ids it may
	 * still send again (see ckpt.h). */
	ckpt_set_replay_from(&s->ckpt, q.start_ms);
	s->stats.polls++;
	s->state = STREAM_POLLING;
	int rc = history_start(&s->hist, &q);
	if (rc)
		on_done(&s->hist, rc);
}

void stream_poll_stop(struct stream *s)
{
	s->wait_drain_page = false;
	if (s->hist_open)
		history_cancel(&s->hist);
}

void stream_poll_resume(struct stream *s)
{
	if (s->wait_drain_page) {
		s->wait_drain_page = false;
		history_resume(&s->hist);
	} else if (s->wait_drain) {
		s->wait_drain = false;
		stream_poll_now(s);
	}
}

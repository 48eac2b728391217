/* SSE log streams: replay, live fan-out, heartbeats, pacing and stream faults. */
#include "stream.h"
#include "ctl.h"
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIP_TICK_MS 100

struct stream {
	struct http_conn *conn; /* NULL once the connection is gone */
	struct gen_function *fn;
	struct stream_params p;
	struct sbuf out;
	size_t out_off;
	int writing;
	int stopped; /* a fault ended the stream: nothing more is queued */
	uint64_t real_sent;
	uint64_t bogus_sent;
	uv_timer_t hb_timer;
	uv_timer_t drip_timer;
	uv_timer_t stall_timer;
	int started; /* the response began (after the stall fault, if any) */
	int handles_open;
	double drip_budget;
	uint64_t chunk_rng;
	uint64_t id;
	struct stream *prev, *next;
};

static struct stream *streams;
static int nstreams;
static uint64_t next_stream_id = 1;

int stream_count(void)
{
	return nstreams;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct stream *s = h->data;

	if (--s->handles_open == 0) {
		sbuf_free(&s->out);
		free(s);
	}
}

void stream_detach(struct stream *s)
{
	if (!s->conn)
		return;
	s->conn = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else
		streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	nstreams--;
	LOGI("stream %llu for %s closed after %llu events", (unsigned long long)s->id, s->fn->name,
	     (unsigned long long)s->real_sent);
	uv_close((uv_handle_t *)&s->hb_timer, on_timer_closed);
	uv_close((uv_handle_t *)&s->drip_timer, on_timer_closed);
	uv_close((uv_handle_t *)&s->stall_timer, on_timer_closed);
}

static void pump(struct stream *s)
{
	size_t avail, chunk;

	if (!s->conn || s->writing)
		return;
	avail = s->out.len - s->out_off;
	if (avail == 0) {
		if (s->stopped)
			http_close_after_flush(s->conn);
		return;
	}
	chunk = avail;
	if (fault.drip_bps) {
		if (s->drip_budget < 1.0)
			return; /* the drip timer calls again */
		if (chunk > (size_t)s->drip_budget)
			chunk = (size_t)s->drip_budget;
		s->drip_budget -= (double)chunk;
	} else if (fault.split_writes) {
		size_t n = 1 + sim_rng_below(&s->chunk_rng, 16);

		if (chunk > n)
			chunk = n;
	}
	s->writing = 1;
	s->out_off += chunk;
	/* On failure the connection closes and detaches this stream. */
	http_write(s->conn, s->out.p + s->out_off - chunk, chunk);
	if (s->out_off > 65536 && s->out_off * 2 > s->out.len) {
		sbuf_consume(&s->out, s->out_off);
		s->out_off = 0;
	}
}

void stream_on_drain(struct stream *s)
{
	s->writing = 0;
	pump(s);
}

/* A client that does not read while its buffer fills up is dropped. */
static int queue(struct stream *s, const char *data, size_t len)
{
	if (!s->conn || s->stopped)
		return SIM_EINVAL;
	if (sbuf_add(&s->out, data, len) != SIM_OK) {
		LOGW("stream %llu: client too slow (%zu bytes buffered), dropping it",
		     (unsigned long long)s->id, s->out.len - s->out_off);
		s->stopped = 1;
		http_close(s->conn);
		return SIM_ELIMIT;
	}
	return SIM_OK;
}

static int frame(struct sbuf *b, const char *id, const char *data, size_t len)
{
	const char *eol = fault_eol();
	int rc = SIM_OK;

	if (sim_cfg.sse_ids && id)
		rc |= sbuf_printf(b, "id: %s%s", id, eol);
	if (sim_cfg.sse_event[0])
		rc |= sbuf_printf(b, "event: %s%s", sim_cfg.sse_event, eol);
	rc |= sbuf_adds(b, "data: ");
	rc |= sbuf_add(b, data, len);
	rc |= sbuf_printf(b, "%s%s", eol, eol);
	return rc ? SIM_ENOMEM : SIM_OK;
}

static int queue_frame(struct stream *s, const char *id, const char *data, size_t len)
{
	struct sbuf f;
	int rc;

	sbuf_init(&f, len + 4096);
	rc = frame(&f, id, data, len);
	if (rc == SIM_OK)
		rc = queue(s, f.p, f.len);
	sbuf_free(&f);
	return rc;
}

static void queue_malformed(struct stream *s)
{
	char buf[128], id[48];
	int n;

	snprintf(id, sizeof(id), "malformed-%llu", (unsigned long long)++s->bogus_sent);
	n = snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"functionId\":\"%s\",\"broken\":tru", id,
	             s->fn->id);
	if (queue_frame(s, id, buf, (size_t)n) == SIM_OK) {
		sim_stats.injected_malformed++;
		fault_applied[F_MALFORMED_EVERY]++;
	}
}

static void queue_oversize(struct stream *s)
{
	size_t size = sim_cfg.oversize_bytes < 128 ? 128 : sim_cfg.oversize_bytes;
	char head[128], id[48];
	char *buf = malloc(size);
	int n;

	if (!buf)
		return;
	snprintf(id, sizeof(id), "oversize-%llu", (unsigned long long)++s->bogus_sent);
	n = snprintf(head, sizeof(head), "{\"id\":\"%s\",\"functionId\":\"%s\",\"padding\":\"", id,
	             s->fn->id);
	memcpy(buf, head, (size_t)n);
	memset(buf + n, 'x', size - (size_t)n - 2);
	memcpy(buf + size - 2, "\"}", 2);
	if (queue_frame(s, id, buf, size) == SIM_OK) {
		sim_stats.injected_oversize++;
		fault_applied[F_OVERSIZE_EVERY]++;
	}
	free(buf);
}

/* Sends the first half of the event's frame, then ends the stream. */
static void queue_cut(struct stream *s, const struct gen_event *ev)
{
	struct sbuf f;

	sbuf_init(&f, ev->json_len + 4096);
	if (frame(&f, ev->id, ev->json, ev->json_len) == SIM_OK &&
	    queue(s, f.p, f.len / 2) == SIM_OK) {
		fault_applied[F_CUT_MID_EVENT]++;
		s->stopped = 1;
	}
	sbuf_free(&f);
}

static int wanted(const struct stream *s, const struct gen_event *ev)
{
	if (ev->level < s->p.min_level)
		return 0;
	return !s->p.have_since || ev->start_ms * 1000 > s->p.since_us;
}

static void send_event(struct stream *s, struct gen_event *ev)
{
	unsigned long every;
	int rc;

	if (s->stopped || !s->conn || !s->started || !wanted(s, ev))
		return;
	if (fault.cut_mid_event && s->real_sent == fault.cut_mid_event) {
		queue_cut(s, ev);
		return;
	}
	every = fault.bad_utf8_every;
	if (every && (s->real_sent + 1) % every == 0) {
		size_t len;
		char *bad = gen_render_bad_utf8(ev, &len);

		if (!bad)
			return;
		rc = queue_frame(s, ev->id, bad, len);
		free(bad);
		if (rc == SIM_OK)
			fault_applied[F_BAD_UTF8_EVERY]++;
	} else {
		rc = queue_frame(s, ev->id, ev->json, ev->json_len);
	}
	if (rc != SIM_OK)
		return;
	s->real_sent++;
	sim_stats.events_sent++;
	if (!ev->sent) {
		ev->sent = 1;
		gen_fns[ev->fn].sent++;
	}
	if (fault.malformed_every && s->real_sent % fault.malformed_every == 0)
		queue_malformed(s);
	if (fault.oversize_every && s->real_sent % fault.oversize_every == 0)
		queue_oversize(s);
	if (fault.drop_every && s->real_sent % fault.drop_every == 0 && !s->stopped) {
		fault_applied[F_DROP_EVERY]++;
		s->stopped = 1;
	}
}

void stream_close_function(struct gen_function *f)
{
	struct stream *s, *next;

	for (s = streams; s; s = next) {
		next = s->next;
		if (s->fn != f || s->stopped)
			continue;
		s->stopped = 1;
		pump(s);
	}
}

void stream_publish(struct gen_event *ev)
{
	struct stream *s = streams, *next;

	for (; s; s = next) {
		next = s->next;
		if (s->fn != &gen_fns[ev->fn])
			continue;
		send_event(s, ev);
		pump(s);
	}
}

static long heartbeat_interval(void)
{
	return fault.heartbeat_ms >= 0 ? fault.heartbeat_ms : sim_cfg.heartbeat_ms;
}

static void on_heartbeat(uv_timer_t *t)
{
	struct stream *s = t->data;
	char line[16];

	if (fault.heartbeat_ms >= 0)
		fault_applied[F_HEARTBEAT]++;
	snprintf(line, sizeof(line), ": ping%s", fault_eol());
	if (queue(s, line, strlen(line)) == SIM_OK)
		pump(s);
}

static void restart_heartbeat(struct stream *s)
{
	long ms = heartbeat_interval();

	uv_timer_stop(&s->hb_timer);
	if (ms > 0)
		uv_timer_start(&s->hb_timer, on_heartbeat, (uint64_t)ms, (uint64_t)ms);
}

void stream_heartbeat_changed(void)
{
	for (struct stream *s = streams; s; s = s->next)
		if (s->started)
			restart_heartbeat(s);
}

static void on_drip(uv_timer_t *t)
{
	struct stream *s = t->data;
	double cap;

	if (!fault.drip_bps) {
		s->drip_budget = 0;
		return;
	}
	cap = fault.drip_bps > 16 ? (double)fault.drip_bps : 16.0;
	s->drip_budget += (double)fault.drip_bps * DRIP_TICK_MS / 1000.0;
	if (s->drip_budget > cap)
		s->drip_budget = cap;
	if (s->drip_budget >= 1.0)
		fault_applied[F_DRIP]++;
	pump(s);
}

/* The response: headers, replay of the retained events after since, then
 * live events as they are published. */
static void begin(struct stream *s)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
	                           "Server: sinch-fn-sim\r\n"
	                           "Content-Type: text/event-stream\r\n"
	                           "Cache-Control: no-cache\r\n"
	                           "Connection: close\r\n"
	                           "X-Accel-Buffering: no\r\n\r\n";
	struct gen_function *f = s->fn;
	const struct stream_params *p = &s->p;
	int64_t now = sim_now_ms();
	char line[48];

	s->started = 1;
	s->writing = 1;
	http_write(s->conn, head, sizeof(head) - 1);
	if (!s->conn)
		return;
	if (fault.bom) {
		fault_applied[F_BOM]++;
		queue(s, "\xEF\xBB\xBF", 3);
	}
	if (fault.line_ends != LE_LF)
		fault_applied[F_LINE_ENDS]++;
	if (fault.split_writes)
		fault_applied[F_SPLIT_WRITES]++;
	if (sim_cfg.sse_retry_ms >= 0) {
		snprintf(line, sizeof(line), "retry: %ld%s%s", sim_cfg.sse_retry_ms, fault_eol(),
		         fault_eol());
		queue(s, line, strlen(line));
	}
	if (p->have_since) {
		for (size_t i = f->done_head; i < f->ndone && s->conn; i++)
			if (gen_retained(f->done[i], now))
				send_event(s, f->done[i]);
	}
	if (!s->conn)
		return;
	restart_heartbeat(s);
	uv_timer_start(&s->drip_timer, on_drip, DRIP_TICK_MS, DRIP_TICK_MS);
	LOGI("stream %llu for %s opened (level >= %s%s)", (unsigned long long)s->id, f->name,
	     sim_level_name(p->min_level), p->have_since ? ", with since" : "");
}

static void on_stall_over(uv_timer_t *t)
{
	struct stream *s = t->data;

	if (s->conn)
		begin(s);
}

int stream_start(struct http_conn *c, struct gen_function *f, const struct stream_params *p)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (!s)
		return SIM_ENOMEM;
	s->conn = c;
	s->fn = f;
	s->p = *p;
	s->id = next_stream_id++;
	s->chunk_rng = sim_mix(sim_cfg.seed, s->id);
	sbuf_init(&s->out, sim_cfg.stream_buffer_max);
	uv_timer_init(sim_loop, &s->hb_timer);
	uv_timer_init(sim_loop, &s->drip_timer);
	uv_timer_init(sim_loop, &s->stall_timer);
	s->hb_timer.data = s;
	s->drip_timer.data = s;
	s->stall_timer.data = s;
	s->handles_open = 3;
	c->stream = s;
	s->next = streams;
	if (streams)
		streams->prev = s;
	streams = s;
	nstreams++;
	sim_stats.streams_total++;
	if ((uint64_t)nstreams > sim_stats.streams_peak)
		sim_stats.streams_peak = (uint64_t)nstreams;

	if (fault.stall_ms) {
		/* A response slow to start: the request was made (its since is
		 * fixed) well before the first byte answers it. */
		fault_applied[F_STALL]++;
		uv_timer_start(&s->stall_timer, on_stall_over, fault.stall_ms, 0);
		return SIM_OK;
	}
	begin(s);
	return SIM_OK;
}

#include "sse.h"

#include <string.h>

#include "err.h"

static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

void sse_init(struct sse_parser *p, size_t max_event_size, const struct sse_callbacks *cb, void *ud)
{
	memset(p, 0, sizeof(*p));
	p->cb = *cb;
	p->ud = ud;
	p->max_event_size = max_event_size;
	/* Every stored byte is part of one event's lines, so max_event_size
	 * bounds each buffer: the data (value + LF per line) never outgrows
	 * the lines it came from ("data" alone is 4 bytes for 1). */
	buf_init(&p->line, max_event_size);
	buf_init(&p->data, max_event_size);
	buf_init(&p->type, max_event_size);
	buf_init(&p->id, max_event_size);
	buf_init(&p->last_id, max_event_size);
	p->line_state = SSE_LINE_START;
}

void sse_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->type);
	buf_free(&p->id);
	buf_free(&p->last_id);
	p->held = NULL;
}

const char *sse_last_event_id(const struct sse_parser *p)
{
	return p->last_id.len ? p->last_id.data : "";
}

static void drop_pending(struct sse_parser *p)
{
	buf_reset(&p->data);
	buf_reset(&p->type);
	p->held = NULL;
	p->held_len = 0;
}

/* The spec's first dispatch step, taken even when nothing is dispatched:
 * the last event ID string becomes the buffer. Swapping instead of copying
 * keeps both allocations; `id` is only meaningful while id_dirty. */
static void commit_id(struct sse_parser *p)
{
	if (!p->id_dirty)
		return;
	struct buf t = p->last_id;
	p->last_id = p->id;
	p->id = t;
	p->id_dirty = false;
}

static void end_oversized(struct sse_parser *p)
{
	p->oversized++;
	if (p->cb.on_oversize)
		p->cb.on_oversize(p->ud, p->event_bytes);
}

/* A blank line: the end of an event. */
static void dispatch(struct sse_parser *p)
{
	commit_id(p);
	if (p->skipping) {
		end_oversized(p);
		p->skipping = false;
	} else if (p->held || p->data.len) {
		struct sse_event ev;
		ev.type = p->type.len ? p->type.data : "message";
		ev.type_len = p->type.len ? p->type.len : sizeof("message") - 1;
		if (p->held) {
			ev.data = p->held;
			ev.data_len = p->held_len;
		} else {
			ev.data = p->data.data;
			ev.data_len = p->data.len - 1;
		}
		ev.id = sse_last_event_id(p);
		ev.id_len = p->last_id.len;
		p->events++;
		p->cb.on_event(p->ud, &ev);
	}
	drop_pending(p);
	p->event_bytes = 0;
}

/* A held line must be copied before its chunk goes away or another data
 * line joins it. */
static int unhold(struct sse_parser *p)
{
	if (!p->held)
		return 0;
	int rc = buf_append(&p->data, p->held, p->held_len);
	if (!rc)
		rc = buf_putc(&p->data, '\n');
	p->held = NULL;
	p->held_len = 0;
	return rc;
}

static int add_data(struct sse_parser *p, const char *v, size_t n, bool in_chunk)
{
	if (in_chunk && !p->held && !p->data.len) {
		p->held = v;
		p->held_len = n;
		return 0;
	}
	int rc = unhold(p);
	if (!rc)
		rc = buf_append(&p->data, v, n);
	if (!rc)
		rc = buf_putc(&p->data, '\n');
	return rc;
}

static void set_retry(struct sse_parser *p, const char *v, size_t n)
{
	if (!n)
		return;
	uint64_t ms = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)v[i] - (unsigned)'0';
		if (d > 9)
			return;
		ms = ms > (UINT64_MAX - d) / 10 ? UINT64_MAX : ms * 10 + d;
	}
	if (p->cb.on_retry)
		p->cb.on_retry(p->ud, ms);
}

/* One complete, non-empty, non-comment line. in_chunk says s points into the
 * caller's chunk (not into p->line), so a data value may be held there. */
static int field(struct sse_parser *p, const char *s, size_t n, bool in_chunk)
{
	const char *colon = memchr(s, ':', n);
	size_t name_len = colon ? (size_t)(colon - s) : n;
	const char *v = s + n;
	size_t vlen = 0;
	if (colon) {
		v = colon + 1;
		vlen = n - name_len - 1;
		if (vlen && *v == ' ') {
			v++;
			vlen--;
		}
	}
	int rc = 0;
	switch (name_len) {
	case 2:
		if (memcmp(s, "id", 2) == 0 && !memchr(v, '\0', vlen)) {
			buf_reset(&p->id);
			rc = buf_append(&p->id, v, vlen);
			p->id_dirty = true;
		}
		break;
	case 4:
		if (memcmp(s, "data", 4) == 0)
			rc = add_data(p, v, vlen, in_chunk);
		break;
	case 5:
		if (memcmp(s, "event", 5) == 0) {
			buf_reset(&p->type);
			rc = buf_append(&p->type, v, vlen);
		} else if (memcmp(s, "retry", 5) == 0) {
			set_retry(p, v, vlen);
		}
		break;
	default:
		break;
	}
	return rc;
}

static void start_skipping(struct sse_parser *p, size_t n)
{
	p->skipping = true;
	p->event_bytes = n > SIZE_MAX - p->event_bytes ? SIZE_MAX : p->event_bytes + n;
	buf_reset(&p->line);
	drop_pending(p);
}

/* Part of one line: n bytes, then a line end if terminated. */
static int segment(struct sse_parser *p, const char *s, size_t n, bool terminated)
{
	if (p->line_state == SSE_LINE_START) {
		if (!n) {
			if (terminated)
				dispatch(p);
			return 0;
		}
		if (*s == ':')
			p->line_state = SSE_LINE_COMMENT;
		else
			p->line_state = p->skipping ? SSE_LINE_SKIP : SSE_LINE_FIELD;
	}
	int rc = 0;
	switch (p->line_state) {
	case SSE_LINE_COMMENT:
		if (terminated) {
			p->comments++;
			if (p->cb.on_comment)
				p->cb.on_comment(p->ud);
		}
		break;
	case SSE_LINE_SKIP:
		p->event_bytes = n > SIZE_MAX - p->event_bytes ? SIZE_MAX : p->event_bytes + n;
		break;
	case SSE_LINE_FIELD:
		if (n > p->max_event_size - p->event_bytes) {
			start_skipping(p, n);
			p->line_state = SSE_LINE_SKIP;
			break;
		}
		p->event_bytes += n;
		if (terminated && !p->line.len) {
			rc = field(p, s, n, true);
			break;
		}
		rc = buf_append(&p->line, s, n);
		if (!rc && terminated) {
			rc = field(p, p->line.data, p->line.len, false);
			buf_reset(&p->line);
		}
		break;
	case SSE_LINE_START:
		break;
	}
	if (terminated)
		p->line_state = SSE_LINE_START;
	return rc;
}

static int scan(struct sse_parser *p, const char *s, const char *end)
{
	/* The next LF and CR at or after s (end when none): each is searched
	 * for again only once passed, so a chunk is scanned at most twice. */
	const char *lf = s, *cr = s;
	bool first = true;
	while (s < end) {
		if (p->after_cr) {
			p->after_cr = false;
			if (*s == '\n') {
				s++;
				continue;
			}
		}
		if (first || lf < s) {
			lf = memchr(s, '\n', (size_t)(end - s));
			lf = lf ? lf : end;
		}
		if (first || cr < s) {
			cr = memchr(s, '\r', (size_t)(end - s));
			cr = cr ? cr : end;
		}
		first = false;
		const char *eol = lf < cr ? lf : cr;
		int rc = segment(p, s, (size_t)(eol - s), eol < end);
		if (rc)
			return rc;
		if (eol == end)
			break;
		p->after_cr = *eol == '\r';
		s = eol + 1;
	}
	return 0;
}

static int feed(struct sse_parser *p, const char *s, const char *end)
{
	if (!p->bom_done) {
		while (s < end && p->bom_seen < sizeof(sse_bom) &&
		       (unsigned char)*s == sse_bom[p->bom_seen]) {
			s++;
			p->bom_seen++;
		}
		if (p->bom_seen == sizeof(sse_bom)) {
			p->bom_done = true;
		} else if (s < end) {
			/* Not a BOM after all: the bytes matched so far are the
			 * start of the first line. */
			p->bom_done = true;
			const char *b = (const char *)sse_bom;
			int rc = scan(p, b, b + p->bom_seen);
			if (rc)
				return rc;
		}
	}
	int rc = scan(p, s, end);
	if (!rc)
		rc = unhold(p);
	return rc;
}

int sse_feed(struct sse_parser *p, const char *data, size_t len)
{
	if (!len)
		return 0;
	int rc = feed(p, data, data + len);
	if (rc) {
		/* Never leave a pointer into the caller's chunk behind. */
		drop_pending(p);
		buf_reset(&p->line);
	}
	return rc;
}

void sse_reset(struct sse_parser *p)
{
	if (p->skipping)
		end_oversized(p);
	drop_pending(p);
	buf_reset(&p->line);
	p->line_state = SSE_LINE_START;
	p->event_bytes = 0;
	p->skipping = false;
	p->id_dirty = false;
	p->bom_done = false;
	p->bom_seen = 0;
	p->after_cr = false;
}

/* The SSE parser on arbitrary bytes: the first input byte picks the event
 * size limit and the split pattern; the rest is the response body. The
 * events, comments and oversize reports seen when the body is fed whole must
 * be exactly those seen when it is fed in pieces (the parser is
 * incremental), and no event ever exceeds the limit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"

struct log {
	struct buf b;
	size_t max;
};

static void put(struct log *l, char tag, const char *s, size_t n)
{
	char hdr[32];
	int len = snprintf(hdr, sizeof(hdr), "%c%zu:", tag, n);
	if (buf_append(&l->b, hdr, (size_t)len) || buf_append(&l->b, s, n))
		abort();
}

static void on_event(void *ud, const struct sse_event *ev)
{
	struct log *l = ud;
	if (ev->data_len > l->max || ev->type_len > l->max)
		abort();
	put(l, 'E', ev->type, ev->type_len);
	put(l, 'D', ev->data, ev->data_len);
	put(l, 'I', ev->id, ev->id_len);
}

static void on_retry(void *ud, uint64_t ms)
{
	char s[32];
	put(ud, 'R', s, (size_t)snprintf(s, sizeof(s), "%llu", (unsigned long long)ms));
}

static void on_comment(void *ud)
{
	put(ud, 'C', "", 0);
}

static void on_oversize(void *ud, size_t size)
{
	char s[32];
	put(ud, 'O', s, (size_t)snprintf(s, sizeof(s), "%zu", size));
}

static const struct sse_callbacks cbs = {on_event, on_retry, on_comment, on_oversize};

/* Feeds body in pieces whose sizes cycle through a pattern derived from
 * seed; every other pass resets the parser in the middle, as a reconnect
 * does, which both runs must do at the same offset. */
static void run(const uint8_t *body, size_t len, size_t max, unsigned seed, bool split,
                struct log *l)
{
	struct sse_parser p;
	sse_init(&p, max, &cbs, l);
	size_t reset_at = (seed & 0x80) ? len / 2 : (size_t)-1;
	size_t off = 0;
	unsigned step = 0;
	while (off < len) {
		size_t n = len - off;
		if (split) {
			size_t piece = 1 + ((seed >> (step % 4)) & 7) * (step % 3 + 1);
			n = piece < n ? piece : n;
			step++;
		}
		if (off < reset_at && off + n > reset_at)
			n = reset_at - off;
		if (sse_feed(&p, (const char *)body + off, n))
			abort();
		off += n;
		if (off == reset_at) {
			put(l, 'X', "", 0);
			sse_reset(&p);
		}
	}
	sse_reset(&p);
	const char *last = sse_last_event_id(&p);
	put(l, 'L', last, strlen(last));
	sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0];
	static const size_t limits[] = {1, 8, 64, 4096};
	size_t max = limits[seed & 3];
	struct log whole = {.max = max}, pieces = {.max = max};
	buf_init(&whole.b, 64u << 20);
	buf_init(&pieces.b, 64u << 20);
	run(data + 1, size - 1, max, seed, false, &whole);
	run(data + 1, size - 1, max, seed, true, &pieces);
	if (whole.b.len != pieces.b.len || memcmp(whole.b.data, pieces.b.data, whole.b.len) != 0) {
		fprintf(stderr, "fuzz_sse: whole and split feeds disagree\n");
		abort();
	}
	buf_free(&whole.b);
	buf_free(&pieces.b);
	return 0;
}

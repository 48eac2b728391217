#include "ackq.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define ACKQ_MIN_CAP 64

void ackq_init(struct ackq *q, size_t max)
{
	q->ring = NULL;
	q->cap = 0;
	q->head = 0;
	q->len = 0;
	q->max = max;
	q->head_seq = 1;
}

void ackq_free(struct ackq *q)
{
	free(q->ring);
	q->ring = NULL;
	q->cap = 0;
	q->head = 0;
	q->len = 0;
}

/* Ring index of the entry `off` places after the oldest (off < cap). */
static size_t index_of(const struct ackq *q, size_t off)
{
	size_t i = q->head + off;
	return i >= q->cap ? i - q->cap : i;
}

static int grow(struct ackq *q)
{
	size_t cap = q->cap ? q->cap * 2 : ACKQ_MIN_CAP;
	if (cap > q->max || cap < q->cap)
		cap = q->max;
	if (cap > SIZE_MAX / sizeof(struct ackq_entry))
		return LG_ENOMEM;
	struct ackq_entry *ring = malloc(cap * sizeof(*ring));
	if (!ring)
		return LG_ENOMEM;
	/* Unwrap into the new ring so the oldest entry is at index 0. */
	size_t first = q->cap - q->head < q->len ? q->cap - q->head : q->len;
	if (first)
		memcpy(ring, q->ring + q->head, first * sizeof(*ring));
	if (q->len > first)
		memcpy(ring + first, q->ring, (q->len - first) * sizeof(*ring));
	free(q->ring);
	q->ring = ring;
	q->cap = cap;
	q->head = 0;
	return 0;
}

int ackq_push(struct ackq *q, int64_t start_ms, uint64_t id_hash, uint64_t arrival_ms,
              uint64_t *seq)
{
	if (q->len >= q->max)
		return LG_ETOOBIG;
	if (q->len == q->cap) {
		int rc = grow(q);
		if (rc)
			return rc;
	}
	struct ackq_entry *e = &q->ring[index_of(q, q->len)];
	e->start_ms = start_ms;
	e->id_hash = id_hash;
	e->arrival_ms = arrival_ms;
	e->done = false;
	*seq = q->head_seq + q->len;
	q->len++;
	return 0;
}

int ackq_done(struct ackq *q, uint64_t seq)
{
	/* Unsigned difference: a seq below head_seq wraps to a huge offset. */
	uint64_t off = seq - q->head_seq;
	if (off >= q->len)
		return LG_ENOENT;
	struct ackq_entry *e = &q->ring[index_of(q, (size_t)off)];
	if (e->done)
		return LG_EINVAL;
	e->done = true;
	return 0;
}

size_t ackq_advance(struct ackq *q, ackq_cb cb, void *ud)
{
	size_t n = 0;
	while (q->len) {
		struct ackq_entry *e = &q->ring[q->head];
		if (!e->done)
			break;
		if (cb)
			cb(ud, e->start_ms, e->id_hash);
		q->head = index_of(q, 1);
		q->len--;
		q->head_seq++;
		n++;
	}
	return n;
}

size_t ackq_len(const struct ackq *q)
{
	return q->len;
}

uint64_t ackq_next_seq(const struct ackq *q)
{
	return q->head_seq + q->len;
}

const struct ackq_entry *ackq_oldest(const struct ackq *q)
{
	return q->len ? &q->ring[q->head] : NULL;
}

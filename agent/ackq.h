/* ackq: one stream's records in arrival order, from submission until every
 * sink has acknowledged (or dead-lettered) them, so the checkpoint advances
 * only over the contiguous done prefix.
 *
 * A FIFO ring of small entries (no record pointers: records are owned by the
 * router and the sinks). Sequence numbers are consecutive and start at 1, so
 * 0 can mean "none" in a record. The ring grows by doubling, capped at
 * `max` entries fixed at init; pushing past it is LG_ETOOBIG, which the router's
 * back-pressure is meant to prevent. Acknowledgements come in any order;
 * ackq_advance() then pops the done prefix, oldest first. */
#ifndef SINCH_ACKQ_H
#define SINCH_ACKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ackq_entry {
	int64_t start_ms;    /* the event's start time */
	uint64_t id_hash;    /* record_hash() of the event id */
	uint64_t arrival_ms; /* loop time (uv_now) when it was pushed */
	bool done;
};

struct ackq {
	struct ackq_entry *ring;
	size_t cap;
	size_t head; /* ring index of the oldest entry */
	size_t len;
	size_t max;
	uint64_t head_seq; /* seq of the oldest entry (next_seq when empty) */
};

/* Called by ackq_advance() for each popped entry, oldest first. */
typedef void (*ackq_cb)(void *ud, int64_t start_ms, uint64_t id_hash);

void ackq_init(struct ackq *q, size_t max);
void ackq_free(struct ackq *q);

/* Appends an entry and stores its sequence number in *seq. LG_ETOOBIG when
 * the queue holds max entries, LG_ENOMEM when growing failed. */
int ackq_push(struct ackq *q, int64_t start_ms, uint64_t id_hash, uint64_t arrival_ms,
              uint64_t *seq);
/* Marks seq done. LG_ENOENT when seq is not in the queue (never pushed, or
 * already popped), LG_EINVAL when it was already marked done. */
int ackq_done(struct ackq *q, uint64_t seq);
/* Pops the contiguous done prefix, calling cb (may be NULL) for each entry in
 * arrival order; returns how many it popped. */
size_t ackq_advance(struct ackq *q, ackq_cb cb, void *ud);

/* Entries not popped yet, done or not. */
size_t ackq_len(const struct ackq *q);
/* The sequence number the next push will get. */
uint64_t ackq_next_seq(const struct ackq *q);
/* The oldest entry not popped yet (after ackq_advance(), the one holding the
 * checkpoint back), for lag metrics; NULL when the queue is empty. Valid
 * until the next push or advance. */
const struct ackq_entry *ackq_oldest(const struct ackq *q);

#endif

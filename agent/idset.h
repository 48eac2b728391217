/* idset: a set of 64-bit event-id hashes, each with the start time (ms) of
 * its event, used for dedup at a stream's resume point: once for the ids a
 * stream has received, once (inside the checkpoint) for the ids delivered.
 *
 * Open addressing with linear probing; the table grows by doubling up to the
 * size that holds `max` entries, fixed at init. A full set refuses new ids
 * with LG_ETOOBIG rather than dropping any silently: the caller decides what
 * to give up, normally with idset_prune() (ids older than the dedup window)
 * and, if that frees nothing, idset_evict_oldest(). Pruning is O(capacity)
 * and meant for about once a second, not per id.
 *
 * INT64_MIN marks an empty slot, so it is not a valid start time. */
#ifndef SINCH_IDSET_H
#define SINCH_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idset_entry {
	uint64_t hash;
	int64_t start_ms; /* INT64_MIN: empty slot */
};

struct idset {
	struct idset_entry *slots;
	size_t cap; /* 0 or a power of two */
	size_t len;
	size_t max;
};

void idset_init(struct idset *s, size_t max);
void idset_free(struct idset *s);
/* Removes every entry, keeps the allocation. */
void idset_clear(struct idset *s);

/* 0 when added; 1 when the hash was already there (its start time becomes
 * the later of the two, so pruning never drops an id seen again recently);
 * LG_ETOOBIG when the set holds max entries; LG_ENOMEM; LG_EINVAL for a
 * start time of INT64_MIN. */
int idset_add(struct idset *s, uint64_t hash, int64_t start_ms);
bool idset_has(const struct idset *s, uint64_t hash);
size_t idset_len(const struct idset *s);

/* Removes the entries with start_ms < min_start_ms; returns how many. May
 * give memory back when the set became much smaller. */
size_t idset_prune(struct idset *s, int64_t min_start_ms);
/* Removes at least `count` entries (or all), the oldest by start time first;
 * entries sharing the cutoff start time go together, so it may remove more.
 * Returns how many it removed. */
size_t idset_evict_oldest(struct idset *s, size_t count);

/* Iteration, in no particular order, while the set is not modified:
 *   size_t it = 0; while (idset_next(s, &it, &hash, &start)) ... */
bool idset_next(const struct idset *s, size_t *iter, uint64_t *hash, int64_t *start_ms);

#endif

#include "idset.h"

#include <stdlib.h>

#include "err.h"

#define IDSET_EMPTY INT64_MIN
#define IDSET_MIN_CAP 16
/* Buckets per refinement pass of idset_evict_oldest: 64 passes narrow any
 * 64-bit range of start times down to one millisecond in at most 11 passes. */
#define IDSET_EVICT_BUCKETS 64

/* Event-id hashes are FNV-1a, whose low bits are weak; the murmur3 finalizer
 * spreads every input bit over the slot index. Mixing in the capacity gives
 * tables of different sizes unrelated slot orders: filling a table in the
 * iteration order of another (a resize, a checkpoint load) would otherwise
 * build long probe runs, quadratically slow. */
static size_t slot_of(const struct idset *s, uint64_t h)
{
	h ^= (uint64_t)s->cap * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h & (s->cap - 1);
}

/* Load factor at most 3/4 keeps linear-probing runs short. */
static size_t cap_limit(size_t cap)
{
	return cap / 4 * 3;
}

static size_t cap_for(size_t n)
{
	size_t cap = IDSET_MIN_CAP;
	while (cap_limit(cap) < n && cap <= SIZE_MAX / 4)
		cap *= 2;
	return cap;
}

static struct idset_entry *alloc_slots(size_t cap)
{
	if (cap > SIZE_MAX / sizeof(struct idset_entry))
		return NULL;
	struct idset_entry *slots = malloc(cap * sizeof(*slots));
	if (!slots)
		return NULL;
	for (size_t i = 0; i < cap; i++)
		slots[i].start_ms = IDSET_EMPTY;
	return slots;
}

/* Puts an entry known to be absent into its first free slot. */
static void place(struct idset *s, uint64_t hash, int64_t start_ms)
{
	size_t i = slot_of(s, hash);
	while (s->slots[i].start_ms != IDSET_EMPTY)
		i = (i + 1) & (s->cap - 1);
	s->slots[i].hash = hash;
	s->slots[i].start_ms = start_ms;
}

static int resize(struct idset *s, size_t cap)
{
	struct idset_entry *slots = alloc_slots(cap);
	if (!slots)
		return LG_ENOMEM;
	struct idset_entry *old = s->slots;
	size_t old_cap = s->cap;
	s->slots = slots;
	s->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].start_ms != IDSET_EMPTY)
			place(s, old[i].hash, old[i].start_ms);
	free(old);
	return 0;
}

void idset_init(struct idset *s, size_t max)
{
	s->slots = NULL;
	s->cap = 0;
	s->len = 0;
	s->max = max;
}

void idset_free(struct idset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = 0;
	s->len = 0;
}

void idset_clear(struct idset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		s->slots[i].start_ms = IDSET_EMPTY;
	s->len = 0;
}

static struct idset_entry *find(const struct idset *s, uint64_t hash)
{
	if (!s->len)
		return NULL;
	size_t i = slot_of(s, hash);
	while (s->slots[i].start_ms != IDSET_EMPTY) {
		if (s->slots[i].hash == hash)
			return &s->slots[i];
		i = (i + 1) & (s->cap - 1);
	}
	return NULL;
}

int idset_add(struct idset *s, uint64_t hash, int64_t start_ms)
{
	if (start_ms == IDSET_EMPTY)
		return LG_EINVAL;
	struct idset_entry *e = find(s, hash);
	if (e) {
		if (start_ms > e->start_ms)
			e->start_ms = start_ms;
		return 1;
	}
	if (s->len >= s->max)
		return LG_ETOOBIG;
	if (s->len + 1 > cap_limit(s->cap)) {
		int rc = resize(s, s->cap ? s->cap * 2 : IDSET_MIN_CAP);
		if (rc)
			return rc;
	}
	place(s, hash, start_ms);
	s->len++;
	return 0;
}

bool idset_has(const struct idset *s, uint64_t hash)
{
	return find(s, hash) != NULL;
}

size_t idset_len(const struct idset *s)
{
	return s->len;
}

size_t idset_prune(struct idset *s, int64_t min_start_ms)
{
	if (!s->len)
		return 0;
	size_t mask = s->cap - 1;
	/* A slot that was empty before any removal: every probe run that was
	 * valid then starts after it, so re-placing the survivors in walk order
	 * from there only ever moves an entry to its run's first free slot. */
	size_t start = 0;
	while (s->slots[start].start_ms != IDSET_EMPTY)
		start++;
	size_t removed = 0;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slots[i].start_ms != IDSET_EMPTY && s->slots[i].start_ms < min_start_ms) {
			s->slots[i].start_ms = IDSET_EMPTY;
			removed++;
		}
	}
	if (!removed)
		return 0;
	s->len -= removed;
	for (size_t n = 1; n < s->cap; n++) {
		size_t i = (start + n) & mask;
		struct idset_entry e = s->slots[i];
		if (e.start_ms == IDSET_EMPTY)
			continue;
		s->slots[i].start_ms = IDSET_EMPTY;
		place(s, e.hash, e.start_ms);
	}
	/* Give memory back after a burst; the hysteresis (a quarter) keeps a
	 * set oscillating around one size from reallocating every second. A
	 * failed allocation only means we keep the bigger table. */
	size_t want = cap_for(s->len * 2);
	if (want <= s->cap / 4)
		(void)resize(s, want);
	return removed;
}

/* Start times are signed; offsets from the lowest one are computed unsigned
 * so that any range, even INT64_MIN+1..INT64_MAX, fits. */
static uint64_t offset_of(int64_t t, int64_t lo)
{
	return (uint64_t)t - (uint64_t)lo;
}

static size_t clear_all(struct idset *s)
{
	size_t n = s->len;
	idset_clear(s);
	return n;
}

size_t idset_evict_oldest(struct idset *s, size_t count)
{
	if (!count || !s->len)
		return 0;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (size_t i = 0; i < s->cap; i++) {
		int64_t t = s->slots[i].start_ms;
		if (t == IDSET_EMPTY)
			continue;
		if (t < lo)
			lo = t;
		if (t > hi)
			hi = t;
	}
	if (count >= s->len)
		return clear_all(s);
	/* Find the cutoff: the smallest start time T with count(start <= T) >=
	 * count, by narrowing [lo, hi] bucket by bucket. `below` counts entries
	 * older than lo. */
	size_t below = 0;
	for (;;) {
		uint64_t width = offset_of(hi, lo) / IDSET_EVICT_BUCKETS + 1;
		size_t hist[IDSET_EVICT_BUCKETS] = {0};
		for (size_t i = 0; i < s->cap; i++) {
			int64_t t = s->slots[i].start_ms;
			if (t != IDSET_EMPTY && t >= lo && t <= hi)
				hist[offset_of(t, lo) / width]++;
		}
		size_t k = 0;
		while (below + hist[k] < count)
			below += hist[k++];
		int64_t bucket_lo = (int64_t)((uint64_t)lo + k * width);
		if (width == 1)
			return bucket_lo == INT64_MAX ? clear_all(s)
			                              : idset_prune(s, bucket_lo + 1);
		uint64_t last = offset_of(hi, bucket_lo);
		lo = bucket_lo;
		if (last >= width)
			hi = (int64_t)((uint64_t)bucket_lo + width - 1);
	}
}

bool idset_next(const struct idset *s, size_t *iter, uint64_t *hash, int64_t *start_ms)
{
	for (size_t i = *iter; i < s->cap; i++) {
		if (s->slots[i].start_ms != IDSET_EMPTY) {
			*hash = s->slots[i].hash;
			*start_ms = s->slots[i].start_ms;
			*iter = i + 1;
			return true;
		}
	}
	*iter = s->cap;
	return false;
}

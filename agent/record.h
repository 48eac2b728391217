/* record: one normalized record (a function invocation, a status change, a
 * metrics sample, a cost sample), serialized to JSON once and shared,
 * read-only and reference-counted, by every sink that takes it.
 *
 * The strings project_id, function_id and function_name point into the
 * stream that produced the record, which outlives every record it made
 * (streams are torn down only after every sink has been flushed and closed). */
#ifndef SINCH_RECORD_H
#define SINCH_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_SCHEMA 1

enum record_kind { RECORD_REQUEST, RECORD_STATUS, RECORD_METRICS, RECORD_COST, RECORD_KIND_COUNT };
enum record_level { RECORD_DEBUG, RECORD_INFO, RECORD_WARNING, RECORD_ERROR };

struct record {
	unsigned refs;
	enum record_kind kind;
	enum record_level level;
	int64_t start_ms; /* the event's start time, ms since the epoch */
	uint64_t id_hash; /* record_hash() of the event id (or of the event) */
	char *id;         /* the event id, verbatim; NUL-terminated, owned */
	const char *project_id;
	const char *function_id;
	const char *function_name;
	char *json; /* the serialized record: one line, no newline, owned */
	size_t json_len;

	/* Router bookkeeping: which stream it came from, its arrival number
	 * there, how many sinks still owe an acknowledgement and which (bit i:
	 * the router's sink slot i), and its place in the router's list of
	 * records not yet done. */
	void *origin;
	uint64_t seq;
	unsigned pending;
	int failed;
	uint64_t owed;
	struct record *rt_prev, *rt_next;
};

/* Takes ownership of id and json (both malloc'ed); refs starts at 1.
 * Returns NULL (and frees both) when out of memory. */
struct record *record_new(enum record_kind kind, char *id, char *json, size_t json_len);
struct record *record_ref(struct record *r);
void record_unref(struct record *r);

const char *record_kind_name(enum record_kind kind);
const char *record_level_name(enum record_level level);
/* Parses a level name in any case ("Info", "WARN", "warning", "Err"…);
 * -1 if it is none. */
int record_level_parse(const char *s, size_t len);
int record_kind_parse(const char *s, size_t len);

/* 64-bit FNV-1a; stable across runs and versions (it is stored in
 * checkpoints). */
uint64_t record_hash(const void *data, size_t len);

#endif

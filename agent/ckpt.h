/* ckpt: one stream's checkpoint, the point it resumes from after a reconnect
 * or a restart, and its file in the state directory.
 *
 * It holds since_ms, the newest start time in the acknowledged prefix (the
 * maximum over it: events arrive in completion order, not start order), and
 * the hashes of the ids delivered with a start time inside the overlap window
 * [since_ms - overlap_ms, ...). A reconnect asks for events after
 * ckpt_resume_since() and drops those ckpt_delivered() knows.
 *
 * A connection asks for events after the resume point as it was when the
 * request was made; acknowledgements may move the point on while that
 * connection still replays (a slow or paused replay, a response that is
 * slow to start). ckpt_set_replay_from() records the since of the
 * connection in use, and pruning keeps every id from there on: an id is
 * forgotten only once no open connection can send its event again.
 *
 * The delivered set is bounded (max_ids). When it is full even after pruning
 * to the window, its oldest ids are evicted and counted in dropped_ids: the
 * checkpoint still advances, and a resume may then repeat those events
 * (at-least-once holds; the stream should report the counter).
 *
 * The file `DIR/NAME.ckpt` (NAME escaped by ckpt_file_name()) is written
 * atomically (temp file `NAME.ckpt.tmp`, fsync, rename, fsync of the
 * directory) in a versioned, self-checking format:
 *
 *   sinch-logd-checkpoint 2\n
 *   since_ms <decimal ms, or "none">\n
 *   origin_ms <decimal ms, or "none">\n
 *   overlap_ms <decimal>\n
 *   last_event_id <bytes outside 0x21..0x7e and '%' as %XX>\n
 *   ids <count>\n
 *   <count × 16 bytes: id hash, start ms; both 64-bit little-endian>
 *   crc32 <8 lower-case hex digits: zlib crc32 of every byte before>\n
 *
 * The body is binary because a full window (5,000 events/s × 60 s) is 300k
 * ids: 4.8 MB this way, about twice that as text.
 *
 * Everything runs on the loop thread except ckpt_write(), which touches only
 * its arguments so it can run in the thread pool on an encoded copy; only one
 * write per NAME may be in flight (they share the temp file). */
#ifndef SINCH_CKPT_H
#define SINCH_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "idset.h"

#define CKPT_EVENT_ID_MAX 1024
/* Longest escaped NAME: leaves room for ".ckpt.corrupt" in NAME_MAX (255). */
#define CKPT_NAME_MAX 200

struct ckpt {
	int64_t since_ms; /* INT64_MIN: nothing acknowledged yet */
	/* Where the stream began (first run: now - initial_lookback): the resume
	 * point while nothing is acknowledged, so that records read and not
	 * acknowledged in a first run are read again at the next start.
	 * INT64_MIN when unset. */
	int64_t origin_ms;
	char last_event_id[CKPT_EVENT_ID_MAX + 1];
	size_t last_event_id_len;
	struct idset delivered;
	uint64_t overlap_ms;
	uint64_t dropped_ids; /* delivered ids given up for lack of room */
	/* The since of the connection in use: ids from there on are kept even
	 * when the window has moved past them. INT64_MIN: none. */
	int64_t replay_from;
	bool dirty; /* changed since the last save or load */
};

void ckpt_init(struct ckpt *c, uint64_t overlap_ms, size_t max_ids);
void ckpt_free(struct ckpt *c);
/* Back to "nothing acknowledged", keeping overlap_ms and max_ids. */
void ckpt_reset(struct ckpt *c);

/* One record of the acknowledged prefix, in arrival order. */
void ckpt_advance(struct ckpt *c, int64_t start_ms, uint64_t id_hash);
/* ckpt_advance() in the shape of an ackq_cb: ackq_advance(q, ckpt_advance_cb, c). */
void ckpt_advance_cb(void *ckpt, int64_t start_ms, uint64_t id_hash);
/* The SSE id to send as Last-Event-ID on resume; advisory (resuming relies on
 * since_ms). LG_ETOOBIG beyond CKPT_EVENT_ID_MAX bytes. */
int ckpt_set_last_event_id(struct ckpt *c, const char *id, size_t len);
/* Drops delivered ids older than ckpt_keep_from(); about once a second is
 * enough (ckpt_save() does it). */
void ckpt_prune(struct ckpt *c);
/* A connection was made asking for events after since. */
void ckpt_set_replay_from(struct ckpt *c, int64_t since);
/* The oldest start time whose ids must still be known for dedup: the lower
 * of ckpt_resume_since() and replay_from (when set). INT64_MIN: keep
 * everything. */
int64_t ckpt_keep_from(const struct ckpt *c);

/* Sets origin_ms (marks the checkpoint dirty when it changes). */
void ckpt_set_origin(struct ckpt *c, int64_t origin_ms);
/* since_ms - overlap_ms (saturating); origin_ms while nothing is
 * acknowledged; INT64_MIN when there is neither. */
int64_t ckpt_resume_since(const struct ckpt *c);
bool ckpt_delivered(const struct ckpt *c, uint64_t id_hash);

/* Escapes a stream key into a file name: bytes other than [A-Za-z0-9_-] and
 * non-leading '.' become %XX, so distinct keys get distinct names and none
 * has '/' or a leading '.'. LG_EINVAL for an empty key, LG_ETOOBIG when the
 * result exceeds CKPT_NAME_MAX or outlen - 1. */
int ckpt_file_name(const char *name, char *out, size_t outlen);

/* Appends the file contents to out (reset first). */
int ckpt_encode(const struct ckpt *c, struct buf *out);
/* Writes data atomically to DIR/NAME.ckpt. LG_EIO (errno kept) on failure,
 * leaving any previous file intact. */
int ckpt_write(const char *dir, const char *name, const void *data, size_t len);
/* Prunes, encodes and writes; clears dirty on success. */
int ckpt_save(struct ckpt *c, const char *dir, const char *name);
/* Replaces c's contents with DIR/NAME.ckpt. LG_ENOENT when there is none;
 * LG_EPARSE when it is torn or corrupt, after renaming it to
 * NAME.ckpt.corrupt (replacing an older one) for inspection; LG_EIO when it
 * cannot be read. On any error c is left reset. */
int ckpt_load(struct ckpt *c, const char *dir, const char *name);

#endif

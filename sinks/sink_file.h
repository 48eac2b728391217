/* sink_file: writes each record as one line (its JSON and "\n") to a file
 * or to standard output (path = -), with acknowledged durability and
 * optional size-based rotation into gzip archives.
 *
 * A record is acknowledged once the fsync covering its write has returned
 * (fsync = interval, every fsync_interval while something was written;
 * always, after each write), or right after its write (fsync = never, and
 * standard output: unsafe on power loss). All file I/O runs on the libuv
 * thread pool, one request at a time; records submitted meanwhile go out in
 * one write. The first open in open() is synchronous, so that a bad path is a
 * startup error naming file:line (parent directories are never created).
 *
 * Failures never lose a record and never acknowledge one: a failed write,
 * open or rename is logged once and retried (shared backoff, 500 ms to 60 s)
 * from the first byte not written. A failed fsync means that anything written
 * since the last good one may or may not be on disk, so those records are
 * written again, after a newline: the file may then hold duplicates and one
 * damaged line before them (at-least-once).
 *
 * Rotation (rotate_size > 0): before a write would take the file past
 * rotate_size, its records are fsynced and acknowledged, it is closed,
 * renamed to PATH.rotating and compressed off the loop (file_rotate.h) into
 * PATH.1.gz, keeping rotate_keep archives. A file holds at least one record,
 * however large. Rotation waits while the previous archive is being made.
 * SIGHUP (reopen) closes and reopens PATH once written data is fsynced, for
 * logrotate's `create`, when PATH no longer names the open file (an
 * unchanged file keeps its handle). close() drops what is not acknowledged
 * (the router hands it to a successor on a reload; otherwise it is replayed
 * on restart) and calls nothing but its callback. */
#ifndef SINCH_SINK_FILE_H
#define SINCH_SINK_FILE_H

#include <stdint.h>

#include "sink.h"

enum sink_file_fsync { SINK_FILE_FSYNC_INTERVAL, SINK_FILE_FSYNC_ALWAYS, SINK_FILE_FSYNC_NEVER };

/* Filled from sink_file_type.opts. */
struct sink_file_conf {
	char *path;
	int fsync;               /* enum sink_file_fsync */
	uint64_t fsync_interval; /* ms */
	uint64_t rotate_size;    /* bytes; 0 = never rotate */
	int64_t rotate_keep;
};

struct sink_file_stats {
	uint64_t written; /* records wholly written (again, after a failed fsync) */
	uint64_t acked;
	uint64_t fsyncs;     /* successful ones */
	uint64_t errors;     /* failed open, write, fsync, rename, compression */
	uint64_t rotations;  /* files renamed away */
	uint64_t compressed; /* archives made */
};

extern const struct sink_type sink_file_type;

/* Zeroes out when s is not an open file sink. */
void sink_file_stats(const struct sink *s, struct sink_file_stats *out);

#endif

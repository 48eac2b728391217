/* syslog_fmt: turns a record into syslog messages and frames them. Pure: no
 * I/O, no globals (DESIGN.md principle 4); the sink owns the scratch state.
 *
 * RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG, where
 * - PRI = facility * 8 + severity (error 3, warning 4, info 6, debug 7);
 * - TIMESTAMP is the record's start (mode = line: the console line's own
 *   time when it has one), RFC 3339 UTC with milliseconds;
 * - HOSTNAME (255), APP-NAME (48, a template: {function_name},
 *   {function_id}, {project_id}), PROCID (128: the function id) and MSGID
 *   (32: the record kind, or "console" for a console line) are truncated to
 *   their limits; every byte outside printable US-ASCII becomes '_'; an empty
 *   field is "-";
 * - one SD-ELEMENT [SD_ID project= function_id= function_name= request_id=
 *   method= status= duration_ms= memory_mb=] (absent fields left out), its
 *   values with '"', '\' and ']' escaped by '\';
 * - MSG is UTF-8 without a BOM (RFC 5424 allows MSG-ANY; receivers keep a BOM
 *   in the text, where it bothers every file and filter downstream). mode =
 *   request: the record's JSON, lossless and parseable (mmjsonparse); mode =
 *   line: one message per console line, its text; a record without console
 *   lines is sent as in mode = request. U+0000 in a text becomes "#000".
 * RFC 3164, as rsyslog's parser reads it: <PRI>Mmm dd hh:mm:ss HOSTNAME
 * TAG: MSG, time in UTC, TAG the APP-NAME cut to 32 bytes of [A-Za-z0-9._-/]
 * (others become '_'), no structured data.
 *
 * A message never exceeds max_message_size bytes before framing: MSG is cut
 * at a UTF-8 character boundary (counted as truncated); if the header and
 * the SD-ELEMENT alone do not fit, the SD-ELEMENT becomes "-" (counted).
 * Framing: octet counting (RFC 6587 "LEN SP MSG", the count taken after
 * truncation, so a newline inside travels as is), LF (one LF ends each
 * message; format with escape_lf so none is left inside: an LF that still
 * is becomes "#012"), or none (one datagram per message). */
#ifndef SINCH_SYSLOG_FMT_H
#define SINCH_SYSLOG_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "record.h"

enum syslog_fmt_format { SYSLOG_FMT_RFC5424, SYSLOG_FMT_RFC3164 };
enum syslog_fmt_mode { SYSLOG_FMT_REQUEST, SYSLOG_FMT_LINE };
enum syslog_fmt_framing { SYSLOG_FMT_OCTET, SYSLOG_FMT_LF, SYSLOG_FMT_NONE };

/* The smallest max_message_size accepted: the longest possible header
 * (every field at its limit) fits with room to spare. */
#define SYSLOG_FMT_MIN_SIZE 600
#define SYSLOG_FMT_SD_ID_MAX 32

struct syslog_fmt {
	int format;           /* enum syslog_fmt_format */
	int mode;             /* enum syslog_fmt_mode */
	int facility;         /* 0..23 */
	const char *hostname; /* NULL or "": "-" */
	const char *app_name; /* template; NULL: "sinch-fn" */
	const char *sd_id;    /* NULL: "fn@32473" */
	size_t max_message_size;
	/* LF framing: each LF inside MSG is written as "#012" (rsyslog's own
	 * escape) as part of the message, so the escapes count toward
	 * max_message_size and the framed line never outgrows it. */
	bool escape_lf;
};

struct syslog_fmt_stats {
	uint64_t messages;
	uint64_t truncated;  /* MSG cut to max_message_size */
	uint64_t sd_dropped; /* SD-ELEMENT replaced by "-" to fit */
};

/* Called once per message, in order; a negative return stops formatting and
 * is returned by syslog_fmt_record(). msg is valid only during the call. */
typedef int (*syslog_fmt_emit)(void *arg, const char *msg, size_t len);

/* Facility name ("local0", "daemon"…) to its number, or -1. */
int syslog_fmt_facility(const char *name);
/* Whether s is a valid SD-ID (1..32 printable US-ASCII, no '=', ' ', ']',
 * '"'). */
bool syslog_fmt_sd_id_valid(const char *s);

/* Formats r (doc and scratch are reusable state of the caller: doc sized for
 * the largest record, scratch bounded above max_message_size) and emits its
 * messages. Returns 0, LG_EPARSE (r->json unreadable), LG_ENOMEM, or what
 * emit returned. */
int syslog_fmt_record(const struct syslog_fmt *f, const struct record *r, struct json_doc *doc,
                      struct buf *scratch, struct syslog_fmt_stats *st, syslog_fmt_emit emit,
                      void *arg);

/* Appends msg framed to out. */
int syslog_fmt_frame(int framing, const char *msg, size_t len, struct buf *out);

#endif

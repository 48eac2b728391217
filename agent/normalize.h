/* normalize: turns one Sinch Functions log event (the JSON data of an SSE
 * event, or one entry of GET …/logs) into a record of schema v1. Pure: no
 * I/O, no globals; a scratch holds every reusable buffer, so in the steady
 * state the only allocations are the record's own (record, id, json).
 *
 * Both input shapes of API.md are read: the flat historical entry (httpMethod,
 * url, statusCode, startTime, endTime, requestHeaders…) and the nested one
 * (timestamp, request{method,url,headers,body}, response{statusCode,…}).
 * The output is one line, keys in the order of README's record schema:
 *   schema kind time end_time project_id function_id function_name id level
 *   method url status duration_ms memory_mb logs request response labels
 *   agent extra
 * Rules the record promises:
 * - numbers keep their exact source text; numbers sent as strings ("200")
 *   become JSON numbers when they are valid JSON numbers, else stay strings;
 * - every string is valid UTF-8: invalid sequences and lone surrogates become
 *   U+FFFD (counted in norm_stats); U+0000 is kept as \u0000;
 * - level = highest of the console lines' levels (unknown names count as
 *   info) and of the status (5xx error, 4xx warning); info when none;
 * - deny-listed headers (case-insensitive) are dropped, whatever the header
 *   form; the values of deny-listed query parameters (names compared
 *   percent-decoded, case-insensitively) become REDACTED; bodies only with
 *   include_bodies;
 * - fields the normalizer does not know, or known ones of an unusable type
 *   (an endTime that is no timestamp…), are kept verbatim under "extra"; so
 *   are unknown members of request/response, under extra.request/response.
 *   Known fields that may hold secrets (headers, bodies) are never moved
 *   there; a functionId equal to the stream's is dropped, a different one is
 *   kept in extra; null known fields count as absent; of repeated keys, the
 *   last wins;
 * - the record id is the event's "id" (string source text, or number text),
 *   or "h:" and the 16 hex digits of record_hash() of the whole event when
 *   it has none; id_hash = record_hash(id). */
#ifndef SINCH_NORMALIZE_H
#define SINCH_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "json.h"
#include "record.h"

struct norm_ctx {
	const char *project_id; /* written as null when NULL */
	const char *function_id;
	const char *function_name; /* omitted when NULL */
	bool include_bodies;
	/* Header names to drop; NULL: Authorization, Cookie, Set-Cookie,
	 * X-Api-Key (the configuration's default list). */
	const struct opt_list *redact_headers;
	const struct opt_list *redact_query; /* NULL: mask nothing */
	const char *labels_json;             /* a JSON object's text, copied as is; or NULL */
	const char *host;                    /* "agent" is omitted when both are NULL */
	const char *version;
};

struct norm_stats {
	uint64_t ok;
	uint64_t malformed;     /* LG_EPARSE */
	uint64_t oversized;     /* LG_ETOOBIG */
	uint64_t utf8_repaired; /* records that needed any repair */
	uint64_t utf8_replaced; /* sequences replaced by U+FFFD, over all */
};

struct norm_scratch {
	struct json_doc doc;
	struct buf out;
	struct buf logs;
	struct buf url;
	size_t max_event;
	char why[96];
};

/* max_event_size bounds the events accepted (the agent's max_event_size);
 * records are bounded by 3 times that plus 1 MiB, enough for any event
 * whose every byte is repaired. */
void norm_scratch_init(struct norm_scratch *s, size_t max_event_size);
void norm_scratch_free(struct norm_scratch *s);

/* Returns 0 and a new record (refs 1) in *out, or LG_EPARSE with a short
 * reason in *why (valid until the next call with s), LG_ETOOBIG (event or
 * record over the bounds) or LG_ENOMEM; nothing is allocated on error.
 * st may be NULL. */
int norm_event(const struct norm_ctx *ctx, struct norm_scratch *s, const char *data, size_t len,
               struct record **out, struct norm_stats *st, const char **why);

/* "2026-02-19T14:30:00.042Z": NORM_TIME_LEN - 1 characters. */
#define NORM_TIME_LEN 25

/* RFC 3339 / ISO 8601: DATE, or DATE[T| ]HH:MM[:SS[.frac]][Z|±hh[:]mm|±hh]
 * (no zone = UTC; fractions truncated to ms) into ms since the epoch.
 * Returns 0 or LG_EINVAL. */
int norm_parse_time(const char *s, size_t len, int64_t *ms);
/* Writes ms as RFC 3339 UTC with milliseconds and a NUL into out (at least
 * NORM_TIME_LEN bytes). Returns the length; for any ms outside years
 * 0000-9999 (INT64_MIN included), 0 and an empty string. */
size_t norm_format_time(int64_t ms, char *out);

#endif

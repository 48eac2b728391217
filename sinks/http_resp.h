/* http_resp: what a collector's answer means for the records of a batch.
 * Pure: bytes and status codes in, verdicts out (no I/O, no clock but the
 * `now` passed in), so each parser is unit-tested and fuzzed alone.
 *
 * Verdicts, for a whole answer (http_resp_classify) or for one item of an
 * Elasticsearch bulk answer:
 * - ACK: 2xx (and 409 on a bulk "create": the document is already there,
 *   a retry of something indexed before);
 * - RETRY: no answer (a network error), 408, 429, 5xx except 501: the
 *   collector may take it later;
 * - DOWN: 401, 403, 404, 407 and 3xx: the collector is misconfigured or a
 *   token was rotated; retried like RETRY, and the sink says it is down;
 * - SPLIT: 413 (the body is too large for the collector);
 * - REJECT: any other status (400, 422, 501...): this content is refused
 *   and never will be accepted. */
#ifndef SINCH_HTTP_RESP_H
#define SINCH_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "json.h"

enum http_verdict { HTTP_ACK, HTTP_RETRY, HTTP_DOWN, HTTP_SPLIT, HTTP_REJECT };

/* status 0: no answer at all. */
int http_resp_classify(long status);
const char *http_resp_verdict_name(int verdict);

/* A Retry-After value (delta-seconds, or an HTTP-date compared with now)
 * in milliseconds, at most max_ms; -1 when v is NULL or unreadable. */
int64_t http_resp_retry_after(const char *v, time_t now, int64_t max_ms);

/* A one-line excerpt of an answer for logs and dead letters: at most cap - 1
 * bytes, control characters and non-ASCII bytes as '.', "..." when cut. */
void http_resp_excerpt(const char *body, size_t len, char *out, size_t cap);

/* ---- Elasticsearch / OpenSearch _bulk ---- */

struct http_bulk_item {
	int status;
	int verdict;
	/* "TYPE: REASON" of the item's error, in the reasons buffer given to
	 * http_resp_bulk (empty when it has none). */
	size_t reason_off, reason_len;
};

/* Reads a bulk answer for n actions into items[0..n) (create: the actions
 * were "create", so 409 acknowledges). *errors is the answer's "errors";
 * when false the items are not read and all are ACK. Returns 0, or
 * LG_EPARSE when the body is not a bulk answer for n actions. */
int http_resp_bulk(struct json_doc *d, const char *body, size_t len, size_t n, bool create,
                   struct http_bulk_item *items, struct buf *reasons, bool *errors);

/* ---- Splunk HEC ---- */

struct http_hec_answer {
	int code;              /* -1 when absent */
	int64_t ack_id;        /* -1 when absent */
	int64_t invalid_event; /* "invalid-event-number", -1 when absent */
	char text[128];        /* "text", cut; empty when absent */
};

/* Reads {"text","code","ackId","invalid-event-number"}; LG_EPARSE when the
 * body is not such an object (out is then all "absent"). */
int http_resp_hec(struct json_doc *d, const char *body, size_t len, struct http_hec_answer *out);
/* The verdict for a HEC status code: 0 ACK; 1-4 (token) DOWN; 7 (index),
 * 10, 11 (channel), 14 (acknowledgement disabled), 16 DOWN; 8, 9, 18, 19
 * RETRY; 5, 6, 12, 13, 15 (this data) REJECT; otherwise -1 (use the HTTP
 * status). */
int http_resp_hec_verdict(int code);

/* Reads the ack endpoint's {"acks":{"ID":true|false,...}}, calling
 * cb(arg, id, acked) for each; LG_EPARSE when it is not such an object. */
int http_resp_hec_acks(struct json_doc *d, const char *body, size_t len,
                       void (*cb)(void *arg, uint64_t id, bool acked), void *arg);

/* ---- OTLP/HTTP ---- */

/* Reads an ExportLogsServiceResponse's partialSuccess: *rejected the
 * rejectedLogRecords (0 when absent), msg its errorMessage (cut). An empty
 * body is a full success. LG_EPARSE when it is not such an object. */
int http_resp_otlp(struct json_doc *d, const char *body, size_t len, int64_t *rejected, char *msg,
                   size_t msglen);

#endif

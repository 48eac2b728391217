/* sink_http: what the HTTP sink's files share (sink_http.c: the queue,
 * batching and the retry state machine; sink_http_send.c: requests and
 * what their answers mean, HEC acknowledgement polling; sink_http_conf.c:
 * the option table and its validation). Not a public interface: only these
 * files include it.
 *
 * Records wait in `pend` until a batch takes them (batch_max_records or
 * batch_max_bytes reached, batch_linger passed, or a flush). A batch is
 * built (formatted and compressed, http_fmt.h) on the thread pool, sent on
 * the agent's shared curl multi handle (httpc.h), and settled by the answer
 * (http_resp.h): acknowledged, retried after the sink's backoff, split in
 * halves (413), partly dead-lettered. At most max_in_flight batches are
 * active (built or being built, sent, or waiting to be sent again), which
 * bounds the memory of request bodies; Splunk batches waiting for their
 * indexer acknowledgement keep only their records. */
#ifndef SINCH_SINK_HTTP_H
#define SINCH_SINK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "buf.h"
#include "http_fmt.h"
#include "http_resp.h"
#include "httpc.h"
#include "json.h"
#include "sink.h"

enum http_compression { HTTP_GZIP, HTTP_NONE };
enum http_auth { HTTP_AUTH_NONE, HTTP_AUTH_BEARER, HTTP_AUTH_BASIC, HTTP_AUTH_SPLUNK };

struct http_conf {
	char *url;
	int format;      /* enum http_fmt_format */
	int compression; /* enum http_compression */
	struct opt_list headers;
	int auth; /* enum http_auth */
	char *token;
	char *username;
	char *password;
	int64_t batch_max_records;
	uint64_t batch_max_bytes;
	uint64_t batch_linger;
	uint64_t timeout;
	int64_t max_in_flight;
	char *proxy;
	char *ca_file, *cert_file, *key_file;
	bool tls_verify;
	uint64_t backoff_base, backoff_max;
	/* splunk_hec */
	char *host, *source, *sourcetype, *index;
	bool ack;
	char *channel;
	char *ack_url;
	uint64_t ack_interval, ack_timeout;
	/* elasticsearch_bulk */
	int bulk_action; /* 0 create, 1 index */
	/* loki */
	struct opt_list labels;
};

/* An answer body, read up to its buffer's bound: the rest is dropped, and
 * cut says so. */
struct answer {
	struct buf buf;
	bool cut;
};

enum hb_state {
	HB_UNBUILT,  /* no body: build it when the sink is not holding */
	HB_BUILDING, /* on the thread pool */
	HB_READY,    /* body built: send it when a slot is free */
	HB_SENDING,
	HB_ACKWAIT, /* splunk_hec, ack = on: sent, waiting for its ackId */
};

struct hbatch {
	struct http_sink *h;
	struct hbatch *prev, *next; /* in h->active or h->ackwait */
	int state;                  /* enum hb_state */
	struct record **recs;
	size_t n;
	uint64_t bytes; /* the records' JSON bytes */
	struct buf body;
	size_t raw_len; /* the body before compression */
	int build_rc;
	size_t bad; /* after LG_EPARSE: the record at fault */
	uv_work_t work;
	struct httpc_req req;
	struct answer answer;
	int64_t ack_id;
	uint64_t ack_since; /* uv_now when it began waiting for the ack */
};

struct pend {
	struct record *r;
	uint64_t at; /* uv_now when submitted */
};

struct http_sink {
	struct sink *s;
	const struct http_conf *c;
	struct http_fmt fmt;
	char host[256];
	char url_log[256]; /* the url without credentials or query, for logs */
	char channel[40];
	char *ack_url;
	char ack_log[256]; /* ack_url as url_log is url */
	struct curl_slist *hdrs, *ack_hdrs;
	size_t answer_max; /* the hard bound on an answer body read */

	struct pend *pend;
	size_t pcap, phead, plen;
	uint64_t pbytes;

	struct hbatch *active, *active_tail; /* oldest records first */
	struct hbatch *ackwait, *ackwait_tail;
	size_t nactive, nsending, nackwait;
	unsigned nworks; /* builds on the thread pool */

	struct backoff backoff;
	uint64_t hold_until; /* no request starts before (uv_now) */
	bool failing;
	uint64_t fail_since, fail_count, fail_logged;
	bool no_ack_id_logged;

	/* splunk_hec ack = on: the poll of /services/collector/ack. */
	struct httpc_req ack_req;
	bool ack_running;
	struct buf ack_body;
	struct answer ack_answer;
	uint64_t ack_logged; /* when a failed poll was last logged */
	struct json_doc doc; /* answers are read on the loop */

	uv_timer_t kick_timer, linger_timer, hold_timer, flush_timer, ack_timer;
	bool flushing;
	sink_cb flush_done, closed;
	bool closing;
	unsigned close_pending;

	uint64_t n_batches, n_acked, n_rejected, n_retries, n_splits, n_resent;
	uint64_t raw_bytes, sent_bytes;
};

extern const struct opt_def sink_http_opts[];

/* sink_http_conf.c: validates s->conf and fills h's format description,
 * headers and ack URL (h NULL: validate only). Returns 0 or LG_ECONFIG with
 * every error reported. */
int sink_http_validate(struct sink *s, struct conf_errs *errs, struct http_sink *h);

/* sink_http.c, for sink_http_send.c. */
void sink_http_kick(struct http_sink *h);
/* Acknowledges (result 0) or dead-letters r and drops the sink's
 * reference; nothing reaches the router once the sink is closing. */
void sink_http_settle(struct http_sink *h, struct record *r, int result, const char *reason);
/* Ends b: unlinks and frees it (its records were settled or moved). */
void sink_http_batch_free(struct http_sink *h, struct hbatch *b);
/* A new unbuilt batch of recs[0..n) (references moved in), put before
 * `before` in the active list (NULL: at the end). NULL when out of memory
 * (the records are then settled as nothing: kept by no one, replayed). */
struct hbatch *sink_http_batch_new(struct http_sink *h, struct record **recs, size_t n,
                                   struct hbatch *before);
/* b's records in two batches of halves; a single record cannot be split:
 * it is dead-lettered, with why. */
void sink_http_split(struct http_sink *h, struct hbatch *b, const char *why);
/* b goes back to wait for the next attempt (body kept); the sink holds
 * every request for the backoff (or retry_after_ms when >= 0) and logs. */
void sink_http_failed(struct http_sink *h, struct hbatch *b, int verdict, int64_t retry_after_ms,
                      const char *why);
/* The collector took a request: a failing sink is up again. */
void sink_http_up(struct http_sink *h);
/* Moves b (its body freed) between the active and ackwait lists. */
void sink_http_to_ackwait(struct http_sink *h, struct hbatch *b, int64_t ack_id);
void sink_http_from_ackwait(struct http_sink *h, struct hbatch *b);
void sink_http_check_flush(struct http_sink *h);
/* Polls the ack endpoint after ack_interval while batches wait for it. */
void sink_http_ack_arm(struct http_sink *h);

/* sink_http_send.c: starts b's request (0, or < 0 when it cannot start);
 * its answer settles b. */
int sink_http_send(struct http_sink *h, struct hbatch *b);
/* Asks the ack endpoint about every batch waiting for its ackId (and sends
 * again those waiting longer than ack_timeout). */
void sink_http_ack_poll(struct http_sink *h);

#endif

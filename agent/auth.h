/* auth: one bearer token per project. Either a static token from the
 * configuration, or OAuth2 client credentials against token_url (HTTP Basic
 * with key id and secret), refreshed ahead of expiry (when less than the
 * smaller of 60 s and a tenth of its lifetime is left) and never fetched
 * twice at once: callers waiting for a token queue behind one request.
 *
 * Failures never turn into a storm of token requests, however many callers
 * there are:
 * - a failed token request (network, 429 without Retry-After, 5xx, rejected
 *   credentials) sets a not-before time from a capped exponential backoff
 *   with full jitter; waiters are told the error, and a later auth_get()
 *   before that time waits for it;
 * - auth_invalidate() (the API answered 401) drops the token once per token;
 *   when the tokens fetched after a 401 are rejected again before any
 *   request succeeded with one (auth_confirm()), each further refresh waits
 *   a growing backoff.
 *
 * The token and secret never reach a log line. */
#ifndef SINCH_AUTH_H
#define SINCH_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "buf.h"
#include "httpc.h"

struct auth_wait;
/* token is valid during the call only; err is 0 or a negative LG_*:
 * LG_EAUTH (credentials rejected, or a static token rejected), LG_EAGAIN
 * (token endpoint unreachable or busy), LG_EPROTO, LG_ECLOSED. */
typedef void (*auth_cb)(struct auth_wait *w, const char *token, int err);

struct auth_wait {
	auth_cb cb;
	struct auth_wait *next;
	bool queued;
};

struct auth_conf {
	const char *token_url;
	const char *key_id;
	const char *key_secret;
	const char *static_token; /* when set, no token requests are made */
	const char *proxy;
	const char *ca_file;
	bool tls_verify;
	uint64_t timeout_ms;
	uint64_t backoff_base_ms, backoff_max_ms; /* 0: 500 ms, 60 s */
};

/* Counters for the metrics endpoint. */
struct auth_stats {
	uint64_t requests;     /* token requests sent */
	uint64_t refreshes;    /* tokens obtained */
	uint64_t failures;     /* token requests that failed, for any reason */
	uint64_t rate_limited; /* of which the endpoint answered 429 */
	uint64_t rejected;     /* tokens the API answered 401 to */
};

struct auth {
	uv_loop_t *loop;
	struct httpc *http;
	struct auth_conf conf;
	const char *who;
	char *token;
	uint64_t expires_at; /* uv_now() ms */
	uint64_t not_before; /* no token request before this uv_now() ms */
	unsigned reject_run; /* 401s since a request last succeeded */
	struct httpc_req req;
	struct buf body;
	bool fetching;
	bool closing;
	uv_timer_t timer;
	struct backoff backoff;        /* after failed token requests */
	struct backoff reject_backoff; /* after tokens rejected in a row */
	struct auth_wait *waiters;
	struct auth_stats stats;
	void (*closed)(struct auth *a);
};

int auth_init(struct auth *a, uv_loop_t *loop, struct httpc *http, const struct auth_conf *conf,
              const char *who);
/* Calls w->cb with a valid token: at once when one is held, else when the
 * token request in progress (or the next allowed one) ends. */
void auth_get(struct auth *a, struct auth_wait *w);
void auth_cancel(struct auth *a, struct auth_wait *w);
/* The API answered 401 to `token`: if it is still the current one, drop it
 * so the next auth_get fetches a new one (one refresh per rejected token,
 * never a loop). */
void auth_invalidate(struct auth *a, const char *token);
/* A request carrying the current token succeeded: 401s are not a run. */
void auth_confirm(struct auth *a);
void auth_close(struct auth *a, void (*closed)(struct auth *a));

/* Longest access token accepted. */
#define AUTH_TOKEN_MAX 16384
/* Reads a token endpoint's answer (pure: fuzzed alone): *token (malloc'ed)
 * from access_token, *lifetime_ms from expires_in (default 1 h, clamped to
 * 1 s .. 1 year). 0, LG_EPARSE or LG_ENOMEM. */
int auth_parse_answer(const char *body, size_t len, char **token, uint64_t *lifetime_ms);

#endif

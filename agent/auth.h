/* auth: one bearer token per project. Either a static token from the
 * configuration, or OAuth2 client credentials against token_url (HTTP Basic
 * with key id and secret), refreshed ahead of expiry (when less than the
 * smaller of 60 s and a tenth of its lifetime is left) and never fetched
 * twice at once: callers waiting for a token queue behind one request.
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
/* token is valid during the call only; err is 0 or a negative LG_*. */
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
	uint64_t timeout_ms;
};

struct auth {
	uv_loop_t *loop;
	struct httpc *http;
	struct auth_conf conf;
	const char *who;
	char *token;
	uint64_t expires_at; /* uv_now() ms */
	struct httpc_req req;
	struct buf body;
	bool fetching;
	bool closing;
	uv_timer_t timer;
	struct backoff backoff;
	struct auth_wait *waiters;
	uint64_t refreshes, failures;
	void (*closed)(struct auth *a);
};

int auth_init(struct auth *a, uv_loop_t *loop, struct httpc *http, const struct auth_conf *conf,
              const char *who);
/* Calls w->cb with a valid token: at once when one is held, else when the
 * refresh in progress ends. */
void auth_get(struct auth *a, struct auth_wait *w);
void auth_cancel(struct auth *a, struct auth_wait *w);
/* The API answered 401 to `token`: if it is still the current one, drop it
 * so the next auth_get fetches a new one (one refresh per rejected token,
 * never a loop). */
void auth_invalidate(struct auth *a, const char *token);
void auth_close(struct auth *a, void (*closed)(struct auth *a));

#endif

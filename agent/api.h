/* api: the client of the API's non-stream endpoints (functions list,
 * status, metrics, costs, billing, historical logs), one per project, on
 * the shared httpc. It owns the project's rate limiters, one per endpoint
 * class (list, status, metrics, costs and billing share one budget;
 * historical logs have their own), so every request waits for its slot
 * rather than making the API answer 429.
 *
 * A request (struct api_req, reusable, one transfer at a time) goes:
 * token (auth) -> rate-limit slot -> GET, and ends in one done callback:
 * - 2xx: err 0, the body in r->body;
 * - 401: the token is dropped (auth_invalidate) and the request retried
 *   once with a new one; a second 401 ends it with LG_EAUTH;
 * - 403 LG_EFORBIDDEN, 404 LG_ENOENT, other 4xx LG_EINVAL (r->message holds
 *   the API's error message);
 * - 429: the class's limiter is blocked for Retry-After (or a backoff)
 *   and the request retried; network errors and 5xx are retried with
 *   capped, jittered backoff; after max_attempts such tries it ends with
 *   LG_EAGAIN (0 = retry until cancelled);
 * - an answer larger than max_body ends it with LG_ETOOBIG. */
#ifndef SINCH_API_H
#define SINCH_API_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "backoff.h"
#include "buf.h"
#include "httpc.h"
#include "ratelim.h"

enum api_class { API_CLASS_API, API_CLASS_LOGS, API_CLASS_COUNT };

struct api_conf {
	const char *api_url;
	const char *project_id;
	const char *proxy;
	const char *ca_file;
	bool tls_verify;
	uint64_t backoff_base_ms, backoff_max_ms;
	unsigned limit[API_CLASS_COUNT]; /* requests per window */
	uint64_t window_ms;
	uint64_t timeout_ms; /* one transfer; 0: 60 s */
};

/* Counters for the metrics endpoint, per endpoint class. */
struct api_stats {
	uint64_t requests[API_CLASS_COUNT]; /* sent */
	uint64_t ok[API_CLASS_COUNT];       /* answered 2xx */
	uint64_t unauthorized[API_CLASS_COUNT];
	uint64_t forbidden[API_CLASS_COUNT];
	uint64_t rate_limited[API_CLASS_COUNT]; /* answered 429 */
	uint64_t server_errors[API_CLASS_COUNT];
	uint64_t failed[API_CLASS_COUNT]; /* no answer (connection, timeout) */
};

struct api {
	uv_loop_t *loop;
	struct httpc *http;
	struct auth *auth;
	struct api_conf conf;
	char *base; /* api_url/v1/projects/{project} */
	const char *who;
	struct ratelim lim[API_CLASS_COUNT];
	unsigned open_limiters;
	struct api_stats stats;
	void (*closed)(struct api *a);
};

int api_init(struct api *a, uv_loop_t *loop, struct httpc *http, struct auth *auth,
             const struct api_conf *conf, const char *who);
/* Requests still running must be cancelled first. */
void api_close(struct api *a, void (*closed)(struct api *a));
const char *api_class_name(enum api_class c);

struct api_req;
typedef void (*api_done_cb)(struct api_req *r, int err);

struct api_req {
	/* Set by the caller (api_req_init gives defaults). */
	unsigned max_attempts; /* transient failures before LG_EAGAIN; 0 = no limit */
	size_t max_body;
	const char *what; /* names the request in log lines */
	void *data;

	/* Results, valid during the done callback. */
	long status;
	struct buf body;   /* NUL-terminated */
	char message[160]; /* the API's error message, or "" */

	struct api *api;
	enum api_class cls;
	api_done_cb done;
	char *url;
	char *token;
	struct curl_slist *hdrs;
	struct httpc_req req;
	struct auth_wait aw;
	struct ratelim_wait rw;
	uv_timer_t timer;
	struct backoff backoff;
	uint64_t retry_after_ms;
	unsigned attempt;
	bool granted;
	bool too_big;
	bool refreshed_401;
	bool active;
	bool closing;
	void (*closed)(struct api_req *r);
};

int api_req_init(struct api_req *r, struct api *a);
/* Starts GET base/path (path starts with '/', its parts escaped by the
 * caller, see api_escape); done runs once unless cancelled. LG_EBUSY if a
 * request is running, LG_ENOMEM. */
int api_req_get(struct api_req *r, enum api_class cls, const char *path, api_done_cb done);
void api_req_cancel(struct api_req *r);
bool api_req_active(const struct api_req *r);
void api_req_close(struct api_req *r, void (*closed)(struct api_req *r));

/* Appends s percent-encoded for a URL path segment or query value. */
int api_escape(struct buf *b, const char *s);

#endif

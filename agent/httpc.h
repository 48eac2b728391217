/* httpc: libcurl's multi-socket API driven by the libuv loop (uv_poll per
 * socket, one uv_timer for curl's timeouts). Every HTTP transfer of the
 * agent (streams, token requests, API calls, HTTP sinks) runs through one
 * httpc on the loop thread; no transfer ever blocks the loop.
 *
 * A caller embeds a struct httpc_req, sets up req->easy (any options except
 * CURLOPT_PRIVATE, which httpc owns) and calls httpc_start(); req->done runs
 * once with curl's result when the transfer ends, unless httpc_cancel() was
 * called first. httpc_close() cancels what is left and calls back once every
 * handle is closed. */
#ifndef SINCH_HTTPC_H
#define SINCH_HTTPC_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct httpc;
struct httpc_req;
struct httpc_sock;
typedef void (*httpc_done_cb)(struct httpc_req *req, CURLcode result);

struct httpc_req {
	CURL *easy;
	httpc_done_cb done;
	void *data;
	char errbuf[CURL_ERROR_SIZE];  /* curl's detailed reason for a failure */
	struct httpc *owner;           /* set while the transfer runs */
	struct httpc_req *prev, *next; /* the owner's running transfers */
};

struct httpc {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	void (*closed)(struct httpc *h);
	int closing;
	unsigned open_handles;     /* uv handles not yet closed (timer + polls) */
	struct httpc_req *running; /* transfers started and not ended */
	struct httpc_sock *socks;  /* sockets being watched */
};

int httpc_init(struct httpc *h, uv_loop_t *loop);
int httpc_start(struct httpc *h, struct httpc_req *req);
/* Ends the transfer without calling done. Safe on a request not running. */
void httpc_cancel(struct httpc_req *req);
void httpc_close(struct httpc *h, void (*closed)(struct httpc *h));

/* The options every transfer of the agent shares: no signals, our user
 * agent, http(s) only, the proxy and CA bundle when set, and certificate
 * verification unless verify is false (an explicit, logged choice). */
void httpc_set_common(CURL *easy, const char *proxy, const char *ca_file, bool verify);

/* The response status of a finished or running transfer (0 if none yet). */
long httpc_status(const struct httpc_req *req);

/* A Retry-After header value (delay-seconds or an HTTP date) in ms, capped
 * at a day; 0 when it is neither or already past. */
uint64_t httpc_parse_retry_after(const char *v, size_t len);

/* Why a transfer failed, as precisely as curl knows ("SSL certificate
 * problem: unable to get local issuer certificate", not just "SSL peer
 * certificate … was not OK"). Valid until the request is started again. */
const char *httpc_strerror(const struct httpc_req *req, CURLcode result);

#endif

/*
 * http_: a minimal HTTP/1.1 server on libuv. It owns the listening socket and
 * every client connection; it parses request heads (16 KiB cap) and bodies
 * (Content-Length only), hands each request to api_handle() and writes
 * responses with exact Content-Length. A handler may instead turn the
 * connection into an SSE stream (stream.c), whose bytes go out through
 * http_write() and which ends by closing the connection.
 */
#ifndef SINCH_FN_SIM_HTTP_H
#define SINCH_FN_SIM_HTTP_H

#include "sim.h"

#define HTTP_MAX_HEAD (16 * 1024)
#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_HEADERS 64

struct stream;

struct http_header {
	const char *name;
	const char *value;
};

struct http_req {
	char method[16];
	char *path;  /* percent-decoded, without the query */
	char *query; /* raw, still encoded */
	struct http_header headers[HTTP_MAX_HEADERS];
	int nheaders;
	const char *body;
	size_t body_len;
	int keep_alive;
};

struct http_conn {
	uv_tcp_t tcp;
	struct sbuf in;
	char *head; /* copy of the current request head; the req points into it */
	int pending_writes;
	int close_after_write;
	int closing;
	struct stream *stream; /* set once the connection carries an SSE stream */
	struct http_conn *prev, *next;
	uint64_t id;
};

int http_listen(const char *host, int port, char *bound, size_t boundlen);
/* Closes the listener and every connection; the loop then runs dry. */
void http_shutdown(void);

const char *http_req_header(const struct http_req *r, const char *name);

/* Sends a complete response; extra_headers is "" or lines ending in CRLF. */
void http_respond(struct http_conn *c, const struct http_req *r, int status,
                  const char *extra_headers, const char *content_type, const char *body,
                  size_t body_len);
void http_respond_json(struct http_conn *c, const struct http_req *r, int status,
                       const char *extra_headers, const char *json);
int http_write(struct http_conn *c, const char *data, size_t len);
/* Closes once every queued write has gone out. */
void http_close_after_flush(struct http_conn *c);
void http_close(struct http_conn *c);
const char *http_reason(int status);

/* Implemented by api.c. */
void api_handle(struct http_conn *c, struct http_req *r);

#endif

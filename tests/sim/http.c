/* The HTTP/1.1 server: listener, connections, request parsing, response writing. */
#include "http.h"
#include "stream.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uv_tcp_t listener;
static int listener_open;
static struct http_conn *conns;
static uint64_t next_conn_id = 1;

struct write_req {
	uv_write_t req;
	struct http_conn *conn;
	char data[];
};

const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	}
	return "Status";
}

static void on_close(uv_handle_t *h)
{
	struct http_conn *c = h->data;

	sbuf_free(&c->in);
	free(c->head);
	free(c);
}

void http_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->stream) {
		stream_detach(c->stream);
		c->stream = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	LOGD("conn %llu closed", (unsigned long long)c->id);
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

void http_close_after_flush(struct http_conn *c)
{
	c->close_after_write = 1;
	if (c->pending_writes == 0)
		http_close(c);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct http_conn *c = w->conn;

	free(w);
	c->pending_writes--;
	if (c->closing)
		return;
	if (status < 0) {
		LOGD("conn %llu write failed: %s", (unsigned long long)c->id, uv_strerror(status));
		http_close(c);
		return;
	}
	if (c->close_after_write && c->pending_writes == 0) {
		http_close(c);
		return;
	}
	if (c->stream)
		stream_on_drain(c->stream);
}

int http_write(struct http_conn *c, const char *data, size_t len)
{
	struct write_req *w;
	uv_buf_t buf;
	int rc;

	if (c->closing)
		return SIM_EINVAL;
	w = malloc(sizeof(*w) + len);
	if (!w)
		return SIM_ENOMEM;
	memcpy(w->data, data, len);
	w->conn = c;
	buf = uv_buf_init(w->data, (unsigned int)len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
	if (rc < 0) {
		free(w);
		http_close(c);
		return SIM_EINVAL;
	}
	c->pending_writes++;
	return SIM_OK;
}

void http_respond(struct http_conn *c, const struct http_req *r, int status,
                  const char *extra_headers, const char *content_type, const char *body,
                  size_t body_len)
{
	struct sbuf out;
	int keep = r && r->keep_alive;

	sbuf_init(&out, HTTP_MAX_HEAD + body_len + 4096);
	sbuf_printf(&out, "HTTP/1.1 %d %s\r\nServer: sinch-fn-sim\r\n", status,
	            http_reason(status));
	if (status != 204) {
		sbuf_printf(&out, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type,
		            body_len);
	}
	sbuf_printf(&out, "Connection: %s\r\n%s\r\n", keep ? "keep-alive" : "close",
	            extra_headers ? extra_headers : "");
	if (status != 204 && body_len && sbuf_add(&out, body, body_len) != SIM_OK) {
		LOGW("response of %zu bytes could not be buffered", body_len);
		sbuf_free(&out);
		http_close(c);
		return;
	}
	http_write(c, out.p, out.len);
	sbuf_free(&out);
	if (!keep)
		http_close_after_flush(c);
}

void http_respond_json(struct http_conn *c, const struct http_req *r, int status,
                       const char *extra_headers, const char *json)
{
	http_respond(c, r, status, extra_headers, "application/json", json, strlen(json));
}

static void respond_error(struct http_conn *c, int status, const char *msg)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"error\":{\"code\":%d,\"message\":\"%s\"}}", status, msg);
	http_respond_json(c, NULL, status, "", body);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Finds the blank line ending the head; tolerates bare LF line ends. */
static size_t find_head_end(const char *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses the head in place (it is a private copy); 0 or an HTTP status. */
static int parse_head(char *head, struct http_req *r)
{
	char *line = head, *next, *sp1, *sp2, *q;
	size_t mlen;

	memset(r, 0, sizeof(*r));
	next = strchr(line, '\n');
	if (!next)
		return 400;
	*next++ = '\0';
	line = trim(line);
	sp1 = strchr(line, ' ');
	if (!sp1)
		return 400;
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || strchr(sp2 + 1, ' '))
		return 400;
	mlen = (size_t)(sp1 - line);
	if (mlen == 0 || mlen >= sizeof(r->method))
		return 400;
	for (size_t i = 0; i < mlen; i++)
		if (!isupper((unsigned char)line[i]))
			return 400;
	memcpy(r->method, line, mlen);
	*sp1 = '\0';
	*sp2 = '\0';
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		r->keep_alive = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") != 0)
		return 400;
	r->path = sp1 + 1;
	if (r->path[0] != '/')
		return 400;
	q = strchr(r->path, '?');
	r->query = q ? q + 1 : sp2; /* sp2 is now an empty string */
	if (q)
		*q = '\0';
	sim_url_decode(r->path);

	for (line = next; line && *line; line = next) {
		char *colon, *name;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '\r' || line[0] == '\0')
			break;
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return 400;
		*colon = '\0';
		name = line;
		for (char *p = name; *p; p++)
			if (*p == ' ' || *p == '\t' || (unsigned char)*p < 33)
				return 400;
		if (r->nheaders == HTTP_MAX_HEADERS)
			return 431;
		r->headers[r->nheaders].name = name;
		r->headers[r->nheaders].value = trim(colon + 1);
		r->nheaders++;
	}
	q = (char *)http_req_header(r, "Connection");
	if (q && strcasecmp(q, "close") == 0)
		r->keep_alive = 0;
	else if (q && strcasecmp(q, "keep-alive") == 0)
		r->keep_alive = 1;
	return 0;
}

static void process(struct http_conn *c)
{
	while (!c->closing && !c->close_after_write && !c->stream && c->in.len) {
		size_t head_len = find_head_end(c->in.p, c->in.len);
		const char *cl, *te;
		struct http_req req;
		unsigned long long body_len = 0;
		int status;

		if (!head_len) {
			if (c->in.len > HTTP_MAX_HEAD) {
				respond_error(c, 431, "request head too large");
				return;
			}
			return;
		}
		if (head_len > HTTP_MAX_HEAD) {
			respond_error(c, 431, "request head too large");
			return;
		}
		free(c->head);
		c->head = strndup(c->in.p, head_len);
		if (!c->head) {
			http_close(c);
			return;
		}
		status = parse_head(c->head, &req);
		if (status) {
			respond_error(c, status, "malformed request");
			return;
		}
		te = http_req_header(&req, "Transfer-Encoding");
		if (te) {
			respond_error(c, 501, "request bodies must use Content-Length");
			return;
		}
		cl = http_req_header(&req, "Content-Length");
		if (cl) {
			char *end;

			if (!isdigit((unsigned char)cl[0])) {
				respond_error(c, 400, "bad Content-Length");
				return;
			}
			body_len = strtoull(cl, &end, 10);
			if (*end) {
				respond_error(c, 400, "bad Content-Length");
				return;
			}
			if (body_len > HTTP_MAX_BODY) {
				respond_error(c, 413, "request body too large");
				return;
			}
		}
		if (c->in.len < head_len + body_len)
			return;
		req.body = c->in.p + head_len;
		req.body_len = (size_t)body_len;
		api_handle(c, &req);
		sbuf_consume(&c->in, head_len + (size_t)body_len);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base ? suggested : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;

	if (nread < 0) {
		free(buf->base);
		http_close(c);
		return;
	}
	/* A streaming client has nothing more to say; reading only notices EOF. */
	if (nread > 0 && !c->stream && !c->closing) {
		int rc = sbuf_add(&c->in, buf->base, (size_t)nread);

		if (rc == SIM_ELIMIT) {
			respond_error(c, 431, "request too large");
		} else if (rc) {
			http_close(c);
		} else {
			process(c);
		}
	}
	free(buf->base);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_conn *c;

	if (status < 0) {
		LOGW("accept failed: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	sbuf_init(&c->in, HTTP_MAX_HEAD + HTTP_MAX_BODY);
	uv_tcp_init(sim_loop, &c->tcp);
	c->tcp.data = c;
	c->id = next_conn_id++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_close);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int http_listen(const char *host, int port, char *bound, size_t boundlen)
{
	struct sockaddr_storage ss;
	int namelen = sizeof(ss);
	char ip[64];
	int rc;

	if (strchr(host, ':'))
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
	if (rc < 0)
		return rc;
	uv_tcp_init(sim_loop, &listener);
	listener_open = 1;
	rc = uv_tcp_bind(&listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&listener, 128, on_connection);
	if (rc == 0)
		rc = uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &namelen);
	if (rc < 0)
		return rc;
	if (ss.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
		snprintf(bound, boundlen, "[%s]:%d", ip,
		         ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
		snprintf(bound, boundlen, "%s:%d", ip,
		         ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	return 0;
}

void http_shutdown(void)
{
	if (listener_open) {
		listener_open = 0;
		uv_close((uv_handle_t *)&listener, NULL);
	}
	while (conns)
		http_close(conns);
}

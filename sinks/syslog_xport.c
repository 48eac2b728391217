#include "syslog_xport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "syslog_tls.h"

#define KEEPALIVE_DELAY_S 30
#define READ_BUF 65536

/* One connection attempt and its life. It outlives being dropped: libuv may
 * still hold its handle or its getaddrinfo request, and the callbacks that
 * come then find owner NULL and only free it. */
struct syslog_xport_conn {
	struct syslog_xport *owner;  /* NULL once dropped */
	struct syslog_xport *closer; /* the closing transport waiting for it */
	int kind;
	bool resolving, handle_open;
	uv_getaddrinfo_t gai;
	union {
		uv_tcp_t tcp;
		uv_poll_t poll;
		uv_handle_t h;
	} u;
	int fd; /* datagram sockets */
	uv_connect_t creq;
	uv_write_t wreq;
	bool tls_on;
	struct syslog_tls tls;
	unsigned out_pending; /* TLS: ciphertext writes under way */
	/* Datagrams still to send. */
	uv_buf_t bufs[SYSLOG_XPORT_DGRAM_MAX];
	unsigned nbufs, next;
	char rbuf[READ_BUF];
};

static void conn_release(struct syslog_xport_conn *c)
{
	struct syslog_xport *closer = c->closer;
	syslog_tls_free(&c->tls);
	free(c);
	if (closer && --closer->close_pending == 0)
		closer->closed(closer);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct syslog_xport_conn *c = h->data;
	if (c->kind != SYSLOG_XPORT_TCP && c->fd >= 0)
		close(c->fd);
	conn_release(c);
}

/* Only when nothing else is queued, and only what the socket takes now: a
 * close never waits on a peer that stopped reading. */
static void send_close_notify(struct syslog_xport_conn *c)
{
	char bytes[256];
	syslog_tls_close_notify(&c->tls);
	size_t n = syslog_tls_take(&c->tls, bytes, sizeof(bytes));
	uv_buf_t b = uv_buf_init(bytes, (unsigned)n);
	if (n)
		uv_try_write((uv_stream_t *)&c->u.tcp, &b, 1);
}

/* Detaches the connection; its memory goes once libuv lets go. */
static void conn_drop(struct syslog_xport *x)
{
	struct syslog_xport_conn *c = x->conn;
	if (!c)
		return;
	x->conn = NULL;
	x->connected = false;
	x->writing = false;
	uv_timer_stop(&x->timer);
	c->owner = NULL;
	if (x->closing) {
		c->closer = x;
		x->close_pending++;
	}
	if (c->handle_open) {
		if (c->tls_on && c->tls.up && !c->out_pending)
			send_close_notify(c);
		uv_close(&c->u.h, on_conn_closed);
		return;
	}
	if (c->resolving) {
		uv_cancel((uv_req_t *)&c->gai);
		return; /* on_resolved frees it */
	}
	if (c->fd >= 0)
		close(c->fd);
	conn_release(c);
}

/* Reports a failure of the current connection, dropping it first so that
 * the owner may reconnect from inside the callback. */
static void fail(struct syslog_xport *x, int status, int what)
{
	conn_drop(x);
	if (what == 0)
		x->cb->on_connect(x, status);
	else if (what == 1)
		x->cb->on_written(x, status);
	else
		x->cb->on_readable(x, NULL, status);
}

int syslog_xport_parse(struct syslog_xport *x, int kind, const char *address)
{
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	if (!address || !*address)
		return LG_EINVAL;
	if (kind == SYSLOG_XPORT_UNIX) {
		if (strlen(address) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return LG_EINVAL;
		x->path = strdup(address);
		return x->path ? 0 : LG_ENOMEM;
	}
	const char *colon = strrchr(address, ':');
	if (!colon || colon == address || !colon[1])
		return LG_EINVAL;
	const char *h = address, *he = colon;
	if (*h == '[') {
		if (he[-1] != ']')
			return LG_EINVAL;
		h++;
		he--;
	} else if (memchr(address, ':', (size_t)(colon - address))) {
		return LG_EINVAL; /* an IPv6 literal needs brackets */
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || he == h)
		return LG_EINVAL;
	x->host = strndup(h, (size_t)(he - h));
	x->port = strdup(colon + 1);
	if (!x->host || !x->port)
		return LG_ENOMEM;
	return 0;
}

void syslog_xport_free_address(struct syslog_xport *x)
{
	free(x->host);
	free(x->port);
	free(x->path);
	x->host = x->port = x->path = NULL;
}

static void on_timeout(uv_timer_t *t)
{
	struct syslog_xport *x = t->data;
	int err = x->start_err ? x->start_err : UV_ETIMEDOUT;
	x->start_err = 0;
	if (x->conn && !x->connected)
		fail(x, err, 0);
}

void syslog_xport_init(struct syslog_xport *x, uv_loop_t *loop, const struct syslog_xport_cbs *cb,
                       void *data)
{
	x->loop = loop;
	x->cb = cb;
	x->data = data;
	uv_timer_init(loop, &x->timer);
	x->timer.data = x;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)hint;
	struct syslog_xport_conn *c = h->data;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

/* A ciphertext write; the last one of an owner's write completes it. */
struct out_req {
	uv_write_t req;
	struct syslog_xport_conn *c;
	bool completes;
	char data[];
};

static void on_out_written(uv_write_t *req, int status)
{
	struct out_req *o = req->data;
	struct syslog_xport_conn *c = o->c;
	bool completes = o->completes;
	free(o);
	c->out_pending--;
	struct syslog_xport *x = c->owner;
	if (!x)
		return;
	if (status < 0) {
		fail(x, status, x->writing ? 1 : x->connected ? 2 : 0);
		return;
	}
	if (completes) {
		x->writing = false;
		x->cb->on_written(x, 0);
	}
}

/* Sends what the TLS session produced (a completing write even when that
 * is nothing, so that completion still comes from the loop). */
static int tls_flush(struct syslog_xport_conn *c, bool completes)
{
	size_t n = syslog_tls_pending(&c->tls);
	if (!n && !completes)
		return 0;
	struct out_req *o = malloc(sizeof(*o) + (n ? n : 1));
	if (!o)
		return UV_ENOMEM;
	o->c = c;
	o->completes = completes;
	o->req.data = o;
	n = syslog_tls_take(&c->tls, o->data, n);
	uv_buf_t b = uv_buf_init(o->data, (unsigned)n);
	int rc = uv_write(&o->req, (uv_stream_t *)&c->u.tcp, &b, 1, on_out_written);
	if (rc < 0) {
		free(o);
		return rc;
	}
	c->out_pending++;
	return 0;
}

static void tls_fail(struct syslog_xport *x, struct syslog_xport_conn *c, int status, int what)
{
	snprintf(x->err, sizeof(x->err), "%s", c->tls.err);
	fail(x, status, what);
}

/* Ciphertext arrived: the handshake goes on, or plaintext goes up. */
static void tls_input(struct syslog_xport *x, struct syslog_xport_conn *c, const char *data,
                      size_t n)
{
	if (syslog_tls_feed(&c->tls, data, n) < 0) {
		fail(x, UV_ENOMEM, x->connected ? 2 : 0);
		return;
	}
	if (!c->tls.up) {
		int rc = syslog_tls_handshake(&c->tls);
		int frc = tls_flush(c, false);
		if (rc < 0) {
			tls_fail(x, c, UV_EPROTO, 0);
			return;
		}
		if (frc < 0) {
			fail(x, frc, 0);
			return;
		}
		if (rc == 0)
			return;
		uv_timer_stop(&x->timer);
		x->connected = true;
		x->cb->on_connect(x, 0);
	}
	char text[16384];
	while (c->owner == x) {
		ssize_t got = syslog_tls_read(&c->tls, text, sizeof(text));
		if (got == 0)
			break;
		if (got < 0) {
			if (got == LG_ECLOSED)
				fail(x, UV_EOF, 2);
			else
				tls_fail(x, c, UV_EPROTO, 2);
			return;
		}
		x->cb->on_readable(x, text, got);
	}
	/* A session may answer what it read (a key update). */
	if (c->owner == x) {
		int rc = tls_flush(c, false);
		if (rc < 0)
			fail(x, rc, 2);
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct syslog_xport_conn *c = s->data;
	struct syslog_xport *x = c->owner;
	if (!x || n == 0)
		return;
	if (n < 0)
		fail(x, (int)n, x->connected ? 2 : 0);
	else if (c->tls_on)
		tls_input(x, c, buf->base, (size_t)n);
	else
		x->cb->on_readable(x, buf->base, n);
}

static void on_tcp_connect(uv_connect_t *req, int status)
{
	struct syslog_xport_conn *c = req->data;
	struct syslog_xport *x = c->owner;
	if (!x)
		return;
	if (status == 0)
		status = uv_read_start((uv_stream_t *)&c->u.tcp, on_alloc, on_read);
	if (status == 0 && x->tls_ctx) {
		/* Connected once the handshake is done; the timer runs on. */
		const char *name = x->tls_name ? x->tls_name : x->host;
		status =
		    syslog_tls_start(&c->tls, x->tls_ctx, name, x->tls_verify) < 0 ? UV_ENOMEM : 0;
		c->tls_on = status == 0;
		if (status == 0 && syslog_tls_handshake(&c->tls) < 0) {
			tls_fail(x, c, UV_EPROTO, 0);
			return;
		}
		if (status == 0)
			status = tls_flush(c, false);
		if (status == 0)
			return;
	}
	if (status < 0) {
		fail(x, status, 0);
		return;
	}
	uv_timer_stop(&x->timer);
	x->connected = true;
	x->cb->on_connect(x, 0);
}

static int tcp_start(struct syslog_xport *x, struct syslog_xport_conn *c, struct addrinfo *ai)
{
	int rc = uv_tcp_init_ex(x->loop, &c->u.tcp, (unsigned)ai->ai_family);
	if (rc < 0)
		return rc;
	c->handle_open = true;
	c->u.tcp.data = c;
	uv_tcp_nodelay(&c->u.tcp, 1);
	uv_tcp_keepalive(&c->u.tcp, 1, KEEPALIVE_DELAY_S);
	uv_os_fd_t fd;
	if (x->user_timeout_ms && uv_fileno(&c->u.h, &fd) == 0) {
		unsigned ms = x->user_timeout_ms;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	}
	c->creq.data = c;
	return uv_tcp_connect(&c->creq, &c->u.tcp, ai->ai_addr, on_tcp_connect);
}

static void on_poll(uv_poll_t *p, int status, int events);

/* The socket is connected at once (UDP sets the peer; unix datagram fails
 * here when nobody listens); completion still goes through the loop. */
static int dgram_start(struct syslog_xport *x, struct syslog_xport_conn *c,
                       const struct sockaddr *sa, socklen_t salen)
{
	c->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return uv_translate_sys_error(errno);
	if (connect(c->fd, sa, salen) != 0)
		return uv_translate_sys_error(errno);
	int rc = uv_poll_init(x->loop, &c->u.poll, c->fd);
	if (rc < 0)
		return rc;
	c->handle_open = true;
	c->u.poll.data = c;
	return uv_poll_start(&c->u.poll, UV_WRITABLE, on_poll);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct syslog_xport_conn *c = req->data;
	struct syslog_xport *x = c->owner;
	c->resolving = false;
	if (!x) {
		uv_freeaddrinfo(ai);
		conn_release(c);
		return;
	}
	int rc = status;
	if (rc == 0)
		rc = x->kind == SYSLOG_XPORT_TCP
		         ? tcp_start(x, c, ai)
		         : dgram_start(x, c, ai->ai_addr, (socklen_t)ai->ai_addrlen);
	uv_freeaddrinfo(ai);
	if (rc < 0)
		fail(x, rc, 0);
}

int syslog_xport_connect(struct syslog_xport *x)
{
	if (x->closing)
		return LG_ECLOSED;
	if (x->conn)
		return LG_EINVAL;
	struct syslog_xport_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return LG_ENOMEM;
	c->owner = x;
	c->kind = x->kind;
	c->fd = -1;
	x->conn = c;
	x->err[0] = '\0';
	if (x->connect_timeout_ms)
		uv_timer_start(&x->timer, on_timeout, x->connect_timeout_ms, 0);
	int rc;
	if (x->kind == SYSLOG_XPORT_UNIX) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		memcpy(sun.sun_path, x->path, strlen(x->path) + 1);
		rc = dgram_start(x, c, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		struct addrinfo hints = {.ai_family = AF_UNSPEC,
		                         .ai_socktype = x->kind == SYSLOG_XPORT_TCP ? SOCK_STREAM
		                                                                    : SOCK_DGRAM};
		c->gai.data = c;
		c->resolving = true;
		rc = uv_getaddrinfo(x->loop, &c->gai, on_resolved, x->host, x->port, &hints);
		if (rc < 0)
			c->resolving = false;
	}
	if (rc < 0) {
		/* Reported from the loop like every other failure, after the
		 * timer: never from inside this call. */
		x->start_err = rc;
		uv_timer_start(&x->timer, on_timeout, 0, 0);
	}
	return 0;
}

static void on_write(uv_write_t *req, int status)
{
	struct syslog_xport_conn *c = req->data;
	struct syslog_xport *x = c->owner;
	if (!x)
		return;
	x->writing = false;
	if (status < 0) {
		fail(x, status, 1);
		return;
	}
	x->cb->on_written(x, 0);
}

/* Datagram sockets: a writable socket takes the next datagrams. The first
 * writable event after connect is the connection's completion. */
static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)events;
	struct syslog_xport_conn *c = p->data;
	struct syslog_xport *x = c->owner;
	if (!x)
		return;
	if (status < 0) {
		fail(x, status, x->connected ? 1 : 0);
		return;
	}
	if (!x->connected) {
		uv_timer_stop(&x->timer);
		x->connected = true;
		uv_poll_stop(p);
		x->cb->on_connect(x, 0);
		return;
	}
	while (c->next < c->nbufs) {
		ssize_t n = send(c->fd, c->bufs[c->next].base, c->bufs[c->next].len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n < 0) {
			fail(x, uv_translate_sys_error(errno), 1);
			return;
		}
		c->next++;
	}
	uv_poll_stop(p);
	x->writing = false;
	x->cb->on_written(x, 0);
}

int syslog_xport_write(struct syslog_xport *x, const uv_buf_t *bufs, unsigned n)
{
	struct syslog_xport_conn *c = x->conn;
	if (!c || !x->connected || x->writing)
		return LG_EINVAL;
	x->writing = true;
	if (c->tls_on) {
		int rc = 0;
		for (unsigned i = 0; i < n && rc == 0; i++)
			rc = syslog_tls_write(&c->tls, bufs[i].base, bufs[i].len);
		if (rc == 0)
			rc = tls_flush(c, true);
		if (rc < 0)
			x->writing = false;
		return rc < 0 ? LG_EIO : 0;
	}
	if (x->kind == SYSLOG_XPORT_TCP) {
		c->wreq.data = c;
		int rc = uv_write(&c->wreq, (uv_stream_t *)&c->u.tcp, bufs, n, on_write);
		if (rc < 0)
			x->writing = false;
		return rc < 0 ? LG_EIO : 0;
	}
	if (n > SYSLOG_XPORT_DGRAM_MAX) {
		x->writing = false;
		return LG_ETOOBIG;
	}
	memcpy(c->bufs, bufs, n * sizeof(*bufs));
	c->nbufs = n;
	c->next = 0;
	return uv_poll_start(&c->u.poll, UV_WRITABLE, on_poll) < 0 ? LG_EIO : 0;
}

const char *syslog_xport_strerror(const struct syslog_xport *x, int status)
{
	return x->err[0] ? x->err : uv_strerror(status);
}

void syslog_xport_disconnect(struct syslog_xport *x)
{
	conn_drop(x);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct syslog_xport *x = h->data;
	if (--x->close_pending == 0)
		x->closed(x);
}

void syslog_xport_close(struct syslog_xport *x, void (*closed)(struct syslog_xport *x))
{
	x->closing = true;
	x->closed = closed;
	x->close_pending = 1;
	conn_drop(x);
	uv_close((uv_handle_t *)&x->timer, on_timer_closed);
	syslog_xport_free_address(x);
}

/* syslog_xport: the syslog sink's connections behind one small interface
 * (connect, write, on_readable, close; STYLE.md "one connection shape"), so
 * that framing and acknowledgement code does not care which it has.
 *
 * - TCP (also carrying RELP): uv_tcp, the address resolved with
 *   uv_getaddrinfo, connect bounded by connect_timeout, keepalive, and
 *   TCP_USER_TIMEOUT so that unacknowledged data on a dead peer fails the
 *   connection instead of queueing forever; reading always, so that a peer
 *   closing (a receiver restart) is noticed before the next write.
 * - TLS (TCP syslog or RELP over TLS): the TCP connection with a
 *   syslog_tls session on it; "connected" means the handshake finished
 *   (connect_timeout covers it), reads and writes pass through it, a close
 *   sends close_notify when that cannot wait (best effort).
 * - UDP and unix datagram: a non-blocking connected socket under uv_poll
 *   (libuv has no unix-datagram handle); each buffer of a write is one
 *   datagram, sent when the socket is writable.
 *
 * Completion always comes from a libuv callback, never from inside a call.
 * After on_connect(<0), on_written(<0) or on_readable(<0) the connection is
 * gone: call syslog_xport_connect() again (after a backoff) to get a new one.
 * A write's buffers must stay valid until on_written. Memory is freed only
 * once every handle has closed: closed() runs then. */
#ifndef SINCH_SYSLOG_XPORT_H
#define SINCH_SYSLOG_XPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "syslog_tls.h"

enum syslog_xport_kind { SYSLOG_XPORT_TCP, SYSLOG_XPORT_UDP, SYSLOG_XPORT_UNIX };

/* The most datagrams one write may carry. */
#define SYSLOG_XPORT_DGRAM_MAX 1024

struct syslog_xport;
struct syslog_xport_conn;

struct syslog_xport_cbs {
	void (*on_connect)(struct syslog_xport *x, int status);
	/* Stream: every byte was handed to the kernel; datagram: every
	 * datagram was sent. */
	void (*on_written)(struct syslog_xport *x, int status);
	/* Stream only: n bytes from the peer, or n < 0 (UV_EOF: it closed). */
	void (*on_readable)(struct syslog_xport *x, const char *data, ssize_t n);
};

struct syslog_xport {
	uv_loop_t *loop;
	int kind;          /* enum syslog_xport_kind */
	char *host, *port; /* TCP/UDP */
	char *path;        /* unix */
	uint64_t connect_timeout_ms;
	unsigned user_timeout_ms; /* TCP_USER_TIMEOUT; 0 = the kernel's */
	SSL_CTX *tls_ctx;         /* TCP only: TLS when set (not owned) */
	const char *tls_name;     /* the server name to check; NULL: host */
	bool tls_verify;
	const struct syslog_xport_cbs *cb;
	void *data;

	struct syslog_xport_conn *conn; /* NULL when not connected or connecting */
	bool connected, writing;
	uv_timer_t timer;             /* connect timeout */
	int start_err;                /* a connect that failed at once, reported by the timer */
	char err[SYSLOG_TLS_ERR_MAX]; /* why the last connection failed, if TLS says */
	bool closing;
	unsigned close_pending;
	void (*closed)(struct syslog_xport *x);
};

/* Parses address ("host:port", "[v6]:port", or a path for unix). Returns 0
 * or LG_EINVAL; touches no loop (usable by --check-config). */
int syslog_xport_parse(struct syslog_xport *x, int kind, const char *address);
void syslog_xport_init(struct syslog_xport *x, uv_loop_t *loop, const struct syslog_xport_cbs *cb,
                       void *data);
/* Starts a connection; on_connect reports the result. */
int syslog_xport_connect(struct syslog_xport *x);
/* One write at a time, only while connected; a datagram write carries at
 * most SYSLOG_XPORT_DGRAM_MAX buffers (LG_ETOOBIG). */
int syslog_xport_write(struct syslog_xport *x, const uv_buf_t *bufs, unsigned n);
/* Drops the connection (no callback of it runs afterwards). */
void syslog_xport_disconnect(struct syslog_xport *x);
void syslog_xport_close(struct syslog_xport *x, void (*closed)(struct syslog_xport *x));
/* Says what a failure status means: the TLS reason when there is one. */
const char *syslog_xport_strerror(const struct syslog_xport *x, int status);
/* Frees what syslog_xport_parse() allocated (for --check-config). */
void syslog_xport_free_address(struct syslog_xport *x);

#endif

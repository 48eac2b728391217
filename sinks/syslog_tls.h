/* syslog_tls: the client side of TLS for the syslog transports (TCP syslog
 * and RELP), OpenSSL over memory BIOs. It never touches a socket: the
 * transport feeds it the bytes it read and sends the bytes it produces, so
 * nothing here can block the loop.
 *
 * Verification is on unless the configuration turns it off: the chain must
 * lead to ca_file (or the system's store without one), and the certificate
 * must name the server (tls_server_name, else the address's host: a DNS
 * name is checked against the certificate's names and sent as SNI, an IP
 * address against its IP addresses). TLS 1.2 at least. An encrypted key is
 * refused, never prompted for. Errors carry OpenSSL's reason text
 * ("certificate verify failed: self-signed certificate"). */
#ifndef SINCH_SYSLOG_TLS_H
#define SINCH_SYSLOG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#define SYSLOG_TLS_ERR_MAX 256

struct syslog_tls_opts {
	const char *ca_file, *cert_file, *key_file; /* NULL when unset */
	bool verify;
};

/* Builds the shared context, loading every file now (so that a bad path is
 * a configuration error). Returns 0, or LG_EINVAL with err as "KEY: reason"
 * (KEY the option at fault: ca_file, cert_file, key_file or transport). */
int syslog_tls_ctx_new(SSL_CTX **out, const struct syslog_tls_opts *o, char *err, size_t errlen);

struct syslog_tls {
	SSL *ssl;
	bool up; /* the handshake finished */
	char err[SYSLOG_TLS_ERR_MAX];
};

/* Starts a client session checking (and, for a DNS name, sending) name. */
int syslog_tls_start(struct syslog_tls *t, SSL_CTX *ctx, const char *name, bool verify);
/* Advances the handshake: 1 done, 0 more bytes needed, LG_EPROTO (t->err). */
int syslog_tls_handshake(struct syslog_tls *t);
/* Ciphertext from the peer. */
int syslog_tls_feed(struct syslog_tls *t, const char *data, size_t n);
/* Plaintext received: > 0 bytes, 0 none yet, LG_ECLOSED on the peer's
 * close_notify, LG_EPROTO on an error (t->err). */
ssize_t syslog_tls_read(struct syslog_tls *t, char *out, size_t cap);
/* Encrypts all of data (0 or LG_EPROTO). */
int syslog_tls_write(struct syslog_tls *t, const char *data, size_t n);
/* Ciphertext waiting to be sent, and taking it. */
size_t syslog_tls_pending(const struct syslog_tls *t);
size_t syslog_tls_take(struct syslog_tls *t, char *out, size_t cap);
/* Queues a close_notify (then take it and send it, best effort). */
void syslog_tls_close_notify(struct syslog_tls *t);
void syslog_tls_free(struct syslog_tls *t);

#endif

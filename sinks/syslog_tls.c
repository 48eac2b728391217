#include "syslog_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "err.h"

/* Refuses encrypted keys: without this OpenSSL would prompt on the
 * terminal, blocking the loop. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static void last_error(char *err, size_t errlen, const char *what)
{
	char reason[160] = "unknown error";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, errlen, "%s: %s", what, reason);
}

int syslog_tls_ctx_new(SSL_CTX **out, const struct syslog_tls_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		last_error(err, errlen, "transport: TLS context");
		return LG_EINVAL;
	}
	const char *files[] = {o->ca_file, o->cert_file, o->key_file};
	static const char *const keys[] = {"ca_file", "cert_file", "key_file"};
	for (size_t i = 0; i < 3; i++)
		if (files[i] && access(files[i], R_OK) != 0) {
			snprintf(err, errlen, "%s: cannot read %s: %s", keys[i], files[i],
			         strerror(errno));
			SSL_CTX_free(ctx);
			return LG_EINVAL;
		}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	const char *bad = NULL;
	if (o->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (o->ca_file ? SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1
		               : SSL_CTX_set_default_verify_paths(ctx) != 1)
			bad = o->ca_file ? "ca_file" : "ca_file: unset, and the system's CA store";
	}
	if (!bad && o->cert_file && SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1)
		bad = "cert_file";
	if (!bad && o->key_file &&
	    SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1)
		bad = "key_file"; /* an encrypted one too: no prompt */
	if (!bad && o->cert_file && o->key_file && SSL_CTX_check_private_key(ctx) != 1)
		bad = "key_file";
	if (bad) {
		last_error(err, errlen, bad);
		SSL_CTX_free(ctx);
		return LG_EINVAL;
	}
	*out = ctx;
	return 0;
}

static bool is_ip(const char *name)
{
	unsigned char a[16];
	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

int syslog_tls_start(struct syslog_tls *t, SSL_CTX *ctx, const char *name, bool verify)
{
	memset(t, 0, sizeof(*t));
	ERR_clear_error();
	t->ssl = SSL_new(ctx);
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		syslog_tls_free(t);
		return LG_ENOMEM;
	}
	SSL_set_bio(t->ssl, rbio, wbio);
	SSL_set_connect_state(t->ssl);
	int ok = 1;
	if (is_ip(name)) {
		if (verify)
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
	} else {
		ok = SSL_set_tlsext_host_name(t->ssl, name);
		if (ok && verify)
			ok = SSL_set1_host(t->ssl, name);
	}
	if (ok != 1) {
		syslog_tls_free(t);
		return LG_EINVAL;
	}
	return 0;
}

/* Says why the session failed: a verification result is the most precise
 * reason there is; otherwise OpenSSL's error queue (an alert from the
 * server, a protocol error). */
static int failed(struct syslog_tls *t, int rc)
{
	long v = SSL_get_verify_result(t->ssl);
	int e = SSL_get_error(t->ssl, rc);
	if (v != X509_V_OK)
		snprintf(t->err, sizeof(t->err), "certificate verify failed: %s",
		         X509_verify_cert_error_string(v));
	else if (e == SSL_ERROR_SSL)
		last_error(t->err, sizeof(t->err), "TLS error");
	else
		snprintf(t->err, sizeof(t->err), "TLS session ended unexpectedly (error %d)", e);
	ERR_clear_error();
	return LG_EPROTO;
}

int syslog_tls_handshake(struct syslog_tls *t)
{
	ERR_clear_error();
	int rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		t->up = true;
		return 1;
	}
	if (SSL_get_error(t->ssl, rc) == SSL_ERROR_WANT_READ)
		return 0;
	return failed(t, rc);
}

int syslog_tls_feed(struct syslog_tls *t, const char *data, size_t n)
{
	if (n > INT32_MAX)
		return LG_ETOOBIG;
	return BIO_write(SSL_get_rbio(t->ssl), data, (int)n) == (int)n ? 0 : LG_ENOMEM;
}

ssize_t syslog_tls_read(struct syslog_tls *t, char *out, size_t cap)
{
	ERR_clear_error();
	int rc = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (rc > 0)
		return rc;
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN)
		return LG_ECLOSED;
	return failed(t, rc);
}

int syslog_tls_write(struct syslog_tls *t, const char *data, size_t n)
{
	ERR_clear_error();
	/* A memory BIO takes everything: one call writes it all. */
	while (n) {
		int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
		int rc = SSL_write(t->ssl, data, chunk);
		if (rc <= 0)
			return failed(t, rc);
		data += rc;
		n -= (size_t)rc;
	}
	return 0;
}

size_t syslog_tls_pending(const struct syslog_tls *t)
{
	return BIO_ctrl_pending(SSL_get_wbio(t->ssl));
}

size_t syslog_tls_take(struct syslog_tls *t, char *out, size_t cap)
{
	int rc = BIO_read(SSL_get_wbio(t->ssl), out, cap > INT32_MAX ? INT32_MAX : (int)cap);
	return rc > 0 ? (size_t)rc : 0;
}

void syslog_tls_close_notify(struct syslog_tls *t)
{
	if (t->ssl && t->up) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
}

void syslog_tls_free(struct syslog_tls *t)
{
	SSL_free(t->ssl);
	t->ssl = NULL;
	t->up = false;
}

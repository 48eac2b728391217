/* syslog_tls over memory buffers, against an OpenSSL server in the same
 * process (no socket): a trusted certificate completes the handshake for
 * its DNS name (sent as SNI) and its IP address, data goes both ways, the server's
 * close_notify reads as LG_ECLOSED; an untrusted certificate and a wrong
 * name fail with OpenSSL's reason; a missing file names its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "syslog_tls.h"

struct cert {
	EVP_PKEY *key;
	X509 *x509;
	char path[64]; /* the certificate as PEM, for ca_file */
};

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A self-signed certificate for localhost and 127.0.0.1, its own CA. */
static void make_cert(struct cert *c)
{
	c->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(c->key);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, c->key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
	assert_true(X509_sign(x, c->key, EVP_sha256()) > 0);
	c->x509 = x;
	snprintf(c->path, sizeof(c->path), "/tmp/test_syslog_tls.XXXXXX");
	int fd = mkstemp(c->path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
}

static void free_cert(struct cert *c)
{
	unlink(c->path);
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
}

struct pair {
	struct cert server, other;
	SSL_CTX *sctx, *cctx;
	SSL *srv;
	struct syslog_tls cli;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	make_cert(&p->server);
	make_cert(&p->other);
	p->sctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, p->server.x509), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, p->server.key), 1);
	p->srv = SSL_new(p->sctx);
	SSL_set_bio(p->srv, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_accept_state(p->srv);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;
	syslog_tls_free(&p->cli);
	SSL_free(p->srv);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	free_cert(&p->server);
	free_cert(&p->other);
	free(p);
	return 0;
}

/* Moves what each side produced to the other. */
static void pump(struct pair *p)
{
	char b[16384];
	size_t n;
	while ((n = syslog_tls_take(&p->cli, b, sizeof(b))) > 0)
		BIO_write(SSL_get_rbio(p->srv), b, (int)n);
	SSL_do_handshake(p->srv);
	int m;
	while ((m = BIO_read(SSL_get_wbio(p->srv), b, sizeof(b))) > 0)
		assert_int_equal(syslog_tls_feed(&p->cli, b, (size_t)m), 0);
}

/* Runs the handshake to its end: 1, or the client's error. */
static int handshake(struct pair *p, const char *ca, const char *name)
{
	struct syslog_tls_opts o = {ca, NULL, NULL, true};
	char err[SYSLOG_TLS_ERR_MAX];
	assert_int_equal(syslog_tls_ctx_new(&p->cctx, &o, err, sizeof(err)), 0);
	assert_int_equal(syslog_tls_start(&p->cli, p->cctx, name, true), 0);
	for (int i = 0; i < 10; i++) {
		int rc = syslog_tls_handshake(&p->cli);
		if (rc != 0)
			return rc;
		pump(p);
	}
	fail_msg("the handshake did not finish");
	return 0;
}

static void exchange(struct pair *p)
{
	assert_int_equal(syslog_tls_write(&p->cli, "12 <14>1 - - hi", 15), 0);
	pump(p);
	char b[64];
	assert_int_equal(SSL_read(p->srv, b, sizeof(b)), 15);
	assert_memory_equal(b, "12 <14>1 - - hi", 15);
	assert_int_equal(SSL_write(p->srv, "rsp", 3), 3);
	SSL_shutdown(p->srv);
	pump(p);
	assert_int_equal(syslog_tls_read(&p->cli, b, sizeof(b)), 3);
	assert_memory_equal(b, "rsp", 3);
	assert_int_equal(syslog_tls_read(&p->cli, b, sizeof(b)), LG_ECLOSED);
	/* Our own close_notify goes out too. */
	syslog_tls_close_notify(&p->cli);
	assert_true(syslog_tls_pending(&p->cli) > 0);
}

static void test_trusted_dns_name(void **state)
{
	struct pair *p = *state;
	assert_int_equal(handshake(p, p->server.path, "localhost"), 1);
	assert_true(p->cli.up);
	assert_string_equal(SSL_get_servername(p->srv, TLSEXT_NAMETYPE_host_name), "localhost");
	exchange(p);
}

static void test_trusted_ip_address(void **state)
{
	struct pair *p = *state;
	assert_int_equal(handshake(p, p->server.path, "127.0.0.1"), 1);
	/* No SNI for an address (RFC 6066 allows host names only). */
	assert_null(SSL_get_servername(p->srv, TLSEXT_NAMETYPE_host_name));
	exchange(p);
}

static void test_untrusted_certificate(void **state)
{
	struct pair *p = *state;
	assert_int_equal(handshake(p, p->other.path, "localhost"), LG_EPROTO);
	assert_false(p->cli.up);
	assert_non_null(strstr(p->cli.err, "certificate verify failed: self-signed certificate"));
}

static void test_wrong_name(void **state)
{
	struct pair *p = *state;
	assert_int_equal(handshake(p, p->server.path, "other.example"), LG_EPROTO);
	assert_string_equal(p->cli.err, "certificate verify failed: hostname mismatch");
}

static void test_missing_files_name_their_key(void **state)
{
	(void)state;
	SSL_CTX *ctx = (SSL_CTX *)1;
	char err[SYSLOG_TLS_ERR_MAX];
	struct syslog_tls_opts o = {"/nonexistent/ca.pem", NULL, NULL, true};
	assert_int_equal(syslog_tls_ctx_new(&ctx, &o, err, sizeof(err)), LG_EINVAL);
	assert_null(ctx);
	assert_string_equal(err, "ca_file: cannot read /nonexistent/ca.pem: No such file or "
	                         "directory");
	o = (struct syslog_tls_opts){NULL, "/nonexistent/c.pem", "/nonexistent/k.pem", false};
	assert_int_equal(syslog_tls_ctx_new(&ctx, &o, err, sizeof(err)), LG_EINVAL);
	assert_int_equal(strncmp(err, "cert_file: ", 11), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_trusted_dns_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trusted_ip_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_certificate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_name, setup, teardown),
	    cmocka_unit_test(test_missing_files_name_their_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

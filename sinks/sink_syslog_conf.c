/* sink_syslog_conf: the syslog sink's options, one row each, and the checks
 * that run at open (and for --check-config): every error names its key. */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "sink_syslog.h"

#define C(f) offsetof(struct syslog_conf, f)
const struct opt_def sink_syslog_opts[] = {
    {"transport", OPT_ENUM, "tcp", 0, C(transport), "relp|tcp|tls|udp|unix",
     "relp (acknowledged by the receiver's rsp 200), tcp or tls (acknowledged when "
     "written), udp or unix (datagrams, acknowledged when sent)"},
    {"address", OPT_STRING, NULL, OPT_REQUIRED, C(address), NULL,
     "host:port ([v6]:port) of the receiver, or the socket path for unix (e.g. /dev/log)"},
    {"format", OPT_ENUM, "rfc5424", 0, C(format), "rfc5424|rfc3164", "the syslog format"},
    {"framing", OPT_ENUM, "octet-counting", 0, C(framing), "octet-counting|lf",
     "tcp, tls: octet counting (RFC 6587) or LF-terminated (a newline inside a message is "
     "sent as #012)"},
    {"facility", OPT_STRING, "local0", 0, C(facility), NULL,
     "syslog facility name (kern, user, daemon, ... local0..local7)"},
    {"app_name", OPT_STRING, "sinch-fn", 0, C(app_name), NULL,
     "APP-NAME; may use {function_name}, {function_id}, {project_id}"},
    {"hostname", OPT_STRING, NULL, 0, C(hostname), NULL,
     "HOSTNAME of every message (default: this host's name)"},
    {"sd_id", OPT_STRING, "fn@32473", 0, C(sd_id), NULL,
     "SD-ID of the structured-data element (rfc5424)"},
    {"mode", OPT_ENUM, "request", 0, C(mode), "request|line",
     "one message per record (its JSON), or one per console line"},
    {"max_message_size", OPT_SIZE, "0", 0, C(max_message_size), NULL,
     "longest message before framing, longer ones are truncated (0: 2048 for udp, 8192 "
     "otherwise; at least 600)"},
    {"resend_window", OPT_INT, "10", 0, C(resend_window), NULL,
     "tcp, tls: how many of the last written frames are sent again after a reconnect"},
    {"relp_window", OPT_INT, "128", 0, C(relp_window), NULL,
     "relp: messages sent and not yet answered, at most (1..10000)"},
    {"connect_timeout", OPT_DURATION, "10s", 0, C(connect_timeout), NULL,
     "give up a connection attempt after this long (then back off and retry)"},
    {"tcp_user_timeout", OPT_DURATION, "30s", 0, C(tcp_user_timeout), NULL,
     "tcp, tls, relp: drop the connection when sent data stays unacknowledged by the peer's "
     "TCP this long (TCP_USER_TIMEOUT; 0 = the kernel's default)"},
    {"tls", OPT_BOOL, "off", 0, C(tls), NULL,
     "relp: speak RELP over TLS (imrelp tls=\"on\"); transport = tls implies it"},
    {"tls_verify", OPT_BOOL, "on", 0, C(tls_verify), NULL,
     "TLS: verify the receiver's certificate chain and name (off: encrypted but talking to whoever "
     "answers)"},
    {"ca_file", OPT_STRING, NULL, 0, C(ca_file), NULL,
     "TLS: PEM file of the CAs to trust (default: the system's store)"},
    {"cert_file", OPT_STRING, NULL, 0, C(cert_file), NULL,
     "TLS: PEM client certificate (chain) to present, with key_file"},
    {"key_file", OPT_STRING, NULL, 0, C(key_file), NULL,
     "TLS: PEM private key of cert_file (unencrypted; keep it mode 0600)"},
    {"tls_server_name", OPT_STRING, NULL, 0, C(tls_server_name), NULL,
     "TLS: the name the certificate must carry, sent as SNI (default: the address's host)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void bad_key(struct sink *s, struct conf_errs *errs, const char *key, const char *msg)
{
	struct opt_origin o = {s->file, s->line};
	if (s->section)
		o = opts_origin(s->section, key);
	conf_err(errs, o.file, o.line, "[sink %s]: key '%s': %s", s->name, key, msg);
}

/* TLS options belong to the transports that use them. */
static int validate_tls(struct sink *s, struct conf_errs *errs, SSL_CTX **tls_ctx)
{
	struct syslog_conf *c = s->conf;
	if (c->transport == T_TLS)
		c->tls = true;
	if (c->tls && c->transport != T_TLS && c->transport != T_RELP) {
		bad_key(s, errs, "tls",
		        "applies to transport = relp (tcp over TLS is transport = tls)");
		return LG_ECONFIG;
	}
	static const char *const keys[] = {"ca_file", "cert_file", "key_file", "tls_server_name"};
	const char *vals[] = {c->ca_file, c->cert_file, c->key_file, c->tls_server_name};
	int bad = 0;
	for (size_t i = 0; i < 4; i++)
		if (vals[i] && !c->tls) {
			bad_key(s, errs, keys[i], "needs transport = tls, or relp with tls = on");
			bad = 1;
		}
	if (!c->tls || bad)
		return bad ? LG_ECONFIG : 0;
	if (!c->cert_file != !c->key_file) {
		bad_key(s, errs, c->cert_file ? "key_file" : "cert_file",
		        "a client certificate needs both cert_file and key_file");
		return LG_ECONFIG;
	}
	if (c->tls_server_name && !*c->tls_server_name) {
		bad_key(s, errs, "tls_server_name", "must not be empty");
		return LG_ECONFIG;
	}
	struct syslog_tls_opts o = {c->ca_file, c->cert_file, c->key_file, c->tls_verify};
	char err[SYSLOG_TLS_ERR_MAX];
	if (syslog_tls_ctx_new(tls_ctx, &o, err, sizeof(err)) < 0) {
		/* err starts with the key it is about. */
		char *colon = strchr(err, ':');
		if (colon)
			*colon = '\0';
		bad_key(s, errs, err, colon ? colon + 2 : "");
		return LG_ECONFIG;
	}
	return 0;
}

static const int xport_kind[] = {SYSLOG_XPORT_TCP, SYSLOG_XPORT_TCP, SYSLOG_XPORT_TCP,
                                 SYSLOG_XPORT_UDP, SYSLOG_XPORT_UNIX};

int sink_syslog_validate(struct sink *s, struct conf_errs *errs, struct syslog_xport *x,
                         SSL_CTX **tls_ctx)
{
	struct syslog_conf *c = s->conf;
	int bad = 0;
	if (c->transport >= 0 && syslog_xport_parse(x, xport_kind[c->transport], c->address) < 0) {
		bad_key(s, errs, "address",
		        c->transport == T_UNIX ? "must be a socket path"
		                               : "must be host:port (or [v6]:port)");
		bad = 1;
	}
	if (!c->facility || syslog_fmt_facility(c->facility) < 0) {
		bad_key(s, errs, "facility", "must be a facility name such as local0 or daemon");
		bad = 1;
	}
	if (!c->sd_id || !syslog_fmt_sd_id_valid(c->sd_id)) {
		bad_key(s, errs, "sd_id",
		        "must be 1..32 printable characters without = ] \" or space");
		bad = 1;
	}
	if (c->max_message_size == 0)
		c->max_message_size = c->transport == T_UDP ? 2048 : 8192;
	if (c->max_message_size < SYSLOG_FMT_MIN_SIZE || c->max_message_size > (64u << 20)) {
		bad_key(s, errs, "max_message_size", "must be 600 bytes .. 64M");
		bad = 1;
	}
	if (c->transport == T_UDP && c->max_message_size > 65000) {
		bad_key(s, errs, "max_message_size", "must fit one UDP datagram (at most 65000)");
		bad = 1;
	}
	if (c->resend_window < 0 || c->resend_window > 100000) {
		bad_key(s, errs, "resend_window", "must be 0..100000");
		bad = 1;
	}
	if (c->relp_window < 1 || c->relp_window > 10000) {
		bad_key(s, errs, "relp_window", "must be 1..10000");
		bad = 1;
	}
	if (c->tcp_user_timeout > UINT_MAX) {
		bad_key(s, errs, "tcp_user_timeout", "is too long");
		bad = 1;
	}
	if (validate_tls(s, errs, tls_ctx) < 0)
		bad = 1;
	return bad ? LG_ECONFIG : 0;
}

/* sink_syslog: what the syslog sink's files share (sink_syslog.c: the queue,
 * the connection's life and the stream and datagram writers;
 * sink_syslog_relp.c: the RELP session; sink_syslog_conf.c: the option
 * table and its validation). Not a public interface: only these files
 * include it. */
#ifndef SINCH_SINK_SYSLOG_H
#define SINCH_SINK_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "buf.h"
#include "json.h"
#include "sink.h"
#include "syslog_fmt.h"
#include "syslog_relp.h"
#include "syslog_tls.h"
#include "syslog_xport.h"

/* Bytes per stream write (at least one record). */
#define SINK_SYSLOG_WRITE_MAX (256 * 1024)

enum sink_syslog_transport { T_RELP, T_TCP, T_TLS, T_UDP, T_UNIX };

struct syslog_conf {
	int transport;
	char *address;
	int format;
	int framing;
	char *facility;
	char *app_name;
	char *hostname;
	char *sd_id;
	int mode;
	uint64_t max_message_size;
	int64_t resend_window;
	int64_t relp_window;
	uint64_t connect_timeout;
	uint64_t tcp_user_timeout;
	bool tls;
	bool tls_verify;
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *tls_server_name;
};

struct ent {
	struct record *r;
	char *msgs;     /* the messages, unframed, back to back */
	uint32_t *lens; /* each message's length */
	uint32_t nmsg;
	uint32_t done; /* relp: messages answered with 200 */
	int reject;    /* < 0: cannot be formatted, dead-letter it */
};

struct frame {
	char *data;
	size_t len;
};

struct syslog_sink {
	struct sink *s;
	const struct syslog_conf *c;
	struct syslog_fmt fmt;
	int framing; /* enum syslog_fmt_framing */
	char host[256];
	struct json_doc doc;
	struct buf scratch, msgs, wbuf;
	uv_buf_t iov[SYSLOG_XPORT_DGRAM_MAX];

	struct ent *q;
	size_t cap, head, len;
	size_t inflight;  /* tcp: entries in the write under way; datagram: 1 */
	size_t sent_msgs; /* datagram: messages in the write under way */

	/* tcp, tls: copies of the last resend_window frames written. */
	struct frame *rs;
	size_t rs_cap, rs_head, rs_len;
	bool resend_due, resending;

	/* relp: the session. */
	struct syslog_relp_reader rd;
	bool relp_open;
	uint32_t txnr;     /* the last one used */
	uint32_t oldest;   /* the oldest unanswered */
	size_t unanswered; /* messages sent, not answered */
	size_t cur_ent;    /* the next message to send: entry index from head... */
	uint32_t cur_msg;  /* ...and message within it */

	SSL_CTX *tls_ctx; /* tls, relp with tls = on */
	struct syslog_xport x;
	struct backoff backoff;
	uv_timer_t kick_timer, retry_timer, flush_timer;
	bool up, failing;
	bool est;        /* the session works (RELP: its open was answered)... */
	uint64_t est_ms; /* ...since then */
	sink_cb flush_done, closed;
	bool closing;
	unsigned close_pending;
	struct syslog_fmt_stats st;
	uint64_t reconnects, resent;
};

extern const struct opt_def sink_syslog_opts[];

/* Validates s->conf (filling max_message_size's default), parses the
 * address into x and, for TLS, builds *tls_ctx (loading its files).
 * Returns 0 or LG_ECONFIG with every error reported. */
int sink_syslog_validate(struct sink *s, struct conf_errs *errs, struct syslog_xport *x,
                         SSL_CTX **tls_ctx);

/* sink_syslog.c, for the RELP session. */
struct ent *sink_syslog_at(struct syslog_sink *y, size_t i);
size_t sink_syslog_msg_off(const struct ent *e, uint32_t k);
void sink_syslog_ack_head(struct syslog_sink *y, size_t n);
void sink_syslog_lost(struct syslog_sink *y, const char *what, int err);
void sink_syslog_kick(struct syslog_sink *y);
/* The session works: a recovery is logged; if it lasts, losing it starts
 * the backoff over. */
void sink_syslog_established(struct syslog_sink *y);

/* sink_syslog_relp.c: the session on a fresh connection, answers from the
 * receiver, and sending what the window allows. */
void sink_syslog_relp_open(struct syslog_sink *y);
void sink_syslog_relp_read(struct syslog_sink *y, const char *data, size_t n);
void sink_syslog_relp_kick(struct syslog_sink *y);

#endif

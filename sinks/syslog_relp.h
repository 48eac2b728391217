/* syslog_relp: the client side of RELP framing (rsyslog's imrelp), pure:
 * frames to send and a reader of what the server answers. The sink drives
 * the session (open, syslog, transaction numbers, window) on the loop.
 *
 * A frame is "TXNR SP COMMAND SP DATALEN [SP DATA] LF"; TXNR runs 1..999999999
 * and wraps to 1. The server answers each command with "TXNR rsp DATALEN
 * CODE [TEXT]" and may send "0 serverclose 0" before closing. */
#ifndef SINCH_SYSLOG_RELP_H
#define SINCH_SYSLOG_RELP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SYSLOG_RELP_TXNR_MAX 999999999u
/* The largest answer frame accepted; imrelp's answers are a few dozen
 * bytes (the open answer lists its offers). */
#define SYSLOG_RELP_MAX_ANSWER 65536

/* Appends one command frame. */
int syslog_relp_frame(struct buf *out, uint32_t txnr, const char *command, const char *data,
                      size_t len);
/* The next transaction number after t. */
uint32_t syslog_relp_next(uint32_t t);

struct syslog_relp_answer {
	uint32_t txnr;
	char command[32];
	int code; /* rsp: the status code (200 = ok); -1 for other commands */
};

struct syslog_relp_reader {
	struct buf in; /* bytes not yet parsed, bounded */
};

void syslog_relp_reader_init(struct syslog_relp_reader *rd);
void syslog_relp_reader_free(struct syslog_relp_reader *rd);
void syslog_relp_reader_reset(struct syslog_relp_reader *rd);
/* Adds bytes from the server; LG_ETOOBIG when an answer is too long. */
int syslog_relp_feed(struct syslog_relp_reader *rd, const char *data, size_t n);
/* Takes the next complete answer: 1 with *a filled, 0 when more bytes are
 * needed, LG_EPROTO when the bytes are not RELP. */
int syslog_relp_next_answer(struct syslog_relp_reader *rd, struct syslog_relp_answer *a);

#endif

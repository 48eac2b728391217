/* sink_syslog_relp: the syslog sink's RELP session (the client side of
 * rsyslog's imrelp) on the loop: "open" with our offers on every new
 * connection, then "syslog" frames while the window allows, each message
 * acknowledged by its "rsp 200". Answers come in transaction order, so the
 * oldest unanswered frame always belongs to the head entry. After a
 * reconnect every unanswered message is sent again, with new transaction
 * numbers (sink_syslog_lost() rewinds the cursor).
 *
 * Implemented here rather than with librelp: librelp runs its own blocking
 * connect and a select()-based send/receive loop (relpCltSendSyslog waits on
 * the window), which would stall the agent's one thread; the client side of
 * the protocol is small. */
#include <string.h>

#include "log.h"
#include "sink_syslog.h"

void sink_syslog_relp_open(struct syslog_sink *y)
{
	static const char offer[] =
	    "relp_version=0\nrelp_software=sinch-logd," SINCH_LOGD_VERSION "\ncommands=syslog";
	buf_reset(&y->wbuf);
	y->txnr = 1;
	y->oldest = 1;
	if (syslog_relp_frame(&y->wbuf, y->txnr, "open", offer, sizeof(offer) - 1) < 0)
		return;
	y->iov[0] = uv_buf_init(y->wbuf.data, (unsigned)y->wbuf.len);
	if (syslog_xport_write(&y->x, y->iov, 1) < 0)
		sink_syslog_lost(y, "write to", UV_EIO);
}

/* Acknowledges the entries at the head that need no more answers, so that
 * the next answer always belongs to the head entry. */
static void relp_pop_done(struct syslog_sink *y)
{
	while (y->len && !y->closing) {
		struct ent *e = sink_syslog_at(y, 0);
		if (e->reject >= 0 && e->done < e->nmsg)
			return;
		if (y->cur_ent == 0)
			y->cur_msg = 0;
		sink_syslog_ack_head(y, 1);
	}
}

static void relp_answer(struct syslog_sink *y, const struct syslog_relp_answer *a)
{
	if (strcmp(a->command, "serverclose") == 0) {
		sink_syslog_lost(y, "receiver closed", UV_EOF);
		return;
	}
	if (strcmp(a->command, "rsp") != 0 || a->code != 200 || a->txnr != y->oldest ||
	    (y->relp_open && y->unanswered == 0)) {
		log_warn(y->s->who, "RELP answer %u %s %d from %s not expected", a->txnr,
		         a->command, a->code, y->c->address);
		sink_syslog_lost(y, "protocol error from", UV_EPROTO);
		return;
	}
	y->oldest = syslog_relp_next(y->oldest);
	if (!y->relp_open) {
		y->relp_open = true;
		sink_syslog_established(y);
		sink_syslog_kick(y);
		return;
	}
	y->unanswered--;
	sink_syslog_at(y, 0)->done++;
	relp_pop_done(y);
}

void sink_syslog_relp_read(struct syslog_sink *y, const char *data, size_t n)
{
	if (syslog_relp_feed(&y->rd, data, n) < 0) {
		sink_syslog_lost(y, "oversized RELP answer from", UV_EPROTO);
		return;
	}
	struct syslog_relp_answer a;
	int rc;
	while (y->up && !y->closing && (rc = syslog_relp_next_answer(&y->rd, &a)) != 0) {
		if (rc < 0) {
			sink_syslog_lost(y, "malformed RELP answer from", UV_EPROTO);
			return;
		}
		relp_answer(y, &a);
	}
	if (y->up && !y->closing)
		sink_syslog_kick(y);
}

void sink_syslog_relp_kick(struct syslog_sink *y)
{
	if (!y->relp_open || y->x.writing)
		return;
	relp_pop_done(y);
	if (y->closing)
		return;
	buf_reset(&y->wbuf);
	size_t window = (size_t)y->c->relp_window;
	while (y->unanswered < window && y->cur_ent < y->len &&
	       y->wbuf.len < SINK_SYSLOG_WRITE_MAX) {
		struct ent *e = sink_syslog_at(y, y->cur_ent);
		if (e->reject < 0 || y->cur_msg >= e->nmsg) {
			y->cur_ent++;
			y->cur_msg = y->cur_ent < y->len ? sink_syslog_at(y, y->cur_ent)->done : 0;
			continue;
		}
		uint32_t txnr = syslog_relp_next(y->txnr);
		size_t off = sink_syslog_msg_off(e, y->cur_msg);
		if (syslog_relp_frame(&y->wbuf, txnr, "syslog", e->msgs + off,
		                      e->lens[y->cur_msg]) < 0)
			break;
		y->txnr = txnr;
		y->unanswered++;
		y->cur_msg++;
	}
	if (!y->wbuf.len)
		return;
	y->iov[0] = uv_buf_init(y->wbuf.data, (unsigned)y->wbuf.len);
	if (syslog_xport_write(&y->x, y->iov, 1) < 0)
		sink_syslog_lost(y, "write to", UV_EIO);
}

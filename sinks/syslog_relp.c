#include "syslog_relp.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"

int syslog_relp_frame(struct buf *out, uint32_t txnr, const char *command, const char *data,
                      size_t len)
{
	int rc = buf_printf(out, "%u %s %zu", txnr, command, len);
	if (rc == 0 && len)
		rc = buf_putc(out, ' ');
	if (rc == 0)
		rc = buf_append(out, data, len);
	return rc < 0 ? rc : buf_putc(out, '\n');
}

uint32_t syslog_relp_next(uint32_t t)
{
	return t >= SYSLOG_RELP_TXNR_MAX ? 1 : t + 1;
}

void syslog_relp_reader_init(struct syslog_relp_reader *rd)
{
	buf_init(&rd->in, SYSLOG_RELP_MAX_ANSWER);
}

void syslog_relp_reader_free(struct syslog_relp_reader *rd)
{
	buf_free(&rd->in);
}

void syslog_relp_reader_reset(struct syslog_relp_reader *rd)
{
	buf_reset(&rd->in);
}

int syslog_relp_feed(struct syslog_relp_reader *rd, const char *data, size_t n)
{
	return buf_append(&rd->in, data, n);
}

/* Reads a decimal of at most max_digits at *p, up to end; -1 if none, -2 if
 * the bytes end before the number does. */
static long long number(const char **p, const char *end, int max_digits)
{
	long long v = 0;
	int n = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (++n > max_digits)
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	if (*p == end)
		return -2;
	return n ? v : -1;
}

int syslog_relp_next_answer(struct syslog_relp_reader *rd, struct syslog_relp_answer *a)
{
	const char *s = rd->in.data, *p = s, *end = s + rd->in.len;
	if (rd->in.len == 0)
		return 0;
	long long txnr = number(&p, end, 9);
	if (txnr == -2)
		return 0;
	if (txnr < 0 || *p++ != ' ')
		return LG_EPROTO;
	const char *cmd = p;
	while (p < end && *p != ' ' && p - cmd < (long)sizeof(a->command))
		p++;
	if (p == end)
		return 0;
	if (*p != ' ' || p == cmd || p - cmd >= (long)sizeof(a->command))
		return LG_EPROTO;
	size_t cmd_len = (size_t)(p - cmd);
	p++;
	long long len = number(&p, end, 9);
	if (len == -2)
		return 0;
	if (len < 0)
		return LG_EPROTO;
	const char *data = p;
	if (len > 0) {
		if (*p != ' ')
			return LG_EPROTO;
		data = p + 1;
	}
	if (end - data < len + 1)
		return rd->in.len >= SYSLOG_RELP_MAX_ANSWER ? LG_ETOOBIG : 0;
	if (data[len] != '\n')
		return LG_EPROTO;
	a->txnr = (uint32_t)txnr;
	memcpy(a->command, cmd, cmd_len);
	a->command[cmd_len] = '\0';
	a->code = -1;
	if (strcmp(a->command, "rsp") == 0) {
		bool digits = len >= 3;
		for (int i = 0; digits && i < 3; i++)
			digits = data[i] >= '0' && data[i] <= '9';
		if (digits && (len == 3 || data[3] == ' ' || data[3] == '\n'))
			a->code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
		else
			a->code = 0;
	}
	size_t used = (size_t)(data + len + 1 - s);
	memmove(rd->in.data, s + used, rd->in.len - used);
	rd->in.len -= used;
	return 1;
}

#include "http_resp.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int http_resp_classify(long status)
{
	if (status >= 200 && status <= 299)
		return HTTP_ACK;
	if (status == 0 || status == 408 || status == 429 || (status >= 500 && status != 501))
		return HTTP_RETRY;
	if (status == 401 || status == 403 || status == 404 || status == 407 ||
	    (status >= 300 && status <= 399))
		return HTTP_DOWN;
	if (status == 413)
		return HTTP_SPLIT;
	return HTTP_REJECT;
}

const char *http_resp_verdict_name(int verdict)
{
	static const char *const names[] = {"ack", "retry", "down", "split", "reject"};
	return verdict >= 0 && verdict <= HTTP_REJECT ? names[verdict] : "?";
}

int64_t http_resp_retry_after(const char *v, time_t now, int64_t max_ms)
{
	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	int64_t ms = -1;
	if (*v >= '0' && *v <= '9') {
		char *end;
		errno = 0;
		unsigned long long sec = strtoull(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end)
			return -1;
		ms = errno == ERANGE || sec > (unsigned long long)max_ms / 1000
		         ? max_ms
		         : (int64_t)sec * 1000;
	} else {
		/* IMF-fixdate, the form RFC 9110 requires senders to use. */
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (!end)
			return -1;
		time_t at = timegm(&tm);
		ms = at <= now ? 0
		               : (at - now > max_ms / 1000 ? max_ms : (int64_t)(at - now) * 1000);
	}
	return ms > max_ms ? max_ms : ms;
}

void http_resp_excerpt(const char *body, size_t len, char *out, size_t cap)
{
	if (!cap)
		return;
	size_t o = 0;
	bool space = false;
	size_t i = 0;
	for (; i < len && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)body[i];
		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			space = o > 0;
			continue;
		}
		if (space) {
			out[o++] = ' ';
			space = false;
			if (o + 1 >= cap)
				break;
		}
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
	}
	/* Trailing whitespace does not count as cut. */
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i < len && cap > 4) {
		o = o > cap - 4 ? cap - 4 : o;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ---- JSON helpers ---- */

static int parse_object(struct json_doc *d, const char *body, size_t len)
{
	int rc = json_parse(d, body, len);
	if (rc < 0)
		return rc == LG_ENOMEM ? rc : LG_EPARSE;
	return d->toks[0].type == JSON_OBJECT ? 0 : LG_EPARSE;
}

/* An integer given as a JSON number or string (OTLP's int64 mapping). */
static bool int_at(const struct json_doc *d, int t, int64_t *out)
{
	if (t < 0 || (d->toks[t].type != JSON_NUMBER && d->toks[t].type != JSON_STRING))
		return false;
	const char *s = json_text(d, t);
	size_t n = d->toks[t].len;
	if (n == 0 || n > 18)
		return false;
	int64_t v = 0;
	size_t i = s[0] == '-';
	if (i == n)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = s[0] == '-' ? -v : v;
	return true;
}

/* Unescapes string token t into out (cut, NUL-terminated). */
static void str_at(const struct json_doc *d, int t, char *out, size_t cap)
{
	out[0] = '\0';
	if (t < 0 || d->toks[t].type != JSON_STRING || cap == 0)
		return;
	size_t n = d->toks[t].len;
	char *tmp = malloc(n + 1);
	if (!tmp)
		return;
	long m = json_unescape(d, t, tmp, n + 1);
	if (m >= 0)
		http_resp_excerpt(tmp, (size_t)m, out, cap);
	free(tmp);
}

/* ---- Elasticsearch bulk ---- */

/* Appends "TYPE: REASON" of an item's error object to reasons. */
static int put_reason(const struct json_doc *d, int err, struct buf *reasons)
{
	char type[128], reason[512];
	if (d->toks[err].type == JSON_STRING) {
		str_at(d, err, reason, sizeof(reason));
		return buf_puts(reasons, reason);
	}
	if (d->toks[err].type != JSON_OBJECT)
		return 0;
	str_at(d, json_obj_get(d, err, "type"), type, sizeof(type));
	str_at(d, json_obj_get(d, err, "reason"), reason, sizeof(reason));
	return buf_printf(reasons, "%s%s%s", type, *type && *reason ? ": " : "", reason);
}

int http_resp_bulk(struct json_doc *d, const char *body, size_t len, size_t n, bool create,
                   struct http_bulk_item *items, struct buf *reasons, bool *errors)
{
	int rc = parse_object(d, body, len);
	if (rc < 0)
		return rc;
	int e = json_obj_get(d, 0, "errors");
	if (e < 0 || (d->toks[e].type != JSON_TRUE && d->toks[e].type != JSON_FALSE))
		return LG_EPARSE;
	*errors = d->toks[e].type == JSON_TRUE;
	for (size_t i = 0; i < n; i++)
		items[i] = (struct http_bulk_item){200, HTTP_ACK, 0, 0};
	if (!*errors)
		return 0;
	int arr = json_obj_get(d, 0, "items");
	if (arr < 0 || d->toks[arr].type != JSON_ARRAY || d->toks[arr].size != n)
		return LG_EPARSE;
	uint32_t t = (uint32_t)arr + 1;
	for (size_t i = 0; i < n; i++, t = d->toks[t].next) {
		/* {"create": {"status": 201, ...}}: one member, the action. */
		if (d->toks[t].type != JSON_OBJECT || d->toks[t].size != 1)
			return LG_EPARSE;
		int act = (int)t + 2;
		int64_t status;
		if (d->toks[act].type != JSON_OBJECT ||
		    !int_at(d, json_obj_get(d, act, "status"), &status) || status < 100 ||
		    status > 599)
			return LG_EPARSE;
		items[i].status = (int)status;
		items[i].verdict = create && status == 409 ? HTTP_ACK : http_resp_classify(status);
		/* An item cannot be split: a 413 here is this document. */
		if (items[i].verdict == HTTP_SPLIT)
			items[i].verdict = HTTP_REJECT;
		int err = json_obj_get(d, act, "error");
		items[i].reason_off = reasons->len;
		if (err >= 0 && items[i].verdict != HTTP_ACK &&
		    (rc = put_reason(d, err, reasons)) < 0)
			return rc;
		items[i].reason_len = reasons->len - items[i].reason_off;
	}
	return 0;
}

/* ---- Splunk HEC ---- */

int http_resp_hec(struct json_doc *d, const char *body, size_t len, struct http_hec_answer *out)
{
	out->code = -1;
	out->ack_id = -1;
	out->invalid_event = -1;
	out->text[0] = '\0';
	int rc = parse_object(d, body, len);
	if (rc < 0)
		return rc;
	int64_t v;
	if (int_at(d, json_obj_get(d, 0, "code"), &v) && v >= 0 && v < 1000)
		out->code = (int)v;
	if (int_at(d, json_obj_get(d, 0, "ackId"), &v) && v >= 0)
		out->ack_id = v;
	if (int_at(d, json_obj_get(d, 0, "invalid-event-number"), &v) && v >= 0)
		out->invalid_event = v;
	str_at(d, json_obj_get(d, 0, "text"), out->text, sizeof(out->text));
	return 0;
}

int http_resp_hec_verdict(int code)
{
	switch (code) {
	case 0:
		return HTTP_ACK;
	case 1:
	case 2:
	case 3:
	case 4:
	case 7:
	case 10:
	case 11:
	case 14:
	case 16:
		return HTTP_DOWN;
	case 8:
	case 9:
	case 18:
	case 19:
		return HTTP_RETRY;
	case 5:
	case 6:
	case 12:
	case 13:
	case 15:
		return HTTP_REJECT;
	default:
		return -1;
	}
}

int http_resp_hec_acks(struct json_doc *d, const char *body, size_t len,
                       void (*cb)(void *arg, uint64_t id, bool acked), void *arg)
{
	int rc = parse_object(d, body, len);
	if (rc < 0)
		return rc;
	int acks = json_obj_get(d, 0, "acks");
	if (acks < 0 || d->toks[acks].type != JSON_OBJECT)
		return LG_EPARSE;
	uint32_t k = (uint32_t)acks + 1;
	for (uint32_t m = 0; m < d->toks[acks].size; m++, k = d->toks[k + 1].next) {
		int64_t id;
		uint8_t vt = d->toks[k + 1].type;
		if (!int_at(d, (int)k, &id) || id < 0 || (vt != JSON_TRUE && vt != JSON_FALSE))
			return LG_EPARSE;
		cb(arg, (uint64_t)id, vt == JSON_TRUE);
	}
	return 0;
}

/* ---- OTLP ---- */

int http_resp_otlp(struct json_doc *d, const char *body, size_t len, int64_t *rejected, char *msg,
                   size_t msglen)
{
	*rejected = 0;
	if (msglen)
		msg[0] = '\0';
	size_t i = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return 0;
	int rc = parse_object(d, body, len);
	if (rc < 0)
		return rc;
	int ps = json_obj_get(d, 0, "partialSuccess");
	if (ps < 0)
		return 0;
	if (d->toks[ps].type != JSON_OBJECT)
		return LG_EPARSE;
	int r = json_obj_get(d, ps, "rejectedLogRecords");
	if (r >= 0 && !int_at(d, r, rejected))
		return LG_EPARSE;
	str_at(d, json_obj_get(d, ps, "errorMessage"), msg, msglen);
	return 0;
}

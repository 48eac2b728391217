/* The syslog formatter on arbitrary records. Two selector bytes pick the
 * format, mode, framing, size limit and header options; the rest is an event
 * that is normalized into a record first (the path every real record takes),
 * or, with one selector bit, used as the record's JSON as it stands (what a
 * damaged record would be). Every message must fit max_message_size, carry
 * a printable-ASCII header, and frame so that a receiver reads back exactly
 * the messages that were emitted. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "normalize.h"
#include "record.h"
#include "syslog_fmt.h"

#define MAX_EVENT 65536

struct out {
	int framing;
	bool rfc5424;
	size_t max;
	struct buf framed;
	size_t count;
};

/* RFC 5424's header is PRI+VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID
 * and MSGID: six fields of printable US-ASCII separated by single spaces. */
static bool header_ok(const char *msg, size_t len)
{
	size_t i = 0;
	for (int field = 0; field < 6; field++) {
		size_t start = i;
		while (i < len && msg[i] != ' ') {
			if (msg[i] < 33 || msg[i] > 126)
				return false;
			i++;
		}
		if (i == start || i == len)
			return false;
		i++;
	}
	return true;
}

static int emit(void *arg, const char *msg, size_t len)
{
	struct out *o = arg;
	if (len > o->max || len == 0 || msg[0] != '<' || (o->rfc5424 && !header_ok(msg, len)))
		abort();
	o->count++;
	return syslog_fmt_frame(o->framing, msg, len, &o->framed);
}

/* Reads the framed stream back as a receiver would and counts messages. */
static size_t unframe(const struct out *o)
{
	if (o->framed.len == 0)
		return 0;
	const char *p = o->framed.data, *end = p + o->framed.len;
	size_t n = 0;
	while (p < end) {
		if (o->framing == SYSLOG_FMT_OCTET) {
			size_t len = 0;
			const char *q = p;
			while (q < end && *q >= '0' && *q <= '9')
				len = len * 10 + (size_t)(*q++ - '0');
			if (q == p || q >= end || *q != ' ' || len > (size_t)(end - q - 1) ||
			    len > o->max)
				abort();
			p = q + 1 + len;
		} else {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl || (size_t)(nl - p) > o->max)
				abort();
			p = nl + 1;
		}
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static struct norm_scratch scratch;
	static struct json_doc doc;
	static struct buf fmt_scratch;
	static bool ready;
	if (!ready) {
		norm_scratch_init(&scratch, MAX_EVENT);
		json_doc_init(&doc, 8u * MAX_EVENT);
		buf_init(&fmt_scratch, 8192 + 64);
		ready = true;
	}
	unsigned a = data[0], b = data[1];
	static const size_t sizes[] = {SYSLOG_FMT_MIN_SIZE, 1024, 2048, 8192};
	struct syslog_fmt f = {
	    .format = (a & 1) ? SYSLOG_FMT_RFC3164 : SYSLOG_FMT_RFC5424,
	    .mode = (a & 2) ? SYSLOG_FMT_LINE : SYSLOG_FMT_REQUEST,
	    .facility = (int)(b % 24),
	    .hostname =
	        (a & 16) ? "h\xc3\xa9st name with spaces and a very long tail that goes on" : NULL,
	    .app_name = (a & 32) ? "{function_name}-{project_id}/{function_id}" : NULL,
	    .sd_id = (a & 64) ? "x@1" : NULL,
	    .max_message_size = sizes[(a >> 2) & 3],
	};
	struct out o = {.max = f.max_message_size};
	o.framing = (b & 0x80) ? SYSLOG_FMT_LF : SYSLOG_FMT_OCTET;
	f.escape_lf = o.framing == SYSLOG_FMT_LF;
	o.rfc5424 = f.format == SYSLOG_FMT_RFC5424;

	struct record *r = NULL;
	const char *ev = (const char *)data + 2;
	size_t ev_len = size - 2;
	if (a & 0x80) {
		char *json = malloc(ev_len + 1), *id = strdup("raw");
		if (!json || !id)
			abort();
		memcpy(json, ev, ev_len);
		json[ev_len] = '\0';
		r = record_new(RECORD_REQUEST, id, json, ev_len);
		if (!r)
			abort();
		r->level = (enum record_level)(b & 3);
		r->start_ms = (int64_t)(b & 0x3f) * 86400000LL * 366;
		r->project_id = "p1";
		r->function_id = "f1";
		r->function_name = "fn \"one\"]";
	} else {
		struct norm_ctx ctx = {.project_id = "p1",
		                       .function_id = "f1",
		                       .function_name = "fn-one",
		                       .include_bodies = true,
		                       .host = "h",
		                       .version = "0"};
		const char *why;
		if (norm_event(&ctx, &scratch, ev, ev_len, &r, NULL, &why) != 0)
			return 0;
	}
	buf_init(&o.framed, 64u << 20);
	struct syslog_fmt_stats st = {0};
	int rc = syslog_fmt_record(&f, r, &doc, &fmt_scratch, &st, emit, &o);
	if (rc != 0 && rc != LG_EPARSE && rc != LG_ENOMEM)
		abort();
	if (rc == 0 && (st.messages != o.count || o.count == 0))
		abort();
	if (unframe(&o) != o.count)
		abort();
	buf_free(&o.framed);
	record_unref(r);
	return 0;
}

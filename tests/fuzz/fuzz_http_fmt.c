/* The HTTP sink's formatters on arbitrary batches. The first byte picks the
 * format, the templates, the Loki labels and the function's name (quotes,
 * backslashes, control characters, invalid UTF-8); the rest is split at
 * newlines into up to 64 events, normalized into records (the path every
 * real record takes), or with one selector bit used as records' JSON as
 * they stand (damaged records). The body never outgrows its bound silently
 * (LG_ETOOBIG), and gzip inflates back to it byte for byte; from normalized
 * records every format's body is strict JSON: each line for the line
 * formats, the whole body for the others. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"
#include "http_fmt.h"
#include "json.h"
#include "normalize.h"
#include "record.h"

#define MAX_EVENT 65536
#define MAX_RECS 64
#define BODY_MAX (8u << 20)

static const char *const names[] = {"fn-one", "say \"hi\"\\now", "\x01tab\there\x7f",
                                    "caf\xc3\xa9 \xff\xfe broken", "UPPER Case/With:Chars*?"};

static void check_json(struct json_doc *doc, const char *s, size_t n)
{
	if (json_parse(doc, s, n) != 0)
		abort();
}

/* Every line (line formats) or the whole body parses. */
static void check_body(int format, const struct buf *b)
{
	static struct json_doc doc;
	static bool ready;
	if (!ready) {
		json_doc_init(&doc, BODY_MAX + 1);
		ready = true;
	}
	bool lines = format == HTTP_FMT_NDJSON || format == HTTP_FMT_SPLUNK_HEC ||
	             format == HTTP_FMT_ES_BULK;
	if (!lines) {
		check_json(&doc, b->data, b->len);
		return;
	}
	if (b->len == 0 || b->data[b->len - 1] != '\n')
		abort();
	for (size_t i = 0; i < b->len;) {
		const char *nl = memchr(b->data + i, '\n', b->len - i);
		check_json(&doc, b->data + i, (size_t)(nl - (b->data + i)));
		i = (size_t)(nl - b->data) + 1;
	}
}

static void check_gzip(const struct buf *b)
{
	struct buf gz;
	buf_init(&gz, b->len + b->len / 100 + 65536);
	if (http_fmt_gzip(b->data, b->len, 1, &gz) != 0)
		abort();
	char *out = malloc(b->len + 1);
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (!out || inflateInit2(&z, 15 + 16) != Z_OK)
		abort();
	z.next_in = (Bytef *)gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)b->len + 1;
	if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out != b->len ||
	    memcmp(out, b->data, b->len) != 0)
		abort();
	inflateEnd(&z);
	free(out);
	buf_free(&gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct norm_scratch scratch;
	static bool ready;
	if (!ready) {
		norm_scratch_init(&scratch, MAX_EVENT);
		ready = true;
	}
	unsigned a = data[0];
	bool raw = a & 0x80;
	const char *fname = names[(a >> 3) % (sizeof(names) / sizeof(names[0]))];
	struct http_fmt f = {.format = (int)(a % 6), .host = (a & 0x40) ? "h\"\\\x01" : "host"};
	if (a & 0x08) {
		f.source = "{project}/{function}/{function_name}/{kind}/{level}";
		f.sourcetype = "%Y.%m.%d-%H%%";
		f.index = "Idx-{function_name}-%Y.%m.%d";
		f.bulk_index = true;
	} else {
		f.source = "sinch:{function_name}";
		f.sourcetype = "_json";
	}
	char err[128];
	const char *labels[] = {"function", "level", (a & 0x20) ? "env=pr\"od\\" : "kind",
	                        "function_id", "project"};
	for (size_t i = 0; i < 5; i++)
		if (http_fmt_label_parse(labels[i], &f.labels[f.nlabels++], err, sizeof(err)) != 0)
			abort();

	struct record *recs[MAX_RECS];
	size_t n = 0;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	while (p < end && n < MAX_RECS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct record *r = NULL;
		if (raw) {
			char *json = malloc(len + 1), *id = malloc(16);
			if (!json || !id)
				abort();
			memcpy(json, p, len);
			json[len] = '\0';
			snprintf(id, 16, "r%zu", n);
			r = record_new((enum record_kind)(len % RECORD_KIND_COUNT), id, json, len);
			if (!r)
				abort();
			r->level = (enum record_level)(len % 4);
			r->start_ms = ((int64_t)len - 32) * 86400000LL * 97;
			r->project_id = "p\"1";
			r->function_id = (len & 1) ? "f1" : "f2";
			r->function_name = fname;
		} else {
			struct norm_ctx ctx = {.project_id = "p1",
			                       .function_id = (len & 1) ? "f1" : "f2",
			                       .function_name = fname,
			                       .include_bodies = true,
			                       .host = "h",
			                       .version = "0"};
			const char *why;
			if (norm_event(&ctx, &scratch, p, len, &r, NULL, &why) != 0)
				r = NULL;
		}
		if (r)
			recs[n++] = r;
		p += len + 1;
	}
	struct buf body;
	buf_init(&body, BODY_MAX);
	size_t bad = SIZE_MAX;
	int rc = http_fmt_body(&f, recs, n, &body, &bad);
	if (rc == LG_EPARSE && (f.format != HTTP_FMT_OTLP_JSON || !raw || bad >= n))
		abort();
	if (rc != 0 && rc != LG_EPARSE && rc != LG_ETOOBIG && rc != LG_ENOMEM)
		abort();
	if (rc == 0 && n > 0) {
		if (!raw)
			check_body(f.format, &body);
		if (body.len <= (1u << 20))
			check_gzip(&body);
	}
	buf_free(&body);
	for (size_t i = 0; i < n; i++)
		record_unref(recs[i]);
	return 0;
}

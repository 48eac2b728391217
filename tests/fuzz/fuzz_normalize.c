/* The normalizer on arbitrary bytes (JSON or not). The first byte picks the
 * context (bodies kept or not, redaction lists, labels); the rest is the
 * event. Whatever it is, the result is an error with a reason, or a record
 * whose JSON is one line of strict JSON in valid UTF-8, with its id hashed
 * as checkpoints expect. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "normalize.h"
#include "record.h"

#define MAX_EVENT 65536

static char *hdr_items[] = {"authorization", "x-secret"};
static const struct opt_list hdr_list = {hdr_items, 2};
static char *query_items[] = {"token", "api_key", "k%20ey"};
static const struct opt_list query_list = {query_items, 3};

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			len = 2, cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3, cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4, cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct norm_scratch scratch;
	static struct json_doc doc;
	static bool ready;
	if (!ready) {
		norm_scratch_init(&scratch, MAX_EVENT);
		json_doc_init(&doc, 8u * MAX_EVENT);
		ready = true;
	}
	unsigned sel = data[0];
	struct norm_ctx ctx = {
	    .project_id = (sel & 1) ? "p1" : NULL,
	    .function_id = "f1",
	    .function_name = (sel & 2) ? "fn-one" : NULL,
	    .include_bodies = sel & 4,
	    .redact_headers = (sel & 8) ? &hdr_list : NULL,
	    .redact_query = (sel & 16) ? &query_list : NULL,
	    .labels_json = (sel & 32) ? "{\"env\":\"prod\"}" : NULL,
	    .host = (sel & 64) ? "host" : NULL,
	    .version = "0.0.0-fuzz",
	};
	struct record *r = NULL;
	struct norm_stats st = {0};
	const char *why = NULL;
	int rc = norm_event(&ctx, &scratch, (const char *)data + 1, size - 1, &r, &st, &why);
	if (rc != 0) {
		if (r || (rc != LG_EPARSE && rc != LG_ETOOBIG && rc != LG_ENOMEM))
			abort();
		if (rc == LG_EPARSE && (!why || !*why))
			abort();
		return 0;
	}
	if (!r || !r->id || !r->json || strlen(r->json) != r->json_len)
		abort();
	if (memchr(r->json, '\n', r->json_len) ||
	    !utf8_valid((unsigned char *)r->json, r->json_len))
		abort();
	if (json_parse(&doc, r->json, r->json_len) != 0 || doc.toks[0].type != JSON_OBJECT) {
		fprintf(stderr, "fuzz_normalize: record is not a JSON object: %s\n", r->json);
		abort();
	}
	if (r->id_hash != record_hash(r->id, strlen(r->id)))
		abort();
	record_unref(r);
	return 0;
}

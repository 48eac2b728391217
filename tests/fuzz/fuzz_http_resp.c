/* The HTTP sink's answer parsers on arbitrary collector answers. The first
 * byte picks the parser (Elasticsearch bulk for 0..63 actions, create or
 * index; Splunk HEC; HEC acks; OTLP partial success; Retry-After; the log
 * excerpt); the rest is the answer. Whatever it is, a parser either refuses
 * it or returns facts within their ranges: statuses 100..599 with a valid
 * verdict and a reason inside its buffer, codes and ids not below -1,
 * printable one-line texts, a delay within its cap. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http_resp.h"

#define MAX_ANSWER 65536

static void printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

static void on_ack(void *arg, uint64_t id, bool acked)
{
	(void)acked;
	uint64_t *count = arg;
	(*count)++;
	if (id > (uint64_t)INT64_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > MAX_ANSWER)
		return 0;
	static struct json_doc doc;
	static bool ready;
	if (!ready) {
		json_doc_init(&doc, MAX_ANSWER + 1);
		ready = true;
	}
	unsigned a = data[0];
	/* The answer in a buffer of its exact size: ASan sees a read past it. */
	size_t len = size - 1;
	char *body = malloc(len ? len : 1);
	if (!body)
		abort();
	memcpy(body, data + 1, len);
	switch (a >> 6) {
	case 0: {
		size_t n = a & 0x3f;
		struct http_bulk_item items[64];
		struct buf reasons;
		buf_init(&reasons, MAX_ANSWER);
		bool errors = false;
		int rc = http_resp_bulk(&doc, body, len, n, a & 0x20, items, &reasons, &errors);
		if (rc != 0 && rc != LG_EPARSE)
			abort();
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (items[i].status < 100 || items[i].status > 599 ||
			    items[i].verdict < 0 || items[i].verdict > HTTP_REJECT ||
			    items[i].verdict == HTTP_SPLIT ||
			    items[i].reason_off + items[i].reason_len > reasons.len)
				abort();
			if (!errors && items[i].verdict != HTTP_ACK)
				abort();
		}
		buf_free(&reasons);
		break;
	}
	case 1: {
		struct http_hec_answer h;
		int rc = http_resp_hec(&doc, body, len, &h);
		if (rc != 0 && rc != LG_EPARSE)
			abort();
		if (h.code < -1 || h.code > 999 || h.ack_id < -1 || h.invalid_event < -1)
			abort();
		printable(h.text);
		int v = http_resp_hec_verdict(h.code);
		if (v < -1 || v > HTTP_REJECT)
			abort();
		break;
	}
	case 2: {
		uint64_t count = 0;
		int rc =
		    a & 1 ? http_resp_hec_acks(&doc, body, len, on_ack, &count)
		          : http_resp_otlp(&doc, body, len, (int64_t *)&count, (char[64]){0}, 64);
		if (rc != 0 && rc != LG_EPARSE)
			abort();
		break;
	}
	default: {
		char text[256], out[64];
		size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
		memcpy(text, body, n);
		text[n] = '\0';
		const int64_t max = 900000;
		int64_t ms = http_resp_retry_after(text, (time_t)(a & 0x3f) * 86400 * 365, max);
		if (ms < -1 || ms > max)
			abort();
		http_resp_excerpt(body, len, out, (a & 0x3f) + 1);
		if (strlen(out) > (a & 0x3fu))
			abort();
		printable(out);
		break;
	}
	}
	free(body);
	return 0;
}

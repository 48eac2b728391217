/* An answer of GET …/logs (historical logs), as arbitrary bytes: parsed as
 * the history reader does, then every entry's start time read and the entry
 * normalized, the path each historical entry takes. Nothing may crash; the
 * entries walked are exactly the "requests" array's. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "history.h"
#include "json.h"
#include "normalize.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_doc doc;
	static struct norm_scratch scratch;
	static bool ready;
	if (!ready) {
		json_doc_init(&doc, 1u << 20);
		norm_scratch_init(&scratch, 1u << 20);
		ready = true;
	}
	struct history_page pg;
	int rc = history_parse_page(&doc, (const char *)data, size, &pg);
	if (rc) {
		if (rc != LG_EPARSE && rc != LG_ETOOBIG && rc != LG_ENOMEM)
			abort();
		return 0;
	}
	if (doc.toks[pg.requests].type != JSON_ARRAY || pg.total_count < -1 || pg.total_pages < -1)
		abort();
	struct norm_ctx ctx = {.project_id = "p", .function_id = "f", .function_name = "fn"};
	int el = pg.requests + 1;
	for (uint32_t i = 0; i < pg.n; i++) {
		if ((uint32_t)el >= doc.n)
			abort();
		(void)history_entry_start(&doc, el);
		const struct json_tok *t = &doc.toks[el];
		struct record *r = NULL;
		const char *why;
		if (norm_event(&ctx, &scratch, json_text(&doc, el), t->len, &r, NULL, &why) == 0)
			record_unref(r);
		el = (int)t->next;
	}
	if ((uint32_t)el != doc.toks[pg.requests].next)
		abort();
	return 0;
}

/* json: a strict RFC 8259 reader and the writer helpers the normalizer
 * builds records with.
 *
 * json_parse() tokenizes a whole document into a flat, jsmn-like array of
 * tokens in document order. Tokens are zero-copy slices of the input, which
 * must outlive the doc's use: numbers keep their exact source text (no
 * rounding past 2^53) and strings keep their escaped source text, so U+0000
 * (written \u0000) never truncates anything. The reader rejects what RFC 8259
 * rejects (bad numbers, raw control characters in strings, bad escapes,
 * trailing garbage) and nesting deeper than JSON_MAX_DEPTH; it accepts
 * invalid UTF-8 and lone surrogate escapes, which the writers repair to
 * U+FFFD and count. A doc is reused across documents: in the steady state
 * parsing allocates nothing, and the token array is bounded at creation.
 *
 * The writers append to a bounded struct buf and return 0, LG_ETOOBIG or
 * LG_ENOMEM; what they write is always valid UTF-8, one-line JSON. */
#ifndef SINCH_JSON_H
#define SINCH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

/* String token flags: what the fast paths must not skip. */
#define JSON_F_ESCAPED 0x1u  /* has backslash escapes */
#define JSON_F_NONASCII 0x2u /* has bytes >= 0x80 (UTF-8 unchecked) */
#define JSON_F_SURR 0x4u     /* has a \uD800-\uDFFF escape (maybe unpaired) */
/* Container flag: some string inside has one of the flags above. */
#define JSON_F_DEEP 0x8u

struct json_tok {
	uint8_t type;
	uint8_t flags;
	/* Strings: the text between the quotes. Others: the whole value. */
	uint32_t start, len;
	/* Objects: members (key/value pairs); arrays: elements. Keys are
	 * string tokens, each followed by its value's subtree. */
	uint32_t size;
	/* The index just past this token's subtree: its next sibling. */
	uint32_t next;
};

struct json_doc {
	const char *src;
	size_t src_len;
	struct json_tok *toks;
	uint32_t n, cap, max;
	size_t err_off;  /* after LG_EPARSE: the byte offset of the error */
	const char *err; /* after LG_EPARSE: a short static reason */
};

/* max_tokens bounds the token array (a token needs at least one input byte,
 * so the largest accepted input's size is always enough). */
void json_doc_init(struct json_doc *d, uint32_t max_tokens);
void json_doc_free(struct json_doc *d);
/* Returns 0 with the root at index 0, LG_EPARSE (err and err_off set),
 * LG_ETOOBIG (more tokens than max, or input over 4 GiB) or LG_ENOMEM. */
int json_parse(struct json_doc *d, const char *src, size_t len);

static inline const char *json_text(const struct json_doc *d, int tok)
{
	return d->src + d->toks[tok].start;
}

/* The value of key in object obj (the last one if repeated), or -1. Keys
 * are compared after unescaping. */
int json_obj_get(const struct json_doc *d, int obj, const char *key);
/* Whether string token tok unescapes to exactly s[0..n). */
bool json_str_eq(const struct json_doc *d, int tok, const char *s, size_t n);
/* Unescapes string token tok into at most cap bytes of dst (never more
 * than its source length); lone surrogates become U+FFFD. Returns the length,
 * or -1 if it does not fit. */
long json_unescape(const struct json_doc *d, int tok, char *dst, size_t cap);
/* Whether s[0..n) is exactly an RFC 8259 number. */
bool json_is_number(const char *s, size_t n);

/* Appends s[0..n) as a JSON string: quotes, escapes (U+0000 as \u0000),
 * each maximal invalid UTF-8 subpart replaced by U+FFFD and counted in
 * *repairs. */
int json_write_str(struct buf *b, const char *s, size_t n, size_t *repairs);
/* Appends string token tok as a JSON string, repairing its invalid UTF-8
 * and lone surrogates (counted in *repairs). */
int json_write_strtok(struct buf *b, const struct json_doc *d, int tok, size_t *repairs);
/* Appends the value at tok, compacted to one line, its strings repaired. */
int json_write_value(struct buf *b, const struct json_doc *d, int tok, size_t *repairs);

#endif

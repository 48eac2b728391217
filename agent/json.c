#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Container flag: whitespace between its tokens, so it cannot be copied as
 * one slice into a one-line record. */
#define JSON_F_WS 0x10u

/* Byte classes inside a string: what the scanning loop must stop at. */
enum { C_PLAIN, C_QUOTE, C_BSLASH, C_CTRL, C_HIGH };

#define X16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v

static const unsigned char str_class[256] = {
    X16(C_CTRL),
    X16(C_CTRL),
    0,
    0,
    C_QUOTE,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    X16(C_PLAIN),
    X16(C_PLAIN),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    C_BSLASH,
    0,
    0,
    0,
    X16(C_PLAIN),
    X16(C_PLAIN),
    X16(C_HIGH),
    X16(C_HIGH),
    X16(C_HIGH),
    X16(C_HIGH),
    X16(C_HIGH),
    X16(C_HIGH),
    X16(C_HIGH),
    X16(C_HIGH),
};

/* Output: 0 = copy, 1 = escape, 2 = part of a UTF-8 sequence to check. */
static const unsigned char out_class[256] = {
    X16(1), X16(1), 0,      0,      1,      0,      0,      0,      0,      0,      0, 0,
    0,      0,      0,      0,      0,      0,      X16(0), X16(0), 0,      0,      0, 0,
    0,      0,      0,      0,      0,      0,      0,      0,      1,      0,      0, 0,
    X16(0), X16(0), X16(2), X16(2), X16(2), X16(2), X16(2), X16(2), X16(2), X16(2),
};

void json_doc_init(struct json_doc *d, uint32_t max_tokens)
{
	memset(d, 0, sizeof(*d));
	d->max = max_tokens;
}

void json_doc_free(struct json_doc *d)
{
	free(d->toks);
	d->toks = NULL;
	d->n = d->cap = 0;
}

struct parser {
	struct json_doc *d;
	const char *s;
	size_t n, pos;
};

static int fail(struct parser *p, const char *why)
{
	p->d->err = why;
	p->d->err_off = p->pos;
	return LG_EPARSE;
}

static int new_tok(struct parser *p, int type, size_t start)
{
	struct json_doc *d = p->d;
	if (d->n == d->cap) {
		if (d->cap >= d->max)
			return LG_ETOOBIG;
		uint32_t cap = d->cap ? d->cap * 2 : 64;
		if (cap > d->max || cap < d->cap)
			cap = d->max;
		struct json_tok *t = realloc(d->toks, (size_t)cap * sizeof(*t));
		if (!t)
			return LG_ENOMEM;
		d->toks = t;
		d->cap = cap;
	}
	struct json_tok *t = &d->toks[d->n];
	t->type = (uint8_t)type;
	t->flags = 0;
	t->start = (uint32_t)start;
	t->len = 0;
	t->size = 0;
	t->next = d->n + 1;
	return (int)d->n++;
}

/* Skips RFC 8259 whitespace; whether there was any. */
static bool skip_ws(struct parser *p)
{
	size_t i = p->pos;
	while (i < p->n &&
	       (p->s[i] == ' ' || p->s[i] == '\n' || p->s[i] == '\r' || p->s[i] == '\t'))
		i++;
	bool any = i != p->pos;
	p->pos = i;
	return any;
}

static size_t scan_digits(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* The length of the RFC 8259 number at the start of s, 0 if none. */
static size_t scan_number(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		i = scan_digits(s, n, i);
	else
		return 0;
	if (i < n && s[i] == '.') {
		size_t j = scan_digits(s, n, i + 1);
		if (j == i + 1)
			return 0;
		i = j;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t j = scan_digits(s, n, i);
		if (j == i)
			return 0;
		i = j;
	}
	return i;
}

bool json_is_number(const char *s, size_t n)
{
	return n > 0 && scan_number(s, n) == n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at s (already validated by the parser, or checked here). */
static long hex4(const char *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static int parse_string(struct parser *p)
{
	const char *s = p->s;
	size_t i = p->pos + 1;
	unsigned flags = 0;
	int t = new_tok(p, JSON_STRING, i);
	if (t < 0)
		return t;
	for (;;) {
		while (i < p->n && str_class[(unsigned char)s[i]] == C_PLAIN)
			i++;
		if (i >= p->n) {
			p->pos = i;
			return fail(p, "unterminated string");
		}
		switch (str_class[(unsigned char)s[i]]) {
		case C_QUOTE:
			p->d->toks[t].len = (uint32_t)(i - p->d->toks[t].start);
			p->d->toks[t].flags = (uint8_t)flags;
			p->pos = i + 1;
			return t;
		case C_HIGH:
			flags |= JSON_F_NONASCII;
			i++;
			break;
		case C_CTRL:
			p->pos = i;
			return fail(p, "control character in string");
		default:
			flags |= JSON_F_ESCAPED;
			if (i + 1 >= p->n) {
				p->pos = i;
				return fail(p, "unterminated string");
			}
			switch (s[i + 1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				i += 2;
				break;
			case 'u': {
				long v = i + 6 <= p->n ? hex4(s + i + 2) : -1;
				if (v < 0) {
					p->pos = i;
					return fail(p, "bad \\u escape");
				}
				if (v >= 0xD800 && v <= 0xDFFF)
					flags |= JSON_F_SURR;
				i += 6;
				break;
			}
			default:
				p->pos = i;
				return fail(p, "bad escape");
			}
		}
	}
}

static int parse_value(struct parser *p, unsigned depth);

/* What a child tells its container about the strings inside it. */
static unsigned deep_flags(const struct json_tok *t)
{
	if (t->type == JSON_STRING)
		return t->flags & (JSON_F_NONASCII | JSON_F_SURR) ? JSON_F_DEEP : 0;
	return t->flags & (JSON_F_DEEP | JSON_F_WS);
}

static int parse_container(struct parser *p, unsigned depth)
{
	bool obj = p->s[p->pos] == '{';
	char close = obj ? '}' : ']';
	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nested too deeply");
	int t = new_tok(p, obj ? JSON_OBJECT : JSON_ARRAY, p->pos);
	if (t < 0)
		return t;
	unsigned flags = 0;
	p->pos++;
	if (skip_ws(p))
		flags |= JSON_F_WS;
	if (p->pos < p->n && p->s[p->pos] == close)
		goto done;
	for (;;) {
		if (obj) {
			if (p->pos >= p->n || p->s[p->pos] != '"')
				return fail(p,
				            p->pos >= p->n ? "truncated" : "expected a string key");
			int k = parse_string(p);
			if (k < 0)
				return k;
			flags |= deep_flags(&p->d->toks[k]);
			if (skip_ws(p))
				flags |= JSON_F_WS;
			if (p->pos >= p->n || p->s[p->pos] != ':')
				return fail(p, p->pos >= p->n ? "truncated" : "expected ':'");
			p->pos++;
			if (skip_ws(p))
				flags |= JSON_F_WS;
		}
		int v = parse_value(p, depth + 1);
		if (v < 0)
			return v;
		flags |= deep_flags(&p->d->toks[v]);
		p->d->toks[t].size++;
		if (skip_ws(p))
			flags |= JSON_F_WS;
		if (p->pos >= p->n)
			return fail(p, "truncated");
		if (p->s[p->pos] == close)
			break;
		if (p->s[p->pos] != ',')
			return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		p->pos++;
		if (skip_ws(p))
			flags |= JSON_F_WS;
	}
done:
	if (p->pos >= p->n)
		return fail(p, "truncated");
	p->pos++;
	struct json_tok *tok = &p->d->toks[t];
	tok->len = (uint32_t)(p->pos - tok->start);
	tok->flags = (uint8_t)flags;
	tok->next = p->d->n;
	return t;
}

static int parse_literal(struct parser *p, const char *word, int type)
{
	size_t len = strlen(word);
	if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
		return fail(p, "invalid literal");
	int t = new_tok(p, type, p->pos);
	if (t < 0)
		return t;
	p->d->toks[t].len = (uint32_t)len;
	p->pos += len;
	return t;
}

static int parse_value(struct parser *p, unsigned depth)
{
	if (p->pos >= p->n)
		return fail(p, "truncated");
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		return parse_container(p, depth);
	case '"':
		return parse_string(p);
	case 't':
		return parse_literal(p, "true", JSON_TRUE);
	case 'f':
		return parse_literal(p, "false", JSON_FALSE);
	case 'n':
		return parse_literal(p, "null", JSON_NULL);
	default: {
		size_t len = scan_number(p->s + p->pos, p->n - p->pos);
		if (len == 0)
			return fail(p, "unexpected character");
		int t = new_tok(p, JSON_NUMBER, p->pos);
		if (t < 0)
			return t;
		p->d->toks[t].len = (uint32_t)len;
		p->pos += len;
		return t;
	}
	}
}

int json_parse(struct json_doc *d, const char *src, size_t len)
{
	d->n = 0;
	d->src = src;
	d->src_len = len;
	d->err = NULL;
	d->err_off = 0;
	if (len > UINT32_MAX)
		return LG_ETOOBIG;
	struct parser p = {.d = d, .s = src, .n = len, .pos = 0};
	skip_ws(&p);
	int rc = parse_value(&p, 0);
	if (rc < 0)
		return rc;
	skip_ws(&p);
	if (p.pos != len)
		return fail(&p, "trailing garbage");
	return 0;
}

static size_t utf8_encode(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static bool is_high_surr(long v)
{
	return v >= 0xD800 && v <= 0xDBFF;
}

static bool is_low_surr(long v)
{
	return v >= 0xDC00 && v <= 0xDFFF;
}

/* Whether a \uDC00-\uDFFF escape starts at s[i] (bounded by n). */
static bool low_surr_at(const char *s, size_t n, size_t i)
{
	return i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' && is_low_surr(hex4(s + i + 2));
}

/* Decodes one unit of validated string source at s[*i] into out (<= 4
 * bytes); a lone surrogate becomes U+FFFD. */
static size_t unescape_one(const char *s, size_t n, size_t *i, char *out)
{
	char c = s[*i];
	if (c != '\\') {
		out[0] = c;
		(*i)++;
		return 1;
	}
	char e = s[*i + 1];
	*i += 2;
	switch (e) {
	case 'b':
		out[0] = '\b';
		return 1;
	case 'f':
		out[0] = '\f';
		return 1;
	case 'n':
		out[0] = '\n';
		return 1;
	case 'r':
		out[0] = '\r';
		return 1;
	case 't':
		out[0] = '\t';
		return 1;
	case 'u':
		break;
	default:
		out[0] = e;
		return 1;
	}
	long v = hex4(s + *i);
	*i += 4;
	if (is_high_surr(v) && low_surr_at(s, n, *i)) {
		long w = hex4(s + *i + 2);
		*i += 6;
		return utf8_encode(0x10000 + (((unsigned long)v - 0xD800) << 10) +
		                       ((unsigned long)w - 0xDC00),
		                   out);
	}
	if (v >= 0xD800 && v <= 0xDFFF)
		v = 0xFFFD;
	return utf8_encode((unsigned long)v, out);
}

long json_unescape(const struct json_doc *d, int tok, char *dst, size_t cap)
{
	const struct json_tok *t = &d->toks[tok];
	const char *s = d->src + t->start;
	if (!(t->flags & JSON_F_ESCAPED)) {
		if (t->len > cap)
			return -1;
		memcpy(dst, s, t->len);
		return (long)t->len;
	}
	size_t i = 0, o = 0;
	char u[4];
	while (i < t->len) {
		size_t k = unescape_one(s, t->len, &i, u);
		if (o + k > cap)
			return -1;
		memcpy(dst + o, u, k);
		o += k;
	}
	return (long)o;
}

bool json_str_eq(const struct json_doc *d, int tok, const char *str, size_t n)
{
	const struct json_tok *t = &d->toks[tok];
	if (t->type != JSON_STRING)
		return false;
	const char *s = d->src + t->start;
	if (!(t->flags & JSON_F_ESCAPED))
		return t->len == n && memcmp(s, str, n) == 0;
	/* Unescaping never lengthens: a shorter source cannot match. */
	if (t->len < n)
		return false;
	size_t i = 0, o = 0;
	char u[4];
	while (i < t->len) {
		size_t k = unescape_one(s, t->len, &i, u);
		if (o + k > n || memcmp(str + o, u, k) != 0)
			return false;
		o += k;
	}
	return o == n;
}

int json_obj_get(const struct json_doc *d, int obj, const char *key)
{
	const struct json_tok *o = &d->toks[obj];
	if (o->type != JSON_OBJECT)
		return -1;
	size_t klen = strlen(key);
	int found = -1;
	int k = obj + 1;
	for (uint32_t m = 0; m < o->size; m++) {
		if (json_str_eq(d, k, key, klen))
			found = k + 1;
		k = (int)d->toks[k + 1].next;
	}
	return found;
}

/* The length of the valid UTF-8 sequence at s, or 0 with *bad set to the
 * length of its maximal invalid subpart (Unicode's recommended practice for
 * U+FFFD substitution). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned c = s[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t need;
	if (c < 0x80)
		return 1;
	if (c < 0xC2) {
		*bad = 1;
		return 0;
	}
	if (c < 0xE0) {
		need = 1;
	} else if (c < 0xF0) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*bad = 1;
		return 0;
	}
	size_t i = 1;
	for (; i <= need && i < n; i++) {
		unsigned cc = s[i];
		if (i == 1 ? cc < lo || cc > hi : cc < 0x80 || cc > 0xBF)
			break;
	}
	if (i == need + 1)
		return i;
	*bad = i;
	return 0;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

static int put_escape(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\', 0, 0, 0, 0, 0};
	switch (c) {
	case '"':
	case '\\':
		e[1] = (char)c;
		return buf_append(b, e, 2);
	case '\b':
		e[1] = 'b';
		return buf_append(b, e, 2);
	case '\f':
		e[1] = 'f';
		return buf_append(b, e, 2);
	case '\n':
		e[1] = 'n';
		return buf_append(b, e, 2);
	case '\r':
		e[1] = 'r';
		return buf_append(b, e, 2);
	case '\t':
		e[1] = 't';
		return buf_append(b, e, 2);
	default:
		memcpy(e + 1, "u00", 3);
		e[4] = hex[c >> 4];
		e[5] = hex[c & 0xF];
		return buf_append(b, e, 6);
	}
}

int json_write_str(struct buf *b, const char *str, size_t n, size_t *repairs)
{
	const unsigned char *s = (const unsigned char *)str;
	/* The output is never shorter than the input plus quotes. */
	int rc = buf_reserve(b, n + 2);
	if (rc)
		return rc;
	b->data[b->len++] = '"';
	size_t run = 0, i = 0;
	while (i < n) {
		unsigned cls = out_class[s[i]];
		if (cls == 0) {
			i++;
			continue;
		}
		size_t bad = 0;
		if (cls == 2) {
			size_t k = utf8_seq(s + i, n - i, &bad);
			if (k) {
				i += k;
				continue;
			}
		}
		if ((rc = buf_append(b, s + run, i - run)))
			return rc;
		if (bad) {
			rc = buf_append(b, REPLACEMENT, 3);
			(*repairs)++;
			i += bad;
		} else {
			rc = put_escape(b, s[i]);
			i++;
		}
		if (rc)
			return rc;
		run = i;
	}
	if ((rc = buf_append(b, s + run, n - run)))
		return rc;
	return buf_putc(b, '"');
}

int json_write_strtok(struct buf *b, const struct json_doc *d, int tok, size_t *repairs)
{
	const struct json_tok *t = &d->toks[tok];
	const char *s = d->src + t->start;
	size_t n = t->len;
	int rc = buf_reserve(b, n + 2);
	if (rc)
		return rc;
	b->data[b->len++] = '"';
	if (!(t->flags & (JSON_F_NONASCII | JSON_F_SURR))) {
		/* The source is valid JSON string text already. */
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len++] = '"';
		b->data[b->len] = '\0';
		return 0;
	}
	size_t run = 0, i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t bad = 0;
		if (c == '\\') {
			if (s[i + 1] != 'u') {
				i += 2;
				continue;
			}
			long v = hex4(s + i + 2);
			if (is_high_surr(v) && low_surr_at(s, n, i + 6)) {
				i += 12;
				continue;
			}
			if (v < 0xD800 || v > 0xDFFF) {
				i += 6;
				continue;
			}
			bad = 6;
		} else if (c < 0x80) {
			i++;
			continue;
		} else {
			size_t k = utf8_seq((const unsigned char *)s + i, n - i, &bad);
			if (k) {
				i += k;
				continue;
			}
		}
		if ((rc = buf_append(b, s + run, i - run)) || (rc = buf_append(b, REPLACEMENT, 3)))
			return rc;
		(*repairs)++;
		i += bad;
		run = i;
	}
	if ((rc = buf_append(b, s + run, n - run)))
		return rc;
	return buf_putc(b, '"');
}

int json_write_value(struct buf *b, const struct json_doc *d, int tok, size_t *repairs)
{
	const struct json_tok *t = &d->toks[tok];
	if (t->type == JSON_STRING)
		return json_write_strtok(b, d, tok, repairs);
	if ((t->type != JSON_OBJECT && t->type != JSON_ARRAY) ||
	    !(t->flags & (JSON_F_DEEP | JSON_F_WS)))
		return buf_append(b, d->src + t->start, t->len);
	bool obj = t->type == JSON_OBJECT;
	int rc = buf_putc(b, obj ? '{' : '[');
	int c = tok + 1;
	for (uint32_t m = 0; m < t->size && !rc; m++) {
		if (m && (rc = buf_putc(b, ',')))
			break;
		if (obj) {
			if ((rc = json_write_strtok(b, d, c, repairs)) || (rc = buf_putc(b, ':')))
				break;
			c++;
		}
		rc = json_write_value(b, d, c, repairs);
		c = (int)d->toks[c].next;
	}
	return rc ? rc : buf_putc(b, obj ? '}' : ']');
}

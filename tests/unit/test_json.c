/* The JSON reader and writers: token shapes, what RFC 8259 rejects, the
 * depth limit, exact numbers, U+0000, surrogates and UTF-8 repair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"

static int parse(struct json_doc *d, const char *s)
{
	return json_parse(d, s, strlen(s));
}

static void test_tokens(void **state)
{
	(void)state;
	struct json_doc d;
	json_doc_init(&d, 1000);
	const char *s = "{\"a\":[1,{\"b\":null},\"x\"],\"c\":true,\"d\":-0.5e+3}";
	assert_int_equal(parse(&d, s), 0);
	assert_int_equal(d.n, 12);
	assert_int_equal(d.toks[0].type, JSON_OBJECT);
	assert_int_equal(d.toks[0].size, 3);
	assert_int_equal(d.toks[0].next, 12);
	assert_int_equal(d.toks[0].len, strlen(s));
	assert_int_equal(d.toks[1].type, JSON_STRING);
	assert_true(json_str_eq(&d, 1, "a", 1));
	assert_int_equal(d.toks[2].type, JSON_ARRAY);
	assert_int_equal(d.toks[2].size, 3);
	assert_int_equal(d.toks[2].next, 8);
	assert_int_equal(d.toks[4].type, JSON_OBJECT);
	assert_int_equal(d.toks[4].next, 7);
	assert_int_equal(d.toks[6].type, JSON_NULL);
	assert_int_equal(json_obj_get(&d, 0, "c"), 9);
	assert_int_equal(d.toks[9].type, JSON_TRUE);
	int v = json_obj_get(&d, 0, "d");
	assert_int_equal(d.toks[v].type, JSON_NUMBER);
	assert_memory_equal(json_text(&d, v), "-0.5e+3", 7);
	assert_int_equal(d.toks[v].len, 7);
	assert_int_equal(json_obj_get(&d, 0, "zz"), -1);
	assert_int_equal(json_obj_get(&d, 2, "a"), -1);

	/* Scalars at the top, whitespace around them. */
	assert_int_equal(parse(&d, " \t\r\n\"s\" "), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.toks[0].type, JSON_STRING);
	assert_int_equal(parse(&d, "0"), 0);
	assert_int_equal(parse(&d, "[]"), 0);
	assert_int_equal(d.toks[0].size, 0);
	assert_int_equal(parse(&d, "{ }"), 0);

	/* Repeated keys: the last wins; keys compare unescaped. */
	assert_int_equal(parse(&d, "{\"k\":1,\"\\u006b\":2}"), 0);
	assert_int_equal(json_obj_get(&d, 0, "k"), 4);
	json_doc_free(&d);
}

static void test_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    " ",
	    "{",
	    "[1,]",
	    "{\"a\":1,}",
	    "01",
	    "1.",
	    ".5",
	    "-",
	    "+1",
	    "1e",
	    "1e+",
	    "-01",
	    "tru",
	    "nul",
	    "falsey",
	    "\"abc",
	    "\"\\x\"",
	    "\"\\u12G4\"",
	    "\"\\u12\"",
	    "\"a\x01\"",
	    "\"tab\there\"",
	    "[1 2]",
	    "{\"a\" 1}",
	    "{1:2}",
	    "[]]",
	    "{} x",
	    "NaN",
	    "'a'",
	    "[\"a\\\"]",
	    "{\"a\"}",
	    "{\"a\":}",
	    "[,1]",
	    "\xef\xbb\xbf{}",
	    "\"\\",
	    "[1,\n",
	    "Infinity",
	    "0x10",
	    "[1]\x00",
	};
	struct json_doc d;
	json_doc_init(&d, 1000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]) + (strcmp(bad[i], "[1]") == 0);
		if (json_parse(&d, bad[i], len) != LG_EPARSE)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(d.err);
		assert_true(d.err_off <= len);
	}
	assert_int_equal(parse(&d, "[1,2] x"), LG_EPARSE);
	assert_string_equal(d.err, "trailing garbage");
	assert_int_equal(d.err_off, 6);
	json_doc_free(&d);
}

static void test_truncated(void **state)
{
	(void)state;
	const char *s = "{\"id\":\"a\\u00e9\\n\",\"n\":[1.5e3,true,false,null,{\"x\":\"y\"}]}";
	struct json_doc d;
	json_doc_init(&d, 1000);
	assert_int_equal(parse(&d, s), 0);
	for (size_t i = 0; i < strlen(s); i++)
		if (json_parse(&d, s, i) != LG_EPARSE)
			fail_msg("accepted a prefix of %zu bytes", i);
	json_doc_free(&d);
}

static void test_depth(void **state)
{
	(void)state;
	char s[2 * JSON_MAX_DEPTH + 8];
	struct json_doc d;
	json_doc_init(&d, 1000);
	for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
		memset(s, '[', (size_t)depth);
		memset(s + depth, ']', (size_t)depth);
		int rc = json_parse(&d, s, 2 * (size_t)depth);
		if (depth <= JSON_MAX_DEPTH) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, LG_EPARSE);
			assert_string_equal(d.err, "nested too deeply");
			assert_int_equal(d.err_off, JSON_MAX_DEPTH);
		}
	}
	/* Objects count too, and far deeper input fails without recursing on. */
	struct buf b;
	buf_init(&b, 1u << 20);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_puts(&b, "{\"a\":"), 0);
	assert_int_equal(json_parse(&d, b.data, b.len), LG_EPARSE);
	buf_free(&b);
	json_doc_free(&d);
}

static void check_write_value(struct json_doc *d, const char *in, const char *want,
                              size_t want_repairs)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	size_t repairs = 0;
	assert_int_equal(parse(d, in), 0);
	assert_int_equal(json_write_value(&b, d, 0, &repairs), 0);
	assert_string_equal(b.data, want);
	assert_int_equal(repairs, want_repairs);
	buf_free(&b);
}

static void test_numbers(void **state)
{
	(void)state;
	struct json_doc d;
	json_doc_init(&d, 1000);
	check_write_value(&d, "[18446744073709551617123, 9007199254740993, -0, 1E400, 0.1e-7]",
	                  "[18446744073709551617123,9007199254740993,-0,1E400,0.1e-7]", 0);
	check_write_value(&d, "123456789012345678901234567890", "123456789012345678901234567890",
	                  0);
	static const char *const yes[] = {"0", "-0", "1.5", "42", "1e5", "1E-5", "-12.34e+56"};
	static const char *const no[] = {"",    "01", "1.",  "+1",  " 1",  "1 ",
	                                 "0x1", "1e", "abc", "--1", "NaN", "1.2.3"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(json_is_number(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (json_is_number(no[i], strlen(no[i])))
			fail_msg("number: %s", no[i]);
	json_doc_free(&d);
}

static void test_nul_and_surrogates(void **state)
{
	(void)state;
	struct json_doc d;
	json_doc_init(&d, 1000);
	char out[64];

	assert_int_equal(parse(&d, "\"a\\u0000b\""), 0);
	assert_int_equal(json_unescape(&d, 0, out, sizeof(out)), 3);
	assert_memory_equal(out, "a\0b", 3);
	assert_true(json_str_eq(&d, 0, "a\0b", 3));
	assert_false(json_str_eq(&d, 0, "a", 1));
	check_write_value(&d, "\"a\\u0000b\"", "\"a\\u0000b\"", 0);

	/* A pair is one code point; the escape text is kept. */
	assert_int_equal(parse(&d, "\"\\ud83d\\ude00\""), 0);
	assert_int_equal(json_unescape(&d, 0, out, sizeof(out)), 4);
	assert_memory_equal(out, "\xf0\x9f\x98\x80", 4);
	check_write_value(&d, "\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\"", 0);
	check_write_value(&d, "\"\\uD83D\\uDE00\"", "\"\\uD83D\\uDE00\"", 0);

	/* Lone surrogates become U+FFFD, each counted. */
	check_write_value(&d, "\"\\ud800\"", "\"\xef\xbf\xbd\"", 1);
	check_write_value(&d, "\"x\\udc00y\"", "\"x\xef\xbf\xbdy\"", 1);
	check_write_value(&d, "\"\\ud800\\u0041\"", "\"\xef\xbf\xbd\\u0041\"", 1);
	check_write_value(&d, "\"\\ud800\\ud800\\udc00\"", "\"\xef\xbf\xbd\\ud800\\udc00\"", 1);
	check_write_value(&d, "\"\\udc00\\ud800\"", "\"\xef\xbf\xbd\xef\xbf\xbd\"", 2);
	assert_int_equal(parse(&d, "\"\\ud800z\""), 0);
	assert_int_equal(json_unescape(&d, 0, out, sizeof(out)), 4);
	assert_memory_equal(out, "\xef\xbf\xbdz", 4);

	/* Every simple escape. */
	assert_int_equal(parse(&d, "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\""), 0);
	assert_int_equal(json_unescape(&d, 0, out, sizeof(out)), 10);
	assert_memory_equal(out, "\"\\/\b\f\n\r\t\xc3\xa9", 10);
	assert_int_equal(json_unescape(&d, 0, out, 9), -1);
	json_doc_free(&d);
}

static void check_write_str(const char *in, size_t len, const char *want, size_t want_repairs)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	size_t repairs = 0;
	assert_int_equal(json_write_str(&b, in, len, &repairs), 0);
	if (strcmp(b.data, want) != 0)
		fail_msg("got %s want %s", b.data, want);
	assert_int_equal(repairs, want_repairs);
	buf_free(&b);
}

#define R "\xef\xbf\xbd"

static void test_utf8_repair(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
		size_t repairs;
	} cases[] = {
	    {"plain", "\"plain\"", 0},
	    {"\xc3\xa5\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa5\xe2\x82\xac\xf0\x9f\x98\x80\"", 0},
	    {"\xc0\x80", "\"" R R "\"", 2},             /* overlong NUL */
	    {"\xe0\x80\x80", "\"" R R R "\"", 3},       /* overlong, bad 2nd byte */
	    {"\xed\xa0\x80", "\"" R R R "\"", 3},       /* UTF-8 encoded surrogate */
	    {"\xf4\x90\x80\x80", "\"" R R R R "\"", 4}, /* beyond U+10FFFF */
	    {"\xe2\x82", "\"" R "\"", 1},               /* truncated: one maximal subpart */
	    {"\xf0\x9f\x98z", "\"" R "z\"", 1},
	    {"\xf8\x88\x80\x80\x80", "\"" R R R R R "\"", 5},
	    {"\x80", "\"" R "\"", 1},
	    {"Malm\xc3\x28 \xff\xfe", "\"Malm" R "( " R R "\"", 3},
	    {"q\"b\\s/\x01\x1f\x7f\n\t", "\"q\\\"b\\\\s/\\u0001\\u001f\x7f\\n\\t\"", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_write_str(cases[i].in, strlen(cases[i].in), cases[i].want, cases[i].repairs);
	check_write_str("a\0b", 3, "\"a\\u0000b\"", 0);

	/* The same bytes inside a parsed string token. */
	struct json_doc d;
	json_doc_init(&d, 1000);
	check_write_value(&d, "\"Malm\xc3\x28 \xff\xfe \xed\xa0\x80 \\ud800 \xc3\xa5\"",
	                  "\"Malm" R "( " R R " " R R R " " R " \xc3\xa5\"", 7);
	check_write_value(&d, "{\"k\xff\": [ \"v\xfe\", 1 ]}", "{\"k" R "\":[\"v" R "\",1]}", 2);
	json_doc_free(&d);
}

static void test_write_value(void **state)
{
	(void)state;
	struct json_doc d;
	json_doc_init(&d, 1000);
	/* Compact input is copied as one slice; whitespace is dropped. */
	check_write_value(&d, "{\"a\":[1,{\"b\":\"c\\n\"}],\"d\":{}}",
	                  "{\"a\":[1,{\"b\":\"c\\n\"}],\"d\":{}}", 0);
	check_write_value(&d, " {\n \"a\" : [ 1 , { \"b\" : \"c d\" } ] ,\r\n\t\"d\" : { } } ",
	                  "{\"a\":[1,{\"b\":\"c d\"}],\"d\":{}}", 0);
	check_write_value(&d, "[ ]", "[]", 0);
	check_write_value(&d, "true", "true", 0);

	/* Bounded buffers fail cleanly. */
	struct buf b;
	buf_init(&b, 8);
	size_t repairs = 0;
	assert_int_equal(parse(&d, "\"0123456789\""), 0);
	assert_int_equal(json_write_value(&b, &d, 0, &repairs), LG_ETOOBIG);
	assert_int_equal(json_write_str(&b, "0123456789", 10, &repairs), LG_ETOOBIG);
	assert_int_equal(parse(&d, "[ \"0123456789\" ]"), 0);
	assert_int_equal(json_write_value(&b, &d, 0, &repairs), LG_ETOOBIG);
	buf_free(&b);
	json_doc_free(&d);
}

static void test_huge_and_limits(void **state)
{
	(void)state;
	size_t n = 8u << 20;
	char *s = malloc(n + 2);
	assert_non_null(s);
	s[0] = '"';
	for (size_t i = 1; i <= n; i++)
		s[i] = (char)('a' + i % 26);
	s[n + 1] = '"';
	struct json_doc d;
	json_doc_init(&d, 4);
	assert_int_equal(json_parse(&d, s, n + 2), 0);
	assert_int_equal(d.toks[0].len, n);
	struct buf b;
	buf_init(&b, n + 2);
	size_t repairs = 0;
	assert_int_equal(json_write_strtok(&b, &d, 0, &repairs), 0);
	assert_int_equal(b.len, n + 2);
	assert_memory_equal(b.data, s, n + 2);
	buf_free(&b);

	/* More tokens than the doc allows. */
	assert_int_equal(parse(&d, "[1,2,3]"), 0);
	assert_int_equal(parse(&d, "[1,2,3,4]"), LG_ETOOBIG);

	/* Reuse: the token array does not grow for documents that fit. */
	json_doc_free(&d);
	json_doc_init(&d, 1u << 20);
	assert_int_equal(parse(&d, "[1,2,3,4,5,6,7,8,9,10]"), 0);
	struct json_tok *toks = d.toks;
	uint32_t cap = d.cap;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(parse(&d, i % 2 ? "{\"a\":[1,2]}" : "[1,2,3,4,5,6,7,8,9,10]"), 0);
	assert_ptr_equal(d.toks, toks);
	assert_int_equal(d.cap, cap);
	json_doc_free(&d);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),          cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_truncated),       cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_numbers),         cmocka_unit_test(test_nul_and_surrogates),
	    cmocka_unit_test(test_utf8_repair),     cmocka_unit_test(test_write_value),
	    cmocka_unit_test(test_huge_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

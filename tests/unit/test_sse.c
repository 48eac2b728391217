/* The SSE parser against the data-driven cases in tests/data/sse (format in
 * its README.md), each fed whole, byte by byte and split at every offset,
 * plus generated large events and the reset semantics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "sse.h"

#define LOG_MAX ((size_t)64 << 20)
#define DEFAULT_MAX_EVENT ((size_t)1 << 20)

struct sse_case {
	char *name;
	struct buf input;
	struct buf expect; /* canonical log, as collect_* writes it */
	size_t max_event_size;
	bool has_last_id;
	struct buf last_id;
	uint64_t events, comments, oversized;
};

/* Outside a test (loading cases) cmocka asserts cannot stop anything, and
 * the only failure here is allocation: give up loudly. */
static void must(int rc)
{
	if (rc) {
		fprintf(stderr, "test_sse: %s\n", lg_strerror(rc));
		abort();
	}
}

/* Printable ASCII stays, the rest is escaped; type and id also escape the
 * space, which separates them on an expect line. */
static void put_escaped(struct buf *b, const char *s, size_t n, bool esc_space)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc;
		if (c == '\\')
			rc = buf_puts(b, "\\\\");
		else if (c == '\n')
			rc = buf_puts(b, "\\n");
		else if (c == '\r')
			rc = buf_puts(b, "\\r");
		else if (c == '\t')
			rc = buf_puts(b, "\\t");
		else if (c < 0x20 || c > 0x7e || (c == ' ' && esc_space))
			rc = buf_printf(b, "\\x%02X", c);
		else
			rc = buf_putc(b, (char)c);
		must(rc);
	}
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

/* One unit at s[*i]: a literal byte or an escape. -1 if malformed. */
static int decode_unit(const char *s, size_t n, size_t *i)
{
	if (s[*i] != '\\')
		return (unsigned char)s[(*i)++];
	if (*i + 1 >= n)
		return -1;
	char e = s[*i + 1];
	*i += 2;
	switch (e) {
	case '\\':
		return '\\';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case '0':
		return 0;
	case 'x': {
		if (*i + 2 > n)
			return -1;
		int hi = hexval(s[*i]), lo = hexval(s[*i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		*i += 2;
		return hi * 16 + lo;
	}
	default:
		return -1;
	}
}

/* The escape language of the README: \\ \n \r \t \0 \xNN, and \[N]u for N
 * copies of the unit u. Returns 0, or -1 if malformed. */
static int decode(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		size_t count = 1;
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == '[') {
			char *endp;
			count = strtoul(s + i + 2, &endp, 10);
			if (endp == s + i + 2 || endp >= s + n || *endp != ']')
				return -1;
			i = (size_t)(endp - s) + 1;
			if (i >= n)
				return -1;
		}
		int c = decode_unit(s, n, &i);
		if (c < 0)
			return -1;
		if (buf_reserve(out, count))
			return -1;
		memset(out->data + out->len, c, count);
		out->len += count;
		out->data[out->len] = '\0';
	}
	return 0;
}

static void on_event_cb(void *ud, const struct sse_event *ev)
{
	struct buf *log = ud;
	must(buf_puts(log, "event type="));
	put_escaped(log, ev->type, ev->type_len, true);
	must(buf_puts(log, " id="));
	put_escaped(log, ev->id, ev->id_len, true);
	must(buf_puts(log, " data="));
	put_escaped(log, ev->data, ev->data_len, false);
	must(buf_putc(log, '\n'));
}

static void on_retry_cb(void *ud, uint64_t ms)
{
	must(buf_printf(ud, "retry %" PRIu64 "\n", ms));
}

static void on_comment_cb(void *ud)
{
	must(buf_puts(ud, "comment\n"));
}

static void on_oversize_cb(void *ud, size_t size)
{
	must(buf_printf(ud, "oversize %zu\n", size));
}

static const struct sse_callbacks collect = {on_event_cb, on_retry_cb, on_comment_cb,
                                             on_oversize_cb};

/* Reads the value of `key=` at *s up to the next space (or the end when
 * rest), decoded. Absent keys keep dflt. */
static int expect_field(const char **s, const char *end, const char *key, bool rest,
                        const char *dflt, struct buf *out)
{
	size_t klen = strlen(key);
	if ((size_t)(end - *s) < klen || memcmp(*s, key, klen) != 0)
		return dflt ? buf_puts(out, dflt) : -1;
	const char *v = *s + klen;
	const char *ve = rest ? end : memchr(v, ' ', (size_t)(end - v));
	if (!ve)
		ve = end;
	*s = ve < end ? ve + 1 : end;
	return decode(v, (size_t)(ve - v), out);
}

static int expect_line(struct sse_case *c, const char *s, const char *end)
{
	size_t n = (size_t)(end - s);
	if (n == 7 && memcmp(s, "comment", 7) == 0) {
		c->comments++;
		return buf_puts(&c->expect, "comment\n");
	}
	if ((n > 6 && memcmp(s, "retry ", 6) == 0) || (n > 9 && memcmp(s, "oversize ", 9) == 0)) {
		const char *num = memchr(s, ' ', n) + 1;
		char *endp;
		unsigned long long v = strtoull(num, &endp, 10);
		if (endp != end || endp == num)
			return -1;
		if (*s == 'o')
			c->oversized++;
		return buf_printf(&c->expect, "%s %llu\n", *s == 'r' ? "retry" : "oversize", v);
	}
	if (n < 6 || memcmp(s, "event ", 6) != 0)
		return -1;
	s += 6;
	struct buf type, id, data;
	buf_init(&type, LOG_MAX);
	buf_init(&id, LOG_MAX);
	buf_init(&data, LOG_MAX);
	int rc = expect_field(&s, end, "type=", false, "message", &type);
	if (!rc)
		rc = expect_field(&s, end, "id=", false, "", &id);
	if (!rc)
		rc = expect_field(&s, end, "data=", true, NULL, &data);
	if (!rc) {
		struct sse_event ev = {type.data,
		                       type.len,
		                       data.data ? data.data : "",
		                       data.len,
		                       id.data ? id.data : "",
		                       id.len};
		on_event_cb(&c->expect, &ev);
		c->events++;
	}
	buf_free(&type);
	buf_free(&id);
	buf_free(&data);
	return rc;
}

enum section { SEC_NONE, SEC_INPUT, SEC_EXPECT };

static int parse_header(struct sse_case *c, const char *s, const char *end, enum section *sec)
{
	size_t n = (size_t)(end - s);
	if (n == 9 && memcmp(s, "--- input", 9) == 0) {
		*sec = SEC_INPUT;
		return 0;
	}
	if (n == 10 && memcmp(s, "--- expect", 10) == 0) {
		*sec = SEC_EXPECT;
		return 0;
	}
	*sec = SEC_NONE;
	if (n > 19 && memcmp(s, "--- max_event_size ", 19) == 0) {
		char *endp;
		c->max_event_size = strtoull(s + 19, &endp, 10);
		return endp == end ? 0 : -1;
	}
	if (n >= 11 && memcmp(s, "--- last_id", 11) == 0) {
		c->has_last_id = true;
		if (n == 11)
			return 0;
		return s[11] == ' ' ? decode(s + 12, n - 12, &c->last_id) : -1;
	}
	return -1;
}

static struct sse_case *load_case(const char *dir, const char *name)
{
	struct buf pathb;
	buf_init(&pathb, 8192);
	must(buf_printf(&pathb, "%s/%s", dir, name));
	const char *path = pathb.data;
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		buf_free(&pathb);
		return NULL;
	}
	struct buf text;
	buf_init(&text, LOG_MAX);
	char chunk[8192];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		must(buf_append(&text, chunk, got));
	fclose(f);

	struct sse_case *c = calloc(1, sizeof(*c));
	must(c ? 0 : LG_ENOMEM);
	c->name = strdup(name);
	c->max_event_size = DEFAULT_MAX_EVENT;
	buf_init(&c->input, LOG_MAX);
	buf_init(&c->expect, LOG_MAX);
	buf_init(&c->last_id, LOG_MAX);
	enum section sec = SEC_NONE;
	bool seen_header = false;
	int lineno = 0;
	const char *s = text.data ? text.data : "", *end = s + text.len;
	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		if (!eol)
			eol = end;
		lineno++;
		int rc = 0;
		if (eol - s >= 4 && memcmp(s, "--- ", 4) == 0) {
			rc = parse_header(c, s, eol, &sec);
			seen_header = true;
		} else if (sec == SEC_INPUT) {
			rc = decode(s, (size_t)(eol - s), &c->input);
		} else if (sec == SEC_EXPECT && eol > s) {
			rc = expect_line(c, s, eol);
		} else if (seen_header && eol > s) {
			rc = -1;
		}
		if (rc) {
			fprintf(stderr, "%s:%d: malformed line\n", path, lineno);
			abort();
		}
		s = eol + 1;
	}
	buf_free(&text);
	buf_free(&pathb);
	return c;
}

static void free_case(struct sse_case *c)
{
	free(c->name);
	buf_free(&c->input);
	buf_free(&c->expect);
	buf_free(&c->last_id);
	free(c);
}

static void show(const char *what, const struct buf *b)
{
	size_t n = b->len > 3000 ? 3000 : b->len;
	fprintf(stderr, "%s (%zu bytes):\n%.*s%s\n", what, b->len, (int)n, b->data ? b->data : "",
	        n < b->len ? "..." : "");
}

static bool same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (!a->len || memcmp(a->data, b->data, a->len) == 0);
}

/* Feeds the case in parts ending at cuts[] (the last part runs to the end),
 * each part in its own exact-size allocation so ASan sees any read past it
 * or any pointer kept into it. Then the response ends (sse_reset). */
static bool run(const struct sse_case *c, const size_t *cuts, size_t ncuts, const char *how)
{
	struct buf log;
	buf_init(&log, LOG_MAX);
	struct sse_parser p;
	sse_init(&p, c->max_event_size, &collect, &log);
	size_t from = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : c->input.len;
		char *part = malloc(to - from + 1);
		assert_non_null(part);
		memcpy(part, c->input.data + from, to - from);
		assert_int_equal(sse_feed(&p, part, to - from), 0);
		free(part);
		from = to;
	}
	sse_reset(&p);
	struct buf got_id;
	buf_init(&got_id, LOG_MAX);
	put_escaped(&got_id, sse_last_event_id(&p), strlen(sse_last_event_id(&p)), false);
	struct buf want_id;
	buf_init(&want_id, LOG_MAX);
	put_escaped(&want_id, c->last_id.data ? c->last_id.data : "", c->last_id.len, false);

	bool ok = same(&log, &c->expect) && p.events == c->events && p.comments == c->comments &&
	          p.oversized == c->oversized && (!c->has_last_id || same(&got_id, &want_id));
	if (!ok) {
		fprintf(stderr, "case %s, fed %s:\n", c->name, how);
		show("expected", &c->expect);
		show("got", &log);
		fprintf(stderr,
		        "counters events=%" PRIu64 " comments=%" PRIu64 " oversized=%" PRIu64
		        ", expected %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n",
		        p.events, p.comments, p.oversized, c->events, c->comments, c->oversized);
		if (c->has_last_id)
			fprintf(stderr, "last id \"%s\", expected \"%s\"\n",
			        got_id.data ? got_id.data : "", want_id.data ? want_id.data : "");
	}
	sse_free(&p);
	buf_free(&log);
	buf_free(&got_id);
	buf_free(&want_id);
	return ok;
}

static void test_case(void **state)
{
	const struct sse_case *c = *state;
	size_t len = c->input.len;
	char how[128];
	if (!run(c, NULL, 0, "whole"))
		fail_msg("case %s failed fed whole", c->name);

	size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	if (len > 1 && !run(c, cuts, len - 1, "byte by byte"))
		fail_msg("case %s failed fed byte by byte", c->name);
	free(cuts);

	for (size_t k = 1; k < len; k++) {
		snprintf(how, sizeof(how), "in two parts split at %zu", k);
		if (!run(c, &k, 1, how))
			fail_msg("case %s failed fed %s", c->name, how);
	}

	if (len > 4096) {
		const size_t three[][2] = {
		    {1, 2},       {1, len - 1},           {len / 3, 2 * len / 3},
		    {4095, 4097}, {len / 2, len / 2 + 1}, {len - 2, len - 1},
		    {7, len / 2}};
		for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++) {
			snprintf(how, sizeof(how), "in three parts split at %zu and %zu",
			         three[i][0], three[i][1]);
			if (!run(c, three[i], 2, how))
				fail_msg("case %s failed fed %s", c->name, how);
		}
	}
}

/* A generated event of exactly `size` bytes: one data line. */
static void gen_event(struct buf *in, size_t size, char fill)
{
	assert_true(size >= 5);
	assert_int_equal(buf_puts(in, "data:"), 0);
	assert_int_equal(buf_reserve(in, size - 5), 0);
	memset(in->data + in->len, fill, size - 5);
	in->len += size - 5;
	assert_int_equal(buf_puts(in, "\n\n"), 0);
}

struct big_log {
	size_t events, oversize_calls, last_oversize;
	size_t data_len[4];
	char fill[4];
	bool uniform;
};

static void big_event(void *ud, const struct sse_event *ev)
{
	struct big_log *l = ud;
	assert_true(l->events < 4);
	l->data_len[l->events] = ev->data_len;
	l->fill[l->events] = ev->data_len ? ev->data[0] : 0;
	for (size_t i = 0; i < ev->data_len; i++)
		if (ev->data[i] != ev->data[0])
			l->uniform = false;
	l->events++;
}

static void big_oversize(void *ud, size_t size)
{
	struct big_log *l = ud;
	l->oversize_calls++;
	l->last_oversize = size;
}

static void feed_in_steps(struct sse_parser *p, const struct buf *in, size_t step)
{
	for (size_t off = 0; off < in->len; off += step) {
		size_t n = in->len - off < step ? in->len - off : step;
		assert_int_equal(sse_feed(p, in->data + off, n), 0);
	}
}

/* 1 MiB events: exactly at the limit is delivered, one byte over is skipped
 * and reported, and the next event goes through; buffers stay bounded. */
static void test_large_event_boundary(void **state)
{
	(void)state;
	const size_t max = (size_t)1 << 20;
	struct buf in;
	buf_init(&in, (size_t)8 << 20);
	gen_event(&in, max, 'a');
	gen_event(&in, max + 1, 'b');
	gen_event(&in, 6, 'c');
	const struct sse_callbacks cb = {big_event, NULL, NULL, big_oversize};
	const size_t steps[] = {in.len, 1, 7, 4096, 65536, max - 3};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct big_log l = {.uniform = true};
		struct sse_parser p;
		sse_init(&p, max, &cb, &l);
		feed_in_steps(&p, &in, steps[i]);
		assert_int_equal(l.events, 2);
		assert_true(l.uniform);
		assert_int_equal(l.data_len[0], max - 5);
		assert_int_equal(l.fill[0], 'a');
		assert_int_equal(l.data_len[1], 1);
		assert_int_equal(l.fill[1], 'c');
		assert_int_equal(l.oversize_calls, 1);
		assert_int_equal(l.last_oversize, max + 1);
		assert_int_equal(p.oversized, 1);
		assert_true(p.line.cap <= max + 1 && p.data.cap <= max + 1);
		sse_free(&p);
	}
	buf_free(&in);
}

/* Many short data lines: the sum is bounded, not only each line. */
static void test_large_event_many_lines(void **state)
{
	(void)state;
	const size_t max = (size_t)1 << 20;
	struct buf in;
	buf_init(&in, (size_t)8 << 20);
	/* 65536 lines of "data:" + 11 bytes = 16 bytes each: exactly 1 MiB. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < max / 16; i++)
			assert_int_equal(buf_puts(&in, "data:0123456789x\n"), 0);
		if (pass == 1)
			assert_int_equal(buf_puts(&in, "d\n"), 0);
		assert_int_equal(buf_puts(&in, "\n"), 0);
	}
	const struct sse_callbacks cb = {big_event, NULL, NULL, big_oversize};
	const size_t steps[] = {in.len, 3, 4096};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct big_log l = {.uniform = false};
		struct sse_parser p;
		sse_init(&p, max, &cb, &l);
		feed_in_steps(&p, &in, steps[i]);
		assert_int_equal(l.events, 1);
		/* 11 bytes + LF per line, the last LF removed. */
		assert_int_equal(l.data_len[0], (max / 16) * 12 - 1);
		assert_int_equal(l.oversize_calls, 1);
		assert_int_equal(l.last_oversize, max + 1);
		assert_true(p.data.cap <= max + 1);
		sse_free(&p);
	}
	buf_free(&in);
}

/* A skipped event far larger than the limit never grows memory. */
static void test_oversize_memory_bounded(void **state)
{
	(void)state;
	struct buf log;
	buf_init(&log, LOG_MAX);
	struct sse_parser p;
	sse_init(&p, 1024, &collect, &log);
	char chunk[4096];
	memset(chunk, 'z', sizeof(chunk));
	assert_int_equal(sse_feed(&p, "data:", 5), 0);
	for (int i = 0; i < 2560; i++) /* 10 MiB in one line */
		assert_int_equal(sse_feed(&p, chunk, sizeof(chunk)), 0);
	assert_int_equal(sse_feed(&p, "\n\ndata:ok\n\n", 11), 0);
	assert_true(p.line.cap <= 1025 && p.data.cap <= 1025);
	const char want[] = "oversize 10485765\nevent type=message id= data=ok\n";
	assert_int_equal(log.len, sizeof(want) - 1);
	assert_memory_equal(log.data, want, sizeof(want) - 1);
	sse_free(&p);
	buf_free(&log);
}

static void assert_log(struct buf *log, const char *want)
{
	if (log->len != strlen(want) || memcmp(log->data, want, log->len) != 0) {
		show("expected", &(struct buf){(char *)want, strlen(want), 0, 0});
		show("got", log);
		fail();
	}
	buf_reset(log);
}

static void test_reset_semantics(void **state)
{
	(void)state;
	struct buf log;
	buf_init(&log, LOG_MAX);
	struct sse_parser p;
	sse_init(&p, 64, &collect, &log);

	static const char r1[] = "\xEF\xBB\xBFid: 7\ndata: one\n\nid: 8\ndata: partial\n";
	assert_int_equal(sse_feed(&p, r1, sizeof(r1) - 1), 0);
	assert_log(&log, "event type=message id=7 data=one\n");
	assert_string_equal(sse_last_event_id(&p), "7");

	/* The partial event and its id die with the response; the kept id
	 * carries over, and the new response may start with a BOM again. */
	sse_reset(&p);
	assert_log(&log, "");
	assert_string_equal(sse_last_event_id(&p), "7");
	static const char r2[] = "\xEF\xBB\xBF"
	                         "data: two\n\n";
	assert_int_equal(sse_feed(&p, r2, sizeof(r2) - 1), 0);
	assert_log(&log, "event type=message id=7 data=two\n");

	/* A partial line and a pending type do not leak into the next
	 * response. */
	assert_int_equal(sse_feed(&p, "event: x\ndata: a\r", 17), 0);
	assert_int_equal(sse_feed(&p, "data: unterminated", 18), 0);
	sse_reset(&p);
	assert_int_equal(sse_feed(&p, "\ndata: three\n\n", 14), 0);
	assert_log(&log, "event type=message id=7 data=three\n");

	/* A second BOM in the same response is part of the first line. */
	assert_int_equal(sse_feed(&p,
	                          "\xEF\xBB\xBF"
	                          "data: four\n\n",
	                          15),
	                 0);
	assert_log(&log, "");
	sse_reset(&p);
	/* A BOM split across feeds at the start of a response. */
	assert_int_equal(sse_feed(&p, "\xEF", 1), 0);
	assert_int_equal(sse_feed(&p, "\xBB", 1), 0);
	assert_int_equal(sse_feed(&p,
	                          "\xBF"
	                          "data: five\n\n",
	                          13),
	                 0);
	assert_log(&log, "event type=message id=7 data=five\n");

	/* An oversized event cut off by the end of its response is reported
	 * then, once. */
	assert_int_equal(sse_feed(&p, "data: ", 6), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sse_feed(&p, "0123456789", 10), 0);
	sse_reset(&p);
	assert_log(&log, "oversize 106\n");
	sse_reset(&p);
	assert_log(&log, "");
	assert_int_equal(sse_feed(&p, "data: six\n\n", 11), 0);
	assert_log(&log, "event type=message id=7 data=six\n");
	assert_int_equal(p.events, 5);
	assert_int_equal(p.oversized, 1);

	/* Freeing with an event pending calls nothing back. */
	assert_int_equal(sse_feed(&p, "data: seven\n", 12), 0);
	sse_free(&p);
	assert_log(&log, "");
	buf_free(&log);
}

static void count_event(void *ud, const struct sse_event *ev)
{
	(void)ev;
	(*(int *)ud)++;
}

/* The optional callbacks may be NULL; the counters still count. */
static void test_null_callbacks(void **state)
{
	(void)state;
	int n = 0;
	const struct sse_callbacks cb = {count_event, NULL, NULL, NULL};
	struct sse_parser p;
	sse_init(&p, 16, &cb, &n);
	static const char in[] = ":hb\nretry: 10\n\ndata: 0123456789abcdef\n\ndata: x\n\n";
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1), 0);
	assert_int_equal(sse_feed(&p, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p.events, 1);
	assert_int_equal(p.comments, 1);
	assert_int_equal(p.oversized, 1);
	sse_free(&p);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *data = getenv("SINCH_TEST_DATA");
	if (!data) {
		fprintf(stderr, "SINCH_TEST_DATA is not set\n");
		return 1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/sse", data);
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "cannot open %s\n", dir);
		return 1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".case") != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		must(names ? 0 : LG_ENOMEM);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n < 25) {
		fprintf(stderr, "only %zu cases in %s\n", n, dir);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp_names);

	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_large_event_boundary),
	    cmocka_unit_test(test_large_event_many_lines),
	    cmocka_unit_test(test_oversize_memory_bounded),
	    cmocka_unit_test(test_reset_semantics),
	    cmocka_unit_test(test_null_callbacks),
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(n + nfixed, sizeof(*tests));
	struct sse_case **cases = calloc(n, sizeof(*cases));
	must(tests && cases ? 0 : LG_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		cases[i] = load_case(dir, names[i]);
		if (!cases[i])
			return 1;
		tests[i].name = cases[i]->name;
		tests[i].test_func = test_case;
		tests[i].initial_state = cases[i];
	}
	memcpy(tests + n, fixed, sizeof(fixed));
	int rc = _cmocka_run_group_tests("sse", tests, n + nfixed, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		free_case(cases[i]);
		free(names[i]);
	}
	free(cases);
	free(names);
	free(tests);
	return rc;
}

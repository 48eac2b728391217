/* The syslog formatter, driven by tests/data/syslog: NAME.in holds option
 * lines (format, mode, framing, facility, hostname, app_name, sd_id,
 * max_message_size), a blank line, then one record's JSON (its kind, level,
 * time, id, project_id, function_id and function_name fill the record);
 * NAME.out is the exact byte stream expected: every message framed and
 * concatenated. A trailing newline of the .in file is not part of it; the
 * .out file is compared byte for byte. Every message must also fit
 * max_message_size, and the octet counts must parse back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "syslog_fmt.h"

static char *read_file(const char *path, size_t *len, bool strip_nl)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 64u << 20);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), 0);
	fclose(f);
	if (strip_nl && b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	assert_int_equal(buf_putc(&b, '\0'), 0);
	b.len--;
	return buf_detach(&b, len);
}

static const char *data_dir(void)
{
	const char *d = getenv("SINCH_TEST_DATA");
	assert_non_null(d);
	return d;
}

struct out {
	struct buf framed;
	int framing;
	size_t max;
	size_t count;
};

static int emit(void *arg, const char *msg, size_t len)
{
	struct out *o = arg;
	assert_true(len <= o->max);
	o->count++;
	return syslog_fmt_frame(o->framing, msg, len, &o->framed);
}

static char *str_at(const struct json_doc *d, const char *key)
{
	int t = json_obj_get(d, 0, key);
	if (t < 0 || d->toks[t].type != JSON_STRING)
		return NULL;
	char *s = malloc(d->toks[t].len + 1);
	assert_non_null(s);
	long n = json_unescape(d, t, s, d->toks[t].len + 1);
	assert_true(n >= 0);
	s[n] = '\0';
	return s;
}

static int64_t parse_ms(const char *ts)
{
	struct tm tm = {0};
	int ms = 0;
	assert_non_null(ts);
	assert_int_equal(sscanf(ts, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
	                 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Checks that an octet-counted stream splits back into `count` frames. */
static void check_octets(const struct buf *b, size_t count)
{
	size_t i = 0, n = 0;
	while (i < b->len) {
		char *end;
		unsigned long len = strtoul(b->data + i, &end, 10);
		assert_true(end > b->data + i && *end == ' ');
		i = (size_t)(end - b->data) + 1 + len;
		assert_true(i <= b->len);
		n++;
	}
	assert_int_equal(n, count);
}

static void run_case(const char *dir, const char *name)
{
	char path[2048];
	size_t in_len, out_len;
	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	char *in = read_file(path, &in_len, true);
	assert_non_null(in);
	snprintf(path, sizeof(path), "%s/%s.out", dir, name);
	char *want = read_file(path, &out_len, false);
	if (!want)
		fail_msg("%s: missing .out", name);

	struct syslog_fmt f = {.facility = 16, .max_message_size = 8192};
	struct out o = {.framing = SYSLOG_FMT_OCTET};
	char *json = strstr(in, "\n\n");
	assert_non_null(json);
	*json = '\0';
	json += 2;
	for (char *line = strtok(in, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strstr(line, " = ");
		assert_non_null(eq);
		*eq = '\0';
		const char *v = eq + 3;
		if (strcmp(line, "format") == 0)
			f.format =
			    strcmp(v, "rfc3164") == 0 ? SYSLOG_FMT_RFC3164 : SYSLOG_FMT_RFC5424;
		else if (strcmp(line, "mode") == 0)
			f.mode = strcmp(v, "line") == 0 ? SYSLOG_FMT_LINE : SYSLOG_FMT_REQUEST;
		else if (strcmp(line, "framing") == 0)
			o.framing = strcmp(v, "lf") == 0     ? SYSLOG_FMT_LF
			            : strcmp(v, "none") == 0 ? SYSLOG_FMT_NONE
			                                     : SYSLOG_FMT_OCTET;
		else if (strcmp(line, "facility") == 0)
			f.facility = syslog_fmt_facility(v);
		else if (strcmp(line, "hostname") == 0)
			f.hostname = v;
		else if (strcmp(line, "app_name") == 0)
			f.app_name = v;
		else if (strcmp(line, "sd_id") == 0)
			f.sd_id = v;
		else if (strcmp(line, "max_message_size") == 0)
			f.max_message_size = strtoul(v, NULL, 10);
		else
			fail_msg("%s: unknown option %s", name, line);
	}
	assert_true(f.facility >= 0);
	f.escape_lf = o.framing == SYSLOG_FMT_LF;
	o.max = f.max_message_size;

	struct json_doc d;
	json_doc_init(&d, (uint32_t)strlen(json) + 1);
	assert_int_equal(json_parse(&d, json, strlen(json)), 0);
	char *kind = str_at(&d, "kind"), *level = str_at(&d, "level"), *ts = str_at(&d, "time");
	char *pid = str_at(&d, "project_id"), *fid = str_at(&d, "function_id");
	char *fname = str_at(&d, "function_name");
	struct record *r = record_new(record_kind_parse(kind, strlen(kind)), str_at(&d, "id"),
	                              strdup(json), strlen(json));
	assert_non_null(r);
	r->level = (enum record_level)record_level_parse(level, strlen(level));
	r->start_ms = parse_ms(ts);
	r->project_id = pid;
	r->function_id = fid;
	r->function_name = fname;

	struct buf scratch;
	buf_init(&scratch, f.max_message_size + 64);
	buf_init(&o.framed, 64u << 20);
	struct syslog_fmt_stats st = {0};
	assert_int_equal(syslog_fmt_record(&f, r, &d, &scratch, &st, emit, &o), 0);
	assert_int_equal(st.messages, o.count);
	if (o.framing == SYSLOG_FMT_OCTET)
		check_octets(&o.framed, o.count);
	if (o.framed.len != out_len || memcmp(o.framed.data, want, out_len) != 0) {
		snprintf(path, sizeof(path), "/tmp/test_syslog_fmt.%s.got", name);
		FILE *g = fopen(path, "wb");
		if (g) {
			fwrite(o.framed.data, 1, o.framed.len, g);
			fclose(g);
		}
		fail_msg("%s: output differs (written to %s)", name, path);
	}
	buf_free(&scratch);
	buf_free(&o.framed);
	record_unref(r);
	json_doc_free(&d);
	free(kind);
	free(level);
	free(ts);
	free(pid);
	free(fid);
	free(fname);
	free(in);
	free(want);
}

static void test_cases(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/syslog", data_dir());
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(dp))) {
		size_t len = strlen(e->d_name);
		if (len < 4 || strcmp(e->d_name + len - 3, ".in") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(len - 3), e->d_name);
		run_case(dir, name);
		n++;
	}
	closedir(dp);
	assert_true(n >= 10);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(syslog_fmt_facility("local0"), 16);
	assert_int_equal(syslog_fmt_facility("kern"), 0);
	assert_int_equal(syslog_fmt_facility("local7"), 23);
	assert_int_equal(syslog_fmt_facility("Local0"), -1);
	assert_true(syslog_fmt_sd_id_valid("fn@32473"));
	assert_true(syslog_fmt_sd_id_valid("origin"));
	assert_false(syslog_fmt_sd_id_valid(""));
	assert_false(syslog_fmt_sd_id_valid("a b"));
	assert_false(syslog_fmt_sd_id_valid("a=b"));
	assert_false(syslog_fmt_sd_id_valid("a]"));
	assert_false(syslog_fmt_sd_id_valid("123456789012345678901234567890123"));
}

static void test_frame_lf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(syslog_fmt_frame(SYSLOG_FMT_LF, "a\nb\n\nc", 6, &b), 0);
	assert_string_equal(b.data, "a#012b#012#012c\n");
	buf_reset(&b);
	assert_int_equal(syslog_fmt_frame(SYSLOG_FMT_OCTET, "a\nb", 3, &b), 0);
	assert_string_equal(b.data, "3 a\nb");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_frame_lf),
	    cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

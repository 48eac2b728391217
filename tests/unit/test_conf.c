/* Unit tests of conf's loader and value parsers (option tables: test_opts.c).
 * tests/data/conf/bad_*.conf hold one broken config each; their leading
 * "# expect: TEXT" lines list every error the load must report (substrings,
 * with paths relative to that directory). Cases that need huge or generated
 * input are built here in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"

static char tmpdir[] = "/tmp/test_conf.XXXXXX";

static char *path_in(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	assert_non_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static char *write_tmp(const char *name, const char *data, size_t len)
{
	char *p = path_in(tmpdir, name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return p;
}

static char *write_str(const char *name, const char *text)
{
	return write_tmp(name, text, strlen(text));
}

/* Loads text as tmpdir/t.conf; errors say "t.conf:LINE" because the test
 * runs inside tmpdir. */
static int load_text(const char *text, struct conf *c, struct conf_errs *errs)
{
	free(write_str("t.conf", text));
	return conf_load("t.conf", c, errs);
}

static void assert_has(const struct conf_errs *errs, const char *needle)
{
	const char *text = errs->text.data ? errs->text.data : "";
	if (!strstr(text, needle))
		fail_msg("expected '%s' in errors:\n%s", needle, text);
}

static void assert_lacks(const struct conf_errs *errs, const char *needle)
{
	if (errs->text.data && strstr(errs->text.data, needle))
		fail_msg("'%s' must not appear in errors:\n%s", needle, errs->text.data);
}

static const char *value_of(const struct conf_section *sec, const char *key)
{
	for (size_t i = 0; sec && i < sec->n; i++)
		if (strcmp(sec->entries[i].key, key) == 0)
			return sec->entries[i].value;
	return NULL;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0)
		return -1;
	setenv("LOGD_TEST_HOST", "example.org", 1);
	setenv("LOGD_TEST_EMPTY", "", 1);
	unsetenv("LOGD_TEST_UNSET");
	unsetenv("LOGD_TEST_PORT");
	return 0;
}

/* Every test starts in tmpdir, whatever the last one left. */
static int enter_tmp(void **state)
{
	(void)state;
	return chdir(tmpdir);
}

static int teardown(void **state)
{
	(void)state;
	if (chdir("/") != 0)
		return -1;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs inside tests/data/conf so that messages carry relative paths; the
 * cwd goes back to tmpdir afterwards. */
static void enter_data_dir(void)
{
	const char *data = getenv("SINCH_TEST_DATA");
	assert_non_null(data);
	char *dir = path_in(data, "conf");
	assert_int_equal(chdir(dir), 0);
	free(dir);
}

static void test_bad_files(void **state)
{
	(void)state;
	enter_data_dir();
	glob_t g;
	assert_int_equal(glob("bad_*.conf", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 20);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *name = g.gl_pathv[i];
		FILE *f = fopen(name, "r");
		assert_non_null(f);
		char line[1024];
		int nexp = 0;
		struct conf c;
		struct conf_errs errs;
		conf_errs_init(&errs);
		int rc = conf_load(name, &c, &errs);
		if (rc != LG_ECONFIG)
			fail_msg("%s: rc %d, errors:\n%s", name, rc, errs.text.data);
		assert_int_equal(c.n, 0);
		while (fgets(line, sizeof(line), f) && strncmp(line, "# expect: ", 10) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if (!strstr(errs.text.data, line + 10))
				fail_msg("%s: expected '%s' in:\n%s", name, line + 10,
				         errs.text.data);
			nexp++;
		}
		fclose(f);
		if (nexp == 0 || errs.count != nexp)
			fail_msg("%s: %d errors, %d expected:\n%s", name, errs.count, nexp,
			         errs.text.data);
		conf_errs_free(&errs);
		conf_free(&c);
	}
	globfree(&g);
	assert_int_equal(chdir(tmpdir), 0);
}

static void test_syntax(void **state)
{
	(void)state;
	enter_data_dir();
	struct conf c;
	struct conf_errs errs;
	conf_errs_init(&errs);
	int rc = conf_load("good_syntax.conf", &c, &errs);
	if (rc)
		fail_msg("%s", errs.text.data);
	assert_int_equal(c.n, 3);
	const struct conf_section *a = conf_find(&c, "agent", NULL);
	assert_ptr_equal(a, &c.sections[0]);
	assert_string_equal(a->file, "good_syntax.conf");
	assert_int_equal(a->line, 3);
	assert_string_equal(value_of(a, "plain"), "hello world");
	assert_string_equal(value_of(a, "hash"), "a#b");
	assert_string_equal(value_of(a, "empty"), "");
	assert_string_equal(value_of(a, "emptyc"), "");
	assert_string_equal(value_of(a, "indented"), "spaced value");
	assert_string_equal(value_of(a, "quoted"), "  keep # this  ");
	assert_string_equal(value_of(a, "escapes"), "say \"hi\" \\ done");
	assert_string_equal(value_of(a, "quoted_comment"), "x");
	assert_string_equal(value_of(a, "eq"), "a=b=c");
	assert_string_equal(value_of(a, "dollar"), "$HOME costs $5");
	assert_string_equal(value_of(a, "env"), "example.org:8080");
	assert_string_equal(value_of(a, "envq"), "example.org ");
	assert_string_equal(value_of(a, "empty_default"), "fallback");
	assert_string_equal(value_of(a, "set_empty"), "[]");
	assert_int_equal(a->entries[0].line, 4);
	assert_false(a->entries[0].used);

	const struct conf_section *p = conf_find(&c, "project", "my-proj_1.v2");
	assert_non_null(p);
	assert_string_equal(p->type, "project");
	assert_string_equal(value_of(p, "key.with-dots_and-dash"), "1");
	assert_null(conf_find(&c, "project", "My-proj_1.v2"));
	const struct conf_section *s = conf_find(&c, "sink", "out");
	assert_non_null(s);
	assert_int_equal(s->line, 21);
	assert_null(value_of(s, "TYPE"));
	assert_null(conf_find(&c, "sink", NULL));
	assert_int_equal(c.nfiles, 1);
	conf_free(&c);

	setenv("LOGD_TEST_PORT", "9999", 1);
	assert_int_equal(conf_load("good_syntax.conf", &c, &errs), 0);
	assert_string_equal(value_of(conf_find(&c, "agent", NULL), "env"), "example.org:9999");
	unsetenv("LOGD_TEST_PORT");
	conf_free(&c);
	conf_errs_free(&errs);
	assert_int_equal(chdir(tmpdir), 0);
}

static void test_crlf(void **state)
{
	(void)state;
	enter_data_dir();
	struct conf c;
	struct conf_errs errs;
	conf_errs_init(&errs);
	assert_int_equal(conf_load("good_crlf.conf", &c, &errs), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(value_of(&c.sections[0], "log_level"), "debug");
	const struct conf_section *s = conf_find(&c, "sink", "crlf");
	assert_int_equal(s->line, 5);
	assert_string_equal(value_of(s, "path"), "/var/log/x y.log");
	assert_string_equal(value_of(s, "last"), "no newline at end");
	conf_free(&c);
	conf_errs_free(&errs);
	assert_int_equal(chdir(tmpdir), 0);
}

static void test_includes(void **state)
{
	(void)state;
	enter_data_dir();
	struct conf c;
	struct conf_errs errs;
	conf_errs_init(&errs);
	int rc = conf_load("good_include.conf", &c, &errs);
	if (rc)
		fail_msg("%s", errs.text.data);
	static const char *const order[] = {NULL, "main", "p05", "d10", "d20", "nested", "deep"};
	assert_int_equal(c.n, 7);
	for (size_t i = 0; i < c.n; i++) {
		if (order[i])
			assert_string_equal(c.sections[i].name, order[i]);
		else
			assert_null(c.sections[i].name);
	}
	assert_int_equal(c.nfiles, 6);
	assert_string_equal(c.files[1], "inc/d/05-projects.conf");
	assert_string_equal(c.files[4], "inc/d/../nested/x.conf");
	const struct conf_section *a = &c.sections[0];
	int includes = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct conf_entry *e = &a->entries[i];
		if (strcmp(e->key, "include") == 0) {
			assert_true(e->used);
			includes++;
		} else if (strcmp(e->key, "shutdown_timeout") == 0) {
			assert_string_equal(e->file, "inc/d/20-sinks.conf");
			assert_int_equal(e->line, 5);
		}
	}
	assert_int_equal(includes, 3);
	assert_string_equal(c.sections[6].file, "inc/d/../nested/more/deeper.conf");
	conf_free(&c);
	conf_errs_free(&errs);
	assert_int_equal(chdir(tmpdir), 0);
}

static void test_include_depth(void **state)
{
	(void)state;
	char name[32], text[128];
	for (int i = 0; i <= CONF_MAX_DEPTH + 1; i++) {
		snprintf(name, sizeof(name), "f%d.conf", i);
		snprintf(text, sizeof(text), "[agent]\ninclude = f%d.conf\n[project p%d]\n", i + 1,
		         i);
		free(write_str(name, text));
	}
	free(write_str("f10.conf", "[project p10]\n"));
	struct conf c;
	struct conf_errs errs;
	conf_errs_init(&errs);
	assert_int_equal(conf_load("f0.conf", &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 1);
	assert_has(&errs, "f8.conf:2: includes nested more than 8 deep");
	conf_errs_free(&errs);
	conf_errs_init(&errs);
	/* One level less is fine. */
	assert_int_equal(conf_load("f2.conf", &c, &errs), 0);
	assert_int_equal(c.n, 10);
	conf_free(&c);
	conf_errs_free(&errs);

	/* A directory that does not exist matches nothing; the including
	 * file itself matched by its own glob is a loop. */
	conf_errs_init(&errs);
	assert_int_equal(load_text("[agent]\ninclude = nodir/*.conf, t*.conf\n", &c, &errs),
	                 LG_ECONFIG);
	assert_int_equal(errs.count, 1);
	assert_has(&errs, "t.conf:2: include: 't.conf' includes itself (include loop)");
	conf_errs_free(&errs);
}

static void test_limits(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	size_t big = CONF_MAX_LINE + 64;
	char *text = malloc(CONF_MAX_FILE + 64);
	assert_non_null(text);

	/* The longest line passes, one byte more fails, parsing goes on. */
	int n = sprintf(text, "[agent]\nk = ");
	memset(text + n, 'x', CONF_MAX_LINE - 4);
	n += CONF_MAX_LINE - 4;
	n += sprintf(text + n, "\nl = ");
	memset(text + n, 'y', CONF_MAX_LINE - 3);
	n += CONF_MAX_LINE - 3;
	sprintf(text + n, "\r\nm = 1\nbad\n");
	conf_errs_init(&errs);
	assert_int_equal(load_text(text, &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 2);
	assert_has(&errs, "t.conf:3: line longer than 65536 bytes");
	assert_has(&errs, "t.conf:5: expected 'key = value'");
	conf_errs_free(&errs);

	/* A value longer than a line after expansion. */
	char *env = malloc(big);
	memset(env, 'v', big - 1);
	env[big - 1] = '\0';
	setenv("LOGD_TEST_BIG", env, 1);
	free(env);
	conf_errs_init(&errs);
	assert_int_equal(load_text("[agent]\nk = ${LOGD_TEST_BIG}\n", &c, &errs), LG_ECONFIG);
	assert_has(&errs, "t.conf:2: key 'k': value longer than 65536 bytes");
	unsetenv("LOGD_TEST_BIG");
	conf_errs_free(&errs);

	/* NUL byte. */
	conf_errs_init(&errs);
	free(write_tmp("t.conf", "[agent]\na = b\0c\n", 15));
	assert_int_equal(conf_load("t.conf", &c, &errs), LG_ECONFIG);
	assert_has(&errs, "t.conf:2: NUL byte in line");
	conf_errs_free(&errs);

	/* A file past 4 MiB, as the main file and as an include. */
	memset(text, '#', CONF_MAX_FILE + 1);
	free(write_tmp("huge.conf", text, CONF_MAX_FILE + 1));
	conf_errs_init(&errs);
	assert_int_equal(conf_load("huge.conf", &c, &errs), LG_ECONFIG);
	assert_has(&errs, "huge.conf: 'huge.conf' is larger than 4194304 bytes");
	assert_int_equal(load_text("[agent]\ninclude = huge.conf\n", &c, &errs), LG_ECONFIG);
	assert_has(&errs, "t.conf:2: include: 'huge.conf' is larger than 4194304 bytes");
	conf_errs_free(&errs);
	for (size_t i = 63; i < CONF_MAX_FILE; i += 64)
		text[i] = '\n';
	free(write_tmp("huge.conf", text, CONF_MAX_FILE));
	conf_errs_init(&errs);
	assert_int_equal(conf_load("huge.conf", &c, &errs), 0);
	conf_free(&c);
	conf_errs_free(&errs);

	/* Sections, keys per section, keys in all. */
	n = 0;
	for (int i = 0; i <= CONF_MAX_SECTIONS; i++)
		n += sprintf(text + n, "[project p%d]\n", i);
	conf_errs_init(&errs);
	assert_int_equal(load_text(text, &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 1);
	assert_has(&errs, "t.conf:10001: more than 10000 sections");
	conf_errs_free(&errs);

	n = sprintf(text, "[agent]\n");
	for (int i = 0; i <= CONF_MAX_KEYS; i++)
		n += sprintf(text + n, "k%d = v\n", i);
	sprintf(text + n, "[sink after]\nk = v\n");
	conf_errs_init(&errs);
	assert_int_equal(load_text(text, &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 1);
	assert_has(&errs, "t.conf:1002: more than 1000 keys in one section");
	conf_errs_free(&errs);

	n = 0;
	for (int i = 0; i <= CONF_MAX_ENTRIES; i++) {
		if (i % CONF_MAX_KEYS == 0)
			n += sprintf(text + n, "[project p%d]\n", i);
		n += sprintf(text + n, "k%d=v\n", i);
	}
	conf_errs_init(&errs);
	assert_int_equal(load_text(text, &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 1);
	assert_has(&errs, "more than 100000 keys in all");
	conf_errs_free(&errs);

	/* Files in all. */
	assert_int_equal(mkdir("many", 0700), 0);
	for (int i = 0; i < CONF_MAX_FILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "many/%03d.conf", i);
		free(write_str(name, "# empty\n"));
	}
	conf_errs_init(&errs);
	assert_int_equal(load_text("[agent]\ninclude = many/*.conf\n", &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 1);
	assert_has(&errs, "t.conf:2: include: more than 256 files");
	conf_errs_free(&errs);

	/* Only so many messages are kept; the count goes on. */
	n = 0;
	for (int i = 0; i < 3 * CONF_MAX_ERRS; i++)
		n += sprintf(text + n, "oops\n");
	conf_errs_init(&errs);
	assert_int_equal(load_text(text, &c, &errs), LG_ECONFIG);
	assert_int_equal(errs.count, 3 * CONF_MAX_ERRS);
	assert_has(&errs, "t.conf:100: expected");
	assert_lacks(&errs, "t.conf:101:");
	assert_has(&errs, "too many errors; only the first 100 are shown\n");
	conf_errs_free(&errs);
	free(text);
}

static void test_read_errors(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	conf_errs_init(&errs);
	assert_int_equal(conf_load("missing.conf", &c, &errs), LG_ECONFIG);
	assert_has(&errs, "missing.conf: cannot read 'missing.conf': No such file or directory");
	assert_int_equal(mkdir("adir", 0700), 0);
	assert_int_equal(load_text("[agent]\ninclude = adir\n", &c, &errs), LG_ECONFIG);
	assert_has(&errs, "t.conf:2: include: cannot read 'adir': Is a directory");
	conf_errs_free(&errs);
	conf_free(&c);
	assert_null(c.sections);

	char *p = conf_path_relative("/etc/logd/main.conf", "conf.d/a.conf");
	assert_string_equal(p, "/etc/logd/conf.d/a.conf");
	free(p);
	p = conf_path_relative("/etc/logd/main.conf", "/abs");
	assert_string_equal(p, "/abs");
	free(p);
	p = conf_path_relative("main.conf", "x");
	assert_string_equal(p, "x");
	free(p);
}

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int rc;
		uint64_t ms;
	} cases[] = {
	    {"0", 0, 0},
	    {"30", 0, 30000},
	    {"1.5", 0, 1500},
	    {"0.001", 0, 1},
	    {"0.0009", 0, 0},
	    {".5", 0, 500},
	    {"500ms", 0, 500},
	    {"500MS", 0, 500},
	    {"30s", 0, 30000},
	    {"5m", 0, 300000},
	    {"1h", 0, 3600000},
	    {"2d", 0, 172800000},
	    {"1.25h", 0, 4500000},
	    {"1.5ms", 0, 1},
	    {"1.123456789123s", 0, 1123},
	    {"18446744073709551615ms", 0, UINT64_MAX},
	    {"18446744073709551616ms", LG_ETOOBIG, 0},
	    {"18446744073709551.615s", 0, UINT64_MAX},
	    {"18446744073709552s", LG_ETOOBIG, 0},
	    {"213503982334d", 0, 213503982334ull * 86400000ull},
	    {"213503982335d", LG_ETOOBIG, 0},
	    {"99999999999999999999999", LG_ETOOBIG, 0},
	    {"", LG_EINVAL, 0},
	    {"s", LG_EINVAL, 0},
	    {"-1s", LG_EINVAL, 0},
	    {"+1s", LG_EINVAL, 0},
	    {"1.", LG_EINVAL, 0},
	    {".", LG_EINVAL, 0},
	    {"1 s", LG_EINVAL, 0},
	    {" 1s", LG_EINVAL, 0},
	    {"1sec", LG_EINVAL, 0},
	    {"1w", LG_EINVAL, 0},
	    {"abc", LG_EINVAL, 0},
	    {"1e3", LG_EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 777;
		int rc = conf_parse_duration(cases[i].s, &ms);
		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, expected %d", cases[i].s, rc, cases[i].rc);
		if (ms != (rc ? 777 : cases[i].ms))
			fail_msg("'%s': %llu ms", cases[i].s, (unsigned long long)ms);
	}
	uint64_t ms;
	assert_int_equal(conf_parse_duration(NULL, &ms), LG_EINVAL);
}

static void test_size(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int rc;
		uint64_t b;
	} cases[] = {
	    {"0", 0, 0},
	    {"512", 0, 512},
	    {"512b", 0, 512},
	    {"64K", 0, 65536},
	    {"64k", 0, 65536},
	    {"64KB", 0, 65536},
	    {"64kib", 0, 65536},
	    {"16M", 0, 16u << 20},
	    {"16mB", 0, 16u << 20},
	    {"16MiB", 0, 16u << 20},
	    {"1G", 0, 1u << 30},
	    {"1gb", 0, 1u << 30},
	    {"1GiB", 0, 1u << 30},
	    {"1.5K", 0, 1536},
	    {"1.5", LG_EINVAL, 0},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"18446744073709551616", LG_ETOOBIG, 0},
	    {"17179869183G", 0, 17179869183ull << 30},
	    {"17179869184G", LG_ETOOBIG, 0},
	    {"", LG_EINVAL, 0},
	    {"K", LG_EINVAL, 0},
	    {"-1", LG_EINVAL, 0},
	    {"1T", LG_EINVAL, 0},
	    {"1 K", LG_EINVAL, 0},
	    {"1KK", LG_EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 777;
		int rc = conf_parse_size(cases[i].s, &b);
		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, expected %d", cases[i].s, rc, cases[i].rc);
		if (b != (rc ? 777 : cases[i].b))
			fail_msg("'%s': %llu bytes", cases[i].s, (unsigned long long)b);
	}
}

static void test_bool(void **state)
{
	(void)state;
	static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
	static const char *const no[] = {"false", "False", "no", "NO", "off", "Off", "0"};
	static const char *const bad[] = {"", "y", "n", "2", "truee", " true", "enabled", "01"};
	bool b;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(conf_parse_bool(yes[i], &b), 0);
		assert_true(b);
		assert_int_equal(conf_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(conf_parse_bool(bad[i], &b), LG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_bad_files, enter_tmp),
	    cmocka_unit_test_setup(test_syntax, enter_tmp),
	    cmocka_unit_test_setup(test_crlf, enter_tmp),
	    cmocka_unit_test_setup(test_includes, enter_tmp),
	    cmocka_unit_test_setup(test_include_depth, enter_tmp),
	    cmocka_unit_test_setup(test_limits, enter_tmp),
	    cmocka_unit_test_setup(test_read_errors, enter_tmp),
	    cmocka_unit_test_setup(test_duration, enter_tmp),
	    cmocka_unit_test_setup(test_size, enter_tmp),
	    cmocka_unit_test_setup(test_bool, enter_tmp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

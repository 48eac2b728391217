/* Unit tests of conf's option tables (opts.c): opts_apply with a table of
 * every type, defaults, required keys, secrets inline and from files, kv
 * prefixes, unknown keys with suggestions, the help, Markdown and value
 * listings (secrets redacted everywhere). Each test writes its config into a
 * temporary directory and runs there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"

static char tmpdir[] = "/tmp/test_opts.XXXXXX";

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

struct sample {
	char *path;
	int64_t count;
	bool flag;
	uint64_t size;
	uint64_t interval;
	struct opt_list labels;
	int mode;
	struct opt_kvlist kafka;
	char *token;
	int64_t pin;
	char *note;
	int level;
};

#define S(f) offsetof(struct sample, f)

static const struct opt_def sample_opts[] = {
    {"path", OPT_STRING, NULL, OPT_REQUIRED, S(path), NULL, "where records go"},
    {"count", OPT_INT, "10", 0, S(count), NULL, "how many"},
    {"flag", OPT_BOOL, "yes", 0, S(flag), NULL, "a switch"},
    {"size", OPT_SIZE, "16M", 0, S(size), NULL, "a size"},
    {"fsync_interval", OPT_DURATION, "1s", 0, S(interval), NULL, "how often"},
    {"labels", OPT_LIST, "a, b", 0, S(labels), NULL, "labels | pairs"},
    {"mode", OPT_ENUM, "interval", 0, S(mode), "always|interval|never", "durability"},
    {"kafka.", OPT_KV, NULL, 0, S(kafka), NULL, "passed to librdkafka"},
    {"token", OPT_STRING, NULL, OPT_SECRET, S(token), NULL, "API token"},
    {"pin", OPT_INT, NULL, OPT_SECRET | OPT_REQUIRED, S(pin), NULL, "a secret number"},
    {"note", OPT_STRING, "hello", 0, S(note), NULL, "free text"},
    {"level", OPT_ENUM, NULL, 0, S(level), "debug|info", "no default"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct extra {
	int64_t extra;
	char *kafka_topic;
};

static const struct opt_def extra_opts[] = {
    {"extra", OPT_INT, "0", 0, offsetof(struct extra, extra), NULL, "another table"},
    {"kafka.topic", OPT_STRING, NULL, 0, offsetof(struct extra, kafka_topic), NULL, "topic"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Loads text and applies sample_opts to [sink s]. */
static int apply_text(const char *text, struct conf *c, struct sample *s, struct conf_errs *errs)
{
	int rc = load_text(text, c, errs);
	if (rc)
		fail_msg("load: %s", errs->text.data);
	return opts_apply(sample_opts, s, conf_find(c, "sink", "s"), errs);
}

static void test_opts_defaults(void **state)
{
	(void)state;
	struct sample s;
	memset(&s, 0xa5, sizeof(s));
	assert_int_equal(opts_defaults(sample_opts, &s), 0);
	assert_null(s.path);
	assert_int_equal(s.count, 10);
	assert_true(s.flag);
	assert_int_equal(s.size, 16u << 20);
	assert_int_equal(s.interval, 1000);
	assert_int_equal(s.labels.n, 2);
	assert_string_equal(s.labels.items[1], "b");
	assert_int_equal(s.mode, 1);
	assert_int_equal(s.kafka.n, 0);
	assert_null(s.token);
	assert_string_equal(s.note, "hello");
	assert_int_equal(s.level, -1);
	opts_free(sample_opts, &s);
	assert_null(s.note);
	assert_null(s.labels.items);
	assert_int_equal(s.labels.n, 0);

	/* sec NULL: defaults, and the required key is missing. */
	struct conf_errs errs;
	conf_errs_init(&errs);
	assert_int_equal(opts_apply(sample_opts, &s, NULL, &errs), LG_ECONFIG);
	assert_string_equal(errs.text.data, "missing required key 'path'\nmissing required key "
	                                    "'pin'\n");
	opts_free(sample_opts, &s);
	conf_errs_free(&errs);
}

static void test_opts_apply(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	struct sample s;
	struct extra x;
	conf_errs_init(&errs);
	int rc = apply_text("[sink s]\n"
	                    "path = /var/log/out.json\n"
	                    "count = -42\n"
	                    "flag = off\n"
	                    "size = 1.5K\n"
	                    "fsync_interval = 1.5\n"
	                    "labels = env=prod, team=voice,, ,\n"
	                    "mode = NEVER\n"
	                    "kafka.bootstrap.servers = localhost:9092\n"
	                    "kafka.topic = logs\n"
	                    "kafka.sasl.password = hunter2\n"
	                    "pin = 1234\n"
	                    "note =\n"
	                    "level = Info\n",
	                    &c, &s, &errs);
	if (rc)
		fail_msg("%s", errs.text.data);
	assert_string_equal(s.path, "/var/log/out.json");
	assert_int_equal(s.count, -42);
	assert_false(s.flag);
	assert_int_equal(s.size, 1536);
	assert_int_equal(s.interval, 1500);
	assert_int_equal(s.labels.n, 2);
	assert_string_equal(s.labels.items[0], "env=prod");
	assert_string_equal(s.labels.items[1], "team=voice");
	assert_int_equal(s.mode, 2);
	assert_int_equal(s.pin, 1234);
	assert_null(s.note);
	assert_int_equal(s.level, 1);
	/* kafka.topic is a row of its own in extra_opts, not of this table:
	 * the kv row takes it here. */
	assert_int_equal(s.kafka.n, 3);
	assert_string_equal(s.kafka.items[0].key, "bootstrap.servers");
	assert_string_equal(s.kafka.items[0].value, "localhost:9092");
	assert_string_equal(s.kafka.items[0].file, "t.conf");
	assert_int_equal(s.kafka.items[0].line, 9);
	assert_string_equal(s.kafka.items[2].key, "sasl.password");

	const struct conf_section *sec = conf_find(&c, "sink", "s");
	for (size_t i = 0; i < sec->n; i++)
		assert_true(sec->entries[i].used);
	struct opt_origin o = opts_origin(sec, "mode");
	assert_string_equal(o.file, "t.conf");
	assert_int_equal(o.line, 8);
	o = opts_origin(sec, "token");
	assert_int_equal(o.line, 1);
	o = opts_origin(NULL, "token");
	assert_null(o.file);

	assert_int_equal(opts_apply(extra_opts, &x, sec, &errs), 0);
	assert_string_equal(x.kafka_topic, "logs");
	opts_free(extra_opts, &x);
	opts_free(sample_opts, &s);
	assert_null(s.path);
	assert_null(s.kafka.items);
	conf_free(&c);
	conf_errs_free(&errs);
}

static void test_opts_errors(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	struct sample s;
	conf_errs_init(&errs);
	assert_int_equal(apply_text("[sink s]\n"
	                            "count = 12x\n"
	                            "flag = maybe\n"
	                            "size = 16 M\n"
	                            "fsync_interval = abc\n"
	                            "mode = sometimes\n"
	                            "pin = 12x-SECRETPIN\n"
	                            "kafka. = x\n"
	                            "note = fine\n"
	                            "level = \n"
	                            "[sink other]\n"
	                            "count = 99999999999999999999\n"
	                            "fsync_interval = 99999999999999999999d\n",
	                            &c, &s, &errs),
	                 LG_ECONFIG);
	assert_has(&errs, "t.conf:1: [sink s]: missing required key 'path'\n");
	assert_has(&errs, "t.conf:2: key 'count': invalid integer '12x'\n");
	assert_has(&errs, "t.conf:3: key 'flag': invalid boolean 'maybe' (expected true/false, "
	                  "yes/no, on/off, 1/0)\n");
	assert_has(&errs, "t.conf:4: key 'size': invalid size '16 M'");
	assert_has(&errs, "t.conf:5: key 'fsync_interval': invalid duration 'abc'");
	assert_has(&errs, "t.conf:6: key 'mode': invalid value 'sometimes' (expected one of: "
	                  "always|interval|never)\n");
	assert_has(&errs, "t.conf:7: key 'pin': invalid integer (a secret, not shown)\n");
	assert_has(&errs, "t.conf:8: key 'kafka.': a name must follow 'kafka.'\n");
	assert_has(&errs, "t.conf:10: key 'level': invalid value '' (expected one of: "
	                  "debug|info)\n");
	assert_int_equal(errs.count, 9);
	assert_lacks(&errs, "SECRETPIN");
	/* Bad values keep their defaults; good ones are set. */
	assert_int_equal(s.count, 10);
	assert_int_equal(s.mode, 1);
	assert_string_equal(s.note, "fine");
	opts_free(sample_opts, &s);

	conf_errs_free(&errs);
	conf_errs_init(&errs);
	assert_int_equal(opts_apply(sample_opts, &s, conf_find(&c, "sink", "other"), &errs),
	                 LG_ECONFIG);
	assert_has(&errs, "t.conf:11: [sink other]: missing required key 'path'\n");
	assert_has(&errs, "t.conf:11: [sink other]: missing required key 'pin' (or "
	                  "'pin_file')\n");
	assert_has(&errs, "t.conf:12: key 'count': integer '99999999999999999999' out of range");
	assert_has(&errs, "t.conf:13: key 'fsync_interval': duration '99999999999999999999d' "
	                  "out of range");
	opts_free(sample_opts, &s);
	conf_free(&c);
	conf_errs_free(&errs);

	/* A required string set empty. */
	conf_errs_init(&errs);
	assert_int_equal(apply_text("[sink s]\npath = \"\"\npin = 1\n", &c, &s, &errs), LG_ECONFIG);
	assert_string_equal(errs.text.data, "t.conf:2: key 'path': must not be empty\n");
	opts_free(sample_opts, &s);
	conf_free(&c);
	conf_errs_free(&errs);
}

static void test_opts_secret_file(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	struct sample s;
	assert_int_equal(mkdir("sub", 0700), 0);
	free(write_str("sub/token", "s3cr3t-TOKEN\r\n\n"));
	free(write_str("sub/pin", "4321\n"));
	/* Relative to the config file's directory, not the cwd. */
	free(write_str("sub/t.conf", "[sink s]\npath = x\ntoken_file = token\npin_file = pin\n"));
	conf_errs_init(&errs);
	assert_int_equal(conf_load("sub/t.conf", &c, &errs), 0);
	assert_int_equal(opts_apply(sample_opts, &s, conf_find(&c, "sink", "s"), &errs), 0);
	assert_string_equal(s.token, "s3cr3t-TOKEN");
	assert_int_equal(s.pin, 4321);
	struct opt_origin o = opts_origin(conf_find(&c, "sink", "s"), "token");
	assert_int_equal(o.line, 3);
	opts_free(sample_opts, &s);
	conf_free(&c);

	/* Both forms; an unreadable file; a file too big; a NUL byte. */
	char *big = malloc(CONF_MAX_SECRET + 2);
	memset(big, 'Z', CONF_MAX_SECRET + 1);
	memcpy(big, "TOPSECRET", 9);
	free(write_tmp("big", big, CONF_MAX_SECRET + 1));
	free(big);
	free(write_tmp("nul", "NULSECRET\0x", 11));
	free(write_tmp("bad_pin", "12 SECRETPIN\n", 13));
	assert_int_equal(apply_text("[sink s]\n"
	                            "path = x\n"
	                            "token = INLINESECRET\n"
	                            "token_file = nul\n"
	                            "pin_file = bad_pin\n"
	                            "[sink t]\n"
	                            "path = x\n"
	                            "token_file = nope/missing\n"
	                            "pin_file = big\n"
	                            "[sink u]\n"
	                            "path = x\n"
	                            "token_file = nul\n"
	                            "pin = 1\n",
	                            &c, &s, &errs),
	                 LG_ECONFIG);
	assert_has(&errs, "t.conf:4: key 'token_file': 'token' is set too (at t.conf:3); set "
	                  "only one\n");
	assert_has(&errs, "t.conf:5: key 'pin_file': invalid integer (a secret, not shown)\n");
	opts_free(sample_opts, &s);
	assert_int_equal(opts_apply(sample_opts, &s, conf_find(&c, "sink", "t"), &errs),
	                 LG_ECONFIG);
	assert_has(&errs, "t.conf:8: key 'token_file': cannot read 'nope/missing': No such file "
	                  "or directory\n");
	assert_has(&errs, "t.conf:9: key 'pin_file': 'big' is larger than 65536 bytes\n");
	opts_free(sample_opts, &s);
	assert_int_equal(opts_apply(sample_opts, &s, conf_find(&c, "sink", "u"), &errs),
	                 LG_ECONFIG);
	assert_has(&errs, "t.conf:12: key 'token_file': 'nul' contains a NUL byte\n");
	assert_int_equal(errs.count, 5);
	assert_lacks(&errs, "SECRET");
	opts_free(sample_opts, &s);
	conf_free(&c);
	conf_errs_free(&errs);
}

static void test_unknown_keys(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	struct sample s;
	struct extra x;
	conf_errs_init(&errs);
	assert_int_equal(apply_text("[sink s]\n"
	                            "path = x\n"
	                            "pin = 1\n"
	                            "extra = 5\n"
	                            "pth = y\n"
	                            "fsync_intervall = 1s\n"
	                            "tokne_file = f\n"
	                            "zzz = 1\n"
	                            "mod = never\n"
	                            "cont = 1\n"
	                            "Path = z\n",
	                            &c, &s, &errs),
	                 0);
	const struct conf_section *sec = conf_find(&c, "sink", "s");
	assert_int_equal(opts_apply(extra_opts, &x, sec, &errs), 0);
	assert_int_equal(x.extra, 5);
	conf_check_unused(sec, &errs);
	assert_string_equal(errs.text.data,
	                    "t.conf:5: [sink s]: unknown key 'pth' (did you mean 'path'?)\n"
	                    "t.conf:6: [sink s]: unknown key 'fsync_intervall' (did you mean "
	                    "'fsync_interval'?)\n"
	                    "t.conf:7: [sink s]: unknown key 'tokne_file' (did you mean "
	                    "'token_file'?)\n"
	                    "t.conf:8: [sink s]: unknown key 'zzz'\n"
	                    "t.conf:9: [sink s]: unknown key 'mod' (did you mean 'mode'?)\n"
	                    "t.conf:10: [sink s]: unknown key 'cont' (did you mean 'count'?)\n"
	                    "t.conf:11: [sink s]: unknown key 'Path' (did you mean 'path'?)\n");
	opts_free(extra_opts, &x);
	opts_free(sample_opts, &s);
	conf_free(&c);
	conf_errs_free(&errs);

	/* [agent] with no table applied: no suggestion, the section named. */
	conf_errs_init(&errs);
	assert_int_equal(load_text("[agent]\nlog_levle = info\n", &c, &errs), 0);
	conf_check_unused(conf_find(&c, "agent", NULL), &errs);
	assert_string_equal(errs.text.data, "t.conf:2: [agent]: unknown key 'log_levle'\n");
	conf_free(&c);
	conf_errs_free(&errs);
}

static char *capture(void (*print)(const struct opt_def *, FILE *), const struct opt_def *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	print(t, f);
	fclose(f);
	return text;
}

static void test_print(void **state)
{
	(void)state;
	struct conf c;
	struct conf_errs errs;
	struct sample s, back;
	conf_errs_init(&errs);
	assert_int_equal(apply_text("[sink s]\n"
	                            "path = \" /odd # path\\\\ \\\"q\\\" $$HOME\"\n"
	                            "token = SUPERSECRET\n"
	                            "pin = 77\n"
	                            "fsync_interval = 90s\n"
	                            "size = 1000\n"
	                            "kafka.bootstrap.servers = h:9092\n"
	                            "kafka.sasl.password = KAFKASECRET\n"
	                            "kafka.ssl.key.pem = PEMSECRET\n",
	                            &c, &s, &errs),
	                 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fputs("[sink s]\n", f);
	opts_print_values(sample_opts, &s, f);
	fclose(f);
	assert_null(strstr(text, "SECRET"));
	assert_non_null(strstr(text, "\npath = \" /odd # path\\\\ \\\"q\\\" $$HOME\"\n"));
	assert_non_null(strstr(text, "\ntoken = <redacted>\n"));
	assert_non_null(strstr(text, "\npin = <redacted>\n"));
	assert_non_null(strstr(text, "\ncount = 10\n"));
	assert_non_null(strstr(text, "\nflag = true\n"));
	assert_non_null(strstr(text, "\nsize = 1000\n"));
	assert_non_null(strstr(text, "\nfsync_interval = 90s\n"));
	assert_non_null(strstr(text, "\nlabels = a, b\n"));
	assert_non_null(strstr(text, "\nmode = interval\n"));
	assert_non_null(strstr(text, "\nkafka.bootstrap.servers = h:9092\n"));
	assert_non_null(strstr(text, "\nkafka.sasl.password = <redacted>\n"));
	assert_non_null(strstr(text, "\nkafka.ssl.key.pem = <redacted>\n"));
	assert_non_null(strstr(text, "\nnote = hello\n"));
	assert_null(strstr(text, "level ="));

	/* What it prints reads back to the same values (secrets aside). */
	struct conf c2;
	int rc = load_text(text, &c2, &errs);
	if (rc)
		fail_msg("%s\n%s", text, errs.text.data);
	assert_int_equal(opts_apply(sample_opts, &back, conf_find(&c2, "sink", "s"), &errs),
	                 LG_ECONFIG);
	assert_string_equal(back.path, s.path);
	assert_string_equal(back.path, " /odd # path\\ \"q\" $HOME");
	assert_int_equal(back.interval, s.interval);
	assert_int_equal(back.size, s.size);
	assert_string_equal(back.labels.items[1], "b");
	assert_has(&errs, "key 'pin': invalid integer (a secret, not shown)");
	opts_free(sample_opts, &back);
	conf_free(&c2);
	free(text);

	text = capture(opts_print_help, sample_opts);
	assert_non_null(strstr(text, "  OPTION          TYPE      DEFAULT   FLAGS            "
	                             "DESCRIPTION\n"));
	assert_non_null(strstr(text, "  path            string    -         required         "
	                             "where records go\n"));
	assert_non_null(strstr(text, "  kafka.*         kv"));
	assert_non_null(strstr(text, "  pin             integer   -         required,secret  a "
	                             "secret number (or pin_file: read from a file)\n"));
	assert_non_null(strstr(text, "durability (always|interval|never)\n"));
	free(text);

	text = capture(opts_print_markdown, sample_opts);
	assert_non_null(strstr(text, "| key | type | default | description |\n"
	                             "| --- | --- | --- | --- |\n"
	                             "| `path` | string | required | where records go |\n"));
	assert_non_null(strstr(text, "| `token` or `token_file` (secret) | string | — | API "
	                             "token |\n"));
	assert_non_null(strstr(text, "| `mode` | one of `always`, `interval`, `never` | "
	                             "`interval` | durability |\n"));
	assert_non_null(strstr(text, "| `labels` | list | `a, b` | labels \\| pairs |\n"));
	assert_non_null(strstr(text, "| `kafka.*` | kv | — |"));
	free(text);

	opts_free(sample_opts, &s);
	conf_free(&c);
	conf_errs_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_opts_defaults, enter_tmp),
	    cmocka_unit_test_setup(test_opts_apply, enter_tmp),
	    cmocka_unit_test_setup(test_opts_errors, enter_tmp),
	    cmocka_unit_test_setup(test_opts_secret_file, enter_tmp),
	    cmocka_unit_test_setup(test_unknown_keys, enter_tmp),
	    cmocka_unit_test_setup(test_print, enter_tmp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* sink_file: every record becomes one line, in order, acknowledged exactly
 * once and only when durable (after the covering fsync, or after the write
 * with fsync = never and on standard output); rotation makes complete gzip
 * archives holding every record once, keeping rotate_keep of them; reopen
 * follows logrotate's `create`; a failing file is retried, never
 * acknowledged, logged once; bad paths and options are startup errors naming
 * file:line. Each test runs a real loop and ends with nothing left open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "file_rotate.h"
#include "sink_file.h"

#define MAX_RECS 1000

struct ctx {
	uv_loop_t loop;
	uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping forever */
	struct sink s;
	struct sink_file_conf conf;
	struct conf_errs errs;
	char dir[256];
	char path[300];
	struct record *recs[MAX_RECS];
	size_t nrecs;
	uint64_t acked[MAX_RECS];
	size_t nacked;
	uint64_t submit_ms[MAX_RECS];
	uint64_t ack_ms[MAX_RECS];
	bool check_durable; /* every ack must follow a successful fsync */
	bool flushed, closed;
	size_t want;
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void on_ack(struct sink *s, struct record *r, int result, const char *reason)
{
	struct ctx *c = s->router_data;
	assert_int_equal(result, 0);
	assert_null(reason);
	assert_int_equal(r->pending, 0); /* exactly once */
	r->pending = 1;
	if (c->check_durable) {
		struct sink_file_stats st;
		sink_file_stats(s, &st);
		assert_true(st.fsyncs > 0);
	}
	assert_true(c->nacked < MAX_RECS);
	c->ack_ms[c->nacked] = uv_now(&c->loop);
	c->acked[c->nacked++] = r->seq;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	uv_timer_init(&c->loop, &c->tick);
	uv_timer_start(&c->tick, on_tick, 5, 5);
	snprintf(c->dir, sizeof(c->dir), "/tmp/test_sink_file.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/out.log", c->dir);
	c->conf.path = c->path;
	c->conf.fsync = SINK_FILE_FSYNC_INTERVAL;
	c->conf.fsync_interval = 50;
	c->conf.rotate_keep = 5;
	c->s.type = sink_type_find("file");
	c->s.name = "out";
	c->s.who = "sink out";
	c->s.loop = &c->loop;
	c->s.conf = &c->conf;
	c->s.file = "test.conf";
	c->s.line = 7;
	c->s.on_ack = on_ack;
	c->s.router_data = c;
	conf_errs_init(&c->errs);
	*state = c;
	return 0;
}

static void on_closed(struct sink *s)
{
	struct ctx *c = s->router_data;
	c->closed = true;
}

static void on_flushed(struct sink *s)
{
	struct ctx *c = s->router_data;
	c->flushed = true;
}

static bool run_until(struct ctx *c, bool (*pred)(struct ctx *), uint64_t ms)
{
	uv_update_time(&c->loop);
	uint64_t end = uv_now(&c->loop) + ms;
	while (!pred(c) && uv_now(&c->loop) < end)
		uv_run(&c->loop, UV_RUN_ONCE);
	return pred(c);
}

static bool p_closed(struct ctx *c)
{
	return c->closed;
}

static bool p_flushed(struct ctx *c)
{
	return c->flushed;
}

static bool p_acked(struct ctx *c)
{
	return c->nacked >= c->want;
}

static bool p_written(struct ctx *c)
{
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	return st.written >= c->want;
}

static bool p_compressed(struct ctx *c)
{
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	return c->nacked >= c->want && st.compressed == st.rotations;
}

static bool p_one_archive(struct ctx *c)
{
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	return st.compressed >= 1;
}

static void close_sink(struct ctx *c)
{
	if (c->s.priv) {
		c->s.type->close(&c->s, on_closed);
		assert_true(run_until(c, p_closed, 5000));
		assert_null(c->s.priv);
	}
}

static void rm_tree(const char *dir)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	close_sink(c);
	uv_close((uv_handle_t *)&c->tick, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	for (size_t i = 0; i < c->nrecs; i++)
		record_unref(c->recs[i]);
	conf_errs_free(&c->errs);
	rm_tree(c->dir);
	free(c);
	return 0;
}

static void open_sink(struct ctx *c)
{
	assert_int_equal(c->s.type->open(&c->s, &c->errs), 0);
	assert_int_equal(c->errs.count, 0);
}

/* Submits n records of about `size` bytes each. */
static void submit(struct ctx *c, size_t n, size_t size)
{
	char pad[4096];
	for (size_t k = 0; k < n; k++) {
		size_t i = c->nrecs;
		assert_true(i < MAX_RECS);
		size_t padlen = size > 40 ? size - 40 : 1;
		memset(pad, 'a' + (int)(i % 26), padlen);
		pad[padlen] = '\0';
		char *json;
		assert_true(asprintf(&json, "{\"seq\":%zu,\"pad\":\"%s\"}", i, pad) > 0);
		char *id;
		assert_true(asprintf(&id, "id-%zu", i) > 0);
		struct record *r = record_new(RECORD_REQUEST, id, json, strlen(json));
		assert_non_null(r);
		r->seq = i;
		c->recs[i] = r;
		c->nrecs++;
		c->submit_ms[i] = uv_now(&c->loop);
		assert_int_equal(c->s.type->submit(&c->s, r), 0);
	}
}

/* Appends the seq of every line of data to seqs, checking each line is a
 * whole record. */
static void parse_lines(const char *data, size_t len, uint64_t *seqs, size_t *n, size_t max)
{
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		unsigned long long seq;
		assert_int_equal(sscanf(p, "{\"seq\":%llu,", &seq), 1);
		assert_true(seq < MAX_RECS);
		assert_memory_equal(p, "{\"seq\":", 7);
		assert_int_equal(nl[-1], '}');
		assert_true(*n < max);
		seqs[(*n)++] = seq;
		p = nl + 1;
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *data = malloc(4 << 20);
	assert_non_null(data);
	*len = fread(data, 1, 4 << 20, fp);
	fclose(fp);
	return data;
}

static void read_plain(const char *path, uint64_t *seqs, size_t *n)
{
	size_t len;
	char *data = slurp(path, &len);
	assert_non_null(data);
	parse_lines(data, len, seqs, n, MAX_RECS);
	free(data);
}

/* A complete gzip file: read to the end, trailer checked by gzclose_r. */
static void read_gz(const char *path, uint64_t *seqs, size_t *n, size_t max_plain)
{
	gzFile gz = gzopen(path, "rb");
	assert_non_null(gz);
	char *data = malloc(1 << 20);
	assert_non_null(data);
	int len = gzread(gz, data, 1 << 20);
	assert_true(len > 0);
	assert_int_equal(gzdirect(gz), 0);
	assert_int_equal(gzclose_r(gz), Z_OK);
	assert_true((size_t)len <= max_plain);
	parse_lines(data, (size_t)len, seqs, n, MAX_RECS);
	free(data);
}

static void assert_acked_in_order(struct ctx *c, size_t n)
{
	assert_int_equal(c->nacked, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c->acked[i], i);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void test_interval_acks_after_fsync(void **state)
{
	struct ctx *c = *state;
	c->conf.fsync_interval = 300;
	c->check_durable = true;
	open_sink(c);
	submit(c, 50, 80);
	c->want = 50;
	assert_true(run_until(c, p_written, 2000));
	/* Written, not yet fsynced: nothing may be acknowledged. */
	assert_int_equal(c->nacked, 0);
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	read_plain(c->path, seqs, &n);
	assert_int_equal(n, 50);
	assert_true(run_until(c, p_acked, 3000));
	assert_acked_in_order(c, 50);
	for (size_t i = 0; i < 50; i++)
		assert_true(c->ack_ms[i] >= c->submit_ms[i] + 290);
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	assert_true(st.fsyncs >= 1);
	assert_int_equal(st.acked, 50);
	assert_int_equal(st.errors, 0);
}

static void test_fsync_always(void **state)
{
	struct ctx *c = *state;
	c->conf.fsync = SINK_FILE_FSYNC_ALWAYS;
	c->conf.fsync_interval = 60000; /* must not matter */
	c->check_durable = true;
	open_sink(c);
	for (int wave = 1; wave <= 4; wave++) {
		submit(c, 5, 60);
		c->want = (size_t)wave * 5;
		assert_true(run_until(c, p_acked, 2000));
	}
	assert_acked_in_order(c, 20);
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	assert_true(st.fsyncs >= 4);
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	read_plain(c->path, seqs, &n);
	assert_int_equal(n, 20);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], i);
}

static void test_fsync_never(void **state)
{
	struct ctx *c = *state;
	c->conf.fsync = SINK_FILE_FSYNC_NEVER;
	open_sink(c);
	/* More than one write's worth of buffers (and than IOV_MAX). */
	submit(c, 700, 100);
	c->want = 700;
	assert_true(run_until(c, p_acked, 5000));
	assert_acked_in_order(c, 700);
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	assert_int_equal(st.fsyncs, 0);
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	read_plain(c->path, seqs, &n);
	assert_int_equal(n, 700);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], i);
}

static void test_stdout(void **state)
{
	struct ctx *c = *state;
	char out[300];
	snprintf(out, sizeof(out), "%s/stdout", c->dir);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *fp = fopen(out, "w");
	assert_non_null(fp);
	dup2(fileno(fp), STDOUT_FILENO);
	fclose(fp);
	c->conf.path = "-";
	open_sink(c);
	submit(c, 10, 50);
	c->want = 10;
	bool ok = run_until(c, p_acked, 2000);
	close_sink(c);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	assert_true(ok);
	assert_acked_in_order(c, 10);
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	read_plain(out, seqs, &n);
	assert_int_equal(n, 10);
	/* Rotation of standard output is a configuration error. */
	c->s.priv = NULL;
	c->conf.rotate_size = 1000;
	assert_int_equal(c->s.type->open(&c->s, &c->errs), LG_ECONFIG);
	assert_non_null(strstr(c->errs.text.data, "test.conf:7"));
	assert_non_null(strstr(c->errs.text.data, "rotate_size"));
	assert_null(c->s.priv);
}

static void rotated_name(char *out, size_t len, const struct ctx *c, int k)
{
	snprintf(out, len, "%s.%d.gz", c->path, k);
}

static void test_rotation_all_kept(void **state)
{
	struct ctx *c = *state;
	c->conf.rotate_size = 2000;
	c->conf.rotate_keep = 1000;
	open_sink(c);
	submit(c, 300, 100);
	c->want = 300;
	assert_true(run_until(c, p_compressed, 20000));
	assert_acked_in_order(c, 300);
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	assert_true(st.rotations >= 10);
	close_sink(c);
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	char name[400];
	for (int k = (int)st.rotations; k >= 1; k--) {
		rotated_name(name, sizeof(name), c, k);
		read_gz(name, seqs, &n, 2000);
	}
	rotated_name(name, sizeof(name), c, (int)st.rotations + 1);
	assert_false(exists(name));
	read_plain(c->path, seqs, &n);
	assert_int_equal(n, 300);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], i);
	snprintf(name, sizeof(name), "%s%s", c->path, FILE_ROTATE_SUFFIX);
	assert_false(exists(name));
	snprintf(name, sizeof(name), "%s.1.gz.tmp", c->path);
	assert_false(exists(name));
}

static void test_rotation_keep(void **state)
{
	struct ctx *c = *state;
	c->conf.rotate_size = 1500;
	c->conf.rotate_keep = 3;
	c->conf.fsync = SINK_FILE_FSYNC_ALWAYS;
	open_sink(c);
	submit(c, 200, 120);
	c->want = 200;
	assert_true(run_until(c, p_compressed, 20000));
	assert_acked_in_order(c, 200);
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	assert_true(st.rotations > 3);
	close_sink(c);
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	char name[400];
	rotated_name(name, sizeof(name), c, 4);
	assert_false(exists(name));
	for (int k = 3; k >= 1; k--) {
		rotated_name(name, sizeof(name), c, k);
		read_gz(name, seqs, &n, 1500);
	}
	read_plain(c->path, seqs, &n);
	/* A contiguous run ending with the last record: older ones deleted. */
	assert_true(n > 0 && n < 200);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], 200 - n + i);
}

/* A PATH.rotating left by a crash is archived at the next start. */
static void test_rotation_recovers_leftover(void **state)
{
	struct ctx *c = *state;
	char name[400];
	snprintf(name, sizeof(name), "%s%s", c->path, FILE_ROTATE_SUFFIX);
	FILE *fp = fopen(name, "w");
	assert_non_null(fp);
	fputs("{\"seq\":0,\"pad\":\"x\"}\n", fp);
	fclose(fp);
	c->conf.rotate_size = 100000;
	open_sink(c);
	assert_true(run_until(c, p_one_archive, 5000));
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	assert_int_equal(st.compressed, 1);
	assert_false(exists(name));
	uint64_t seqs[MAX_RECS];
	size_t n = 0;
	rotated_name(name, sizeof(name), c, 1);
	read_gz(name, seqs, &n, 100);
	assert_int_equal(n, 1);
}

static void test_reopen_after_rename(void **state)
{
	struct ctx *c = *state;
	open_sink(c);
	submit(c, 10, 60);
	c->want = 10;
	assert_true(run_until(c, p_acked, 2000));
	char old[400];
	snprintf(old, sizeof(old), "%s.old", c->path);
	assert_int_equal(rename(c->path, old), 0);
	/* Records in flight across the reopen land in one file or the other. */
	submit(c, 5, 60);
	c->s.type->reopen(&c->s);
	submit(c, 5, 60);
	c->want = 20;
	assert_true(run_until(c, p_acked, 3000));
	assert_acked_in_order(c, 20);
	submit(c, 5, 60);
	c->want = 25;
	assert_true(run_until(c, p_acked, 3000));
	close_sink(c);
	uint64_t seqs[MAX_RECS];
	size_t n = 0, n_old;
	read_plain(old, seqs, &n);
	n_old = n;
	assert_true(n_old >= 10);
	read_plain(c->path, seqs, &n);
	assert_int_equal(n, 25);
	assert_true(n - n_old >= 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], i);
}

static void test_write_error_retried(void **state)
{
	struct ctx *c = *state;
	char log[300];
	snprintf(log, sizeof(log), "%s/stderr", c->dir);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	FILE *fp = fopen(log, "w");
	assert_non_null(fp);
	dup2(fileno(fp), STDERR_FILENO);
	fclose(fp);

	c->conf.path = "/dev/full";
	open_sink(c);
	submit(c, 3, 50);
	uv_update_time(&c->loop);
	uint64_t start = uv_now(&c->loop);
	c->s.type->flush(&c->s, start + 1500, on_flushed);
	bool ok = run_until(c, p_flushed, 5000);
	uint64_t took = uv_now(&c->loop) - start;
	struct sink_file_stats st;
	sink_file_stats(&c->s, &st);
	close_sink(c);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	assert_true(ok);
	assert_true(took >= 1490);
	assert_int_equal(c->nacked, 0);
	assert_true(st.errors >= 2);
	assert_int_equal(st.acked, 0);
	size_t len;
	char *text = slurp(log, &len);
	assert_non_null(text);
	text[len] = '\0';
	size_t lines = 0;
	for (const char *p = text; (p = strstr(p, "/dev/full")); p++)
		lines++;
	assert_int_equal(lines, 1);
	assert_non_null(strstr(text, "[sink out]"));
	assert_non_null(strstr(text, "no space left on device"));
	free(text);
}

static void test_missing_directory(void **state)
{
	struct ctx *c = *state;
	char path[400];
	snprintf(path, sizeof(path), "%s/no/such/dir/out.log", c->dir);
	c->conf.path = path;
	assert_int_equal(c->s.type->open(&c->s, &c->errs), LG_ECONFIG);
	assert_null(c->s.priv);
	assert_int_equal(c->errs.count, 1);
	assert_non_null(strstr(c->errs.text.data, "test.conf:7: "));
	assert_non_null(strstr(c->errs.text.data, path));
	assert_non_null(strstr(c->errs.text.data, "directory must exist"));
	assert_false(exists(path));
}

static void test_bad_options(void **state)
{
	struct ctx *c = *state;
	c->conf.rotate_keep = 0;
	assert_int_equal(c->s.type->open(&c->s, &c->errs), LG_ECONFIG);
	c->conf.rotate_keep = 5;
	c->conf.fsync_interval = 0;
	assert_int_equal(c->s.type->open(&c->s, &c->errs), LG_ECONFIG);
	c->conf.fsync_interval = 50;
	c->conf.path = NULL;
	assert_int_equal(c->s.type->open(&c->s, &c->errs), LG_ECONFIG);
	assert_int_equal(c->errs.count, 3);
	assert_non_null(strstr(c->errs.text.data, "rotate_keep"));
	assert_non_null(strstr(c->errs.text.data, "fsync_interval"));
	assert_non_null(strstr(c->errs.text.data, "key 'path': is required"));
	assert_null(c->s.priv);

	/* --check-config validates and touches nothing. */
	c->conf.path = c->path;
	c->s.check_only = true;
	assert_int_equal(c->s.type->open(&c->s, &c->errs), 0);
	assert_false(exists(c->path));
	c->s.type->close(&c->s, on_closed);
	assert_true(c->closed);

	/* The table's defaults are the documented ones. */
	const struct opt_def *o = c->s.type->opts;
	const char *want[][2] = {{"path", NULL},
	                         {"fsync", "interval"},
	                         {"fsync_interval", "1s"},
	                         {"rotate_size", "0"},
	                         {"rotate_keep", "5"}};
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(o[i].name, want[i][0]);
		if (want[i][1])
			assert_string_equal(o[i].def, want[i][1]);
		assert_non_null(o[i].desc);
	}
	assert_true(o[0].flags & OPT_REQUIRED);
	assert_null(o[5].name);
}

static void test_flush_then_close_in_flight(void **state)
{
	struct ctx *c = *state;
	c->check_durable = true;
	c->conf.fsync_interval = 10000; /* flush must not wait for it */
	open_sink(c);
	submit(c, 100, 200);
	uv_update_time(&c->loop);
	uint64_t start = uv_now(&c->loop);
	c->s.type->flush(&c->s, start + 5000, on_flushed);
	assert_true(run_until(c, p_flushed, 6000));
	assert_true(uv_now(&c->loop) - start < 4000);
	assert_acked_in_order(c, 100);
	/* Closing with records in flight: no ack after close, nothing leaks. */
	submit(c, 50, 200);
	c->s.type->close(&c->s, on_closed);
	assert_int_equal(c->s.type->submit(&c->s, c->recs[0]), LG_ECLOSED);
	assert_true(run_until(c, p_closed, 5000));
	assert_int_equal(c->nacked, 100);
	/* A flush with nothing queued completes from the loop, not inline. */
	c->closed = false;
	c->flushed = false;
	open_sink(c);
	c->s.type->flush(&c->s, uv_now(&c->loop) + 5000, on_flushed);
	assert_false(c->flushed);
	assert_true(run_until(c, p_flushed, 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_interval_acks_after_fsync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fsync_always, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fsync_never, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stdout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_all_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_keep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_recovers_leftover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_error_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_then_close_in_flight, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

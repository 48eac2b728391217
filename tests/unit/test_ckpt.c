/* ckpt: the resume point and dedup window, and the checkpoint file: round
 * trip, atomic replacement, detection of torn or corrupt files (kept aside
 * as .corrupt), and stream keys escaped into safe file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt.h"
#include "err.h"

#define T0 1700000000000LL /* a start time in ms */
#define OVERLAP 60000

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_ckpt.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_of(const char *file)
{
	static char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	return p;
}

static bool exists(const char *file)
{
	struct stat st;
	return stat(path_of(file), &st) == 0;
}

static char *slurp(const char *file, size_t *len)
{
	FILE *f = fopen(path_of(file), "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

static void spit(const char *file, const void *data, size_t len)
{
	FILE *f = fopen(path_of(file), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_advance_and_resume(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 1000);
	assert_true(ckpt_resume_since(&c) == INT64_MIN);
	assert_false(c.dirty);
	ckpt_advance(&c, T0, 1);
	assert_true(c.dirty);
	assert_true(c.since_ms == T0);
	assert_true(ckpt_resume_since(&c) == T0 - OVERLAP);
	/* Completion order: an older start does not move the resume point. */
	ckpt_advance(&c, T0 - 5000, 2);
	assert_true(c.since_ms == T0);
	assert_true(ckpt_delivered(&c, 1));
	assert_true(ckpt_delivered(&c, 2));
	assert_false(ckpt_delivered(&c, 3));
	ckpt_free(&c);

	/* Near the bottom of the range the resume point saturates to "all". */
	ckpt_init(&c, OVERLAP, 10);
	ckpt_advance(&c, INT64_MIN + 10, 1);
	assert_true(ckpt_resume_since(&c) == INT64_MIN);
	ckpt_free(&c);
	ckpt_init(&c, UINT64_MAX, 10);
	ckpt_advance(&c, T0, 1);
	assert_true(ckpt_resume_since(&c) == INT64_MIN);
	ckpt_free(&c);
}

static void test_window(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 1000);
	ckpt_advance(&c, T0, 1);
	ckpt_advance(&c, T0 + 100000, 2); /* window is now [T0 + 40000, ...) */
	ckpt_advance(&c, T0 + 50000, 3);  /* inside: kept */
	ckpt_advance(&c, T0 + 40000, 4);  /* on the boundary: kept */
	ckpt_advance(&c, T0 + 39999, 5);  /* outside on arrival: never kept */
	assert_false(ckpt_delivered(&c, 5));
	assert_true(ckpt_delivered(&c, 1)); /* still there until a prune */
	ckpt_prune(&c);
	assert_false(ckpt_delivered(&c, 1));
	assert_true(ckpt_delivered(&c, 2));
	assert_true(ckpt_delivered(&c, 3));
	assert_true(ckpt_delivered(&c, 4));
	assert_true(c.since_ms == T0 + 100000);
	assert_true(ckpt_resume_since(&c) == T0 + 40000);
	ckpt_free(&c);
}

/* A connection asked for events after an older resume point; while it is in
 * use, acknowledgements that move the window on must not make the ids it
 * can still replay forgotten (they would be delivered twice). */
static void test_replay_floor_keeps_ids(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 1000);
	ckpt_advance(&c, T0, 1);
	ckpt_advance(&c, T0 + 10000, 2);
	int64_t asked = ckpt_resume_since(&c); /* T0 + 10000 - OVERLAP */
	ckpt_set_replay_from(&c, asked);
	ckpt_advance(&c, T0 + 100000, 3); /* the window moves to T0 + 40000 */
	ckpt_advance(&c, T0 + 5000, 4);   /* older than the window, not than asked */
	ckpt_prune(&c);
	assert_true(ckpt_keep_from(&c) == asked);
	assert_true(ckpt_delivered(&c, 1));
	assert_true(ckpt_delivered(&c, 2));
	assert_true(ckpt_delivered(&c, 4));
	/* The next connection asks from the new resume point: now they go. */
	ckpt_set_replay_from(&c, ckpt_resume_since(&c));
	ckpt_prune(&c);
	assert_true(ckpt_keep_from(&c) == T0 + 40000);
	assert_false(ckpt_delivered(&c, 1));
	assert_false(ckpt_delivered(&c, 4));
	assert_true(ckpt_delivered(&c, 3));
	ckpt_free(&c);
}

/* More ids in the window than max_ids: the checkpoint keeps advancing, the
 * newest ids are kept, and what was given up is counted. */
static void test_full_window(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 100);
	for (uint64_t i = 0; i < 250; i++)
		ckpt_advance(&c, T0 + (int64_t)i, i + 1);
	assert_true(c.since_ms == T0 + 249);
	assert_true(idset_len(&c.delivered) <= 100);
	assert_int_equal(c.dropped_ids + idset_len(&c.delivered), 250);
	for (uint64_t i = 240; i < 250; i++)
		assert_true(ckpt_delivered(&c, i + 1));
	assert_false(ckpt_delivered(&c, 1));
	ckpt_free(&c);
}

static void test_round_trip(void **state)
{
	(void)state;
	enum { N = 300000 };
	struct ckpt c, d;
	ckpt_init(&c, OVERLAP, N);
	for (uint64_t i = 0; i < N; i++)
		ckpt_advance(&c, T0 + (int64_t)(i % OVERLAP), i * 0x9e3779b97f4a7c15ULL);
	static const char id[] = "evt 42%\n\xff/x";
	assert_int_equal(ckpt_set_last_event_id(&c, id, sizeof(id) - 1), 0);
	assert_int_equal(idset_len(&c.delivered), N);
	assert_int_equal(ckpt_save(&c, dir, "proj-fn"), 0);
	assert_false(c.dirty);
	assert_true(exists("proj-fn.ckpt"));
	assert_false(exists("proj-fn.ckpt.tmp"));

	size_t len;
	char *data = slurp("proj-fn.ckpt", &len);
	const char *head = "sinch-logd-checkpoint 2\nsince_ms 1700000059999\norigin_ms none\n"
	                   "overlap_ms 60000\n"
	                   "last_event_id evt%2042%25%0A%FF/x\nids 300000\n";
	assert_memory_equal(data, head, strlen(head));
	assert_int_equal(len, strlen(head) + (size_t)N * 16 + 15);
	free(data);

	ckpt_init(&d, OVERLAP, N);
	assert_int_equal(ckpt_load(&d, dir, "proj-fn"), 0);
	assert_false(d.dirty);
	assert_true(d.since_ms == c.since_ms);
	assert_int_equal(d.last_event_id_len, sizeof(id) - 1);
	assert_memory_equal(d.last_event_id, id, sizeof(id) - 1);
	assert_int_equal(idset_len(&d.delivered), N);
	for (uint64_t i = 0; i < N; i++)
		assert_true(ckpt_delivered(&d, i * 0x9e3779b97f4a7c15ULL));
	assert_false(ckpt_delivered(&d, 12345));
	ckpt_free(&d);

	/* A shorter overlap on reload keeps only what the new window needs. */
	ckpt_init(&d, 1000, N);
	assert_int_equal(ckpt_load(&d, dir, "proj-fn"), 0);
	assert_int_equal(idset_len(&d.delivered), 1001 * (N / OVERLAP));
	ckpt_free(&d);

	/* An empty checkpoint round-trips too. */
	ckpt_init(&d, OVERLAP, 10);
	assert_int_equal(ckpt_save(&d, dir, "empty"), 0);
	ckpt_advance(&d, T0, 1);
	assert_int_equal(ckpt_load(&d, dir, "empty"), 0);
	assert_true(d.since_ms == INT64_MIN);
	assert_int_equal(idset_len(&d.delivered), 0);
	ckpt_free(&d);
	ckpt_free(&c);
}

/* A crash between writing the temp file and the rename leaves the temp
 * file behind: load ignores it, the next save replaces it. */
static void test_leftover_temp(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 100);
	spit("s.ckpt.tmp", "sinch-logd-checkpoint 2\nsince_ms 5", 34);
	assert_int_equal(ckpt_load(&c, dir, "s"), LG_ENOENT);
	ckpt_advance(&c, T0, 7);
	assert_int_equal(ckpt_save(&c, dir, "s"), 0);
	assert_false(exists("s.ckpt.tmp"));
	spit("s.ckpt.tmp", "garbage", 7);
	ckpt_advance(&c, T0 + 1, 8); /* in memory only */
	assert_int_equal(ckpt_load(&c, dir, "s"), 0);
	assert_true(c.since_ms == T0);
	assert_true(ckpt_delivered(&c, 7));
	assert_false(ckpt_delivered(&c, 8));
	ckpt_free(&c);
}

static void expect_corrupt(const char *name, const void *bytes, size_t len)
{
	char file[128], bad[128];
	snprintf(file, sizeof(file), "%s.ckpt", name);
	snprintf(bad, sizeof(bad), "%s.ckpt.corrupt", name);
	spit(file, bytes, len);
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 1000);
	ckpt_advance(&c, T0, 99);
	assert_int_equal(ckpt_load(&c, dir, name), LG_EPARSE);
	assert_true(c.since_ms == INT64_MIN);
	assert_int_equal(idset_len(&c.delivered), 0);
	assert_false(exists(file));
	size_t got;
	char *kept = slurp(bad, &got);
	assert_int_equal(got, len);
	assert_memory_equal(kept, bytes, len);
	free(kept);
	assert_int_equal(ckpt_load(&c, dir, name), LG_ENOENT);
	ckpt_free(&c);
}

/* Rewrites the footer so the damage is seen by the parser, not the CRC. */
static void fix_crc(char *data, size_t len)
{
	char footer[16];
	snprintf(footer, sizeof(footer), "crc32 %08lx\n",
	         crc32_z(0, (const unsigned char *)data, len - 15));
	memcpy(data + len - 15, footer, 15);
}

static void test_corrupt(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 1000);
	for (uint64_t i = 0; i < 500; i++)
		ckpt_advance(&c, T0 + (int64_t)i, i);
	assert_int_equal(ckpt_save(&c, dir, "good"), 0);
	ckpt_free(&c);
	size_t len;
	char *good = slurp("good.ckpt", &len);
	char *bad = malloc(len);
	assert_non_null(bad);

	size_t offsets[] = {0, 30, len / 2, len - 20, len - 2};
	for (size_t k = 0; k < sizeof(offsets) / sizeof(offsets[0]); k++) {
		memcpy(bad, good, len);
		bad[offsets[k]] ^= 0x10;
		expect_corrupt("flip", bad, len);
	}
	expect_corrupt("torn", good, len - 1);
	expect_corrupt("torn", good, len / 2);
	expect_corrupt("torn", good, 10);
	expect_corrupt("torn", "", 0);

	/* Valid CRC, but a version we do not know. */
	memcpy(bad, good, len);
	bad[22] = '3';
	fix_crc(bad, len);
	expect_corrupt("version", bad, len);
	/* Valid CRC, but the id count disagrees with the body. */
	memcpy(bad, good, len);
	char *ids = memmem(bad, len, "ids 500\n", 8);
	assert_non_null(ids);
	ids[6] = '1';
	fix_crc(bad, len);
	expect_corrupt("count", bad, len);

	/* A second corrupt file replaces the first .corrupt copy. */
	expect_corrupt("flip", good, 5);
	free(bad);
	free(good);
}

/* The starting point of a first run is the resume point until something is
 * acknowledged, and it survives a save and load. */
static void test_origin(void **state)
{
	(void)state;
	struct ckpt c, d;
	ckpt_init(&c, OVERLAP, 100);
	assert_true(ckpt_resume_since(&c) == INT64_MIN);
	ckpt_set_origin(&c, T0);
	assert_true(c.dirty);
	assert_true(ckpt_resume_since(&c) == T0);
	assert_int_equal(ckpt_save(&c, dir, "origin"), 0);
	ckpt_init(&d, OVERLAP, 100);
	assert_int_equal(ckpt_load(&d, dir, "origin"), 0);
	assert_true(d.since_ms == INT64_MIN);
	assert_true(d.origin_ms == T0);
	assert_true(ckpt_resume_since(&d) == T0);
	/* Setting the same origin again changes nothing. */
	ckpt_set_origin(&d, T0);
	assert_false(d.dirty);
	/* Once something is acknowledged, the usual rule applies. */
	ckpt_advance(&d, T0 + 100000, 1);
	assert_true(ckpt_resume_since(&d) == T0 + 100000 - (int64_t)OVERLAP);
	ckpt_free(&c);
	ckpt_free(&d);
}

static void test_file_names(void **state)
{
	(void)state;
	char out[CKPT_NAME_MAX + 1];
	assert_int_equal(ckpt_file_name("project-function", out, sizeof(out)), 0);
	assert_string_equal(out, "project-function");
	assert_int_equal(ckpt_file_name("a/b", out, sizeof(out)), 0);
	assert_string_equal(out, "a%2Fb");
	assert_int_equal(ckpt_file_name("a_b", out, sizeof(out)), 0);
	assert_string_equal(out, "a_b");
	assert_int_equal(ckpt_file_name(".hidden", out, sizeof(out)), 0);
	assert_string_equal(out, "%2Ehidden");
	assert_int_equal(ckpt_file_name("v1.2", out, sizeof(out)), 0);
	assert_string_equal(out, "v1.2");
	assert_int_equal(ckpt_file_name("../x", out, sizeof(out)), 0);
	assert_string_equal(out, "%2E.%2Fx");
	assert_int_equal(ckpt_file_name("100%", out, sizeof(out)), 0);
	assert_string_equal(out, "100%25");
	assert_int_equal(ckpt_file_name("é z", out, sizeof(out)), 0);
	assert_string_equal(out, "%C3%A9%20z");
	assert_int_equal(ckpt_file_name("", out, sizeof(out)), LG_EINVAL);
	char small[4];
	assert_int_equal(ckpt_file_name("abcd", small, sizeof(small)), LG_ETOOBIG);
	char longname[CKPT_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(ckpt_file_name(longname, out, sizeof(out)), LG_ETOOBIG);

	/* A hostile key stays inside the directory. */
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 10);
	ckpt_advance(&c, T0, 1);
	assert_int_equal(ckpt_save(&c, dir, "../escape"), 0);
	assert_true(exists("%2E.%2Fescape.ckpt"));
	assert_int_equal(ckpt_load(&c, dir, "../escape"), 0);
	assert_true(ckpt_delivered(&c, 1));
	assert_int_equal(ckpt_save(&c, dir, ""), LG_EINVAL);
	assert_int_equal(ckpt_load(&c, dir, "missing"), LG_ENOENT);
	assert_int_equal(ckpt_save(&c, "/nonexistent/dir", "x"), LG_EIO);
	ckpt_free(&c);
}

static void test_last_event_id(void **state)
{
	(void)state;
	struct ckpt c;
	ckpt_init(&c, OVERLAP, 10);
	char big[CKPT_EVENT_ID_MAX + 1];
	memset(big, 'a', sizeof(big));
	assert_int_equal(ckpt_set_last_event_id(&c, big, sizeof(big)), LG_ETOOBIG);
	assert_false(c.dirty);
	assert_int_equal(ckpt_set_last_event_id(&c, big, CKPT_EVENT_ID_MAX), 0);
	assert_true(c.dirty);
	assert_int_equal(ckpt_save(&c, dir, "id"), 0);
	assert_int_equal(ckpt_set_last_event_id(&c, big, CKPT_EVENT_ID_MAX), 0);
	assert_false(c.dirty);
	assert_int_equal(ckpt_set_last_event_id(&c, "", 0), 0);
	assert_int_equal(ckpt_load(&c, dir, "id"), 0);
	assert_int_equal(c.last_event_id_len, CKPT_EVENT_ID_MAX);
	assert_memory_equal(c.last_event_id, big, CKPT_EVENT_ID_MAX);
	ckpt_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_advance_and_resume),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_replay_floor_keeps_ids),
	    cmocka_unit_test(test_full_window),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leftover_temp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_origin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_event_id, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

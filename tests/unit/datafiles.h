/* datafiles: what the data-driven unit tests share (tests/data/SUBDIR, one
 * case per NAME.in with its expected NAME.out, found through
 * SINCH_TEST_DATA). Header only: each unit test is its own executable. */
#ifndef SINCH_TEST_DATAFILES_H
#define SINCH_TEST_DATAFILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The whole file, NUL-terminated (it may hold NULs itself); NULL when it
 * cannot be opened. */
static inline char *df_read(const char *path, size_t *len)
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
	assert_int_equal(buf_putc(&b, '\0'), 0);
	b.len--;
	return buf_detach(&b, len);
}

/* Calls run(dir, NAME) for each NAME.in in tests/data/subdir; returns how
 * many. */
static inline int df_each_case(const char *subdir, void (*run)(const char *dir, const char *name))
{
	const char *data = getenv("SINCH_TEST_DATA");
	assert_non_null(data);
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/%s", data, subdir);
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
		run(dir, name);
		n++;
	}
	closedir(dp);
	return n;
}

/* Writes what a case produced beside /tmp for a look, and fails. */
static inline void df_differs(const char *test, const char *name, const char *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "/tmp/%s.%s.got", test, name);
	FILE *g = fopen(path, "wb");
	if (g) {
		fwrite(data, 1, len, g);
		fclose(g);
	}
	fail_msg("%s: output differs from %s.out (written to %s)", name, name, path);
}

#endif

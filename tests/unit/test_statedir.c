/* statedir: creation, the exclusive lock (held by another process: LG_EBUSY
 * naming its pid; free again once it exits), and clear errors for paths
 * that cannot be used. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "statedir.h"

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
	strcpy(dir, "/tmp/test_statedir.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_create_and_lock(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/a/b/state", dir);
	struct statedir sd;
	assert_int_equal(statedir_open(path, &sd, err, sizeof(err)), 0);
	assert_string_equal(statedir_path(&sd), path);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);

	char lock[160], text[32];
	snprintf(lock, sizeof(lock), "%s/lock", path);
	FILE *f = fopen(lock, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_int_equal(strtol(text, NULL, 10), (long)getpid());

	/* flock() conflicts between descriptors even within one process. */
	struct statedir again;
	assert_int_equal(statedir_open(path, &again, err, sizeof(err)), LG_EBUSY);
	char want[256];
	snprintf(want, sizeof(want), "state directory %s is in use by process %ld", path,
	         (long)getpid());
	assert_string_equal(err, want);
	assert_null(statedir_path(&again));
	statedir_close(&again);

	statedir_close(&sd);
	statedir_close(&sd);
	assert_int_equal(statedir_open(path, &sd, err, sizeof(err)), 0);
	statedir_close(&sd);
}

static void test_held_by_child(void **state)
{
	(void)state;
	char err[256];
	int ready[2], release[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(ready[0]);
		close(release[1]);
		struct statedir sd;
		char buf = statedir_open(dir, &sd, err, sizeof(err)) == 0 ? 'y' : 'n';
		if (write(ready[1], &buf, 1) != 1)
			_exit(2);
		/* Hold the lock until the parent closes its end. */
		while (read(release[0], &buf, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	char got;
	assert_int_equal(read(ready[0], &got, 1), 1);
	assert_int_equal(got, 'y');

	struct statedir sd;
	assert_int_equal(statedir_open(dir, &sd, err, sizeof(err)), LG_EBUSY);
	char want[256];
	snprintf(want, sizeof(want), "state directory %s is in use by process %ld", dir,
	         (long)child);
	assert_string_equal(err, want);

	close(release[1]);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	assert_int_equal(statedir_open(dir, &sd, err, sizeof(err)), 0);
	statedir_close(&sd);
}

static void test_unusable(void **state)
{
	(void)state;
	char path[128], err[256];
	struct statedir sd;

	/* Even root cannot create files in /proc. */
	assert_int_equal(statedir_open("/proc", &sd, err, sizeof(err)), LG_EIO);
	assert_non_null(strstr(err, "state directory /proc is not writable: "));

	snprintf(path, sizeof(path), "%s/file", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(statedir_open(path, &sd, err, sizeof(err)), LG_EIO);
	assert_non_null(strstr(err, "is not a directory"));

	snprintf(path, sizeof(path), "%s/file/sub", dir);
	assert_int_equal(statedir_open(path, &sd, err, sizeof(err)), LG_EIO);
	assert_non_null(strstr(err, "cannot create state directory"));
	assert_non_null(strstr(err, path));

	assert_int_equal(statedir_open("", &sd, err, sizeof(err)), LG_EINVAL);

	/* Permission bits stop everyone but root. */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/ro", dir);
		assert_int_equal(mkdir(path, 0500), 0);
		assert_int_equal(statedir_open(path, &sd, err, sizeof(err)), LG_EIO);
		assert_non_null(strstr(err, "is not writable"));
		assert_int_equal(chmod(path, 0700), 0);
	}
	/* Nothing is written without an error buffer, and nothing crashes. */
	assert_int_equal(statedir_open("/proc", &sd, NULL, 0), LG_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_and_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_by_child, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unusable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

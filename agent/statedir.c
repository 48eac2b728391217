#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

/* Like mkdir -p: each missing component is created 0700; existing ones are
 * left as their owner made them. */
static int make_dirs(const char *path)
{
	char p[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char saved = p[i];
		p[i] = '\0';
		/* EEXIST is not guaranteed for an existing directory (EROFS,
		 * EACCES on some file systems), so look before giving up. */
		if (mkdir(p, 0700) && errno != EEXIST) {
			int err = errno;
			struct stat st;
			if (stat(p, &st) || !S_ISDIR(st.st_mode)) {
				errno = err;
				return -1;
			}
		}
		p[i] = saved;
	}
	return 0;
}

/* Creating and removing a file is exactly what checkpoints need; access(2)
 * would answer for the real uid and ignore read-only mounts. */
static int probe_writable(const char *path)
{
	char probe[PATH_MAX];
	int n = snprintf(probe, sizeof(probe), "%s/.probe.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(probe)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return unlink(probe);
}

static long read_pid(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	char *end;
	long pid = strtol(text, &end, 10);
	return end != text && pid > 0 ? pid : 0;
}

static int fail(int rc, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *errbuf, size_t errlen, const char *fmt, ...)
{
	if (errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int take_lock(const char *path, int *fdp, char *errbuf, size_t errlen)
{
	char lock[PATH_MAX];
	int n = snprintf(lock, sizeof(lock), "%s/lock", path);
	if (n < 0 || (size_t)n >= sizeof(lock))
		return fail(LG_EIO, errbuf, errlen, "cannot open lock file in %s: %s", path,
		            strerror(ENAMETOOLONG));
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(LG_EIO, errbuf, errlen, "cannot open lock file %s: %s", lock,
		            strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;
		if (err == EINTR)
			continue;
		if (err == EWOULDBLOCK) {
			long pid = read_pid(fd);
			if (pid && errlen)
				snprintf(errbuf, errlen,
				         "state directory %s is in use by process %ld", path, pid);
			else if (errlen)
				snprintf(errbuf, errlen,
				         "state directory %s is in use by another process", path);
			close(fd);
			return LG_EBUSY;
		}
		close(fd);
		return fail(LG_EIO, errbuf, errlen, "cannot lock %s: %s", lock, strerror(err));
	}
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, text, (size_t)len, 0) != len) {
		int err = errno;
		close(fd);
		return fail(LG_EIO, errbuf, errlen, "cannot write lock file %s: %s", lock,
		            strerror(err));
	}
	*fdp = fd;
	return 0;
}

int statedir_open(const char *path, struct statedir *sd, char *errbuf, size_t errlen)
{
	sd->path = NULL;
	sd->lock_fd = -1;
	if (errlen)
		errbuf[0] = '\0';
	if (!*path) {
		if (errlen)
			snprintf(errbuf, errlen, "state directory path is empty");
		return LG_EINVAL;
	}
	if (make_dirs(path))
		return fail(LG_EIO, errbuf, errlen, "cannot create state directory %s: %s", path,
		            strerror(errno));
	struct stat st;
	if (stat(path, &st))
		return fail(LG_EIO, errbuf, errlen, "cannot use state directory %s: %s", path,
		            strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(LG_EIO, errbuf, errlen, "state directory %s is not a directory", path);
	if (probe_writable(path))
		return fail(LG_EIO, errbuf, errlen, "state directory %s is not writable: %s", path,
		            strerror(errno));
	char *copy = strdup(path);
	if (!copy)
		return fail(LG_ENOMEM, errbuf, errlen, "state directory %s: out of memory", path);
	int fd;
	int rc = take_lock(path, &fd, errbuf, errlen);
	if (rc) {
		free(copy);
		return rc;
	}
	sd->path = copy;
	sd->lock_fd = fd;
	return 0;
}

void statedir_close(struct statedir *sd)
{
	if (!sd->path)
		return;
	close(sd->lock_fd);
	sd->lock_fd = -1;
	free(sd->path);
	sd->path = NULL;
}

const char *statedir_path(const struct statedir *sd)
{
	return sd->path;
}

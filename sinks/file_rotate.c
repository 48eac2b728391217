#include "file_rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"

#define NAME_MAX_LEN (PATH_MAX + 32)
#define CHUNK (64 * 1024)

static int fail(char *err, size_t errlen, const char *what, const char *name, int e)
{
	snprintf(err, errlen, "%s %s: %s", what, name, strerror(e));
	return LG_EIO;
}

static int name_of(char *out, const char *path, const char *suffix, int n)
{
	int len = n ? snprintf(out, NAME_MAX_LEN, "%s.%d%s", path, n, suffix)
	            : snprintf(out, NAME_MAX_LEN, "%s%s", path, suffix);
	return len < 0 || len >= NAME_MAX_LEN ? -1 : 0;
}

/* Renames are durable only once the directory holding them is synced. */
static int fsync_dir(const char *path)
{
	char dir[NAME_MAX_LEN];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Copies src into a complete gzip file at dst; dst is fsynced. */
static int compress_to(const char *src, const char *dst, char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : fail(err, errlen, "open", src, errno);
	int rc = 1;
	gzFile gz = NULL;
	char *chunk = malloc(CHUNK);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (!chunk) {
		snprintf(err, errlen, "compress %s: out of memory", src);
		rc = LG_ENOMEM;
		goto out;
	}
	if (out < 0) {
		rc = fail(err, errlen, "create", dst, errno);
		goto out;
	}
	/* gzclose() closes the descriptor it was given; ours stays open for
	 * the fsync that makes the trailer durable. */
	int gzfd = dup(out);
	if (gzfd < 0 || !(gz = gzdopen(gzfd, "wb"))) {
		rc = fail(err, errlen, "gzdopen", dst, gzfd < 0 ? errno : ENOMEM);
		if (gzfd >= 0)
			close(gzfd);
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(err, errlen, "read", src, errno);
			goto out;
		}
		if (n == 0)
			break;
		if (gzwrite(gz, chunk, (unsigned)n) != (int)n) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);
			snprintf(err, errlen, "gzwrite %s: %s", dst,
			         zerr == Z_ERRNO ? strerror(errno) : msg);
			rc = LG_EIO;
			goto out;
		}
	}
	int zrc = gzclose(gz);
	gz = NULL;
	if (zrc != Z_OK) {
		rc = fail(err, errlen, "gzclose", dst, zrc == Z_ERRNO ? errno : EIO);
		goto out;
	}
	if (fsync(out) != 0)
		rc = fail(err, errlen, "fsync", dst, errno);
out:
	if (gz)
		gzclose(gz);
	if (out >= 0)
		close(out);
	if (rc < 0)
		unlink(dst);
	close(in);
	free(chunk);
	return rc;
}

int file_rotate_compress(const char *path, int keep, char *err, size_t errlen)
{
	char src[NAME_MAX_LEN], tmp[NAME_MAX_LEN], from[NAME_MAX_LEN], to[NAME_MAX_LEN];
	if (name_of(src, path, FILE_ROTATE_SUFFIX, 0) || name_of(tmp, path, ".gz.tmp", 1)) {
		snprintf(err, errlen, "rotate %s: path too long", path);
		return LG_EIO;
	}
	int rc = compress_to(src, tmp, err, errlen);
	if (rc <= 0)
		return rc;
	for (int n = keep; n >= 1; n--) {
		if (name_of(from, path, ".gz", n) || name_of(to, path, ".gz", n + 1)) {
			snprintf(err, errlen, "rotate %s: path too long", path);
			return LG_EIO;
		}
		if (n == keep) {
			if (unlink(from) != 0 && errno != ENOENT)
				return fail(err, errlen, "unlink", from, errno);
		} else if (rename(from, to) != 0 && errno != ENOENT) {
			return fail(err, errlen, "rename", from, errno);
		}
	}
	name_of(to, path, ".gz", 1);
	if (rename(tmp, to) != 0)
		return fail(err, errlen, "rename", tmp, errno);
	if (fsync_dir(path) != 0)
		return fail(err, errlen, "fsync directory of", path, errno);
	/* Only now is the archive certainly in place; before, a crash leaves
	 * the uncompressed file to be compressed again. */
	if (unlink(src) != 0 && errno != ENOENT)
		return fail(err, errlen, "unlink", src, errno);
	return 1;
}

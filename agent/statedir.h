/* statedir: the agent's state directory (checkpoints, spools), owned by one
 * process at a time.
 *
 * statedir_open() creates the directory if needed (mode 0700, parents too),
 * checks that it is writable, and takes an exclusive flock() on PATH/lock,
 * writing our pid into it. The lock lives as long as the descriptor: until
 * statedir_close() or the process ends, however it ends, so a crash never
 * leaves a stale lock. A second agent on the same directory gets LG_EBUSY
 * and "state directory PATH is in use by process PID" (the pid the holder
 * wrote; it stays in the file after close, harmless since it is read
 * only while the lock is held). Every failure leaves a one-line message in errbuf. */
#ifndef SINCH_STATEDIR_H
#define SINCH_STATEDIR_H

#include <stddef.h>

struct statedir {
	char *path;
	int lock_fd;
};

/* 0, LG_EBUSY (another process holds it), LG_EIO (cannot create, not a
 * directory, not writable, lock file unusable), LG_EINVAL (empty path) or
 * LG_ENOMEM. */
int statedir_open(const char *path, struct statedir *sd, char *errbuf, size_t errlen);
/* Releases the lock. Safe on a closed or zeroed statedir (path NULL). */
void statedir_close(struct statedir *sd);
const char *statedir_path(const struct statedir *sd);

#endif

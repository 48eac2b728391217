/* file_rotate: the blocking half of the file sink's rotation, run on the
 * libuv thread pool (it touches no agent state, so any thread may call it).
 *
 * The loop thread renames PATH to PATH.rotating once every record in it is
 * acknowledged; file_rotate_compress() turns that into PATH.1.gz: PATH.KEEP.gz
 * is deleted, older archives shift up by one, and the new archive is complete
 * (gzip trailer written, fsynced, renamed into place, directory fsynced)
 * before PATH.rotating is removed. A crash at any point leaves either
 * PATH.rotating, compressed again on the next start, or one duplicate
 * archive: never a lost or truncated one. */
#ifndef SINCH_FILE_ROTATE_H
#define SINCH_FILE_ROTATE_H

#include <stddef.h>

#define FILE_ROTATE_SUFFIX ".rotating"

/* Returns 1 when it made an archive, 0 when there was no PATH.rotating, or
 * LG_EIO / LG_ENOMEM with a one-line reason (step, file, strerror) in err. */
int file_rotate_compress(const char *path, int keep, char *err, size_t errlen);

#endif

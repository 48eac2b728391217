/* buf: a growable byte buffer with a hard maximum fixed at creation (see
 * curl's DYNBUF). Growing past the maximum fails with LG_ETOOBIG and leaves
 * the contents as they were; the data is always NUL-terminated for
 * convenience, but may itself contain NUL bytes. */
#ifndef SINCH_BUF_H
#define SINCH_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the data over to the caller (who frees it) and resets the buffer. */
char *buf_detach(struct buf *b, size_t *len);

#endif

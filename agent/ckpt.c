#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"

#define CKPT_MAGIC "sinch-logd-checkpoint 2\n"
#define CKPT_ID_BYTES 16
/* "crc32 " + 8 hex digits + "\n" */
#define CKPT_FOOTER_LEN 15
/* Room for every header line at its longest (an id escaped to 3 bytes per
 * byte) and the footer. */
#define CKPT_HEADER_MAX (256 + 3 * CKPT_EVENT_ID_MAX)
/* A file larger than a full set of this many ids is not one we wrote, even
 * with a larger max_ids than today's. */
#define CKPT_LOAD_MIN_IDS ((size_t)1 << 22)

void ckpt_init(struct ckpt *c, uint64_t overlap_ms, size_t max_ids)
{
	idset_init(&c->delivered, max_ids);
	c->overlap_ms = overlap_ms;
	ckpt_reset(c);
}

void ckpt_free(struct ckpt *c)
{
	idset_free(&c->delivered);
}

void ckpt_reset(struct ckpt *c)
{
	c->since_ms = INT64_MIN;
	c->origin_ms = INT64_MIN;
	c->last_event_id[0] = '\0';
	c->last_event_id_len = 0;
	idset_clear(&c->delivered);
	c->dropped_ids = 0;
	c->replay_from = INT64_MIN;
	c->dirty = false;
}

void ckpt_set_origin(struct ckpt *c, int64_t origin_ms)
{
	if (c->origin_ms == origin_ms)
		return;
	c->origin_ms = origin_ms;
	c->dirty = true;
}

int64_t ckpt_resume_since(const struct ckpt *c)
{
	if (c->since_ms == INT64_MIN)
		return c->origin_ms;
	uint64_t room = (uint64_t)c->since_ms - (uint64_t)INT64_MIN;
	if (c->overlap_ms >= room)
		return INT64_MIN;
	return (int64_t)((uint64_t)c->since_ms - c->overlap_ms);
}

void ckpt_set_replay_from(struct ckpt *c, int64_t since)
{
	c->replay_from = since;
}

int64_t ckpt_keep_from(const struct ckpt *c)
{
	int64_t resume = ckpt_resume_since(c);
	if (c->replay_from == INT64_MIN)
		return resume;
	return c->replay_from < resume ? c->replay_from : resume;
}

void ckpt_prune(struct ckpt *c)
{
	int64_t min = ckpt_keep_from(c);
	if (min != INT64_MIN)
		idset_prune(&c->delivered, min);
}

/* Makes room in a full set: first what fell out of the window, then, if the
 * window itself holds more than max_ids, its oldest sixteenth, so eviction
 * (O(size)) does not run for every id. */
static void remember(struct ckpt *c, uint64_t id_hash, int64_t start_ms)
{
	int rc = idset_add(&c->delivered, id_hash, start_ms);
	if (rc == LG_ETOOBIG) {
		ckpt_prune(c);
		rc = idset_add(&c->delivered, id_hash, start_ms);
	}
	if (rc == LG_ETOOBIG) {
		c->dropped_ids += idset_evict_oldest(&c->delivered, c->delivered.max / 16 + 1);
		rc = idset_add(&c->delivered, id_hash, start_ms);
	}
	if (rc < 0)
		c->dropped_ids++;
}

void ckpt_advance(struct ckpt *c, int64_t start_ms, uint64_t id_hash)
{
	if (start_ms > c->since_ms)
		c->since_ms = start_ms;
	c->dirty = true;
	/* An event older than the resume point and than the connection's own
	 * since can never be sent again. */
	if (start_ms >= ckpt_keep_from(c))
		remember(c, id_hash, start_ms);
}

void ckpt_advance_cb(void *ckpt, int64_t start_ms, uint64_t id_hash)
{
	ckpt_advance(ckpt, start_ms, id_hash);
}

int ckpt_set_last_event_id(struct ckpt *c, const char *id, size_t len)
{
	if (len > CKPT_EVENT_ID_MAX)
		return LG_ETOOBIG;
	if (len == c->last_event_id_len && memcmp(c->last_event_id, id, len) == 0)
		return 0;
	if (len)
		memcpy(c->last_event_id, id, len);
	c->last_event_id[len] = '\0';
	c->last_event_id_len = len;
	c->dirty = true;
	return 0;
}

bool ckpt_delivered(const struct ckpt *c, uint64_t id_hash)
{
	return idset_has(&c->delivered, id_hash);
}

static const char hexdig[] = "0123456789ABCDEF";

int ckpt_file_name(const char *name, char *out, size_t outlen)
{
	if (!*name)
		return LG_EINVAL;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		unsigned char ch = *p;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		             (ch == '.' && p != (const unsigned char *)name);
		size_t need = plain ? 1 : 3;
		if (n + need > CKPT_NAME_MAX || n + need >= outlen)
			return LG_ETOOBIG;
		if (plain) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hexdig[ch >> 4];
			out[n++] = hexdig[ch & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int ckpt_encode(const struct ckpt *c, struct buf *out)
{
	buf_reset(out);
	int rc = buf_puts(out, CKPT_MAGIC);
	if (!rc && c->since_ms == INT64_MIN)
		rc = buf_puts(out, "since_ms none\n");
	else if (!rc)
		rc = buf_printf(out, "since_ms %" PRId64 "\n", c->since_ms);
	if (!rc && c->origin_ms == INT64_MIN)
		rc = buf_puts(out, "origin_ms none\n");
	else if (!rc)
		rc = buf_printf(out, "origin_ms %" PRId64 "\n", c->origin_ms);
	if (!rc)
		rc = buf_printf(out, "overlap_ms %" PRIu64 "\nlast_event_id ", c->overlap_ms);
	for (size_t i = 0; !rc && i < c->last_event_id_len; i++) {
		unsigned char ch = (unsigned char)c->last_event_id[i];
		if (ch > 0x20 && ch < 0x7f && ch != '%')
			rc = buf_putc(out, (char)ch);
		else
			rc = buf_printf(out, "%%%c%c", hexdig[ch >> 4], hexdig[ch & 15]);
	}
	size_t n = idset_len(&c->delivered);
	if (!rc)
		rc = buf_printf(out, "\nids %zu\n", n);
	if (!rc && n > (SIZE_MAX - CKPT_HEADER_MAX) / CKPT_ID_BYTES)
		rc = LG_ETOOBIG;
	if (!rc)
		rc = buf_reserve(out, n * CKPT_ID_BYTES + CKPT_FOOTER_LEN);
	if (rc)
		return rc;
	unsigned char *p = (unsigned char *)out->data + out->len;
	size_t it = 0;
	uint64_t hash;
	int64_t start;
	while (idset_next(&c->delivered, &it, &hash, &start)) {
		put_le64(p, hash);
		put_le64(p + 8, (uint64_t)start);
		p += CKPT_ID_BYTES;
	}
	out->len += n * CKPT_ID_BYTES;
	unsigned long crc = crc32_z(0, (const unsigned char *)out->data, out->len);
	return buf_printf(out, "crc32 %08lx\n", crc);
}

static int make_path(char *out, size_t outlen, const char *dir, const char *name,
                     const char *suffix)
{
	char esc[CKPT_NAME_MAX + 1];
	int rc = ckpt_file_name(name, esc, sizeof(esc));
	if (rc)
		return rc;
	int n = snprintf(out, outlen, "%s/%s%s", dir, esc, suffix);
	if (n < 0 || (size_t)n >= outlen)
		return LG_ETOOBIG;
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return LG_EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A rename is durable only once the directory entry is on disk too. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return LG_EIO;
	int rc = fsync(fd) ? LG_EIO : 0;
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int ckpt_write(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int rc = make_path(tmp, sizeof(tmp), dir, name, ".ckpt.tmp");
	if (!rc)
		rc = make_path(path, sizeof(path), dir, name, ".ckpt");
	if (rc)
		return rc;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return LG_EIO;
	rc = write_all(fd, data, len);
	if (!rc && fsync(fd))
		rc = LG_EIO;
	int saved = errno;
	if (close(fd) && !rc) {
		saved = errno;
		rc = LG_EIO;
	}
	if (!rc && rename(tmp, path)) {
		saved = errno;
		rc = LG_EIO;
	}
	if (rc) {
		unlink(tmp);
		errno = saved;
		return rc;
	}
	return fsync_dir(dir);
}

int ckpt_save(struct ckpt *c, const char *dir, const char *name)
{
	ckpt_prune(c);
	struct buf b;
	buf_init(&b, CKPT_HEADER_MAX + idset_len(&c->delivered) * CKPT_ID_BYTES);
	int rc = ckpt_encode(c, &b);
	if (!rc)
		rc = ckpt_write(dir, name, b.data, b.len);
	int saved = errno;
	buf_free(&b);
	errno = saved;
	if (!rc)
		c->dirty = false;
	return rc;
}

/* ---- parsing ---- */

struct cursor {
	const char *p;
	const char *end;
};

static bool take(struct cursor *cur, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(cur->end - cur->p) < n || memcmp(cur->p, lit, n) != 0)
		return false;
	cur->p += n;
	return true;
}

static bool take_u64(struct cursor *cur, uint64_t *v)
{
	const char *start = cur->p;
	uint64_t x = 0;
	while (cur->p < cur->end && *cur->p >= '0' && *cur->p <= '9') {
		unsigned d = (unsigned)(*cur->p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		cur->p++;
	}
	*v = x;
	return cur->p > start;
}

static bool take_i64(struct cursor *cur, int64_t *v)
{
	bool neg = take(cur, "-");
	uint64_t x;
	if (!take_u64(cur, &x))
		return false;
	if (neg && x <= (uint64_t)INT64_MAX + 1)
		*v = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
	else if (!neg && x <= (uint64_t)INT64_MAX)
		*v = (int64_t)x;
	else
		return false;
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static bool take_event_id(struct cursor *cur, struct ckpt *c)
{
	size_t n = 0;
	while (cur->p < cur->end && *cur->p != '\n') {
		unsigned char ch = (unsigned char)*cur->p++;
		if (ch == '%') {
			if (cur->end - cur->p < 2)
				return false;
			int hi = hexval(cur->p[0]), lo = hexval(cur->p[1]);
			if (hi < 0 || lo < 0)
				return false;
			ch = (unsigned char)(hi << 4 | lo);
			cur->p += 2;
		} else if (ch <= 0x20 || ch >= 0x7f) {
			return false;
		}
		if (n >= CKPT_EVENT_ID_MAX)
			return false;
		c->last_event_id[n++] = (char)ch;
	}
	c->last_event_id[n] = '\0';
	c->last_event_id_len = n;
	return true;
}

static int parse(struct ckpt *c, const char *data, size_t len)
{
	if (len < CKPT_FOOTER_LEN)
		return LG_EPARSE;
	size_t body = len - CKPT_FOOTER_LEN;
	char footer[CKPT_FOOTER_LEN + 1];
	snprintf(footer, sizeof(footer), "crc32 %08lx\n",
	         crc32_z(0, (const unsigned char *)data, body));
	if (memcmp(data + body, footer, CKPT_FOOTER_LEN) != 0)
		return LG_EPARSE;

	struct cursor cur = {data, data + body};
	uint64_t overlap, n;
	if (!take(&cur, CKPT_MAGIC) || !take(&cur, "since_ms "))
		return LG_EPARSE;
	if (take(&cur, "none"))
		c->since_ms = INT64_MIN;
	else if (!take_i64(&cur, &c->since_ms) || c->since_ms == INT64_MIN)
		return LG_EPARSE;
	if (!take(&cur, "\norigin_ms "))
		return LG_EPARSE;
	if (take(&cur, "none"))
		c->origin_ms = INT64_MIN;
	else if (!take_i64(&cur, &c->origin_ms) || c->origin_ms == INT64_MIN)
		return LG_EPARSE;
	if (!take(&cur, "\noverlap_ms ") || !take_u64(&cur, &overlap) ||
	    !take(&cur, "\nlast_event_id ") || !take_event_id(&cur, c) || !take(&cur, "\nids ") ||
	    !take_u64(&cur, &n) || !take(&cur, "\n"))
		return LG_EPARSE;
	if (n > (size_t)(cur.end - cur.p) / CKPT_ID_BYTES ||
	    (size_t)(cur.end - cur.p) != n * CKPT_ID_BYTES)
		return LG_EPARSE;
	/* The window is today's overlap, not the one the file was written with:
	 * ids outside it are of no use any more. */
	int64_t min = ckpt_resume_since(c);
	for (const unsigned char *p = (const unsigned char *)cur.p; n--; p += CKPT_ID_BYTES) {
		int64_t start = (int64_t)get_le64(p + 8);
		if (start == INT64_MIN)
			return LG_EPARSE;
		if (start >= min)
			remember(c, get_le64(p), start);
	}
	return 0;
}

static int read_file(int fd, size_t limit, char **data, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st))
		return LG_EIO;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > limit)
		return LG_EPARSE;
	size_t size = (size_t)st.st_size;
	char *p = malloc(size ? size : 1);
	if (!p)
		return LG_ENOMEM;
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, p + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			free(p);
			errno = saved;
			return LG_EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*data = p;
	*len = got;
	return 0;
}

int ckpt_load(struct ckpt *c, const char *dir, const char *name)
{
	char path[PATH_MAX], bad[PATH_MAX];
	int rc = make_path(path, sizeof(path), dir, name, ".ckpt");
	if (!rc)
		rc = make_path(bad, sizeof(bad), dir, name, ".ckpt.corrupt");
	ckpt_reset(c);
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? LG_ENOENT : LG_EIO;
	size_t max_ids =
	    c->delivered.max > CKPT_LOAD_MIN_IDS ? c->delivered.max : CKPT_LOAD_MIN_IDS;
	size_t limit = CKPT_HEADER_MAX + max_ids * CKPT_ID_BYTES;
	char *data = NULL;
	size_t len = 0;
	rc = read_file(fd, limit, &data, &len);
	int saved = errno;
	close(fd);
	errno = saved;
	if (!rc)
		rc = parse(c, data, len);
	free(data);
	if (rc) {
		ckpt_reset(c);
		if (rc == LG_EPARSE)
			rename(path, bad);
		return rc;
	}
	c->dirty = false;
	return 0;
}

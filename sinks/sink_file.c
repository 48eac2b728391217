#include "sink_file.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "file_rotate.h"
#include "log.h"

/* Far above any router queue bound; only a broken caller reaches it. */
#define QUEUE_MAX ((size_t)1 << 20)
/* Two buffers per record (its JSON, then "\n"), plus a leading newline. */
#define IOV_MAX_BUFS 1025
#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 60000
/* O_NONBLOCK: a FIFO at the path without a reader fails (ENXIO) instead of
 * blocking a thread-pool thread, and with it shutdown, forever; on regular
 * files it changes nothing. */
#define OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK)

enum op { OP_NONE, OP_OPEN, OP_FSTAT, OP_WRITE, OP_FSYNC, OP_CLOSE, OP_RENAME };

struct file_sink {
	struct sink *s;
	const struct sink_file_conf *conf;
	bool to_stdout;
	bool ack_on_write; /* fsync = never, or standard output */
	char *rotating;    /* PATH.rotating */

	/* Records not yet acknowledged, in submit order. The first n_written
	 * are wholly written and wait for an fsync; the next one has its first
	 * `off` bytes (of json_len + 1) written; the rest wait for a write. */
	struct record **q;
	size_t q_cap, q_head, q_len;
	size_t n_written, off;
	bool need_sep; /* after a failed fsync the file may end mid-line */

	uv_file fd; /* -1 when closed */
	uint64_t size;
	uv_fs_t req;
	enum op op; /* the one request in flight */
	bool sep_in_write;
	uv_buf_t iov[IOV_MAX_BUFS];

	uv_timer_t sync_timer, retry_timer, flush_timer, job_timer;
	bool sync_due, reopen_pending, rotate_pending, rename_pending;
	struct backoff backoff;
	bool failing; /* an error was logged and nothing has succeeded since */
	bool warned_nosync;

	/* The compression job; rot_dirty while PATH.rotating may exist, which
	 * a rotation must not overwrite. */
	uv_work_t work;
	bool job_running, rot_dirty, job_failing;
	struct backoff job_backoff;
	int job_rc;
	char job_err[256];

	sink_cb flush_done, closed;
	bool closing, close_started;
	unsigned close_pending;
	struct sink_file_stats stats;
};

static const struct opt_def file_opts[] = {
    {"path", OPT_STRING, NULL, OPT_REQUIRED, offsetof(struct sink_file_conf, path), NULL,
     "output file, one JSON record per line; - for standard output (acknowledged "
     "after write, no rotation); its directory must exist"},
    {"fsync", OPT_ENUM, "interval", 0, offsetof(struct sink_file_conf, fsync),
     "interval|always|never",
     "when records are acknowledged: after the periodic fsync covering them, after an "
     "fsync following each write, or right after the write (unsafe on power loss)"},
    {"fsync_interval", OPT_DURATION, "1s", 0, offsetof(struct sink_file_conf, fsync_interval), NULL,
     "with fsync = interval, how often written data is fsynced"},
    {"rotate_size", OPT_SIZE, "0", 0, offsetof(struct sink_file_conf, rotate_size), NULL,
     "rotate before the file would grow past this size (0 = never); archives are "
     "PATH.1.gz (newest), PATH.2.gz..."},
    {"rotate_keep", OPT_INT, "5", 0, offsetof(struct sink_file_conf, rotate_keep), NULL,
     "how many rotated archives to keep (1..1000)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void kick(struct file_sink *f);

static struct record *q_at(const struct file_sink *f, size_t i)
{
	return f->q[(f->q_head + i) % f->q_cap];
}

static int q_push(struct file_sink *f, struct record *r)
{
	if (f->q_len == f->q_cap) {
		if (f->q_cap >= QUEUE_MAX)
			return LG_ETOOBIG;
		size_t cap = f->q_cap ? f->q_cap * 2 : 64;
		struct record **q = malloc(cap * sizeof(*q));
		if (!q)
			return LG_ENOMEM;
		for (size_t i = 0; i < f->q_len; i++)
			q[i] = q_at(f, i);
		free(f->q);
		f->q = q;
		f->q_cap = cap;
		f->q_head = 0;
	}
	f->q[(f->q_head + f->q_len) % f->q_cap] = r;
	f->q_len++;
	return 0;
}

static struct record *q_pop(struct file_sink *f)
{
	struct record *r = f->q[f->q_head];
	f->q_head = (f->q_head + 1) % f->q_cap;
	f->q_len--;
	return r;
}

static bool timer_active(const uv_timer_t *t)
{
	return uv_is_active((const uv_handle_t *)t);
}

static void free_sink(struct file_sink *f)
{
	while (f->q_len)
		record_unref(q_pop(f));
	free(f->q);
	free(f->rotating);
	free(f);
}

static void close_unref(struct file_sink *f)
{
	if (--f->close_pending > 0)
		return;
	struct sink *s = f->s;
	sink_cb closed = f->closed;
	free_sink(f);
	s->priv = NULL;
	closed(s);
}

static void on_handle_closed(uv_handle_t *h)
{
	close_unref(h->data);
}

static void on_final_close(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	uv_fs_req_cleanup(req);
	f->op = OP_NONE;
	close_unref(f);
}

/* Runs once no request is in flight; a compression job still running holds
 * the close open until its after-work callback. */
static void finish_close(struct file_sink *f)
{
	f->close_started = true;
	f->close_pending = 1;
	uv_timer_t *timers[] = {&f->sync_timer, &f->retry_timer, &f->flush_timer, &f->job_timer};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		f->close_pending++;
		uv_close((uv_handle_t *)timers[i], on_handle_closed);
	}
	if (f->job_running)
		f->close_pending++;
	if (f->fd >= 0 && !f->to_stdout) {
		f->close_pending++;
		f->op = OP_CLOSE;
		uv_fs_close(f->s->loop, &f->req, f->fd, on_final_close);
		f->fd = -1;
	}
	close_unref(f);
}

static void check_flush(struct file_sink *f)
{
	if (!f->flush_done || f->closing || f->q_len)
		return;
	sink_cb done = f->flush_done;
	f->flush_done = NULL;
	uv_timer_stop(&f->flush_timer);
	done(f->s);
}

/* Acknowledges the first n records. The router may submit, flush or even
 * close from on_ack, so the state is consistent before every call. */
static void ack_written(struct file_sink *f, size_t n)
{
	while (n-- && f->n_written && !f->closing) {
		struct record *r = q_pop(f);
		f->n_written--;
		f->stats.acked++;
		sink_ack(f->s, r, 0, NULL);
		record_unref(r);
	}
	check_flush(f);
}

static void on_retry_timer(uv_timer_t *t)
{
	kick(t->data);
}

static void io_failed(struct file_sink *f, const char *what, const char *path, int err)
{
	f->stats.errors++;
	if (!f->failing)
		log_error(f->s->who, "%s %s: %s; retrying until it succeeds", what, path,
		          uv_strerror(err));
	f->failing = true;
	uv_timer_start(&f->retry_timer, on_retry_timer, backoff_next(&f->backoff), 0);
}

static void io_succeeded(struct file_sink *f)
{
	if (f->failing)
		log_info(f->s->who, "%s: writing again", f->conf->path);
	f->failing = false;
	backoff_reset(&f->backoff);
}

/* Ends the request in flight; false when closing took over. */
static bool op_done(struct file_sink *f)
{
	uv_fs_req_cleanup(&f->req);
	f->op = OP_NONE;
	if (f->closing) {
		kick(f);
		return false;
	}
	return true;
}

static void on_sync_timer(uv_timer_t *t)
{
	struct file_sink *f = t->data;
	f->sync_due = true;
	kick(f);
}

static void on_write(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	ssize_t n = req->result;
	if (!op_done(f))
		return;
	if (n < 0) {
		io_failed(f, "write", f->conf->path, (int)n);
		return;
	}
	io_succeeded(f);
	f->size += (uint64_t)n;
	if (f->sep_in_write && n > 0) {
		f->need_sep = false;
		n--;
	}
	/* A short write is continued from the exact byte: the kernel took
	 * those bytes, and only a failed fsync could lose them. */
	size_t left = (size_t)n;
	while (left && f->n_written < f->q_len) {
		struct record *r = q_at(f, f->n_written);
		size_t rest = r->json_len + 1 - f->off;
		if (left < rest) {
			f->off += left;
			break;
		}
		left -= rest;
		f->off = 0;
		f->n_written++;
		f->stats.written++;
	}
	if (f->ack_on_write)
		ack_written(f, f->n_written);
	else if (f->conf->fsync == SINK_FILE_FSYNC_INTERVAL && f->n_written &&
	         !timer_active(&f->sync_timer))
		uv_timer_start(&f->sync_timer, on_sync_timer, f->conf->fsync_interval, 0);
	kick(f);
}

/* Writes from the first byte not yet written; returns false when rotation
 * must come first. only_partial: just finish the record begun. */
static bool start_write(struct file_sink *f, bool only_partial)
{
	size_t nb = 0;
	uint64_t bytes = 0;
	uint64_t limit = f->conf->rotate_size;
	f->sep_in_write = f->need_sep;
	if (f->need_sep) {
		f->iov[nb++] = uv_buf_init("\n", 1);
		bytes = 1;
	}
	size_t off = f->off;
	for (size_t i = f->n_written; i < f->q_len && nb + 2 <= IOV_MAX_BUFS; i++, off = 0) {
		struct record *r = q_at(f, i);
		uint64_t len = r->json_len + 1 - off;
		if (limit && off == 0 && f->size + bytes > 0 && f->size + bytes + len > limit)
			break;
		if (off < r->json_len)
			f->iov[nb++] = uv_buf_init(r->json + off, (unsigned)(r->json_len - off));
		f->iov[nb++] = uv_buf_init("\n", 1);
		bytes += len;
		if (only_partial)
			break;
	}
	if (nb == (f->need_sep ? 1u : 0u))
		return false;
	f->op = OP_WRITE;
	int rc = uv_fs_write(f->s->loop, &f->req, f->fd, f->iov, (unsigned)nb, -1, on_write);
	if (rc < 0) {
		f->op = OP_NONE;
		uv_fs_req_cleanup(&f->req);
		io_failed(f, "write", f->conf->path, rc);
	}
	return true;
}

static void on_fsync(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	int rc = (int)req->result;
	if (!op_done(f))
		return;
	if (rc == UV_EINVAL || rc == UV_ENOTSUP) {
		/* A pipe, FIFO or character device: nothing to sync. */
		if (!f->warned_nosync)
			log_warn(f->s->who, "%s cannot be fsynced; acknowledging after write",
			         f->conf->path);
		f->warned_nosync = true;
		rc = 0;
	}
	if (rc < 0) {
		/* Linux may have dropped the dirty pages and reports it once:
		 * write again everything since the last good fsync. */
		f->n_written = 0;
		f->off = 0;
		f->need_sep = true;
		io_failed(f, "fsync", f->conf->path, rc);
		return;
	}
	io_succeeded(f);
	f->stats.fsyncs++;
	f->sync_due = false;
	uv_timer_stop(&f->sync_timer);
	ack_written(f, f->n_written);
	kick(f);
}

static void on_close(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	int rc = (int)req->result;
	bool rotate = f->rotate_pending;
	f->fd = -1;
	if (!op_done(f))
		return;
	/* Every record in it was fsynced and acknowledged already. */
	if (rc < 0)
		log_warn(f->s->who, "close %s: %s", f->conf->path, uv_strerror(rc));
	f->rotate_pending = false;
	f->reopen_pending = false;
	f->rename_pending = rotate;
	kick(f);
}

static void on_rename(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	int rc = (int)req->result;
	if (!op_done(f))
		return;
	if (rc < 0) {
		io_failed(f, "rename", f->conf->path, rc);
		return;
	}
	io_succeeded(f);
	f->rename_pending = false;
	f->rot_dirty = true;
	f->stats.rotations++;
	kick(f);
}

static void on_fstat(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	int rc = (int)req->result;
	uint64_t size = (uint64_t)req->statbuf.st_size;
	if (!op_done(f))
		return;
	/* Without a size, rotation counts from zero: one file grows larger. */
	f->size = rc < 0 ? 0 : size;
	kick(f);
}

static void on_open(uv_fs_t *req)
{
	struct file_sink *f = req->data;
	int rc = (int)req->result;
	if (rc >= 0)
		f->fd = rc;
	if (!op_done(f))
		return;
	if (rc < 0) {
		io_failed(f, "open", f->conf->path, rc);
		return;
	}
	io_succeeded(f);
	f->reopen_pending = false;
	f->need_sep = false; /* a damaged tail stays in the old file */
	f->op = OP_FSTAT;
	rc = uv_fs_fstat(f->s->loop, &f->req, f->fd, on_fstat);
	if (rc < 0) {
		f->op = OP_NONE;
		uv_fs_req_cleanup(&f->req);
		f->size = 0;
		kick(f);
	}
}

static void on_job_timer(uv_timer_t *t)
{
	kick(t->data);
}

static void job_run(uv_work_t *w)
{
	struct file_sink *f = w->data;
	f->job_rc = file_rotate_compress(f->conf->path, (int)f->conf->rotate_keep, f->job_err,
	                                 sizeof(f->job_err));
}

static void job_after(uv_work_t *w, int status)
{
	struct file_sink *f = w->data;
	f->job_running = false;
	if (f->closing) {
		if (f->close_started)
			close_unref(f);
		else
			kick(f);
		return;
	}
	int rc = status < 0 ? LG_EIO : f->job_rc;
	if (rc < 0) {
		f->stats.errors++;
		if (!f->job_failing)
			log_error(f->s->who, "rotation: %s; retrying", f->job_err);
		f->job_failing = true;
		uv_timer_start(&f->job_timer, on_job_timer, backoff_next(&f->job_backoff), 0);
		return;
	}
	if (f->job_failing)
		log_info(f->s->who, "rotation: compressing again");
	f->job_failing = false;
	backoff_reset(&f->job_backoff);
	f->rot_dirty = false;
	if (rc > 0)
		f->stats.compressed++;
	kick(f);
}

/* Decides the next request: at most one in flight, in this order of need. */
static void kick(struct file_sink *f)
{
	if (f->closing) {
		if (f->op == OP_NONE && !f->close_started)
			finish_close(f);
		return;
	}
	if (f->rot_dirty && !f->job_running && !timer_active(&f->job_timer)) {
		f->job_running = true;
		f->job_err[0] = '\0';
		if (uv_queue_work(f->s->loop, &f->work, job_run, job_after) < 0)
			f->job_running = false;
	}
	if (f->op != OP_NONE || timer_active(&f->retry_timer))
		return;
	int rc = 0;
	if (f->rename_pending) {
		f->op = OP_RENAME;
		rc = uv_fs_rename(f->s->loop, &f->req, f->conf->path, f->rotating, on_rename);
		goto started;
	}
	if (f->fd < 0) {
		f->op = OP_OPEN;
		rc = uv_fs_open(f->s->loop, &f->req, f->conf->path, OPEN_FLAGS, 0640, on_open);
		goto started;
	}
again:;
	bool draining = f->reopen_pending || f->rotate_pending;
	if (draining && f->off > 0 && start_write(f, true))
		return;
	if (f->n_written > 0 && !f->ack_on_write &&
	    (f->conf->fsync == SINK_FILE_FSYNC_ALWAYS || f->sync_due || f->flush_done ||
	     draining)) {
		f->op = OP_FSYNC;
		rc = uv_fs_fsync(f->s->loop, &f->req, f->fd, on_fsync);
		goto started;
	}
	if (draining) {
		if (f->rotate_pending && (f->rot_dirty || f->job_running))
			return; /* the job's end kicks again */
		f->op = OP_CLOSE;
		rc = uv_fs_close(f->s->loop, &f->req, f->fd, on_close);
		goto started;
	}
	if (f->q_len > f->n_written && !start_write(f, false)) {
		f->rotate_pending = true;
		goto again;
	}
	return;
started:
	if (rc < 0) {
		enum op op = f->op;
		f->op = OP_NONE;
		uv_fs_req_cleanup(&f->req);
		io_failed(f,
		          op == OP_OPEN     ? "open"
		          : op == OP_RENAME ? "rename"
		                            : "sync or close",
		          f->conf->path, rc);
	}
}

static int file_submit(struct sink *s, struct record *r)
{
	struct file_sink *f = s->priv;
	if (!f || f->closing)
		return LG_ECLOSED;
	int rc = q_push(f, record_ref(r));
	if (rc < 0) {
		record_unref(r);
		return rc;
	}
	kick(f);
	return 0;
}

static void on_flush_timer(uv_timer_t *t)
{
	struct file_sink *f = t->data;
	sink_cb done = f->flush_done;
	f->flush_done = NULL;
	if (done)
		done(f->s);
}

static void file_flush(struct sink *s, uint64_t deadline, sink_cb done)
{
	struct file_sink *f = s->priv;
	if (!f || f->closing) {
		done(s);
		return;
	}
	uint64_t now = uv_now(s->loop);
	f->flush_done = done;
	/* Even with nothing queued, done runs from the loop, not from here. */
	uv_timer_start(&f->flush_timer, on_flush_timer,
	               f->q_len && deadline > now ? deadline - now : 0, 0);
	kick(f);
}

/* The file is reopened only when PATH no longer names the open file (moved
 * away by logrotate, deleted, replaced): a SIGHUP that changed nothing keeps
 * the handle. Two stat calls on the loop, once per SIGHUP. */
static void file_reopen(struct sink *s)
{
	struct file_sink *f = s->priv;
	if (!f || f->closing || f->to_stdout)
		return;
	struct stat open_st, path_st;
	if (f->fd >= 0 && !f->rename_pending && fstat(f->fd, &open_st) == 0 &&
	    stat(f->conf->path, &path_st) == 0 && open_st.st_dev == path_st.st_dev &&
	    open_st.st_ino == path_st.st_ino) {
		log_debug(s->who, "SIGHUP: %s is still the open file; not reopened", f->conf->path);
		return;
	}
	f->reopen_pending = true;
	kick(f);
}

static void file_close(struct sink *s, sink_cb closed)
{
	struct file_sink *f = s->priv;
	if (!f) {
		closed(s);
		return;
	}
	f->closed = closed;
	f->closing = true;
	f->flush_done = NULL;
	kick(f);
}

/* Reports a bad option at the line that set it (the section's line when the
 * sink is not read from a file, as in unit tests). */
static void bad_key(struct sink *s, struct conf_errs *errs, const char *key, const char *fmt,
                    const char *detail)
{
	struct opt_origin o = {s->file, s->line};
	if (s->section)
		o = opts_origin(s->section, key);
	conf_err(errs, o.file, o.line, "[sink %s]: key '%s': %s%s", s->name, key, fmt,
	         detail ? detail : "");
}

static int validate(struct sink *s, struct conf_errs *errs)
{
	const struct sink_file_conf *c = s->conf;
	int bad = 0;
	if (!c->path || !*c->path) {
		bad_key(s, errs, "path", "is required", NULL);
		return LG_ECONFIG;
	}
	if (strlen(c->path) > PATH_MAX - 32) {
		bad_key(s, errs, "path", "is too long", NULL);
		bad = 1;
	}
	if (c->fsync < SINK_FILE_FSYNC_INTERVAL || c->fsync > SINK_FILE_FSYNC_NEVER) {
		bad_key(s, errs, "fsync", "must be interval, always or never", NULL);
		bad = 1;
	}
	if (c->fsync == SINK_FILE_FSYNC_INTERVAL && c->fsync_interval == 0) {
		bad_key(s, errs, "fsync_interval", "must be more than 0", NULL);
		bad = 1;
	}
	if (c->rotate_keep < 1 || c->rotate_keep > 1000) {
		bad_key(s, errs, "rotate_keep", "must be 1..1000", NULL);
		bad = 1;
	}
	bool to_stdout = strcmp(c->path, "-") == 0;
	if (to_stdout && c->rotate_size) {
		bad_key(s, errs, "rotate_size", "cannot be used with path = - (standard output)",
		        NULL);
		bad = 1;
	}
	/* --check-config touches nothing, but a missing directory would stop
	 * the agent at start: say so now. */
	if (!to_stdout && !bad) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", c->path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		struct stat st;
		if (stat(slash ? dir : ".", &st) != 0 || !S_ISDIR(st.st_mode)) {
			bad_key(s, errs, "path", "its directory must exist: ", c->path);
			bad = 1;
		}
	}
	return bad ? LG_ECONFIG : 0;
}

static int file_open(struct sink *s, struct conf_errs *errs)
{
	int rc = validate(s, errs);
	if (rc < 0 || s->check_only)
		return rc;
	const struct sink_file_conf *c = s->conf;
	struct file_sink *f = calloc(1, sizeof(*f));
	if (!f)
		return LG_ENOMEM;
	f->s = s;
	f->conf = c;
	f->fd = -1;
	f->to_stdout = strcmp(c->path, "-") == 0;
	f->ack_on_write = f->to_stdout || c->fsync == SINK_FILE_FSYNC_NEVER;
	size_t len = strlen(c->path) + sizeof(FILE_ROTATE_SUFFIX);
	f->rotating = malloc(len);
	if (!f->rotating) {
		free(f);
		return LG_ENOMEM;
	}
	snprintf(f->rotating, len, "%s%s", c->path, FILE_ROTATE_SUFFIX);
	if (f->to_stdout) {
		f->fd = STDOUT_FILENO;
	} else {
		/* Synchronous once, at startup: a bad path must stop the start
		 * with its file:line rather than become an endless retry. */
		uv_fs_t req;
		rc = uv_fs_open(s->loop, &req, c->path, OPEN_FLAGS, 0640, NULL);
		uv_fs_req_cleanup(&req);
		if (rc < 0) {
			bad_key(s, errs, "path", "cannot open: ", uv_strerror(rc));
			free_sink(f);
			return LG_ECONFIG;
		}
		f->fd = rc;
		if (uv_fs_fstat(s->loop, &req, f->fd, NULL) == 0)
			f->size = (uint64_t)req.statbuf.st_size;
		uv_fs_req_cleanup(&req);
	}
	uv_timer_t *timers[] = {&f->sync_timer, &f->retry_timer, &f->flush_timer, &f->job_timer};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		uv_timer_init(s->loop, timers[i]);
		timers[i]->data = f;
	}
	f->req.data = f;
	f->work.data = f;
	backoff_init(&f->backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
	backoff_init(&f->job_backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
	/* A PATH.rotating left by a crash is compressed before anything else. */
	f->rot_dirty = c->rotate_size > 0;
	s->priv = f;
	kick(f);
	return 0;
}

void sink_file_stats(const struct sink *s, struct sink_file_stats *out)
{
	const struct file_sink *f = s && s->type == &sink_file_type ? s->priv : NULL;
	if (f)
		*out = f->stats;
	else
		memset(out, 0, sizeof(*out));
}

const struct sink_type sink_file_type = {
    .name = "file",
    .desc = "JSON lines to a file or standard output, fsynced, rotated into gzip archives",
    .opts = file_opts,
    .conf_size = sizeof(struct sink_file_conf),
    .open = file_open,
    .submit = file_submit,
    .flush = file_flush,
    .close = file_close,
    .reopen = file_reopen,
};

#include "router.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define F(field) offsetof(struct sink_common, field)

const struct opt_def sink_common_opts[] = {
    {"type", OPT_STRING, NULL, OPT_REQUIRED, F(type), NULL,
     "the sink type (sinch-logd --help lists them; --help-sink TYPE its options)"},
    {"match", OPT_LIST, "", 0, F(match), NULL,
     "function names (shell patterns) whose records this sink takes; empty = all"},
    {"min_level", OPT_ENUM, "debug", 0, F(min_level), "debug|info|warning|error",
     "the lowest record level this sink takes"},
    {"kinds", OPT_LIST, "", 0, F(kinds), NULL,
     "record kinds taken (request, status, metrics, cost); empty = all"},
    {"queue_max_records", OPT_INT, "10000", 0, F(queue_max_records), NULL,
     "records held by the sink before the streams feeding it pause"},
    {"queue_max_bytes", OPT_SIZE, "16M", 0, F(queue_max_bytes), NULL,
     "bytes held by the sink before the streams feeding it pause"},
    {"dead_letter_dir", OPT_STRING, NULL, 0, F(dead_letter_dir), NULL,
     "where records the sink rejects for good are kept (default STATE_DIR/dead-letter)"},
    {"dead_letter_max_size", OPT_SIZE, "100M", 0, F(dead_letter_max_size), NULL,
     "size cap of the sink's dead-letter file; past it rejected records are counted and "
     "logged, not kept"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

void router_init(struct router *rt, uv_loop_t *loop)
{
	memset(rt, 0, sizeof(*rt));
	rt->loop = loop;
}

bool router_takes(const struct router_sink *rs, const struct record *r)
{
	if (!(rs->kind_mask & (1u << r->kind)))
		return false;
	if ((int)r->level < rs->common.min_level)
		return false;
	if (rs->common.match.n == 0)
		return true;
	const char *name = r->function_name ? r->function_name : "";
	for (size_t i = 0; i < rs->common.match.n; i++)
		if (fnmatch(rs->common.match.items[i], name, 0) == 0 ||
		    (r->function_id && fnmatch(rs->common.match.items[i], r->function_id, 0) == 0))
			return true;
	return false;
}

static bool matches_function(const struct router_sink *rs, const char *function_name)
{
	if (rs->common.match.n == 0)
		return true;
	for (size_t i = 0; i < rs->common.match.n; i++)
		if (fnmatch(rs->common.match.items[i], function_name, 0) == 0)
			return true;
	return false;
}

static void update_full(struct router_sink *rs)
{
	struct router *rt = rs->router;
	uint64_t max_r = (uint64_t)rs->common.queue_max_records;
	uint64_t max_b = rs->common.queue_max_bytes;
	if (!rs->full && (rs->held_records >= max_r || rs->held_bytes >= max_b)) {
		rs->full = true;
		rt->full_sinks++;
		log_debug(rs->sink.who, "queue full (%llu records, %llu bytes): pausing intake",
		          (unsigned long long)rs->held_records, (unsigned long long)rs->held_bytes);
	} else if (rs->full && rs->held_records <= max_r * 3 / 4 &&
	           rs->held_bytes <= max_b * 3 / 4) {
		rs->full = false;
		rt->full_sinks--;
		log_debug(rs->sink.who, "queue drained: resuming intake");
		/* Streams that only this sink held back may read again, even
		 * if another sink (fed by other functions) is still full. */
		if (rt->on_drain)
			rt->on_drain(rt);
	}
}

/* Rejected records are rare: they are written at once, synchronously, and
 * synced, so that a dead-lettered record is as durable as a delivered one. */
static void dead_letter(struct router_sink *rs, struct record *r, const char *reason)
{
	struct buf line;
	buf_init(&line, r->json_len + 1024);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	buf_printf(&line,
	           "{\"dead_letter_time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"sink\":\"",
	           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	           ts.tv_nsec / 1000000);
	buf_puts(&line, rs->sink.name);
	buf_puts(&line, "\",\"reason\":\"");
	for (const char *p = reason ? reason : "rejected"; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(&line, '\\');
		if ((unsigned char)*p >= 0x20)
			buf_putc(&line, *p);
	}
	buf_puts(&line, "\",\"record\":");
	int rc = buf_append(&line, r->json, r->json_len);
	if (rc == 0)
		rc = buf_puts(&line, "}\n");
	int fd = -1;
	struct stat st;
	if (rc == 0) {
		fd = open(rs->dead_letter_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			rc = LG_EIO;
	}
	if (rc == 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size + line.len > rs->common.dead_letter_max_size)
		rc = LG_ETOOBIG;
	if (rc == 0 && (write(fd, line.data, line.len) != (ssize_t)line.len || fsync(fd) != 0))
		rc = LG_EIO;
	if (fd >= 0)
		close(fd);
	buf_free(&line);
	if (rc == 0) {
		rs->dead_lettered++;
		log_warn(rs->sink.who, "record %s dead-lettered to %s: %s", r->id ? r->id : "-",
		         rs->dead_letter_path, reason ? reason : "rejected");
	} else {
		rs->dead_letter_lost++;
		log_error(rs->sink.who,
		          "record %s rejected (%s) and could not be dead-lettered: %s",
		          r->id ? r->id : "-", reason ? reason : "rejected",
		          rc == LG_ETOOBIG ? "dead-letter file is full" : strerror(errno));
	}
}

static void list_push(struct router *rt, struct record *r)
{
	r->rt_next = NULL;
	r->rt_prev = rt->tail;
	if (rt->tail)
		rt->tail->rt_next = r;
	else
		rt->head = r;
	rt->tail = r;
}

static void list_remove(struct router *rt, struct record *r)
{
	if (r->rt_prev)
		r->rt_prev->rt_next = r->rt_next;
	else
		rt->head = r->rt_next;
	if (r->rt_next)
		r->rt_next->rt_prev = r->rt_prev;
	else
		rt->tail = r->rt_prev;
	r->rt_prev = r->rt_next = NULL;
}

void router_settle(struct router *rt, struct record *r, uint64_t bit)
{
	r->owed &= ~bit;
	if (--r->pending > 0)
		return;
	list_remove(rt, r);
	if (rt->on_done)
		rt->on_done(rt, r);
	record_unref(r);
}

static void on_ack(struct sink *s, struct record *r, int result, const char *reason)
{
	struct router_sink *rs = s->router_data;
	struct router *rt = rs->router;
	uint64_t bit = UINT64_C(1) << rs->slot;
	if (!(r->owed & bit)) {
		log_error(rs->sink.who, "acknowledged record %s twice; ignored",
		          r->id ? r->id : "-");
		return;
	}
	rs->held_records--;
	rs->held_bytes -= r->json_len;
	if (result == 0)
		rs->delivered++;
	else
		dead_letter(rs, r, reason ? reason : lg_strerror(result));
	router_settle(rt, r, bit);
	if (rs->full)
		update_full(rs);
}

void router_hand(struct router_sink *rs, struct record *r)
{
	rs->held_records++;
	rs->held_bytes += r->json_len;
	rs->submitted++;
	update_full(rs);
	int rc = rs->sink.type->submit(&rs->sink, r);
	if (rc != 0)
		on_ack(&rs->sink, r, rc, lg_strerror(rc));
}

void router_submit(struct router *rt, struct record *r)
{
	/* Count first, submit after: a sink may acknowledge synchronously. A
	 * successor waiting for its slot takes records too: they wait in the
	 * list until it opens. */
	unsigned n = 0;
	uint64_t owed = 0;
	for (size_t i = 0; i < rt->nsinks; i++) {
		const struct router_sink *rs = rt->sinks[i];
		if ((!rs->closed || rs->waiting) && router_takes(rs, r)) {
			n++;
			owed |= UINT64_C(1) << rs->slot;
		}
	}
	r->pending = n;
	r->owed = owed;
	if (n == 0)
		return;
	list_push(rt, record_ref(r));
	record_ref(r);
	for (size_t i = 0; i < rt->nsinks; i++) {
		struct router_sink *rs = rt->sinks[i];
		if (!rs->closed && router_takes(rs, r))
			router_hand(rs, r);
	}
	record_unref(r);
}

bool router_accepting(const struct router *rt, const char *function_name)
{
	if (rt->full_sinks == 0 && rt->waiting_sinks == 0)
		return true;
	for (size_t i = 0; i < rt->nsinks; i++) {
		const struct router_sink *rs = rt->sinks[i];
		if ((rs->full || rs->waiting) && matches_function(rs, function_name))
			return false;
	}
	return true;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(tmp))
		return LG_EINVAL;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return LG_EIO;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return LG_EIO;
	return 0;
}

static int setup_common(struct router_sink *rs, const struct conf_section *sec,
                        const char *state_dir, bool check_only, struct conf_errs *errs)
{
	struct sink_common *c = &rs->common;
	int rc = 0;
	rs->kind_mask = c->kinds.n ? 0 : (1u << RECORD_KIND_COUNT) - 1;
	for (size_t i = 0; i < c->kinds.n; i++) {
		int k = record_kind_parse(c->kinds.items[i], strlen(c->kinds.items[i]));
		if (k < 0) {
			struct opt_origin o = opts_origin(sec, "kinds");
			conf_err(errs, o.file, o.line,
			         "[sink %s]: key 'kinds': unknown kind '%s' (request, status, "
			         "metrics, cost)",
			         sec->name, c->kinds.items[i]);
			rc = LG_ECONFIG;
		}
		rs->kind_mask |= 1u << (k < 0 ? 0 : k);
	}
	if (c->queue_max_records < 1 || c->queue_max_bytes < 1) {
		struct opt_origin o = opts_origin(sec, "queue_max_records");
		conf_err(errs, o.file, o.line, "[sink %s]: queue bounds must be positive",
		         sec->name);
		rc = LG_ECONFIG;
	}
	struct buf path;
	buf_init(&path, 8192);
	int brc = c->dead_letter_dir
	              ? buf_puts(&path, c->dead_letter_dir)
	              : buf_printf(&path, "%s/dead-letter", state_dir ? state_dir : ".");
	if (brc) {
		buf_free(&path);
		return brc;
	}
	/* A sink of a command without a state directory (tail's printer)
	 * rejects nothing; no dead-letter directory is made for it. */
	if (!check_only && (c->dead_letter_dir || state_dir) && mkdir_p(path.data) != 0) {
		conf_err(errs, sec->file, sec->line,
		         "[sink %s]: cannot create dead-letter dir %s: %s", sec->name, path.data,
		         strerror(errno));
		rc = LG_ECONFIG;
	}
	brc = buf_printf(&path, "/%s.jsonl", sec->name);
	rs->dead_letter_path = brc ? NULL : buf_detach(&path, NULL);
	buf_free(&path);
	return brc ? brc : rc;
}

int router_sink_new(struct router *rt, const struct conf_section *sec, const struct sink_type *type,
                    const char *state_dir, uint64_t max_event_size, bool check_only,
                    struct conf_errs *errs, struct router_sink **out)
{
	struct router_sink *rs = calloc(1, sizeof(*rs));
	*out = rs;
	if (!rs)
		return LG_ENOMEM;
	rs->router = rt;
	rs->closed = true; /* until open succeeds */
	struct sink *s = &rs->sink;
	s->name = strdup(sec->name);
	struct buf who;
	buf_init(&who, 1024);
	if (buf_printf(&who, "sink %s", sec->name) == 0)
		s->who = buf_detach(&who, NULL);
	/* The sink outlives the configuration it was read from (a reload
	 * frees it): it keeps a copy of the file name. */
	rs->file = strdup(sec->file ? sec->file : "?");
	if (!s->name || !s->who || !rs->file) {
		buf_free(&who);
		conf_err(errs, sec->file, sec->line, "[sink %s]: out of memory", sec->name);
		return LG_ENOMEM;
	}
	s->loop = rt->loop;
	s->check_only = check_only;
	s->file = rs->file;
	s->line = sec->line;
	s->section = sec;
	s->max_event_size = max_event_size;
	s->max_record_size = 3 * max_event_size + (1 << 20);
	s->state_dir = state_dir;
	s->http = check_only ? NULL : rt->http;
	s->on_ack = on_ack;
	s->router_data = rs;
	if (opts_apply(sink_common_opts, &rs->common, sec, errs) != 0)
		return LG_ECONFIG;
	s->type = type ? type : sink_type_find(rs->common.type);
	if (!s->type) {
		struct opt_origin o = opts_origin(sec, "type");
		conf_err(errs, o.file, o.line, "[sink %s]: unknown sink type '%s'", sec->name,
		         rs->common.type);
		return LG_ECONFIG;
	}
	int result = setup_common(rs, sec, state_dir, check_only, errs);
	if (result == LG_ENOMEM) {
		conf_err(errs, sec->file, sec->line, "[sink %s]: out of memory", sec->name);
		return result;
	}
	s->queue_max_records = (uint64_t)rs->common.queue_max_records;
	s->queue_max_bytes = rs->common.queue_max_bytes;
	if (s->type->conf_size) {
		s->conf = calloc(1, s->type->conf_size);
		if (!s->conf) {
			conf_err(errs, sec->file, sec->line, "[sink %s]: out of memory", sec->name);
			return LG_ENOMEM;
		}
	}
	if (s->type->opts && opts_apply(s->type->opts, s->conf, sec, errs) != 0)
		result = LG_ECONFIG;
	conf_check_unused(sec, errs);
	return errs->count || result ? LG_ECONFIG : 0;
}

int router_sink_open(struct router_sink *rs, struct conf_errs *errs)
{
	struct sink *s = &rs->sink;
	int rc = s->type->open(s, errs) != 0 ? LG_ECONFIG : 0;
	/* The section belongs to a configuration a reload may free. */
	s->section = NULL;
	if (rc == 0)
		rs->closed = false;
	return rc;
}

static int take_slot(struct router *rt, struct router_sink *rs, const struct conf_section *sec,
                     struct conf_errs *errs)
{
	for (unsigned i = 0; i < ROUTER_MAX_SINKS; i++) {
		if (rt->slots & (UINT64_C(1) << i))
			continue;
		rt->slots |= UINT64_C(1) << i;
		rs->slot = i;
		return 0;
	}
	conf_err(errs, sec->file, sec->line, "[sink %s]: too many sinks (at most %d)", sec->name,
	         ROUTER_MAX_SINKS);
	return LG_ECONFIG;
}

int router_add_sink(struct router *rt, const struct conf_section *sec, const struct sink_type *type,
                    const char *state_dir, uint64_t max_event_size, bool check_only,
                    struct conf_errs *errs)
{
	struct router_sink **grown = realloc(rt->sinks, (rt->nsinks + 1) * sizeof(*rt->sinks));
	if (!grown)
		return LG_ENOMEM;
	rt->sinks = grown;
	struct router_sink *rs;
	int rc = router_sink_new(rt, sec, type, state_dir, max_event_size, check_only, errs, &rs);
	if (rc == LG_ENOMEM) {
		router_sink_free(rs);
		return rc;
	}
	/* Kept even when invalid: the caller counts the sections it saw. */
	rt->sinks[rt->nsinks++] = rs;
	if (take_slot(rt, rs, sec, errs) != 0 || rc)
		return LG_ECONFIG;
	return router_sink_open(rs, errs);
}

int router_add_sinks(struct router *rt, const struct conf *c, const char *state_dir,
                     uint64_t max_event_size, bool check_only, struct conf_errs *errs)
{
	int result = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct conf_section *sec = &c->sections[i];
		if (strcmp(sec->type, "sink") != 0)
			continue;
		int rc =
		    router_add_sink(rt, sec, NULL, state_dir, max_event_size, check_only, errs);
		if (rc == LG_ENOMEM)
			return rc;
		if (rc)
			result = rc;
	}
	return errs->count ? LG_ECONFIG : result;
}

struct router_sink *router_find_sink(const struct router *rt, const char *name)
{
	for (size_t i = 0; i < rt->nsinks; i++)
		if (strcmp(rt->sinks[i]->sink.name, name) == 0)
			return rt->sinks[i];
	return NULL;
}

void router_reopen(struct router *rt)
{
	for (size_t i = 0; i < rt->nsinks; i++) {
		struct router_sink *rs = rt->sinks[i];
		if (!rs->closed && rs->sink.type->reopen)
			rs->sink.type->reopen(&rs->sink);
	}
}

static void op_done(struct sink *s)
{
	struct router_sink *rs = s->router_data;
	struct router *rt = rs->router;
	if (--rt->pending_ops == 0 && rt->ops_done)
		rt->ops_done(rt);
}

static void run_op(struct router *rt, bool closing, uint64_t deadline,
                   void (*done)(struct router *))
{
	rt->ops_done = done;
	rt->pending_ops = 1; /* held until every sink was asked */
	if (closing) {
		/* Sinks being replaced close by themselves (router_swap.c). */
		rt->closing = true;
		rt->pending_ops += (unsigned)rt->nretiring;
	}
	for (size_t i = 0; i < rt->nsinks; i++) {
		struct router_sink *rs = rt->sinks[i];
		if (rs->closed)
			continue;
		rt->pending_ops++;
		if (closing) {
			rs->closed = true;
			rs->sink.type->close(&rs->sink, op_done);
		} else {
			rs->sink.type->flush(&rs->sink, deadline, op_done);
		}
	}
	if (--rt->pending_ops == 0 && done)
		done(rt);
}

void router_flush(struct router *rt, uint64_t deadline, void (*done)(struct router *rt))
{
	run_op(rt, false, deadline, done);
}

void router_close(struct router *rt, void (*done)(struct router *rt))
{
	run_op(rt, true, 0, done);
}

void router_sink_free(struct router_sink *rs)
{
	if (!rs)
		return;
	if (rs->sink.type && rs->sink.type->opts && rs->sink.conf)
		opts_free(rs->sink.type->opts, rs->sink.conf);
	free(rs->sink.conf);
	opts_free(sink_common_opts, &rs->common);
	free(rs->sink.name);
	free(rs->sink.who);
	free(rs->dead_letter_path);
	free(rs->file);
	free(rs);
}

void router_free(struct router *rt)
{
	/* What no sink acknowledged is read again at the next start. */
	while (rt->head) {
		struct record *r = rt->head;
		list_remove(rt, r);
		record_unref(r);
	}
	for (size_t i = 0; i < rt->nsinks; i++)
		router_sink_free(rt->sinks[i]);
	for (size_t i = 0; i < rt->nretiring; i++)
		router_sink_free(rt->retiring[i]);
	free(rt->sinks);
	free(rt->retiring);
	rt->sinks = NULL;
	rt->retiring = NULL;
	rt->nsinks = rt->nretiring = 0;
}

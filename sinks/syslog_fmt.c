#include "syslog_fmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"

#define HOSTNAME_MAX 255
#define APP_NAME_MAX 48
#define PROCID_MAX 128
#define MSGID_MAX 32
#define TAG_MAX 32
#define FIELD_TEXT_MAX 256

static const char *const facilities[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
};

int syslog_fmt_facility(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i], name) == 0)
			return (int)i;
	return -1;
}

bool syslog_fmt_sd_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SYSLOG_FMT_SD_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == '=' || c == ']' || c == '"')
			return false;
	}
	return true;
}

/* What one record says, its strings unescaped into `text` (no allocation
 * beyond the scratch buffers). */
struct fields {
	const char *method, *status, *duration, *memory;
	size_t method_len, status_len, duration_len, memory_len;
	int logs; /* the logs array token, or -1 */
	/* Escaped strings unescaped; these values are short by nature, and a
	 * longer one is left out rather than cut. */
	char text[4][FIELD_TEXT_MAX];
};

static int severity(int level)
{
	switch (level) {
	case RECORD_ERROR:
		return 3;
	case RECORD_WARNING:
		return 4;
	case RECORD_DEBUG:
		return 7;
	default:
		return 6;
	}
}

/* A header field: printable US-ASCII only, at most max bytes, "-" if empty. */
static int put_field(struct buf *b, const char *s, size_t n, size_t max)
{
	if (n > max)
		n = max;
	if (n == 0)
		return buf_putc(b, '-');
	int rc = buf_reserve(b, n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		b->data[b->len++] = (c >= 33 && c <= 126) ? (char)c : '_';
	}
	b->data[b->len] = '\0';
	return 0;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Expands the APP-NAME template into b. */
static int put_app_name(struct buf *b, const char *tpl, const struct record *r)
{
	struct {
		const char *name, *value;
	} vars[] = {
	    {"{function_name}", nz(r->function_name)},
	    {"{function_id}", nz(r->function_id)},
	    {"{project_id}", nz(r->project_id)},
	};
	for (const char *p = tpl; *p;) {
		size_t i;
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			size_t k = strlen(vars[i].name);
			if (strncmp(p, vars[i].name, k) == 0) {
				int rc = buf_puts(b, vars[i].value);
				if (rc < 0)
					return rc;
				p += k;
				break;
			}
		}
		if (i == sizeof(vars) / sizeof(vars[0])) {
			int rc = buf_putc(b, *p++);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int put_time(struct buf *b, int64_t ms, bool rfc3164)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t sec = ms / 1000, frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return buf_putc(b, '-');
	if (rfc3164)
		return buf_printf(b, "%s %2d %02d:%02d:%02d", mon[tm.tm_mon], tm.tm_mday,
		                  tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

/* Text with U+0000 written as "#000" (a NUL ends the message at many
 * receivers); with sd, '"', '\' and ']' escaped. Stops once more than limit
 * bytes were written, so that a huge text never fills the bounded buffer. */
static int put_text(struct buf *b, const char *s, size_t n, bool sd, bool lf, size_t limit)
{
	size_t start = b->len;
	for (size_t i = 0; i < n && b->len - start <= limit;) {
		size_t run = 0;
		while (i + run < n && s[i + run] != '\0' && !(lf && s[i + run] == '\n') &&
		       !(sd && (s[i + run] == '"' || s[i + run] == '\\' || s[i + run] == ']')))
			run++;
		size_t room = limit - (b->len - start) + 1;
		int rc = buf_append(b, s + i, run < room ? run : room);
		i += run;
		if (rc == 0 && i < n) {
			char esc[2] = {'\\', s[i]};
			rc = s[i] == '\0'   ? buf_append(b, "#000", 4)
			     : s[i] == '\n' ? buf_append(b, "#012", 4)
			                    : buf_append(b, esc, 2);
			i++;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Unescapes string token tok into the end of b, returning its start offset
 * through *off and length through *len (b may move: use offsets). */
static int unescape_into(struct buf *b, const struct json_doc *d, int tok, size_t *off, size_t *len)
{
	size_t cap = d->toks[tok].len + 1;
	int rc = buf_reserve(b, cap);
	if (rc < 0)
		return rc;
	long n = json_unescape(d, tok, b->data + b->len, cap);
	if (n < 0)
		return LG_EPARSE;
	*off = b->len;
	*len = (size_t)n;
	b->len += (size_t)n;
	b->data[b->len] = '\0';
	return 0;
}

static void scalar(const struct json_doc *d, const char *key, char *text, const char **s, size_t *n)
{
	int t = json_obj_get(d, 0, key);
	*s = NULL;
	*n = 0;
	if (t < 0 || (d->toks[t].type != JSON_NUMBER && d->toks[t].type != JSON_STRING))
		return;
	if (d->toks[t].type == JSON_STRING && (d->toks[t].flags & JSON_F_ESCAPED)) {
		long len = json_unescape(d, t, text, FIELD_TEXT_MAX);
		if (len >= 0) {
			*s = text;
			*n = (size_t)len;
		}
		return;
	}
	*s = json_text(d, t);
	*n = d->toks[t].len;
}

static int sd_param(struct buf *b, const char *name, const char *v, size_t n)
{
	if (!v)
		return 0;
	int rc = buf_printf(b, " %s=\"", name);
	if (rc == 0)
		rc = put_text(b, v, n, true, false, SIZE_MAX - 1);
	return rc < 0 ? rc : buf_putc(b, '"');
}

static int put_sd(struct buf *b, const struct syslog_fmt *f, const struct record *r,
                  const struct fields *fl)
{
	int rc = buf_printf(b, "[%s", f->sd_id ? f->sd_id : "fn@32473");
	struct {
		const char *name, *v;
		size_t n;
	} p[] = {
	    {"project", r->project_id, strlen(nz(r->project_id))},
	    {"function_id", r->function_id, strlen(nz(r->function_id))},
	    {"function_name", r->function_name, strlen(nz(r->function_name))},
	    {"request_id", r->id, strlen(nz(r->id))},
	    {"method", fl->method, fl->method_len},
	    {"status", fl->status, fl->status_len},
	    {"duration_ms", fl->duration, fl->duration_len},
	    {"memory_mb", fl->memory, fl->memory_len},
	};
	for (size_t i = 0; rc == 0 && i < sizeof(p) / sizeof(p[0]); i++)
		rc = sd_param(b, p[i].name, p[i].v, p[i].n);
	return rc < 0 ? rc : buf_putc(b, ']');
}

/* Appends msg (at most room bytes, cut at a character boundary) to b. */
static int put_msg(struct buf *b, const char *msg, size_t n, bool lf, size_t room, bool *cut)
{
	size_t start = b->len;
	int rc = put_text(b, msg, n, false, lf, room);
	if (rc < 0)
		return rc;
	*cut = b->len - start > room;
	if (*cut) {
		size_t end = start + room;
		while (end > start && ((unsigned char)b->data[end] & 0xC0) == 0x80)
			end--;
		b->len = end;
		b->data[end] = '\0';
	}
	return 0;
}

struct one {
	int sev;
	const char *msgid;
	int64_t ms;
	const char *time3339; /* the console line's own time, or NULL */
	const char *msg;
	size_t msg_len;
};

static bool is_3339_ms(const char *s, size_t n)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (n != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return false;
	return true;
}

/* Builds one message at the start of b (b->len is its length). */
static int build(const struct syslog_fmt *f, const struct record *r, const struct fields *fl,
                 const struct one *m, struct buf *b, struct syslog_fmt_stats *st)
{
	bool r3164 = f->format == SYSLOG_FMT_RFC3164;
	const char *host = f->hostname && *f->hostname ? f->hostname : "";
	buf_reset(b);
	int rc = buf_printf(b, "<%d>%s", f->facility * 8 + m->sev, r3164 ? "" : "1 ");
	if (rc == 0 && m->time3339 && !r3164)
		rc = buf_append(b, m->time3339, 24);
	else if (rc == 0)
		rc = put_time(b, m->ms, r3164);
	if (rc == 0)
		rc = buf_putc(b, ' ');
	if (rc == 0)
		rc = put_field(b, host, strlen(host), HOSTNAME_MAX);
	if (rc == 0)
		rc = buf_putc(b, ' ');
	/* The APP-NAME template is expanded past the header, then copied in
	 * sanitized: the expansion may be arbitrarily long. */
	size_t hdr = b->len;
	if (rc == 0)
		rc = put_app_name(b, f->app_name ? f->app_name : "sinch-fn", r);
	if (rc < 0)
		return rc;
	size_t app_len = b->len - hdr;
	char app[TAG_MAX > APP_NAME_MAX ? TAG_MAX + 1 : APP_NAME_MAX + 1];
	size_t keep =
	    app_len > (r3164 ? TAG_MAX : APP_NAME_MAX) ? (r3164 ? TAG_MAX : APP_NAME_MAX) : app_len;
	memcpy(app, b->data + hdr, keep);
	b->len = hdr;
	if (r3164) {
		for (size_t i = 0; i < keep; i++) {
			char c = app[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
			          c == '/';
			app[i] = ok ? c : '_';
		}
		rc = keep ? buf_append(b, app, keep) : buf_puts(b, "sinch-fn");
		if (rc == 0)
			rc = buf_append(b, ": ", 2);
	} else {
		const char *procid = nz(r->function_id);
		rc = put_field(b, app, keep, APP_NAME_MAX);
		if (rc == 0)
			rc = buf_putc(b, ' ');
		if (rc == 0)
			rc = put_field(b, procid, strlen(procid), PROCID_MAX);
		if (rc == 0)
			rc = buf_putc(b, ' ');
		if (rc == 0)
			rc = put_field(b, m->msgid, strlen(m->msgid), MSGID_MAX);
		if (rc == 0)
			rc = buf_putc(b, ' ');
		size_t sd_start = b->len;
		if (rc == 0)
			rc = put_sd(b, f, r, fl);
		/* A bounded scratch may not even hold the element. */
		if ((rc == 0 || rc == LG_ETOOBIG) && (rc < 0 || b->len + 1 > f->max_message_size)) {
			b->len = sd_start;
			rc = buf_putc(b, '-');
			st->sd_dropped++;
		}
		if (rc == 0 && m->msg_len)
			rc = buf_putc(b, ' ');
	}
	if (rc < 0)
		return rc;
	size_t room = f->max_message_size > b->len ? f->max_message_size - b->len : 0;
	bool cut = false;
	rc = put_msg(b, m->msg, m->msg_len, f->escape_lf, room, &cut);
	if (cut)
		st->truncated++;
	st->messages++;
	return rc;
}

static int level_sev(const struct json_doc *d, int line, int fallback)
{
	int t = json_obj_get(d, line, "level");
	if (t < 0 || d->toks[t].type != JSON_STRING)
		return fallback;
	int lv = record_level_parse(json_text(d, t), d->toks[t].len);
	return lv < 0 ? severity(RECORD_INFO) : severity(lv);
}

int syslog_fmt_record(const struct syslog_fmt *f, const struct record *r, struct json_doc *doc,
                      struct buf *scratch, struct syslog_fmt_stats *st, syslog_fmt_emit emit,
                      void *arg)
{
	int rc = json_parse(doc, r->json, r->json_len);
	if (rc < 0)
		return rc == LG_ENOMEM ? rc : LG_EPARSE;
	if (doc->toks[0].type != JSON_OBJECT)
		return LG_EPARSE;
	struct fields fl;
	scalar(doc, "method", fl.text[0], &fl.method, &fl.method_len);
	scalar(doc, "status", fl.text[1], &fl.status, &fl.status_len);
	scalar(doc, "duration_ms", fl.text[2], &fl.duration, &fl.duration_len);
	scalar(doc, "memory_mb", fl.text[3], &fl.memory, &fl.memory_len);
	fl.logs = json_obj_get(doc, 0, "logs");
	bool lines = f->mode == SYSLOG_FMT_LINE && fl.logs >= 0 &&
	             doc->toks[fl.logs].type == JSON_ARRAY && doc->toks[fl.logs].size > 0;
	struct one m = {severity(r->level), record_kind_name(r->kind), r->start_ms, NULL, r->json,
	                r->json_len};
	if (!lines) {
		rc = build(f, r, &fl, &m, scratch, st);
		return rc < 0 ? rc : emit(arg, scratch->data, scratch->len);
	}
	/* Console texts are unescaped past the message being built, in a
	 * second buffer region: scratch holds the message, text the line. */
	struct buf text;
	buf_init(&text, r->json_len + 1);
	uint32_t end = doc->toks[fl.logs].next;
	for (uint32_t i = (uint32_t)fl.logs + 1; i < end && rc == 0; i = doc->toks[i].next) {
		if (doc->toks[i].type != JSON_OBJECT)
			continue;
		int msg = json_obj_get(doc, (int)i, "message");
		int tm = json_obj_get(doc, (int)i, "time");
		size_t off = 0, len = 0;
		buf_reset(&text);
		if (msg >= 0 && doc->toks[msg].type == JSON_STRING)
			rc = unescape_into(&text, doc, msg, &off, &len);
		if (rc < 0)
			break;
		m.sev = level_sev(doc, (int)i, severity(RECORD_INFO));
		m.msgid = "console";
		m.time3339 = tm >= 0 && doc->toks[tm].type == JSON_STRING &&
		                     is_3339_ms(json_text(doc, tm), doc->toks[tm].len)
		                 ? json_text(doc, tm)
		                 : NULL;
		m.msg = text.data ? text.data + off : "";
		m.msg_len = len;
		rc = build(f, r, &fl, &m, scratch, st);
		if (rc == 0)
			rc = emit(arg, scratch->data, scratch->len);
	}
	buf_free(&text);
	return rc;
}

int syslog_fmt_frame(int framing, const char *msg, size_t len, struct buf *out)
{
	int rc;
	switch (framing) {
	case SYSLOG_FMT_OCTET:
		rc = buf_printf(out, "%zu ", len);
		return rc < 0 ? rc : buf_append(out, msg, len);
	case SYSLOG_FMT_LF:
		for (size_t i = 0; i < len; i++) {
			const char *nl = memchr(msg + i, '\n', len - i);
			size_t n = nl ? (size_t)(nl - (msg + i)) : len - i;
			rc = buf_append(out, msg + i, n);
			if (rc == 0 && nl)
				rc = buf_append(out, "#012", 4);
			if (rc < 0)
				return rc;
			i += n;
		}
		return buf_putc(out, '\n');
	default:
		return buf_append(out, msg, len);
	}
}

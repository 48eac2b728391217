/* opts.c: option tables (struct opt_def[]) applied to conf sections, and
 * the help, Markdown and value listings printed from the same tables. */
#include "conf.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "err.h"

#define SHOW 64 /* value bytes quoted in a message */
#define SEC_FMT "[%s%s%s]"
#define SEC_ARGS(sec) (sec)->type, (sec)->name ? " " : "", (sec)->name ? (sec)->name : ""

static void *field(void *target, const struct opt_def *o)
{
	return (char *)target + o->offset;
}

static const void *cfield(const void *target, const struct opt_def *o)
{
	return (const char *)target + o->offset;
}

static void wipe_free(char *s, bool secret)
{
	if (s && secret)
		explicit_bzero(s, strlen(s));
	free(s);
}

static void list_free(struct opt_list *l, bool secret)
{
	for (size_t i = 0; i < l->n; i++)
		wipe_free(l->items[i], secret);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static void kv_free(struct opt_kvlist *l, bool secret)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		wipe_free(l->items[i].value, secret);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void opts_free(const struct opt_def *table, void *target)
{
	for (const struct opt_def *o = table; o->name; o++) {
		bool secret = o->flags & OPT_SECRET;
		void *f = field(target, o);
		switch (o->type) {
		case OPT_STRING:
			wipe_free(*(char **)f, secret);
			*(char **)f = NULL;
			break;
		case OPT_LIST:
			list_free(f, secret);
			break;
		case OPT_KV:
			kv_free(f, secret);
			break;
		default:
			break;
		}
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int parse_list(const char *v, struct opt_list *out)
{
	struct opt_list l = {NULL, 0};
	size_t cap = 1;
	for (const char *p = v; *p; p++)
		cap += *p == ',';
	l.items = calloc(cap, sizeof(*l.items));
	if (!l.items)
		return LG_ENOMEM;
	while (*v) {
		while (is_blank(*v))
			v++;
		size_t n = strcspn(v, ",");
		size_t m = n;
		while (m && is_blank(v[m - 1]))
			m--;
		if (m && !(l.items[l.n++] = strndup(v, m))) {
			list_free(&l, false);
			return LG_ENOMEM;
		}
		v += n + (v[n] == ',');
	}
	*out = l;
	return 0;
}

/* Index of v in "a|b|c" (any case), or -1. */
static int enum_index(const char *choices, const char *v)
{
	size_t vl = strlen(v);
	int i = 0;
	for (const char *c = choices; c; i++) {
		const char *bar = strchr(c, '|');
		size_t n = bar ? (size_t)(bar - c) : strlen(c);
		if (n == vl && strncasecmp(c, v, n) == 0)
			return i;
		c = bar ? bar + 1 : NULL;
	}
	return -1;
}

static int parse_int(const char *v, int64_t *out)
{
	if (!*v || is_blank(*v))
		return LG_EINVAL;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (*end)
		return LG_EINVAL;
	if (errno == ERANGE)
		return LG_ETOOBIG;
	*out = (int64_t)n;
	return 0;
}

/* Parses v into the field of o; on error the field keeps what it had. */
static int set_value(const struct opt_def *o, void *target, const char *v)
{
	void *f = field(target, o);
	bool secret = o->flags & OPT_SECRET;
	switch (o->type) {
	case OPT_STRING: {
		char *s = NULL;
		if (*v && !(s = strdup(v)))
			return LG_ENOMEM;
		wipe_free(*(char **)f, secret);
		*(char **)f = s;
		return 0;
	}
	case OPT_INT:
		return parse_int(v, f);
	case OPT_BOOL:
		return conf_parse_bool(v, f);
	case OPT_SIZE:
		return conf_parse_size(v, f);
	case OPT_DURATION:
		return conf_parse_duration(v, f);
	case OPT_LIST: {
		struct opt_list l;
		int rc = parse_list(v, &l);
		if (rc)
			return rc;
		list_free(f, secret);
		*(struct opt_list *)f = l;
		return 0;
	}
	case OPT_ENUM: {
		int i = enum_index(o->choices, v);
		if (i < 0)
			return LG_EINVAL;
		*(int *)f = i;
		return 0;
	}
	case OPT_KV:
		break;
	}
	return LG_EINVAL;
}

static int fill_defaults(const struct opt_def *table, void *target, const struct opt_def **bad)
{
	for (const struct opt_def *o = table; o->name; o++) {
		void *f = field(target, o);
		switch (o->type) {
		case OPT_STRING:
			*(char **)f = NULL;
			break;
		case OPT_INT:
			*(int64_t *)f = 0;
			break;
		case OPT_BOOL:
			*(bool *)f = false;
			break;
		case OPT_SIZE:
		case OPT_DURATION:
			*(uint64_t *)f = 0;
			break;
		case OPT_LIST:
			*(struct opt_list *)f = (struct opt_list){NULL, 0};
			break;
		case OPT_ENUM:
			*(int *)f = -1;
			break;
		case OPT_KV:
			*(struct opt_kvlist *)f = (struct opt_kvlist){NULL, 0};
			break;
		}
	}
	for (const struct opt_def *o = table; o->name; o++) {
		assert(!(o->type == OPT_ENUM && !o->choices));
		assert(!(o->type == OPT_KV && o->def));
		assert(!((o->flags & OPT_REQUIRED) && o->def));
		if (!o->def)
			continue;
		int rc = set_value(o, target, o->def);
		assert((rc == 0 || rc == LG_ENOMEM) && "malformed default in an option table");
		if (rc) {
			/* Builds without assert still refuse to run on a bad table. */
			if (bad)
				*bad = o;
			opts_free(table, target);
			return rc == LG_ENOMEM ? rc : LG_EINVAL;
		}
	}
	return 0;
}

int opts_defaults(const struct opt_def *table, void *target)
{
	return fill_defaults(table, target, NULL);
}

const char *opts_type_name(enum opt_type t)
{
	static const char *const names[] = {"string",   "integer", "boolean", "size",
	                                    "duration", "list",    "enum",    "kv"};
	return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static bool is_file_key(const struct opt_def *o, const char *key)
{
	size_t n = strlen(o->name);
	return (o->flags & OPT_SECRET) && o->type != OPT_KV && strncmp(key, o->name, n) == 0 &&
	       strcmp(key + n, "_file") == 0;
}

static struct conf_entry *find_key(const struct conf_section *sec, const struct opt_def *o,
                                   bool file_form)
{
	for (size_t i = 0; sec && i < sec->n; i++) {
		struct conf_entry *e = &sec->entries[i];
		if (file_form ? is_file_key(o, e->key) : strcmp(e->key, o->name) == 0)
			return e;
	}
	return NULL;
}

/* A key some non-kv row names exactly is that row's, not a kv item. */
static bool row_key(const struct opt_def *table, const char *key)
{
	for (const struct opt_def *o = table; o->name; o++)
		if (o->type != OPT_KV && (strcmp(o->name, key) == 0 || is_file_key(o, key)))
			return true;
	return false;
}

static int apply_kv(const struct opt_def *table, const struct opt_def *o, void *target,
                    const struct conf_section *sec, struct conf_errs *errs)
{
	struct opt_kvlist *l = field(target, o);
	size_t plen = strlen(o->name);
	for (size_t i = 0; sec && i < sec->n; i++) {
		struct conf_entry *e = &sec->entries[i];
		if (strncmp(e->key, o->name, plen) != 0 || row_key(table, e->key))
			continue;
		e->used = true;
		if (!e->key[plen]) {
			conf_err(errs, e->file, e->line, "key '%s': a name must follow '%s'",
			         e->key, o->name);
			continue;
		}
		/* At most sec->n items, so allocate that once. */
		if (!l->items && !(l->items = calloc(sec->n, sizeof(*l->items))))
			return LG_ENOMEM;
		struct opt_kv *kv = &l->items[l->n];
		kv->key = strdup(e->key + plen);
		kv->value = strdup(e->value);
		kv->file = e->file;
		kv->line = e->line;
		l->n++;
		if (!kv->key || !kv->value)
			return LG_ENOMEM;
	}
	return 0;
}

/* Reads the NAME_file secret e names into *out (malloc'ed). */
static int read_secret(const struct conf_entry *e, char **out, struct conf_errs *errs)
{
	char *path = conf_path_relative(e->file, e->value);
	if (!path)
		return LG_ENOMEM;
	struct buf b;
	buf_init(&b, CONF_MAX_SECRET);
	int rc = conf_read_file(path, &b);
	if (rc == LG_EIO)
		conf_err(errs, e->file, e->line, "key '%s': cannot read '%s': %s", e->key, path,
		         strerror(errno));
	else if (rc == LG_ETOOBIG)
		conf_err(errs, e->file, e->line, "key '%s': '%s' is larger than %d bytes", e->key,
		         path, CONF_MAX_SECRET);
	else if (!rc && memchr(b.data, '\0', b.len)) {
		conf_err(errs, e->file, e->line, "key '%s': '%s' contains a NUL byte", e->key,
		         path);
		rc = LG_EINVAL;
	}
	free(path);
	if (rc) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		buf_free(&b);
		return rc == LG_ENOMEM ? rc : LG_ECONFIG;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	*out = buf_detach(&b, NULL);
	return *out ? 0 : LG_ENOMEM;
}

/* A secret in a file that other users may read (the configuration itself,
 * or a NAME_file) draws a warning; the agent still starts. */
static void warn_if_exposed(const struct conf_entry *e, bool file_form, struct conf_errs *errs)
{
	char *path = file_form ? conf_path_relative(e->file, e->value) : NULL;
	const char *what = file_form ? path : e->file;
	struct stat st;
	if (what && stat(what, &st) == 0 && (st.st_mode & S_IROTH)) {
		if (file_form)
			conf_warn(errs, e->file, e->line,
			          "key '%s': '%s' is readable by other users (mode %04o); "
			          "chmod o-r it",
			          e->key, what, (unsigned)(st.st_mode & 07777));
		else
			conf_warn(
			    errs, e->file, e->line,
			    "key '%s': this file holds a secret and is readable by other users "
			    "(mode %04o); chmod o-r it, or move the secret to %s_file",
			    e->key, (unsigned)(st.st_mode & 07777), e->key);
	}
	free(path);
}

static void bad_value(struct conf_errs *errs, const struct conf_entry *e, const struct opt_def *o,
                      const char *v, int rc)
{
	bool secret = o->flags & OPT_SECRET;
	const char *more = strlen(v) > SHOW ? "..." : "";
	char what[96];
	if (secret)
		snprintf(what, sizeof(what), "(a secret, not shown)");
	else
		snprintf(what, sizeof(what), "'%.*s%s'", SHOW, v, more);
	if (o->type == OPT_ENUM) {
		conf_err(errs, e->file, e->line, "key '%s': invalid value %s (expected one of: %s)",
		         e->key, what, o->choices);
	} else if (rc == LG_ETOOBIG) {
		conf_err(errs, e->file, e->line, "key '%s': %s %s out of range", e->key,
		         opts_type_name(o->type), what);
	} else {
		const char *hint = o->type == OPT_BOOL
		                       ? " (expected true/false, yes/no, on/off, 1/0)"
		                   : o->type == OPT_DURATION ? " (e.g. 500ms, 30s, 5m, 1h, 2d)"
		                   : o->type == OPT_SIZE     ? " (e.g. 512, 64K, 16M, 1G)"
		                                             : "";
		conf_err(errs, e->file, e->line, "key '%s': invalid %s %s%s", e->key,
		         opts_type_name(o->type), what, hint);
	}
}

static void remember_table(const struct conf_section *sec, const struct opt_def *table)
{
	struct conf_tables *t = sec ? sec->tables : NULL;
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (t->t[i] == table)
			return;
	if (t->n < CONF_MAX_TABLES)
		t->t[t->n++] = table;
}

/* One non-kv row: returns 0 (errors, if any, are in errs) or LG_ENOMEM. */
static int apply_row(const struct opt_def *o, void *target, const struct conf_section *sec,
                     struct conf_errs *errs)
{
	struct conf_entry *e = find_key(sec, o, false), *ef = find_key(sec, o, true);
	if (e)
		e->used = true;
	if (ef)
		ef->used = true;
	if (e && ef) {
		const struct conf_entry *later = e->line > ef->line ? e : ef;
		const struct conf_entry *first = later == e ? ef : e;
		conf_err(errs, later->file, later->line,
		         "key '%s': '%s' is set too (at %s:%d); set only one", later->key,
		         first->key, first->file, first->line);
		return 0;
	}
	if (!e && !ef) {
		if (!(o->flags & OPT_REQUIRED))
			return 0;
		const char *alt = o->flags & OPT_SECRET ? "_file" : NULL;
		if (sec)
			conf_err(errs, sec->file, sec->line,
			         SEC_FMT ": missing required key '%s'%s%s%s%s", SEC_ARGS(sec),
			         o->name, alt ? " (or '" : "", alt ? o->name : "", alt ? alt : "",
			         alt ? "')" : "");
		else
			conf_err(errs, NULL, 0, "missing required key '%s'", o->name);
		return 0;
	}
	char *secret = NULL;
	const struct conf_entry *src = e ? e : ef;
	if (ef) {
		int rc = read_secret(ef, &secret, errs);
		if (rc)
			return rc == LG_ENOMEM ? rc : 0;
	}
	if (o->flags & OPT_SECRET)
		warn_if_exposed(src, ef != NULL, errs);
	const char *v = secret ? secret : e->value;
	int rc = set_value(o, target, v);
	if (rc && rc != LG_ENOMEM)
		bad_value(errs, src, o, v, rc);
	else if (!rc && (o->flags & OPT_REQUIRED) && o->type == OPT_STRING &&
	         !*(char **)field(target, o))
		conf_err(errs, src->file, src->line, "key '%s': must not be empty", src->key);
	wipe_free(secret, true);
	return rc == LG_ENOMEM ? rc : 0;
}

int opts_apply(const struct opt_def *table, void *target, const struct conf_section *sec,
               struct conf_errs *errs)
{
	int before = errs->count;
	const struct opt_def *bad = NULL;
	int rc = fill_defaults(table, target, &bad);
	if (rc == LG_EINVAL) {
		conf_err(errs, NULL, 0, "option table: malformed default '%s' for '%s'", bad->def,
		         bad->name);
		return LG_ECONFIG;
	}
	if (rc)
		return rc;
	remember_table(sec, table);
	for (const struct opt_def *o = table; o->name && !rc; o++)
		rc = o->type == OPT_KV ? apply_kv(table, o, target, sec, errs)
		                       : apply_row(o, target, sec, errs);
	if (rc)
		return rc;
	return errs->count > before ? LG_ECONFIG : 0;
}

struct opt_origin opts_origin(const struct conf_section *sec, const char *name)
{
	struct opt_origin r = {NULL, 0};
	if (!sec)
		return r;
	r.file = sec->file;
	r.line = sec->line;
	size_t n = strlen(name);
	for (size_t i = 0; i < sec->n; i++) {
		const struct conf_entry *e = &sec->entries[i];
		if (strncmp(e->key, name, n) == 0 &&
		    (!e->key[n] || strcmp(e->key + n, "_file") == 0)) {
			r.file = e->file;
			r.line = e->line;
			break;
		}
	}
	return r;
}

/* ---- unknown keys ---- */

#define DIST_MAX 64

/* Optimal string alignment distance (a swap of neighbours counts 1). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la >= DIST_MAX || lb >= DIST_MAX)
		return SIZE_MAX;
	size_t d[DIST_MAX + 1][DIST_MAX + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

static void consider(const char *key, const char *cand, char *best, size_t *bestd)
{
	size_t d = distance(key, cand), n = strlen(cand);
	/* Two edits on a short name would suggest anything. */
	if (d <= 2 && d * 2 < n && d < *bestd) {
		memcpy(best, cand, n + 1);
		*bestd = d;
	}
}

void conf_check_unused(const struct conf_section *sec, struct conf_errs *errs)
{
	char best[DIST_MAX + 8], file_key[DIST_MAX + 8];
	for (size_t i = 0; i < sec->n; i++) {
		const struct conf_entry *e = &sec->entries[i];
		if (e->used)
			continue;
		size_t bestd = SIZE_MAX;
		for (size_t t = 0; sec->tables && t < sec->tables->n; t++) {
			for (const struct opt_def *o = sec->tables->t[t]; o->name; o++) {
				size_t n = strlen(o->name);
				if (o->type == OPT_KV || n >= DIST_MAX)
					continue;
				consider(e->key, o->name, best, &bestd);
				if (o->flags & OPT_SECRET) {
					memcpy(file_key, o->name, n);
					memcpy(file_key + n, "_file", 6);
					consider(e->key, file_key, best, &bestd);
				}
			}
		}
		if (bestd != SIZE_MAX)
			conf_err(errs, e->file, e->line,
			         SEC_FMT ": unknown key '%s' (did you mean '%s'?)", SEC_ARGS(sec),
			         e->key, best);
		else
			conf_err(errs, e->file, e->line, SEC_FMT ": unknown key '%s'",
			         SEC_ARGS(sec), e->key);
	}
}

/* ---- listings ---- */

static void format_duration(uint64_t ms, char *out, size_t size)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms && ms % units[i].ms == 0) {
			snprintf(out, size, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	snprintf(out, size, "%" PRIu64 "ms", ms);
}

static void format_size(uint64_t b, char *out, size_t size)
{
	static const char units[] = "GMK";
	for (int i = 0; i < 3; i++) {
		uint64_t m = (uint64_t)1 << (10 * (3 - i));
		if (b && b % m == 0) {
			snprintf(out, size, "%" PRIu64 "%c", b / m, units[i]);
			return;
		}
	}
	snprintf(out, size, "%" PRIu64, b);
}

/* Writes s so that conf_load() would read it back: '$' doubled, quoted when
 * blanks at either end or a '#', '"' or '\' would change its meaning. */
static void put_value(FILE *out, const char *s)
{
	size_t n = strlen(s);
	bool quote = !*s || is_blank(s[0]) || is_blank(s[n - 1]) || strpbrk(s, "#\"\\");
	if (quote)
		fputc('"', out);
	for (; *s; s++) {
		if (*s == '$')
			fputc('$', out);
		else if (quote && (*s == '"' || *s == '\\'))
			fputc('\\', out);
		fputc(*s, out);
	}
	if (quote)
		fputc('"', out);
}

static bool secret_kv_key(const char *key)
{
	static const char *const words[] = {"password", "secret", "token", "credential", "key"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]))
			return true;
	return false;
}

void opts_print_values(const struct opt_def *table, const void *target, FILE *out)
{
	char tmp[32];
	for (const struct opt_def *o = table; o->name; o++) {
		const void *f = cfield(target, o);
		bool secret = o->flags & OPT_SECRET;
		if (secret && o->type != OPT_KV) {
			bool unset = (o->type == OPT_STRING && !*(char *const *)f) ||
			             (o->type == OPT_LIST && !((const struct opt_list *)f)->n) ||
			             (o->type == OPT_ENUM && *(const int *)f < 0);
			if (!unset)
				fprintf(out, "%s = <redacted>\n", o->name);
			continue;
		}
		switch (o->type) {
		case OPT_STRING: {
			const char *s = *(char *const *)f;
			if (!s)
				continue;
			fprintf(out, "%s = ", o->name);
			put_value(out, s);
			break;
		}
		case OPT_INT:
			fprintf(out, "%s = %" PRId64, o->name, *(const int64_t *)f);
			break;
		case OPT_BOOL:
			fprintf(out, "%s = %s", o->name, *(const bool *)f ? "true" : "false");
			break;
		case OPT_SIZE:
		case OPT_DURATION:
			if (o->type == OPT_SIZE)
				format_size(*(const uint64_t *)f, tmp, sizeof(tmp));
			else
				format_duration(*(const uint64_t *)f, tmp, sizeof(tmp));
			fprintf(out, "%s = %s", o->name, tmp);
			break;
		case OPT_LIST: {
			const struct opt_list *l = f;
			if (!l->n)
				continue;
			fprintf(out, "%s = ", o->name);
			for (size_t i = 0; i < l->n; i++) {
				fputs(i ? ", " : "", out);
				put_value(out, l->items[i]);
			}
			break;
		}
		case OPT_ENUM: {
			int idx = *(const int *)f;
			if (idx < 0)
				continue;
			const char *c = o->choices;
			for (int i = 0; i < idx && c; i++) {
				c = strchr(c, '|');
				c = c ? c + 1 : NULL;
			}
			if (!c)
				continue;
			fprintf(out, "%s = %.*s", o->name, (int)strcspn(c, "|"), c);
			break;
		}
		case OPT_KV: {
			const struct opt_kvlist *l = f;
			for (size_t i = 0; i < l->n; i++) {
				fprintf(out, "%s%s = ", o->name, l->items[i].key);
				if (secret || secret_kv_key(l->items[i].key))
					fputs("<redacted>", out);
				else
					put_value(out, l->items[i].value);
				fputc('\n', out);
			}
			continue;
		}
		}
		fputc('\n', out);
	}
}

static const char *flags_text(unsigned flags)
{
	if ((flags & OPT_REQUIRED) && (flags & OPT_SECRET))
		return "required,secret";
	return flags & OPT_REQUIRED ? "required" : flags & OPT_SECRET ? "secret" : "";
}

static int width(const char *s, int w)
{
	int n = (int)strlen(s);
	return n > w ? n : w;
}

void opts_print_help(const struct opt_def *table, FILE *out)
{
	int wn = (int)strlen("OPTION"), wt = (int)strlen("TYPE"), wd = (int)strlen("DEFAULT"),
	    wf = (int)strlen("FLAGS");
	for (const struct opt_def *o = table; o->name; o++) {
		int n = (int)strlen(o->name) + (o->type == OPT_KV ? 1 : 0);
		wn = n > wn ? n : wn;
		wt = width(opts_type_name(o->type), wt);
		wd = width(o->def ? o->def : "-", wd);
		wf = width(flags_text(o->flags), wf);
	}
	fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wn, "OPTION", wt, "TYPE", wd, "DEFAULT", wf,
	        "FLAGS", "DESCRIPTION");
	for (const struct opt_def *o = table; o->name; o++) {
		char name[256];
		snprintf(name, sizeof(name), "%s%s", o->name, o->type == OPT_KV ? "*" : "");
		fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s", wn, name, wt, opts_type_name(o->type),
		        wd, o->def && *o->def ? o->def : "-", wf, flags_text(o->flags),
		        o->desc ? o->desc : "");
		if (o->type == OPT_ENUM)
			fprintf(out, " (%s)", o->choices);
		if ((o->flags & OPT_SECRET) && o->type != OPT_KV)
			fprintf(out, " (or %s_file: read from a file)", o->name);
		fputc('\n', out);
	}
}

/* Markdown table cells: '|' would end the cell. */
static void put_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
}

void opts_print_markdown(const struct opt_def *table, FILE *out)
{
	fputs("| key | type | default | description |\n| --- | --- | --- | --- |\n", out);
	for (const struct opt_def *o = table; o->name; o++) {
		fprintf(out, "| `%s%s`", o->name, o->type == OPT_KV ? "*" : "");
		if ((o->flags & OPT_SECRET) && o->type != OPT_KV)
			fprintf(out, " or `%s_file` (secret)", o->name);
		else if (o->flags & OPT_SECRET)
			fputs(" (secret)", out);
		fputs(" | ", out);
		if (o->type == OPT_ENUM) {
			fputs("one of ", out);
			for (const char *c = o->choices; c;) {
				size_t n = strcspn(c, "|");
				fprintf(out, "%s`%.*s`", c == o->choices ? "" : ", ", (int)n, c);
				c = c[n] ? c + n + 1 : NULL;
			}
		} else {
			fputs(opts_type_name(o->type), out);
		}
		fputs(" | ", out);
		if (o->flags & OPT_REQUIRED)
			fputs("required", out);
		else if (o->def && *o->def) {
			fputc('`', out);
			put_cell(out, o->def);
			fputc('`', out);
		} else
			fputs("—", out);
		fputs(" | ", out);
		put_cell(out, o->desc);
		fputs(" |\n", out);
	}
}

/* conf.c: the error list, the value parsers and the INI loader (syntax,
 * ${ENV} expansion, includes). The option tables live in opts.c. */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "err.h"

#define CONF_ERRS_MAX_BYTES (1024 * 1024)
/* Values quoted in messages are cut here so that a 64 KiB line cannot crowd
 * out the other errors. */
#define SHOW 64

void conf_errs_init(struct conf_errs *e)
{
	buf_init(&e->text, CONF_ERRS_MAX_BYTES);
	e->count = 0;
	buf_init(&e->warnings, CONF_ERRS_MAX_BYTES);
	e->warn_count = 0;
}

void conf_errs_free(struct conf_errs *e)
{
	buf_free(&e->text);
	e->count = 0;
	buf_free(&e->warnings);
	e->warn_count = 0;
}

/* Appends one "FILE:LINE: PREFIXmessage\n" line to b, whole or not at all. */
static void put_message(struct buf *b, const char *file, int line, const char *prefix,
                        const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void put_message(struct buf *b, const char *file, int line, const char *prefix,
                        const char *fmt, va_list ap)
{
	size_t keep = b->len;
	int rc = 0;
	if (file && line > 0)
		rc = buf_printf(b, "%s:%d: ", file, line);
	else if (file)
		rc = buf_printf(b, "%s: ", file);
	if (!rc)
		rc = buf_puts(b, prefix);
	if (!rc)
		rc = buf_vprintf(b, fmt, ap);
	if (!rc)
		rc = buf_putc(b, '\n');
	if (rc && b->data) {
		b->len = keep;
		b->data[keep] = '\0';
	}
}

void conf_err(struct conf_errs *e, const char *file, int line, const char *fmt, ...)
{
	e->count++;
	if (e->count > CONF_MAX_ERRS) {
		if (e->count == CONF_MAX_ERRS + 1)
			(void)buf_printf(&e->text, "too many errors; only the first %d are shown\n",
			                 CONF_MAX_ERRS);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	put_message(&e->text, file, line, "", fmt, ap);
	va_end(ap);
}

void conf_warn(struct conf_errs *e, const char *file, int line, const char *fmt, ...)
{
	if (++e->warn_count > CONF_MAX_ERRS)
		return;
	va_list ap;
	va_start(ap, fmt);
	put_message(&e->warnings, file, line, "warning: ", fmt, ap);
	va_end(ap);
}

void conf_errs_print(const struct conf_errs *e, FILE *out)
{
	if (e->text.len)
		fwrite(e->text.data, 1, e->text.len, out);
	else if (e->count)
		fprintf(out, "%d configuration error(s); their messages were lost for lack of memory\n",
		        e->count);
}

void conf_warnings_print(const struct conf_errs *e, FILE *out)
{
	if (e->warnings.len)
		fwrite(e->warnings.data, 1, e->warnings.len, out);
}

/* ---- values ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* digits[.digits] or .digits; the fraction keeps at most 9 digits (the rest
 * cannot matter after truncation to ms or bytes). */
static int parse_decimal(const char **sp, uint64_t *ip, uint64_t *fnum, uint64_t *fden)
{
	const char *s = *sp;
	uint64_t v = 0, num = 0, den = 1;
	bool digits = false;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return LG_ETOOBIG;
		v = v * 10 + d;
		digits = true;
	}
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return LG_EINVAL;
		for (; is_digit(*s); s++) {
			if (den < 1000000000) {
				num = num * 10 + (uint64_t)(*s - '0');
				den *= 10;
			}
		}
		digits = true;
	}
	if (!digits)
		return LG_EINVAL;
	*sp = s;
	*ip = v;
	*fnum = num;
	*fden = den;
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* mult is at most 2^30 and fnum below 10^9, so fnum * mult cannot wrap. */
static int parse_scaled(const char *s, const struct unit *units, bool frac_needs_unit,
                        uint64_t *out)
{
	uint64_t ip, fnum, fden;
	if (!s)
		return LG_EINVAL;
	int rc = parse_decimal(&s, &ip, &fnum, &fden);
	if (rc)
		return rc;
	const struct unit *u = units;
	while (u->name && strcasecmp(u->name, s) != 0)
		u++;
	if (!u->name)
		return LG_EINVAL;
	if (fden > 1 && u->mult == 1 && frac_needs_unit)
		return LG_EINVAL;
	if (ip > UINT64_MAX / u->mult)
		return LG_ETOOBIG;
	uint64_t v = ip * u->mult, f = fnum * u->mult / fden;
	if (v > UINT64_MAX - f)
		return LG_ETOOBIG;
	*out = v + f;
	return 0;
}

int conf_parse_duration(const char *s, uint64_t *ms)
{
	static const struct unit units[] = {
	    {"", 1000},     {"ms", 1},       {"s", 1000}, {"m", 60000},
	    {"h", 3600000}, {"d", 86400000}, {NULL, 0},
	};
	return parse_scaled(s, units, false, ms);
}

int conf_parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
	    {"", 1},           {"b", 1},         {"k", 1u << 10},   {"kb", 1u << 10},
	    {"kib", 1u << 10}, {"m", 1u << 20},  {"mb", 1u << 20},  {"mib", 1u << 20},
	    {"g", 1u << 30},   {"gb", 1u << 30}, {"gib", 1u << 30}, {NULL, 0},
	};
	return parse_scaled(s, units, true, bytes);
}

int conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	if (!s)
		return LG_EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return LG_EINVAL;
}

/* ---- files ---- */

int conf_read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return LG_EIO;
	int rc = 0;
	for (;;) {
		size_t room = out->max - out->len;
		char probe;
		ssize_t n;
		if (room == 0) {
			/* Full: one more byte means the file is too big. */
			n = read(fd, &probe, 1);
			if (n > 0)
				rc = LG_ETOOBIG;
		} else {
			size_t chunk = room < 65536 ? room : 65536;
			rc = buf_reserve(out, chunk);
			if (rc)
				break;
			n = read(fd, out->data + out->len, chunk);
			if (n > 0) {
				out->len += (size_t)n;
				out->data[out->len] = '\0';
				continue;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = LG_EIO;
		}
		break;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	if (!rc && !out->data)
		rc = buf_append(out, "", 0);
	return rc;
}

char *conf_path_relative(const char *base_file, const char *path)
{
	const char *slash = base_file ? strrchr(base_file, '/') : NULL;
	if (path[0] == '/' || !slash)
		return strdup(path);
	size_t dl = (size_t)(slash - base_file) + 1, pl = strlen(path);
	char *p = malloc(dl + pl + 1);
	if (!p)
		return NULL;
	memcpy(p, base_file, dl);
	memcpy(p + dl, path, pl + 1);
	return p;
}

/* ---- the loader ---- */

struct seen {
	char *real;   /* realpath(), to recognise a file however it is named */
	bool loading; /* on the include stack: seeing it again is a loop */
};

struct loader {
	struct conf *c;
	struct conf_errs *errs;
	struct seen *seen;
	size_t nseen;
	size_t nentries;
	long agent; /* index of [agent], or -1 */
	bool stop;  /* a global limit was hit: further input would only repeat it */
	int rc;     /* LG_ENOMEM, once */
};

#define CUR_NONE (-1)
#define CUR_SKIP (-2) /* inside a section whose header was bad */

struct parse {
	struct loader *L;
	const char *file;
	int line;
	long cur;
	int agent_line; /* where this file opened [agent]; 0 if it did not */
};

/* Arrays grow at powers of two from 4, so their capacity follows from n. */
static int grow(void *arrp, size_t n, size_t size)
{
	void **arr = arrp;
	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return 0;
	size_t cap = n ? n * 2 : 4;
	void *p = realloc(*arr, cap * size);
	if (!p)
		return LG_ENOMEM;
	*arr = p;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '_' || c == '.';
}

static bool is_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_name_char(*s))
			return false;
	return true;
}

static char *trim(char *s)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void nomem(struct loader *L)
{
	L->rc = LG_ENOMEM;
	L->stop = true;
}

static struct conf_section *new_section(struct parse *p, char *type, char *name)
{
	struct conf *c = p->L->c;
	struct conf_section *sec;
	if (grow(&c->sections, c->n, sizeof(*c->sections)))
		goto fail;
	sec = &c->sections[c->n];
	memset(sec, 0, sizeof(*sec));
	sec->type = strdup(type);
	sec->name = name ? strdup(name) : NULL;
	sec->tables = calloc(1, sizeof(*sec->tables));
	sec->file = p->file;
	sec->line = p->line;
	if (!sec->type || (name && !sec->name) || !sec->tables) {
		free(sec->type);
		free(sec->name);
		free(sec->tables);
		goto fail;
	}
	p->cur = (long)c->n++;
	return sec;
fail:
	nomem(p->L);
	return NULL;
}

static void parse_header(struct parse *p, char *s)
{
	struct loader *L = p->L;
	p->cur = CUR_SKIP;
	char *end = strchr(s, ']');
	if (!end) {
		conf_err(L->errs, p->file, p->line, "section header without ']'");
		return;
	}
	char *rest = end + 1;
	while (is_space(*rest))
		rest++;
	if (*rest && *rest != '#' && *rest != ';') {
		conf_err(L->errs, p->file, p->line, "unexpected text after ']'");
		return;
	}
	*end = '\0';
	char *type = trim(s + 1), *name = type;
	while (*name && !is_space(*name))
		name++;
	if (*name)
		*name++ = '\0';
	name = trim(name);
	for (char *t = type; *t; t++)
		if (*t >= 'A' && *t <= 'Z')
			*t = (char)(*t - 'A' + 'a');
	bool agent = strcmp(type, "agent") == 0;
	if (!agent && strcmp(type, "project") != 0 && strcmp(type, "sink") != 0) {
		conf_err(L->errs, p->file, p->line,
		         "unknown section type '%.*s' (expected agent, project or sink)", SHOW,
		         type);
		return;
	}
	if (agent && *name) {
		conf_err(L->errs, p->file, p->line, "[agent] takes no name");
		return;
	}
	if (!agent && !*name) {
		conf_err(L->errs, p->file, p->line, "[%s] needs a name: [%s NAME]", type, type);
		return;
	}
	if (!agent && !is_name(name)) {
		conf_err(L->errs, p->file, p->line,
		         "invalid %s name '%.*s' (letters, digits, '-', '_' and '.' only)", type,
		         SHOW, name);
		return;
	}
	if (agent) {
		if (p->agent_line) {
			conf_err(L->errs, p->file, p->line,
			         "duplicate section [agent] (first at %s:%d)", p->file,
			         p->agent_line);
			return;
		}
		p->agent_line = p->line;
		/* An included file's [agent] continues the main one. */
		if (L->agent >= 0) {
			p->cur = L->agent;
			return;
		}
	} else {
		for (size_t i = 0; i < L->c->n; i++) {
			const struct conf_section *o = &L->c->sections[i];
			if (o->name && strcmp(o->name, name) == 0 && strcmp(o->type, type) == 0) {
				conf_err(L->errs, p->file, p->line,
				         "duplicate section [%s %s] (first at %s:%d)", type, name,
				         o->file, o->line);
				return;
			}
		}
	}
	if (L->c->n >= CONF_MAX_SECTIONS) {
		conf_err(L->errs, p->file, p->line, "more than %d sections", CONF_MAX_SECTIONS);
		L->stop = true;
		return;
	}
	if (new_section(p, type, agent ? NULL : name) && agent)
		L->agent = p->cur;
}

/* The value after '=': unquoted (inline comment and blanks cut) or quoted
 * (escapes resolved), into raw. */
static int unquote(struct parse *p, char *s, struct buf *raw)
{
	while (is_space(*s))
		s++;
	if (*s != '"') {
		size_t n = 0;
		while (s[n] && !(s[n] == '#' && (n == 0 || is_space(s[n - 1]))))
			n++;
		while (n && is_space(s[n - 1]))
			n--;
		return buf_append(raw, s, n);
	}
	for (s++;; s++) {
		if (!*s) {
			conf_err(p->L->errs, p->file, p->line, "unterminated quoted value");
			return LG_EPARSE;
		}
		if (*s == '"')
			break;
		if (*s == '\\') {
			s++;
			if (*s != '"' && *s != '\\') {
				conf_err(p->L->errs, p->file, p->line,
				         "invalid escape in quoted value (only \\\" and \\\\)");
				return LG_EPARSE;
			}
		}
		int rc = buf_putc(raw, *s);
		if (rc)
			return rc;
	}
	s++;
	while (is_space(*s))
		s++;
	if (*s && *s != '#') {
		conf_err(p->L->errs, p->file, p->line, "unexpected text after the closing quote");
		return LG_EPARSE;
	}
	return 0;
}

static int expand_var(struct parse *p, const char **sp, struct buf *out)
{
	const char *name = *sp + 2, *q = name;
	while (is_name_char(*q) && *q != '-' && *q != '.')
		q++;
	size_t nlen = (size_t)(q - name);
	const char *def = NULL, *close;
	if (q[0] == ':' && q[1] == '-') {
		def = q + 2;
		close = strchr(def, '}');
	} else {
		close = *q == '}' ? q : strchr(q, '}');
	}
	if (!close) {
		conf_err(p->L->errs, p->file, p->line, "unterminated '${' in value");
		return LG_EPARSE;
	}
	if (nlen == 0 || is_digit(name[0]) || (!def && q != close)) {
		/* The text may be part of a secret: name the problem, not the text. */
		conf_err(p->L->errs, p->file, p->line,
		         "invalid variable name in '${...}' (letters, digits and _, not starting "
		         "with a digit)");
		return LG_EPARSE;
	}
	char *var = strndup(name, nlen);
	if (!var)
		return LG_ENOMEM;
	const char *v = getenv(var);
	int rc = 0;
	if (def && (!v || !*v))
		rc = buf_append(out, def, (size_t)(close - def));
	else if (v)
		rc = buf_puts(out, v);
	else {
		conf_err(p->L->errs, p->file, p->line, "environment variable '%s' is not set", var);
		rc = LG_EPARSE;
	}
	free(var);
	*sp = close + 1;
	return rc;
}

static int expand(struct parse *p, const char *s, struct buf *out)
{
	int rc = 0;
	while (*s && !rc) {
		if (s[0] == '$' && s[1] == '{') {
			rc = expand_var(p, &s, out);
			continue;
		}
		rc = buf_putc(out, *s);
		s += s[0] == '$' && s[1] == '$' ? 2 : 1;
	}
	return rc;
}

static struct conf_entry *find_dup(const struct conf_section *sec, const char *key,
                                   const char *file)
{
	for (size_t i = 0; i < sec->n; i++) {
		const struct conf_entry *e = &sec->entries[i];
		if (strcmp(e->key, key) != 0)
			continue;
		/* Every file may have its own include list. */
		if (strcmp(key, "include") == 0 && !sec->name && e->file != file)
			continue;
		return &sec->entries[i];
	}
	return NULL;
}

static void parse_entry(struct parse *p, char *s)
{
	struct loader *L = p->L;
	char *eq = strchr(s, '=');
	if (!eq) {
		conf_err(L->errs, p->file, p->line, "expected 'key = value' or '[section]'");
		return;
	}
	*eq = '\0';
	char *key = trim(s);
	if (!*key) {
		conf_err(L->errs, p->file, p->line, "missing key before '='");
		return;
	}
	if (!is_name(key)) {
		conf_err(L->errs, p->file, p->line,
		         "invalid key '%.*s' (letters, digits, '-', '_' and '.' only)", SHOW, key);
		return;
	}
	if (p->cur == CUR_NONE) {
		conf_err(L->errs, p->file, p->line, "key '%.*s' outside any section", SHOW, key);
		return;
	}
	if (p->cur == CUR_SKIP)
		return;
	struct buf raw, val;
	buf_init(&raw, CONF_MAX_LINE);
	buf_init(&val, CONF_MAX_LINE);
	int rc = unquote(p, eq + 1, &raw);
	if (!rc)
		rc = buf_append(&raw, "", 0);
	if (!rc)
		rc = expand(p, raw.data, &val);
	if (!rc)
		rc = buf_append(&val, "", 0);
	if (rc == LG_ETOOBIG)
		conf_err(L->errs, p->file, p->line, "key '%s': value longer than %d bytes", key,
		         CONF_MAX_LINE);
	else if (rc == LG_ENOMEM)
		nomem(L);
	buf_free(&raw);
	if (rc) {
		buf_free(&val);
		return;
	}
	struct conf_section *sec = &L->c->sections[p->cur];
	const struct conf_entry *dup = find_dup(sec, key, p->file);
	if (dup) {
		conf_err(L->errs, p->file, p->line, "duplicate key '%s' (first at %s:%d)", key,
		         dup->file, dup->line);
	} else if (sec->n >= CONF_MAX_KEYS) {
		conf_err(L->errs, p->file, p->line, "more than %d keys in one section",
		         CONF_MAX_KEYS);
		p->cur = CUR_SKIP;
	} else if (L->nentries >= CONF_MAX_ENTRIES) {
		conf_err(L->errs, p->file, p->line, "more than %d keys in all", CONF_MAX_ENTRIES);
		L->stop = true;
	} else if (grow(&sec->entries, sec->n, sizeof(*sec->entries))) {
		nomem(L);
	} else {
		struct conf_entry *e = &sec->entries[sec->n];
		e->key = strdup(key);
		e->value = buf_detach(&val, NULL);
		e->file = p->file;
		e->line = p->line;
		e->used = false;
		if (!e->key || !e->value) {
			free(e->key);
			free(e->value);
			nomem(L);
		} else {
			sec->n++;
			L->nentries++;
		}
	}
	buf_free(&val);
}

static void parse_text(struct loader *L, const char *file, const char *data, size_t len)
{
	struct parse p = {.L = L, .file = file, .line = 0, .cur = CUR_NONE, .agent_line = 0};
	char *line = malloc(CONF_MAX_LINE + 1);
	if (!line) {
		nomem(L);
		return;
	}
	size_t pos = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	while (pos < len && !L->stop) {
		p.line++;
		const char *s = data + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n && s[n - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE) {
			conf_err(L->errs, file, p.line, "line longer than %d bytes", CONF_MAX_LINE);
			continue;
		}
		if (memchr(s, '\0', n)) {
			conf_err(L->errs, file, p.line, "NUL byte in line");
			continue;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		char *t = line;
		while (is_space(*t))
			t++;
		if (!*t || *t == '#' || *t == ';')
			continue;
		if (*t == '[')
			parse_header(&p, t);
		else
			parse_entry(&p, t);
	}
	free(line);
}

static void load_file(struct loader *L, const char *path, const char *from, int from_line,
                      int depth);

/* glob(3) gives its error callback no context pointer. */
static _Thread_local int glob_errno;

/* A directory that is missing simply matches nothing. */
static int glob_error(const char *path, int err)
{
	(void)path;
	glob_errno = err;
	return err != ENOENT && err != ENOTDIR;
}

static void include_one(struct loader *L, const char *file, int line, const char *pat, int depth)
{
	if (depth > CONF_MAX_DEPTH) {
		conf_err(L->errs, file, line, "includes nested more than %d deep", CONF_MAX_DEPTH);
		return;
	}
	char *full = conf_path_relative(file, pat);
	if (!full) {
		nomem(L);
		return;
	}
	if (!strpbrk(pat, "*?[")) {
		load_file(L, full, file, line, depth);
		free(full);
		return;
	}
	glob_t g;
	int rc = glob(full, 0, glob_error, &g);
	if (rc == GLOB_NOSPACE)
		nomem(L);
	else if (rc == GLOB_ABORTED)
		conf_err(L->errs, file, line, "include '%s': %s", full, strerror(glob_errno));
	else if (rc == 0)
		for (size_t i = 0; i < g.gl_pathc && !L->stop; i++)
			load_file(L, g.gl_pathv[i], file, line, depth);
	if (rc != GLOB_NOMATCH)
		globfree(&g);
	free(full);
}

/* The include entries of [agent] that this file wrote, in order. Sections
 * and entries may move while the included files load, hence the indices
 * and the copy. */
static void load_includes(struct loader *L, const char *file, int depth)
{
	for (size_t i = 0; L->agent >= 0 && i < L->c->sections[L->agent].n && !L->stop; i++) {
		struct conf_entry *e = &L->c->sections[L->agent].entries[i];
		if (e->file != file || strcmp(e->key, "include") != 0)
			continue;
		e->used = true;
		int line = e->line;
		char *list = strdup(e->value), *save = NULL;
		if (!list) {
			nomem(L);
			return;
		}
		for (char *tok = strtok_r(list, ",", &save); tok && !L->stop;
		     tok = strtok_r(NULL, ",", &save)) {
			char *pat = trim(tok);
			if (*pat)
				include_one(L, file, line, pat, depth + 1);
		}
		free(list);
	}
}

static void load_file(struct loader *L, const char *path, const char *from, int from_line,
                      int depth)
{
	/* Messages about an included file point at the include line. */
	const char *ef = from ? from : path;
	int el = from ? from_line : 0;
	const char *what = from ? "include: " : "";
	char *real = realpath(path, NULL);
	if (!real) {
		conf_err(L->errs, ef, el, "%scannot read '%s': %s", what, path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < L->nseen; i++) {
		if (strcmp(L->seen[i].real, real) == 0) {
			conf_err(L->errs, ef, el, "%s'%s' %s", what, path,
			         L->seen[i].loading ? "includes itself (include loop)"
			                            : "is included twice");
			free(real);
			return;
		}
	}
	if (L->c->nfiles >= CONF_MAX_FILES) {
		conf_err(L->errs, ef, el, "%smore than %d files", what, CONF_MAX_FILES);
		free(real);
		L->stop = true;
		return;
	}
	struct buf data;
	buf_init(&data, CONF_MAX_FILE);
	int rc = conf_read_file(path, &data);
	if (rc == LG_ETOOBIG)
		conf_err(L->errs, ef, el, "%s'%s' is larger than %d bytes", what, path,
		         CONF_MAX_FILE);
	else if (rc == LG_EIO)
		conf_err(L->errs, ef, el, "%scannot read '%s': %s", what, path, strerror(errno));
	char *name = NULL;
	if (!rc &&
	    (grow(&L->seen, L->nseen, sizeof(*L->seen)) ||
	     grow(&L->c->files, L->c->nfiles, sizeof(*L->c->files)) || !(name = strdup(path))))
		rc = LG_ENOMEM;
	if (rc) {
		if (rc == LG_ENOMEM)
			nomem(L);
		free(real);
		buf_free(&data);
		return;
	}
	size_t me = L->nseen++;
	L->seen[me] = (struct seen){.real = real, .loading = true};
	L->c->files[L->c->nfiles++] = name;
	parse_text(L, name, data.data, data.len);
	buf_free(&data);
	load_includes(L, name, depth);
	L->seen[me].loading = false;
}

int conf_load(const char *path, struct conf *out, struct conf_errs *errs)
{
	memset(out, 0, sizeof(*out));
	struct loader L = {.c = out, .errs = errs, .agent = -1};
	int before = errs->count;
	load_file(&L, path, NULL, 0, 0);
	for (size_t i = 0; i < L.nseen; i++)
		free(L.seen[i].real);
	free(L.seen);
	if (L.rc || errs->count > before) {
		conf_free(out);
		return L.rc ? L.rc : LG_ECONFIG;
	}
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct conf_section *sec = &c->sections[i];
		for (size_t j = 0; j < sec->n; j++) {
			free(sec->entries[j].key);
			/* Any value may be a secret written inline or from ${ENV}. */
			wipe_free(sec->entries[j].value);
		}
		free(sec->entries);
		free(sec->type);
		free(sec->name);
		free(sec->tables);
	}
	free(c->sections);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

const struct conf_section *conf_find(const struct conf *c, const char *type, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct conf_section *s = &c->sections[i];
		if (strcmp(s->type, type) != 0)
			continue;
		if (name ? s->name && strcmp(s->name, name) == 0 : !s->name)
			return s;
	}
	return NULL;
}

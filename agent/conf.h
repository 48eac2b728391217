/* conf: the INI configuration file and the option tables that read it.
 *
 * conf_load() reads a file (and the files its [agent] `include` globs name,
 * relative to the including file) into sections of key = value entries, each
 * remembering its file and line, with ${ENV} (and ${ENV:-default}) expanded.
 * It does no interpretation beyond that.
 *
 * Syntax: `[agent]`, `[project NAME]`, `[sink NAME]` (the type is folded to
 * lower case; a NAME is letters, digits, '-', '_', '.'); `key = value` with
 * key and value trimmed; keys are letters, digits, '-', '_', '.', kept as
 * written and compared case-sensitively. A value may be double-quoted to keep
 * spaces or '#' (escapes \" and \\ only). '#' or ';' starts a full-line
 * comment; on an unquoted value '#' starts a comment at the value's start or
 * after whitespace ("a#b" stays). CRLF and a UTF-8 BOM are accepted.
 * Expansion runs once over the (unquoted) value: ${VAR}, ${VAR:-default}
 * (default taken literally, used when VAR is unset or empty), $$ for '$'; a
 * '$' before anything else is kept. An unset ${VAR} without default is an
 * error.
 *
 * Includes: `[agent] include = GLOB, GLOB…` is processed after the whole
 * including file; each glob is relative to that file's directory, its matches
 * are loaded in sorted order and their sections appended. A glob matching
 * nothing is fine, but a plain path (no * ? [) must exist. An included
 * file's [agent] section is merged into the main one (a key set twice is
 * still a duplicate; `include` itself may appear once per file), so nested
 * includes work. A file loaded twice (a loop or overlapping globs) and
 * nesting deeper than CONF_MAX_DEPTH are errors.
 *
 * An option table (struct opt_def[], ended by a row with name NULL) says,
 * one row per option, its name, type, default, flags and description; the
 * same table fills a C struct from a section (opts_apply), prints --help
 * (opts_print_help), writes the README reference (opts_print_markdown) and
 * prints a section back with secrets redacted. Every error is collected as
 * "FILE:LINE: message" in a conf_errs; nothing is printed by this module, and
 * no error ever shows the value of a secret.
 *
 * Lifetimes: entry, origin and opt_kv `file` pointers point into the struct
 * conf; keep it loaded while they are used. */
#ifndef SINCH_CONF_H
#define SINCH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/* Hard limits; going past one is an error with file:line, never a crash. */
#define CONF_MAX_LINE (64 * 1024)       /* bytes in one line, or a value after expansion */
#define CONF_MAX_FILE (4 * 1024 * 1024) /* bytes in one file */
#define CONF_MAX_FILES 256              /* files read through includes, in all */
#define CONF_MAX_DEPTH 8                /* include nesting */
#define CONF_MAX_SECTIONS 10000         /* in all files */
#define CONF_MAX_KEYS 1000              /* in one section */
#define CONF_MAX_ENTRIES 100000         /* in all sections */
#define CONF_MAX_SECRET (64 * 1024)     /* bytes in a NAME_file secret */
#define CONF_MAX_ERRS 100               /* messages kept; the count goes on */
#define CONF_MAX_TABLES 8               /* tables remembered per section */

/* ---- errors ---- */
struct conf_errs {
	struct buf text; /* one "FILE:LINE: message\n" per error */
	int count;       /* every error, even past CONF_MAX_ERRS */
	/* Warnings do not stop the agent: "FILE:LINE: warning: message\n". */
	struct buf warnings;
	int warn_count;
};
void conf_errs_init(struct conf_errs *e);
void conf_errs_free(struct conf_errs *e);
/* file NULL: no location; line 0: "FILE: message". */
void conf_err(struct conf_errs *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void conf_warn(struct conf_errs *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes the errors to out; when messages could not be kept (out of
 * memory), says how many there were. Nothing when there are none. */
void conf_errs_print(const struct conf_errs *e, FILE *out);
/* Writes the warnings to out, if any. */
void conf_warnings_print(const struct conf_errs *e, FILE *out);

/* ---- the file ---- */
struct conf_entry {
	char *key;
	char *value;      /* after ${ENV} expansion */
	const char *file; /* points into conf.files */
	int line;
	bool used; /* set by opts_apply when a table row took it */
};

struct opt_def;

/* The tables opts_apply() read a section with, so that conf_check_unused()
 * can suggest a near option name. */
struct conf_tables {
	const struct opt_def *t[CONF_MAX_TABLES];
	size_t n;
};

struct conf_section {
	char *type; /* "agent", "project", "sink" (lower case) */
	char *name; /* NULL for [agent] */
	const char *file;
	int line;
	struct conf_entry *entries;
	size_t n;
	struct conf_tables *tables; /* owned; may be NULL in hand-built sections */
};

struct conf {
	struct conf_section *sections;
	size_t n;
	char **files; /* every file read, in order; entries point here */
	size_t nfiles;
};

/* Returns 0, or LG_ECONFIG with the errors in errs (syntax errors, unknown
 * section types, duplicate sections or keys, unset ${VAR}, unreadable or
 * recursive includes, limits), or LG_ENOMEM. Parsing goes on after an error
 * so that one run reports them all; on failure *out is left empty (and
 * conf_free() on it is harmless). */
int conf_load(const char *path, struct conf *out, struct conf_errs *errs);
void conf_free(struct conf *c);
/* The section [type name] (name NULL for [agent]), or NULL. */
const struct conf_section *conf_find(const struct conf *c, const char *type, const char *name);
/* Reports every entry of sec that no table used as
 * "FILE:LINE: [sink out]: unknown key 'pth' (did you mean 'path'?)", the
 * suggestion taken from the tables opts_apply() read sec with. */
void conf_check_unused(const struct conf_section *sec, struct conf_errs *errs);
/* Reads a whole file into out (buf_init'ed by the caller: its max bounds the
 * file). LG_ETOOBIG when larger, LG_EIO with errno set when unreadable. */
int conf_read_file(const char *path, struct buf *out);
/* path resolved against the directory of base_file (an absolute path or a
 * base_file without '/' leaves it as is); malloc'ed, NULL when out of
 * memory. Includes and NAME_file secrets are resolved this way. */
char *conf_path_relative(const char *base_file, const char *path);

/* ---- values ----
 * Each returns 0, LG_EINVAL (malformed) or LG_ETOOBIG (out of range), and
 * leaves *out alone on error. Units and words are case-insensitive; no
 * whitespace or sign is accepted. */
/* "30s", "500ms", "5m", "1h", "2d" or plain seconds ("1.5" = 1500 ms);
 * fractions are allowed with every unit and truncated to whole ms. */
int conf_parse_duration(const char *s, uint64_t *ms);
/* "16M", "64K", "1G", "512" bytes; K/KB/KiB, M/MB/MiB, G/GB/GiB are all
 * binary (1024); "B" is bytes. A fraction needs a unit ("1.5M"). */
int conf_parse_size(const char *s, uint64_t *bytes);
/* true/false, yes/no, on/off, 1/0. */
int conf_parse_bool(const char *s, bool *out);

/* ---- option tables ---- */
enum opt_type {
	OPT_STRING,   /* char * (malloc'ed; NULL when unset without default; an
	               * empty value unsets, and is an error when required) */
	OPT_INT,      /* int64_t, decimal */
	OPT_BOOL,     /* bool */
	OPT_SIZE,     /* uint64_t bytes */
	OPT_DURATION, /* uint64_t milliseconds */
	OPT_LIST,     /* struct opt_list: comma-separated, items trimmed, empty
	               * items dropped ("env=prod, team=voice" is two items) */
	OPT_ENUM,     /* int: index into choices "a|b|c" (matched in any case);
	               * -1 when unset without default */
	OPT_KV,       /* struct opt_kvlist: every key starting with name (a prefix
	               * such as "kafka."), the prefix stripped */
};

#define OPT_REQUIRED 0x1u
/* A secret: never printed; the key NAME_file is accepted too and reads the
 * value from that file (path relative to the config file that names it; at
 * most CONF_MAX_SECRET bytes; trailing CR/LF removed). Setting both is an
 * error. On an OPT_KV row it only redacts the values. */
#define OPT_SECRET 0x2u

struct opt_list {
	char **items;
	size_t n;
};

struct opt_kv {
	char *key;
	char *value;
	const char *file;
	int line;
};

struct opt_kvlist {
	struct opt_kv *items;
	size_t n;
};

struct opt_def {
	const char *name;
	enum opt_type type;
	const char *def; /* default, in config syntax; NULL = none */
	unsigned flags;
	size_t offset;       /* offsetof() the field in the target struct */
	const char *choices; /* OPT_ENUM: "a|b|c" */
	const char *desc;
};

/* Where an option's value came from, for later error messages. */
struct opt_origin {
	const char *file;
	int line;
};

/* Fills target from sec: defaults first, then every entry the table names
 * (marking it used). Bad values, missing required options and unreadable
 * *_file secrets are reported in errs with file:line and key. Unknown keys
 * are not reported here (a section may be read by several tables): call
 * conf_check_unused() after the last table. sec may be NULL (defaults only).
 * target's previous contents are overwritten, not freed; whatever the result
 * it is left complete, for opts_free(). Returns 0, LG_ECONFIG or LG_ENOMEM. */
int opts_apply(const struct opt_def *table, void *target, const struct conf_section *sec,
               struct conf_errs *errs);
/* Fills target with the defaults only. Returns 0 or LG_ENOMEM; a malformed
 * default is a bug in the table: it asserts (LG_EINVAL under NDEBUG, and
 * opts_apply() then reports it). */
int opts_defaults(const struct opt_def *table, void *target);
/* Frees every string, list and kv list (wiping secrets) and zeroes them. */
void opts_free(const struct opt_def *table, void *target);
/* file:line of the entry that set option `name` in sec, or the section's. */
struct opt_origin opts_origin(const struct conf_section *sec, const char *name);

void opts_print_help(const struct opt_def *table, FILE *out);
void opts_print_markdown(const struct opt_def *table, FILE *out);
/* The same as a man page's .TP list (opts_roff.c). */
void opts_print_roff(const struct opt_def *table, FILE *out);
/* "string", "integer", "duration"... */
const char *opts_type_name(enum opt_type t);
/* Prints "key = value" for every set option, in config syntax; secrets (and
 * kv values whose key names a password, secret, token, credential or key) as
 * "<redacted>". */
void opts_print_values(const struct opt_def *table, const void *target, FILE *out);

#endif

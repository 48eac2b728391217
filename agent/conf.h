/* conf: the INI configuration file and the option tables that read it.
 *
 * conf_load() reads a file (and the files its [agent] `include` globs name,
 * relative to the including file) into sections of key = value entries, each
 * remembering its file and line, with ${ENV} (and ${ENV:-default}) expanded.
 * It does no interpretation beyond that.
 *
 * An option table (struct opt_def[], ended by a row with name NULL) says,
 * one row per option, its name, type, default, flags and description; the
 * same table fills a C struct from a section (opts_apply), prints --help
 * (opts_print_help), writes the README reference (opts_print_markdown) and
 * prints a section back with secrets redacted. Every error is collected as
 * "FILE:LINE: message" in a conf_errs; nothing is printed by this module. */
#ifndef SINCH_CONF_H
#define SINCH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/* ---- errors ---- */
struct conf_errs {
	struct buf text; /* one "FILE:LINE: message\n" per error */
	int count;
};
void conf_errs_init(struct conf_errs *e);
void conf_errs_free(struct conf_errs *e);
void conf_err(struct conf_errs *e, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- the file ---- */
struct conf_entry {
	char *key;
	char *value;      /* after ${ENV} expansion */
	const char *file; /* points into conf.files */
	int line;
	bool used;        /* set by opts_apply when a table row took it */
};

struct conf_section {
	char *type;       /* "agent", "project", "sink" (lower case) */
	char *name;       /* NULL for [agent] */
	const char *file;
	int line;
	struct conf_entry *entries;
	size_t n;
};

struct conf {
	struct conf_section *sections;
	size_t n;
	char **files; /* every file read, in order; entries point here */
	size_t nfiles;
};

/* Returns 0, or LG_ECONFIG with the errors in errs (syntax errors, unknown
 * section types, duplicate sections or keys, unset ${VAR}, unreadable or
 * recursive includes). */
int conf_load(const char *path, struct conf *out, struct conf_errs *errs);
void conf_free(struct conf *c);
/* The section [type name] (name NULL for [agent]), or NULL. */
const struct conf_section *conf_find(const struct conf *c, const char *type, const char *name);
/* Reports every entry of sec that no table used as "unknown key". */
void conf_check_unused(const struct conf_section *sec, struct conf_errs *errs);

/* ---- values ---- */
/* "30s", "500ms", "5m", "1h", "2d" or plain seconds ("1.5" = 1500 ms). */
int conf_parse_duration(const char *s, uint64_t *ms);
/* "16M", "64K", "1G", "512" bytes (K = 1024); "kb"/"KiB" accepted. */
int conf_parse_size(const char *s, uint64_t *bytes);
/* true/false, yes/no, on/off, 1/0. */
int conf_parse_bool(const char *s, bool *out);

/* ---- option tables ---- */
enum opt_type {
	OPT_STRING,   /* char * (malloc'ed; NULL when unset without default) */
	OPT_INT,      /* int64_t */
	OPT_BOOL,     /* bool */
	OPT_SIZE,     /* uint64_t bytes */
	OPT_DURATION, /* uint64_t milliseconds */
	OPT_LIST,     /* struct opt_list: comma-separated, items trimmed */
	OPT_ENUM,     /* int: index into choices "a|b|c" */
	OPT_KV,       /* struct opt_kvlist: every key starting with name (a prefix
		       * such as "kafka."), the prefix stripped */
};

#define OPT_REQUIRED 0x1u
/* A secret: never printed; the key NAME_file is accepted too and reads the
 * value from that file (trailing newline removed). */
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
	size_t offset;   /* offsetof() the field in the target struct */
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
 * conf_check_unused() after the last table. Returns 0 or LG_ECONFIG. */
int opts_apply(const struct opt_def *table, void *target, const struct conf_section *sec,
	       struct conf_errs *errs);
/* Fills target with the defaults only. */
int opts_defaults(const struct opt_def *table, void *target);
void opts_free(const struct opt_def *table, void *target);
/* file:line of the entry that set option `name` in sec, or the section's. */
struct opt_origin opts_origin(const struct conf_section *sec, const char *name);

void opts_print_help(const struct opt_def *table, FILE *out);
void opts_print_markdown(const struct opt_def *table, FILE *out);
/* Prints "key = value" for every set option; secrets as "<redacted>". */
void opts_print_values(const struct opt_def *table, const void *target, FILE *out);

#endif

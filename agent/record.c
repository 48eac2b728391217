#include "record.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct record *record_new(enum record_kind kind, char *id, char *json, size_t json_len)
{
	struct record *r = calloc(1, sizeof(*r));
	if (!r) {
		free(id);
		free(json);
		return NULL;
	}
	r->refs = 1;
	r->kind = kind;
	r->id = id;
	r->json = json;
	r->json_len = json_len;
	return r;
}

struct record *record_ref(struct record *r)
{
	r->refs++;
	return r;
}

void record_unref(struct record *r)
{
	if (!r || --r->refs > 0)
		return;
	free(r->id);
	free(r->json);
	free(r);
}

static const char *const kind_names[] = {"request", "status", "metrics", "cost"};
static const char *const level_names[] = {"debug", "info", "warning", "error"};

const char *record_kind_name(enum record_kind kind)
{
	return (unsigned)kind < RECORD_KIND_COUNT ? kind_names[kind] : "unknown";
}

const char *record_level_name(enum record_level level)
{
	return (unsigned)level <= RECORD_ERROR ? level_names[level] : "unknown";
}

static int match_name(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

int record_level_parse(const char *s, size_t len)
{
	static const struct {
		const char *name;
		int level;
	} alias[] = {
	    {"debug", RECORD_DEBUG},    {"trace", RECORD_DEBUG},      {"verbose", RECORD_DEBUG},
	    {"info", RECORD_INFO},      {"information", RECORD_INFO}, {"log", RECORD_INFO},
	    {"notice", RECORD_INFO},    {"warning", RECORD_WARNING},  {"warn", RECORD_WARNING},
	    {"error", RECORD_ERROR},    {"err", RECORD_ERROR},        {"fatal", RECORD_ERROR},
	    {"critical", RECORD_ERROR},
	};
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (match_name(s, len, alias[i].name))
			return alias[i].level;
	return -1;
}

int record_kind_parse(const char *s, size_t len)
{
	for (int i = 0; i < RECORD_KIND_COUNT; i++)
		if (match_name(s, len, kind_names[i]))
			return i;
	return -1;
}

uint64_t record_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

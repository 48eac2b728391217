#include "confdiff.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The contents may be a secret: wiped before the memory goes back. */
static void wipe_free(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

/* A file named by a *_file key is summed up to this size; past it only
 * its first bytes count (no secret or certificate is that large). */
#define FILE_MAX (16u << 20)

static int cmp_entry(const void *x, const void *y)
{
	const struct conf_entry *a = *(const struct conf_entry *const *)x;
	const struct conf_entry *b = *(const struct conf_entry *const *)y;
	return strcmp(a->key, b->key);
}

static bool is_file_key(const char *key)
{
	size_t n = strlen(key);
	return n > 5 && strcmp(key + n - 5, "_file") == 0;
}

static void add_str(EVP_MD_CTX *ctx, const char *s)
{
	EVP_DigestUpdate(ctx, s, strlen(s) + 1);
}

/* The file's contents, resolved as the option tables resolve it (relative
 * to the configuration file), else as given (relative to the working
 * directory); an unreadable file adds a marker, so that it becoming
 * readable is a change too. */
static void add_file(EVP_MD_CTX *ctx, const struct conf_entry *e)
{
	char *rel = conf_path_relative(e->file, e->value);
	const char *paths[] = {rel, e->value};
	for (size_t i = 0; i < 2; i++) {
		if (!paths[i])
			continue;
		struct buf b;
		buf_init(&b, FILE_MAX);
		int rc = conf_read_file(paths[i], &b);
		if (rc == 0 || rc == LG_ETOOBIG) {
			EVP_DigestUpdate(ctx, "\1", 1);
			if (b.len)
				EVP_DigestUpdate(ctx, b.data, b.len);
			wipe_free(&b);
			free(rel);
			return;
		}
		wipe_free(&b);
	}
	EVP_DigestUpdate(ctx, "\2", 1);
	free(rel);
}

static int digest(const struct conf_section *sec, uint64_t salt, unsigned char *md)
{
	const struct conf_entry **sorted = sec->n ? malloc(sec->n * sizeof(*sorted)) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if ((sec->n && !sorted) || !ctx) {
		free(sorted);
		EVP_MD_CTX_free(ctx);
		return LG_ENOMEM;
	}
	for (size_t i = 0; i < sec->n; i++)
		sorted[i] = &sec->entries[i];
	if (sec->n)
		qsort(sorted, sec->n, sizeof(*sorted), cmp_entry);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, &salt, sizeof(salt));
	for (size_t i = 0; i < sec->n; i++) {
		add_str(ctx, sorted[i]->key);
		add_str(ctx, sorted[i]->value);
		if (is_file_key(sorted[i]->key))
			add_file(ctx, sorted[i]);
	}
	unsigned int len = CONFDIFF_MD_LEN;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	free(sorted);
	return 0;
}

int confdiff_build(struct confdiff *d, const struct conf *c, uint64_t sink_salt)
{
	memset(d, 0, sizeof(*d));
	d->items = c->n ? calloc(c->n, sizeof(*d->items)) : NULL;
	if (c->n && !d->items)
		return LG_ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		const struct conf_section *sec = &c->sections[i];
		bool sink = strcmp(sec->type, "sink") == 0;
		if (!sec->name || (!sink && strcmp(sec->type, "project") != 0))
			continue;
		struct confdiff_entry *e = &d->items[d->n++];
		e->type = strdup(sec->type);
		e->name = strdup(sec->name);
		if (!e->type || !e->name || digest(sec, sink ? sink_salt : 0, e->md) != 0)
			return LG_ENOMEM;
	}
	return 0;
}

static const struct confdiff_entry *find(const struct confdiff *d, const char *type,
                                         const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->items[i].type, type) == 0 && strcmp(d->items[i].name, name) == 0)
			return &d->items[i];
	return NULL;
}

bool confdiff_changed(const struct confdiff *a, const struct confdiff *b, const char *type,
                      const char *name)
{
	const struct confdiff_entry *x = find(a, type, name), *y = find(b, type, name);
	return !x || !y || memcmp(x->md, y->md, CONFDIFF_MD_LEN) != 0;
}

void confdiff_free(struct confdiff *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].type);
		free(d->items[i].name);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

static const struct conf_entry *entry(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}

static bool is_live(const char *key, const char *const *live)
{
	for (; *live; live++)
		if (strcmp(*live, key) == 0)
			return true;
	return false;
}

static int check_key(const struct conf_section *a, const struct conf_section *b, const char *key,
                     const char *const *live, struct conf_errs *errs)
{
	if (is_live(key, live))
		return 0;
	const struct conf_entry *x = entry(a, key), *y = entry(b, key);
	if (x && y && strcmp(x->value, y->value) == 0)
		return 0;
	const struct conf_entry *at = y ? y : x;
	conf_err(errs, at->file, at->line,
	         "[agent]: %s cannot change on reload (it takes a restart of the agent)", key);
	return 1;
}

int confdiff_agent(const struct conf_section *a, const struct conf_section *b,
                   const char *const *live, struct conf_errs *errs)
{
	int n = 0;
	for (size_t i = 0; b && i < b->n; i++)
		n += check_key(a, b, b->entries[i].key, live, errs);
	/* Keys only the running configuration sets. */
	for (size_t i = 0; a && i < a->n; i++)
		if (!entry(b, a->entries[i].key))
			n += check_key(a, b, a->entries[i].key, live, errs);
	return n;
}

/* confdiff: what a reload compares between the running configuration and
 * the one just read.
 *
 * A [project NAME] or [sink NAME] section is summed up by a SHA-256 digest
 * of its entries (key and value after ${ENV} expansion, in key order, so
 * moving lines around changes nothing) and of the contents of every file a
 * `*_file` key names (secrets, CA bundles, client certificates and keys:
 * rewriting one in place counts as a change), plus a salt the caller gives
 * (the largest max_event_size, which every sink depends on). Equal digests:
 * the running object is kept as it is. */
#ifndef SINCH_CONFDIFF_H
#define SINCH_CONFDIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

#define CONFDIFF_MD_LEN 32

struct confdiff_entry {
	char *type;
	char *name;
	unsigned char md[CONFDIFF_MD_LEN];
};

struct confdiff {
	struct confdiff_entry *items;
	size_t n;
};

/* Digests every project and sink section of c (sinks salted with
 * sink_salt). 0 or LG_ENOMEM. */
int confdiff_build(struct confdiff *d, const struct conf *c, uint64_t sink_salt);
/* Whether [type name] is absent from either or differs between them. */
bool confdiff_changed(const struct confdiff *a, const struct confdiff *b, const char *type,
                      const char *name);
void confdiff_free(struct confdiff *d);

/* Reports, as "FILE:LINE: [agent]: KEY cannot change on reload ...", each
 * key of the [agent] sections a (running) and b (new; either may be NULL)
 * whose value differs, except the keys named in live (NULL-terminated).
 * Returns how many. */
int confdiff_agent(const struct conf_section *a, const struct conf_section *b,
                   const char *const *live, struct conf_errs *errs);

#endif

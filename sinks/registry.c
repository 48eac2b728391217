/* The sink types, by name. Adding a sink is adding its name to SINK_TYPES:
 * the file sinks/sink_NAME.c defines `const struct sink_type sink_NAME_type`. */
#include <stddef.h>
#include <string.h>

#include "sink.h"

#define SINK_TYPES(X) X(file) X(http) X(kafka) X(null) X(syslog)

#define SINK_DECLARE(n) extern const struct sink_type sink_##n##_type;
#define SINK_ENTRY(n) &sink_##n##_type,

SINK_TYPES(SINK_DECLARE)

static const struct sink_type *const types[] = {SINK_TYPES(SINK_ENTRY) NULL};

const struct sink_type *sink_type_find(const char *name)
{
	for (size_t i = 0; types[i]; i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}

const struct sink_type *const *sink_types(void)
{
	return types;
}

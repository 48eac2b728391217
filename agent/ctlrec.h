/* ctlrec: the records of the control plane, built from the API's answers:
 * kind "status" (a function's deployment status, at its first observation
 * and at each change), "metrics" (the metrics endpoint's summary and the
 * newest point of each series) and "cost" (a function's costs, or the
 * project's current bill). Pure: no I/O; the answers are read with the
 * agent's own JSON reader, so numbers keep their exact source text and
 * unknown fields are kept (under "extra"). The keys follow the request
 * record's order (README, "Record schema"): schema kind time project_id
 * function_id function_name id level, then the kind's own fields, labels,
 * agent. */
#ifndef SINCH_CTLREC_H
#define SINCH_CTLREC_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct ctlrec_ctx {
	const char *project_id;
	const char *function_id; /* NULL for the project's bill */
	const char *function_name;
	const char *labels_json; /* a JSON object's text, or NULL */
	const char *host;
	const char *version;
	int64_t now_ms; /* the record's time: when the agent observed it */
};

/* A status answer ({functionId,status,error,url,…}); previous is the
 * status seen before (NULL at the first observation). Level error for
 * Failed and Stopped, info otherwise. */
int ctlrec_status(const struct ctlrec_ctx *c, const char *answer, size_t len, const char *previous,
                  struct record **out);
/* A metrics answer ({functionName,timeRange,summary,…Series}). */
int ctlrec_metrics(const struct ctlrec_ctx *c, const char *answer, size_t len, struct record **out);
/* A costs answer (c->function_id set) or a billing answer (NULL). */
int ctlrec_cost(const struct ctlrec_ctx *c, const char *answer, size_t len, struct record **out);

/* The status and error of a status answer, unescaped into the buffers
 * ("" when absent or null). LG_EPARSE when it is not such an answer. */
int ctlrec_status_fields(const char *answer, size_t len, char *status, size_t status_cap,
                         char *error, size_t error_cap);

#endif

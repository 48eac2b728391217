/* sink: the interface every output implements (DESIGN.md, "The sink
 * interface"). A sink type is one struct registered in sinks/registry.c.
 *
 * Life: the router parses the sink's section with the type's option table
 * into s->conf, then calls open(); then submit() for each record, never more
 * than the sink's queue bounds allow (the router keeps the count); flush()
 * at shutdown; close() last. Memory is freed only when close's callback has
 * run, once libuv has let go of every handle.
 *
 * "Acknowledged" means the same in every sink: the record is durable where it
 * went (DESIGN.md's table). The sink reports each submitted record exactly
 * once through sink_ack(): 0 when durable, LG_EREJECTED (with a reason) when
 * it can never be delivered (the router dead-letters it). A sink that is down
 * keeps its records and retries; it never acks them as failed. */
#ifndef SINCH_SINK_H
#define SINCH_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf.h"
#include "err.h"
#include "record.h"

struct sink;
struct httpc;
typedef void (*sink_cb)(struct sink *s);

struct sink_type {
	const char *name;
	const char *desc;
	const struct opt_def *opts; /* this type's options; may be NULL */
	size_t conf_size;           /* size of the struct opts fills */
	/* Validates s->conf (errors as file:line through errs, LG_ECONFIG)
	 * and, unless s->check_only, sets up (no blocking connects). */
	int (*open)(struct sink *s, struct conf_errs *errs);
	/* Takes a reference to r (record_ref) and starts delivering it.
	 * Never blocks. Returns 0, or LG_ECLOSED while closing. */
	int (*submit)(struct sink *s, struct record *r);
	/* Delivers what is queued; calls done by deadline (ms, uv_now). */
	void (*flush)(struct sink *s, uint64_t deadline, sink_cb done);
	/* Releases everything; closed runs once all handles are closed. */
	void (*close)(struct sink *s, sink_cb closed);
	/* SIGHUP: reopen files and the like. May be NULL. */
	void (*reopen)(struct sink *s);
};

struct sink {
	const struct sink_type *type;
	char *name;
	char *who; /* "sink NAME", for log lines */
	uv_loop_t *loop;
	void *conf;       /* type->opts filled from the section */
	void *priv;       /* the implementation's own state */
	bool check_only;  /* --check-config: validate, touch nothing */
	const char *file; /* the section's file and line, for messages */
	int line;
	const struct conf_section *section; /* for opts_origin(); valid during open() */
	uint64_t max_event_size;            /* the largest event a stream accepts */
	uint64_t max_record_size;           /* the largest serialized record to expect */
	/* The bounds the router keeps the sink within (records and bytes
	 * submitted and not yet acknowledged), for sizing its own buffers. */
	uint64_t queue_max_records, queue_max_bytes;
	const char *state_dir;
	/* The agent's HTTP client (agent/httpc.h: the one curl multi handle on
	 * the loop that every transfer shares), for sinks that speak HTTP; NULL
	 * with check_only. */
	struct httpc *http;
	/* Set by the sink while its destination refuses it (a rejected
	 * credential, a wrong address): what readiness reports. */
	bool down;

	/* Set by the router. */
	void (*on_ack)(struct sink *s, struct record *r, int result, const char *reason);
	void *router_data;
};

static inline void sink_ack(struct sink *s, struct record *r, int result, const char *reason)
{
	s->on_ack(s, r, result, reason);
}

/* The registered types (sinks/registry.c). */
const struct sink_type *sink_type_find(const char *name);
const struct sink_type *const *sink_types(void);

#endif

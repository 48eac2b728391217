/* router: fans each record out to the sinks that select it, counts what
 * each sink holds (its bounded queue), and reports back when a record is
 * done: acknowledged by every sink that took it, or dead-lettered.
 *
 * Back-pressure: a sink holding queue_max_records records or queue_max_bytes
 * bytes is full; the router then refuses nothing (records already read are
 * always taken) but says so through router_accepting(), and the streams it
 * feeds stop reading. When a full sink drains below three quarters of its
 * bounds the router calls on_drain, and the streams read again if no other
 * full sink takes their records.
 *
 * The router owns the sinks: it reads their sections (the common options
 * below plus the type's own table), opens, flushes and closes them. */
#ifndef SINCH_ROUTER_H
#define SINCH_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf.h"
#include "record.h"
#include "sink.h"

/* The options every sink section has, whatever its type. */
struct sink_common {
	char *type;
	struct opt_list match; /* function name patterns (fnmatch); empty = all */
	int min_level;         /* enum record_level */
	struct opt_list kinds; /* record kinds taken; empty = all */
	int64_t queue_max_records;
	uint64_t queue_max_bytes;
	char *dead_letter_dir;
	uint64_t dead_letter_max_size;
};

extern const struct opt_def sink_common_opts[];

struct router_sink {
	struct sink sink;
	struct sink_common common;
	unsigned kind_mask;
	struct router *router;
	uint64_t held_records, held_bytes;
	bool full;
	bool closed;
	uint64_t submitted, delivered, dead_lettered, dead_letter_lost;
	char *dead_letter_path;
};

struct router {
	uv_loop_t *loop;
	struct router_sink **sinks;
	size_t nsinks;
	/* A record's last acknowledgement came in (r->pending reached 0). */
	void (*on_done)(struct router *rt, struct record *r);
	/* A sink that was full is not any more. */
	void (*on_drain)(struct router *rt);
	void *data;
	struct httpc *http; /* handed to every sink (struct sink's http) */
	unsigned full_sinks;
	unsigned pending_ops; /* flushes or closes under way */
	void (*ops_done)(struct router *rt);
};

void router_init(struct router *rt, uv_loop_t *loop);
/* Reads every [sink NAME] section of c into a sink (validating it; errors
 * in errs as file:line), opening it unless check_only. max_event_size is
 * the largest of the projects'; each sink learns it and the largest record
 * the normalizer makes from such an event (normalize.h: 3 times it plus
 * 1 MiB). */
int router_add_sinks(struct router *rt, const struct conf *c, const char *state_dir,
                     uint64_t max_event_size, bool check_only, struct conf_errs *errs);
/* Adds the one sink of section sec; type NULL: the registered type its
 * `type` key names (the commands pass their own, e.g. tail's printer). */
int router_add_sink(struct router *rt, const struct conf_section *sec, const struct sink_type *type,
                    const char *state_dir, uint64_t max_event_size, bool check_only,
                    struct conf_errs *errs);
/* Routes r (r->origin and r->seq set by the caller). r->pending is set to
 * the number of sinks that took it; when 0, on_done is not called and the
 * record is already done on return. */
void router_submit(struct router *rt, struct record *r);
/* Whether records from function `function_name` may be read now. */
bool router_accepting(const struct router *rt, const char *function_name);
void router_reopen(struct router *rt);
void router_flush(struct router *rt, uint64_t deadline, void (*done)(struct router *rt));
void router_close(struct router *rt, void (*done)(struct router *rt));
/* Frees what is left once router_close's callback ran (or when nothing was
 * ever opened). */
void router_free(struct router *rt);

#endif

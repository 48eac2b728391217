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
 * below plus the type's own table), opens, flushes and closes them. Each
 * sink has a slot (at most ROUTER_MAX_SINKS); a record remembers which slots
 * still owe it an acknowledgement (record.h: owed), and the router keeps
 * every record some slot owes, in arrival order, with a reference of its
 * own. That is what lets a reload replace a sink without losing what it
 * held (router_replace_sink, router_swap.c): what the old sink did not
 * acknowledge by the time it closed goes to its successor. */
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

#define ROUTER_MAX_SINKS 64

struct router_sink {
	struct sink sink;
	struct sink_common common;
	unsigned kind_mask;
	struct router *router;
	unsigned slot;
	uint64_t held_records, held_bytes;
	bool full;
	bool closed;
	/* A successor waiting for the sink it replaces to close: records for
	 * its slot are kept (in the router's list) and the streams feeding it
	 * pause. open_failed: its open failed; it waits for the next reload. */
	bool waiting, open_failed;
	bool retiring; /* replaced or removed: flushing, then closing */
	uint64_t submitted, delivered, dead_lettered, dead_letter_lost;
	char *dead_letter_path;
	char *file; /* the section's file name, for sink.file */
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
	unsigned waiting_sinks;
	unsigned pending_ops; /* flushes or closes under way */
	void (*ops_done)(struct router *rt);
	bool closing;
	/* Records some slot still owes, oldest first (record.h rt_prev/next). */
	struct record *head, *tail;
	uint64_t slots; /* bit i: slot i is in use */
	/* Sinks replaced or removed by router_replace_sink, not closed yet. */
	struct router_sink **retiring;
	size_t nretiring;
	/* A replacement finished (the old sink closed, its successor opened
	 * or its records released). */
	void (*on_swapped)(struct router *rt);
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
/* The sink named name, or NULL. */
struct router_sink *router_find_sink(const struct router *rt, const char *name);
/* Replaces rt->sinks[i] by the sink of section sec (parsed now, opened
 * once the old one has closed), or removes it when sec is NULL. The old
 * sink takes no more records; it is flushed until deadline (uv_now ms), then
 * closed. What it did not acknowledge by then goes, in arrival order, to its
 * successor, with the records routed to the slot meanwhile (the slot counts
 * as full until then, so the streams feeding it pause); records the
 * successor does not take, or every one when the sink is removed, are done
 * as far as this slot is concerned. rt->on_swapped runs when that is over
 * (from inside this call when the old sink flushes and closes at once, or
 * was never opened). Errors of sec go to errs. */
int router_replace_sink(struct router *rt, size_t i, const struct conf_section *sec,
                        const char *state_dir, uint64_t max_event_size, uint64_t deadline,
                        struct conf_errs *errs);
/* Replacements not finished yet. */
bool router_swapping(const struct router *rt);
void router_flush(struct router *rt, uint64_t deadline, void (*done)(struct router *rt));
void router_close(struct router *rt, void (*done)(struct router *rt));
/* Frees what is left once router_close's callback ran (or when nothing was
 * ever opened). */
void router_free(struct router *rt);

/* Between router.c and router_swap.c. */
int router_sink_new(struct router *rt, const struct conf_section *sec, const struct sink_type *type,
                    const char *state_dir, uint64_t max_event_size, bool check_only,
                    struct conf_errs *errs, struct router_sink **out);
int router_sink_open(struct router_sink *rs, struct conf_errs *errs);
void router_sink_free(struct router_sink *rs);
bool router_takes(const struct router_sink *rs, const struct record *r);
/* Counts r as held by rs and submits it. */
void router_hand(struct router_sink *rs, struct record *r);
/* Slot `bit` no longer owes r; r is done when no slot does. */
void router_settle(struct router *rt, struct record *r, uint64_t bit);

#endif

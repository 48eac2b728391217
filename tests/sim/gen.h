/*
 * gen_: the deterministic event generator and the retained history.
 *
 * An event is a pure function of (seed, function index, sequence number,
 * start time); start times come from one timeline PRNG per function. Events
 * become visible when their request finishes (endTime) on the simulated
 * clock. Finished events are kept in completion order until they fall out of
 * the replay horizon; the oracle keeps only ids and start times, capped.
 */
#ifndef SINCH_FN_SIM_GEN_H
#define SINCH_FN_SIM_GEN_H

#include "sim.h"

struct gen_event {
	int64_t start_ms;
	int64_t end_ms;
	uint32_t seq;
	uint16_t fn;
	uint8_t level;
	uint8_t sent; /* already sent on some stream (for the unique-sent counter) */
	int status;
	uint32_t exec_ms;
	double mem_mb;
	char id[40];
	char *json; /* the exact bytes the stream and /logs send */
	size_t json_len;
	char *search; /* url, bodies and console messages, for ?search= */
};

struct gen_oracle_entry {
	int64_t start_ms;
	char id[40];
};

struct gen_function {
	char id[24];
	char name[40];
	const char *runtime;
	int deleted;     /* removed through /_sim/functions: 404, no new events */
	char status[24]; /* what the list and the status endpoint say */
	char error[256]; /* the status endpoint's error text, "" = null */
	int64_t created_ms;
	uint64_t timeline;
	double next_offset_ms;
	int64_t next_start_ms;
	uint32_t next_seq;
	int tie_left;
	struct gen_event **pending;
	size_t npending, cappending;
	struct gen_event **done; /* completion order; [done_head, ndone) are live */
	size_t done_head, ndone, capdone;
	struct gen_oracle_entry *oracle; /* start order */
	size_t noracle, caporacle;
	uint64_t oracle_dropped;
	uint64_t started;
	uint64_t finished;
	uint64_t sent;
	uint64_t errors;   /* finished with status >= 400 */
	double gb_seconds; /* memory x duration of every finished request */
};

/* Functions live in one array allocated at start, so pointers to them stay
 * valid when more are added at run time. */
#define GEN_MAX_FUNCTIONS 1024

extern struct gen_function *gen_fns;
extern int gen_nfns;

int gen_init(void);
/* Adds a function whose requests start now; NULL when the array is full or
 * the name is taken by a live function. */
struct gen_function *gen_add(const char *name);
/* Deletes a function: it stops generating, and the API answers 404. */
void gen_remove(struct gen_function *f);
void gen_shutdown(void);
/* Frees the history once the loop has closed every handle. */
void gen_free(void);
/* A live function by id or name (deleted ones are not found). */
struct gen_function *gen_find(const char *id_or_name);
/* Any function by id or name, deleted or not (for the oracle). */
struct gen_function *gen_find_any(const char *id_or_name);

/* Renders an event again with invalid UTF-8 in a console message (malloc'd). */
char *gen_render_bad_utf8(const struct gen_event *ev, size_t *len);

/* The first retained finished event index; events before it are gone. */
int gen_retained(const struct gen_event *ev, int64_t now_ms);

#endif

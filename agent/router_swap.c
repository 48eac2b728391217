/* router_swap: replacing or removing a sink while the agent runs (a reload).
 *
 * The old sink is moved out of rt->sinks into rt->retiring, flushed until the
 * deadline and closed. Its successor (parsed at once, so that routing
 * already follows its match, min_level and kinds) takes its place and slot
 * but is opened only once the old sink has closed: two sinks never write the
 * same file or hold the same connection at once. Meanwhile the slot counts as
 * full, and records routed to it wait in the router's list. When the old sink
 * has closed, every record its slot still owes (the ones it never
 * acknowledged, then the ones that waited) goes to the successor in arrival
 * order; nothing is lost, and only records the old sink had sent without
 * being told so may arrive twice. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "router.h"

static void log_errors(const char *who, const struct conf_errs *errs)
{
	const char *p = errs->text.data, *end = p ? p + errs->text.len : NULL;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		log_error(who, "%.*s", (int)n, p);
		p += n + 1;
	}
}

static struct router_sink *successor(const struct router *rt, unsigned slot)
{
	for (size_t i = 0; i < rt->nsinks; i++)
		if (rt->sinks[i]->slot == slot)
			return rt->sinks[i];
	return NULL;
}

/* Hands the records the slot owes to its successor (or releases them). */
static void take_over(struct router *rt, unsigned slot)
{
	uint64_t bit = UINT64_C(1) << slot;
	struct router_sink *next = successor(rt, slot);
	if (next && next->waiting) {
		struct conf_errs errs;
		conf_errs_init(&errs);
		int rc = router_sink_open(next, &errs);
		log_errors(next->sink.who, &errs);
		conf_errs_free(&errs);
		if (rc != 0) {
			/* Its records keep waiting, and the streams feeding it stay
			 * paused: losing them would be worse. */
			next->open_failed = true;
			log_error(
			    next->sink.who,
			    "cannot open the new configuration of this sink; its records wait "
			    "until a reload fixes it");
			return;
		}
		next->waiting = false;
		rt->waiting_sinks--;
	}
	/* A snapshot with references: submitting may complete records (a sink
	 * refusing one at once), which unlinks them from the list. */
	size_t n = 0;
	for (struct record *r = rt->head; r; r = r->rt_next)
		n += (r->owed & bit) != 0;
	struct record **recs = n ? malloc(n * sizeof(*recs)) : NULL;
	if (n && !recs) {
		log_error(NULL, "out of memory while replacing a sink; its records are read again "
		                "at the next start");
		n = 0;
	}
	size_t k = 0;
	for (struct record *r = rt->head; r && k < n; r = r->rt_next)
		if (r->owed & bit)
			recs[k++] = record_ref(r);
	size_t handed = 0;
	for (size_t i = 0; i < k; i++) {
		struct record *r = recs[i];
		if (!(r->owed & bit)) {
			record_unref(r);
			continue;
		}
		if (next && router_takes(next, r)) {
			router_hand(next, r);
			handed++;
		} else {
			router_settle(rt, r, bit);
		}
		record_unref(r);
	}
	free(recs);
	if (next && handed)
		log_info(next->sink.who, "took over %zu record(s) not yet acknowledged", handed);
	if (!next)
		rt->slots &= ~bit;
	if (rt->on_drain)
		rt->on_drain(rt);
}

static void forget_retiring(struct router *rt, struct router_sink *rs)
{
	for (size_t i = 0; i < rt->nretiring; i++) {
		if (rt->retiring[i] != rs)
			continue;
		memmove(rt->retiring + i, rt->retiring + i + 1,
		        (rt->nretiring - i - 1) * sizeof(*rt->retiring));
		rt->nretiring--;
		return;
	}
}

static void retired(struct router *rt, struct router_sink *old)
{
	unsigned slot = old->slot;
	forget_retiring(rt, old);
	if (old->held_records)
		log_info(old->sink.who, "closed with %llu record(s) not acknowledged",
		         (unsigned long long)old->held_records);
	router_sink_free(old);
	if (rt->closing) {
		/* Shutting down: what the slot owes is read again at the next
		 * start. */
		if (--rt->pending_ops == 0 && rt->ops_done)
			rt->ops_done(rt);
		return;
	}
	take_over(rt, slot);
	if (rt->on_swapped)
		rt->on_swapped(rt);
}

static void on_retire_closed(struct sink *s)
{
	struct router_sink *old = s->router_data;
	retired(old->router, old);
}

static void on_retire_flushed(struct sink *s)
{
	s->type->close(s, on_retire_closed);
}

int router_replace_sink(struct router *rt, size_t i, const struct conf_section *sec,
                        const char *state_dir, uint64_t max_event_size, uint64_t deadline,
                        struct conf_errs *errs)
{
	struct router_sink *old = rt->sinks[i];
	struct router_sink **grown =
	    realloc(rt->retiring, (rt->nretiring + 1) * sizeof(*rt->retiring));
	if (!grown)
		return LG_ENOMEM;
	rt->retiring = grown;
	if (sec) {
		struct router_sink *next;
		int rc =
		    router_sink_new(rt, sec, NULL, state_dir, max_event_size, false, errs, &next);
		if (rc) {
			router_sink_free(next);
			return rc;
		}
		next->slot = old->slot;
		next->waiting = true;
		rt->waiting_sinks++;
		rt->sinks[i] = next;
	} else {
		memmove(rt->sinks + i, rt->sinks + i + 1,
		        (rt->nsinks - i - 1) * sizeof(*rt->sinks));
		rt->nsinks--;
	}
	rt->retiring[rt->nretiring++] = old;
	old->retiring = true;
	if (old->full) {
		old->full = false;
		rt->full_sinks--;
	}
	if (old->waiting) {
		rt->waiting_sinks--;
		old->waiting = false;
	}
	if (old->closed) {
		/* Never opened (its open failed): nothing to flush or close. */
		retired(rt, old);
		return 0;
	}
	old->closed = true;
	log_info(old->sink.who, "%s: flushing, then closing (%llu record(s) held)",
	         sec ? "configuration changed" : "removed from the configuration",
	         (unsigned long long)old->held_records);
	old->sink.type->flush(&old->sink, deadline, on_retire_flushed);
	return 0;
}

bool router_swapping(const struct router *rt)
{
	return rt->nretiring > 0;
}

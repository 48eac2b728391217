#include "ratelim.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* A request granted at t may reach the server a little later; the server's
 * window must not see it together with the grants of t + window. */
static uint64_t slack(uint64_t window_ms)
{
	uint64_t s = window_ms / 20;
	return s < 500 ? 500 : s;
}

int ratelim_init(struct ratelim *rl, uv_loop_t *loop, unsigned limit, uint64_t window_ms)
{
	memset(rl, 0, sizeof(*rl));
	rl->loop = loop;
	rl->limit = limit ? limit : 1;
	rl->window_ms = (window_ms ? window_ms : 1) + slack(window_ms);
	rl->ring = calloc(rl->limit, sizeof(*rl->ring));
	if (!rl->ring)
		return LG_ENOMEM;
	uv_timer_init(loop, &rl->timer);
	rl->timer.data = rl;
	rl->timer_open = true;
	return 0;
}

static void expire(struct ratelim *rl, uint64_t now)
{
	while (rl->n && rl->ring[rl->head] + rl->window_ms <= now) {
		rl->head = (rl->head + 1) % rl->limit;
		rl->n--;
	}
}

uint64_t ratelim_delay(const struct ratelim *rl)
{
	uint64_t now = uv_now(rl->loop);
	uint64_t at = now;
	if (rl->n == rl->limit && rl->ring[rl->head] + rl->window_ms > at)
		at = rl->ring[rl->head] + rl->window_ms;
	if (rl->blocked_until > at)
		at = rl->blocked_until;
	return at - now;
}

static bool grant(struct ratelim *rl)
{
	uint64_t now = uv_now(rl->loop);
	expire(rl, now);
	if (now < rl->blocked_until || rl->n == rl->limit)
		return false;
	rl->ring[(rl->head + rl->n) % rl->limit] = now;
	rl->n++;
	rl->stats.granted++;
	return true;
}

static void on_timer(uv_timer_t *t);

static void arm(struct ratelim *rl)
{
	if (rl->first)
		uv_timer_start(&rl->timer, on_timer, ratelim_delay(rl), 0);
	else
		uv_timer_stop(&rl->timer);
}

static void on_timer(uv_timer_t *t)
{
	struct ratelim *rl = t->data;
	while (rl->first && grant(rl)) {
		struct ratelim_wait *w = rl->first;
		rl->first = w->next;
		if (!rl->first)
			rl->last = NULL;
		w->next = NULL;
		w->queued = false;
		rl->stats.waited++;
		rl->stats.wait_ms += uv_now(rl->loop) - w->since;
		/* The callback may take or cancel again; the queue is consistent. */
		w->cb(w);
	}
	arm(rl);
}

bool ratelim_take(struct ratelim *rl, struct ratelim_wait *w)
{
	if (w->queued)
		return false;
	/* FIFO: nobody overtakes a waiter. */
	if (!rl->first && grant(rl))
		return true;
	w->queued = true;
	w->next = NULL;
	w->since = uv_now(rl->loop);
	if (rl->last)
		rl->last->next = w;
	else
		rl->first = w;
	rl->last = w;
	arm(rl);
	return false;
}

void ratelim_cancel(struct ratelim *rl, struct ratelim_wait *w)
{
	if (!w->queued)
		return;
	struct ratelim_wait *prev = NULL;
	for (struct ratelim_wait *p = rl->first; p; prev = p, p = p->next) {
		if (p != w)
			continue;
		if (prev)
			prev->next = w->next;
		else
			rl->first = w->next;
		if (rl->last == w)
			rl->last = prev;
		break;
	}
	w->queued = false;
	w->next = NULL;
	if (rl->timer_open)
		arm(rl);
}

void ratelim_block(struct ratelim *rl, uint64_t ms)
{
	uint64_t until = uv_now(rl->loop) + ms;
	if (until > rl->blocked_until)
		rl->blocked_until = until;
	rl->stats.blocked++;
	if (rl->timer_open)
		arm(rl);
}

static void on_closed(uv_handle_t *h)
{
	struct ratelim *rl = h->data;
	free(rl->ring);
	rl->ring = NULL;
	if (rl->closed)
		rl->closed(rl);
}

void ratelim_close(struct ratelim *rl, void (*closed)(struct ratelim *rl))
{
	while (rl->first) {
		struct ratelim_wait *w = rl->first;
		rl->first = w->next;
		w->next = NULL;
		w->queued = false;
	}
	rl->last = NULL;
	rl->closed = closed;
	rl->timer_open = false;
	uv_close((uv_handle_t *)&rl->timer, on_closed);
}

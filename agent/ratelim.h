/* ratelim: a client-side sliding-window rate limiter, one per project and
 * endpoint class, so that the agent never makes the API answer 429.
 *
 * At most `limit` grants in any span of `window` (plus a small slack, so a
 * request that reaches the server late is still outside the server's own
 * window). A caller asks with ratelim_take(): true means go now; false means
 * the waiter was queued and its callback runs, in FIFO order, once a slot is
 * free. ratelim_block() holds every grant back until a time (a 429's
 * Retry-After). Everything runs on the loop thread. */
#ifndef SINCH_RATELIM_H
#define SINCH_RATELIM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct ratelim_wait;
typedef void (*ratelim_cb)(struct ratelim_wait *w);

struct ratelim_wait {
	ratelim_cb cb;
	struct ratelim_wait *next;
	bool queued;
	uint64_t since; /* uv_now() when it was queued */
};

struct ratelim_stats {
	uint64_t granted;
	uint64_t waited;  /* grants that had to wait */
	uint64_t wait_ms; /* total time waited */
	uint64_t blocked; /* ratelim_block() calls (429s) */
};

struct ratelim {
	uv_loop_t *loop;
	unsigned limit;
	uint64_t window_ms; /* including the slack */
	uint64_t *ring;     /* grant times (uv_now ms), oldest at head */
	unsigned head, n;
	uint64_t blocked_until;
	struct ratelim_wait *first, *last;
	uv_timer_t timer;
	bool timer_open;
	struct ratelim_stats stats;
	void *data; /* the owner's */
	void (*closed)(struct ratelim *rl);
};

/* limit >= 1, window_ms >= 1. Returns 0 or LG_ENOMEM. */
int ratelim_init(struct ratelim *rl, uv_loop_t *loop, unsigned limit, uint64_t window_ms);
/* True: a slot is taken, go now. False: w is queued (w->cb set by the
 * caller) and called when its slot is free. */
bool ratelim_take(struct ratelim *rl, struct ratelim_wait *w);
void ratelim_cancel(struct ratelim *rl, struct ratelim_wait *w);
/* No grant before uv_now() + ms. */
void ratelim_block(struct ratelim *rl, uint64_t ms);
/* How long the next grant would wait now (0: none). */
uint64_t ratelim_delay(const struct ratelim *rl);
void ratelim_close(struct ratelim *rl, void (*closed)(struct ratelim *rl));

#endif

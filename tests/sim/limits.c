/* Rate limits: a token bucket for the token endpoint, sliding windows for the API. */
#include "limits.h"

#include <stdlib.h>

/* A sliding log of accepted request times: exact, and small at these limits. */
struct window {
	uint64_t *ts;
	size_t cap, head, n;
};

static struct window win_api, win_logs;
static double bucket_tokens = LIMIT_TOKEN_BURST;
static uint64_t bucket_last;
static int bucket_started;

static int window_init(struct window *w, size_t cap)
{
	w->ts = calloc(cap, sizeof(*w->ts));
	w->cap = cap;
	w->head = 0;
	w->n = 0;
	return w->ts ? SIM_OK : SIM_ENOMEM;
}

static int window_take(struct window *w, uint64_t now, int *retry_after_s)
{
	uint64_t span = (uint64_t)sim_cfg.limit_window_s * 1000;

	while (w->n && w->ts[w->head] + span <= now) {
		w->head = (w->head + 1) % w->cap;
		w->n--;
	}
	if (w->n == w->cap) {
		uint64_t wait = w->ts[w->head] + span - now;

		*retry_after_s = (int)((wait + 999) / 1000);
		if (*retry_after_s < 1)
			*retry_after_s = 1;
		return 1;
	}
	w->ts[(w->head + w->n) % w->cap] = now;
	w->n++;
	return 0;
}

static int bucket_take(uint64_t now)
{
	if (!bucket_started) {
		bucket_started = 1;
		bucket_last = now;
	}
	bucket_tokens += (double)(now - bucket_last) * LIMIT_TOKEN_RATE / 1000.0;
	if (bucket_tokens > LIMIT_TOKEN_BURST)
		bucket_tokens = LIMIT_TOKEN_BURST;
	bucket_last = now;
	if (bucket_tokens < 1.0)
		return 1;
	bucket_tokens -= 1.0;
	return 0;
}

int limit_init(void)
{
	if (window_init(&win_api, LIMIT_API) || window_init(&win_logs, LIMIT_LOGS))
		return SIM_ENOMEM;
	return SIM_OK;
}

void limit_free(void)
{
	free(win_api.ts);
	free(win_logs.ts);
	win_api.ts = win_logs.ts = NULL;
}

int limit_take(enum limit_class c, int *retry_after_s)
{
	uint64_t now = uv_now(sim_loop);

	*retry_after_s = 0;
	if (sim_cfg.no_limits)
		return 0;
	switch (c) {
	case LC_TOKEN:
		return bucket_take(now);
	case LC_API:
		return window_take(&win_api, now, retry_after_s);
	case LC_LOGS:
		return window_take(&win_logs, now, retry_after_s);
	default:
		return 0;
	}
}

const char *limit_class_name(enum limit_class c)
{
	static const char *const names[] = {"token", "api", "logs", "stream", "sim", "other"};

	return c < LC_COUNT ? names[c] : "other";
}

/*
 * limit_: per-project rate limits. The token endpoint is a token bucket (30
 * burst, 10/s, 429 without Retry-After); status, list, metrics and costs
 * share one sliding window (100 per window), historical logs have their own
 * (200 per window); --limit-window sets the window (60 s). The concurrent
 * stream limit (5) is counted by stream.c.
 */
#ifndef SINCH_FN_SIM_LIMITS_H
#define SINCH_FN_SIM_LIMITS_H

#include "sim.h"

enum limit_class { LC_TOKEN, LC_API, LC_LOGS, LC_STREAM, LC_SIM, LC_OTHER, LC_COUNT };

#define LIMIT_TOKEN_BURST 30
#define LIMIT_TOKEN_RATE 10
#define LIMIT_API 100
#define LIMIT_LOGS 200
#define LIMIT_STREAMS 5

int limit_init(void);
void limit_free(void);
/* 0 when allowed; otherwise 1 and *retry_after_s (0 for the token endpoint). */
int limit_take(enum limit_class c, int *retry_after_s);
const char *limit_class_name(enum limit_class c);

#endif

/*
 * ctl_: counters and the unauthenticated control endpoints under /_sim/:
 * POST /_sim/fault, GET /_sim/stats, GET /_sim/events (the test oracle) and
 * GET|POST /_sim/functions (add, remove and set the status of functions).
 */
#ifndef SINCH_FN_SIM_CTL_H
#define SINCH_FN_SIM_CTL_H

#include "http.h"
#include "limits.h"

struct sim_stats {
	uint64_t requests[LC_COUNT];
	uint64_t limited[LC_COUNT];
	uint64_t unauthorized;
	uint64_t tokens_issued;
	uint64_t streams_total;
	uint64_t streams_peak;
	uint64_t events_sent; /* real events queued on any stream, repeats included */
	uint64_t injected_malformed;
	uint64_t injected_oversize;
};

extern struct sim_stats sim_stats;

void ctl_fault(struct http_conn *c, struct http_req *r);
void ctl_stats(struct http_conn *c, struct http_req *r);
void ctl_events(struct http_conn *c, struct http_req *r);
void ctl_functions(struct http_conn *c, struct http_req *r);

#endif

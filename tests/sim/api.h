/*
 * api_: routing of /oauth2/token, /_sim/... and /v1/projects/{p}/...; the
 * order of checks is method, bearer token, token-expiry fault, stream status
 * fault, rate limit, project, function. metrics.c holds the aggregate
 * endpoints (metrics, costs, billing).
 */
#ifndef SINCH_FN_SIM_API_H
#define SINCH_FN_SIM_API_H

#include "gen.h"
#include "http.h"

#include <cjson/cJSON.h>

void api_error(struct http_conn *c, const struct http_req *r, int status, const char *extra,
               const char *msg);
/* Sends o as a 200 response and deletes it. */
void api_send_json(struct http_conn *c, const struct http_req *r, cJSON *o);

void api_metrics(struct http_conn *c, struct http_req *r, struct gen_function *f);
void api_costs(struct http_conn *c, struct http_req *r, struct gen_function *f);
void api_billing(struct http_conn *c, struct http_req *r);

#endif

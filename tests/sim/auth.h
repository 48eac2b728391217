/*
 * auth_: the OAuth2 client-credentials token endpoint and bearer-token checks.
 * Tokens are fake JWTs (random jti and signature, real exp) kept in a bounded
 * table; expired ones are remembered so a 401 can say "expired", not "unknown".
 */
#ifndef SINCH_FN_SIM_AUTH_H
#define SINCH_FN_SIM_AUTH_H

#include "http.h"

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_UNKNOWN, AUTH_EXPIRED };

enum auth_result auth_check(const struct http_req *r);
void auth_token_endpoint(struct http_conn *c, struct http_req *r);
/* Answers 401 with a WWW-Authenticate header naming the reason. */
void auth_reject(struct http_conn *c, const struct http_req *r, enum auth_result why);
void auth_free(void);

#endif

/* Token issuance (POST /oauth2/token) and bearer-token validation. */
#include "auth.h"
#include "ctl.h"
#include "fault.h"
#include "limits.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKENS 4096

struct token {
	char *value;
	uint64_t expires; /* uv_now() milliseconds */
};

static struct token tokens[MAX_TOKENS];
static size_t ntokens;

static void remember(char *value, uint64_t expires)
{
	if (ntokens == MAX_TOKENS) {
		/* The oldest token goes first: it is the likeliest to have expired. */
		free(tokens[0].value);
		memmove(tokens, tokens + 1, (MAX_TOKENS - 1) * sizeof(tokens[0]));
		ntokens--;
	}
	tokens[ntokens].value = value;
	tokens[ntokens].expires = expires;
	ntokens++;
}

void auth_free(void)
{
	for (size_t i = 0; i < ntokens; i++)
		free(tokens[i].value);
	ntokens = 0;
}

enum auth_result auth_check(const struct http_req *r)
{
	const char *h = http_req_header(r, "Authorization");
	uint64_t now = uv_now(sim_loop);

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return AUTH_MISSING;
	h += 7;
	while (*h == ' ')
		h++;
	if (!*h)
		return AUTH_MISSING;
	for (size_t i = ntokens; i > 0; i--) {
		if (strcmp(tokens[i - 1].value, h) == 0)
			return tokens[i - 1].expires > now ? AUTH_OK : AUTH_EXPIRED;
	}
	return AUTH_UNKNOWN;
}

void auth_reject(struct http_conn *c, const struct http_req *r, enum auth_result why)
{
	static const char *const reasons[] = {"", "missing bearer token", "unknown token",
	                                      "token expired"};
	char hdr[160], body[160];

	sim_stats.unauthorized++;
	snprintf(hdr, sizeof(hdr),
	         "WWW-Authenticate: Bearer realm=\"sinch\", error=\"invalid_token\", "
	         "error_description=\"%s\"\r\n",
	         reasons[why]);
	snprintf(body, sizeof(body),
	         "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\",\"message\":\"%s\"}}",
	         reasons[why]);
	http_respond_json(c, r, 401, hdr, body);
}

static int check_basic(const struct http_req *r)
{
	const char *h = http_req_header(r, "Authorization");
	unsigned char dec[600];
	size_t n, idlen = strlen(sim_cfg.key_id);

	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	if (sim_base64_decode(h + 6, dec, sizeof(dec) - 1, &n) != SIM_OK)
		return 0;
	dec[n] = '\0';
	return n == idlen + 1 + strlen(sim_cfg.key_secret) &&
	       memcmp(dec, sim_cfg.key_id, idlen) == 0 && dec[idlen] == ':' &&
	       strcmp((char *)dec + idlen + 1, sim_cfg.key_secret) == 0;
}

static char *make_jwt(void)
{
	unsigned char rnd[40];
	char part1[64], part2[512], sig[64], payload[384], jti[33];
	uv_timeval64_t tv;
	char *out;

	if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0)
		return NULL;
	for (int i = 0; i < 16; i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	uv_gettimeofday(&tv);
	snprintf(payload, sizeof(payload),
	         "{\"iss\":\"sinch-fn-sim\",\"sub\":\"%s\",\"aud\":\"functions\",\"iat\":%lld,"
	         "\"exp\":%lld,\"jti\":\"%s\",\"scope\":\"functions:read\"}",
	         sim_cfg.key_id, (long long)tv.tv_sec, (long long)tv.tv_sec + sim_cfg.token_ttl_s,
	         jti);
	sim_base64url_encode((const unsigned char *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27,
	                     part1, sizeof(part1));
	sim_base64url_encode((const unsigned char *)payload, strlen(payload), part2, sizeof(part2));
	sim_base64url_encode(rnd + 16, 24, sig, sizeof(sig));
	out = malloc(strlen(part1) + strlen(part2) + strlen(sig) + 3);
	if (out)
		sprintf(out, "%s.%s.%s", part1, part2, sig);
	return out;
}

void auth_token_endpoint(struct http_conn *c, struct http_req *r)
{
	char *form, *grant;
	char *token;
	int retry;
	cJSON *o;
	char *json;

	if (strcmp(r->method, "POST") != 0) {
		http_respond_json(
		    c, r, 405, "Allow: POST\r\n",
		    "{\"error\":\"invalid_request\",\"error_description\":\"use POST\"}");
		return;
	}
	if (fault.token_status_code) {
		int code = fault.token_status_code;

		if (fault.token_status_count > 0 && --fault.token_status_count == 0)
			fault.token_status_code = 0;
		fault_applied[F_TOKEN_STATUS]++;
		/* Like the real endpoint: no Retry-After, even on 429. */
		http_respond_json(c, r, code, "", "{\"error\":\"injected fault\"}");
		return;
	}
	if (limit_take(LC_TOKEN, &retry)) {
		/* The real token endpoint sends no Retry-After; clients must back off. */
		sim_stats.limited[LC_TOKEN]++;
		http_respond_json(c, r, 429, "", "{\"error\":\"rate_limited\"}");
		return;
	}
	if (!check_basic(r)) {
		sim_stats.unauthorized++;
		http_respond_json(c, r, 401, "WWW-Authenticate: Basic realm=\"sinch\"\r\n",
		                  "{\"error\":\"invalid_client\",\"error_description\":"
		                  "\"bad key id or secret\"}");
		return;
	}
	form = strndup(r->body ? r->body : "", r->body_len);
	grant = form ? sim_query_get(form, "grant_type") : NULL;
	free(form);
	if (!grant || strcmp(grant, "client_credentials") != 0) {
		free(grant);
		http_respond_json(c, r, 400, "",
		                  "{\"error\":\"unsupported_grant_type\",\"error_description\":"
		                  "\"grant_type must be client_credentials\"}");
		return;
	}
	free(grant);
	token = make_jwt();
	if (!token) {
		http_respond_json(c, r, 500, "", "{\"error\":\"server_error\"}");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "access_token", token);
	cJSON_AddStringToObject(o, "token_type", "bearer");
	cJSON_AddNumberToObject(o, "expires_in", (double)sim_cfg.token_ttl_s);
	cJSON_AddStringToObject(o, "scope", "functions:read");
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	remember(token, uv_now(sim_loop) + (uint64_t)sim_cfg.token_ttl_s * 1000);
	sim_stats.tokens_issued++;
	http_respond(c, r, 200, "Cache-Control: no-store\r\n", "application/json", json,
	             json ? strlen(json) : 0);
	cJSON_free(json);
}

/* Fault settings: parsing NAME[=VALUE], clearing, and reporting them. */
#include "fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fault_state fault;
uint64_t fault_applied[F_COUNT];

static const char *const names[F_COUNT] = {
    "drop-every",      "cut-mid-event",  "heartbeat",      "token-expiry", "status", "drip",
    "malformed-every", "oversize-every", "bad-utf8-every", "line-ends",    "bom",    "split-writes",
    "stall",           "api-status",     "forbid",         "token-status",
};

const char *fault_name(enum fault_kind k)
{
	return k < F_COUNT ? names[k] : "?";
}

void fault_clear(void)
{
	memset(&fault, 0, sizeof(fault));
	fault.heartbeat_ms = -1;
	fault.line_ends = LE_LF;
	stream_heartbeat_changed();
}

const char *fault_eol(void)
{
	switch (fault.line_ends) {
	case LE_CRLF:
		return "\r\n";
	case LE_CR:
		return "\r";
	default:
		return "\n";
	}
}

static int parse_ulong(const char *v, unsigned long *out)
{
	char *end;
	unsigned long n;

	if (!v || !*v || *v == '-')
		return SIM_EINVAL;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end)
		return SIM_EINVAL;
	*out = n;
	return SIM_OK;
}

static int parse_bool(const char *v, int *out)
{
	if (!v || !*v || !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "off"))
		*out = 0;
	else
		return SIM_EINVAL;
	return SIM_OK;
}

/* CODE[:COUNT] into *code and *count (-1: until cleared); CODE 0 clears. */
static int parse_status(const char *v, const int *allowed, size_t nallowed, int *code_out,
                        long *count_out)
{
	unsigned long code, count = 0;
	const char *colon = v ? strchr(v, ':') : NULL;
	char num[16];

	if (!v || !*v)
		return SIM_EINVAL;
	if ((colon ? (size_t)(colon - v) : strlen(v)) >= sizeof(num))
		return SIM_EINVAL;
	snprintf(num, sizeof(num), "%.*s", colon ? (int)(colon - v) : (int)strlen(v), v);
	if (parse_ulong(num, &code))
		return SIM_EINVAL;
	if (colon && (parse_ulong(colon + 1, &count) || count == 0))
		return SIM_EINVAL;
	if (code == 0) {
		*code_out = 0;
		return SIM_OK;
	}
	for (size_t i = 0; i < nallowed; i++) {
		if ((int)code == allowed[i]) {
			*code_out = (int)code;
			*count_out = colon ? (long)count : -1;
			return SIM_OK;
		}
	}
	return SIM_EINVAL;
}

int fault_set(const char *name, const char *value, char *err, size_t errlen)
{
	unsigned long n = 0;
	int k = -1, rc = SIM_OK;

	for (int i = 0; i < F_COUNT; i++)
		if (strcmp(name, names[i]) == 0)
			k = i;
	switch (k) {
	case F_DROP_EVERY:
		rc = parse_ulong(value, &fault.drop_every);
		break;
	case F_CUT_MID_EVENT:
		rc = parse_ulong(value, &fault.cut_mid_event);
		break;
	case F_MALFORMED_EVERY:
		rc = parse_ulong(value, &fault.malformed_every);
		break;
	case F_OVERSIZE_EVERY:
		rc = parse_ulong(value, &fault.oversize_every);
		break;
	case F_BAD_UTF8_EVERY:
		rc = parse_ulong(value, &fault.bad_utf8_every);
		break;
	case F_DRIP:
		rc = parse_ulong(value, &fault.drip_bps);
		break;
	case F_STALL:
		rc = parse_ulong(value, &fault.stall_ms);
		break;
	case F_HEARTBEAT:
		rc = parse_ulong(value, &n);
		if (rc == SIM_OK) {
			fault.heartbeat_ms = (long)n;
			stream_heartbeat_changed();
		}
		break;
	case F_TOKEN_EXPIRY:
		rc = parse_bool(value, &fault.token_expiry);
		break;
	case F_BOM:
		rc = parse_bool(value, &fault.bom);
		break;
	case F_SPLIT_WRITES:
		rc = parse_bool(value, &fault.split_writes);
		break;
	case F_STATUS: {
		static const int allowed[] = {204, 401, 403, 404, 429, 503};

		rc = parse_status(value, allowed, sizeof(allowed) / sizeof(allowed[0]),
		                  &fault.status_code, &fault.status_count);
		break;
	}
	case F_API_STATUS: {
		static const int allowed[] = {400, 401, 403, 404, 429, 500, 503};

		rc = parse_status(value, allowed, sizeof(allowed) / sizeof(allowed[0]),
		                  &fault.api_status_code, &fault.api_status_count);
		break;
	}
	case F_TOKEN_STATUS: {
		static const int allowed[] = {400, 401, 429, 500, 503};

		rc = parse_status(value, allowed, sizeof(allowed) / sizeof(allowed[0]),
		                  &fault.token_status_code, &fault.token_status_count);
		break;
	}
	case F_FORBID:
		if (!value || strlen(value) >= sizeof(fault.forbid))
			rc = SIM_EINVAL;
		else
			snprintf(fault.forbid, sizeof(fault.forbid), "%s", value);
		break;
	case F_LINE_ENDS:
		if (value && !strcmp(value, "lf"))
			fault.line_ends = LE_LF;
		else if (value && !strcmp(value, "crlf"))
			fault.line_ends = LE_CRLF;
		else if (value && !strcmp(value, "cr"))
			fault.line_ends = LE_CR;
		else
			rc = SIM_EINVAL;
		break;
	default:
		snprintf(err, errlen, "unknown fault '%s'", name);
		return SIM_EINVAL;
	}
	if (rc)
		snprintf(err, errlen, "bad value '%s' for fault '%s'", value ? value : "", name);
	return rc;
}

int fault_parse(const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char name[64];

	if ((eq ? (size_t)(eq - arg) : strlen(arg)) >= sizeof(name)) {
		snprintf(err, errlen, "unknown fault '%s'", arg);
		return SIM_EINVAL;
	}
	snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
	return fault_set(name, eq ? eq + 1 : NULL, err, errlen);
}

cJSON *fault_to_json(void)
{
	static const char *const eols[] = {"lf", "crlf", "cr"};
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "drop-every", (double)fault.drop_every);
	cJSON_AddNumberToObject(o, "cut-mid-event", (double)fault.cut_mid_event);
	cJSON_AddNumberToObject(o, "heartbeat", (double)fault.heartbeat_ms);
	cJSON_AddBoolToObject(o, "token-expiry", fault.token_expiry);
	cJSON_AddNumberToObject(o, "status", fault.status_code);
	cJSON_AddNumberToObject(o, "statusCount", (double)fault.status_count);
	cJSON_AddNumberToObject(o, "drip", (double)fault.drip_bps);
	cJSON_AddNumberToObject(o, "malformed-every", (double)fault.malformed_every);
	cJSON_AddNumberToObject(o, "oversize-every", (double)fault.oversize_every);
	cJSON_AddNumberToObject(o, "bad-utf8-every", (double)fault.bad_utf8_every);
	cJSON_AddStringToObject(o, "line-ends", eols[fault.line_ends]);
	cJSON_AddBoolToObject(o, "bom", fault.bom);
	cJSON_AddBoolToObject(o, "split-writes", fault.split_writes);
	cJSON_AddNumberToObject(o, "stall", (double)fault.stall_ms);
	cJSON_AddNumberToObject(o, "api-status", fault.api_status_code);
	cJSON_AddNumberToObject(o, "apiStatusCount", (double)fault.api_status_count);
	cJSON_AddStringToObject(o, "forbid", fault.forbid);
	cJSON_AddNumberToObject(o, "token-status", fault.token_status_code);
	cJSON_AddNumberToObject(o, "tokenStatusCount", (double)fault.token_status_count);
	return o;
}

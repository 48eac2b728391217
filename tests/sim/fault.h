/*
 * fault_: the fault-injection settings, set from --fault NAME[=VALUE] at
 * start and from POST /_sim/fault at run time. Streams read them at each use,
 * so a change applies to open streams too. fault_applied counts how often
 * each fault actually took effect.
 */
#ifndef SINCH_FN_SIM_FAULT_H
#define SINCH_FN_SIM_FAULT_H

#include "sim.h"

#include <cjson/cJSON.h>

enum fault_kind {
	F_DROP_EVERY,
	F_CUT_MID_EVENT,
	F_HEARTBEAT,
	F_TOKEN_EXPIRY,
	F_STATUS,
	F_DRIP,
	F_MALFORMED_EVERY,
	F_OVERSIZE_EVERY,
	F_BAD_UTF8_EVERY,
	F_LINE_ENDS,
	F_BOM,
	F_SPLIT_WRITES,
	F_STALL,
	F_API_STATUS,
	F_FORBID,
	F_TOKEN_STATUS,
	F_COUNT
};

enum fault_line_ends { LE_LF, LE_CRLF, LE_CR };

struct fault_state {
	unsigned long drop_every;
	unsigned long cut_mid_event;
	long heartbeat_ms; /* < 0: use --heartbeat */
	int token_expiry;
	int status_code;   /* 0: none */
	long status_count; /* < 0: until cleared */
	unsigned long drip_bps;
	unsigned long malformed_every;
	unsigned long oversize_every;
	unsigned long bad_utf8_every;
	enum fault_line_ends line_ends;
	int bom;
	int split_writes;
	unsigned long stall_ms;
	int api_status_code;   /* 0: none; for list, status, logs, metrics, costs, billing */
	long api_status_count; /* < 0: until cleared */
	char forbid[64];       /* a function id or name answered 403; "" = none */
	int token_status_code; /* 0: none; for POST /oauth2/token */
	long token_status_count;
};

extern struct fault_state fault;
extern uint64_t fault_applied[F_COUNT];

void fault_clear(void);
/* Parses "NAME" or "NAME=VALUE"; on error fills err and returns SIM_EINVAL. */
int fault_parse(const char *arg, char *err, size_t errlen);
int fault_set(const char *name, const char *value, char *err, size_t errlen);
const char *fault_name(enum fault_kind k);
cJSON *fault_to_json(void);
const char *fault_eol(void);

/* Implemented by stream.c: the heartbeat interval changed. */
void stream_heartbeat_changed(void);

#endif

/* cmd: what the one-shot commands (list, status, tail, export) share with
 * each other and with the agent: the project (its token, API client and
 * rate limits), read from `-c FILE` ([project NAME], chosen with --project
 * when there are several) or, without a file, from the Sinch CLI's
 * SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET with --api-url and
 * --token-url; a router for the sinks a command writes to; the loop, the
 * signals, and an orderly close. Exit status: 0 done, 1 failed, 2 usage,
 * configuration or authentication errors. */
#ifndef SINCH_CMD_H
#define SINCH_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent.h"
#include "api.h"
#include "conf.h"
#include "httpc.h"
#include "project.h"
#include "router.h"

#define CMD_OK 0
#define CMD_FAILED 1
#define CMD_USAGE 2

/* The options every command takes; their getopt codes. */
enum {
	CMD_OPT_PROJECT = 1000,
	CMD_OPT_API_URL,
	CMD_OPT_TOKEN_URL,
	CMD_OPT_LOG_LEVEL,
	CMD_OPT_OWN, /* the commands' own codes start here */
};
#define CMD_COMMON_LONGOPTS                                                                        \
	{"config", required_argument, NULL, 'c'},                                                  \
	    {"project", required_argument, NULL, CMD_OPT_PROJECT},                                 \
	    {"api-url", required_argument, NULL, CMD_OPT_API_URL},                                 \
	    {"token-url", required_argument, NULL, CMD_OPT_TOKEN_URL},                             \
	    {"log-level", required_argument, NULL, CMD_OPT_LOG_LEVEL},                             \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}
#define CMD_COMMON_SHORTOPTS "c:vh"
#define CMD_COMMON_HELP                                                                            \
	"  -c, --config FILE     the agent's configuration (its [project NAME] and sinks);\n"      \
	"                        without it: SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET\n"   \
	"      --project NAME    the [project NAME] to use when the file has several\n"            \
	"      --api-url URL     the API (default: the file's, or the public one)\n"               \
	"      --token-url URL   the OAuth2 token endpoint (likewise)\n"                           \
	"  -v, --log-level LVL   more of the command's own log (stderr)\n"

struct cmd_opts {
	const char *config;
	const char *project;
	const char *api_url;
	const char *token_url;
	int log_level; /* -1: warning */
};

struct cmd;
typedef void (*cmd_cb)(struct cmd *c);

struct cmd {
	const char *name; /* "list", for messages: "sinch-logd list: …" */
	uv_loop_t loop;
	struct httpc http;
	struct conf conf;
	struct conf_section env_sec; /* the project when no file is given */
	struct conf_entry env_entries[2];
	struct agent_conf ac;
	struct project *p;
	struct router router;
	uv_signal_t sig_int, sig_term;
	/* The command's hooks: a signal arrived (NULL: finish with 130); its
	 * own parts must close (it calls cmd_part_closed() once per part it
	 * counted with pending++). */
	cmd_cb on_signal;
	cmd_cb close_own;
	/* A record a sink took is done; a full sink drained (NULL: nothing
	 * to do). */
	void (*record_done)(struct cmd *c, struct record *r);
	cmd_cb on_drain;
	unsigned pending;
	bool finishing;
	int status;
	void *data;
};

/* Handles one of the common options; 1 when it was one, 0 when not, -1 on
 * a bad value (printed). */
int cmd_common_opt(struct cmd_opts *o, int opt, const char *arg, const char *name);
/* Prints "sinch-logd NAME: message (see --help)" and returns CMD_USAGE. */
int cmd_usage(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "sinch-logd NAME: message" on stderr. */
void cmd_err(const struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the configuration (or the environment), opens the project's token
 * and API client; logs_share (0 < share <= 1) scales its historical-logs
 * rate limit. 0, or the exit status with the errors printed. */
int cmd_open(struct cmd *c, const char *name, const struct cmd_opts *o, double logs_share);
/* Runs the loop until the command has finished and everything is closed;
 * then frees it all and returns the exit status. */
int cmd_run(struct cmd *c);
/* Ends the command with `status`: its own parts close, then the project,
 * the sinks and the loop. */
void cmd_finish(struct cmd *c, int status);
void cmd_part_closed(struct cmd *c);
/* The exit status for an API error: CMD_USAGE for LG_EAUTH (with a hint),
 * CMD_FAILED otherwise; the message names `what`. */
int cmd_api_error(struct cmd *c, int err, const struct api_req *r, const char *what);

/* Finds FUNCTION (an id or a name) in the functions list; calls done with
 * its id and name, or with NULL and the exit status after printing why. */
struct cmd_resolve {
	struct cmd *c;
	struct api_req req;
	bool open;
	char *want;
	void (*done)(struct cmd_resolve *r, const char *id, const char *name, int status);
};
int cmd_resolve(struct cmd_resolve *r, struct cmd *c, const char *function,
                void (*done)(struct cmd_resolve *r, const char *id, const char *name, int status));
/* Closes it as one part of c (pending++ then cmd_part_closed). */
void cmd_resolve_close(struct cmd_resolve *r);

/* Parses a point in time: an RFC 3339 time, or a duration before now
 * ("24h", "90m"). LG_EINVAL when neither. */
int cmd_parse_when(const char *s, int64_t now_ms, int64_t *ms);
int64_t cmd_now_ms(void);

int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif

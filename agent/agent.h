/* agent: the daemon as a whole. It reads the configuration ([agent],
 * [project NAME] and [sink NAME] sections) with the option tables below,
 * locks the state directory, resolves each project's functions, and runs
 * the streams, the router and the sinks on one libuv loop until SIGTERM or
 * SIGINT, then drains the sinks within shutdown_timeout and writes the
 * checkpoints. SIGHUP reopens the sinks' files. */
#ifndef SINCH_AGENT_H
#define SINCH_AGENT_H

#include <stdbool.h>
#include <stdio.h>

#include <stdint.h>

#include "conf.h"

/* The [agent] section (agent_opts fills it). */
struct agent_conf {
	char *state_dir;
	int log_level;
	struct opt_list include;
	uint64_t checkpoint_interval_ms;
	uint64_t shutdown_timeout_ms;
	char *hostname;
};

extern const struct opt_def agent_opts[];
extern const struct opt_def project_opts[];

/* Validates the whole configuration without connecting or writing
 * anything; prints every error as FILE:LINE: message on err. Returns 0 when
 * valid. */
int agent_check_config(const char *path, FILE *err);
/* Runs the agent; returns the process exit status. log_level < 0 keeps the
 * configuration's. */
int agent_run(const char *path, int log_level);

#endif

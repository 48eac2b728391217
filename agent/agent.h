/* agent: the daemon as a whole. It reads the configuration ([agent],
 * [project NAME] and [sink NAME] sections) with the option tables below,
 * locks the state directory, resolves each project's functions, and runs
 * the streams, the router and the sinks on one libuv loop until SIGTERM or
 * SIGINT, then drains the sinks within shutdown_timeout and writes the
 * checkpoints. SIGHUP reopens the sinks' files, then reloads the
 * configuration (reload.c). Under systemd it reports its state over
 * $NOTIFY_SOCKET (notify.h). Unless allow_core_dumps, the process is not
 * dumpable: no core file or ptrace by other users sees the secrets it
 * holds. */
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
	bool allow_core_dumps;
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

/* ---- between agent.c and reload.c ---- */
#include <uv.h>

#include "confdiff.h"
#include "httpc.h"
#include "notify.h"
#include "project.h"
#include "router.h"
#include "statedir.h"

struct reload;

struct agent {
	uv_loop_t loop;
	const char *path;
	struct conf conf;
	struct agent_conf ac;
	struct confdiff digests; /* of conf's sections */
	struct statedir sd;
	struct httpc http;
	struct router router;
	struct project **projects;
	size_t nprojects;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t ckpt_timer, shutdown_timer;
	struct notify notify;
	int cli_log_level; /* -1: the configuration's */
	bool shutting_down;
	bool started;
	bool flushed;
	bool drain_timed_out;
	int exit_code;
	char host[256];
	/* A reload in progress (reload.c), and whether SIGHUP came again
	 * meanwhile. */
	struct reload *reload;
	bool reload_again;
	uv_timer_t reload_timer, reload_ready_timer;
};

/* Reads path into c and ac ([agent] validated). */
int agent_load_config(const char *path, struct conf *c, struct agent_conf *ac,
                      struct conf_errs *errs);
/* Reads and validates the project sections of c, without connecting, into
 * *out (grown; *n counts them). */
int agent_load_projects(struct agent *a, const struct conf *c, struct project ***out, size_t *n,
                        struct conf_errs *errs);
/* Validates the sinks of c (check only) and that there is at least one. */
void agent_check_sinks(struct agent *a, const struct conf *c, struct project *const *projects,
                       size_t n, struct conf_errs *errs);
uint64_t agent_max_event_size(struct project *const *projects, size_t n);
/* Logs each line of errs (warnings too) at its level. */
void agent_log_conf_errs(const struct conf_errs *errs);
/* Applies what may change without a restart ([agent] log_level, intervals,
 * hostname, allow_core_dumps). */
void agent_apply_live(struct agent *a, const struct agent_conf *ac);
void agent_project_closed(struct project *p);

/* SIGHUP, after the files were reopened: reads the configuration again and
 * applies the difference. */
void reload_start(struct agent *a);
/* Shutdown: what a reload left pending is dropped; the timers closed. */
void reload_close(struct agent *a);

#endif

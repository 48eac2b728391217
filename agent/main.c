/* sinch-logd: the command line. */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "agent.h"
#include "cmd.h"
#include "log.h"
#include "router.h"
#include "sink.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: sinch-logd -c FILE [options]\n"
	        "       sinch-logd COMMAND [options] (list, status, tail, export; COMMAND --help)\n"
	        "Tails Sinch Functions logs (SSE) and forwards them, normalized, to sinks.\n\n"
	        "  -c, --config FILE     configuration file (required)\n"
	        "      --check-config    validate the configuration without connecting; exit 0 if "
	        "valid\n"
	        "  -v                    more logging (-v info, -vv debug)\n"
	        "      --log-level LVL   debug, info, warning or error (overrides the config)\n"
	        "      --help-config     print every option of [agent] and [project NAME]\n"
	        "      --help-sink TYPE  print the options of a sink type\n"
	        "      --config-reference[=man]  print the configuration reference as "
	        "Markdown (or man(7))\n"
	        "      --version         print the version\n"
	        "  -h, --help            this text\n\n"
	        "Sink types:");
	for (const struct sink_type *const *t = sink_types(); *t; t++)
		fprintf(out, " %s", (*t)->name);
	fprintf(out, "\nSignals: TERM/INT drain and stop; HUP reopens output files and reloads the "
	             "configuration.\n");
}

static void help_config(void)
{
	printf("[agent]\n");
	opts_print_help(agent_opts, stdout);
	printf("\n[project NAME]\n");
	opts_print_help(project_opts, stdout);
	printf("\n[sink NAME] (every type)\n");
	opts_print_help(sink_common_opts, stdout);
}

/* The option list of sinch-logd.conf(5), from the same tables. */
static void config_reference_man(void)
{
	printf(".SS [agent]\n");
	opts_print_roff(agent_opts, stdout);
	printf(".SS [project NAME]\n");
	opts_print_roff(project_opts, stdout);
	printf(".SS \"[sink NAME], every type\"\n");
	opts_print_roff(sink_common_opts, stdout);
	for (const struct sink_type *const *t = sink_types(); *t; t++) {
		printf(".SS \"[sink NAME] with type = %s\"\n%s\n", (*t)->name,
		       (*t)->desc ? (*t)->desc : "");
		if ((*t)->opts)
			opts_print_roff((*t)->opts, stdout);
	}
}

/* The README's configuration reference, from the option tables themselves
 * (tests/integration/test_readme.py keeps the README equal to it). */
static void config_reference(void)
{
	printf("### `[agent]`\n\n");
	opts_print_markdown(agent_opts, stdout);
	printf("\n### `[project NAME]`\n\n");
	opts_print_markdown(project_opts, stdout);
	printf("\n### `[sink NAME]`, every type\n\n");
	opts_print_markdown(sink_common_opts, stdout);
	for (const struct sink_type *const *t = sink_types(); *t; t++) {
		printf("\n### `[sink NAME]` with `type = %s`\n\n%s\n\n", (*t)->name,
		       (*t)->desc ? (*t)->desc : "");
		if ((*t)->opts)
			opts_print_markdown((*t)->opts, stdout);
	}
}

static int help_sink(const char *name)
{
	const struct sink_type *t = sink_type_find(name);
	if (!t) {
		fprintf(stderr, "sinch-logd: unknown sink type '%s'\n", name);
		return 2;
	}
	printf("[sink NAME] type = %s: %s\n", t->name, t->desc ? t->desc : "");
	opts_print_help(sink_common_opts, stdout);
	if (t->opts)
		opts_print_help(t->opts, stdout);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
    {"list", cmd_list},
    {"status", cmd_status},
    {"tail", cmd_tail},
    {"export", cmd_export},
};

/* `sinch-logd COMMAND …`: the commands share the agent's code (cmd.h). */
static int run_command(int argc, char **argv, bool *found)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		*found = true;
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "sinch-logd: cannot initialize libcurl\n");
			return 1;
		}
		int status = commands[i].run(argc - 1, argv + 1);
		curl_global_cleanup();
		return status;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* Before any configuration or secret is read: no core file or ptrace
	 * by other users sees them ([agent] allow_core_dumps undoes it). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc > 1 && argv[1][0] != '-') {
		bool found = false;
		int status = run_command(argc, argv, &found);
		if (found)
			return status;
	}
	enum { OPT_CHECK = 256, OPT_LEVEL, OPT_VERSION, OPT_HELP_CONFIG, OPT_HELP_SINK, OPT_REF };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"log-level", required_argument, NULL, OPT_LEVEL},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
	    {"help-sink", required_argument, NULL, OPT_HELP_SINK},
	    {"config-reference", optional_argument, NULL, OPT_REF},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int check = 0, level = -1, verbose = 0, c;
	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case OPT_LEVEL:
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr,
				        "sinch-logd: --log-level: '%s' is not debug, info, "
				        "warning or error\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_VERSION:
			printf("sinch-logd %s\n", SINCH_LOGD_VERSION);
			return 0;
		case OPT_HELP_CONFIG:
			help_config();
			return 0;
		case OPT_HELP_SINK:
			return help_sink(optarg);
		case OPT_REF:
			if (optarg && strcmp(optarg, "man") == 0) {
				config_reference_man();
			} else if (optarg && strcmp(optarg, "markdown") != 0) {
				fprintf(stderr,
				        "sinch-logd: --config-reference=%s: markdown or man\n",
				        optarg);
				return 2;
			} else {
				config_reference();
			}
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sinch-logd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!config) {
		fprintf(stderr, "sinch-logd: no configuration: use -c FILE (see --help)\n");
		return 2;
	}
	if (level < 0 && verbose)
		level = verbose > 1 ? LOG_DEBUG : LOG_INFO;
	/* A logrotate postrotate SIGHUP that lands while the configuration is
	 * read must not kill the agent; the loop takes SIGHUP over later. */
	signal(SIGHUP, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "sinch-logd: cannot initialize libcurl\n");
		return 1;
	}
	int status;
	if (check) {
		status = agent_check_config(config, stderr);
		if (status == 0)
			printf("%s: configuration is valid\n", config);
	} else {
		status = agent_run(config, level);
	}
	curl_global_cleanup();
	return status;
}

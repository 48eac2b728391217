/* The configuration parser and every option table on arbitrary text: the
 * input is written to a private directory as a configuration file and
 * validated as --check-config does (nothing connects, nothing is written).
 * Errors must come as FILE:LINE: lines, never a crash. Inputs naming /dev,
 * /proc or /sys are skipped: an include of a device or of our own stdout
 * would block on reading, which is the operator's doing, not a parser bug. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static char dir[64];
static char path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/sinch-fuzz-conf-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	return 0;
}

static bool names_special(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"/dev", "/proc", "/sys"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (memmem(data, size, bad[i], strlen(bad[i])))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (names_special(data, size))
		return 0;
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	char *errs = NULL;
	size_t errs_len = 0;
	FILE *err = open_memstream(&errs, &errs_len);
	if (!err)
		abort();
	int rc = agent_check_config(path, err);
	fclose(err);
	if ((rc == 0) != (errs_len == 0))
		abort();
	/* Every message is one "FILE:LINE: …" or "FILE: …" line, FILE an
	 * absolute path (ours, or one an include named), but the note that
	 * more errors were counted than shown. */
	for (char *line = errs; line && *line;) {
		char *nl = strchr(line, '\n');
		char *sep = strstr(line, ": ");
		bool summary = strncmp(line, "too many errors", 15) == 0;
		if (!nl || (!summary && (line[0] != '/' || !sep || sep > nl))) {
			fprintf(stderr, "fuzz_conf: message without a location: %.*s\n",
			        nl ? (int)(nl - line) : (int)strlen(line), line);
			abort();
		}
		line = nl + 1;
	}
	free(errs);
	unlink(path);
	return 0;
}

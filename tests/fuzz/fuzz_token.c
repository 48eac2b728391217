/* A token endpoint's answer, as arbitrary bytes: either an error, or a
 * non-empty token under AUTH_TOKEN_MAX with a lifetime of 1 s to a year. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = NULL;
	uint64_t life = 0;
	int rc = auth_parse_answer((const char *)data, size, &token, &life);
	if (rc) {
		if (token || (rc != LG_EPARSE && rc != LG_ENOMEM))
			abort();
		return 0;
	}
	if (!token || !*token || strlen(token) >= AUTH_TOKEN_MAX || life < 1000 ||
	    life > 366ull * 86400 * 1000)
		abort();
	free(token);
	return 0;
}

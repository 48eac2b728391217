/* failalloc: the one allocation wrapper of the agent's code under test.
 * Test executables that link failalloc.c are linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,
 * so every allocation the agent's own modules make (agent/ and sinks/, in
 * the logd library) goes through the functions below, and a test can make
 * the Nth one fail. Allocations inside shared libraries (libc's own, cJSON,
 * libuv, curl, OpenSSL) are not affected. */
#ifndef SINCH_TEST_FAILALLOC_H
#define SINCH_TEST_FAILALLOC_H

#include <stdbool.h>

/* From now on, count allocations and fail the nth (1-based); 0 counts
 * without failing. */
void failalloc_arm(long nth);
/* Stops counting and failing. */
void failalloc_disarm(void);
/* Allocations seen since the last arm. */
long failalloc_count(void);
/* Whether the armed failure happened. */
bool failalloc_fired(void);

#endif

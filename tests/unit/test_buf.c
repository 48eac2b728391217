/* buf: the hard maximum, growth, detach, and a maximum of SIZE_MAX. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static void test_bound(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(buf_putc(&b, 'x'), LG_ETOOBIG);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	assert_int_equal(buf_printf(&b, "%d", 7), LG_ETOOBIG);
	assert_string_equal(b.data, "0123456789");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s-%d", "ab", 42), 0);
	assert_string_equal(b.data, "ab-42");
	size_t len;
	char *p = buf_detach(&b, &len);
	assert_int_equal(len, 5);
	assert_string_equal(p, "ab-42");
	free(p);
	assert_null(b.data);
	buf_free(&b);
}

static void test_unbounded(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, SIZE_MAX);
	char chunk[1000];
	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(buf_reserve(&b, SIZE_MAX), LG_ETOOBIG);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_unbounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

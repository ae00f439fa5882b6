/* Host uid range allocation: ranges are unique, dense, bounded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "idmap.h"

static void test_pick_first_free(void **state)
{
	uint32_t got = 0;

	(void)state;
	assert_int_equal(pt_idmap_pick(NULL, 0, 1000000, 4, &got, NULL), 0);
	assert_int_equal(got, 1000000);
}

static void test_pick_skips_used_and_fills_holes(void **state)
{
	const uint32_t used[] = { 1000000 + 2 * 65536, 1000000 };
	uint32_t got = 0;

	(void)state;
	assert_int_equal(pt_idmap_pick(used, 2, 1000000, 4, &got, NULL), 0);
	assert_int_equal(got, 1000000 + 65536);
}

static void test_pick_exhausted(void **state)
{
	const uint32_t used[] = { 1000000, 1000000 + 65536 };
	uint32_t got = 7;
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_idmap_pick(used, 2, 1000000, 2, &got, &err), -ENOSPC);
	assert_int_equal(got, 7);
	assert_non_null(strstr(err.msg, "all 2 ranges"));
}

static void test_pick_never_wraps_uint32(void **state)
{
	uint32_t got = 0;
	uint32_t base = UINT32_MAX - 65536 * 2 + 1; /* room for exactly two */
	const uint32_t used[] = { base, base + 65536 };

	(void)state;
	assert_int_equal(pt_idmap_pick(used, 2, base, 100, &got, NULL), -ENOSPC);
}

static void test_valid(void **state)
{
	(void)state;
	assert_true(pt_idmap_valid(1000000, 1000000, 4));
	assert_true(pt_idmap_valid(1000000 + 3 * 65536, 1000000, 4));
	assert_false(pt_idmap_valid(1000000 + 4 * 65536, 1000000, 4));
	assert_false(pt_idmap_valid(1000001, 1000000, 4));
	assert_false(pt_idmap_valid(0, 1000000, 4));
	assert_false(pt_idmap_valid(999999, 1000000, 4));
}

static void test_format(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(pt_idmap_format(1000065536, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "0 1000065536 65536\n");
	assert_int_equal(pt_idmap_format(1000065536, buf, 5), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_first_free),
		cmocka_unit_test(test_pick_skips_used_and_fills_holes),
		cmocka_unit_test(test_pick_exhausted),
		cmocka_unit_test(test_pick_never_wraps_uint32),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

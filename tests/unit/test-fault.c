#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "fault.h"

/* The unit tests are built without the hook (a test build of the daemon
 * has it): the spec is still checked, and any spec is refused, so that a
 * test never believes it injected a fault it did not. */
static void test_setup_unset(void **state)
{
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_fault_setup(NULL, &err), 0);
	assert_int_equal(pt_fault_setup("", &err), 0);
	assert_false(pt_fault_armed());
	assert_int_equal(pt_fault_hit("file.write"), 0);
}

static void test_setup_refusals(void **state)
{
	static const char *const bad[] = {
		"file.write", ":kill", "file.write:", "file.write:kil",
		"file.write:EIO@0", "file.write:EIO@x", "file.write:0", "file.write:4096",
	};
	pt_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_true(pt_fault_setup(bad[i], &err) < 0);
		assert_string_equal(err.field, "PTENANT_FAULT");
		assert_false(pt_fault_armed());
	}
}

static void test_setup_good(void **state)
{
	static const char *const good[] = {
		"file.write:EIO", "file.write:kill", "c4-bind-dev:/dev/null:hang",
		"spawn.idmap:28@3", "net.record:ENOSPC@2",
	};
	pt_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = pt_fault_setup(good[i], &err);

		if (PT_FAULT_INJECTION) {
			assert_int_equal(r, 0);
			assert_true(pt_fault_armed());
		} else {
			assert_int_equal(r, -EOPNOTSUPP);
			assert_non_null(strstr(err.msg, "fault_injection"));
		}
	}
	pt_fault_setup(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_unset),
		cmocka_unit_test(test_setup_refusals),
		cmocka_unit_test(test_setup_good),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

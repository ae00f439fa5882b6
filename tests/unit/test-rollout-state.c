/* rollout.json: a rollout round-trips; each kind of damage is refused
 * with -EBADMSG naming the field, and leaves the caller's struct alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout-state.h"

static const char good[] =
	"{\"version\":1,\"id\":\"r1796400000000\",\"target\":\"bot@2\",\"undo_of\":\"\","
	"\"phase\":\"running\",\"parallel\":4,\"max_failures\":1,\"canary\":1,"
	"\"health_timeout_ms\":60000,\"started_at\":1796400000000,\"ended_at\":0,"
	"\"halt_reason\":\"\",\"tenants\":["
	"{\"slug\":\"acme\",\"from\":\"bot@1\",\"to\":\"bot@2\",\"step\":\"moving\",\"canary\":true,"
	"\"failed\":false,\"at\":1796400000100,\"why\":\"\"},"
	"{\"slug\":\"beta\",\"from\":\"bot@1\",\"to\":\"bot@2\",\"step\":\"reverting\",\"canary\":false,"
	"\"failed\":true,\"at\":1796400000200,\"why\":\"it exited (exit, code 3)\"}]}";

static void test_round_trip(void **state)
{
	struct pt_rollout r, again;
	pt_err err = { 0 };
	char *text, *text2;

	(void)state;
	assert_int_equal(pt_rollout_parse(good, strlen(good), &r, &err), 0);
	assert_string_equal(r.target, "bot@2");
	assert_int_equal(r.phase, PT_ROLLOUT_RUNNING);
	assert_int_equal(r.n_tenants, 2);
	assert_int_equal(r.tenants[1].step, PT_RT_REVERTING);
	assert_true(r.tenants[1].failed);
	assert_int_equal(pt_rollout_count(&r, PT_RT_MOVING), 1);
	assert_int_equal(pt_rollout_failures(&r), 1);
	assert_true(pt_rollout_active(&r));
	assert_int_equal(pt_rollout_format(&r, &text), 0);
	assert_string_equal(text, good);
	assert_int_equal(pt_rollout_parse(text, strlen(text), &again, &err), 0);
	assert_int_equal(pt_rollout_format(&again, &text2), 0);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	pt_rollout_free(&r);
	pt_rollout_free(&again);
}

/* good with its first `from` replaced by `to`. */
static void expect_bad(const char *from, const char *to, const char *field)
{
	char text[sizeof(good) + 256];
	const char *at = strstr(good, from);
	struct pt_rollout r, before;
	pt_err err = { 0 };

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	memset(&r, 0x5a, sizeof(r));
	before = r;
	if (pt_rollout_parse(text, strlen(text), &r, &err) != -EBADMSG)
		fail_msg("accepted: %s", text);
	assert_memory_equal(&r, &before, sizeof(r));
	if (!strstr(err.msg, field))
		fail_msg("\"%s\" does not name %s", err.msg, field);
}

static void test_damage(void **state)
{
	(void)state;
	expect_bad("\"version\":1", "\"version\":2", "version");
	expect_bad("\"phase\":\"running\"", "\"phase\":\"sideways\"", "phase");
	expect_bad("\"parallel\":4", "\"parallel\":0", "do not hold together");
	expect_bad("\"parallel\":4", "\"parallel\":257", "parallel");
	expect_bad("\"parallel\":4", "\"parallel\":\"4\"", "parallel");
	expect_bad("\"target\":\"bot@2\"", "\"target\":\"bot\"", "do not hold together");
	expect_bad("\"health_timeout_ms\":60000", "\"health_timeout_ms\":5", "do not hold together");
	expect_bad("\"step\":\"moving\"", "\"step\":\"flying\"", "step");
	expect_bad("\"slug\":\"acme\"", "\"slug\":\"../etc\"", "tenants");
	expect_bad("\"from\":\"bot@1\"", "\"from\":\"bot@1@2\"", "tenants");
	expect_bad("\"canary\":true", "\"canary\":1", "canary");
	expect_bad("\"at\":1796400000100", "\"at\":-1", "at");
	expect_bad("\"why\":\"\"", "\"why\":\"a\\nb\"", "tenants");
	expect_bad("\"why\":\"\"", "\"why\":\"\",\"extra\":1", "8 fields");
	expect_bad("\"halt_reason\":\"\"", "\"halt_reason\":\"\",\"x\":1", "13 fields");
	expect_bad("\"tenants\":[", "\"tenants\":[],\"y\":[", "13 fields");
	expect_bad("{\"version\"", "\"x\" {\"version\"", "invalid JSON");
	expect_bad("]}", "]", "invalid JSON");
}

static void test_format_refuses(void **state)
{
	struct pt_rollout r;
	pt_err err = { 0 };
	char *text = NULL;

	(void)state;
	assert_int_equal(pt_rollout_parse(good, strlen(good), &r, &err), 0);
	r.parallel = 0;
	assert_int_equal(pt_rollout_format(&r, &text), -EINVAL);
	r.parallel = 4;
	snprintf(r.tenants[0].slug, sizeof(r.tenants[0].slug), "Bad Slug");
	assert_int_equal(pt_rollout_format(&r, &text), -EINVAL);
	assert_null(text);
	pt_rollout_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_format_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

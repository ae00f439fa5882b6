#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

/* Runs that crash right after starting: each lasts 10 ms. */
static uint64_t crash_at(struct pt_backoff *b, const struct pt_backoff_policy *p,
			 uint64_t now, bool *loop)
{
	return pt_backoff_next(b, p, now - 10, now, loop);
}

static void test_defaults(void **state)
{
	struct pt_backoff_policy p;

	(void)state;
	pt_backoff_policy_default(&p);
	assert_int_equal(p.initial_ms, 100);
	assert_int_equal(p.max_ms, 10000);
	assert_int_equal(p.burst, 5);
	assert_int_equal(p.window_ms, 60000);
	assert_int_equal(p.crashloop_ms, 30000);
}

static void test_exponential(void **state)
{
	/* burst high enough that crash-loop stays out of the way */
	struct pt_backoff_policy p = { 100, 10000, 32, 60000, 30000 };
	static const uint64_t want[] = { 0, 100, 200, 400, 800, 1600, 3200,
					 6400, 10000, 10000, 10000 };
	struct pt_backoff b;
	bool loop = true;

	(void)state;
	pt_backoff_reset(&b);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(crash_at(&b, &p, 1000 + i * 20, &loop), want[i]);
		assert_false(loop);
	}
	assert_int_equal(b.consecutive, 11);
}

static void test_crashloop_on_burst(void **state)
{
	struct pt_backoff_policy p;
	struct pt_backoff b;
	bool loop = true;

	(void)state;
	pt_backoff_policy_default(&p);
	pt_backoff_reset(&b);
	assert_int_equal(crash_at(&b, &p, 1000, &loop), 0);
	assert_false(loop);
	assert_int_equal(crash_at(&b, &p, 2000, &loop), 100);
	assert_false(loop);
	assert_int_equal(crash_at(&b, &p, 3000, &loop), 200);
	assert_false(loop);
	assert_int_equal(crash_at(&b, &p, 4000, &loop), 400);
	assert_false(loop);
	assert_int_equal(crash_at(&b, &p, 5000, &loop), 30000);
	assert_true(loop);
	assert_int_equal(crash_at(&b, &p, 36000, &loop), 30000);
	assert_true(loop);
}

static void test_healthy_run_resets(void **state)
{
	struct pt_backoff_policy p;
	struct pt_backoff b;
	bool loop = false;

	(void)state;
	pt_backoff_policy_default(&p);
	pt_backoff_reset(&b);
	for (uint64_t t = 1000; t <= 5000; t += 1000)
		crash_at(&b, &p, t, &loop);
	assert_true(loop);
	/* ran exactly window_ms: healthy enough */
	assert_int_equal(pt_backoff_next(&b, &p, 10000, 70000, &loop), 0);
	assert_false(loop);
	assert_int_equal(b.consecutive, 1);
	assert_int_equal(b.n, 1);
	assert_int_equal(crash_at(&b, &p, 71000, &loop), 100);
	assert_false(loop);
}

static void test_short_of_window_does_not_reset(void **state)
{
	struct pt_backoff_policy p;
	struct pt_backoff b;
	bool loop = true;

	(void)state;
	pt_backoff_policy_default(&p);
	pt_backoff_reset(&b);
	crash_at(&b, &p, 1000, &loop);
	assert_int_equal(pt_backoff_next(&b, &p, 1000, 60999, &loop), 100);
	assert_false(loop);
	assert_int_equal(b.consecutive, 2);
}

static void test_spread_crashes_no_crashloop(void **state)
{
	struct pt_backoff_policy p;
	struct pt_backoff b;
	bool loop = true;
	uint64_t d = 0;

	(void)state;
	pt_backoff_policy_default(&p);
	pt_backoff_reset(&b);
	/* One crash every 15 s: at most 4 in any 60 s window. Runs are
	 * short, so the exponential part keeps growing. */
	for (int i = 0; i < 20; i++) {
		d = crash_at(&b, &p, 100000 + (uint64_t)i * 15000, &loop);
		assert_false(loop);
	}
	assert_int_equal(d, 10000);
	/* a 5th crash that lands inside the window does trigger it */
	assert_int_equal(crash_at(&b, &p, 100000 + 19 * 15000 + 1, &loop), 30000);
	assert_true(loop);
}

static void test_window_edge(void **state)
{
	struct pt_backoff_policy p;
	struct pt_backoff b;
	bool loop = true;

	(void)state;
	pt_backoff_policy_default(&p);
	pt_backoff_reset(&b);
	/* the window is (now - 60000, now]: a crash exactly 60 s ago is out */
	for (uint64_t t = 0; t < 4; t++)
		crash_at(&b, &p, 100000 + t, &loop);
	assert_int_equal(crash_at(&b, &p, 160000, &loop), 800);
	assert_false(loop);
	/* ... and one a millisecond younger is in */
	pt_backoff_reset(&b);
	for (uint64_t t = 1; t <= 4; t++)
		crash_at(&b, &p, 100000 + t, &loop);
	assert_int_equal(crash_at(&b, &p, 160000, &loop), 30000);
	assert_true(loop);
}

static void test_no_overflow(void **state)
{
	struct pt_backoff_policy p = { UINT32_MAX, UINT32_MAX, 32, 60000, 30000 };
	struct pt_backoff b;
	bool loop = true;

	(void)state;
	pt_backoff_reset(&b);
	b.consecutive = 70;
	assert_int_equal(crash_at(&b, &p, 1000, &loop), UINT32_MAX);
	b.consecutive = UINT32_MAX - 1;
	assert_int_equal(crash_at(&b, &p, 1000000, &loop), UINT32_MAX);
	/* saturates rather than wrapping to "first crash" */
	assert_int_equal(crash_at(&b, &p, 2000000, &loop), UINT32_MAX);
	assert_int_equal(b.consecutive, UINT32_MAX);
	assert_false(loop);

	p.initial_ms = 100;
	p.max_ms = 10000;
	b.consecutive = 33;
	assert_int_equal(crash_at(&b, &p, 3000000, &loop), 10000);
}

static void test_null_crashloop_pointer(void **state)
{
	struct pt_backoff_policy p;
	struct pt_backoff b;

	(void)state;
	pt_backoff_policy_default(&p);
	pt_backoff_reset(&b);
	assert_int_equal(pt_backoff_next(&b, &p, 0, 10, NULL), 0);
	assert_int_equal(pt_backoff_next(&b, &p, 10, 20, NULL), 100);
}

static void test_ring_wraps(void **state)
{
	struct pt_backoff_policy p = { 100, 10000, 32, 60000, 30000 };
	struct pt_backoff b;
	bool loop = true;

	(void)state;
	pt_backoff_reset(&b);
	for (uint64_t i = 0; i < 31; i++)
		crash_at(&b, &p, 1000 + i, &loop);
	assert_false(loop);
	crash_at(&b, &p, 2000, &loop);
	assert_true(loop);
	for (uint64_t i = 0; i < 40; i++)
		crash_at(&b, &p, 3000 + i, &loop);
	assert_true(loop);
	assert_int_equal(b.n, PT_BACKOFF_HISTORY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_exponential),
		cmocka_unit_test(test_crashloop_on_burst),
		cmocka_unit_test(test_healthy_run_resets),
		cmocka_unit_test(test_short_of_window_does_not_reset),
		cmocka_unit_test(test_spread_crashes_no_crashloop),
		cmocka_unit_test(test_window_edge),
		cmocka_unit_test(test_no_overflow),
		cmocka_unit_test(test_null_crashloop_pointer),
		cmocka_unit_test(test_ring_wraps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

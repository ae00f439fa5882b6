#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "logbudget.h"

#define MS 1000000ULL
#define S 1000000000ULL

static void test_burst_then_rate(void **state)
{
	struct pt_logbudget b;

	(void)state;
	pt_logbudget_init(&b, 1000, 4000, 0);
	assert_int_equal(pt_logbudget_take(&b, 0, 10000), 4000);   /* the burst */
	assert_int_equal(pt_logbudget_take(&b, 0, 10), 0);         /* empty */
	assert_int_equal(pt_logbudget_take(&b, 500 * MS, 10000), 500);
	assert_int_equal(pt_logbudget_take(&b, 10 * S, 100000), 4000); /* capped at burst */
}

/* A writer at exactly the rate, in odd-sized pieces, loses nothing (the
 * burst absorbs the rounding of its timing), and the fractions of a byte
 * earned between its writes are never lost. */
static void test_steady_writer_loses_nothing(void **state)
{
	struct pt_logbudget b;
	uint64_t passed = 0, now = 0;

	(void)state;
	pt_logbudget_init(&b, 3000, 64, 0);
	for (uint64_t i = 1; i <= 3000; i++) {
		now = i * 7 * MS / 3;       /* every 2.333 ms: 7 bytes at 3000/s */
		passed += pt_logbudget_take(&b, now, 7);
	}
	assert_int_equal(passed, 3000 * 7);
	/* The first interval's bytes overflowed the full bucket, no more. */
	assert_int_equal(b.tokens, 64 - 7);
}

static void test_unlimited(void **state)
{
	struct pt_logbudget b;

	(void)state;
	pt_logbudget_init(&b, 0, 0, 0);
	assert_int_equal(pt_logbudget_take(&b, 0, UINT64_MAX / 2), UINT64_MAX / 2);
	assert_int_equal(pt_logbudget_wait_ns(&b, 0, 100), 0);
}

static void test_wait(void **state)
{
	struct pt_logbudget b;
	uint64_t w;

	(void)state;
	pt_logbudget_init(&b, 1000, 2000, 0);
	pt_logbudget_take(&b, 0, 2000);
	w = pt_logbudget_wait_ns(&b, 0, 500);
	assert_int_equal(w, 500 * MS);
	assert_int_equal(pt_logbudget_take(&b, w, 500), 500);
	/* More than the burst: waits for a full bucket only. */
	assert_int_equal(pt_logbudget_wait_ns(&b, w, 1 << 30), 2 * S);
}

static void test_live_change(void **state)
{
	struct pt_logbudget b;

	(void)state;
	pt_logbudget_init(&b, 1000, 4000, 0);
	pt_logbudget_take(&b, 0, 1000);                  /* 3000 left */
	pt_logbudget_set(&b, 100, 500, 0);              /* capped at the new burst */
	assert_int_equal(pt_logbudget_take(&b, 0, 10000), 500);
	assert_int_equal(pt_logbudget_take(&b, 1 * S, 10000), 100);
	pt_logbudget_set(&b, 0, 0, 2 * S);              /* unlimited */
	assert_int_equal(pt_logbudget_take(&b, 2 * S, 123456), 123456);
	pt_logbudget_set(&b, 10, 20, 3 * S);            /* limited again: a full bucket */
	assert_int_equal(pt_logbudget_take(&b, 3 * S, 100), 20);
	pt_logbudget_take(&b, 4 * S, 5);                /* 5 of 10 earned: 5 left */
	pt_logbudget_set(&b, 10, 1000, 4 * S);          /* raised: +980 at once */
	assert_int_equal(pt_logbudget_take(&b, 4 * S, 10000), 985);
}

/* Huge rates and long gaps do not overflow. */
static void test_no_overflow(void **state)
{
	struct pt_logbudget b;

	(void)state;
	pt_logbudget_init(&b, UINT64_MAX / 4, UINT64_MAX / 2, 0);
	pt_logbudget_take(&b, 0, UINT64_MAX);
	assert_int_equal(pt_logbudget_take(&b, UINT64_MAX / 2, UINT64_MAX), UINT64_MAX / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_steady_writer_loses_nothing),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_live_change),
		cmocka_unit_test(test_no_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

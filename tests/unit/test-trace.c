#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace.h"

/* Prints the trace into a string (open_memstream); the caller frees it. */
static char *printed(const struct pt_trace *t, const char *slug)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	pt_trace_print(t, slug, f);
	fclose(f);
	return buf;
}

static void test_disabled_is_a_no_op(void **state)
{
	struct pt_trace t;
	char *out;

	(void)state;
	pt_trace_init(&t, false);
	pt_trace_mark(&t, "step");
	pt_trace_mark(NULL, "step"); /* NULL: not traced */
	assert_int_equal(t.n, 0);
	out = printed(&t, "acme");
	assert_string_equal(out, "");
	free(out);
}

static void test_marks_in_order_relative_to_the_previous(void **state)
{
	struct pt_trace t;
	char *out;

	(void)state;
	pt_trace_init(&t, true);
	pt_trace_mark(&t, "a");
	pt_trace_mark(&t, "b-%d", 2);
	assert_int_equal(t.n, 2);
	/* Fixed times, so the printed deltas are exact. */
	t.start_ns = 1000000;
	t.marks[0].ns = 3500000;
	t.marks[1].ns = 3501000;
	out = printed(&t, "acme");
	assert_string_equal(out, "trace-spawn acme a 2.500 ms\n"
				 "trace-spawn acme b-2 0.001 ms\n");
	free(out);
}

static void test_step_names_have_no_spaces_and_are_cut(void **state)
{
	struct pt_trace t;
	char longname[100];

	(void)state;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pt_trace_init(&t, true);
	pt_trace_mark(&t, "two words\there");
	pt_trace_mark(&t, "%s", longname);
	assert_string_equal(t.marks[0].step, "two-words-here");
	assert_int_equal(strlen(t.marks[1].step), PT_TRACE_STEP_MAX - 1);
}

static void test_marks_past_the_maximum_are_dropped(void **state)
{
	struct pt_trace t;
	char last[16];

	(void)state;
	pt_trace_init(&t, true);
	for (int i = 0; i < PT_TRACE_MAX + 5; i++)
		pt_trace_mark(&t, "s%d", i);
	assert_int_equal(t.n, PT_TRACE_MAX);
	snprintf(last, sizeof(last), "s%d", PT_TRACE_MAX - 1);
	assert_string_equal(t.marks[PT_TRACE_MAX - 1].step, last);
}

static void test_clock_going_back_prints_zero(void **state)
{
	struct pt_trace t;
	char *out;

	(void)state;
	pt_trace_init(&t, true);
	pt_trace_mark(&t, "x");
	t.start_ns = t.marks[0].ns + 1000;
	out = printed(&t, "acme");
	assert_string_equal(out, "trace-spawn acme x 0.000 ms\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_is_a_no_op),
		cmocka_unit_test(test_marks_in_order_relative_to_the_previous),
		cmocka_unit_test(test_step_names_have_no_spaces_and_are_cut),
		cmocka_unit_test(test_marks_past_the_maximum_are_dropped),
		cmocka_unit_test(test_clock_going_back_prints_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The notify socket's messages (src/lib/notify-msg.c) and the ingress
 * channel's (src/lib/ingress-msg.c): what a tenant, or the ingress, may
 * say, and everything else refused or counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "notify-msg.h"

static int parse(const char *s, struct pt_notify_msg *m)
{
	return pt_notify_parse(s, strlen(s), m);
}

static void test_understood(void **state)
{
	struct pt_notify_msg m;

	(void)state;
	assert_int_equal(parse("READY=1", &m), 0);
	assert_true(m.ready);
	assert_int_equal(m.busy, -1);
	assert_int_equal(m.ignored, 0);
	assert_int_equal(parse("BUSY=1", &m), 0);
	assert_false(m.ready);
	assert_int_equal(m.busy, 1);
	assert_int_equal(parse("READY=1\nBUSY=1\nBUSY=0\n", &m), 0);
	assert_true(m.ready);
	assert_int_equal(m.busy, 0); /* the last one wins */
	assert_int_equal(m.ignored, 0);
	/* sd_notify's other keys are fine, and counted as not acted upon. */
	assert_int_equal(parse("STATUS=warming up\nREADY=1\nMAINPID=7", &m), 0);
	assert_true(m.ready);
	assert_int_equal(m.ignored, 2);
}

static void test_ignored(void **state)
{
	static const char *const lines[] = {
		"READY=0", "READY=11", "READY= 1", "ready=1", "BUSY=2", "BUSY=", "BUSY",
		"=1", "READY", "X-Y=1", "READY=1 ", " READY=1",
	};
	struct pt_notify_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(parse(lines[i], &m), 0);
		if (m.ready || m.busy != -1 || m.ignored != 1)
			fail_msg("\"%s\": ready %d busy %d ignored %u", lines[i], m.ready, m.busy,
				 m.ignored);
	}
	assert_int_equal(parse("\n\n\n", &m), 0);
	assert_int_equal(m.ignored, 0);
}

static void test_refused(void **state)
{
	char big[PT_NOTIFY_MSG_MAX + 1];
	struct pt_notify_msg m = { .ready = true, .busy = 7, .ignored = 9 }, before = m;

	(void)state;
	memset(big, 'A', sizeof(big));
	assert_int_equal(pt_notify_parse("", 0, &m), -EBADMSG);
	assert_int_equal(pt_notify_parse(big, sizeof(big), &m), -EBADMSG);
	assert_int_equal(pt_notify_parse("READY=1\0", 8, &m), -EBADMSG);
	assert_int_equal(parse("READY=1\r\n", &m), -EBADMSG);
	assert_int_equal(parse("BUSY=1\t", &m), -EBADMSG);
	assert_int_equal(parse("READY=1\x7f", &m), -EBADMSG);
	assert_memory_equal(&m, &before, sizeof(m)); /* untouched on refusal */
	big[0] = 'R';
	memcpy(big, "READY=1\n", 8);
	assert_int_equal(pt_notify_parse(big, PT_NOTIFY_MSG_MAX, &m), 0);
	assert_true(m.ready);
	assert_int_equal(m.ignored, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_understood),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The ingress channel's messages (src/lib/ingress-msg.c): exactly the
 * four forms, both ways, and nothing that merely resembles them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "ingress-msg.h"

static int parse(const char *s, bool to_daemon, struct pt_ingress_msg *m)
{
	return pt_ingress_msg_parse(s, strlen(s), to_daemon, m);
}

static void test_good(void **state)
{
	struct pt_ingress_msg m;
	char buf[PT_INGRESS_MSG_MAX + 1];

	(void)state;
	assert_int_equal(parse("wake acme", true, &m), 0);
	assert_int_equal(m.kind, PT_MSG_WAKE);
	assert_string_equal(m.slug, "acme");
	assert_int_equal(parse("active a-1", true, &m), 0);
	assert_int_equal(m.kind, PT_MSG_ACTIVE);
	assert_int_equal(parse("served a-1 17", true, &m), 0);
	assert_int_equal(m.kind, PT_MSG_SERVED);
	assert_int_equal(m.count, 17);
	assert_int_equal(pt_ingress_msg_format(&m, buf, sizeof(buf)), 13);
	assert_string_equal(buf, "served a-1 17");
	assert_int_equal(parse("served acme 1000000", true, &m), 0);
	m.count = 0;
	assert_int_equal(pt_ingress_msg_format(&m, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(parse("ready acme", false, &m), 0);
	assert_int_equal(m.kind, PT_MSG_READY);
	assert_int_equal(parse("fail acme tenant acme is stopped", false, &m), 0);
	assert_int_equal(m.kind, PT_MSG_FAIL);
	assert_string_equal(m.reason, "tenant acme is stopped");
	assert_int_equal(pt_ingress_msg_format(&m, buf, sizeof(buf)), 32);
	assert_string_equal(buf, "fail acme tenant acme is stopped");
	/* A reason is made printable and cut, never refused. */
	strcpy(m.reason, "bad\nline\x01");
	assert_true(pt_ingress_msg_format(&m, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "fail acme bad?line?");
}

static void test_bad(void **state)
{
	static const struct {
		const char *text;
		bool to_daemon;
	} bad[] = {
		{ "", true }, { "wake", true }, { "wake ", true }, { "wake  acme", true },
		{ "wake acme ", true }, { "wake acme x", true }, { "Wake acme", true },
		{ "wake ACME", true }, { "wake ../x", true }, { "wake a.b", true },
		{ "stop acme", true }, { "ready acme", true }, { "fail acme x", true },
		{ "wake acme", false }, { "active acme", false }, { "fail acme", false },
		{ "fail acme ", false }, { "fail acme \x01", false }, { "ready acme x", false },
		/* served: a count of 1 to 1000000, nothing else */
		{ "served acme", true }, { "served acme ", true }, { "served acme 0", true },
		{ "served acme 01", true }, { "served acme -1", true }, { "served acme 1000001", true },
		{ "served acme 99999999", true }, { "served acme 1x", true }, { "served acme 1 2", true },
		{ "served acme 5", false },
	};
	struct pt_ingress_msg m;
	char big[PT_INGRESS_MSG_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i].text, bad[i].to_daemon, &m) != -EBADMSG)
			fail_msg("\"%s\" (to daemon %d) was accepted", bad[i].text, bad[i].to_daemon);
	assert_int_equal(pt_ingress_msg_parse("wake ac\0me", 10, true, &m), -EBADMSG);
	memset(big, 'a', sizeof(big));
	memcpy(big, "wake ", 5);
	assert_int_equal(pt_ingress_msg_parse(big, sizeof(big), true, &m), -EBADMSG);
	memcpy(big, "active ", 7);
	assert_int_equal(pt_ingress_msg_parse(big, 7 + 64, true, &m), -EBADMSG); /* slug > 63 */
	assert_int_equal(pt_ingress_msg_parse(big, 7 + 63, true, &m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The usage ledger's lines and calendar: dates round-trip, month
 * boundaries and leap years, a line round-trips, damage is refused
 * naming the field, sums add. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "usage.h"

static void test_calendar(void **state)
{
	uint64_t day, first, end;
	char buf[11], month[8];

	(void)state;
	assert_int_equal(pt_day_parse("1970-01-01", &day), 0);
	assert_int_equal(day, 0);
	assert_int_equal(pt_day_parse("2026-12-04", &day), 0);
	pt_day_format(day, buf);
	assert_string_equal(buf, "2026-12-04");
	/* 2026-12-04T12:00:00Z */
	assert_int_equal(pt_day_of_ms(1796385600000ULL), day);
	/* The last millisecond of a day is still that day. */
	assert_int_equal(pt_day_of_ms((day + 1) * PT_DAY_MS - 1), day);
	assert_int_equal(pt_day_of_ms((day + 1) * PT_DAY_MS), day + 1);
	pt_day_format(day + 28, buf);
	assert_string_equal(buf, "2027-01-01");
	pt_month_of_day(day + 27, month);
	assert_string_equal(month, "2026-12");
	pt_month_of_day(day + 28, month);
	assert_string_equal(month, "2027-01");
	assert_int_equal(pt_month_parse("2026-12", &first, &end), 0);
	assert_int_equal(end - first, 31);
	assert_int_equal(pt_month_parse("2028-02", &first, &end), 0);
	assert_int_equal(end - first, 29);
	assert_int_equal(pt_month_parse("2100-02", &first, &end), 0);
	assert_int_equal(end - first, 28);
	assert_int_equal(pt_month_parse("2000-02", &first, &end), 0);
	assert_int_equal(end - first, 29);
	assert_int_equal(pt_day_parse("2028-02-29", &day), 0);
	assert_int_equal(pt_day_parse("2027-02-29", &day), -EINVAL);
	assert_int_equal(pt_day_parse("2026-13-01", &day), -EINVAL);
	assert_int_equal(pt_day_parse("2026-12-4", &day), -EINVAL);
	assert_int_equal(pt_day_parse("1969-12-31", &day), -EINVAL);
	assert_int_equal(pt_day_parse("2026-12-04T", &day), -EINVAL);
	assert_int_equal(pt_month_parse("2026-00", &first, &end), -EINVAL);
	assert_int_equal(pt_month_parse("2026-1", &first, &end), -EINVAL);
	assert_int_equal(pt_month_parse("26-12", &first, &end), -EINVAL);
}

static void test_line_round_trip(void **state)
{
	struct pt_usage_line l = { .slug = "acme" }, back;
	char buf[512];
	pt_err err = { 0 };
	int n;

	(void)state;
	pt_day_parse("2026-11-30", &l.day);
	l.u.state_ms[PT_US_ACTIVE] = 86399999;
	l.u.state_ms[PT_US_FROZEN] = 1;
	l.u.restarts = 3;
	l.u.incidents[PT_UI_OOM] = 2;
	l.u.incidents[PT_UI_UNHEALTHY] = 1;
	l.u.metered = true;
	l.u.cpu_us = 123456789;
	l.u.mem_byte_ms = 1ULL << 50;
	l.u.mem_peak = 268435456;
	n = pt_usage_line_format(&l, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "{\"day\":\"2026-11-30\",\"slug\":\"acme\",\"active_ms\":86399999,"
			    "\"frozen_ms\":1,\"asleep_ms\":0,\"stopped_ms\":0,\"crashloop_ms\":0,"
			    "\"restarts\":3,\"incidents\":{\"oom-killed\":2,\"unhealthy\":1},"
			    "\"cpu_us\":123456789,\"mem_byte_ms\":1125899906842624,"
			    "\"mem_peak\":268435456}");
	assert_int_equal(pt_usage_line_parse(buf, (size_t)n, &back, &err), 0);
	assert_memory_equal(&back, &l, sizeof(l));
	/* With a network link: its bytes, read back. */
	l.u.net_metered = true;
	l.u.net_in = 5000;
	l.u.net_out = 7;
	n = pt_usage_line_format(&l, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"net_in\":5000,\"net_out\":7}"));
	assert_int_equal(pt_usage_line_parse(buf, (size_t)n, &back, &err), 0);
	assert_memory_equal(&back, &l, sizeof(l));
	l.u.requests_metered = true;
	l.u.requests = 42;
	n = pt_usage_line_format(&l, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"requests\":42}"));
	assert_int_equal(pt_usage_line_parse(buf, (size_t)n, &back, &err), 0);
	assert_memory_equal(&back, &l, sizeof(l));
	l.u.requests_metered = false;
	l.u.requests = 0;
	l.u.net_metered = false;
	l.u.net_in = l.u.net_out = 0;
	/* Without budgets: no CPU or memory, and none read back. */
	l.u.metered = false;
	n = pt_usage_line_format(&l, buf, sizeof(buf));
	assert_null(strstr(buf, "cpu_us"));
	assert_int_equal(pt_usage_line_parse(buf, (size_t)n, &back, &err), 0);
	assert_false(back.u.metered);
	assert_int_equal(back.u.cpu_us, 0);
	assert_int_equal(pt_usage_line_format(&l, buf, 40), -ENOBUFS);
}

static void expect_bad(const char *line, const char *field)
{
	struct pt_usage_line l;
	pt_err err = { 0 };

	if (pt_usage_line_parse(line, strlen(line), &l, &err) != -EBADMSG)
		fail_msg("accepted: %s", line);
	assert_string_equal(err.field, field);
}

/* The longest line there can be fits the documented buffer. */
static void test_line_longest(void **state)
{
	struct pt_usage_line l = { .day = 2932896 /* 9999-12-31 */ };
	char buf[1024];

	(void)state;
	memset(l.slug, 'a', PT_SLUG_MAX);
	for (int i = 0; i < PT_US_N; i++)
		l.u.state_ms[i] = UINT64_MAX;
	for (int i = 0; i < PT_UI_N; i++)
		l.u.incidents[i] = UINT64_MAX;
	l.u.restarts = l.u.cpu_us = l.u.mem_byte_ms = l.u.mem_peak = UINT64_MAX;
	l.u.net_in = l.u.net_out = l.u.requests = UINT64_MAX;
	l.u.metered = l.u.net_metered = l.u.requests_metered = true;
	assert_true(pt_usage_line_format(&l, buf, sizeof(buf)) > 0);
}

static void test_line_damage(void **state)
{
	(void)state;
	expect_bad("{\"day\":\"2026-11-30\",\"slug\":\"acme\",\"active_ms\":1", "");
	expect_bad("[1]", "");
	expect_bad("{\"day\":\"2026-11-31\",\"slug\":\"acme\"}", "day");
	expect_bad("{\"day\":\"2026-11-30\",\"slug\":\"../x\"}", "slug");
	expect_bad("{\"day\":\"2026-11-30\",\"slug\":\"acme\",\"active_ms\":-1,\"frozen_ms\":0,"
		   "\"asleep_ms\":0,\"stopped_ms\":0,\"crashloop_ms\":0}", "active_ms");
	expect_bad("{\"day\":\"2026-11-30\",\"slug\":\"acme\",\"active_ms\":1,\"frozen_ms\":0,"
		   "\"asleep_ms\":0,\"stopped_ms\":0,\"crashloop_ms\":0,\"restarts\":0,"
		   "\"incidents\":{\"meteor\":1}}", "incidents");
	expect_bad("{\"day\":\"2026-11-30\",\"slug\":\"acme\",\"active_ms\":1,\"frozen_ms\":0,"
		   "\"asleep_ms\":0,\"stopped_ms\":0,\"crashloop_ms\":0,\"restarts\":0,"
		   "\"incidents\":{},\"cpu_us\":5}", "mem_byte_ms");
}

static void test_netdev(void **state)
{
	static const char text[] =
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo:    1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0\n"
		"ptv0a0002: 987654 321 0 0 0 0 0 0 123456 100 0 0 0 0 0 0\n"
		"ptv0a0002s:       5       1    0    0    0     0          0         0        7       1    0    0    0     0       0          0\n";
	uint64_t rx = 0, tx = 0;

	(void)state;
	assert_int_equal(pt_netdev_bytes(text, strlen(text), "ptv0a0002", &rx, &tx), 0);
	assert_int_equal(rx, 987654);
	assert_int_equal(tx, 123456);
	assert_int_equal(pt_netdev_bytes(text, strlen(text), "ptv0a0002s", &rx, &tx), 0);
	assert_int_equal(rx, 5);
	assert_int_equal(tx, 7);
	/* A prefix of a name is not the name. */
	assert_int_equal(pt_netdev_bytes(text, strlen(text), "ptv0a", &rx, &tx), -ENOENT);
	assert_int_equal(pt_netdev_bytes(text, strlen(text), "eth0", &rx, &tx), -ENOENT);
	assert_int_equal(pt_netdev_bytes("x: 1 2\n", 7, "x", &rx, &tx), -ENOENT);
}

static void test_add(void **state)
{
	struct pt_usage a = { .mem_peak = 10, .restarts = 1 }, b = { .mem_peak = 7, .metered = true };

	(void)state;
	a.state_ms[PT_US_ASLEEP] = 5;
	b.state_ms[PT_US_ASLEEP] = 6;
	b.incidents[PT_UI_EXIT] = 2;
	pt_usage_add(&a, &b);
	assert_int_equal(a.state_ms[PT_US_ASLEEP], 11);
	assert_int_equal(a.mem_peak, 10);
	assert_int_equal(a.incidents[PT_UI_EXIT], 2);
	assert_true(a.metered);
	assert_int_equal(pt_usage_incident_from_reason("oom-killed"), PT_UI_OOM);
	assert_int_equal(pt_usage_incident_from_reason("stopped"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_line_round_trip),
		cmocka_unit_test(test_line_longest),
		cmocka_unit_test(test_line_damage),
		cmocka_unit_test(test_netdev),
		cmocka_unit_test(test_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The Prometheus text: histograms cumulative with +Inf, sum and count;
 * the request route of the metrics port; listen addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "listen-addr.h"
#include "metrics-text.h"

static void test_histogram(void **state)
{
	static const double b[] = { 0.01, 0.1, 1 };
	struct pt_histogram h;
	struct pt_text t = { 0 };

	(void)state;
	pt_histogram_init(&h, b, 3);
	pt_histogram_observe(&h, 0.005);
	pt_histogram_observe(&h, 0.01);   /* on a bound: in it (le) */
	pt_histogram_observe(&h, 0.5);
	pt_histogram_observe(&h, 7);
	pt_histogram_render(&t, "x_seconds", "Some times.", &h);
	assert_false(t.oom);
	assert_string_equal(t.buf, "# HELP x_seconds Some times.\n# TYPE x_seconds histogram\n"
			    "x_seconds_bucket{le=\"0.01\"} 2\nx_seconds_bucket{le=\"0.1\"} 2\n"
			    "x_seconds_bucket{le=\"1\"} 3\nx_seconds_bucket{le=\"+Inf\"} 4\n"
			    "x_seconds_sum 7.515000\nx_seconds_count 4\n");
	pt_text_free(&t);
}

static void test_histogram_series(void **state)
{
	static const double b[] = { 0.5 };
	struct pt_histogram h;
	struct pt_text t = { 0 };

	(void)state;
	pt_histogram_init(&h, b, 1);
	pt_histogram_observe(&h, 0.25);
	pt_histogram_observe(&h, 2);
	pt_histogram_render_series(&t, "w_seconds", "slug=\"acme\"", &h);
	assert_string_equal(t.buf, "w_seconds_bucket{slug=\"acme\",le=\"0.5\"} 1\n"
			    "w_seconds_bucket{slug=\"acme\",le=\"+Inf\"} 2\n"
			    "w_seconds_sum{slug=\"acme\"} 2.250000\nw_seconds_count{slug=\"acme\"} 2\n");
	pt_text_free(&t);
}

static void test_text_grows(void **state)
{
	struct pt_text t = { 0 };

	(void)state;
	for (int i = 0; i < 10000; i++)
		pt_text_printf(&t, "line %d\n", i);
	assert_false(t.oom);
	assert_true(t.len > 60000);
	assert_non_null(strstr(t.buf, "line 9999\n"));
	assert_int_equal(strlen(t.buf), t.len);
	pt_text_free(&t);
}

static void test_route(void **state)
{
	static const struct {
		const char *head;
		int route;
	} cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", PT_METRICS_SERVE },
		{ "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", PT_METRICS_SERVE },
		{ "GET / HTTP/1.0\n\n", PT_METRICS_SERVE },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", PT_METRICS_INCOMPLETE },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", PT_METRICS_NOT_FOUND },
		{ "GET /../etc/passwd HTTP/1.1\r\n\r\n", PT_METRICS_NOT_FOUND },
		{ "POST /metrics HTTP/1.1\r\n\r\n", PT_METRICS_BAD_METHOD },
		{ "get /metrics HTTP/1.1\r\n\r\n", PT_METRICS_BAD_METHOD },
		{ "\r\n\r\n", PT_METRICS_BAD_METHOD },
	};
	char big[PT_METRICS_HEAD_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if ((int)pt_metrics_route(cases[i].head, strlen(cases[i].head)) != cases[i].route)
			fail_msg("\"%s\": not %d", cases[i].head, cases[i].route);
	memset(big, 'a', sizeof(big));
	assert_int_equal(pt_metrics_route(big, sizeof(big) - 1), PT_METRICS_INCOMPLETE);
	assert_int_equal(pt_metrics_route(big, sizeof(big)), PT_METRICS_TOO_BIG);
}

static void test_listen_addr(void **state)
{
	struct pt_listen_addr a;
	char why[200];

	(void)state;
	assert_int_equal(pt_listen_addr_parse("127.0.0.1:9464", &a, why, sizeof(why)), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(ntohs(a.u.in.sin_port), 9464);
	assert_int_equal(pt_listen_addr_parse("[::1]:9464", &a, why, sizeof(why)), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(pt_listen_addr_parse("unix:/run/ptenant/metrics.sock", &a, why, sizeof(why)), 0);
	assert_int_equal(a.family, AF_UNIX);
	assert_string_equal(a.u.un.sun_path, "/run/ptenant/metrics.sock");
	assert_int_equal(pt_listen_addr_parse("localhost:9464", &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "names are not resolved"));
	assert_int_equal(pt_listen_addr_parse("127.0.0.1:0", &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(pt_listen_addr_parse("127.0.0.1:65536", &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(pt_listen_addr_parse("127.0.0.1", &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(pt_listen_addr_parse("[::1:9464", &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(pt_listen_addr_parse("unix:relative.sock", &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(pt_listen_addr_parse("1.2.3.4:80x", &a, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_histogram_series),
		cmocka_unit_test(test_text_grows),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_listen_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The API's framing and request parsing: bounded, exact, never lenient. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"

static void test_linebuf_splits_records(void **state)
{
	struct pt_linebuf lb;
	char *line = NULL;
	size_t len = 0;

	(void)state;
	pt_linebuf_init(&lb, 64);
	assert_int_equal(pt_linebuf_feed(&lb, "ab", 2), 0);
	assert_int_equal(pt_linebuf_pop(&lb, &line, &len), 0);
	assert_int_equal(pt_linebuf_feed(&lb, "c\nde\nf", 6), 0);
	assert_int_equal(pt_linebuf_pop(&lb, &line, &len), 1);
	assert_string_equal(line, "abc");
	assert_int_equal(len, 3);
	free(line);
	assert_int_equal(pt_linebuf_pop(&lb, &line, &len), 1);
	assert_string_equal(line, "de");
	free(line);
	assert_int_equal(pt_linebuf_pop(&lb, &line, &len), 0);
	assert_int_equal(lb.len, 1);
	pt_linebuf_free(&lb);
}

static void test_linebuf_caps_a_record_without_newline(void **state)
{
	struct pt_linebuf lb;
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	pt_linebuf_init(&lb, 64);
	assert_int_equal(pt_linebuf_feed(&lb, big, 60), 0);
	assert_int_equal(pt_linebuf_feed(&lb, big, 5), -E2BIG);
	/* Complete records before the cap do not count against it. */
	pt_linebuf_free(&lb);
	pt_linebuf_init(&lb, 64);
	assert_int_equal(pt_linebuf_feed(&lb, big, 60), 0);
	assert_int_equal(pt_linebuf_feed(&lb, "\n", 1), 0);
	assert_int_equal(pt_linebuf_feed(&lb, big, 60), 0);
	pt_linebuf_free(&lb);
}

static void test_linebuf_empty_line(void **state)
{
	struct pt_linebuf lb;
	char *line = NULL;
	size_t len = 9;

	(void)state;
	pt_linebuf_init(&lb, 8);
	assert_int_equal(pt_linebuf_feed(&lb, "\n", 1), 0);
	assert_int_equal(pt_linebuf_pop(&lb, &line, &len), 1);
	assert_int_equal(len, 0);
	assert_string_equal(line, "");
	free(line);
	pt_linebuf_free(&lb);
}

static void expect_bad_request(const char *text, const char *field, const char *needle)
{
	json_t *req = (json_t *)0x1;
	const char *op = "untouched";
	pt_err err = { 0 };

	assert_int_equal(pt_api_parse_request(text, strlen(text), &req, &op, &err), -EINVAL);
	assert_ptr_equal(req, (json_t *)0x1);
	assert_string_equal(op, "untouched");
	assert_string_equal(err.field, field);
	assert_non_null(strstr(err.msg, needle));
}

static void test_parse_request_errors(void **state)
{
	(void)state;
	expect_bad_request("nope", "", "not valid JSON");
	expect_bad_request("[1,2]", "", "must be a JSON object");
	expect_bad_request("{}", "op", "\"op\"");
	expect_bad_request("{\"op\":3}", "op", "\"op\"");
	expect_bad_request("{\"op\":\"ls\",\"op\":\"rm\"}", "op",
			   "not valid JSON: key op appears twice");
}

/* The parser says only where; these name the field, never a flag name. */
static void test_parse_request_names_the_field(void **state)
{
	(void)state;
	expect_bad_request("{\"op\":\"create\",\"spec\":{\"port\":9223372036854775808}}",
			   "spec.port", "spec.port: integer out of range");
	expect_bad_request("{\"op\":\"x\",\"n\":-9223372036854775809}", "n",
			   "n: integer out of range");
	expect_bad_request("{\"op\":\"create\",\"spec\":{\"env\":{\"A\":\"1\",\"A\":\"2\"}}}",
			   "spec.env.A", "key spec.env.A appears twice");
	expect_bad_request("{\"op\":\"create\",\"spec\":{\"env\":{\"A\":\"x\\u0000y\"}}}",
			   "spec.env.A", "spec.env.A: a string holds a NUL byte");
	expect_bad_request("{\"op\":\"x\",\"args\":[\"a\",\"b\\u0000\"]}", "args[1]",
			   "args[1]: a string holds a NUL byte");
	expect_bad_request("{\"op\":\"x\\u0000\"}", "op", "op: a string holds a NUL byte");
}

static void path_is(const char *text, size_t pos, const char *want)
{
	char buf[PT_ERR_FIELD_MAX];

	pt_json_path_at(text, strlen(text), pos, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_json_path_at(void **state)
{
	/* Braces and commas inside strings, and escaped quotes, are text. */
	static const char t[] = "{\"a\":{\"b,}\":[1,{\"c\\\"d\":[0,0,5]}]},\"e\":2}";

	(void)state;
	path_is(t, 0, "");
	path_is(t, 1, "");
	path_is(t, strchr(t, '1') - t, "a.b,}[0]");
	path_is(t, strchr(t, '5') - t, "a.b,}[1].c\\\"d[2]");
	path_is(t, strrchr(t, '2') - t, "e");
	path_is(t, sizeof(t) - 1, "");
	path_is("[[1],[2,3", 9, "[1][1]");
}

static void test_parse_request_ok(void **state)
{
	const char *text = "{\"op\":\"inspect\",\"slug\":\"acme\"}";
	const char *op = NULL;
	json_t *req = NULL;

	(void)state;
	assert_int_equal(pt_api_parse_request(text, strlen(text), &req, &op, NULL), 0);
	assert_string_equal(op, "inspect");
	assert_string_equal(json_string_value(json_object_get(req, "slug")), "acme");
	json_decref(req);
}

static void test_error_response_shape(void **state)
{
	pt_err err = { 0 };
	json_t *resp, *e;

	(void)state;
	pt_err_field(&err, -EINVAL, "slug", "slug \"A\": upper-case");
	resp = pt_api_error_response(&err);
	assert_false(json_is_true(json_object_get(resp, "ok")));
	e = json_object_get(resp, "error");
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "invalid");
	assert_string_equal(json_string_value(json_object_get(e, "field")), "slug");
	assert_string_equal(json_string_value(json_object_get(e, "message")), "slug \"A\": upper-case");
	json_decref(resp);
	pt_err_set(&err, -ENOENT, "no tenant %s", "x");
	resp = pt_api_error_response(&err);
	e = json_object_get(resp, "error");
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "not_found");
	assert_null(json_object_get(e, "field"));
	json_decref(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linebuf_splits_records),
		cmocka_unit_test(test_linebuf_caps_a_record_without_newline),
		cmocka_unit_test(test_linebuf_empty_line),
		cmocka_unit_test(test_parse_request_errors),
		cmocka_unit_test(test_parse_request_names_the_field),
		cmocka_unit_test(test_json_path_at),
		cmocka_unit_test(test_parse_request_ok),
		cmocka_unit_test(test_error_response_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

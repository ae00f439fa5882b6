#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "format.h"

/* What cli_print_events writes for `events`, as one string. */
static char *events_table(json_t *events)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	cli_print_events(out, events);
	assert_int_equal(fclose(out), 0);
	return text;
}

static json_t *event(const char *time, const char *tenant, const char *name,
		     const char *reason, int code, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "time", time, "event", name);

	assert_non_null(o);
	if (tenant)
		json_object_set_new(o, "tenant", json_string(tenant));
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	if (code != -1)
		json_object_set_new(o, "code", json_integer(code));
	if (message)
		json_object_set_new(o, "message", json_string(message));
	return o;
}

/* The journal: blueprint-import is longer than the 12 columns the
 * table used to give EVENT, and pushed REASON and CODE out of line. */
static void test_events_exact(void **state)
{
	_cleanup_json_ json_t *a = json_array();
	_cleanup_free_ char *text = NULL;

	(void)state;
	json_array_append_new(a, event("2026-12-02T06:37:10.001Z", NULL, "blueprint-import",
				       NULL, -1, "echo-bot@1"));
	json_array_append_new(a, event("2026-12-02T06:37:16.738Z", "acme", "create", NULL, -1,
				       "blueprint echo-bot@1"));
	json_array_append_new(a, event("2026-12-02T06:41:02.517Z", "acme", "exit", "signal", 9,
				       "killed by signal 9 (Killed)"));
	json_array_append_new(a, event("2026-12-02T06:41:02.524Z", "acme", "respawn", NULL, -1,
				       NULL));
	text = events_table(a);
	assert_string_equal(text,
		"TIME                     TENANT EVENT            REASON CODE MESSAGE\n"
		"2026-12-02T06:37:10.001Z -      blueprint-import -         - echo-bot@1\n"
		"2026-12-02T06:37:16.738Z acme   create           -         - blueprint echo-bot@1\n"
		"2026-12-02T06:41:02.517Z acme   exit             signal    9 killed by signal 9 (Killed)\n"
		"2026-12-02T06:41:02.524Z acme   respawn          -         -\n");
}

/* Offset of the n-th (0-based) column of a line: columns are separated
 * by a run of blanks, and no value holds one. */
static size_t column_start(const char *line, int n)
{
	size_t i = 0;

	for (int c = 0; c < n; c++) {
		while (line[i] && line[i] != ' ')
			i++;
		while (line[i] == ' ')
			i++;
	}
	return i;
}

/* Left-aligned columns start where their header does, and CODE ends where
 * its header ends, whatever the lengths of slugs and names. */
static void test_events_aligned(void **state)
{
	_cleanup_json_ json_t *a = json_array();
	_cleanup_free_ char *text = NULL;
	size_t header_len, code_end;
	char *line, *save = NULL;

	(void)state;
	json_array_append_new(a, event("2026-12-02T06:37:16.738Z", "a-rather-long-tenant-slug",
				       "create", NULL, -1, NULL));
	json_array_append_new(a, event("2026-12-02T06:37:17.000Z", "b", "start-failed",
				       "spawn-failed", -1, "tenant b: clone3: no"));
	json_array_append_new(a, event("2026-12-02T06:37:18.000Z", "b", "exit", "oom-killed",
				       137, "x"));
	text = events_table(a);
	line = strtok_r(text, "\n", &save);
	assert_non_null(line);
	header_len = strlen(line);
	code_end = strstr(line, "CODE") + 4 - line;
	for (size_t n = 0; (line = strtok_r(NULL, "\n", &save)); n++) {
		assert_int_equal(column_start(line, 1), 25);
		assert_int_equal(column_start(line, 2), 25 + strlen("a-rather-long-tenant-slug") + 1);
		assert_int_equal(column_start(line, 3), column_start(line, 2) + strlen("start-failed") + 1);
		/* CODE right-aligned: its last character under the header's. */
		assert_int_equal(column_start(line, 4) + strcspn(line + column_start(line, 4), " "),
				 code_end);
		assert_true(strlen(line) <= header_len || line[code_end] == ' ');
	}
}

static void test_events_empty(void **state)
{
	_cleanup_json_ json_t *a = json_array();
	_cleanup_free_ char *text = NULL;

	(void)state;
	text = events_table(a);
	assert_string_equal(text, "TIME TENANT EVENT REASON CODE MESSAGE\n");
}

/* The case: the respawned tenant's own peak is 1.1 MiB, its last
 * run died at 128 MiB. */
static void test_last_oom(void **state)
{
	_cleanup_json_ json_t *t = NULL;
	char buf[160] = "untouched";

	(void)state;
	t = json_pack("{s:s, s:I, s:{s:I, s:I, s:I}}", "slug", "small",
		      "memory_peak", (json_int_t)1153433, "last_oom",
		      "at", (json_int_t)1796196195043,
		      "memory_peak", (json_int_t)134217728,
		      "memory_max", (json_int_t)134217728);
	assert_non_null(t);
	assert_true(cli_format_last_oom(t, buf, sizeof(buf)));
	assert_string_equal(buf, "small: last OOM: 128.0 MiB peak (of 128.0 MiB) at "
			    "2026-12-02T07:23:15.043Z");
}

static void test_last_oom_none(void **state)
{
	_cleanup_json_ json_t *t = json_pack("{s:s, s:I}", "slug", "fine",
					     "memory_peak", (json_int_t)1153433);
	char buf[32] = "untouched";

	(void)state;
	assert_false(cli_format_last_oom(t, buf, sizeof(buf)));
	assert_string_equal(buf, "untouched");
	/* A partial object (an older daemon, a future change) shows nothing
	 * rather than zeros. */
	json_object_set_new(t, "last_oom", json_pack("{s:I}", "at", (json_int_t)1));
	assert_false(cli_format_last_oom(t, buf, sizeof(buf)));
	assert_string_equal(buf, "untouched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_exact),
		cmocka_unit_test(test_events_aligned),
		cmocka_unit_test(test_events_empty),
		cmocka_unit_test(test_last_oom),
		cmocka_unit_test(test_last_oom_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "events.h"

struct fixture {
	char dir[64];
	char path[96];
	int fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-events-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/events.jsonl", f->dir);
	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void append(struct fixture *f, uint64_t ts, const char *tenant,
		   const char *event, const char *reason, int code,
		   const char *message)
{
	struct pt_event ev = { ts, tenant, event, reason, code, message };
	pt_err err = { 0 };

	assert_int_equal(pt_events_append(f->fd, &ev, &err), 0);
}

static json_t *read_events(struct fixture *f, const char *tenant, size_t max)
{
	json_t *a = NULL;

	assert_int_equal(pt_events_read(f->path, tenant, max, &a, NULL), 0);
	assert_non_null(a);
	assert_true(json_is_array(a));
	return a;
}

static const char *str(json_t *a, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(a, i), key));
}

static json_int_t num(json_t *a, size_t i, const char *key)
{
	json_t *v = json_object_get(json_array_get(a, i), key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* The whole file, NUL-terminated. */
static char *slurp(const char *path, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, f);
	if (ret_len)
		*ret_len = n;
	return buf;
}

static void raw_write(struct fixture *f, const char *text)
{
	assert_int_equal(write(f->fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void add_three(struct fixture *f)
{
	append(f, 1796184491123ULL, "acme", "exit", "signal", 9, "killed by SIGKILL");
	append(f, 1796184492000ULL, "beta", "create", NULL, -1, NULL);
	append(f, 1796184493500ULL, "acme", "respawn", NULL, -1, "attempt 2");
}

static void test_time_format(void **state)
{
	char buf[32];

	(void)state;
	pt_format_time_ms(1796184491123ULL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02T04:08:11.123Z");
	pt_format_time_ms(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	pt_format_time_ms(951782400999ULL, buf, sizeof(buf));
	assert_string_equal(buf, "2000-02-29T00:00:00.999Z");
	pt_format_time_ms(5, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.005Z");
}

static void test_line_format(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *text = NULL;

	add_three(f);
	append(f, 1000, NULL, "daemon-start", NULL, 0, NULL);
	text = slurp(f->path, NULL);
	assert_string_equal(text,
		"{\"time\":\"2026-12-02T04:08:11.123Z\",\"ts\":1796184491123,"
		"\"tenant\":\"acme\",\"event\":\"exit\",\"reason\":\"signal\","
		"\"code\":9,\"message\":\"killed by SIGKILL\"}\n"
		"{\"time\":\"2026-12-02T04:08:12.000Z\",\"ts\":1796184492000,"
		"\"tenant\":\"beta\",\"event\":\"create\"}\n"
		"{\"time\":\"2026-12-02T04:08:13.500Z\",\"ts\":1796184493500,"
		"\"tenant\":\"acme\",\"event\":\"respawn\",\"message\":\"attempt 2\"}\n"
		"{\"time\":\"1970-01-01T00:00:01.000Z\",\"ts\":1000,"
		"\"event\":\"daemon-start\",\"code\":0}\n");
}

static void test_read_all_filtered_and_last(void **state)
{
	struct fixture *f = *state;
	json_t *a;

	add_three(f);
	a = read_events(f, NULL, 0);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(str(a, 0, "event"), "exit");
	assert_string_equal(str(a, 0, "reason"), "signal");
	assert_int_equal(num(a, 0, "code"), 9);
	assert_int_equal(num(a, 0, "ts"), 1796184491123LL);
	assert_string_equal(str(a, 1, "tenant"), "beta");
	assert_string_equal(str(a, 2, "event"), "respawn");
	json_decref(a);

	a = read_events(f, "acme", 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(str(a, 0, "event"), "exit");
	assert_string_equal(str(a, 1, "event"), "respawn");
	json_decref(a);

	a = read_events(f, "beta", 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(str(a, 0, "event"), "create");
	json_decref(a);

	a = read_events(f, "nobody", 0);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	a = read_events(f, NULL, 1);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(str(a, 0, "event"), "respawn");
	json_decref(a);

	a = read_events(f, NULL, 2);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(str(a, 0, "event"), "create");
	assert_string_equal(str(a, 1, "event"), "respawn");
	json_decref(a);

	a = read_events(f, "beta", 1);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(str(a, 0, "event"), "create");
	json_decref(a);

	/* More asked for than there are. */
	a = read_events(f, "acme", 1000000);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(str(a, 0, "event"), "exit");
	json_decref(a);
}

static void test_ring_wraps(void **state)
{
	struct fixture *f = *state;
	json_t *a;

	for (int i = 0; i < 250; i++)
		append(f, (uint64_t)i, i % 2 ? "odd" : "even", "tick", NULL, i, NULL);
	a = read_events(f, "odd", 7);
	assert_int_equal(json_array_size(a), 7);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(num(a, i, "code"), 237 + 2 * (json_int_t)i);
	json_decref(a);
	a = read_events(f, NULL, 0);
	assert_int_equal(json_array_size(a), 250);
	json_decref(a);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[128];
	json_t *a = NULL;
	pt_err err = { 0 };

	snprintf(path, sizeof(path), "%s/nothing.jsonl", f->dir);
	assert_int_equal(pt_events_read(path, NULL, 0, &a, &err), 0);
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	/* A directory is an error that names it. */
	a = NULL;
	assert_int_equal(pt_events_read(f->dir, NULL, 0, &a, &err), -EISDIR);
	assert_non_null(strstr(err.msg, f->dir));
	assert_null(a);
}

static void test_torn_lines_skipped(void **state)
{
	struct fixture *f = *state;
	json_t *a;

	add_three(f);
	raw_write(f, "{\"time\":\"2026-12-02T04:08:14.000Z\",\"ts\":17961844940");
	a = read_events(f, NULL, 0);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(str(a, 2, "event"), "respawn");
	json_decref(a);

	/* The next record lands on the torn line, and is still found. */
	append(f, 1796184495000ULL, "acme", "stop", NULL, -1, "a {\"time\": in text");
	a = read_events(f, "acme", 0);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(str(a, 2, "event"), "stop");
	assert_string_equal(str(a, 2, "message"), "a {\"time\": in text");
	json_decref(a);

	/* Lines that are JSON but not records, and junk. */
	raw_write(f, "[1,2]\n42\n\n\"str\"\nnot json at all\n\x01\xff\n");
	append(f, 1796184496000ULL, "beta", "stop", NULL, -1, NULL);
	a = read_events(f, NULL, 0);
	assert_int_equal(json_array_size(a), 5);
	assert_string_equal(str(a, 4, "tenant"), "beta");
	json_decref(a);
}

static void assert_fits(struct fixture *f, const char *message, const char *tail)
{
	_cleanup_free_ char *text = NULL;
	json_t *a, *rec;
	const char *got;
	size_t len;

	append(f, 42, "acme", "exit", "exit", 1, message);
	text = slurp(f->path, &len);
	assert_true(len <= 8192);
	assert_int_equal(text[len - 1], '\n');
	assert_null(memchr(text, '\n', len - 1));
	rec = json_loadb(text, len, 0, NULL);
	assert_non_null(rec);
	got = json_string_value(json_object_get(rec, "message"));
	assert_non_null(got);
	assert_true(strlen(got) > 1000);
	assert_string_equal(got + strlen(got) - strlen(tail), tail);
	assert_int_equal(json_integer_value(json_object_get(rec, "code")), 1);
	json_decref(rec);
	a = read_events(f, NULL, 0);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	assert_int_equal(ftruncate(f->fd, 0), 0);
}

static void test_message_truncated(void **state)
{
	static const char empty[] =
		"{\"time\":\"1970-01-01T00:00:00.042Z\",\"ts\":42,\"tenant\":\"acme\","
		"\"event\":\"exit\",\"reason\":\"exit\",\"code\":1,\"message\":\"\"}\n";
	struct fixture *f = *state;
	_cleanup_free_ char *msg = malloc(30001);
	_cleanup_free_ char *text = NULL;
	size_t len, fit = 8192 - strlen(empty);

	assert_non_null(msg);
	/* Plain bytes. */
	memset(msg, 'x', 30000);
	msg[30000] = '\0';
	assert_fits(f, msg, "xxx...");

	/* Control characters: six bytes each once escaped. */
	memset(msg, '\x01', 30000);
	assert_fits(f, msg, "\x01...");

	/* Multibyte characters are cut whole (jansson would refuse a
	 * half one when reading it back). */
	for (size_t i = 0; i + 2 <= 30000; i += 2)
		memcpy(msg + i, "\xc3\xa9", 2);
	assert_fits(f, msg, "\xc3\xa9...");

	/* A line of exactly 8 KiB is kept whole; one byte more is cut. */
	memset(msg, 'y', 30000);
	msg[fit] = '\0';
	append(f, 42, "acme", "exit", "exit", 1, msg);
	text = slurp(f->path, &len);
	assert_int_equal(len, 8192);
	assert_non_null(strstr(text, "yyy\"}\n"));
	free(text);
	assert_int_equal(ftruncate(f->fd, 0), 0);
	msg[fit] = 'y';
	msg[fit + 1] = '\0';
	assert_fits(f, msg, "yyy...");
	text = NULL;
}

static void test_invalid_utf8_replaced(void **state)
{
	struct fixture *f = *state;
	json_t *a;

	append(f, 1, "acme", "exit", NULL, -1, "bad \xff\xfe bytes \xed\xa0\x80 end");
	a = read_events(f, NULL, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(str(a, 0, "message"),
			    "bad \xef\xbf\xbd\xef\xbf\xbd bytes "
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end");
	json_decref(a);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct pt_event ev = { 1, "acme", NULL, NULL, -1, NULL };
	pt_err err = { 0 };
	int fd;

	assert_int_equal(pt_events_append(f->fd, &ev, &err), -EINVAL);
	ev.event = "exit";
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pt_events_append(fd, &ev, &err), -EBADF);
	assert_int_equal(err.code, -EBADF);
	close(fd);
}

static void test_journal_priority(void **state)
{
	(void)state;
	struct { const char *event, *reason; int code, want; } cases[] = {
		{ "crash-loop", NULL, -1, LOG_ERR },
		{ "exit", "oom-killed", 9, LOG_ERR },
		{ "start-failed", "spawn-failed", -1, LOG_ERR },
		{ "rm-failed", NULL, -1, LOG_ERR },
		{ "state-save-failed", NULL, -1, LOG_ERR },
		{ "log-limited", NULL, -1, LOG_WARNING },
		{ "unhealthy", "unhealthy", -1, LOG_WARNING },
		{ "exit", "unhealthy", 15, LOG_WARNING },
		{ "healthy", NULL, -1, LOG_INFO },
		{ "exit", "signal", 9, LOG_WARNING },
		{ "exit", "exit", 3, LOG_WARNING },
		{ "exit", "unknown", -1, LOG_WARNING },
		{ "exit", "exit", 0, LOG_INFO },
		/* The operator's own stop is no warning, whatever ended the bot. */
		{ "stopped", "signal", 15, LOG_INFO },
		{ "stopped", "signal", 9, LOG_INFO },
		{ "create", NULL, -1, LOG_INFO },
		{ "respawn", NULL, -1, LOG_INFO },
		{ "log-resumed", NULL, -1, LOG_INFO },
		{ "state-saved", NULL, -1, LOG_INFO },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_event ev = { .tenant = "acme", .event = cases[i].event,
				       .reason = cases[i].reason, .code = cases[i].code };

		assert_int_equal(pt_event_priority(&ev), cases[i].want);
	}
}

/* The fields joined with '|', for one comparison per case. */
static void journal_fields(const struct pt_event *ev, char *buf, size_t size)
{
	char *fields[PT_EVENT_JOURNAL_FIELDS_MAX];
	int n = pt_event_journal_fields(ev, fields, PT_EVENT_JOURNAL_FIELDS_MAX);

	assert_true(n > 0);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		strncat(buf, fields[i], size - strlen(buf) - 1);
		if (i + 1 < n)
			strncat(buf, "|", size - strlen(buf) - 1);
	}
	pt_event_journal_fields_free(fields, (size_t)n);
}

static void test_journal_fields(void **state)
{
	(void)state;
	char buf[1024];
	struct pt_event exit3 = { .tenant = "acme", .event = "exit", .reason = "exit",
				  .code = 3, .message = "exited with status 3" };
	struct pt_event oom = { .tenant = "acme", .event = "exit", .reason = "oom-killed", .code = 9 };
	struct pt_event import = { .event = "blueprint-import", .code = -1, .message = "echo-bot@1" };
	struct pt_event empty = { .tenant = "", .event = "create", .reason = "", .code = -1 };

	journal_fields(&exit3, buf, sizeof(buf));
	assert_string_equal(buf, "MESSAGE=tenant acme: exit: exited with status 3|PRIORITY=4|"
			    "PTENANT_EVENT=exit|PTENANT_TENANT=acme|PTENANT_REASON=exit|"
			    "PTENANT_EXIT_CODE=3");
	journal_fields(&oom, buf, sizeof(buf));
	assert_string_equal(buf, "MESSAGE=tenant acme: exit|PRIORITY=3|PTENANT_EVENT=exit|"
			    "PTENANT_TENANT=acme|PTENANT_REASON=oom-killed|PTENANT_SIGNAL=9");
	/* A daemon event: no tenant, no reason, no code fields at all. */
	journal_fields(&import, buf, sizeof(buf));
	assert_string_equal(buf, "MESSAGE=blueprint-import: echo-bot@1|PRIORITY=6|"
			    "PTENANT_EVENT=blueprint-import");
	/* Empty strings count as absent, never as "PTENANT_TENANT=". */
	journal_fields(&empty, buf, sizeof(buf));
	assert_null(strstr(buf, "PTENANT_TENANT="));
	assert_null(strstr(buf, "PTENANT_REASON="));
}

static void test_journal_fields_bounded(void **state)
{
	(void)state;
	char *fields[2];
	struct pt_event ev = { .tenant = "acme", .event = "exit", .reason = "exit", .code = 1 };

	assert_int_equal(pt_event_journal_fields(&ev, fields, 2), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_journal_priority),
		cmocka_unit_test(test_journal_fields),
		cmocka_unit_test(test_journal_fields_bounded),
		cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_all_filtered_and_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_lines_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

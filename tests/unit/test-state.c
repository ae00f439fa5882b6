#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "state.h"

static const struct pt_tenant_state sample = {
	.host_uid = 100000,
	.desired = PT_DESIRED_RUNNING,
	.pid = 4242,
	.pid_starttime = 123456789,
	.started_at = 1796184491123ULL,
	.restarts = 3,
	.last_exit = PT_EXIT_SIGNAL,
	.last_code = 9,
	.last_exit_at = 1796184490000ULL,
};

static void assert_state_equal(const struct pt_tenant_state *a,
			       const struct pt_tenant_state *b)
{
	assert_int_equal(a->host_uid, b->host_uid);
	assert_int_equal(a->desired, b->desired);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->pid_starttime, b->pid_starttime);
	assert_int_equal(a->started_at, b->started_at);
	assert_int_equal(a->restarts, b->restarts);
	assert_int_equal(a->last_exit, b->last_exit);
	assert_int_equal(a->last_code, b->last_code);
	assert_int_equal(a->last_exit_at, b->last_exit_at);
}

/* Parsing text must fail with -EBADMSG naming field (in err.field and
 * err.msg; "" for syntax errors) and leave *ret as it was. */
static void assert_rejected(const char *text, size_t len, const char *field)
{
	struct pt_tenant_state s, guard;
	pt_err err = { 0 };

	memset(&s, 0xA5, sizeof(s));
	memcpy(&guard, &s, sizeof(s));
	assert_int_equal(pt_state_parse(text, len, &s, &err), -EBADMSG);
	assert_int_equal(err.code, -EBADMSG);
	assert_memory_equal(&s, &guard, sizeof(s));
	assert_true(err.msg[0] != '\0');
	if (field) {
		assert_string_equal(err.field, field);
		assert_non_null(strstr(err.msg, field));
	}
}

static char *sample_text(void)
{
	char *text = NULL;

	assert_int_equal(pt_state_format(&sample, &text), 0);
	return text;
}

/* The sample, as a jansson object, for mutation. */
static json_t *sample_json(void)
{
	_cleanup_free_ char *text = sample_text();
	json_t *o = json_loads(text, 0, NULL);

	assert_non_null(o);
	return o;
}

static void assert_json_rejected(json_t *o, const char *field)
{
	char *text = json_dumps(o, JSON_COMPACT);

	assert_non_null(text);
	assert_rejected(text, strlen(text), field);
	free(text);
	json_decref(o);
}

/* Sets (value != NULL) or deletes the dotted field in the sample. */
static void assert_mutation_rejected(const char *field, json_t *value)
{
	json_t *o = sample_json();
	json_t *target = o;
	const char *key = field;

	if (strncmp(field, "last_exit.", 10) == 0) {
		target = json_object_get(o, "last_exit");
		key = field + 10;
	}
	if (value)
		json_object_set_new(target, key, value);
	else
		json_object_del(target, key);
	assert_json_rejected(o, field);
}

static const char *const fields[] = {
	"version", "host_uid", "desired", "pid", "pid_starttime", "started_at",
	"restarts", "last_exit", "last_exit.reason", "last_exit.code",
	"last_exit.at",
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pt_exit_reason_name(PT_EXIT_NONE), "none");
	assert_string_equal(pt_exit_reason_name(PT_EXIT_CODE), "exit");
	assert_string_equal(pt_exit_reason_name(PT_EXIT_SIGNAL), "signal");
	assert_string_equal(pt_exit_reason_name(PT_EXIT_OOM), "oom-killed");
	assert_string_equal(pt_exit_reason_name(PT_EXIT_SPAWN_FAILED), "spawn-failed");
	assert_string_equal(pt_exit_reason_name(PT_EXIT_UNKNOWN), "unknown");
	assert_null(pt_exit_reason_name((enum pt_exit_reason)42));
	assert_string_equal(pt_desired_name(PT_DESIRED_RUNNING), "running");
	assert_string_equal(pt_desired_name(PT_DESIRED_STOPPED), "stopped");
	assert_null(pt_desired_name((enum pt_desired)7));
}

static void test_round_trip(void **state)
{
	int n = 0;

	(void)state;
	for (int r = PT_EXIT_NONE; r <= PT_EXIT_UNKNOWN; r++)
		for (int d = PT_DESIRED_RUNNING; d <= PT_DESIRED_STOPPED; d++) {
			struct pt_tenant_state in = sample, out;
			char *text = NULL;
			size_t len;

			in.last_exit = (enum pt_exit_reason)r;
			in.desired = (enum pt_desired)d;
			in.last_code = r == PT_EXIT_CODE ? -1 : r;
			in.pid = d == PT_DESIRED_STOPPED ? 0 : 1000 + r;
			assert_int_equal(pt_state_format(&in, &text), 0);
			len = strlen(text);
			assert_true(len > 2);
			assert_int_equal(text[len - 1], '\n');
			assert_non_null(strstr(text, pt_exit_reason_name(in.last_exit)));
			assert_non_null(strstr(text, pt_desired_name(in.desired)));
			assert_int_equal(pt_state_parse(text, len, &out, NULL), 0);
			assert_state_equal(&in, &out);
			free(text);
			n++;
		}
	assert_int_equal(n, 12);
}

static void test_extremes(void **state)
{
	struct pt_tenant_state in = sample, out;
	char *text = NULL;

	(void)state;
	in.host_uid = UINT32_MAX - 65535;
	in.pid = INT_MAX;
	in.pid_starttime = INT64_MAX;
	in.started_at = 0;
	in.restarts = UINT32_MAX;
	in.last_code = INT_MIN;
	in.last_exit_at = INT64_MAX;
	assert_int_equal(pt_state_format(&in, &text), 0);
	assert_int_equal(pt_state_parse(text, strlen(text), &out, NULL), 0);
	assert_state_equal(&in, &out);
	free(text);
}

static void test_format_refuses_invalid(void **state)
{
	struct pt_tenant_state s = sample;
	char *text = NULL;

	(void)state;
	s.host_uid = 0;
	assert_int_equal(pt_state_format(&s, &text), -EINVAL);
	s = sample;
	s.host_uid = UINT32_MAX - 65534;
	assert_int_equal(pt_state_format(&s, &text), -EINVAL);
	s = sample;
	s.pid = -1;
	assert_int_equal(pt_state_format(&s, &text), -EINVAL);
	s = sample;
	s.last_exit = (enum pt_exit_reason)99;
	assert_int_equal(pt_state_format(&s, &text), -EINVAL);
	s = sample;
	s.desired = (enum pt_desired)2;
	assert_int_equal(pt_state_format(&s, &text), -EINVAL);
	s = sample;
	s.started_at = UINT64_MAX;
	assert_int_equal(pt_state_format(&s, &text), -EINVAL);
	assert_null(text);
}

static void test_every_prefix_rejected(void **state)
{
	_cleanup_free_ char *text = sample_text();
	size_t end = strlen(text);
	struct pt_tenant_state s;

	(void)state;
	while (end > 0 && text[end] != '}')
		end--;
	/* Everything short of the closing brace is torn. */
	for (size_t n = 0; n <= end; n++)
		assert_rejected(text, n, NULL);
	assert_int_equal(pt_state_parse(text, end + 1, &s, NULL), 0);
	assert_int_equal(pt_state_parse(text, strlen(text), &s, NULL), 0);
}

static void test_syntax_error_has_position(void **state)
{
	pt_err err = { 0 };
	struct pt_tenant_state s;
	const char *text = "{\n  \"version\": 1,\n  \"host_uid\": ]\n}\n";

	(void)state;
	assert_int_equal(pt_state_parse(text, strlen(text), &s, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "line 3"));
	assert_non_null(strstr(err.msg, "column"));
	assert_string_equal(err.field, "");

	assert_rejected("", 0, NULL);
	assert_rejected("[]", 2, NULL);
	assert_rejected("null", 4, NULL);
	assert_rejected("{}garbage", 9, NULL);
	/* A NUL in the middle of the text. */
	assert_rejected("{\"version\":\0 1}", 15, NULL);
}

static void test_missing_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_FIELDS; i++)
		assert_mutation_rejected(fields[i], NULL);
}

static void test_wrong_types(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_FIELDS; i++) {
		/* Strings where numbers belong, numbers where strings do. */
		assert_mutation_rejected(fields[i], json_string("1"));
		assert_mutation_rejected(fields[i], json_real(1.0));
		assert_mutation_rejected(fields[i], json_null());
		assert_mutation_rejected(fields[i], json_true());
		assert_mutation_rejected(fields[i], json_array());
	}
	assert_mutation_rejected("last_exit", json_integer(0));
	assert_mutation_rejected("desired", json_integer(0));
	assert_mutation_rejected("last_exit.reason", json_integer(1));
}

static void test_out_of_range(void **state)
{
	(void)state;
	assert_mutation_rejected("version", json_integer(2));
	assert_mutation_rejected("version", json_integer(0));
	assert_mutation_rejected("version", json_integer(-1));
	assert_mutation_rejected("host_uid", json_integer(0));
	assert_mutation_rejected("host_uid", json_integer((json_int_t)UINT32_MAX - 65534));
	assert_mutation_rejected("pid", json_integer(-1));
	assert_mutation_rejected("pid", json_integer((json_int_t)INT_MAX + 1));
	assert_mutation_rejected("pid_starttime", json_integer(-5));
	assert_mutation_rejected("started_at", json_integer(-1));
	assert_mutation_rejected("restarts", json_integer(-1));
	assert_mutation_rejected("restarts", json_integer((json_int_t)UINT32_MAX + 1));
	assert_mutation_rejected("last_exit.code", json_integer((json_int_t)INT_MAX + 1));
	assert_mutation_rejected("last_exit.code", json_integer((json_int_t)INT_MIN - 1));
	assert_mutation_rejected("last_exit.at", json_integer(-1));
	assert_mutation_rejected("desired", json_string("paused"));
	assert_mutation_rejected("desired", json_string(""));
	assert_mutation_rejected("last_exit.reason", json_string("exploded"));
	assert_mutation_rejected("last_exit.reason", json_string("Signal"));
	assert_mutation_rejected("veth_slot", json_integer(2));
	assert_mutation_rejected("veth_slot", json_integer(-1));
	assert_mutation_rejected("veth_slot", json_string("1"));
	assert_mutation_rejected("idle", json_string("awake"));
	assert_mutation_rejected("idle", json_string("Frozen"));
	assert_mutation_rejected("idle", json_string(""));
	assert_mutation_rejected("idle", json_integer(1));
	assert_mutation_rejected("idle", json_null());
	assert_mutation_rejected("healthy_at", json_integer(-1));
	assert_mutation_rejected("healthy_at", json_string("1"));
}

/* The idle stage: written only when frozen or asleep, read back. */
static void test_idle_state(void **state)
{
	struct pt_tenant_state s = sample, back;
	_cleanup_free_ char *awake = NULL, *frozen = NULL, *asleep = NULL;
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_state_format(&s, &awake), 0);
	assert_null(strstr(awake, "\"idle\""));
	s.idle = PT_IDLE_FROZEN;
	assert_int_equal(pt_state_format(&s, &frozen), 0);
	assert_non_null(strstr(frozen, "\"idle\": \"frozen\""));
	s.idle = PT_IDLE_ASLEEP;
	assert_int_equal(pt_state_format(&s, &asleep), 0);
	assert_non_null(strstr(asleep, "\"idle\": \"asleep\""));
	assert_int_equal(pt_state_parse(frozen, strlen(frozen), &back, &err), 0);
	assert_int_equal(back.idle, PT_IDLE_FROZEN);
	assert_int_equal(pt_state_parse(asleep, strlen(asleep), &back, &err), 0);
	assert_int_equal(back.idle, PT_IDLE_ASLEEP);
	assert_int_equal(pt_state_parse(awake, strlen(awake), &back, &err), 0);
	assert_int_equal(back.idle, PT_IDLE_AWAKE);
	s.idle = (enum pt_idle_state)7;
	assert_int_equal(pt_state_format(&s, &awake /* unchanged on error */), -EINVAL);
}

/* Health: the run's first pass is kept (absent: none), and an
 * "unhealthy" end reads back. */
static void test_health_state(void **state)
{
	struct pt_tenant_state s = sample, back;
	_cleanup_free_ char *none = NULL, *healthy = NULL;
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_state_format(&s, &none), 0);
	assert_null(strstr(none, "healthy_at"));
	s.healthy_at = 1764000000123ULL;
	s.last_exit = PT_EXIT_UNHEALTHY;
	assert_int_equal(pt_state_format(&s, &healthy), 0);
	assert_non_null(strstr(healthy, "\"healthy_at\": 1764000000123"));
	assert_non_null(strstr(healthy, "\"reason\": \"unhealthy\""));
	assert_int_equal(pt_state_parse(healthy, strlen(healthy), &back, &err), 0);
	assert_int_equal(back.healthy_at, 1764000000123ULL);
	assert_int_equal(back.last_exit, PT_EXIT_UNHEALTHY);
	assert_int_equal(pt_state_parse(none, strlen(none), &back, &err), 0);
	assert_int_equal(back.healthy_at, 0);
}

/* The standby's slot: written only when 1 (older files have none and
 * mean 0), read back as written. */
static void test_veth_slot(void **state)
{
	struct pt_tenant_state s = sample, back;
	_cleanup_free_ char *text0 = NULL, *text1 = NULL;
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_state_format(&s, &text0), 0);
	assert_null(strstr(text0, "veth_slot"));
	s.veth_slot = 1;
	assert_int_equal(pt_state_format(&s, &text1), 0);
	assert_non_null(strstr(text1, "\"veth_slot\": 1"));
	assert_int_equal(pt_state_parse(text1, strlen(text1), &back, &err), 0);
	assert_int_equal(back.veth_slot, 1);
	assert_int_equal(pt_state_parse(text0, strlen(text0), &back, &err), 0);
	assert_int_equal(back.veth_slot, 0);
	s.veth_slot = 2;
	assert_int_equal(pt_state_format(&s, &text0 /* unchanged on error */), -EINVAL);
}

static void test_messages(void **state)
{
	json_t *o = sample_json();
	char *text;
	pt_err err = { 0 };
	struct pt_tenant_state s;

	(void)state;
	json_object_set_new(o, "pid", json_integer(-3));
	text = json_dumps(o, 0);
	assert_int_equal(pt_state_parse(text, strlen(text), &s, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "field pid: expected a non-negative integer"));
	free(text);

	json_object_set_new(o, "pid", json_integer(1));
	json_object_set_new(o, "version", json_integer(2));
	text = json_dumps(o, 0);
	assert_int_equal(pt_state_parse(text, strlen(text), &s, &err), -EBADMSG);
	assert_string_equal(err.field, "version");
	assert_non_null(strstr(err.msg, "2"));
	free(text);
	json_decref(o);
}

static void test_unknown_and_duplicate_fields(void **state)
{
	json_t *o = sample_json();
	_cleanup_free_ char *text = sample_text();
	_cleanup_free_ char *dup = NULL;

	(void)state;
	json_object_set_new(o, "colour", json_string("blue"));
	assert_json_rejected(o, "colour");
	o = sample_json();
	json_object_set_new(json_object_get(o, "last_exit"), "signal", json_integer(9));
	assert_json_rejected(o, "last_exit.signal");

	/* "pid" twice: the second would silently win. */
	assert_true(asprintf(&dup, "{\"pid\":1,%s", text + 1) > 0);
	assert_rejected(dup, strlen(dup), NULL);
}

/* ---- files ----------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void test_save_load(void **state)
{
	char dir[] = "/tmp/test-state-XXXXXX";
	struct pt_tenant_state out, guard;
	pt_err err = { 0 };
	struct stat st;
	int dirfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);

	assert_int_equal(pt_state_load(dirfd, &out, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "state.json"));

	assert_int_equal(pt_state_save(dirfd, &sample, &err), 0);
	assert_int_equal(fstatat(dirfd, "state.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(pt_state_load(dirfd, &out, &err), 0);
	assert_state_equal(&sample, &out);

	/* Saving again replaces it. */
	out.restarts = 4;
	out.desired = PT_DESIRED_STOPPED;
	assert_int_equal(pt_state_save(dirfd, &out, &err), 0);
	assert_int_equal(pt_state_load(dirfd, &guard, &err), 0);
	assert_state_equal(&out, &guard);

	/* A torn file on disk. */
	fd = openat(dirfd, "state.json", O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"version\":1,", 13), 13);
	close(fd);
	memset(&out, 0x5A, sizeof(out));
	memcpy(&guard, &out, sizeof(out));
	assert_int_equal(pt_state_load(dirfd, &out, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "state.json"));
	assert_memory_equal(&out, &guard, sizeof(out));
	assert_int_equal(pt_state_load(dirfd, &out, NULL), -EBADMSG);

	/* A state that cannot be written is refused before the disk. */
	out = sample;
	out.host_uid = 0;
	assert_int_equal(pt_state_save(dirfd, &out, &err), -EINVAL);

	close(dirfd);
	assert_int_equal(nftw(dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_veth_slot),
		cmocka_unit_test(test_idle_state),
		cmocka_unit_test(test_health_state),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_format_refuses_invalid),
		cmocka_unit_test(test_every_prefix_rejected),
		cmocka_unit_test(test_syntax_error_has_position),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_unknown_and_duplicate_fields),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

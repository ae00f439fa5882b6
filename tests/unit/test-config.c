#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "config.h"

static int parse(struct pt_config *c, const char *text, pt_err *err)
{
	return pt_config_parse(c, text, strlen(text), "test.conf", err);
}

static void test_defaults(void **state)
{
	struct pt_config c;

	(void)state;
	memset(&c, 0xaa, sizeof(c));
	pt_config_defaults(&c);
	assert_string_equal(c.state_dir, "/var/lib/ptenant");
	assert_string_equal(c.runtime_dir, "/run/ptenant");
	assert_string_equal(c.api_group, "ptenant");
	assert_int_equal(c.uid_base, 1000000000);
	assert_int_equal(c.uid_ranges, 4096);
	assert_int_equal(c.log_max_bytes, 1024 * 1024);
	assert_int_equal(c.log_keep, 3);
	assert_int_equal(c.stop_grace_ms, 10000);
	assert_int_equal(c.backoff.initial_ms, 100);
	assert_int_equal(c.backoff.max_ms, 10000);
	assert_int_equal(c.backoff.burst, 5);
	assert_int_equal(c.backoff.window_ms, 60000);
	assert_int_equal(c.backoff.crashloop_ms, 30000);
	assert_int_equal(c.default_memory_max, 512ULL * 1024 * 1024);
	assert_int_equal(c.default_cpu_millis, 1000);
	assert_int_equal(c.default_pids_max, 512);
	assert_int_equal(c.default_log_rate, 64 * 1024);
	assert_int_equal(c.default_log_burst, 1024 * 1024);
	assert_int_equal(c.spawn_timeout_ms, 30000);
	assert_int_equal(c.spawn_concurrency, 0);
	assert_int_equal(c.daemon_nice, -10);
}

static void test_full_file(void **state)
{
	static const char text[] =
		"state_dir = /srv/ptenant/state\n"
		"runtime_dir = /run/pt\n"
		"api_group = pt-admins_2\n"
		"uid_base = 200000\n"
		"uid_ranges = 100\n"
		"log_max_bytes = 4M\n"
		"log_keep = 7\n"
		"stop_grace_ms = 2500\n"
		"restart_initial_ms = 50\n"
		"restart_max_ms = 5000\n"
		"crashloop_burst = 8\n"
		"crashloop_window_ms = 120000\n"
		"crashloop_delay_ms = 90000\n"
		"default_memory_max = 2GiB\n"
		"default_cpu = 0.25\n"
		"default_pids_max = 1024\n"
		"default_log_rate = 0\n"
		"default_log_burst = 4K\n"
		"spawn_timeout_ms = 100\n"
		"spawn_concurrency = 16\n"
		"daemon_nice = -20\n";
	struct pt_config c;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_int_equal(parse(&c, text, &err), 0);
	assert_string_equal(c.state_dir, "/srv/ptenant/state");
	assert_string_equal(c.runtime_dir, "/run/pt");
	assert_string_equal(c.api_group, "pt-admins_2");
	assert_int_equal(c.uid_base, 200000);
	assert_int_equal(c.uid_ranges, 100);
	assert_int_equal(c.log_max_bytes, 4 * 1024 * 1024);
	assert_int_equal(c.log_keep, 7);
	assert_int_equal(c.stop_grace_ms, 2500);
	assert_int_equal(c.backoff.initial_ms, 50);
	assert_int_equal(c.backoff.max_ms, 5000);
	assert_int_equal(c.backoff.burst, 8);
	assert_int_equal(c.backoff.window_ms, 120000);
	assert_int_equal(c.backoff.crashloop_ms, 90000);
	assert_int_equal(c.default_memory_max, 2ULL * 1024 * 1024 * 1024);
	assert_int_equal(c.default_cpu_millis, 250);
	assert_int_equal(c.default_pids_max, 1024);
	assert_int_equal(c.default_log_rate, 0);
	assert_int_equal(c.default_log_burst, 4096);
	assert_int_equal(c.spawn_timeout_ms, 100);
	assert_int_equal(c.spawn_concurrency, 16);
	assert_int_equal(c.daemon_nice, -20);
}

static void test_syntax(void **state)
{
	static const char text[] =
		"# full-line comment\n"
		"\n"
		"   \t\n"
		"   # indented comment\n"
		"\tstate_dir\t=\t/srv/a   # trailing comment\n"
		"runtime_dir=\"/run/with space#x\"  # quoted keeps '#'\n"
		"api_group = \"\"\n"
		"log_max_bytes=64K\r\n"
		"default_memory_max = \"1024KB\"\n"
		"default_cpu = 2\n"
		"uid_ranges = 12#not-a-comment-so-bad";
	struct pt_config c, want;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	/* '#' glued to a value is part of it; so the last line is an error */
	assert_int_equal(parse(&c, text, &err), -EINVAL);
	assert_string_equal(err.msg,
		"test.conf:11: key 'uid_ranges': '12#not-a-comment-so-bad' is not a valid number");

	/* without that line, and with no final newline */
	pt_config_defaults(&c);
	assert_int_equal(pt_config_parse(&c, text, strstr(text, "uid_ranges") - text - 1,
					 "test.conf", &err), 0);
	assert_string_equal(c.state_dir, "/srv/a");
	assert_string_equal(c.runtime_dir, "/run/with space#x");
	assert_string_equal(c.api_group, "");
	assert_int_equal(c.log_max_bytes, 64 * 1024);
	assert_int_equal(c.default_memory_max, 1024 * 1024);
	assert_int_equal(c.default_cpu_millis, 2000);
	pt_config_defaults(&want);
	assert_int_equal(c.uid_ranges, want.uid_ranges);

	/* an empty text and a comment-only text change nothing */
	assert_int_equal(pt_config_parse(&want, "", 0, "test.conf", &err), 0);
	assert_int_equal(parse(&want, "# nothing\n\n", &err), 0);
	pt_config_defaults(&c);
	assert_memory_equal(&c, &want, sizeof(c));
}

static void test_values(void **state)
{
	static const struct {
		const char *line;
		size_t offset;
		uint64_t want;
		int is64;
	} cases[] = {
		{ "log_max_bytes = 4096", offsetof(struct pt_config, log_max_bytes), 4096, 1 },
		{ "log_max_bytes = 8192B", offsetof(struct pt_config, log_max_bytes), 8192, 1 },
		{ "log_max_bytes = 1G", offsetof(struct pt_config, log_max_bytes), 1ULL << 30, 1 },
		{ "log_max_bytes = 5k", offsetof(struct pt_config, log_max_bytes), 5120, 1 },
		{ "default_memory_max = 1T", offsetof(struct pt_config, default_memory_max), 1ULL << 40, 1 },
		{ "default_memory_max = 3MiB", offsetof(struct pt_config, default_memory_max), 3ULL << 20, 1 },
		{ "default_cpu = 0.001", offsetof(struct pt_config, default_cpu_millis), 1, 0 },
		{ "default_cpu = 1.5", offsetof(struct pt_config, default_cpu_millis), 1500, 0 },
		{ "default_cpu = 3.14", offsetof(struct pt_config, default_cpu_millis), 3140, 0 },
		{ "default_cpu = 007", offsetof(struct pt_config, default_cpu_millis), 7000, 0 },
		{ "uid_base = 65536", offsetof(struct pt_config, uid_base), 65536, 0 },
		{ "stop_grace_ms = 0", offsetof(struct pt_config, stop_grace_ms), 0, 0 },
		{ "stop_grace_ms = 600000", offsetof(struct pt_config, stop_grace_ms), 600000, 0 },
	};
	pt_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_config c;
		uint64_t got64 = 0;
		uint32_t got32 = 0;

		pt_config_defaults(&c);
		assert_int_equal(parse(&c, cases[i].line, &err), 0);
		if (cases[i].is64) {
			memcpy(&got64, (char *)&c + cases[i].offset, sizeof(got64));
			assert_int_equal(got64, cases[i].want);
		} else {
			memcpy(&got32, (char *)&c + cases[i].offset, sizeof(got32));
			assert_int_equal(got32, cases[i].want);
		}
	}
}

/* Each bad text must fail with exactly this message, name the key in
 * err.field, and leave the struct as it was. */
static void test_respawn_standby(void **state)
{
	struct pt_config c, before;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_int_equal(c.respawn_standby, 0);
	assert_int_equal(parse(&c, "respawn_standby = on\n", &err), 0);
	assert_int_equal(c.respawn_standby, 1);
	assert_int_equal(parse(&c, "respawn_standby = off\n", &err), 0);
	assert_int_equal(c.respawn_standby, 0);
	before = c;
	pt_err_clear(&err);
	assert_int_equal(parse(&c, "respawn_standby = 1\n", &err), -EINVAL);
	assert_string_equal(err.msg, "test.conf:1: key 'respawn_standby': '1' is not on or off");
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_metrics_listen(void **state)
{
	struct pt_config c;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_string_equal(c.metrics_listen, "");
	assert_int_equal(parse(&c, "metrics_listen = 127.0.0.1:9464\n", &err), 0);
	assert_string_equal(c.metrics_listen, "127.0.0.1:9464");
	pt_config_defaults(&c);
	assert_int_equal(parse(&c, "metrics_listen = unix:/run/ptenant/metrics.sock\n", &err), 0);
	pt_config_defaults(&c);
	assert_int_equal(parse(&c, "metrics_listen = off\n", &err), 0);
	assert_string_equal(c.metrics_listen, "");
	pt_config_defaults(&c);
	pt_err_clear(&err);
	assert_int_equal(parse(&c, "metrics_listen = localhost:9464\n", &err), -EINVAL);
	assert_string_equal(err.msg, "test.conf:1: key 'metrics_listen': 'localhost' is not an IPv4 "
			    "address (names are not resolved)");
	assert_string_equal(c.metrics_listen, "");
}

static void test_idle_defaults(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "idle_freeze_after = 10\n", "test.conf:1: key 'idle_freeze_after': '10' is not a duration like 30s, 10m or 2h, or off" },
		{ "idle_stop_after = 400d\n", "test.conf:1: key 'idle_stop_after': '400d' is not a duration like 30s, 10m or 2h, or off" },
		{ "idle_wake_timeout = off\n", "test.conf:1: key 'idle_wake_timeout': 'off' is not a duration like 30s, 10m or 2h" },
		{ "idle_wake_timeout = 50ms\n", "test.conf:1: key 'idle_wake_timeout': 50ms out of range (100 ms..3600000 ms)" },
		{ "idle_wake_timeout = 2h\n", "test.conf:1: key 'idle_wake_timeout': 2h out of range (100 ms..3600000 ms)" },
	};
	struct pt_config c;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_true(c.idle_freeze_after_ms == 0 && c.idle_stop_after_ms == 0);
	assert_true(c.idle_wake_timeout_ms == 30000);
	assert_int_equal(parse(&c, "idle_freeze_after = 10m\nidle_stop_after = 6h\n"
			       "idle_wake_timeout = 5s\n", &err), 0);
	assert_true(c.idle_freeze_after_ms == 600000 && c.idle_stop_after_ms == 21600000);
	assert_true(c.idle_wake_timeout_ms == 5000);
	pt_config_defaults(&c);
	assert_int_equal(parse(&c, "idle_freeze_after = off\n", &err), 0);
	assert_true(c.idle_freeze_after_ms == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pt_config before;

		pt_config_defaults(&c);
		before = c;
		pt_err_clear(&err);
		assert_int_equal(parse(&c, bad[i].text, &err), -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

static void test_cgroup_keys(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "cgroup_mode = v3\n", "test.conf:1: key 'cgroup_mode': 'v3' is not one of auto, v2, v1, off" },
		{ "cgroup_mode =\n", "test.conf:1: key 'cgroup_mode': '' is not one of auto, v2, v1, off" },
		{ "cgroup_parent = ptenant\n", "test.conf:1: key 'cgroup_parent': must be an absolute path" },
		{ "cgroup_parent = /\n", "test.conf:1: key 'cgroup_parent': must be a cgroup path like /ptenant (not /, no empty or dot-led components)" },
		{ "cgroup_parent = /a//b\n", "test.conf:1: key 'cgroup_parent': must be a cgroup path like /ptenant (not /, no empty or dot-led components)" },
		{ "cgroup_parent = /a/\n", "test.conf:1: key 'cgroup_parent': must be a cgroup path like /ptenant (not /, no empty or dot-led components)" },
		{ "cgroup_parent = /a/../b\n", "test.conf:1: key 'cgroup_parent': must not contain '..'" },
		{ "cgroup_parent = /a/.hidden\n", "test.conf:1: key 'cgroup_parent': must be a cgroup path like /ptenant (not /, no empty or dot-led components)" },
		{ "cgroup_parent = \"/a b\"\n", "test.conf:1: key 'cgroup_parent': character ' ' not allowed in a cgroup path" },
		{ "cgroup_mode = v1\ncgroup_mode = v2\n", "test.conf:2: key 'cgroup_mode': duplicate key" },
	};
	struct pt_config c;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_int_equal(c.cgroup_mode, PT_CG_AUTO);
	assert_string_equal(c.cgroup_parent, "");
	assert_int_equal(parse(&c, "cgroup_mode = off\ncgroup_parent = /system.slice/ptenant-test_1@x:y\n", &err), 0);
	assert_int_equal(c.cgroup_mode, PT_CG_OFF);
	assert_string_equal(c.cgroup_parent, "/system.slice/ptenant-test_1@x:y");
	assert_int_equal(parse(&c, "cgroup_mode = v1\ncgroup_parent = \"\"\n", &err), 0);
	assert_int_equal(c.cgroup_mode, PT_CG_V1);
	assert_string_equal(c.cgroup_parent, "");
	assert_int_equal(pt_config_set(&c, "cgroup_mode", "v2", &err), 0);
	assert_int_equal(c.cgroup_mode, PT_CG_V2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pt_config before;

		pt_config_defaults(&c);
		before = c;
		pt_err_clear(&err);
		assert_int_equal(parse(&c, bad[i].text, &err), -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
		assert_memory_equal(&c, &before, sizeof(c)); /* nothing applied */
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *field, *msg;
	} cases[] = {
		{ "log_keep = 4\nbogus = 1\n", "bogus",
		  "test.conf:2: key 'bogus': unknown key" },
		{ "log_keep = 4\n\nlog_keep = 5\n", "log_keep",
		  "test.conf:3: key 'log_keep': duplicate key" },
		{ "# c\nstate_dir /srv/x\n", "state_dir",
		  "test.conf:2: key 'state_dir': missing '='" },
		{ "state_dir = srv/x\n", "state_dir",
		  "test.conf:1: key 'state_dir': must be an absolute path" },
		{ "runtime_dir = /run/../etc\n", "runtime_dir",
		  "test.conf:1: key 'runtime_dir': must not contain '..'" },
		{ "runtime_dir = /run/..\n", "runtime_dir",
		  "test.conf:1: key 'runtime_dir': must not contain '..'" },
		{ "state_dir =\n", "state_dir",
		  "test.conf:1: key 'state_dir': must be an absolute path" },
		{ "uid_ranges = 5000\nlog_keep = 1\nuid_base = 4000000000\n", "uid_base",
		  "test.conf:3: key 'uid_base': uid_base 4000000000 + uid_ranges 5000 * 65536 passes 4294967295" },
		{ "uid_base = 4000000000\nuid_ranges = 5000\n", "uid_ranges",
		  "test.conf:2: key 'uid_ranges': uid_base 4000000000 + uid_ranges 5000 * 65536 passes 4294967295" },
		{ "uid_base = 65535\n", "uid_base",
		  "test.conf:1: key 'uid_base': 65535 out of range 65536..4294967295" },
		{ "log_max_bytes = 10X\n", "log_max_bytes",
		  "test.conf:1: key 'log_max_bytes': '10X' is not a valid size" },
		{ "log_max_bytes = 1023\n", "log_max_bytes",
		  "test.conf:1: key 'log_max_bytes': 1023 out of range 4096..1073741824" },
		{ "default_memory_max = 99999999999999999999K\n", "default_memory_max",
		  "test.conf:1: key 'default_memory_max': '99999999999999999999K' is not a valid size" },
		{ "default_memory_max = 16777216T\n", "default_memory_max",
		  "test.conf:1: key 'default_memory_max': '16777216T' is not a valid size" },
		{ "api_group = Admins\n", "api_group",
		  "test.conf:1: key 'api_group': not a valid group name" },
		{ "api_group = 1pt\n", "api_group",
		  "test.conf:1: key 'api_group': not a valid group name" },
		{ "default_cpu = 0.0001\n", "default_cpu",
		  "test.conf:1: key 'default_cpu': '0.0001' is not a valid cpu value" },
		{ "default_cpu = 0\n", "default_cpu",
		  "test.conf:1: key 'default_cpu': 0 out of range 1..1024000" },
		{ "default_cpu = 1.\n", "default_cpu",
		  "test.conf:1: key 'default_cpu': '1.' is not a valid cpu value" },
		{ "log_keep = 101\n", "log_keep",
		  "test.conf:1: key 'log_keep': 101 out of range 1..100" },
		{ "log_keep = -1\n", "log_keep",
		  "test.conf:1: key 'log_keep': '-1' is not a valid number" },
		{ "crashloop_burst = 33\n", "crashloop_burst",
		  "test.conf:1: key 'crashloop_burst': 33 out of range 1..32" },
		{ "stop_grace_ms = 600001\n", "stop_grace_ms",
		  "test.conf:1: key 'stop_grace_ms': 600001 out of range 0..600000" },
		{ "state_dir = \"/srv/x\n", "state_dir",
		  "test.conf:1: key 'state_dir': unterminated quoted value" },
		{ "state_dir = \"/srv/x\" y\n", "state_dir",
		  "test.conf:1: key 'state_dir': text after the quoted value" },
		{ " = 5\n", "",
		  "test.conf:1: key '': empty key" },
		{ "daemon_nice = -21\n", "daemon_nice",
		  "test.conf:1: key 'daemon_nice': -21 out of range -20..19" },
		{ "daemon_nice = 20\n", "daemon_nice",
		  "test.conf:1: key 'daemon_nice': 20 out of range -20..19" },
		{ "daemon_nice = --1\n", "daemon_nice",
		  "test.conf:1: key 'daemon_nice': '--1' is not a nice value (-20 to 19)" },
		{ "daemon_nice = +5\n", "daemon_nice",
		  "test.conf:1: key 'daemon_nice': '+5' is not a nice value (-20 to 19)" },
		{ "daemon_nice = -\n", "daemon_nice",
		  "test.conf:1: key 'daemon_nice': '-' is not a nice value (-20 to 19)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_config c, before;
		pt_err err = { 0 };

		pt_config_defaults(&c);
		c.log_keep = 9; /* not a default: shows nothing was written */
		before = c;
		assert_int_equal(parse(&c, cases[i].text, &err), -EINVAL);
		assert_int_equal(err.code, -EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		assert_string_equal(err.field, cases[i].field);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

static void test_long_path(void **state)
{
	char text[400], path[300];
	struct pt_config c, before;
	pt_err err = { 0 };

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[256] = '\0'; /* 256 chars: one too many for char[256] */
	snprintf(text, sizeof(text), "state_dir = %s\n", path);
	pt_config_defaults(&c);
	before = c;
	assert_int_equal(parse(&c, text, &err), -EINVAL);
	assert_string_equal(err.msg, "test.conf:1: key 'state_dir': path longer than 255 bytes");
	assert_memory_equal(&c, &before, sizeof(c));
	path[255] = '\0';
	snprintf(text, sizeof(text), "state_dir = %s\n", path);
	assert_int_equal(parse(&c, text, &err), 0);
	assert_string_equal(c.state_dir, path);
}

static void test_nul_and_origin(void **state)
{
	static const char text[] = "log_keep = 4\nstate_dir = /a\0b\n";
	struct pt_config c, before;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	before = c;
	assert_int_equal(pt_config_parse(&c, text, sizeof(text) - 1, NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "config:2: key 'state_dir': NUL byte in line");
	assert_memory_equal(&c, &before, sizeof(c));
	/* a NULL err is allowed */
	assert_int_equal(parse(&c, "bogus = 1", NULL), -EINVAL);
}

static void test_set(void **state)
{
	struct pt_config c, before;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_int_equal(pt_config_set(&c, "state_dir", "/tmp/x", &err), 0);
	assert_string_equal(c.state_dir, "/tmp/x");
	assert_int_equal(pt_config_set(&c, "log_max_bytes", "2M", &err), 0);
	assert_int_equal(c.log_max_bytes, 2 * 1024 * 1024);
	assert_int_equal(pt_config_set(&c, "default_cpu", "0.5", &err), 0);
	assert_int_equal(c.default_cpu_millis, 500);
	/* setting the same key twice is how flags override: fine */
	assert_int_equal(pt_config_set(&c, "log_keep", "5", &err), 0);
	assert_int_equal(pt_config_set(&c, "log_keep", "6", &err), 0);
	assert_int_equal(c.log_keep, 6);

	before = c;
	assert_int_equal(pt_config_set(&c, "state_dir", "../x", &err), -EINVAL);
	assert_string_equal(err.msg, "key 'state_dir': must be an absolute path");
	assert_string_equal(err.field, "state_dir");
	assert_int_equal(pt_config_set(&c, "nope", "1", &err), -EINVAL);
	assert_string_equal(err.msg, "key 'nope': unknown key");
	assert_string_equal(err.field, "nope");
	assert_int_equal(pt_config_set(&c, "uid_base", "4294000000", &err), -EINVAL);
	assert_string_equal(err.msg,
		"key 'uid_base': uid_base 4294000000 + uid_ranges 4096 * 65536 passes 4294967295");
	assert_int_equal(pt_config_set(&c, "log_keep", NULL, &err), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_load(void **state)
{
	char path[] = "/tmp/test-config-XXXXXX";
	struct pt_config c, before;
	pt_err err = { 0 };
	_cleanup_free_ char *big = NULL;
	int fd;

	(void)state;
	pt_config_defaults(&c);
	before = c;
	assert_int_equal(pt_config_load(&c, "/nonexistent/ptenantd.conf", 1, &err), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(pt_config_load(&c, "/nonexistent/ptenantd.conf", 0, &err), -ENOENT);
	assert_string_equal(err.msg,
		"open config /nonexistent/ptenantd.conf: No such file or directory");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "log_keep = 8\nbad\n", 17), 17);
	assert_int_equal(pt_config_load(&c, path, 1, &err), -EINVAL);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_string_equal(err.msg + strlen(path), ":2: key 'bad': missing '='");
	assert_memory_equal(&c, &before, sizeof(c));

	assert_int_equal(ftruncate(fd, 13), 0);
	assert_int_equal(pt_config_load(&c, path, 0, &err), 0);
	assert_int_equal(c.log_keep, 8);

	/* exactly 64 KiB of comment is fine; one byte more is not */
	big = malloc(65537);
	assert_non_null(big);
	memset(big, '#', 65537);
	assert_int_equal(pwrite(fd, big, 65536, 0), 65536);
	assert_int_equal(pt_config_load(&c, path, 0, &err), 0);
	assert_int_equal(pwrite(fd, big, 65537, 0), 65537);
	assert_int_equal(pt_config_load(&c, path, 0, &err), -EFBIG);
	close(fd);
	unlink(path);
}

static void test_network_defaults(void **state)
{
	struct pt_config c;

	(void)state;
	pt_config_defaults(&c);
	assert_false(c.net.enabled);          /* off: a daemon in the host netns changes nothing */
	assert_int_equal(c.net.subnet, 0x0ad50000u);
	assert_int_equal(c.net.prefix, 16);
	assert_false(c.net.masquerade);
	assert_false(c.net.firewall_remove_on_exit);
	assert_int_equal(c.net.n_resolvers, 0);
	assert_int_equal(c.net.n_allow, 0);
}

static void test_network_keys(void **state)
{
	static const char text[] =
		"network = on\n"
		"subnet = 172.30.0.0/20\n"
		"resolvers = 10.0.0.53, 10.0.1.53 9.9.9.9\n"
		"masquerade = on\n"
		"host_allow = tcp:53 udp:53,tcp:65535\n"
		"firewall_remove_on_exit = on\n";
	struct pt_config c;
	pt_err err = { 0 };

	(void)state;
	pt_config_defaults(&c);
	assert_int_equal(parse(&c, text, &err), 0);
	assert_true(c.net.enabled);
	assert_int_equal(c.net.subnet, 0xac1e0000u);
	assert_int_equal(c.net.prefix, 20);
	assert_int_equal(c.net.n_resolvers, 3);
	assert_int_equal(c.net.resolvers[0], 0x0a000035u);
	assert_int_equal(c.net.resolvers[2], 0x09090909u);
	assert_true(c.net.masquerade);
	assert_int_equal(c.net.n_allow, 3);
	assert_int_equal(c.net.allow[0].proto, 6);
	assert_int_equal(c.net.allow[0].port, 53);
	assert_int_equal(c.net.allow[1].proto, 17);
	assert_int_equal(c.net.allow[2].port, 65535);
	assert_true(c.net.firewall_remove_on_exit);
	/* Empty lists are allowed and mean none. */
	pt_config_defaults(&c);
	assert_int_equal(parse(&c, "resolvers =\nhost_allow = \"\"\n", &err), 0);
	assert_int_equal(c.net.n_resolvers, 0);
	/* A flag can set them too. */
	assert_int_equal(pt_config_set(&c, "network", "on", &err), 0);
	assert_true(c.net.enabled);
	assert_int_equal(pt_config_set(&c, "subnet", "10.0.0.0/33", &err), -EINVAL);
	assert_string_equal(err.msg, "key 'subnet': prefix /33 out of range /8../30");
	assert_int_equal(c.net.prefix, 16);
}

static void test_network_errors(void **state)
{
	static const struct {
		const char *text, *field, *msg;
	} cases[] = {
		{ "network = yes\n", "network", "test.conf:1: key 'network': 'yes' must be on or off" },
		{ "masquerade = 1\n", "masquerade", "test.conf:1: key 'masquerade': '1' must be on or off" },
		{ "network = on\nnetwork = off\n", "network", "test.conf:2: key 'network': duplicate key" },
		{ "subnet = 10.213.0.0\n", "subnet", "test.conf:1: key 'subnet': '10.213.0.0' is not ADDRESS/PREFIX" },
		{ "subnet = 10.213.0.0/\n", "subnet", "test.conf:1: key 'subnet': '10.213.0.0/' is not ADDRESS/PREFIX" },
		{ "subnet = 10.213.0.0/16x\n", "subnet", "test.conf:1: key 'subnet': '10.213.0.0/16x' is not ADDRESS/PREFIX" },
		{ "subnet = 10.213.0.1/16\n", "subnet", "test.conf:1: key 'subnet': host bits set (did you mean 10.213.0.0/16?)" },
		{ "subnet = 10.213.0.0/31\n", "subnet", "test.conf:1: key 'subnet': prefix /31 out of range /8../30" },
		{ "subnet = 10.0.0.0/7\n", "subnet", "test.conf:1: key 'subnet': prefix /7 out of range /8../30" },
		{ "subnet = 127.0.0.0/8\n", "subnet", "test.conf:1: key 'subnet': 127.0.0.0 is not a unicast range" },
		{ "subnet = 224.0.0.0/8\n", "subnet", "test.conf:1: key 'subnet': 224.0.0.0 is not a unicast range" },
		{ "subnet = 169.254.0.0/16\n", "subnet", "test.conf:1: key 'subnet': 169.254.0.0 is not a unicast range" },
		{ "subnet = 300.0.0.0/8\n", "subnet", "test.conf:1: key 'subnet': '300.0.0.0/8' is not ADDRESS/PREFIX" },
		{ "resolvers = 10.0.0.1 dns.example\n", "resolvers", "test.conf:1: key 'resolvers': 'dns.example' is not an IPv4 address" },
		{ "resolvers = 1.1.1.1 1.0.0.1 9.9.9.9 8.8.8.8\n", "resolvers", "test.conf:1: key 'resolvers': more than 3 entries" },
		{ "resolvers = 0.0.0.0\n", "resolvers", "test.conf:1: key 'resolvers': '0.0.0.0' is not an IPv4 address" },
		{ "host_allow = 53\n", "host_allow", "test.conf:1: key 'host_allow': '53' is not tcp:PORT or udp:PORT" },
		{ "host_allow = sctp:53\n", "host_allow", "test.conf:1: key 'host_allow': 'sctp:53' is not tcp:PORT or udp:PORT" },
		{ "host_allow = tcp:0\n", "host_allow", "test.conf:1: key 'host_allow': 'tcp:0': port must be 1..65535" },
		{ "host_allow = udp:65536\n", "host_allow", "test.conf:1: key 'host_allow': 'udp:65536': port must be 1..65535" },
		{ "host_allow = tcp:\n", "host_allow", "test.conf:1: key 'host_allow': 'tcp:': port must be 1..65535" },
		{ "host_allow = tcp:5x\n", "host_allow", "test.conf:1: key 'host_allow': 'tcp:5x': port must be 1..65535" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pt_config c, before;
		pt_err err = { 0 };

		pt_config_defaults(&c);
		before = c;
		assert_int_equal(parse(&c, cases[i].text, &err), -EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		assert_string_equal(err.field, cases[i].field);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_cgroup_keys),
		cmocka_unit_test(test_respawn_standby),
		cmocka_unit_test(test_idle_defaults),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_nul_and_origin),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_network_defaults),
		cmocka_unit_test(test_network_keys),
		cmocka_unit_test(test_network_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

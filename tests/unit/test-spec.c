#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptenant/spec.h"
#include "spec-health.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define BASE "\"slug\":\"acme\",\"blueprint\":\"python@3.12\""

static const char full_spec[] =
	"{\"slug\":\"acme-bot\",\"blueprint\":\"python@3.12.1\","
	"\"entrypoint\":[\"/usr/bin/python3\",\"-u\"],"
	"\"args\":[\"bot.py\",\"\"],"
	"\"env\":{\"LOG_LEVEL\":\"debug\",\"_X1\":\"\"},"
	"\"secrets\":{\"api_key\":\"s3cr3t\",\"db.password\":\"hunter2\"},"
	"\"port\":8080,"
	"\"resources\":{\"memory\":\"256M\",\"memory_high\":201326592,\"cpu\":0.5,"
	"\"cpu_weight\":200,\"pids\":128},"
	"\"restart\":\"on-failure\"}";

/* A sentinel the parser must not overwrite when it fails. */
static void fill_sentinel(struct pt_spec *s)
{
	memset(s, 0x5a, sizeof(*s));
}

static int parse(const char *json, struct pt_spec *s, pt_err *err)
{
	pt_err_clear(err);
	return pt_spec_parse(json, strlen(json), s, err);
}

#define assert_msg_contains(err, part)                                         \
	do {                                                                   \
		if (!strstr((err)->msg, (part)))                               \
			fail_msg("message \"%s\" lacks \"%s\"", (err)->msg, (part)); \
	} while (0)

/* Every failure: -EINVAL, the right field, a message that says why, and
 * *ret as it was. */
static void expect_fail(const char *json, const char *field, const char *part)
{
	struct pt_spec s, before;
	pt_err err;

	fill_sentinel(&s);
	before = s;
	assert_int_equal(parse(json, &s, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_string_equal(err.field, field);
	assert_msg_contains(&err, part);
	assert_memory_equal(&s, &before, sizeof(s));
}

static void expect_slug_fail(const char *json_slug, const char *part)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"slug\":\"%s\",\"blueprint\":\"python@3.12\"}",
		 json_slug);
	expect_fail(buf, "slug", part);
}

static void test_full_spec(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_int_equal(parse(full_spec, &s, &err), 0);
	assert_string_equal(s.slug, "acme-bot");
	assert_string_equal(s.blueprint_name, "python");
	assert_string_equal(s.blueprint_version, "3.12.1");
	assert_string_equal(s.entrypoint[0], "/usr/bin/python3");
	assert_string_equal(s.entrypoint[1], "-u");
	assert_null(s.entrypoint[2]);
	assert_string_equal(s.args[0], "bot.py");
	assert_string_equal(s.args[1], "");
	assert_null(s.args[2]);
	assert_int_equal(s.n_env, 2);
	assert_string_equal(s.env[0].key, "LOG_LEVEL");
	assert_string_equal(s.env[0].value, "debug");
	assert_string_equal(s.env[1].key, "_X1");
	assert_string_equal(s.env[1].value, "");
	assert_int_equal(s.n_secrets, 2);
	assert_string_equal(s.secrets[0].key, "api_key");
	assert_string_equal(s.secrets[0].value, "s3cr3t");
	assert_string_equal(s.secrets[1].key, "db.password");
	assert_string_equal(s.secrets[1].value, "hunter2");
	assert_int_equal(s.port, 8080);
	assert_int_equal(s.resources.memory_max, 256ull << 20);
	assert_int_equal(s.resources.memory_high, 201326592);
	assert_int_equal(s.resources.cpu_millis, 500);
	assert_int_equal(s.resources.cpu_weight, 200);
	assert_int_equal(s.resources.pids_max, 128);
	assert_int_equal(s.restart, PT_RESTART_ON_FAILURE);
	pt_spec_free(&s);
	assert_null(s.entrypoint);
	assert_int_equal(s.n_env, 0);
}

static void test_minimal_defaults(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_int_equal(parse("{" BASE "}", &s, &err), 0);
	assert_string_equal(s.slug, "acme");
	assert_null(s.entrypoint);
	assert_null(s.args);
	assert_null(s.env);
	assert_int_equal(s.n_env, 0);
	assert_int_equal(s.n_secrets, 0);
	assert_int_equal(s.port, 0);
	assert_int_equal(s.resources.memory_max, 0);
	assert_int_equal(s.resources.cpu_millis, 0);
	assert_int_equal(s.restart, PT_RESTART_ALWAYS);
	pt_spec_free(&s);

	/* "args": [] means "no arguments", unlike absent ("the blueprint's") */
	assert_int_equal(parse("{" BASE ",\"args\":[],\"env\":{}}", &s, &err), 0);
	assert_non_null(s.args);
	assert_null(s.args[0]);
	assert_null(s.env);
	pt_spec_free(&s);
}

static void test_hostile_slugs(void **state)
{
	char long_slug[65];

	(void)state;
	expect_slug_fail("..", "slug \"..\": character '.' is not allowed; use a-z, 0-9 and '-'");
	expect_slug_fail("a/b", "character '/' is not allowed");
	expect_slug_fail("", "slug \"\": must not be empty");
	expect_slug_fail("Acme",
			 "slug \"Acme\": upper-case letters are not allowed; use a-z, 0-9 and '-'");
	expect_slug_fail("caf\\u00e9", "slug \"caf\\xc3\\xa9\": byte 0xc3 is not allowed");
	expect_slug_fail("caf\xc3\xa9", "byte 0xc3 is not allowed");
	expect_slug_fail("a\\u0000b", "slug: NUL bytes are not allowed");
	expect_slug_fail("-a", "slug \"-a\": must start with a letter or digit");
	expect_slug_fail("a-", "slug \"a-\": must end with a letter or digit");
	expect_slug_fail("a b", "character ' ' is not allowed");
	expect_slug_fail("a\\nb", "slug \"a\\x0ab\": byte 0x0a is not allowed");
	memset(long_slug, 'a', 64);
	long_slug[64] = '\0';
	expect_slug_fail(long_slug, "is 64 characters long; at most 63 are allowed");
}

static void test_slug_validate(void **state)
{
	char slug[64];
	pt_err err;

	(void)state;
	memset(slug, 'z', 63);
	slug[63] = '\0';
	assert_int_equal(pt_slug_validate(slug, "slug", &err), 0);
	assert_int_equal(pt_slug_validate("a", "slug", &err), 0);
	assert_int_equal(pt_slug_validate("0-9", "slug", &err), 0);
	assert_int_equal(pt_slug_validate("x--y", "slug", &err), 0);
	assert_int_equal(pt_slug_validate("Acme", "name", &err), -EINVAL);
	assert_string_equal(err.field, "name");
	assert_msg_contains(&err, "slug \"Acme\": upper-case");
	assert_int_equal(pt_slug_validate(NULL, "slug", &err), -EINVAL);
	assert_int_equal(pt_slug_validate("a.b", NULL, NULL), -EINVAL);
}

static void test_blueprint_refs(void **state)
{
	char name[PT_BP_NAME_MAX + 1] = "keep", version[PT_BP_VERSION_MAX + 1] = "keep";
	pt_err err;

	(void)state;
	assert_int_equal(pt_blueprint_ref_parse("python@3.12", name, version, "blueprint", &err), 0);
	assert_string_equal(name, "python");
	assert_string_equal(version, "3.12");
	assert_int_equal(pt_blueprint_ref_parse("node-js@v20.1_rc-2", name, version, "bp", &err), 0);
	assert_string_equal(name, "node-js");
	assert_string_equal(version, "v20.1_rc-2");

	strcpy(name, "keep");
	strcpy(version, "keep");
	assert_int_equal(pt_blueprint_ref_parse("python", name, version, "bp", &err), -EINVAL);
	assert_string_equal(err.field, "bp");
	assert_msg_contains(&err, "blueprint \"python\": expected name@version");
	assert_string_equal(name, "keep");
	assert_int_equal(pt_blueprint_ref_parse("a@b@c", name, version, "bp", &err), -EINVAL);
	assert_msg_contains(&err, "exactly one '@' is allowed");
	assert_int_equal(pt_blueprint_ref_parse("python@..", name, version, "bp", &err), -EINVAL);
	assert_msg_contains(&err, "blueprint version \"..\": must start with a letter or digit");
	assert_string_equal(version, "keep");
}

static void test_blueprint_in_spec(void **state)
{
	char buf[256];

	(void)state;
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"python\"}", "blueprint", "expected name@version");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"py@3@4\"}", "blueprint", "exactly one '@'");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"py@.\"}", "blueprint",
		    "blueprint version \".\": must start with a letter or digit");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"py@-1\"}", "blueprint", "must start with");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"py@1/2\"}", "blueprint",
		    "character '/' is not allowed");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"py@\"}", "blueprint",
		    "blueprint version \"\": must not be empty");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"@1\"}", "blueprint",
		    "blueprint name \"\": must not be empty");
	expect_fail("{\"slug\":\"a\",\"blueprint\":\"Py@1\"}", "blueprint",
		    "blueprint name \"Py\": upper-case letters are not allowed");
	snprintf(buf, sizeof(buf), "{\"slug\":\"a\",\"blueprint\":\"py@%065d\"}", 1);
	expect_fail(buf, "blueprint", "is 65 characters long; at most 64 are allowed");
}

static void test_entrypoint(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	expect_fail("{" BASE ",\"entrypoint\":[\"bin/sh\"]}", "entrypoint[0]",
		    "entrypoint[0] \"bin/sh\": must be an absolute path");
	expect_fail("{" BASE ",\"entrypoint\":[\"\"]}", "entrypoint[0]", "must be an absolute path");
	expect_fail("{" BASE ",\"entrypoint\":[]}", "entrypoint", "entrypoint: must not be empty");
	expect_fail("{" BASE ",\"entrypoint\":[\"/bin/sh\",7]}", "entrypoint[1]",
		    "entrypoint[1]: must be a string, not an integer");
	expect_fail("{" BASE ",\"args\":[\"a\",\"b\\u0000\"]}", "args[1]",
		    "args[1]: NUL bytes are not allowed");
	/* empty arguments are legitimate after argv[0] */
	assert_int_equal(parse("{" BASE ",\"entrypoint\":[\"/bin/sh\",\"-c\",\"\"]}", &s, &err), 0);
	assert_string_equal(s.entrypoint[2], "");
	pt_spec_free(&s);
}

static char *argv_spec(size_t n_entry, size_t n_args)
{
	size_t size = 128 + (n_entry + n_args) * 8;
	char *buf = malloc(size);
	size_t o;

	assert_non_null(buf);
	o = (size_t)snprintf(buf, size, "{" BASE ",\"entrypoint\":[\"/x\"");
	for (size_t i = 1; i < n_entry; i++)
		o += (size_t)snprintf(buf + o, size - o, ",\"e\"");
	o += (size_t)snprintf(buf + o, size - o, "],\"args\":[");
	for (size_t i = 0; i < n_args; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s\"a\"", i ? "," : "");
	snprintf(buf + o, size - o, "]}");
	return buf;
}

static void test_argv_limits(void **state)
{
	struct pt_spec s;
	pt_err err;
	char *json;

	(void)state;
	json = argv_spec(100, 156);
	assert_int_equal(parse(json, &s, &err), 0);
	pt_spec_free(&s);
	free(json);
	json = argv_spec(100, 157);
	expect_fail(json, "args", "entrypoint and args have 257 entries together; at most 256");
	free(json);
	json = argv_spec(1, 300);
	expect_fail(json, "args", "args: has 300 entries; at most 256 are allowed");
	free(json);
}

static void test_wrong_types(void **state)
{
	static const struct {
		const char *json;
		const char *field;
		const char *part;
	} cases[] = {
		{ "{\"slug\":7,\"blueprint\":\"p@1\"}", "slug", "slug: must be a string, not an integer" },
		{ "{\"slug\":\"a\",\"blueprint\":true}", "blueprint", "blueprint: must be a string, not true" },
		{ "{" BASE ",\"entrypoint\":\"/bin/sh\"}", "entrypoint",
		  "entrypoint: must be an array of strings, not a string" },
		{ "{" BASE ",\"args\":{}}", "args", "args: must be an array of strings, not an object" },
		{ "{" BASE ",\"env\":[\"A=1\"]}", "env", "env: must be an object of strings, not an array" },
		{ "{" BASE ",\"env\":{\"A\":1}}", "env.A", "env.A: must be a string, not an integer" },
		{ "{" BASE ",\"env\":{\"A\":null}}", "env.A", "env.A: must be a string, not null" },
		{ "{" BASE ",\"secrets\":\"x\"}", "secrets", "secrets: must be an object of strings" },
		{ "{" BASE ",\"secrets\":{\"k\":false}}", "secrets.k", "must be a string, not false" },
		{ "{" BASE ",\"port\":\"8080\"}", "port", "port: must be an integer 1..65535, not a string" },
		{ "{" BASE ",\"port\":80.0}", "port", "not a real number" },
		{ "{" BASE ",\"resources\":[]}", "resources", "resources: must be an object, not an array" },
		{ "{" BASE ",\"restart\":1}", "restart", "restart: must be a string, not an integer" },
		{ "{" BASE ",\"resources\":{\"memory\":true}}", "resources.memory",
		  "must be a size like \"256M\" or a number of bytes, not true" },
		{ "{" BASE ",\"resources\":{\"cpu\":null}}", "resources.cpu",
		  "must be a number of cores like 0.5 or \"0.5\", not null" },
		{ "{" BASE ",\"resources\":{\"cpu_weight\":\"100\"}}", "resources.cpu_weight",
		  "must be an integer 1..10000, not a string" },
		{ "{" BASE ",\"resources\":{\"pids\":1.5}}", "resources.pids", "not a real number" },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		expect_fail(cases[i].json, cases[i].field, cases[i].part);
}

static void test_port_range(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	expect_fail("{" BASE ",\"port\":0}", "port", "port 0 is out of range; use 1..65535");
	expect_fail("{" BASE ",\"port\":70000}", "port", "port 70000 is out of range; use 1..65535");
	expect_fail("{" BASE ",\"port\":-1}", "port", "port -1 is out of range");
	assert_int_equal(parse("{" BASE ",\"port\":65535}", &s, &err), 0);
	assert_int_equal(s.port, 65535);
	pt_spec_free(&s);
}

static void test_resources_valid(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_int_equal(parse("{" BASE ",\"resources\":{\"memory\":\"1Gi\",\"memory_high\":\"512M\","
			       "\"cpu\":\"1.25\",\"cpu_weight\":10000,\"pids\":4194304}}", &s, &err), 0);
	assert_int_equal(s.resources.memory_max, 1ull << 30);
	assert_int_equal(s.resources.memory_high, 512ull << 20);
	assert_int_equal(s.resources.cpu_millis, 1250);
	assert_int_equal(s.resources.cpu_weight, 10000);
	assert_int_equal(s.resources.pids_max, 4194304);
	pt_spec_free(&s);
	assert_int_equal(parse("{" BASE ",\"resources\":{\"log_rate\":\"64K\",\"log_burst\":2097152}}",
			       &s, &err), 0);
	assert_int_equal(s.resources.log_rate, 65536);
	assert_int_equal(s.resources.log_burst, 2097152);
	{
		json_t *j = pt_spec_to_json(&s, false);

		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "resources"),
								    "log_rate")), 65536);
		json_decref(j);
	}
	pt_spec_free(&s);
	expect_fail("{" BASE ",\"resources\":{\"log_rate\":\"fast\"}}", "resources.log_rate",
		    "resources.log_rate \"fast\": not a size");
	assert_int_equal(parse("{" BASE ",\"resources\":{\"cpu\":2,\"memory\":1048576}}", &s, &err), 0);
	assert_int_equal(s.resources.cpu_millis, 2000);
	assert_int_equal(s.resources.memory_max, 1048576);
	pt_spec_free(&s);
	assert_int_equal(parse("{" BASE ",\"resources\":{\"cpu\":0.001}}", &s, &err), 0);
	assert_int_equal(s.resources.cpu_millis, 1);
	pt_spec_free(&s);
}

static void test_resources_invalid(void **state)
{
	(void)state;
	expect_fail("{" BASE ",\"resources\":{\"cpu\":\"0\"}}", "resources.cpu",
		    "resources.cpu \"0\": must be between 0.001 and 1024 cores");
	expect_fail("{" BASE ",\"resources\":{\"cpu\":\"abc\"}}", "resources.cpu",
		    "resources.cpu \"abc\": not a number of cores");
	expect_fail("{" BASE ",\"resources\":{\"cpu\":0}}", "resources.cpu", "between 0.001 and 1024");
	expect_fail("{" BASE ",\"resources\":{\"cpu\":1025}}", "resources.cpu", "between 0.001 and 1024");
	expect_fail("{" BASE ",\"resources\":{\"cpu\":0.0001}}", "resources.cpu", "between 0.001 and 1024");
	expect_fail("{" BASE ",\"resources\":{\"cpu\":1.0005}}", "resources.cpu",
		    "at most 3 decimals are allowed");
	expect_fail("{" BASE ",\"resources\":{\"memory\":\"12X\"}}", "resources.memory",
		    "resources.memory \"12X\": not a size");
	expect_fail("{" BASE ",\"resources\":{\"memory\":0}}", "resources.memory",
		    "resources.memory 0 is out of range");
	expect_fail("{" BASE ",\"resources\":{\"memory\":\"0M\"}}", "resources.memory", "out of range");
	expect_fail("{" BASE ",\"resources\":{\"memory\":\"18446744073709551615\"}}",
		    "resources.memory", "out of range");
	expect_fail("{" BASE ",\"resources\":{\"memory_high\":\"1.5G\"}}", "resources.memory_high",
		    "not a size");
	expect_fail("{" BASE ",\"resources\":{\"memory\":\"1G\",\"memory_high\":\"2G\"}}",
		    "resources.memory_high", "must not exceed resources.memory");
	expect_fail("{" BASE ",\"resources\":{\"cpu_weight\":0}}", "resources.cpu_weight",
		    "resources.cpu_weight 0 is out of range; use 1..10000");
	expect_fail("{" BASE ",\"resources\":{\"pids\":4194305}}", "resources.pids",
		    "resources.pids 4194305 is out of range; use 1..4194304");
}

static void test_unknown_fields(void **state)
{
	(void)state;
	expect_fail("{" BASE ",\"slugg\":\"x\"}", "slugg", "unknown field \"slugg\"; known fields are slug,");
	expect_fail("{" BASE ",\"resources\":{\"memroy\":\"1G\"}}", "resources.memroy",
		    "unknown field \"resources.memroy\"; known fields are memory,");
	expect_fail("{" BASE ",\"Port\":80}", "Port", "unknown field \"Port\"");
}

static void test_bad_json(void **state)
{
	struct pt_spec s, before;
	pt_err err;

	(void)state;
	expect_fail("{\"slug\":\"acme\",\"blue", "", "invalid JSON at line 1, column");
	expect_fail("", "", "invalid JSON at line 1");
	expect_fail("[1,2]", "", "spec: must be a JSON object, not an array");
	expect_fail("{" BASE ",\"slug\":\"b\"}", "", "duplicate object key");
	expect_fail("{\"slug\":\"a\xff\",\"blueprint\":\"p@1\"}", "", "invalid JSON");
	expect_fail("{" BASE "} trailing", "", "end of file expected");

	/* the text need not be NUL-terminated: only len bytes are read */
	fill_sentinel(&s);
	before = s;
	assert_int_equal(pt_spec_parse("{" BASE "}XYZ", strlen("{" BASE "}"), &s, &err), 0);
	pt_spec_free(&s);
	s = before;
	assert_int_equal(pt_spec_parse(NULL, 0, &s, &err), -EINVAL);
	assert_string_equal(err.field, "");
	assert_memory_equal(&s, &before, sizeof(s));
}

static void test_required_fields(void **state)
{
	(void)state;
	expect_fail("{\"blueprint\":\"p@1\"}", "slug", "slug: is required");
	expect_fail("{\"slug\":\"a\"}", "blueprint", "blueprint: is required");
	expect_fail("{}", "slug", "is required");
}

static void test_env(void **state)
{
	char key[PT_ENV_KEY_MAX + 2];
	pt_err err;

	(void)state;
	expect_fail("{" BASE ",\"env\":{\"HOSTNAME\":\"x\"}}", "env.HOSTNAME",
		    "env key \"HOSTNAME\": is reserved; the daemon sets it to the slug");
	expect_fail("{" BASE ",\"env\":{\"1FOO\":\"x\"}}", "env.1FOO",
		    "env key \"1FOO\": must start with a letter or '_'");
	expect_fail("{" BASE ",\"env\":{\"A-B\":\"x\"}}", "env.A-B",
		    "env key \"A-B\": character '-' is not allowed; use A-Z, a-z, 0-9 and '_'");
	expect_fail("{" BASE ",\"env\":{\"\":\"x\"}}", "env.", "env key \"\": must not be empty");
	expect_fail("{" BASE ",\"env\":{\"FOO\":\"x\\u0000y\"}}", "env.FOO",
		    "env.FOO: NUL bytes are not allowed");
	assert_int_equal(pt_env_key_validate("_lower_Mixed9", "env", &err), 0);
	assert_int_equal(pt_env_key_validate("HOSTNAME", "e", &err), -EINVAL);
	assert_string_equal(err.field, "e");
	memset(key, 'K', PT_ENV_KEY_MAX);
	key[PT_ENV_KEY_MAX] = '\0';
	assert_int_equal(pt_env_key_validate(key, "env", &err), 0);
	key[PT_ENV_KEY_MAX] = 'K';
	key[PT_ENV_KEY_MAX + 1] = '\0';
	assert_int_equal(pt_env_key_validate(key, "env", &err), -EINVAL);
	assert_msg_contains(&err, "is 129 characters long; at most 128 are allowed");
}

static void test_env_limits(void **state)
{
	size_t size = 64 + (PT_ENV_MAX + 1) * 16 + PT_ENV_VALUE_MAX + 64;
	char *json = malloc(size);
	size_t o;
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_non_null(json);
	o = (size_t)snprintf(json, size, "{" BASE ",\"env\":{");
	for (int i = 0; i < PT_ENV_MAX; i++)
		o += (size_t)snprintf(json + o, size - o, "%s\"V%d\":\"x\"", i ? "," : "", i);
	snprintf(json + o, size - o, "}}");
	assert_int_equal(parse(json, &s, &err), 0);
	assert_int_equal(s.n_env, PT_ENV_MAX);
	pt_spec_free(&s);
	snprintf(json + o, size - o, ",\"EXTRA\":\"x\"}}");
	expect_fail(json, "env", "env: has 257 entries; at most 256 are allowed");

	o = (size_t)snprintf(json, size, "{" BASE ",\"env\":{\"BIG\":\"");
	memset(json + o, 'v', PT_ENV_VALUE_MAX + 1);
	o += PT_ENV_VALUE_MAX + 1;
	snprintf(json + o, size - o, "\"}}");
	expect_fail(json, "env.BIG", "env.BIG: is 32769 bytes long; at most 32768 are allowed");
	free(json);
}

static void test_secrets(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	expect_fail("{" BASE ",\"secrets\":{\".hidden\":\"x\"}}", "secrets..hidden",
		    "secret name \".hidden\": must not start with '.'");
	expect_fail("{" BASE ",\"secrets\":{\"..\":\"x\"}}", "secrets...",
		    "must not start with '.'");
	expect_fail("{" BASE ",\"secrets\":{\"a/b\":\"x\"}}", "secrets.a/b",
		    "character '/' is not allowed");
	expect_fail("{" BASE ",\"secrets\":{\"k\":\"a\\u0000\"}}", "secrets.k",
		    "secrets.k: NUL bytes are not allowed");
	assert_int_equal(pt_secret_name_validate("Db-pass_1.txt", "secrets", &err), 0);
	assert_int_equal(pt_secret_name_validate(".", "secrets", &err), -EINVAL);
	assert_int_equal(pt_secret_name_validate("", "secrets", &err), -EINVAL);
	assert_msg_contains(&err, "must not be empty");

	/* a stored spec: names only */
	assert_int_equal(parse("{" BASE ",\"secrets\":{\"api_key\":null,\"b\":\"v\"}}", &s, &err), 0);
	assert_int_equal(s.n_secrets, 2);
	assert_string_equal(s.secrets[0].key, "api_key");
	assert_null(s.secrets[0].value);
	assert_string_equal(s.secrets[1].value, "v");
	pt_spec_free(&s);
}

static void test_secret_value_not_in_message(void **state)
{
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_int_equal(parse("{" BASE ",\"secrets\":{\"k\":\"TOPSECRET\"},\"port\":0}", &s, &err),
			 -EINVAL);
	assert_null(strstr(err.msg, "TOPSECRET"));
	assert_int_equal(parse("{" BASE ",\"env\":{\"K\":\"hunter2\",\"BAD-\":\"x\"}}", &s, &err),
			 -EINVAL);
	assert_null(strstr(err.msg, "hunter2"));
}

static void test_restart(void **state)
{
	enum pt_restart_policy p = PT_RESTART_NEVER;
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_int_equal(pt_restart_policy_parse("always", &p), 0);
	assert_int_equal(p, PT_RESTART_ALWAYS);
	assert_int_equal(pt_restart_policy_parse("on-failure", &p), 0);
	assert_int_equal(p, PT_RESTART_ON_FAILURE);
	assert_int_equal(pt_restart_policy_parse("Never", &p), -EINVAL);
	assert_int_equal(p, PT_RESTART_ON_FAILURE);
	assert_string_equal(pt_restart_policy_name(PT_RESTART_NEVER), "never");
	assert_null(pt_restart_policy_name((enum pt_restart_policy)42));
	expect_fail("{" BASE ",\"restart\":\"sometimes\"}", "restart",
		    "restart \"sometimes\": must be \"always\", \"on-failure\" or \"never\"");
	assert_int_equal(parse("{" BASE ",\"restart\":\"never\"}", &s, &err), 0);
	assert_int_equal(s.restart, PT_RESTART_NEVER);
	pt_spec_free(&s);
}

static void test_size_parse(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint64_t bytes;
	} cases[] = {
		{ "256M", 0, 256ull << 20 },
		{ "1G", 0, 1ull << 30 },
		{ "512K", 0, 512ull << 10 },
		{ "1048576", 0, 1048576 },
		{ "1Gi", 0, 1ull << 30 },
		{ "512Ki", 0, 512ull << 10 },
		{ "64MB", 0, 64ull << 20 },
		{ "2KiB", 0, 2048 },
		{ "3t", 0, 3ull << 40 },
		{ "1g", 0, 1ull << 30 },
		{ "100B", 0, 100 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "16777215T", 0, 16777215ull << 40 },
		{ "0", -ERANGE, 0 },
		{ "0K", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "16777216T", -ERANGE, 0 },
		{ "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "12X", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ " 1G", -EINVAL, 0 },
		{ "1G ", -EINVAL, 0 },
		{ "1 G", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "1iB", -EINVAL, 0 },
		{ "1GG", -EINVAL, 0 },
		{ "1GBi", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint64_t bytes = 42;
		int r = pt_size_parse(cases[i].text, &bytes);

		if (r != cases[i].r)
			fail_msg("pt_size_parse(\"%s\") = %d, want %d", cases[i].text, r, cases[i].r);
		assert_int_equal(bytes, cases[i].r == 0 ? cases[i].bytes : 42);
	}
	assert_int_equal(pt_size_parse(NULL, NULL), -EINVAL);
}

static void test_cpu_parse(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint32_t millis;
	} cases[] = {
		{ "0.5", 0, 500 },
		{ "2", 0, 2000 },
		{ "1.25", 0, 1250 },
		{ "0.001", 0, 1 },
		{ "1024", 0, 1024000 },
		{ "1024.000", 0, 1024000 },
		{ "007", 0, 7000 },
		{ "0", -ERANGE, 0 },
		{ "0.000", -ERANGE, 0 },
		{ "1024.001", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 },
		{ "-1", -EINVAL, 0 },
		{ "abc", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "0.0005", -EINVAL, 0 },
		{ ".5", -EINVAL, 0 },
		{ "1.", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint32_t millis = 42;
		int r = pt_cpu_parse(cases[i].text, &millis);

		if (r != cases[i].r)
			fail_msg("pt_cpu_parse(\"%s\") = %d, want %d", cases[i].text, r, cases[i].r);
		assert_int_equal(millis, cases[i].r == 0 ? cases[i].millis : 42);
	}
}

static void assert_strv_equal(char **a, char **b)
{
	if (!a || !b) {
		assert_ptr_equal(a, b);
		return;
	}
	for (; *a || *b; a++, b++) {
		assert_non_null(*a);
		assert_non_null(*b);
		assert_string_equal(*a, *b);
	}
}

static void assert_kv_equal(const struct pt_kv *a, const struct pt_kv *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(a[i].key, b[i].key);
		if (!a[i].value || !b[i].value)
			assert_ptr_equal(a[i].value, b[i].value);
		else
			assert_string_equal(a[i].value, b[i].value);
	}
}

static void assert_spec_equal(const struct pt_spec *a, const struct pt_spec *b)
{
	assert_string_equal(a->slug, b->slug);
	assert_string_equal(a->blueprint_name, b->blueprint_name);
	assert_string_equal(a->blueprint_version, b->blueprint_version);
	assert_strv_equal(a->entrypoint, b->entrypoint);
	assert_strv_equal(a->args, b->args);
	assert_int_equal(a->n_env, b->n_env);
	assert_kv_equal(a->env, b->env, a->n_env);
	assert_int_equal(a->n_secrets, b->n_secrets);
	assert_kv_equal(a->secrets, b->secrets, a->n_secrets);
	assert_int_equal(a->port, b->port);
	assert_memory_equal(&a->resources, &b->resources, sizeof(a->resources));
	assert_int_equal(a->restart, b->restart);
}

static void round_trip(const char *json)
{
	struct pt_spec a, b;
	json_t *j;
	char *text;
	pt_err err;

	assert_int_equal(parse(json, &a, &err), 0);
	j = pt_spec_to_json(&a, true);
	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	if (parse(text, &b, &err) != 0)
		fail_msg("re-parse of %s failed: %s: %s", text, err.field, err.msg);
	assert_spec_equal(&a, &b);
	free(text);
	json_decref(j);
	pt_spec_free(&a);
	pt_spec_free(&b);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(full_spec);
	round_trip("{" BASE "}");
	round_trip("{" BASE ",\"args\":[],\"secrets\":{\"a\":null},\"restart\":\"never\"}");
	round_trip("{" BASE ",\"resources\":{\"cpu\":\"1.001\",\"memory\":9223372036854775807}}");
	round_trip("{" BASE ",\"resources\":{\"cpu\":0.1}}");
}

static void test_to_json(void **state)
{
	struct pt_spec s;
	json_t *j, *sec, *res;
	pt_err err;

	(void)state;
	assert_int_equal(parse(full_spec, &s, &err), 0);
	j = pt_spec_to_json(&s, false);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "blueprint")), "python@3.12.1");
	sec = json_object_get(j, "secrets");
	assert_int_equal(json_object_size(sec), 2);
	assert_true(json_is_null(json_object_get(sec, "api_key")));
	assert_true(json_is_null(json_object_get(sec, "db.password")));
	res = json_object_get(j, "resources");
	assert_string_equal(json_string_value(json_object_get(res, "cpu")), "0.5");
	assert_int_equal(json_integer_value(json_object_get(res, "memory")), 256 << 20);
	assert_string_equal(json_string_value(json_object_get(j, "restart")), "on-failure");
	json_decref(j);

	j = pt_spec_to_json(&s, true);
	sec = json_object_get(j, "secrets");
	assert_string_equal(json_string_value(json_object_get(sec, "api_key")), "s3cr3t");
	json_decref(j);
	pt_spec_free(&s);

	/* unset fields are left out */
	assert_int_equal(parse("{" BASE "}", &s, &err), 0);
	j = pt_spec_to_json(&s, true);
	assert_int_equal(json_object_size(j), 3);
	assert_null(json_object_get(j, "resources"));
	json_decref(j);
	pt_spec_free(&s);
}

static void test_from_json(void **state)
{
	struct pt_spec s, before;
	json_t *obj;
	pt_err err;

	(void)state;
	fill_sentinel(&s);
	before = s;
	assert_int_equal(pt_spec_from_json(NULL, &s, &err), -EINVAL);
	assert_msg_contains(&err, "must be a JSON object, not nothing");
	obj = json_pack("{s:s, s:s, s:{s:s%}}", "slug", "a", "blueprint", "p@1", "env",
			"K", "v\0w", (size_t)3);
	assert_non_null(obj);
	assert_int_equal(pt_spec_from_json(obj, &s, &err), -EINVAL);
	assert_string_equal(err.field, "env.K");
	assert_msg_contains(&err, "NUL bytes are not allowed");
	assert_memory_equal(&s, &before, sizeof(s));
	json_decref(obj);
}

static void test_ret_untouched_late_failure(void **state)
{
	(void)state;
	/* fails after entrypoint, env and secrets were allocated */
	expect_fail("{" BASE ",\"entrypoint\":[\"/bin/x\"],\"env\":{\"A\":\"1\"},"
		    "\"secrets\":{\"s\":\"v\"},\"args\":[\"a\",\"b\"],\"port\":99999}",
		    "port", "out of range");
	expect_fail("{" BASE ",\"env\":{\"A\":\"1\",\"B\":\"2\",\"3\":\"3\"}}", "env.3",
		    "must start with a letter");
}

static void test_message_escaping(void **state)
{
	(void)state;
	expect_slug_fail("a\\u001b[31m", "slug \"a\\x1b[31m\": byte 0x1b is not allowed");
	expect_slug_fail("a\\\"b", "slug \"a\\\"b\": character '\"' is not allowed");
}

/* The parser refuses NUL in keys, but API code can build such objects. */
static void test_nul_in_key(void **state)
{
	json_t *obj = json_pack("{s:s, s:s}", "slug", "a", "blueprint", "p@1");
	struct pt_spec s;
	pt_err err;

	(void)state;
	assert_non_null(obj);
	assert_int_equal(json_object_setn_new(obj, "x\0y", 3, json_integer(1)), 0);
	assert_int_equal(pt_spec_from_json(obj, &s, &err), -EINVAL);
	assert_string_equal(err.field, "x\\x00y");
	assert_msg_contains(&err, "unknown field \"x\\x00y\"");
	assert_int_equal(json_object_deln(obj, "x\0y", 3), 0);
	assert_int_equal(json_object_setn_new(obj, "slug\0", 5, json_integer(1)), 0);
	assert_int_equal(pt_spec_from_json(obj, &s, &err), -EINVAL);
	assert_string_equal(err.field, "slug\\x00");
	json_decref(obj);
}

static void test_null_err(void **state)
{
	struct pt_spec s;

	(void)state;
	assert_int_equal(pt_spec_parse("{", 1, &s, NULL), -EINVAL);
	assert_int_equal(pt_spec_parse("{\"slug\":\"A\"}", 12, &s, NULL), -EINVAL);
	pt_spec_free(NULL);
}

/* ---- confinement fields: user, rlimits, seccomp_profile ---------------- */

static void test_confine_fields(void **state)
{
	struct pt_spec s;
	pt_err err;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{" BASE ",\"user\":\"1000:2000\","
			       "\"rlimits\":{\"nofile\":{\"soft\":64,\"hard\":128},\"core\":0,"
			       "\"stack\":\"unlimited\"},"
			       "\"seccomp_profile\":{\"allow\":[\"syslog_nope_not\"]}}", &s, &err), -EINVAL);
	assert_string_equal(err.field, "seccomp_profile.allow[0]");
	assert_int_equal(parse("{" BASE ",\"user\":\"1000:2000\","
			       "\"rlimits\":{\"nofile\":{\"soft\":64,\"hard\":128},\"core\":0,"
			       "\"stack\":\"unlimited\"},"
			       "\"seccomp_profile\":{\"allow\":[\"clock_settime\"],\"deny\":[\"mkdir\"]}}",
			       &s, &err), 0);
	assert_true(s.user.set);
	assert_int_equal(s.user.uid, 1000);
	assert_int_equal(s.user.gid, 2000);
	assert_int_equal(s.n_rlimits, 3);
	assert_int_equal(s.rlimits[0].soft, 64);
	assert_int_equal(s.rlimits[0].hard, 128);
	assert_true(s.rlimits[2].hard == PT_RLIM_INFINITY);
	assert_true(s.seccomp.set);
	assert_string_equal(s.seccomp.allow[0], "clock_settime");
	assert_string_equal(s.seccomp.deny[0], "mkdir");
	/* Round trip: what is stored is what comes back. */
	j = pt_spec_to_json(&s, false);
	pt_spec_free(&s);
	assert_int_equal(pt_spec_from_json(j, &s, &err), 0);
	assert_int_equal(s.user.gid, 2000);
	assert_int_equal(s.n_rlimits, 3);
	assert_string_equal(s.seccomp.deny[0], "mkdir");
	json_decref(j);
	pt_spec_free(&s);
}

static void test_confine_errors(void **state)
{
	(void)state;
	expect_fail("{" BASE ",\"user\":\"root\"}", "user", "numeric");
	expect_fail("{" BASE ",\"user\":\"70000\"}", "user", "0..65535");
	expect_fail("{" BASE ",\"user\":\"1:\"}", "user", "UID:GID");
	expect_fail("{" BASE ",\"user\":1000}", "user", "string");
	expect_fail("{" BASE ",\"rlimits\":[]}", "rlimits", "object");
	expect_fail("{" BASE ",\"rlimits\":{\"nofiles\":1}}", "rlimits.nofiles", "unknown limit");
	expect_fail("{" BASE ",\"rlimits\":{\"nofile\":-1}}", "rlimits.nofile", ">= 0");
	expect_fail("{" BASE ",\"rlimits\":{\"nofile\":{\"soft\":9,\"hard\":3}}}", "rlimits.nofile",
		    "soft limit exceeds");
	expect_fail("{" BASE ",\"rlimits\":{\"nofile\":{\"soft\":9}}}", "rlimits.nofile", "exactly");
	expect_fail("{" BASE ",\"seccomp_profile\":[]}", "seccomp_profile", "object");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"alow\":[]}}", "seccomp_profile.alow", "unknown field");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"allow\":[\"mount\"]}}", "seccomp_profile.allow[0]",
		    "never");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"allow\":[\"keyctl\"]}}", "seccomp_profile.allow[0]",
		    "never");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"allow\":[\"socket\"]}}", "seccomp_profile.allow[0]",
		    "argument checks");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"deny\":[\"nosuchcall\"]}}", "seccomp_profile.deny[0]",
		    "unknown syscall");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"deny\":[7]}}", "seccomp_profile.deny[0]", "syscall name");
	expect_fail("{" BASE ",\"seccomp_profile\":{\"allow\":[\"sync\"],\"deny\":[\"sync\"]}}",
		    "seccomp_profile.allow[0]", "both");
}

/* The idle block: durations with a unit, "off", round trip. */
static void test_idle(void **state)
{
	struct pt_spec s;
	pt_err err;
	json_t *j;
	char *text;

	(void)state;
	assert_int_equal(parse("{" BASE ",\"idle\":{\"freeze_after\":\"10m\",\"stop_after\":\"6h\","
			       "\"wake_timeout\":\"1500ms\"}}", &s, &err), 0);
	assert_int_equal(s.idle.freeze_after_ms, 600000);
	assert_int_equal(s.idle.stop_after_ms, 6 * 3600000);
	assert_int_equal(s.idle.wake_timeout_ms, 1500);
	j = pt_spec_to_json(&s, false);
	text = json_dumps(json_object_get(j, "idle"), JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"freeze_after\":\"10m\",\"stop_after\":\"6h\",\"wake_timeout\":\"1500ms\"}");
	free(text);
	json_decref(j);
	pt_spec_free(&s);

	/* "off": this stage off whatever the daemon's default; round trip. */
	assert_int_equal(parse("{" BASE ",\"idle\":{\"freeze_after\":\"off\",\"stop_after\":\"1d\"}}",
			       &s, &err), 0);
	assert_true(s.idle.freeze_after_ms == PT_IDLE_OFF);
	assert_int_equal(s.idle.stop_after_ms, 86400000);
	assert_int_equal(s.idle.wake_timeout_ms, 0);
	j = pt_spec_to_json(&s, false);
	text = json_dumps(json_object_get(j, "idle"), JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"freeze_after\":\"off\",\"stop_after\":\"1d\"}");
	free(text);
	json_decref(j);
	pt_spec_free(&s);

	/* No block: nothing written back. */
	assert_int_equal(parse("{" BASE "}", &s, &err), 0);
	j = pt_spec_to_json(&s, false);
	assert_null(json_object_get(j, "idle"));
	json_decref(j);
	pt_spec_free(&s);
}

static char *health_json(const struct pt_spec *s)
{
	json_t *j = pt_spec_to_json(s, false);
	char *text = json_dumps(json_object_get(j, "health"), JSON_SORT_KEYS | JSON_COMPACT);

	json_decref(j);
	return text;
}

/* The health block: each kind, the timing fields, defaults, round trip. */
static void test_health(void **state)
{
	struct pt_spec s;
	pt_err err;
	char *text;

	(void)state;
	assert_int_equal(parse("{" BASE ",\"health\":{\"http\":{\"path\":\"/healthz?x=1\",\"port\":8081},"
			       "\"interval\":\"5s\",\"timeout\":\"500ms\",\"start_period\":\"1m\","
			       "\"retries\":2}}", &s, &err), 0);
	assert_int_equal(s.health.kind, PT_HEALTH_HTTP);
	assert_string_equal(s.health.path, "/healthz?x=1");
	assert_int_equal(s.health.port, 8081);
	assert_int_equal(pt_health_interval(&s.health), 5000);
	assert_int_equal(pt_health_timeout(&s.health), 500);
	assert_int_equal(s.health.start_period_ms, 60000);
	assert_int_equal(pt_health_retries(&s.health), 2);
	text = health_json(&s);
	assert_string_equal(text, "{\"http\":{\"path\":\"/healthz?x=1\",\"port\":8081},\"interval\":\"5s\","
			    "\"retries\":2,\"start_period\":\"1m\",\"timeout\":\"500ms\"}");
	free(text);
	pt_spec_free(&s);

	/* http without a path checks "/"; defaults in force. */
	assert_int_equal(parse("{" BASE ",\"health\":{\"http\":{}}}", &s, &err), 0);
	assert_string_equal(s.health.path, "/");
	assert_int_equal(s.health.port, 0);
	assert_int_equal(pt_health_interval(&s.health), PT_HEALTH_INTERVAL_DEFAULT_MS);
	assert_int_equal(pt_health_timeout(&s.health), PT_HEALTH_TIMEOUT_DEFAULT_MS);
	assert_int_equal(pt_health_retries(&s.health), PT_HEALTH_RETRIES_DEFAULT);
	pt_spec_free(&s);

	/* A short interval caps the default timeout. */
	assert_int_equal(parse("{" BASE ",\"health\":{\"tcp\":{},\"interval\":\"1s\"}}", &s, &err), 0);
	assert_int_equal(s.health.kind, PT_HEALTH_TCP);
	assert_int_equal(pt_health_timeout(&s.health), 1000);
	text = health_json(&s);
	assert_string_equal(text, "{\"interval\":\"1s\",\"tcp\":{}}");
	free(text);
	pt_spec_free(&s);

	assert_int_equal(parse("{" BASE ",\"health\":{\"exec\":[\"sh\",\"-c\",\"test -f /ok\"]}}",
			       &s, &err), 0);
	assert_int_equal(s.health.kind, PT_HEALTH_EXEC);
	assert_string_equal(s.health.exec[2], "test -f /ok");
	assert_null(s.health.exec[3]);
	text = health_json(&s);
	assert_string_equal(text, "{\"exec\":[\"sh\",\"-c\",\"test -f /ok\"]}");
	free(text);
	pt_spec_free(&s);

	assert_int_equal(parse("{" BASE ",\"health\":{\"notify\":true,\"start_period\":\"30s\"}}",
			       &s, &err), 0);
	assert_int_equal(s.health.kind, PT_HEALTH_NOTIFY);
	text = health_json(&s);
	assert_string_equal(text, "{\"notify\":true,\"start_period\":\"30s\"}");
	free(text);
	pt_spec_free(&s);

	assert_int_equal(parse("{" BASE "}", &s, &err), 0);
	assert_int_equal(s.health.kind, PT_HEALTH_NONE);
	text = health_json(&s);
	assert_null(text);
	pt_spec_free(&s);
}

static void test_health_errors(void **state)
{
	(void)state;
	expect_fail("{" BASE ",\"health\":true}", "health", "health: must be an object");
	expect_fail("{" BASE ",\"health\":{}}", "health", "names no check");
	expect_fail("{" BASE ",\"health\":{\"interval\":\"5s\"}}", "health", "names no check");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"exec\":[\"true\"]}}", "health",
		    "names both tcp and exec");
	expect_fail("{" BASE ",\"health\":{\"htp\":{}}}", "health", "unknown field; known fields are http");
	expect_fail("{" BASE ",\"health\":{\"http\":{\"path\":\"healthz\"}}}", "health.http.path",
		    "starting with '/'");
	/* What the daemon sends is built from the path: no header injection. */
	expect_fail("{" BASE ",\"health\":{\"http\":{\"path\":\"/a HTTP/1.1\\r\\nX: y\"}}}",
		    "health.http.path", "byte 2 is not visible ASCII");
	expect_fail("{" BASE ",\"health\":{\"http\":{\"path\":\"/\\u00e9\"}}}", "health.http.path",
		    "not visible ASCII");
	expect_fail("{" BASE ",\"health\":{\"http\":{\"port\":0}}}", "health.http.port", "1..65535");
	expect_fail("{" BASE ",\"health\":{\"http\":{\"host\":\"x\"}}}", "health.http",
		    "known fields are path and port");
	expect_fail("{" BASE ",\"health\":{\"tcp\":8080}}", "health.tcp", "must be an object");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{\"port\":70000}}}", "health.tcp.port", "1..65535");
	expect_fail("{" BASE ",\"health\":{\"exec\":[]}}", "health.exec", "array of 1 to 32");
	expect_fail("{" BASE ",\"health\":{\"exec\":\"true\"}}", "health.exec", "array of 1 to 32");
	expect_fail("{" BASE ",\"health\":{\"exec\":[\"\"]}}", "health.exec", "not empty");
	expect_fail("{" BASE ",\"health\":{\"exec\":[\"true\",5]}}", "health.exec",
		    "health.exec[1]: must be a string");
	expect_fail("{" BASE ",\"health\":{\"notify\":false}}", "health.notify", "must be true");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"interval\":\"500ms\"}}", "health.interval",
		    "from 1s to 1d");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"interval\":10}}", "health.interval",
		    "must be a duration");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"timeout\":\"2m\"}}", "health.timeout",
		    "from 100ms to 1m");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"interval\":\"2s\",\"timeout\":\"3s\"}}",
		    "health.timeout", "must not be longer than health.interval");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"retries\":0}}", "health.retries", "1..100");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"retries\":\"3\"}}", "health.retries", "1..100");
	expect_fail("{" BASE ",\"health\":{\"tcp\":{},\"start_period\":\"2d\"}}", "health.start_period",
		    "to 1d");
}

static void test_idle_errors(void **state)
{
	(void)state;
	expect_fail("{" BASE ",\"idle\":5}", "idle", "idle: must be an object");
	expect_fail("{" BASE ",\"idle\":{\"freeze_after\":300}}", "idle.freeze_after",
		    "must be a duration string like \"30s\"");
	expect_fail("{" BASE ",\"idle\":{\"freeze_after\":\"300\"}}", "idle.freeze_after",
		    "\"300\" is not a duration; use a whole number and a unit");
	expect_fail("{" BASE ",\"idle\":{\"stop_after\":\"0s\"}}", "idle.stop_after",
		    "is not a duration");
	expect_fail("{" BASE ",\"idle\":{\"stop_after\":\"1.5h\"}}", "idle.stop_after",
		    "is not a duration");
	expect_fail("{" BASE ",\"idle\":{\"stop_after\":\"-1s\"}}", "idle.stop_after",
		    "is not a duration");
	expect_fail("{" BASE ",\"idle\":{\"stop_after\":\"367d\"}}", "idle.stop_after",
		    "at most 366 days");
	expect_fail("{" BASE ",\"idle\":{\"stop_after\":\"99999999999999999999s\"}}",
		    "idle.stop_after", "at most 366 days");
	expect_fail("{" BASE ",\"idle\":{\"wake_timeout\":\"off\"}}", "idle.wake_timeout",
		    "cannot be off");
	expect_fail("{" BASE ",\"idle\":{\"freeze_after\":\"1h\",\"stop_after\":\"10m\"}}",
		    "idle.stop_after", "must be longer than idle.freeze_after");
	expect_fail("{" BASE ",\"idle\":{\"freeze_after\":\"1h\",\"stop_after\":\"1h\"}}",
		    "idle.stop_after", "must be longer than idle.freeze_after");
	expect_fail("{" BASE ",\"idle\":{\"freez_after\":\"1h\"}}", "idle.freez_after",
		    "unknown field \"idle.freez_after\"; known fields are freeze_after,");
	expect_fail("{" BASE ",\"idle\":{\"a\\\"b\":\"1h\"}}", "idle", "idle: unknown field;");
	expect_fail("{" BASE ",\"idle\":{\"freeze_after\":\"1h\\u0000x\"}}", "idle.freeze_after",
		    "must be a duration string");
}

static void test_duration_parse(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
		{ "1ms", 1 }, { "30s", 30000 }, { "5m", 300000 }, { "2h", 7200000 },
		{ "1d", 86400000 }, { "366d", 366ULL * 86400000 }, { "007s", 7000 },
	};
	static const char *const bad[] = {
		"", "s", "1", "0s", "1S", "1 s", " 1s", "1s ", "1.5s", "1sec", "1w", "-1s",
		"1ms1", "367d", "18446744073709551617ms",
	};
	char buf[32];
	uint64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 0;
		assert_int_equal(pt_duration_parse(good[i].text, &ms), 0);
		assert_true(ms == good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pt_duration_parse(bad[i], &ms) == 0)
			fail_msg("\"%s\" parsed as %llu ms", bad[i], (unsigned long long)ms);
	assert_int_equal(pt_duration_parse(NULL, &ms), -EINVAL);
	pt_duration_format(90000, buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	pt_duration_format(7200000, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
	pt_duration_format(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_spec),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_hostile_slugs),
		cmocka_unit_test(test_slug_validate),
		cmocka_unit_test(test_blueprint_refs),
		cmocka_unit_test(test_blueprint_in_spec),
		cmocka_unit_test(test_entrypoint),
		cmocka_unit_test(test_argv_limits),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_port_range),
		cmocka_unit_test(test_resources_valid),
		cmocka_unit_test(test_resources_invalid),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_required_fields),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_limits),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_secret_value_not_in_message),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_cpu_parse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_ret_untouched_late_failure),
		cmocka_unit_test(test_message_escaping),
		cmocka_unit_test(test_nul_in_key),
		cmocka_unit_test(test_null_err),
		cmocka_unit_test(test_confine_fields),
		cmocka_unit_test(test_confine_errors),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_idle_errors),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_health_errors),
		cmocka_unit_test(test_duration_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

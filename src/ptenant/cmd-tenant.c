/* create, start, stop, restart, rm, ls, inspect. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "fsutil.h"
#include "ptenant/spec.h"

/* --secret NAME=VALUE, or NAME=@FILE to keep the value off the command
 * line (and out of `ps`). */
static int secret_value(const char *text, json_t *secrets)
{
	const char *eq = strchr(text, '=');
	char name[PT_SECRET_NAME_MAX + 1];
	char *value = NULL;
	size_t len;

	if (!eq || eq == text || (size_t)(eq - text) > PT_SECRET_NAME_MAX)
		return cli_usage_error("--secret wants NAME=VALUE or NAME=@FILE, not '%s'", text);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - text), text);
	if (eq[1] == '@') {
		pt_err err = { 0 };

		if (pt_read_file(AT_FDCWD, eq + 2, PT_SECRET_VALUE_MAX, &value, &len, &err) < 0) {
			fprintf(stderr, "ptenant: --secret %s: %s\n", name, err.msg);
			return EXIT_FAILED;
		}
		while (len > 0 && value[len - 1] == '\n')
			value[--len] = '\0'; /* files usually end in a newline */
		json_object_set_new(secrets, name, json_stringn(value, len));
		free(value);
		return json_object_get(secrets, name) ? 0 :
			cli_usage_error("--secret %s: value is not UTF-8 text", name);
	}
	json_object_set_new(secrets, name, json_string(eq + 1));
	return 0;
}

static int env_value(const char *text, json_t *env)
{
	const char *eq = strchr(text, '=');
	char *key;

	if (!eq || eq == text)
		return cli_usage_error("--env wants KEY=VALUE, not '%s'", text);
	key = strndup(text, (size_t)(eq - text));
	json_object_set_new(env, key, json_string(eq + 1));
	free(key);
	return 0;
}

static json_t *load_spec_file(const char *path)
{
	json_error_t jerr;
	json_t *spec = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!spec)
		fprintf(stderr, "ptenant: %s:%d:%d: %s\n", path, jerr.line, jerr.column, jerr.text);
	return spec;
}

static json_t *obj_child(json_t *spec, const char *key)
{
	json_t *o = json_object_get(spec, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(spec, key, o);
	}
	return o;
}

enum {
	OPT_HEALTH_HTTP = 1000, OPT_HEALTH_TCP, OPT_HEALTH_EXEC, OPT_HEALTH_NOTIFY,
	OPT_HEALTH_INTERVAL, OPT_HEALTH_TIMEOUT, OPT_HEALTH_START, OPT_HEALTH_RETRIES,
};

static int int_arg(const char *flag, const char *arg, long *ret)
{
	char *end;

	*ret = strtol(arg, &end, 10);
	if (*end || end == arg)
		return cli_usage_error("%s wants a number, not '%s'", flag, arg);
	return 0;
}

/* --health-*: the spec's "health" block, checked by the daemon. */
static int health_flag(json_t *spec, int c, const char *arg)
{
	json_t *h = obj_child(spec, "health");
	long v;

	switch (c) {
	case OPT_HEALTH_HTTP: return json_object_set_new(h, "http", json_pack("{s:s}", "path", arg));
	case OPT_HEALTH_TCP:
		if (int_arg("--health-tcp", arg, &v) < 0)
			return EXIT_USAGE;
		return json_object_set_new(h, "tcp", json_pack("{s:i}", "port", (int)v));
	case OPT_HEALTH_EXEC: return json_object_set_new(h, "exec", json_pack("[s,s,s]", "/bin/sh", "-c", arg));
	case OPT_HEALTH_NOTIFY: return json_object_set_new(h, "notify", json_true());
	case OPT_HEALTH_INTERVAL: return json_object_set_new(h, "interval", json_string(arg));
	case OPT_HEALTH_TIMEOUT: return json_object_set_new(h, "timeout", json_string(arg));
	case OPT_HEALTH_START: return json_object_set_new(h, "start_period", json_string(arg));
	case OPT_HEALTH_RETRIES:
		if (int_arg("--health-retries", arg, &v) < 0)
			return EXIT_USAGE;
		return json_object_set_new(h, "retries", json_integer(v));
	default: return EXIT_USAGE;
	}
}

static int apply_flag(json_t *spec, int c, const char *arg)
{
	if (c >= OPT_HEALTH_HTTP && c <= OPT_HEALTH_RETRIES)
		return health_flag(spec, c, arg);
	switch (c) {
	case 'b': json_object_set_new(spec, "blueprint", json_string(arg)); return 0;
	case 'e': return env_value(arg, obj_child(spec, "env"));
	case 's': return secret_value(arg, obj_child(spec, "secrets"));
	case 'm': json_object_set_new(obj_child(spec, "resources"), "memory", json_string(arg)); return 0;
	case 'c': json_object_set_new(obj_child(spec, "resources"), "cpu", json_string(arg)); return 0;
	case 'l': json_object_set_new(obj_child(spec, "resources"), "log_rate", json_string(arg)); return 0;
	case 'B': json_object_set_new(obj_child(spec, "resources"), "log_burst", json_string(arg)); return 0;
	case 'P': {
		char *end;
		long v = strtol(arg, &end, 10);

		if (*end || end == arg)
			return cli_usage_error("--pids wants a number, not '%s'", arg);
		json_object_set_new(obj_child(spec, "resources"), "pids", json_integer(v));
		return 0;
	}
	case 'p': {
		char *end;
		long v = strtol(arg, &end, 10);

		if (*end || end == arg)
			return cli_usage_error("--port wants a number, not '%s'", arg);
		json_object_set_new(spec, "port", json_integer(v));
		return 0;
	}
	case 'r': json_object_set_new(spec, "restart", json_string(arg)); return 0;
	case 'F': json_object_set_new(obj_child(spec, "idle"), "freeze_after", json_string(arg)); return 0;
	case 'T': json_object_set_new(obj_child(spec, "idle"), "stop_after", json_string(arg)); return 0;
	case 'W': json_object_set_new(obj_child(spec, "idle"), "wake_timeout", json_string(arg)); return 0;
	case 'E': json_object_set_new(spec, "entrypoint", json_pack("[s]", arg)); return 0;
	default: return cli_confine_flag(spec, c, arg); /* --user, --rlimit, --seccomp-profile */
	}
}

int cmd_create(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "blueprint", required_argument, NULL, 'b' },
		{ "env", required_argument, NULL, 'e' },
		{ "secret", required_argument, NULL, 's' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "pids", required_argument, NULL, 'P' },
		{ "log-rate", required_argument, NULL, 'l' },
		{ "log-burst", required_argument, NULL, 'B' },
		{ "port", required_argument, NULL, 'p' },
		{ "restart", required_argument, NULL, 'r' },
		{ "entrypoint", required_argument, NULL, 'E' },
		{ "freeze-after", required_argument, NULL, 'F' },
		{ "stop-after", required_argument, NULL, 'T' },
		{ "wake-timeout", required_argument, NULL, 'W' },
		{ "no-start", no_argument, NULL, 'n' },
		{ "user", required_argument, NULL, 'U' },
		{ "rlimit", required_argument, NULL, 'L' },
		{ "seccomp-profile", required_argument, NULL, 'S' },
		{ "health-http", required_argument, NULL, OPT_HEALTH_HTTP },
		{ "health-tcp", required_argument, NULL, OPT_HEALTH_TCP },
		{ "health-exec", required_argument, NULL, OPT_HEALTH_EXEC },
		{ "health-notify", no_argument, NULL, OPT_HEALTH_NOTIFY },
		{ "health-interval", required_argument, NULL, OPT_HEALTH_INTERVAL },
		{ "health-timeout", required_argument, NULL, OPT_HEALTH_TIMEOUT },
		{ "health-start-period", required_argument, NULL, OPT_HEALTH_START },
		{ "health-retries", required_argument, NULL, OPT_HEALTH_RETRIES },
		{ 0 },
	};
	json_t *spec = NULL, *resp;
	bool start = true;
	int c, r = 0;

	/* Two passes: the spec file first (wherever -f stands), then every
	 * other flag over it. */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:b:e:s:", longopts, NULL)) != -1)
		if (c == 'f' && !spec && !(spec = load_spec_file(optarg)))
			return EXIT_FAILED;
	if (!spec)
		spec = json_object();
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "f:b:e:s:", longopts, NULL)) != -1) {
		if (c == 'f')
			continue;
		if (c == 'n')
			start = false;
		else if (c == '?')
			r = cli_usage_error("create: unknown option or missing value in '%s'", argv[optind - 1]);
		else
			r = apply_flag(spec, c, optarg);
	}
	if (r == 0 && optind < argc)
		json_object_set_new(spec, "slug", json_string(argv[optind++]));
	if (r == 0 && optind < argc)
		r = cli_usage_error("create: unexpected argument '%s'", argv[optind]);
	if (r == 0 && !json_object_get(spec, "slug"))
		r = cli_usage_error("create: which tenant? give a SLUG or a spec file with \"slug\"");
	if (r) {
		json_decref(spec);
		return r;
	}
	resp = cli_call(cli, json_pack("{s:s, s:o, s:b}", "op", "create", "spec", spec,
				       "start", start));
	if (!resp)
		return EXIT_FAILED;
	if (cli->json)
		cli_print_json(json_object_get(resp, "tenant"));
	else
		printf("%s: %s\n", json_string_value(json_object_get(json_object_get(resp, "tenant"), "slug")),
		       json_string_value(json_object_get(json_object_get(resp, "tenant"), "state")));
	json_decref(resp);
	return EXIT_OK;
}

/* pause SLUG [--sleep] */
int cmd_pause(struct cli *cli, int argc, char **argv)
{
	bool sleep = false;
	json_t *resp;

	if (argc == 3 && strcmp(argv[2], "--sleep") == 0) {
		sleep = true;
		argc = 2;
	} else if (argc == 3 && strcmp(argv[1], "--sleep") == 0) {
		sleep = true;
		argv[1] = argv[2];
		argc = 2;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_error("pause wants one SLUG, and --sleep to stop it to sleep");
	resp = cli_call(cli, json_pack("{s:s, s:s, s:b}", "op", "pause", "slug", argv[1],
				       "sleep", sleep));
	if (!resp)
		return EXIT_FAILED;
	if (cli->json)
		cli_print_json(resp);
	else
		printf("%s: %s\n", argv[1],
		       json_string_value(json_object_get(json_object_get(resp, "tenant"), "state")));
	json_decref(resp);
	return EXIT_OK;
}

int cmd_simple(struct cli *cli, const char *op, int argc, char **argv)
{
	json_t *resp;

	if (argc != 2)
		return cli_usage_error("%s wants exactly one SLUG", op);
	resp = cli_call(cli, json_pack("{s:s, s:s}", "op", op, "slug", argv[1]));
	if (!resp)
		return EXIT_FAILED;
	if (cli->json)
		cli_print_json(resp);
	else if (json_object_get(resp, "tenant"))
		printf("%s: %s\n", argv[1],
		       json_string_value(json_object_get(json_object_get(resp, "tenant"), "state")));
	else
		printf("%s: removed\n", argv[1]);
	json_decref(resp);
	return EXIT_OK;
}

static void format_uptime(json_t *t, char *buf, size_t n)
{
	json_t *u = json_object_get(t, "uptime_ms");
	long long s = u ? (long long)(json_integer_value(u) / 1000) : -1;

	if (s < 0)
		snprintf(buf, n, "-");
	else if (s < 120)
		snprintf(buf, n, "%llds", s);
	else if (s < 7200)
		snprintf(buf, n, "%lldm", s / 60);
	else
		snprintf(buf, n, "%lldh", s / 3600);
}

int cmd_ls(struct cli *cli, int argc, char **argv)
{
	json_t *resp, *arr, *t;
	size_t i;

	(void)argv;
	if (argc != 1)
		return cli_usage_error("ls takes no arguments");
	resp = cli_call(cli, json_pack("{s:s}", "op", "ls"));
	if (!resp)
		return EXIT_FAILED;
	arr = json_object_get(resp, "tenants");
	if (cli->json) {
		cli_print_json(arr);
		json_decref(resp);
		return EXIT_OK;
	}
	printf("%-20s %-11s %-18s %8s %11s %8s %7s %-9s %s\n", "SLUG", "STATE", "BLUEPRINT",
	       "PID", "HOST-UID", "RESTARTS", "UPTIME", "HEALTH", "LAST-EXIT");
	json_array_foreach(arr, i, t) {
		const char *health = json_string_value(json_object_get(t, "health"));
		char up[16], ex[48];

		format_uptime(t, up, sizeof(up));
		cli_format_last_exit(t, ex, sizeof(ex));
		printf("%-20s %-11s %-18s %8lld %11lld %8lld %7s %-9s %s\n",
		       json_string_value(json_object_get(t, "slug")),
		       json_string_value(json_object_get(t, "state")),
		       json_string_value(json_object_get(t, "blueprint")),
		       (long long)json_integer_value(json_object_get(t, "pid")),
		       (long long)json_integer_value(json_object_get(t, "host_uid")),
		       (long long)json_integer_value(json_object_get(t, "restarts")), up,
		       health ? health : "-", ex);
		if (json_object_get(t, "error"))
			printf("    error: %s\n", json_string_value(json_object_get(t, "error")));
		if (json_object_get(t, "state_error"))
			printf("    state not saved (retried every second): %s\n",
			       json_string_value(json_object_get(t, "state_error")));
	}
	/* A footer, so the table's header stays the first line for scripts. */
	if (json_is_false(json_object_get(json_object_get(resp, "budgets"), "enabled")))
		printf("budgets: %s\n", json_string_value(json_object_get(
			json_object_get(resp, "budgets"), "note")));
	json_decref(resp);
	return EXIT_OK;
}

int cmd_inspect(struct cli *cli, int argc, char **argv)
{
	json_t *resp;

	if (argc >= 3 && strcmp(argv[1], "--security") == 0 &&
	    cli_drop_dashdash(argc - 1, argv + 1) == 2)
		return cmd_inspect_security(cli, argv[2]);
	if (argc != 2)
		return cli_usage_error("inspect wants exactly one SLUG (or --security SLUG)");
	resp = cli_call(cli, json_pack("{s:s, s:s}", "op", "inspect", "slug", argv[1]));
	if (!resp)
		return EXIT_FAILED;
	cli_print_json(json_object_get(resp, "tenant"));
	json_decref(resp);
	return EXIT_OK;
}

/* The confinement flags of `create` and `inspect --security`. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *rlim_value(const char *s, size_t len)
{
	char buf[32], *end;
	unsigned long long v;

	if (len == 0 || len >= sizeof(buf))
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "unlimited") == 0)
		return json_string("unlimited");
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (*end || errno || v > INT64_MAX || buf[0] == '-')
		return NULL;
	return json_integer((json_int_t)v);
}

/* --rlimit nofile=1024:4096 or core=0; the daemon validates the name. */
static int rlimit_flag(json_t *spec, const char *arg)
{
	const char *eq = strchr(arg, '='), *colon;
	json_t *rl = json_object_get(spec, "rlimits"), *soft, *hard;
	char *name;

	if (!eq || eq == arg)
		return cli_usage_error("--rlimit wants NAME=SOFT[:HARD], not '%s'", arg);
	colon = strchr(eq + 1, ':');
	soft = rlim_value(eq + 1, colon ? (size_t)(colon - eq - 1) : strlen(eq + 1));
	hard = colon ? rlim_value(colon + 1, strlen(colon + 1)) : NULL;
	if (!soft || (colon && !hard)) {
		json_decref(soft);
		return cli_usage_error("--rlimit %s: values are numbers or \"unlimited\"", arg);
	}
	if (!json_is_object(rl)) {
		rl = json_object();
		json_object_set_new(spec, "rlimits", rl);
	}
	name = strndup(arg, (size_t)(eq - arg));
	json_object_set_new(rl, name, hard ? json_pack("{s:o, s:o}", "soft", soft, "hard", hard)
				       : soft);
	free(name);
	return 0;
}

int cli_confine_flag(json_t *spec, int c, const char *arg)
{
	json_error_t jerr;
	json_t *profile;

	switch (c) {
	case 'U':
		json_object_set_new(spec, "user", json_string(arg));
		return 0;
	case 'L':
		return rlimit_flag(spec, arg);
	case 'S':
		/* The profile travels inside the spec: the daemon never opens a
		 * path an API caller names. */
		profile = json_load_file(arg, JSON_REJECT_DUPLICATES, &jerr);
		if (!profile) {
			fprintf(stderr, "ptenant: --seccomp-profile %s:%d:%d: %s\n", arg, jerr.line,
				jerr.column, jerr.text);
			return EXIT_FAILED;
		}
		json_object_set_new(spec, "seccomp_profile", profile);
		return 0;
	default:
		return EXIT_USAGE;
	}
}

static void print_caps(const char *label, json_t *status, const char *key)
{
	json_t *c = json_object_get(status, key), *n;
	size_t i;

	printf("  %-12s %s", label, json_string_value(json_object_get(c, "mask")));
	json_array_foreach(json_object_get(c, "names"), i, n)
		printf("%s%s", i ? "," : " ", json_string_value(n));
	putchar('\n');
}

static void print_strings(const char *label, json_t *arr)
{
	json_t *v;
	size_t i;

	printf("%s (%zu):", label, json_array_size(arr));
	json_array_foreach(arr, i, v)
		printf(" %s", json_string_value(v));
	putchar('\n');
}

static void print_security(json_t *s)
{
	json_t *init = json_object_get(s, "init"), *v, *m;
	const char *key;
	size_t i;

	printf("read from: %s\nnamespaces (own = not the host's):\n",
	       json_string_value(json_object_get(s, "source")));
	json_object_foreach(json_object_get(s, "namespaces"), key, v)
		printf("  %-7s %-22s host %-22s %s\n", key,
		       json_string_value(json_object_get(v, "tenant")),
		       json_string_value(json_object_get(v, "host")),
		       json_is_true(json_object_get(v, "own")) ? "own" : "SHARED");
	printf("uid_map: %sgid_map: %s", json_string_value(json_object_get(s, "uid_map")),
	       json_string_value(json_object_get(s, "gid_map")));
	printf("init: uid %s\n", json_string_value(json_object_get(init, "Uid")));
	print_caps("effective", init, "CapEff");
	print_caps("permitted", init, "CapPrm");
	print_caps("bounding", init, "CapBnd");
	print_caps("inheritable", init, "CapInh");
	print_caps("ambient", init, "CapAmb");
	printf("  NoNewPrivs %s, Seccomp mode %s, filters %s (profile %s, %lld BPF instructions)\n",
	       json_string_value(json_object_get(init, "NoNewPrivs")),
	       json_string_value(json_object_get(init, "Seccomp")),
	       json_string_value(json_object_get(init, "Seccomp_filters")),
	       json_string_value(json_object_get(s, "seccomp_profile")),
	       (long long)json_integer_value(json_object_get(s, "seccomp_bpf_instructions")));
	json_array_foreach(json_object_get(s, "processes"), i, v)
		printf("process %lld (%s): uid %s, CapEff %s, NoNewPrivs %s, Seccomp %s/%s\n",
		       (long long)json_integer_value(json_object_get(v, "host_pid")),
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "Uid")),
		       json_string_value(json_object_get(json_object_get(v, "CapEff"), "mask")),
		       json_string_value(json_object_get(v, "NoNewPrivs")),
		       json_string_value(json_object_get(v, "Seccomp")),
		       json_string_value(json_object_get(v, "Seccomp_filters")));
	print_strings("masked paths", json_object_get(s, "masked_paths"));
	print_strings("read-only paths", json_object_get(s, "readonly_paths"));
	printf("mounts:\n");
	json_array_foreach(json_object_get(s, "mounts"), i, m)
		printf("  %-32s %-8s %s\n", json_string_value(json_object_get(m, "target")),
		       json_string_value(json_object_get(m, "fstype")),
		       json_string_value(json_object_get(m, "options")));
}

int cmd_inspect_security(struct cli *cli, const char *slug)
{
	json_t *resp = cli_call(cli, json_pack("{s:s, s:s}", "op", "inspect.security",
					       "slug", slug));

	if (!resp)
		return EXIT_FAILED;
	if (cli->json)
		cli_print_json(json_object_get(resp, "security"));
	else
		print_security(json_object_get(resp, "security"));
	json_decref(resp);
	return EXIT_OK;
}

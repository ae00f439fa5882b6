/* rollout NAME@NEW [...], rollout status [--wait], rollout pause|resume|
 * abort|undo. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define POLL_MS 200

static long long count(json_t *ro, const char *key)
{
	return (long long)json_integer_value(json_object_get(json_object_get(ro, "counts"), key));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static bool active(json_t *ro)
{
	const char *p = str(ro, "phase");

	return !strcmp(p, "running") || !strcmp(p, "paused") || !strcmp(p, "rolling-back");
}

/* One line: a bar of the tenants settled, then the counts. */
static void progress_line(json_t *ro, char *buf, size_t n)
{
	long long total = count(ro, "total"), settled = count(ro, "done") + count(ro, "reverted") +
		count(ro, "revert-failed") + count(ro, "gone");
	char bar[31];
	int fill = total ? (int)(settled * 30 / total) : 30;

	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[30] = '\0';
	snprintf(buf, n, "[%s] %lld/%lld  moved %lld  moving %lld  failed %lld  reverted %lld  %s",
		 bar, settled, total, count(ro, "done"), count(ro, "moving") + count(ro, "reverting"),
		 count(ro, "failed"), count(ro, "reverted"), str(ro, "phase"));
}

static void print_result(json_t *ro)
{
	json_t *t;
	size_t i;

	printf("rollout %s %s: %s", str(ro, "id"), str(ro, "target"), str(ro, "phase"));
	if (str(ro, "halt_reason")[0])
		printf(" (%s)", str(ro, "halt_reason"));
	printf("\n  %lld tenant(s): %lld moved, %lld failed, %lld reverted, %lld revert(s) failed, "
	       "%lld pending, %lld gone\n", count(ro, "total"), count(ro, "done"),
	       count(ro, "failed"), count(ro, "reverted"), count(ro, "revert-failed"),
	       count(ro, "pending"), count(ro, "gone"));
	json_array_foreach(json_object_get(ro, "tenants"), i, t) {
		if (!json_is_true(json_object_get(t, "failed")) &&
		    strcmp(str(t, "step"), "revert-failed") != 0)
			continue;
		printf("  failed: %s on %s: %s\n", str(t, "slug"), str(t, "to"), str(t, "why"));
	}
}

static json_t *status(struct cli *cli)
{
	json_t *resp = cli_call(cli, json_pack("{s:s}", "op", "rollout.status"));
	json_t *ro = resp ? json_incref(json_object_get(resp, "rollout")) : NULL;

	json_decref(resp);
	return ro;
}

/* Follows it until it is over: a bar redrawn in place on a terminal, a
 * line a second otherwise. 0 when every tenant moved, 1 otherwise. */
static int wait_for_end(struct cli *cli)
{
	bool tty = isatty(STDOUT_FILENO) && !cli->json;
	struct timespec ts = { 0, POLL_MS * 1000000L };
	char line[200], last[200] = "";
	json_t *ro;
	int ticks = 0, rc;

	while ((ro = status(cli)) && active(ro)) {
		progress_line(ro, line, sizeof(line));
		if (tty)
			printf("\r%s\033[K", line);
		else if (!cli->json && strcmp(line, last) != 0 && ticks++ % 5 == 0)
			printf("%s\n", line);
		snprintf(last, sizeof(last), "%s", line);
		fflush(stdout);
		json_decref(ro);
		nanosleep(&ts, NULL);
	}
	if (tty)
		printf("\r\033[K");
	if (!ro)
		return EXIT_FAILED;
	if (cli->json)
		cli_print_json(ro);
	else
		print_result(ro);
	rc = !strcmp(str(ro, "phase"), "done") && count(ro, "failed") == 0 ? EXIT_OK : EXIT_FAILED;
	json_decref(ro);
	return rc;
}

static json_t *split_tenants(const char *list)
{
	json_t *arr = json_array();
	char *copy = strdup(list), *save = NULL;

	for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_string(s));
	free(copy);
	return arr;
}

static int int_opt(const char *flag, const char *arg, json_t *req, const char *key)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || end == arg || v < 0)
		return cli_usage_error("rollout: %s wants a number, not '%s'", flag, arg);
	json_object_set_new(req, key, json_integer(v));
	return 0;
}

static int start(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "tenants", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "max-failures", required_argument, NULL, 'k' },
		{ "canary", required_argument, NULL, 'c' },
		{ "health-timeout", required_argument, NULL, 'T' },
		{ "wait", no_argument, NULL, 'w' },
		{ 0 },
	};
	json_t *req = json_pack("{s:s}", "op", "rollout.start"), *resp;
	bool wait = false;
	int c, r = 0;

	opterr = 0;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': json_object_set_new(req, "from", json_string(optarg)); break;
		case 't': json_object_set_new(req, "tenants", split_tenants(optarg)); break;
		case 'p': r = int_opt("--parallel", optarg, req, "parallel"); break;
		case 'k': r = int_opt("--max-failures", optarg, req, "max_failures"); break;
		case 'c': r = int_opt("--canary", optarg, req, "canary"); break;
		case 'T': json_object_set_new(req, "health_timeout", json_string(optarg)); break;
		case 'w': wait = true; break;
		default:
			r = cli_usage_error("rollout: unknown option or missing value in '%s'",
					    argv[optind - 1]);
		}
	}
	if (r == 0 && optind != argc - 1)
		r = cli_usage_error("rollout wants one NAME@VERSION (the version to move to)");
	if (r) {
		json_decref(req);
		return r;
	}
	json_object_set_new(req, "target", json_string(argv[optind]));
	resp = cli_call(cli, req);
	if (!resp)
		return EXIT_FAILED;
	if (!wait) {
		json_t *ro = json_object_get(resp, "rollout");

		if (cli->json)
			cli_print_json(ro);
		else
			printf("rollout %s of %s started: %lld tenant(s); follow it with 'ptenant "
			       "rollout status --wait'\n", str(ro, "id"), str(ro, "target"),
			       count(ro, "total"));
		json_decref(resp);
		return EXIT_OK;
	}
	json_decref(resp);
	return wait_for_end(cli);
}

static int show(struct cli *cli, bool wait)
{
	json_t *ro;
	char line[200];

	if (wait)
		return wait_for_end(cli);
	ro = status(cli);
	if (!ro)
		return EXIT_FAILED;
	if (cli->json) {
		cli_print_json(ro);
	} else {
		progress_line(ro, line, sizeof(line));
		printf("%s\n", line);
		print_result(ro);
	}
	json_decref(ro);
	return EXIT_OK;
}

int cmd_rollout(struct cli *cli, int argc, char **argv)
{
	static const char *const controls[] = { "pause", "resume", "abort", "undo" };
	char op[32];

	if (argc >= 2 && strcmp(argv[1], "status") == 0) {
		if (argc == 2 || (argc == 3 && strcmp(argv[2], "--wait") == 0))
			return show(cli, argc == 3);
		return cli_usage_error("rollout status takes only --wait");
	}
	for (size_t i = 0; argc >= 2 && i < sizeof(controls) / sizeof(controls[0]); i++) {
		json_t *resp;

		if (strcmp(argv[1], controls[i]) != 0)
			continue;
		if (argc != 2)
			return cli_usage_error("rollout %s takes no arguments", controls[i]);
		snprintf(op, sizeof(op), "rollout.%s", controls[i]);
		resp = cli_call(cli, json_pack("{s:s}", "op", op));
		if (!resp)
			return EXIT_FAILED;
		if (cli->json)
			cli_print_json(json_object_get(resp, "rollout"));
		else
			printf("rollout %s: %s\n", str(json_object_get(resp, "rollout"), "id"),
			       str(json_object_get(resp, "rollout"), "phase"));
		json_decref(resp);
		return EXIT_OK;
	}
	if (argc < 2)
		return cli_usage_error("rollout wants NAME@VERSION, or status, pause, resume, abort "
				       "or undo");
	return start(cli, argc, argv);
}

/* stats and update: a tenant's budget, what it uses of it, and live
 * changes to it. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"

static json_int_t get_int(json_t *o, const char *key, json_int_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void print_row(json_t *t)
{
	json_t *lim = json_object_get(t, "limits"), *ex = json_object_get(t, "last_exit");
	json_int_t cpu = get_int(t, "cpu_usec", -1);
	char cpus[24] = "-", up[24] = "-";

	if (cpu >= 0)
		snprintf(cpus, sizeof(cpus), "%.2f", cpu / 1e6);
	if (get_int(t, "uptime_ms", -1) >= 0)
		snprintf(up, sizeof(up), "%llds", (long long)(get_int(t, "uptime_ms", 0) / 1000));
	json_t *log = json_object_get(t, "log");

	printf("%-20s %-11s %8s %9.1f %9.1f %9.1f %5lld/%-5lld %8lld %7s %9.1f %9.1f %s\n",
	       json_string_value(json_object_get(t, "slug")),
	       json_string_value(json_object_get(t, "state")), cpus,
	       get_int(t, "memory_current", 0) / 1048576.0,
	       get_int(t, "memory_peak", 0) / 1048576.0,
	       get_int(lim, "memory_max", 0) / 1048576.0,
	       (long long)get_int(t, "pids_current", 0), (long long)get_int(lim, "pids_max", 0),
	       (long long)get_int(t, "restarts", 0), up,
	       get_int(log, "bytes", 0) / 1024.0, get_int(log, "suppressed", 0) / 1024.0,
	       ex ? json_string_value(json_object_get(ex, "reason")) : "-");
}

int cmd_stats(struct cli *cli, int argc, char **argv)
{
	json_t *resp, *arr, *t;
	size_t i;
	int code;

	resp = cli_call_all_or_one(cli, "stats", argc, argv, &code);
	if (!resp)
		return code;
	if (cli->json) {
		cli_print_json(resp);
		json_decref(resp);
		return EXIT_OK;
	}
	printf("%-20s %-11s %8s %9s %9s %9s %11s %8s %7s %9s %9s %s\n", "SLUG", "STATE", "CPU-S",
	       "MEM-MiB", "PEAK-MiB", "MAX-MiB", "PIDS", "RESTARTS", "UPTIME", "LOG-KiB",
	       "DROP-KiB", "LAST-EXIT");
	arr = json_object_get(resp, "tenants");
	json_array_foreach(arr, i, t)
		print_row(t);
	/* PEAK-MiB is of the current run: after an OOM respawn it is the new
	 * run's, so the incident's own peak is shown apart. */
	json_array_foreach(arr, i, t) {
		char line[256];

		if (cli_format_last_oom(t, line, sizeof(line)))
			printf("%s\n", line);
	}
	/* A footer, as in `ls`: the header stays the first line. */
	printf("budgets: %s\n", json_string_value(json_object_get(json_object_get(resp, "budgets"), "note")));
	json_decref(resp);
	return EXIT_OK;
}

/* update SLUG --blueprint NAME@VERSION: the tenant moved to that version
 * (restarted when it runs; answered once it runs again). */
static int update_blueprint(struct cli *cli, const char *slug, const char *ref)
{
	json_t *resp = cli_call(cli, json_pack("{s:s, s:s, s:s}", "op", "move", "slug", slug,
					       "blueprint", ref));
	json_t *t;

	if (!resp)
		return EXIT_FAILED;
	t = json_object_get(resp, "tenant");
	if (cli->json)
		cli_print_json(resp);
	else
		printf("%s: on blueprint %s, %s\n", slug, ref,
		       json_string_value(json_object_get(t, "state")) ?
		       json_string_value(json_object_get(t, "state")) : "moved");
	json_decref(resp);
	return EXIT_OK;
}

int cmd_update(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "memory-high", required_argument, NULL, 'H' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "pids", required_argument, NULL, 'P' },
		{ "log-rate", required_argument, NULL, 'r' },
		{ "log-burst", required_argument, NULL, 'b' },
		{ "blueprint", required_argument, NULL, 'B' },
		{ 0 },
	};
	const char *blueprint = NULL;
	json_t *req = json_pack("{s:s}", "op", "update"), *resp;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		long v;

		switch (c) {
		case 'm': json_object_set_new(req, "memory", json_string(optarg)); break;
		case 'H': json_object_set_new(req, "memory_high", json_string(optarg)); break;
		case 'c': json_object_set_new(req, "cpu", json_string(optarg)); break;
		case 'r': json_object_set_new(req, "log_rate", json_string(optarg)); break;
		case 'b': json_object_set_new(req, "log_burst", json_string(optarg)); break;
		case 'B': blueprint = optarg; break;
		case 'P':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg) {
				json_decref(req);
				return cli_usage_error("--pids wants a number, not '%s'", optarg);
			}
			json_object_set_new(req, "pids", json_integer(v));
			break;
		default:
			json_decref(req);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		json_decref(req);
		return cli_usage_error("update wants one SLUG and --memory, --cpu, --pids, --log-rate, "
				       "--log-burst or --blueprint");
	}
	if (blueprint) {
		if (json_object_size(req) > 1) {
			json_decref(req);
			return cli_usage_error("update --blueprint goes alone: change the budget in "
					       "another update");
		}
		json_decref(req);
		return update_blueprint(cli, argv[optind], blueprint);
	}
	json_object_set_new(req, "slug", json_string(argv[optind]));
	resp = cli_call(cli, req);
	if (!resp)
		return EXIT_FAILED;
	if (cli->json)
		cli_print_json(resp);
	else
		printf("%s: budget updated%s\n", argv[optind],
		       json_is_true(json_object_get(resp, "applied_live")) ? " live" :
		       " (applies at the next start)");
	json_decref(resp);
	return EXIT_OK;
}

/* ptenant status: the daemon itself (version, tenants, ingress channel). */
int cmd_status(struct cli *cli, int argc, char **argv)
{
	json_t *resp, *ch;

	(void)argv;
	if (argc != 1)
		return cli_usage_error("status takes no arguments");
	resp = cli_call(cli, json_pack("{s:s}", "op", "ping"));
	if (!resp)
		return EXIT_FAILED;
	if (cli->json) {
		cli_print_json(resp);
	} else {
		printf("ptenantd %s, %lld tenant(s)\n",
		       json_string_value(json_object_get(resp, "version")),
		       (long long)json_integer_value(json_object_get(resp, "tenants")));
		ch = json_object_get(resp, "ingress_channel");
		if (ch)
			printf("ingress channel %s: %lld peer(s), %lld wake(s) under way, "
			       "%lld message(s) refused\n",
			       json_string_value(json_object_get(ch, "socket")),
			       (long long)json_integer_value(json_object_get(ch, "peers")),
			       (long long)json_integer_value(json_object_get(ch, "wakes")),
			       (long long)json_integer_value(json_object_get(ch, "refused")));
	}
	json_decref(resp);
	return EXIT_OK;
}

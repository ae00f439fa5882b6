/* logs [-f] and events. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "ptenant/spec.h"
#include "usage.h"

int cmd_logs(struct cli *cli, int argc, char **argv)
{
	bool follow = false;
	const char *slug = NULL;
	json_int_t offset = -1;

	bool options = true;

	for (int i = 1; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0)
			options = false;
		else if (options && (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0))
			follow = true;
		else if (!slug && (!options || argv[i][0] != '-'))
			slug = argv[i];
		else
			return cli_usage_error("logs: unexpected argument '%s'", argv[i]);
	}
	if (!slug)
		return cli_usage_error("logs wants a SLUG");
	for (;;) {
		json_t *req = json_pack("{s:s, s:s}", "op", "logs", "slug", slug), *resp;
		const char *data;

		if (offset >= 0)
			json_object_set_new(req, "offset", json_integer(offset));
		resp = cli_call(cli, req);
		if (!resp)
			return EXIT_FAILED;
		data = json_string_value(json_object_get(resp, "data"));
		fwrite(data, 1, json_string_length(json_object_get(resp, "data")), stdout);
		fflush(stdout);
		offset = json_integer_value(json_object_get(resp, "offset"));
		json_decref(resp);
		if (!follow)
			return EXIT_OK;
		/* Polling keeps the daemon free of long-lived streams. */
		usleep(250000);
	}
}

/* --since: a duration ago ("10m"), a day ("2026-12-04", UTC midnight) or
 * a time ("2026-12-04T10:30:00Z"). Unix ms, or 0 on error. */
static uint64_t parse_since(const char *text)
{
	struct tm tm = { 0 };
	uint64_t ms, day;
	const char *end;

	if (pt_duration_parse(text, &ms) == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - ms;
	}
	if (pt_day_parse(text, &day) == 0)
		return day * PT_DAY_MS;
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0;
	return (uint64_t)timegm(&tm) * 1000;
}

static void print_batch(struct cli *cli, json_t *events, bool follow, bool first)
{
	size_t i;
	json_t *ev;

	if (cli->json && follow) {
		/* JSON lines: one record a line, as they come. */
		json_array_foreach(events, i, ev) {
			char *line = json_dumps(ev, JSON_COMPACT);

			if (line)
				printf("%s\n", line);
			free(line);
		}
		fflush(stdout);
	} else if (cli->json) {
		cli_print_json(events);
	} else if (follow) {
		cli_print_events_follow(stdout, events, first);
	} else {
		cli_print_events(stdout, events);
	}
}

/* events [SLUG] [-f] [--kind KIND] [--since WHEN]: -f polls every 50 ms
 * from where the last read stopped, so a record is shown within about
 * that of being written. */
int cmd_events(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "kind", required_argument, NULL, 'k' },
		{ "since", required_argument, NULL, 's' },
		{ 0 },
	};
	struct timespec pause = { 0, 50 * 1000000L };
	json_t *req = json_pack("{s:s}", "op", "events"), *resp;
	bool follow = false, first = true;
	int c, r = 0;

	opterr = 0;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
		uint64_t since;

		switch (c) {
		case 'f': follow = true; break;
		case 'k': json_object_set_new(req, "kind", json_string(optarg)); break;
		case 's':
			since = parse_since(optarg);
			if (!since)
				r = cli_usage_error("events: --since wants a duration (10m), a day "
						    "(2026-12-04) or a time (2026-12-04T10:30:00Z), "
						    "not '%s'", optarg);
			json_object_set_new(req, "since", json_integer((json_int_t)since));
			break;
		default:
			r = cli_usage_error("events: unknown option or missing value in '%s'",
					    argv[optind - 1]);
		}
	}
	if (r == 0 && optind < argc)
		json_object_set_new(req, "slug", json_string(argv[optind++]));
	if (r == 0 && optind < argc)
		r = cli_usage_error("events takes at most one SLUG");
	if (r) {
		json_decref(req);
		return r;
	}
	for (;;) {
		json_int_t offset;

		resp = cli_call(cli, json_incref(req));
		if (!resp) {
			json_decref(req);
			return EXIT_FAILED;
		}
		print_batch(cli, json_object_get(resp, "events"), follow, first);
		first = false;
		offset = json_integer_value(json_object_get(resp, "offset"));
		json_decref(resp);
		if (!follow)
			break;
		json_object_set_new(req, "offset", json_integer(offset));
		nanosleep(&pause, NULL);
	}
	json_decref(req);
	return EXIT_OK;
}

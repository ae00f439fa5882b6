/* logs [-f] and events. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"

int cmd_logs(struct cli *cli, int argc, char **argv)
{
	bool follow = false;
	const char *slug = NULL;
	json_int_t offset = -1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
			follow = true;
		else if (!slug && argv[i][0] != '-')
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

int cmd_events(struct cli *cli, int argc, char **argv)
{
	json_t *resp;
	int rc;

	resp = cli_call_all_or_one(cli, "events", argc, argv, &rc);
	if (!resp)
		return rc;
	if (cli->json) {
		cli_print_json(json_object_get(resp, "events"));
		json_decref(resp);
		return EXIT_OK;
	}
	cli_print_events(stdout, json_object_get(resp, "events"));
	json_decref(resp);
	return EXIT_OK;
}

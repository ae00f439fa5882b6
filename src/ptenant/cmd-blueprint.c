/* blueprint import NAME@VERSION DIR, blueprint ls. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int bp_import(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX];
	json_t *resp;

	if (argc != 4)
		return cli_usage_error("blueprint import wants NAME@VERSION DIR");
	/* The daemon resolves paths in its own cwd: send an absolute one. */
	if (!realpath(argv[3], dir)) {
		perror(argv[3]);
		return EXIT_FAILED;
	}
	resp = cli_call(cli, json_pack("{s:s, s:s, s:s}", "op", "blueprint.import",
				       "ref", argv[2], "dir", dir));
	if (!resp)
		return EXIT_FAILED;
	printf("blueprint %s imported\n", argv[2]);
	json_decref(resp);
	return EXIT_OK;
}

static int bp_ls(struct cli *cli)
{
	json_t *resp = cli_call(cli, json_pack("{s:s}", "op", "blueprint.ls")), *b;
	size_t i;

	if (!resp)
		return EXIT_FAILED;
	if (cli->json) {
		cli_print_json(json_object_get(resp, "blueprints"));
	} else {
		printf("%-20s %-12s %-6s %s\n", "NAME", "VERSION", "PORT", "ENTRYPOINT");
		json_array_foreach(json_object_get(resp, "blueprints"), i, b)
			printf("%-20s %-12s %-6lld %s\n",
			       json_string_value(json_object_get(b, "name")),
			       json_string_value(json_object_get(b, "version")),
			       (long long)json_integer_value(json_object_get(b, "port")),
			       json_string_value(json_object_get(b, "entrypoint")));
	}
	json_decref(resp);
	return EXIT_OK;
}

int cmd_blueprint(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return bp_import(cli, argc, argv);
	if (argc == 2 && strcmp(argv[1], "ls") == 0)
		return bp_ls(cli);
	return cli_usage_error("blueprint wants 'import NAME@VERSION DIR' or 'ls'");
}

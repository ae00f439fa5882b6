/* exec SLUG -- CMD...: our own stdin/stdout/stderr go to the daemon, which
 * runs CMD inside the tenant on them; we exit with CMD's status. */
#include <jansson.h>
#include <string.h>

#include "cli.h"

int cmd_exec(struct cli *cli, int argc, char **argv)
{
	static const int stdio[3] = { 0, 1, 2 };
	json_t *args, *resp;
	int i = 2, code;

	if (argc < 3)
		return cli_usage_error("exec wants SLUG -- CMD [ARG]...");
	if (strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return cli_usage_error("exec: no command after --");
	args = json_array();
	for (; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	resp = cli_call_fds(cli, json_pack("{s:s, s:s, s:o}", "op", "exec", "slug", argv[1],
					   "argv", args), stdio, 3);
	if (!resp)
		return EXIT_FAILED;
	code = (int)json_integer_value(json_object_get(resp, "exit_code"));
	json_decref(resp);
	return code;
}

/* ptenant: the operator's CLI for ptenantd. See ptenant(1). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "config-build.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ptenant [--socket PATH] [--json] COMMAND [ARG]...\n\n"
		"Tenants:\n"
		"  create SLUG --blueprint NAME@VERSION [OPTION]...  create and start a tenant\n"
		"  create -f SPEC.json                 the same from a spec file\n"
		"    confinement: --user UID[:GID]  --rlimit NAME=SOFT[:HARD]  --seccomp-profile FILE\n"
		"    log budget: --log-rate SIZE (per second)  --log-burst SIZE\n"
		"    idle: --freeze-after DURATION  --stop-after DURATION  --wake-timeout DURATION\n"
		"  start SLUG | stop SLUG | restart SLUG | rm SLUG\n"
		"  pause SLUG [--sleep]                freeze it (--sleep: end its processes; /data kept)\n"
		"  resume SLUG                         thaw or wake it\n"
		"  ls                                  list tenants\n"
		"  status                              the daemon: version, tenants, ingress channel\n"
		"  inspect SLUG                        spec and state (secret values never shown)\n"
		"  inspect --security SLUG             namespaces, ids, caps, seccomp, masks, mounts\n"
		"  logs [-f] SLUG                      the tenant's stdout and stderr\n"
		"  events [SLUG]                       the incident journal\n"
		"  exec SLUG -- CMD [ARG]...           run CMD inside the tenant\n"
		"  stats [SLUG]                        CPU seconds, memory, pids, restarts, last exit\n"
		"  update SLUG [--memory SIZE] [--memory-high SIZE] [--cpu CORES] [--pids N]\n"
		"              [--log-rate SIZE] [--log-burst SIZE]\n"
		"                                      change a budget without a restart\n"
		"  update SLUG --blueprint NAME@VERSION  move it to that version (restarted, /data kept)\n"
		"Blueprints:\n"
		"  blueprint import NAME@VERSION DIR   import DIR/{manifest.json,rootfs}\n"
		"  blueprint import NAME@VERSION oci:DIR[:TAG]|oci-archive:FILE[:TAG]\n"
		"                                      import an OCI image (ptenant-blueprint(5))\n"
		"  blueprint rm NAME@VERSION           remove a version no tenant uses\n"
		"  blueprint ls\n"
		"Rollouts (one at a time):\n"
		"  rollout NAME@NEW [--from NAME@OLD | --tenants A,B,...] [--parallel N]\n"
		"          [--max-failures K] [--canary C] [--health-timeout DURATION] [--wait]\n"
		"                                      move tenants to NEW, health-gated; rolled back\n"
		"                                      when K fail or a canary fails\n"
		"  rollout status [--wait]             progress (--wait: follow it to the end)\n"
		"  rollout pause | resume | abort | undo\n"
		"Usage, for billing:\n"
		"  usage [SLUG] [--month YYYY-MM | --from YYYY-MM-DD --to YYYY-MM-DD] [--csv]\n"
		"                                      hours active, frozen, asleep; CPU, memory;\n"
		"                                      restarts, incidents; active runtime-months\n\n"
		"  --socket PATH   the API socket (default $PTENANT_SOCKET or /run/ptenant/ptenantd.sock)\n"
		"  --json          print JSON instead of tables\n\n"
		"Exit status: 0 done, 1 failed, 2 usage error; exec exits with CMD's status.\n");
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ptenant: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ptenant --help'.\n", stderr);
	return EXIT_USAGE;
}

int cli_drop_dashdash(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--") != 0)
		return argc;
	/* argv[argc] is NULL and moves too. */
	memmove(&argv[1], &argv[2], (size_t)(argc - 1) * sizeof(*argv));
	return argc - 1;
}

void cli_print_json(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (text)
		puts(text);
	free(text);
}

void cli_print_error(json_t *resp)
{
	json_t *e = json_object_get(resp, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));

	fprintf(stderr, "ptenant: %s%s%s%s\n", msg ? msg : "request failed",
		field && field[0] ? " (field: " : "", field && field[0] ? field : "",
		field && field[0] ? ")" : "");
}

json_t *cli_call_fds(struct cli *cli, json_t *req, const int *fds, int n_fds)
{
	pt_err err = { 0 };
	json_t *resp = NULL;
	int fd = pt_api_connect(cli->socket, &err);

	if (fd >= 0) {
		pt_api_call(fd, req, fds, (size_t)n_fds, &resp, &err);
		close(fd);
	}
	json_decref(req);
	if (!resp) {
		fprintf(stderr, "ptenant: %s\n", err.msg);
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		if (cli->json)
			cli_print_json(resp);
		cli_print_error(resp);
		json_decref(resp);
		return NULL;
	}
	return resp;
}

json_t *cli_call(struct cli *cli, json_t *req)
{
	return cli_call_fds(cli, req, NULL, 0);
}

json_t *cli_call_all_or_one(struct cli *cli, const char *op, int argc, char **argv,
			    int *ret_code)
{
	json_t *req, *resp;

	if (argc > 2) {
		*ret_code = cli_usage_error("%s takes at most one SLUG", op);
		return NULL;
	}
	req = json_pack("{s:s}", "op", op);
	if (argc == 2)
		json_object_set_new(req, "slug", json_string(argv[1]));
	resp = cli_call(cli, req);
	*ret_code = resp ? EXIT_OK : EXIT_FAILED;
	return resp;
}

static int dispatch(struct cli *cli, int argc, char **argv)
{
	const char *cmd = argv[0];

	/* `CMD -- SLUG ...` for the commands whose SLUG comes first; create,
	 * update, logs, events and usage take "--" among their options
	 * (getopt's own). */
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "restart") == 0 || strcmp(cmd, "rm") == 0 ||
	    strcmp(cmd, "inspect") == 0 ||
	    strcmp(cmd, "stats") == 0 || strcmp(cmd, "exec") == 0 ||
	    strcmp(cmd, "resume") == 0)
		argc = cli_drop_dashdash(argc, argv);

	if (strcmp(cmd, "create") == 0)
		return cmd_create(cli, argc, argv);
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "restart") == 0 || strcmp(cmd, "rm") == 0 ||
	    strcmp(cmd, "resume") == 0)
		return cmd_simple(cli, cmd, argc, argv);
	if (strcmp(cmd, "pause") == 0)
		return cmd_pause(cli, argc, argv);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(cli, argc, argv);
	if (strcmp(cmd, "ls") == 0)
		return cmd_ls(cli, argc, argv);
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(cli, argc, argv);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(cli, argc, argv);
	if (strcmp(cmd, "events") == 0)
		return cmd_events(cli, argc, argv);
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(cli, argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(cli, argc, argv);
	if (strcmp(cmd, "update") == 0)
		return cmd_update(cli, argc, argv);
	if (strcmp(cmd, "blueprint") == 0)
		return cmd_blueprint(cli, argc, argv);
	if (strcmp(cmd, "rollout") == 0)
		return cmd_rollout(cli, argc, argv);
	if (strcmp(cmd, "usage") == 0)
		return cmd_usage(cli, argc, argv);
	return cli_usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
	struct cli cli = { .socket = getenv("PTENANT_SOCKET") };
	int i = 1;

	if (!cli.socket || !cli.socket[0])
		cli.socket = "/run/ptenant/ptenantd.sock";
	/* Global options come before the command, so a command's own
	 * arguments (exec's CMD above all) are never taken for ours. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			cli.socket = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("ptenant %s\n", PTENANT_VERSION);
			return EXIT_OK;
		} else {
			return cli_usage_error("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return dispatch(&cli, argc - i, argv + i);
}

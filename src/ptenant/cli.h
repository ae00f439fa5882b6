/* The ptenant CLI: one file per family of subcommands, sharing this. */
#pragma once

#include <stdbool.h>

struct json_t;

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

struct cli {
	const char *socket;
	bool json;
};

/* Sends `req` (consumed) and returns the response, or NULL after
 * printing why. An {"ok":false} response is printed and also NULL. */
struct json_t *cli_call(struct cli *cli, struct json_t *req);
struct json_t *cli_call_fds(struct cli *cli, struct json_t *req, const int *fds,
			    int n_fds);
/* `OP [SLUG]`: every tenant, or the one named. NULL after printing why,
 * with *ret_code the exit status to return. */
struct json_t *cli_call_all_or_one(struct cli *cli, const char *op, int argc,
				   char **argv, int *ret_code);
/* Prints an API error response to stderr in operator terms. */
void cli_print_error(struct json_t *resp);
/* Takes a "--" out of argv[1] (the end of options: what follows is a
 * SLUG even if it starts with '-'; the daemon then says what is wrong
 * with it). Returns the new argc. */
int cli_drop_dashdash(int argc, char **argv);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_json(struct json_t *v);

int cmd_create(struct cli *cli, int argc, char **argv);
int cmd_simple(struct cli *cli, const char *op, int argc, char **argv);
int cmd_pause(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_ls(struct cli *cli, int argc, char **argv);
int cmd_inspect(struct cli *cli, int argc, char **argv);
/* cmd-security.c */
int cli_confine_flag(struct json_t *spec, int c, const char *arg);
int cmd_inspect_security(struct cli *cli, const char *slug);
int cmd_logs(struct cli *cli, int argc, char **argv);
int cmd_events(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);
int cmd_blueprint(struct cli *cli, int argc, char **argv);
int cmd_rollout(struct cli *cli, int argc, char **argv);
int cmd_usage(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_update(struct cli *cli, int argc, char **argv);

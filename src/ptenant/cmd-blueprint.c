/* blueprint import NAME@VERSION DIR|oci:DIR[:TAG]|oci-archive:FILE[:TAG],
 * blueprint ls. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config-build.h"
#include "fsutil.h"

/* ptenant-import: beside this program in a build tree, else installed. */
static void import_helper(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len > 0) {
		self[len] = '\0';
		snprintf(out, n, "%s/../import/ptenant-import", dirname(self));
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, n, "%s/ptenant-import", PTENANT_LIBEXECDIR);
}

/* Runs ptenant-import SOURCE DEST; its summary line into summary. */
static int run_import(const char *source, const char *dest, char *summary, size_t n)
{
	char helper[PATH_MAX];
	int pipefd[2], status;
	ssize_t got = 0, r;
	pid_t pid;

	import_helper(helper, sizeof(helper));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execl(helper, "ptenant-import", source, dest, (char *)NULL);
		fprintf(stderr, "ptenant: run %s: %s\n", helper, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while (got < (ssize_t)n - 1 && (r = read(pipefd[0], summary + got, n - 1 - (size_t)got)) > 0)
		got += r;
	summary[got] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EINVAL;
}

/* An OCI image: made into a blueprint directory by ptenant-import (in a
 * temporary directory), then imported as one. */
static int import_oci(struct cli *cli, const char *ref, const char *source)
{
	char tmp[] = "/var/tmp/ptenant-import.XXXXXX", dest[64], summary[512];
	json_t *resp = NULL, *info;
	int r;

	if (!mkdtemp(tmp)) {
		perror("ptenant: make a temporary directory in /var/tmp");
		return EXIT_FAILED;
	}
	snprintf(dest, sizeof(dest), "%s/blueprint", tmp);
	r = run_import(source, dest, summary, sizeof(summary));
	if (r == 0)
		resp = cli_call(cli, json_pack("{s:s, s:s, s:s}", "op", "blueprint.import", "ref", ref,
					       "dir", dest));
	pt_rmtree_at(AT_FDCWD, tmp, NULL);
	if (!resp)
		return EXIT_FAILED;
	info = json_loads(summary, 0, NULL);
	printf("blueprint %s imported from %s: %s, %lld layer(s), %lld entries, %lld bytes\n", ref,
	       source, json_string_value(json_object_get(info, "digest")),
	       (long long)json_integer_value(json_object_get(info, "layers")),
	       (long long)json_integer_value(json_object_get(info, "entries")),
	       (long long)json_integer_value(json_object_get(info, "bytes")));
	json_decref(info);
	json_decref(resp);
	return EXIT_OK;
}

static int bp_import(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX];
	json_t *resp;

	if (argc != 4)
		return cli_usage_error("blueprint import wants NAME@VERSION DIR|oci:DIR[:TAG]|"
				       "oci-archive:FILE[:TAG]");
	if (!strncmp(argv[3], "oci:", 4) || !strncmp(argv[3], "oci-archive:", 12))
		return import_oci(cli, argv[2], argv[3]);
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
		printf("%-20s %-12s %-6s %-20s %8s %-7s %s\n", "NAME", "VERSION", "PORT", "DIGEST",
		       "SIZE-MiB", "TENANTS", "ENTRYPOINT");
		json_array_foreach(json_object_get(resp, "blueprints"), i, b) {
			const char *digest = json_string_value(json_object_get(b, "digest"));
			json_t *size = json_object_get(b, "size_bytes");
			char mib[24] = "-";

			/* Versions imported before sizes were recorded show "-". */
			if (json_is_integer(size))
				snprintf(mib, sizeof(mib), "%.1f",
					 (double)json_integer_value(size) / (1024.0 * 1024.0));
			printf("%-20s %-12s %-6lld %-20.19s %8s %-7zu %s\n",
			       json_string_value(json_object_get(b, "name")),
			       json_string_value(json_object_get(b, "version")),
			       (long long)json_integer_value(json_object_get(b, "port")),
			       digest ? digest : "-", mib, json_array_size(json_object_get(b, "tenants")),
			       json_string_value(json_object_get(b, "entrypoint")));
		}
	}
	json_decref(resp);
	return EXIT_OK;
}

static int bp_rm(struct cli *cli, const char *ref)
{
	json_t *resp = cli_call(cli, json_pack("{s:s, s:s}", "op", "blueprint.rm", "ref", ref));

	if (!resp)
		return EXIT_FAILED;
	printf("blueprint %s removed\n", ref);
	json_decref(resp);
	return EXIT_OK;
}

int cmd_blueprint(struct cli *cli, int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "rm") == 0)
		return bp_rm(cli, argv[2]);
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return bp_import(cli, argc, argv);
	if (argc == 2 && strcmp(argv[1], "ls") == 0)
		return bp_ls(cli);
	return cli_usage_error("blueprint wants 'import NAME@VERSION DIR|oci:DIR[:TAG]|"
			       "oci-archive:FILE[:TAG]', 'ls' or 'rm NAME@VERSION'");
}

/* `ptenant exec SLUG -- CMD...`: a process that joins every namespace of
 * the running tenant, becomes its root, takes the same confinement as the
 * tenant itself, and runs CMD on the caller's own stdin/stdout/stderr
 * (passed over the API socket). The reply, with CMD's exit code, is sent
 * when it exits.
 *
 *   daemon --fork--> helper: setns(all of the tenant's namespaces),
 *                    setresuid(0), non-dumpable
 *                    --fork--> cmd (now inside the tenant's pid ns):
 *                              confine, exec
 *                    helper waits, exits with cmd's status
 * The second fork is what actually enters the pid namespace. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blueprint.h"
#include "cleanup.h"
#include "confine.h"
#include "daemon.h"
#include "plan.h"
#include "spawn.h"
#include "api.h"
#include "syscalls.h"

struct exec_job {
	struct watch w;                  /* pidfd of the helper */
	struct conn *conn;
	struct exec_job *next;           /* in d->exec_jobs */
};

#define NS_ALL (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | \
		CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "ptenant exec: %s: %s\n", what, strerror(errno));
	_exit(126);
}

static __attribute__((noreturn)) void run_cmd(char **argv, char **envp,
					      const int *stdio,
					      const struct pt_confine *confine)
{
	pt_err err = { 0 };

	for (int i = 0; i < 3; i++)
		if (dup2(stdio[i], i) < 0)
			die("set up stdio");
	close_range(3, ~0U, 0);
	pt_spawn_reset_signals();
	/* The helper dies when the caller hangs up (job_cancel); so must CMD. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pt_confine_apply(confine, &err) < 0) {
		fprintf(stderr, "ptenant exec: %s\n", err.msg);
		_exit(126);
	}
	/* execvpe searches the PATH of the caller's environ, not of envp:
	 * without this a bare CMD is looked up in the daemon's PATH. */
	environ = envp;
	execvpe(argv[0], argv, envp);
	fprintf(stderr, "ptenant exec: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static __attribute__((noreturn)) void helper_main(int tenant_pidfd, pid_t daemon,
						  char **argv, char **envp, const int *stdio,
						  const struct pt_confine *confine)
{
	static const int std[3] = { 0, 1, 2 };
	int status;
	pid_t pid;

	/* Until it execs, this process holds daemon memory: no tenant
	 * process may ptrace it or read its /proc entries. */
	prctl(PR_SET_DUMPABLE, 0);
	if (setns(tenant_pidfd, NS_ALL) < 0)
		die("join the tenant's namespaces");
	if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
		die("become the tenant's root");
	/* Set only now: a change of credentials clears it (prctl(2)). A
	 * helper that outlived the daemon would keep the daemon's fds, its
	 * state-dir lock among them, and no new ptenantd could start. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != daemon)
		_exit(126);
	/* The caller's stdio is the helper's own from here on (its errors
	 * reach the caller), and nothing else of the daemon's stays open. */
	for (int i = 0; i < 3; i++)
		if (dup2(stdio[i], i) < 0)
			die("set up stdio");
	close_range(3, ~0U, 0);
	if (chdir("/") < 0)
		die("chdir /");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		run_cmd(argv, envp, std, confine);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("wait");
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void job_free(struct daemon *d, struct exec_job *job)
{
	for (struct exec_job **p = &d->exec_jobs; *p; p = &(*p)->next)
		if (*p == job) {
			*p = job->next;
			break;
		}
	loop_del(d, &job->w);
	pt_closep(&job->w.fd);
	free(job);
}

static void on_helper_exit(struct daemon *d, struct watch *w, uint32_t events)
{
	struct exec_job *job = (struct exec_job *)w;
	siginfo_t si = { 0 };
	json_t *resp;
	int code = -1;

	(void)events;
	if (waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED) == 0)
		code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	if (job->conn) {
		resp = pt_api_ok_response();
		json_object_set_new(resp, "exit_code", json_integer(code));
		conn_reply(d, job->conn, resp);
	}
	job_free(d, job);
}

void exec_shutdown(struct daemon *d)
{
	while (d->exec_jobs)
		job_free(d, d->exec_jobs);
}

/* The caller went away: its command goes too. */
static void job_cancel(struct daemon *d, void *p)
{
	struct exec_job *job = p;

	(void)d;
	job->conn = NULL;
	pidfd_send_signal(job->w.fd, SIGKILL, NULL, 0);
}

static int parse_argv(json_t *req, char ***ret, pt_err *err)
{
	json_t *arr = json_object_get(req, "argv");
	size_t n = json_array_size(arr);
	char **argv;

	if (!json_is_array(arr) || n == 0 || n > PT_ARGV_MAX)
		return pt_err_field(err, -EINVAL, "argv",
				    "\"argv\" must be an array of 1 to %d strings", PT_ARGV_MAX);
	argv = calloc(n + 1, sizeof(char *));
	if (!argv)
		return pt_err_set(err, -ENOMEM, "allocate argv");
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(arr, i);

		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s) ||
		    !(argv[i] = strdup(json_string_value(s)))) {
			for (size_t k = 0; k < i; k++)
				free(argv[k]);
			free(argv);
			return pt_err_field(err, -EINVAL, "argv", "argv[%zu] must be a string without NUL", i);
		}
	}
	*ret = argv;
	return 0;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int tenant_env(struct daemon *d, struct tenant *t, char ***ret, pt_err *err)
{
	struct pt_blueprint bp;
	int r = pt_blueprint_load(d->cfg.state_dir, t->spec.blueprint_name,
				  t->spec.blueprint_version, &bp, err);

	if (r < 0)
		return r;
	r = pt_plan_env(&t->spec, &bp, ret, err);
	pt_blueprint_free(&bp);
	return r;
}

int exec_spawn(struct daemon *d, struct tenant *t, char **argv, const int stdio[3],
	       pt_err *err)
{
	struct pt_clone_args args = { 0 };
	struct pt_confine confine;
	char **envp = NULL;
	int pidfd = -1, r;
	pid_t pid, daemon = getpid();

	r = tenant_env(d, t, &envp, err);
	/* Exactly the tenant's own cage: same user, rlimits and filter. */
	if (r == 0)
		r = security_confine(d, t, &confine, err);
	if (r < 0) {
		strv_free(envp);
		return r;
	}
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	pid = pt_clone3(&args);
	/* The command counts against the tenant's budget too. */
	if (pid == 0 && budget_join(d, t) < 0)
		_exit(126);
	if (pid == 0)
		helper_main(t->proc.fd, daemon, argv, envp, stdio, &confine);
	strv_free(envp);
	if (pid < 0)
		return pt_err_set(err, -errno, "tenant %s: fork exec helper", t->spec.slug);
	return pidfd;
}

int exec_start(struct daemon *d, struct conn *c, struct tenant *t, json_t *req,
	       pt_err *err)
{
	char **argv = NULL;
	struct exec_job *job;
	int stdio[3], pidfd = -1, r;

	if (t->phase != PHASE_RUNNING)
		return pt_err_set(err, -ESRCH, "tenant %s is %s, not running",
				  t->spec.slug, tenant_state_name(t));
	/* Its helper joins the tenant's cgroup: frozen, it would hang. */
	idle_thaw_for(d, t, "ptenant exec");
	idle_activity(t);
	/* A request without them is the client's mistake, not an I/O error. */
	if (conn_take_fds(c, stdio, 3) < 0)
		return pt_err_field(err, -EINVAL, "", "exec needs 3 file descriptors sent with the "
				    "request (SCM_RIGHTS): the caller's stdin, stdout and stderr");
	r = parse_argv(req, &argv, err);
	job = r == 0 ? calloc(1, sizeof(*job)) : NULL;
	if (r == 0 && !job)
		r = pt_err_set(err, -ENOMEM, "allocate exec job");
	if (r == 0)
		r = pidfd = exec_spawn(d, t, argv, stdio, err);
	for (int i = 0; i < 3; i++)
		close(stdio[i]);
	strv_free(argv);
	if (r < 0) {
		free(job);
		return r;
	}
	job->w.fd = pidfd;
	job->w.on_ready = on_helper_exit;
	job->conn = c;
	job->next = d->exec_jobs;
	d->exec_jobs = job;
	loop_add(d, &job->w, EPOLLIN);
	conn_set_job(c, job, job_cancel);
	return 0;
}

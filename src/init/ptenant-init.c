/* ptenant-init: pid 1 of every tenant.
 *
 * Static (a blueprint need not carry a libc), tiny, and trusted by nothing:
 * it runs as the tenant's root, after the daemon's setup, with the tenant's
 * confinement already applied. Its jobs:
 *   - start the entrypoint in its own process group;
 *   - forward the signals an operator sends (TERM on `ptenant stop`) to
 *     that group, since pid 1 of a namespace ignores what it does not
 *     handle;
 *   - reap every orphan that reparents to it;
 *   - exit when the entrypoint exits: with its code, or 128+N when a signal
 *     N killed it (the shell's convention, which the daemon reads back).
 * The whole pid namespace dies with it, so nothing outlives the tenant.
 *
 * With --standby it is a tenant's next run, set up ahead of need
 * (ptenantd's standby.c): everything of the sandbox is built, and it waits
 * on fd 4 before it starts the entrypoint. One byte there is "go" (the
 * tenant's run died and this one takes over); EOF means ptenantd dropped
 * it or died itself, and it exits without running anything. While it
 * waits it is not dumpable, so nothing with the tenant's uids (its
 * current run, were it ever to find the pid) can ptrace it or read its
 * memory or environment. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {
	SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
};

static void fail(const char *what)
{
	fprintf(stderr, "ptenant-init: %s: %s\n", what, strerror(errno));
	_exit(127);
}

static pid_t start_entrypoint(char **argv, const sigset_t *orig)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork");
	if (pid > 0) {
		/* Both sides set the group, so a signal forwarded right after
		 * fork cannot miss it. */
		setpgid(pid, pid);
		return pid;
	}
	/* fd 3 is the log pipe's spare reader, kept by init alone. */
	close(3);
	setpgid(0, 0);
	sigprocmask(SIG_SETMASK, orig, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "ptenant-init: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int exit_status(int status, const char *cmd)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "ptenant-init: %s killed by signal %d (%s)\n", cmd,
		WTERMSIG(status), strsignal(WTERMSIG(status)));
	return 128 + WTERMSIG(status);
}

/* Reaps everything that has exited; returns the entrypoint's exit code
 * once it is among them, -1 otherwise. */
static int reap(pid_t main_pid, const char *cmd)
{
	int status, code = -1;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == main_pid)
			code = exit_status(status, cmd);
	return code;
}

#define STANDBY_FD 4

/* Returns once told to go; exits when dropped. Signals other than
 * SIGKILL do not reach a pid-namespace init without a handler, so a read
 * interrupted by one is simply resumed. */
static void wait_for_go(void)
{
	int dumpable = prctl(PR_GET_DUMPABLE);
	char c;
	ssize_t n;

	if (dumpable < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
		fail("prctl(PR_SET_DUMPABLE, 0)");
	do
		n = read(STANDBY_FD, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(0);
	close(STANDBY_FD);
	/* Like a tenant's init started cold, from here on (the kernel may
	 * have made it not dumpable at exec already). */
	if (prctl(PR_SET_DUMPABLE, dumpable) < 0)
		fail("prctl(PR_SET_DUMPABLE)");
}

int main(int argc, char **argv)
{
	sigset_t all, orig;
	pid_t child;
	int i = 1;
	bool standby = false;

	if (i < argc && strcmp(argv[i], "--standby") == 0) {
		standby = true;
		i++;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc) {
		fprintf(stderr, "usage: ptenant-init [--standby] -- COMMAND [ARG...]\n");
		return 2;
	}
	if (standby)
		wait_for_go();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &orig);
	child = start_entrypoint(argv + i, &orig);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si), code;

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			fail("sigwaitinfo");
		}
		if (sig == SIGCHLD) {
			code = reap(child, argv[i]);
			if (code >= 0)
				return code;
			continue;
		}
		for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
			if (forwarded[k] == sig)
				kill(-child, sig);
	}
}

/* Under systemd on a unified (cgroup v2) host, tenants live in a scope of
 * their own, ptenant-tenants.scope in ptenant.slice, and not below
 * ptenantd.service.
 *
 * Why: cgroup v2 allows no process in a cgroup that hands controllers to
 * its children. With the tenants' leaves below the service's cgroup, the
 * daemon had to leave that cgroup for a child of it and enable controllers
 * there; systemd before 254 (no DelegateSubgroup=) then cannot put the
 * next ptenantd into the service on restart ("Failed to attach to cgroup
 * ...: Device or resource busy", 219/CGROUP), and running tenants lose
 * their supervisor. The scope is made once, over D-Bus, and outlives every
 * restart, stop, crash and upgrade of the service, whose own cgroup stays
 * a plain leaf that systemd can always attach to. Tenants still get their
 * leaves by CLONE_INTO_CGROUP below the scope, so a start pays nothing for
 * it; `systemctl status ptenant-tenants.scope` and systemd-cgls show every
 * tenant by its leaf, tenant-SLUG.
 *
 * A scope ends with its last process, so a holder (a process that only
 * waits for a signal, in the leaf "hold") keeps it between tenants.
 * `systemctl stop ptenant-tenants.scope` ends every tenant and the holder;
 * the next start of a tenant makes a new scope (budget.c, scope_back). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config-build.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-bus.h>
#endif

#include "cgroup.h"
#include "cleanup.h"
#include "daemon.h"
#include "fsutil.h"

#define SCOPE_SLICE "ptenant.slice"
#define SCOPE_UNIT "ptenant-tenants.scope"
#define CGROUP_MNT "/sys/fs/cgroup"
#define HOLD_LEAF "hold"

bool tenant_scope_wanted(void)
{
	struct statfs fs;

	return getenv("INVOCATION_ID") != NULL && statfs(CGROUP_MNT, &fs) == 0 &&
	       fs.f_type == CGROUP2_SUPER_MAGIC;
}

#if HAVE_LIBSYSTEMD

/* The holder's whole life: no fds, default signals, wait. */
static _Noreturn void hold(void)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigemptyset(&none);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	close_range(3, ~0U, 0);
	setsid();
	prctl(PR_SET_NAME, "ptenant-hold");
	for (;;)
		pause();
}

/* Forks the holder twice over, so that it is systemd's child (reaped by
 * it, never a zombie of ours) and no restart of ours touches it. */
static pid_t spawn_holder(pt_err *err)
{
	int p[2];
	pid_t mid, holder = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return pt_err_set(err, -errno, "scope holder: pipe");
	mid = fork();
	if (mid < 0) {
		close(p[0]);
		close(p[1]);
		return pt_err_set(err, -errno, "scope holder: fork");
	}
	if (mid == 0) {
		pid_t h = fork();

		if (h == 0) {
			close(p[0]);
			close(p[1]);
			hold();
		}
		(void)!write(p[1], &h, sizeof(h));
		_exit(h < 0);
	}
	close(p[1]);
	if (read(p[0], &holder, sizeof(holder)) != sizeof(holder))
		holder = -1;
	close(p[0]);
	waitpid(mid, NULL, 0);
	if (holder <= 0)
		return pt_err_set(err, -ECHILD, "scope holder: fork");
	return holder;
}

static int start_scope(pid_t holder, pt_err *err)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_open_system(&bus);
	if (r < 0)
		return pt_err_set(err, r, "connect to the system bus to create %s", SCOPE_UNIT);
	r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
					   "/org/freedesktop/systemd1",
					   "org.freedesktop.systemd1.Manager", "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", SCOPE_UNIT, "fail");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)",
					  "Description", "s", "ptenant tenants (ptenantd(8))",
					  "Slice", "s", SCOPE_SLICE,
					  "Delegate", "b", 1,
					  /* Tenants carry their own pids budgets. */
					  "TasksMax", "t", UINT64_MAX,
					  /* Stopped after the daemon at shutdown: a daemon
					   * still running would respawn what the scope's
					   * SIGTERM ended, and the newcomers, never sent
					   * SIGTERM, would hold the shutdown for the whole
					   * stop timeout. */
					  "Before", "as", 1, "ptenantd.service",
					  "PIDs", "au", 1, (uint32_t)holder);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0)
		return pt_err_set(err, r, "build the StartTransientUnit call for %s", SCOPE_UNIT);
	r = sd_bus_call(bus, m, 30 * 1000000ULL, &e, &reply);
	if (r < 0)
		return pt_err_set(err, r, "systemd: start %s: %s", SCOPE_UNIT,
				  e.message ? e.message : strerror(-r));
	return 0;
}

/* Whether pid's v2 cgroup is `path` (relative to the mount). */
static bool in_cgroup(pid_t pid, const char *path)
{
	char file[64], line[PT_CG_PATH_MAX + 8];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	f = fopen(file, "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0)
			return strcmp(line + 3, path) == 0;
	}
	return false;
}

/* The job that attaches the holder runs after the call returns. */
static int wait_attached(pid_t holder, const char *path, pt_err *err)
{
	struct timespec ms10 = { 0, 10 * 1000000L };

	for (int i = 0; i < 1000; i++) {
		if (in_cgroup(holder, path))
			return 0;
		nanosleep(&ms10, NULL);
	}
	return pt_err_set(err, -ETIMEDOUT, "systemd did not put the holder (pid %d) into %s in 10 s",
			  (int)holder, path);
}

static bool hold_leaf_populated(const char *dir)
{
	char procs[PT_CG_PATH_MAX + 32], buf[16];

	snprintf(procs, sizeof(procs), "%s/" HOLD_LEAF "/cgroup.procs", dir);
	return pt_read_small_at(AT_FDCWD, procs, buf, sizeof(buf)) == 0 && buf[0];
}

/* A holder of our own into dir/hold, for a scope whose holder is gone. */
static int move_holder(pid_t holder, const char *dir, pt_err *err)
{
	char leaf[PT_CG_PATH_MAX + 16], pid[16];

	snprintf(leaf, sizeof(leaf), "%s/" HOLD_LEAF, dir);
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return pt_err_set(err, -errno, "mkdir %s", leaf);
	snprintf(pid, sizeof(pid), "%d", (int)holder);
	return pt_cg_write(leaf, "cgroup.procs", pid, err);
}

bool tenant_scope_alive(void)
{
	return hold_leaf_populated(CGROUP_MNT "/" SCOPE_SLICE "/" SCOPE_UNIT);
}

int tenant_scope_ensure(char *parent, size_t size, pt_err *err)
{
	char dir[PT_CG_PATH_MAX];
	struct timespec t0, t1;
	bool exists;
	pid_t holder;
	int r;

	snprintf(parent, size, "/" SCOPE_SLICE "/" SCOPE_UNIT);
	snprintf(dir, sizeof(dir), CGROUP_MNT "%s", parent);
	exists = access(dir, F_OK) == 0;
	if (exists && hold_leaf_populated(dir))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	holder = spawn_holder(err);
	if (holder < 0)
		return holder;
	/* No holder: the scope was stopped (its cgroup may linger while
	 * systemd tears it down, or because a tenant was put back in it), or
	 * only the holder was killed and the scope lives on its tenants. Ask
	 * systemd for the scope first; if it says the unit is still there,
	 * the holder goes into the cgroup as it is. */
	r = start_scope(holder, exists ? NULL : err);
	if (r == 0)
		r = wait_attached(holder, parent, err);
	else if (exists)
		r = 0;
	if (r == 0)
		r = move_holder(holder, dir, err);
	if (r < 0) {
		kill(holder, SIGKILL);
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "ptenantd: tenants' cgroup: systemd scope %s (holder pid %d, %.1f ms)\n",
		SCOPE_UNIT, (int)holder,
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}

#else

bool tenant_scope_alive(void)
{
	return true;
}

int tenant_scope_ensure(char *parent, size_t size, pt_err *err)
{
	(void)parent;
	(void)size;
	return pt_err_set(err, -EOPNOTSUPP,
			  "ptenantd is built without libsystemd, so it cannot make the systemd "
			  "scope for its tenants: set cgroup_parent to a cgroup outside the service");
}

#endif

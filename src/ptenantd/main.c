/* ptenantd: the supervisor. See ptenantd(8). */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-build.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cleanup.h"
#include "daemon.h"
#include "events.h"
#include "fault.h"
#include "fsutil.h"
#include "rootfs.h"
#include "spawn.h"

#define DEFAULT_CONFIG "/etc/ptenant/ptenantd.conf"
#define MAX_OVERRIDES 16

struct options {
	const char *config;
	bool config_given;
	const char *init;
	const char *socket;
	const char *keys[MAX_OVERRIDES];
	const char *values[MAX_OVERRIDES];
	size_t n;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ptenantd [OPTION]...\n"
		"Supervise ptenant tenants: spawn, respawn, serve the control API.\n\n"
		"  -c, --config FILE       config file (default " DEFAULT_CONFIG ")\n"
		"      --state-dir DIR     override state_dir\n"
		"      --runtime-dir DIR   override runtime_dir (the API socket lives there)\n"
		"      --socket PATH       the API socket (default RUNTIME_DIR/ptenantd.sock)\n"
		"      --uid-base N        override uid_base\n"
		"      --api-group NAME    override api_group (\"\" = root only)\n"
		"      --cgroup-mode MODE  override cgroup_mode (auto, v2, v1, off)\n"
		"      --cgroup-parent P   override cgroup_parent (the subtree for budgets)\n"
		"      --init PATH         the ptenant-init binary (default: the installed one)\n"
		"      --trace-spawn       print each spawn plan and per-step timings, daemon and\n"
		"                          child, as lines \"trace-spawn SLUG STEP MS ms\"\n"
		"      --fault-points      list the PTENANT_FAULT points (test builds only)\n"
		"  -h, --help              this help\n"
		"      --version           print the version\n\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 when startup fails, 2 on bad usage.\n"
		"Tenants keep running when ptenantd stops; the next start adopts them.\n");
}

/* --fault-points: what PTENANT_FAULT can name besides the spawn trace's
 * steps; only a test build (-Dfault_injection=true) has any. */
static int list_fault_points(void)
{
	if (!PT_FAULT_INJECTION) {
		fprintf(stderr, "ptenantd: built without fault injection (meson -Dfault_injection=true)\n");
		return 1;
	}
	pt_fault_list(stdout);
	return 0;
}

static int parse_args(int argc, char **argv, struct daemon *d, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "uid-base", required_argument, NULL, 'u' },
		{ "api-group", required_argument, NULL, 'g' },
		{ "cgroup-mode", required_argument, NULL, 'M' },
		{ "cgroup-parent", required_argument, NULL, 'P' },
		{ "init", required_argument, NULL, 'i' },
		{ "socket", required_argument, NULL, 'S' },
		{ "trace-spawn", no_argument, NULL, 't' },
		{ "fault-points", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'c': o->config = optarg; o->config_given = true; break;
		case 'i': o->init = optarg; break;
		case 'S': o->socket = optarg; break;
		case 't': d->trace_spawn = true; break;
		case 'F': exit(list_fault_points());
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ptenantd %s\n", PTENANT_VERSION); exit(0);
		case 's': key = "state_dir"; break;
		case 'r': key = "runtime_dir"; break;
		case 'u': key = "uid_base"; break;
		case 'g': key = "api_group"; break;
		case 'M': key = "cgroup_mode"; break;
		case 'P': key = "cgroup_parent"; break;
		default: usage(stderr); return -EINVAL;
		}
		if (key && o->n < MAX_OVERRIDES) {
			o->keys[o->n] = key;
			o->values[o->n++] = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ptenantd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The config file, then the flags over it. */
static int load_config(struct daemon *d, const struct options *o, pt_err *err)
{
	int r;

	pt_config_defaults(&d->cfg);
	r = pt_config_load(&d->cfg, o->config, !o->config_given, err);
	for (size_t i = 0; r == 0 && i < o->n; i++)
		r = pt_config_set(&d->cfg, o->keys[i], o->values[i], err);
	return r;
}

/* The installed ptenant-init, or the one beside us in a build tree. */
static void find_init(const struct options *o, char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n;

	if (o->init) {
		snprintf(buf, size, "%s", o->init);
		return;
	}
	snprintf(buf, size, "%s/ptenant-init", PTENANT_LIBEXECDIR);
	if (access(buf, X_OK) == 0)
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(buf, size, "%s/../init/ptenant-init", dirname(self));
	}
}

static int resolve_group(struct daemon *d)
{
	struct group *g;

	d->api_gid = (gid_t)-1;
	if (!d->cfg.api_group[0])
		return 0;
	g = getgrnam(d->cfg.api_group);
	if (!g) {
		fprintf(stderr, "ptenantd: api_group %s does not exist: API is root-only\n",
			d->cfg.api_group);
		return 0;
	}
	d->api_gid = g->gr_gid;
	return 0;
}

/* One daemon per state dir: two would both supervise (and respawn) the
 * same tenants. The lock lives as long as the process. */
static int lock_state(struct daemon *d, pt_err *err)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/ptenantd.lock", d->cfg.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		return e == EWOULDBLOCK
			? pt_err_field(err, -EBUSY, "", "another ptenantd already runs on %s (%s is locked)",
				     d->cfg.state_dir, path)
			: pt_err_set(err, -e, "lock %s", path);
	}
	return fd; /* kept open, never closed */
}

static int prepare_dirs(struct daemon *d, pt_err *err)
{
	char path[400];
	int r;

	snprintf(d->tenants_dir, sizeof(d->tenants_dir), "%s/tenants", d->cfg.state_dir);
	snprintf(d->socket_path, sizeof(d->socket_path), "%s/ptenantd.sock", d->cfg.runtime_dir);
	r = pt_mkdir_p(d->cfg.state_dir, 0755, err);
	if (r == 0)
		r = lock_state(d, err);
	if (r >= 0)
		r = pt_mkdir_p(d->tenants_dir, 0700, err);
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/blueprints", d->cfg.state_dir);
		r = pt_mkdir_p(path, 0755, err);
	}
	if (r == 0)
		r = pt_rootfs_check_host(d->tenants_dir, err);
	if (r == 0)
		r = pt_mkdir_p(d->cfg.runtime_dir, 0755, err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/events.jsonl", d->cfg.state_dir);
	d->events_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (d->events_fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	return 0;
}

/* Each running tenant holds about four fds in the daemon (pidfd, log
 * pipe, cgroup watch, ...): 1024 would stop it near 250 tenants. Tenants
 * do not inherit this: their rlimits are set explicitly (rlimits.c). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fprintf(stderr, "ptenantd: cannot raise RLIMIT_NOFILE: %s\n", strerror(errno));
	}
}

/* A rollout.json that cannot be read must not keep every tenant from
 * its daemon: each tenant's spec names its version anyway. It is set
 * aside, named in the log and the journal, and the rest goes on. */
static void restore_rollout(struct daemon *d)
{
	char path[600], aside[620];
	pt_err err = { 0 };

	if (rollout_restore(d, &err) == 0)
		return;
	snprintf(path, sizeof(path), "%s/rollout.json", d->cfg.state_dir);
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	if (rename(path, aside) < 0)
		snprintf(aside, sizeof(aside), "(not moved aside: %s)", strerror(errno));
	tenant_record(d, NULL, "rollout-state-corrupt", NULL, -1, err.msg);
	fprintf(stderr, "ptenantd: the last rollout is forgotten: %s; the file is now %s\n",
		err.msg, aside);
}

/* daemon_nice: the loop's rounds and the state writer go ahead of the
 * tenants' own work, so an API call or a child's verdict does not wait
 * behind a hundred children setting up (a `ls` p99 of 8.8 ms against
 * 6.8 ms at -10, while 100 start). Every thread, as Linux keeps a nice
 * value per thread; tenants get the value ptenantd was started with
 * (security.c), never a better one. Not fatal: the daemon works at any
 * priority. */
static void set_priority(struct daemon *d)
{
	_cleanup_closedir_ DIR *tasks = NULL;
	struct dirent *de;
	int want = d->cfg.daemon_nice;

	errno = 0;
	d->tenant_nice = getpriority(PRIO_PROCESS, 0);
	if (errno)
		d->tenant_nice = 0;
	/* A worse value than the tenants' would leave them at it. */
	if (want > d->tenant_nice)
		d->tenant_nice = want;
	tasks = opendir("/proc/self/task");
	while (tasks && (de = readdir(tasks))) {
		if (de->d_name[0] == '.')
			continue;
		if (setpriority(PRIO_PROCESS, (id_t)atoi(de->d_name), want) < 0) {
			fprintf(stderr, "ptenantd: daemon_nice %d: %s; it runs at nice %d\n", want,
				strerror(errno), d->tenant_nice);
			return;
		}
	}
}

static int start_up(struct daemon *d, const struct options *o, pt_err *err)
{
	char init_path[PATH_MAX];
	int r;

	raise_fd_limit();
	r = load_config(d, o, err);
	if (r == 0)
		set_priority(d);
	if (r == 0)
		r = resolve_group(d);
	if (r == 0)
		r = budget_init(d, err);
	if (r == 0)
		r = prepare_dirs(d, err);
	if (r < 0)
		return r;
	if (o->socket && snprintf(d->socket_path, sizeof(d->socket_path), "%s", o->socket) >=
			 (int)sizeof(d->socket_path))
		return pt_err_set(err, -ENAMETOOLONG, "--socket %s", o->socket);
	find_init(o, init_path, sizeof(init_path));
	d->init_fd = pt_spawn_load_init(init_path, err);
	if (d->init_fd < 0)
		return d->init_fd;
	r = security_prepare(d, err);
	if (r < 0)
		return r;
	metrics_init_histograms(d);
	r = restore_tenants(d, err);
	if (r < 0)
		return r;
	restore_rollout(d);
	r = usage_init(d, err);
	if (r < 0)
		return r;
	r = api_listen(d, err);
	if (r == 0)
		r = metrics_listen(d, err);
	return r < 0 ? r : ingress_listen(d, err);
}

int main(int argc, char **argv)
{
	struct daemon d = { .epfd = -1, .init_fd = -1, .events_fd = -1, .netns_fd = -1 };
	struct options o = { .config = DEFAULT_CONFIG };
	pt_err err = { 0 };
	int r;

	d.listener.fd = d.sig.fd = d.timer.fd = d.ingress_listener.fd = d.reaper.fd = -1;
	/* What the last daemon set aside and did not remove (trash.c). */
	d.trash_pending = true;
	d.journal_stderr = pt_journal_owns_stderr();
	if (parse_args(argc, argv, &d, &o) < 0)
		return 2;
	if (pt_fault_setup(getenv("PTENANT_FAULT"), &err) < 0) {
		fprintf(stderr, "ptenantd: %s\n", err.msg);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "ptenantd: must run as root\n");
		return 1;
	}
	/* Tenant files are created with exact modes; umask must not widen
	 * or narrow them. */
	umask(022);
	/* Large buffers (an API request of megabytes) are mmapped and given
	 * back to the kernel when freed. glibc's default raises the
	 * threshold after such a free, and later ones come from the heap,
	 * which is not given back: a burst of large requests would leave
	 * the daemon's RSS high for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	r = loop_prepare(&d);
	/* Health checks step into a tenant's network namespace and back. */
	d.netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (r == 0 && d.netns_fd < 0)
		r = pt_err_set(&err, -errno, "open /proc/self/ns/net");
	if (r == 0)
		r = syncer_start(&d, &err);
	if (r == 0)
		r = start_up(&d, &o, &err);
	if (r < 0) {
		fprintf(stderr, "ptenantd: %s\n", err.msg[0] ? err.msg : strerror(-r));
		return 1;
	}
	fprintf(stderr, "ptenantd %s: %zu tenant(s), state %s, API %s\n", PTENANT_VERSION,
		d.n_tenants, d.cfg.state_dir, d.socket_path);
#if HAVE_LIBSYSTEMD
	sd_notify(0, "READY=1");
#endif
	d.standby_scan = true; /* adopted tenants want their next run parked */
	r = loop_run(&d);
	unlink(d.socket_path);
	/* A start under way has run none of its tenant's code: it ends here,
	 * and the next ptenantd starts the tenant again (desired running). */
	for (size_t i = 0; i < d.n_tenants; i++)
	{
		tenant_spawn_cancel(&d, d.tenants[i], "cancelled: ptenantd is stopping; "
				    "the next ptenantd starts it");
		/* It would end on its own (EOF on its pipe); the next ptenantd
		 * sets up another. */
		standby_drop(&d, d.tenants[i], NULL);
	}
	syncer_stop(&d); /* what it has queued is written */
	trash_pause(&d); /* the next daemon empties the rest */
	api_shutdown(&d);
	ingress_shutdown(&d);
	exec_shutdown(&d);
	health_shutdown(&d);
	rollout_shutdown(&d);
	usage_shutdown(&d);
	metrics_shutdown(&d);
	pt_closep(&d.netns_fd);
	net_daemon_exit(&d);
	fprintf(stderr, "ptenantd: stopping; %zu tenant(s) keep running\n", d.n_tenants);
	for (size_t i = 0; i < d.n_tenants; i++)
		tenant_free(d.tenants[i]);
	free(d.tenants);
	pt_seccomp_bpf_free(&d.seccomp);
	budget_free(&d);
	return r < 0 ? 1 : 0;
}

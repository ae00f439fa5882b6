/* Live restore: a daemon that starts on existing state brings every
 * tenant back. Running tenants are adopted, not restarted (their pid and
 * start time are in state.json); a tenant that died while the daemon was
 * down is recorded as such and respawned. A corrupt spec.json or
 * state.json is reported by name and that tenant alone is left out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cgroup.h"
#include "daemon.h"
#include "fsutil.h"
#include "idmap.h"
#include "proc.h"

static int load_files(struct daemon *d, struct tenant *t, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = -1;
	size_t len;
	int r;

	dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	r = pt_read_file(dfd, "spec.json", 1024 * 1024, &text, &len, err);
	if (r < 0)
		return pt_err_prefix(err, "%s/spec.json", t->dir);
	r = pt_spec_parse(text, len, &t->spec, err);
	if (r < 0)
		return pt_err_prefix(err, "%s/spec.json", t->dir);
	r = pt_state_load(dfd, &t->st, err);
	if (r < 0)
		return pt_err_prefix(err, "%s/state.json", t->dir);
	if (!pt_idmap_valid(t->st.host_uid, d->cfg.uid_base, d->cfg.uid_ranges))
		return pt_err_set(err, -EBADMSG, "%s/state.json: host_uid %u is not a range of uid_base %u",
				  t->dir, t->st.host_uid, d->cfg.uid_base);
	return net_tenant_load(d, t, dfd, err);
}

/* Re-opens the log pipe through init's spare reader (fd 3), checking it
 * is the pipe it should be and not something the tenant put there. */
static void reattach_log(struct daemon *d, struct tenant *t)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)t->st.pid);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || logs_attach(d, t, fd, NULL) < 0)
		close(fd);
}

/* A frozen tenant stays frozen (its cgroup kept the freeze while no
 * daemon ran; if someone thawed it meanwhile, it is frozen again). An
 * "asleep" one whose init still runs was on its way to sleep when the
 * last daemon died: it is awake and its idle clock starts again. */
static void adopt_idle(struct daemon *d, struct tenant *t)
{
	pt_err err = { 0 };

	idle_activity(t);
	if (t->st.idle == PT_IDLE_ASLEEP || (t->st.idle == PT_IDLE_FROZEN && !d->cg)) {
		t->st.idle = PT_IDLE_AWAKE;
		tenant_persist(d, t);
		return;
	}
	if (t->st.idle != PT_IDLE_FROZEN || d->cg->ops->frozen(d->cg, t->spec.slug, NULL) == 1)
		return;
	t->st.idle = PT_IDLE_AWAKE;
	if (idle_freeze(d, t, "frozen before the daemon restarted", NULL, &err) < 0)
		tenant_record(d, t, "freeze-failed", NULL, err.code, err.msg);
}

static bool adopt(struct daemon *d, struct tenant *t)
{
	uint64_t start = 0, now_real = now_real_ms();
	int pidfd;

	if (t->st.pid <= 0 || pt_proc_starttime(t->st.pid, &start, NULL) < 0 ||
	    start != t->st.pid_starttime || !pt_proc_alive(t->st.pid))
		return false;
	pidfd = pidfd_open(t->st.pid, 0);
	if (pidfd < 0)
		return false;
	/* The pid could have died and been reused between the two reads. */
	if (pt_proc_starttime(t->st.pid, &start, NULL) < 0 || start != t->st.pid_starttime) {
		close(pidfd);
		return false;
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	budget_adopt(d, t);
	t->adopted = true;
	t->phase = PHASE_RUNNING;
	t->started_mono = now_mono_ms() - (now_real > t->st.started_at ?
					   now_real - t->st.started_at : 0);
	tenant_watch_process(d, t, pidfd);
	reattach_log(d, t);
	notify_adopt(d, t);
	adopt_idle(d, t);
	health_run_begun(d, t, true);
	return true;
}

static void bring_back(struct daemon *d, struct tenant *t)
{
	bool exited;

	if (adopt(d, t)) {
		tenant_record(d, t, "adopted", NULL, -1, NULL);
		return;
	}
	exited = t->st.pid > 0;
	if (exited) {
		char msg[200] = "exited while ptenantd was not running";
		/* Its cgroup's memory.events still tells an OOM kill. */
		bool oom = budget_on_exit(d, t);

		if (oom)
			budget_describe_oom(t, msg, sizeof(msg));
		t->st.pid = 0;
		t->st.last_exit = oom ? PT_EXIT_OOM : PT_EXIT_UNKNOWN;
		t->st.last_code = -1;
		t->st.last_exit_at = now_real_ms();
		tenant_record(d, t, "exit", pt_exit_reason_name(t->st.last_exit), -1, msg);
		tenant_persist(d, t);
	}
	if (t->st.desired != PT_DESIRED_RUNNING) {
		/* A start the last daemon died in before it was recorded (its
		 * child died with it) may have left the tenant's cgroup: that
		 * of a failed start, removed as such (no stats to read; the
		 * exit above, if any, removed it already). */
		if (!exited)
			budget_spawned(d, t, false);
		return;
	}
	if (t->st.idle == PT_IDLE_ASLEEP) {
		/* Asleep: woken on demand, by this daemon as by the last. */
		t->phase = PHASE_STOPPED;
		return;
	}
	if (t->st.idle == PT_IDLE_FROZEN) {
		t->st.idle = PT_IDLE_AWAKE; /* its run ended while frozen */
		tenant_persist(d, t);
	}
	if (t->st.last_exit_at && t->st.pid == 0)
		t->st.restarts++;
	/* Recorded (respawn, or start-failed) once the start is over. */
	tenant_start(d, t, START_BY_RESTORE, NULL);
}

/* When only state.json is bad, its spec still says what the tenant is
 * (ls shows its blueprint, inspect its spec); a spec naming another slug
 * is not its own and is left out. */
static void salvage_spec(struct tenant *t, const char *slug)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct pt_spec spec = { 0 };
	size_t len;

	if (dfd < 0 || pt_read_file(dfd, "spec.json", 1024 * 1024, &text, &len, NULL) < 0)
		return;
	if (pt_spec_parse(text, len, &spec, NULL) == 0 && strcmp(spec.slug, slug) == 0) {
		t->spec = spec;
		return;
	}
	pt_spec_free(&spec);
}

/* Its uid range must stay taken even though state.json is unreadable:
 * data/ is owned by the range's root, or by its `user`: round down. */
static void reserve_uid_range(struct daemon *d, struct tenant *t)
{
	char data[sizeof(t->dir) + 8];
	struct stat st;

	snprintf(data, sizeof(data), "%s/data", t->dir);
	if (lstat(data, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid >= d->cfg.uid_base)
		t->st.host_uid = st.st_uid - (st.st_uid - d->cfg.uid_base) % PT_IDMAP_RANGE;
}

/* Its address (and with it the veth name, made from the address) must
 * stay taken too: its container may still run on them, and a second
 * tenant on the same address would get its traffic and, at start, delete
 * its link. net.json is a file of its own and usually survives; if not,
 * the host side of its running container's veth says it. */
static void reserve_address(struct daemon *d, struct tenant *t)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	pt_err err = { 0 }, err2 = { 0 };

	if (dfd >= 0 && net_tenant_load(d, t, dfd, &err) == 0 && t->net.addr)
		return;
	memset(&t->net, 0, sizeof(t->net));
	if (net_tenant_recover(d, t, &err2) > 0) {
		fprintf(stderr, "ptenantd: tenant %s: address reserved from its link %s (net.json: %s)\n",
			t->spec.slug, t->net.veth, err.code ? err.msg : "missing");
		return;
	}
	if (dfd < 0)
		pt_err_set(&err, -errno, "open %s", t->dir);
	if (err.code || err2.code)
		fprintf(stderr, "ptenantd: tenant %s: its address is not reserved: %s\n",
			t->spec.slug, err2.code ? err2.msg : err.msg);
}

/* A tenant whose files cannot be read still shows in `ptenant ls`, as
 * failed with the reason, so the operator sees it instead of losing it.
 * What it holds (uid range, address, veth) stays reserved. */
static struct tenant *broken_tenant(struct daemon *d, const char *slug, const char *dir,
				    const pt_err *err)
{
	struct tenant *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->proc.fd = t->log.fd = t->logfile.fd = t->logfile.dirfd = t->notify.fd = -1;
	health_tenant_init(t);
	budget_tenant_init(t);
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	salvage_spec(t, slug);
	snprintf(t->spec.slug, sizeof(t->spec.slug), "%s", slug);
	snprintf(t->last_error, sizeof(t->last_error), "%s", err->msg);
	t->phase = PHASE_FAILED;
	t->broken = true;
	reserve_uid_range(d, t);
	reserve_address(d, t);
	return t;
}

static struct tenant *load_one(struct daemon *d, const char *slug)
{
	struct tenant *t = calloc(1, sizeof(*t));
	pt_err err = { 0 };
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/%s", d->tenants_dir, slug);
	if (!t)
		return NULL;
	t->proc.fd = t->log.fd = t->logfile.fd = t->logfile.dirfd = t->notify.fd = -1;
	health_tenant_init(t);
	budget_tenant_init(t);
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	if (pt_slug_validate(slug, "slug", &err) < 0 || load_files(d, t, &err) < 0 ||
	    strcmp(t->spec.slug, slug) != 0) {
		if (!err.code)
			pt_err_set(&err, -EBADMSG, "%s/spec.json names slug %s", dir, t->spec.slug);
		fprintf(stderr, "ptenantd: tenant %s: cannot load: %s\n", slug, err.msg);
		tenant_free(t);
		return broken_tenant(d, slug, dir, &err);
	}
	return t;
}

/* A create lays its tenant out as .create-SLUG and renames it into place
 * last; a daemon killed before the rename leaves the half-made copy, which
 * no one owns (the create was never answered as done). */
static void drop_interrupted_create(struct daemon *d, const char *name)
{
	pt_err err = { 0 };
	char path[sizeof(d->tenants_dir) + NAME_MAX + 2];

	if (strncmp(name, ".create-", 8) != 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", d->tenants_dir, name);
	if (pt_rmtree_at(AT_FDCWD, path, &err) < 0)
		fprintf(stderr, "ptenantd: remove %s/%s, left by an interrupted create: %s\n",
			d->tenants_dir, name, err.msg);
	else
		fprintf(stderr, "ptenantd: removed %s/%s, left by an interrupted create\n",
			d->tenants_dir, name);
}

/* A daemon killed in the middle of pt_write_file_atomic leaves its temp
 * file (the target itself is whole, old or new). */
static void sweep_temp_files(const struct tenant *t)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd >= 0) {
		pt_sweep_temp_files(dfd, ".");
		pt_sweep_temp_files(dfd, "secrets");
	}
}

int restore_tenants(struct daemon *d, pt_err *err)
{
	_cleanup_closedir_ DIR *dir = opendir(d->tenants_dir);
	struct dirent *de;

	if (!dir)
		return pt_err_set(err, -errno, "read %s", d->tenants_dir);
	while ((de = readdir(dir))) {
		struct tenant *t, **n;

		if (de->d_name[0] == '.') {
			drop_interrupted_create(d, de->d_name);
			continue;
		}
		t = load_one(d, de->d_name);
		n = t ? realloc(d->tenants, (d->n_tenants + 1) * sizeof(*n)) : NULL;
		if (!n) {
			tenant_free(t);
			return pt_err_set(err, -ENOMEM, "read %s", d->tenants_dir);
		}
		d->tenants = n;
		d->tenants[d->n_tenants++] = t;
		sweep_temp_files(t);
	}
	pt_sweep_temp_files(AT_FDCWD, d->cfg.runtime_dir);
	/* Only once every tenant is known: starting one allocates nothing
	 * that another's state could already own. The firewall is rebuilt
	 * from all of them before any starts; adopted tenants never notice. */
	if (net_daemon_init(d, err) < 0)
		return err->code;
	routes_changed(d); /* the first routes.json of this daemon */
	for (size_t i = 0; i < d->n_tenants; i++)
		if (!d->tenants[i]->broken)
			bring_back(d, d->tenants[i]);
	return 0;
}

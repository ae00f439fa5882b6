/* A tenant's next run, set up ahead of need (respawn_standby = on).
 *
 * A respawn used to be a whole start: namespaces, rootfs, veth, a cgroup
 * move that waits for an RCU grace period on v1. Most of it does not
 * depend on the run that died, so once a tenant runs (and its policy may
 * bring it back), the idle loop sets up its next run all the way, as a
 * start would: fresh user, mount, pid, net, uts, ipc and cgroup
 * namespaces; a fresh writable layer (upper.next); its own veth on the
 * tenant's other slot, not routed; a place in the tenant's cgroup leaf;
 * confinement applied; ptenant-init exec'd with --standby, which waits on
 * a pipe. When the run dies and its policy says "again, now", the route
 * moves to the standby's link, state.json records the standby as the
 * tenant's init (with the exit, one write), and one byte on the pipe
 * starts the entrypoint. A failure or a backoff falls back to a cold
 * start, as without a standby.
 *
 * Kept across the respawn: the cgroup leaf (budgets, live updates), the
 * address, MAC and firewall rules, the uid range. Fresh: every namespace,
 * the writable layer, init; nothing of the dead run is reused.
 *
 * Why nothing can reach it: it runs in its own user and pid namespaces,
 * a sibling of the run's, so no process of the tenant has its pid or
 * any capability over it; until "go" it is not dumpable, so even a
 * process with the tenant's uids could not ptrace it or read its memory
 * (ptrace needs CAP_SYS_PTRACE in its user namespace then). The daemon
 * alone holds the pipe: if the daemon dies, EOF ends the standby, and a
 * daemon killed between the state save and "go" leaves a standby that
 * exits and a state.json whose init is gone, which the next daemon
 * respawns. It costs the tenant one process of its pids budget and a few
 * hundred KiB of kernel memory (doc/performance.md has the figures). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blueprint.h"
#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "fsutil.h"
#include "plan.h"
#include "proc.h"
#include "spawn.h"

#define RETRY_MIN_MS 5000
#define RETRY_MAX_MS 300000
/* A run's standby is set up once the run is this old: its setup is a
 * clone and a child's setup, CPU on both cores, and begun right after a
 * start or a respawn it competed with the run it backs up (the bench's
 * respawn with a standby: 4.8-5.3 ms when the loop happened to be held
 * up after the respawn, 5.4-6.3 ms when it was not). A run that dies
 * sooner is respawned cold, as it would be in a crash loop anyway. */
#define SETTLE_MS 50

struct tenant_standby {
	struct watch w;          /* its sync socket while it sets up, then its pidfd */
	struct tenant *t;
	struct pt_spawn_job job;
	int go;                  /* write end of the pipe ptenant-init waits on */
	int log_read;            /* its log pipe: the tenant's once it takes over */
	uint64_t deadline;       /* monotonic ms: spawn_timeout_ms, while setting up */
	bool ready;              /* parked: ptenant-init waits for go */
};

static unsigned timeout_ms(struct daemon *d)
{
	return d->cfg.spawn_timeout_ms ? d->cfg.spawn_timeout_ms : 30000;
}

static void standby_free(struct daemon *d, struct tenant *t)
{
	struct tenant_standby *sb = t->standby;

	if (!sb)
		return;
	if (!sb->ready && d->standby_setting_up)
		d->standby_setting_up--;
	pt_closep(&sb->go);
	pt_closep(&sb->log_read);
	pt_closep(&sb->job.sock);
	pt_closep(&sb->job.pidfd);
	pt_closep(&sb->job.notify);
	free(sb);
	t->standby = NULL;
}

/* Tried again later, later each time it fails in a row. */
static void retry_later(struct daemon *d, struct tenant *t)
{
	uint64_t delay = RETRY_MIN_MS;

	for (unsigned i = 0; i < t->standby_failures && delay < RETRY_MAX_MS; i++)
		delay *= 2;
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	t->standby_failures++;
	t->standby_retry_at = now_mono_ms() + delay;
	d->standby_scan = true;
}

static void failed(struct daemon *d, struct tenant *t, const pt_err *err)
{
	/* Not the tenant's failure: its run goes on, and a respawn is cold. */
	fprintf(stderr, "ptenantd: tenant %s: standby: %s\n", t->spec.slug, err->msg);
	standby_free(d, t);
	retry_later(d, t);
}

/* The layer the standby's overlay writes to, beside the run's: made
 * anew, whatever an earlier standby left. */
static int next_layer(struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uid_t u = t->st.host_uid;
	int r;

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	r = pt_rmtree_at(dfd, "upper.next", err);
	if (r == 0)
		r = pt_rmtree_at(dfd, "work.next", err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "upper.next", 0755, u, u, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "work.next", 0700, u, u, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "work.next/root", 0700, u, u, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "work.next/data", 0700, u, u, err);
	return r;
}

static void on_parked_exit(struct daemon *d, struct watch *w, uint32_t events);

static void on_setup_ready(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant_standby *sb = (struct tenant_standby *)w;
	struct tenant *t = sb->t;
	pt_err err = { 0 };
	int r;

	(void)events;
	r = pt_spawn_advance(&sb->job, &err);
	if (r > 0)
		return;
	loop_del(d, w);
	pt_closep(&sb->job.sock);
	if (r < 0) {
		failed(d, t, &err);
		return;
	}
	d->standby_setting_up--;
	sb->ready = true;
	sb->w.fd = sb->job.pidfd;
	sb->w.on_ready = on_parked_exit;
	if (loop_add(d, &sb->w, EPOLLIN) < 0) {
		pt_err_set(&err, -errno, "watch its pidfd");
		standby_drop(d, t, NULL);
		failed(d, t, &err);
		return;
	}
	t->standby_failures = 0;
}

/* It died while parked: killed by hand, by an OOM kill of the whole leaf
 * (v2's memory.oom.group), or its init failed before waiting. */
static void on_parked_exit(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant_standby *sb = (struct tenant_standby *)w;
	struct tenant *t = sb->t;
	siginfo_t si = { 0 };
	pt_err err = { 0 };

	(void)events;
	loop_del(d, w);
	waitid(P_PIDFD, (id_t)sb->job.pidfd, &si, WEXITED | WNOHANG);
	pt_err_set(&err, -ECHILD, "its parked init (pid %d) %s %d while waiting", (int)sb->job.pid,
		   si.si_code == CLD_EXITED ? "exited with code" : "was killed by signal",
		   si.si_status);
	failed(d, t, &err);
}

/* Its daemon-side setup, as a start's (tenant-start.c), for a run that
 * waits: everything but the state save. */
static int begin(struct daemon *d, struct tenant *t, struct tenant_standby *sb, pt_err *err)
{
	struct pt_spawn_req req = { .init_fd = d->init_fd, .cgroup_fd = -1 };
	struct net_hook hook; /* pt_spawn_begin below is done with it */
	struct pt_blueprint bp = { 0 };
	struct pt_plan plan = { 0 };
	struct pt_spec with_secrets = t->spec;
	struct pt_kv *secrets = NULL;
	int go[2] = { -1, -1 }, log[2] = { -1, -1 }, r;

	r = PT_FAULT_ERR("standby.begin", err);
	if (r == 0)
		r = pt_blueprint_load(d->cfg.state_dir, t->spec.blueprint_name,
				      t->spec.blueprint_version, &bp, err);
	if (r == 0)
		r = tenant_load_secrets(t, &secrets, err);
	if (r == 0)
		r = next_layer(t, err);
	with_secrets.secrets = secrets;
	if (r == 0)
		r = pt_plan_build(&plan, &with_secrets, &bp, t->dir, t->st.host_uid, err);
	if (r == 0)
		r = pt_plan_make_standby(&plan, err);
	if (r == 0 && (pipe2(go, O_CLOEXEC) < 0 || pipe2(log, O_CLOEXEC) < 0))
		r = pt_err_set(err, -errno, "pipes");
	if (r == 0) {
		req.plan = &plan;
		req.standby_fd = go[0];
		req.keep_fd = log[0];
		req.log_fd = log[1];
		r = net_spawn(d, t, &plan, &req, &hook, true, err);
	}
	if (r == 0)
		r = security_confine(d, t, &req.confine, err);
	if (r == 0)
		r = budget_prepare_standby(d, t, &req, err);
	if (r == 0) {
		r = pt_spawn_begin(&req, &sb->job, err);
		budget_standby_begun(&req);
	}
	pt_closep(&go[0]);
	pt_closep(&log[1]);
	sb->go = go[1];
	sb->log_read = log[0];
	pt_plan_free(&plan);
	tenant_wipe_secrets(secrets, t->spec.n_secrets);
	pt_blueprint_free(&bp);
	return r;
}

static bool wants_standby(struct daemon *d, const struct tenant *t)
{
	return d->cfg.respawn_standby && t->phase == PHASE_RUNNING && !t->standby &&
	       t->st.idle == PT_IDLE_AWAKE && !t->freezing && !t->broken && !t->removing && !t->restart_pending &&
	       t->st.desired == PT_DESIRED_RUNNING && t->spec.restart != PT_RESTART_NEVER;
}

static void start_one(struct daemon *d, struct tenant *t)
{
	struct tenant_standby *sb = calloc(1, sizeof(*sb));
	pt_err err = { 0 };
	int r;

	if (!sb) {
		pt_err_set(&err, -ENOMEM, "allocate");
		failed(d, t, &err);
		return;
	}
	sb->t = t;
	sb->go = sb->log_read = -1;
	sb->job = (struct pt_spawn_job)PT_SPAWN_JOB_INIT;
	t->standby = sb;
	d->standby_setting_up++;
	r = begin(d, t, sb, &err);
	if (r == 0) {
		sb->w.fd = sb->job.sock;
		sb->w.on_ready = on_setup_ready;
		sb->deadline = now_mono_ms() + timeout_ms(d);
		if (loop_add(d, &sb->w, EPOLLIN) < 0) {
			r = pt_err_set(&err, -errno, "watch its setup");
			pt_spawn_cancel(&sb->job);
		}
	}
	if (r < 0)
		failed(d, t, &err);
}

/* One standby begun per idle round, one setting up at a time: standbys
 * are a convenience and never compete with starts or the API. */
void standby_idle(struct daemon *d)
{
	uint64_t now = now_mono_ms(), next = 0;

	if (d->standby_setting_up)
		return;
	d->standby_scan = false;
	d->standby_next_at = 0;
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		uint64_t at;

		if (!wants_standby(d, t))
			continue;
		at = t->standby_retry_at > t->started_mono + SETTLE_MS ? t->standby_retry_at
								       : t->started_mono + SETTLE_MS;
		if (now < at) {
			if (!next || at < next)
				next = at;
			continue;
		}
		start_one(d, t);
		d->standby_scan = true; /* there may be more */
		return;
	}
	d->standby_next_at = next;
}

bool standby_idle_wanted(const struct daemon *d)
{
	return d->standby_scan && !d->standby_setting_up;
}

void standby_tick(struct daemon *d, uint64_t now)
{
	if (d->standby_next_at && now >= d->standby_next_at) {
		d->standby_next_at = 0;
		d->standby_scan = true;
	}
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		struct tenant_standby *sb = t->standby;
		pt_err err = { 0 };

		if (!sb || sb->ready || now < sb->deadline)
			continue;
		loop_del(d, &sb->w);
		pt_spawn_expire(&sb->job, timeout_ms(d), &err);
		failed(d, t, &err);
	}
}

uint64_t standby_next_deadline(const struct daemon *d)
{
	uint64_t next = d->standby_next_at;

	for (size_t i = 0; i < d->n_tenants; i++) {
		const struct tenant_standby *sb = d->tenants[i]->standby;

		if (sb && !sb->ready && (!next || sb->deadline < next))
			next = sb->deadline;
	}
	return next;
}

void standby_drop(struct daemon *d, struct tenant *t, const char *why)
{
	struct tenant_standby *sb = t->standby;

	if (!sb)
		return;
	loop_del(d, &sb->w);
	if (!sb->ready) {
		pt_spawn_cancel(&sb->job);
	} else {
		/* EOF on its pipe would end it too; SIGKILL does not wait for
		 * it to be scheduled. A pid-namespace init with no children
		 * dies at once. */
		pt_closep(&sb->go);
		pidfd_send_signal(sb->job.pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)sb->job.pidfd, &(siginfo_t){ 0 }, WEXITED);
	}
	if (why)
		fprintf(stderr, "ptenantd: tenant %s: standby dropped: %s\n", t->spec.slug, why);
	standby_free(d, t);
	d->standby_scan = true;
}

/* The run's layer goes into the trash (trash.c) and the standby's
 * becomes the tenant's; the overlays hold their directories, not names,
 * so renaming under them is safe. */
static void swap_layers(struct daemon *d, struct tenant *t)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	pt_err err = { 0 };
	int r = dfd < 0 ? pt_err_set(&err, -errno, "open %s", t->dir) : 0;

	if (r == 0)
		r = trash_put(d, t, dfd, "upper", &err);
	if (r == 0)
		r = trash_put(d, t, dfd, "work", &err);
	if (r == 0 && (renameat(dfd, "upper.next", dfd, "upper") < 0 ||
		       renameat(dfd, "work.next", dfd, "work") < 0))
		r = pt_err_set(&err, -errno, "rename the writable layers in %s", t->dir);
	if (r < 0)
		fprintf(stderr, "ptenantd: tenant %s: %s\n", t->spec.slug, err.msg);
}

bool standby_take_over(struct daemon *d, struct tenant *t)
{
	struct tenant_standby *sb = t->standby;
	struct pollfd alive;
	pt_err err = { 0 };
	int pidfd;

	if (!sb || !sb->ready)
		return false;
	alive = (struct pollfd){ .fd = sb->job.pidfd, .events = POLLIN };
	if (poll(&alive, 1, 0) != 0) {
		standby_drop(d, t, "it had died");
		return false;
	}
	if (PT_FAULT_ERR("standby.take-over", &err) < 0 || net_standby_promote(d, t, &err) < 0) {
		standby_drop(d, t, err.msg);
		return false;
	}
	if (d->cfg.net.enabled && t->net.addr)
		t->st.veth_slot = !t->st.veth_slot;
	t->st.pid = sb->job.pid;
	t->st.pid_starttime = 0;
	pt_proc_starttime(sb->job.pid, &t->st.pid_starttime, NULL);
	t->st.desired = PT_DESIRED_RUNNING;
	t->st.started_at = now_real_ms();
	t->st.restarts++;
	/* The exit and the new init in one write, before it runs anything
	 * of the tenant's: no init state.json does not name. */
	tenant_persist(d, t);
	if (write(sb->go, "g", 1) != 1)
		fprintf(stderr, "ptenantd: tenant %s: tell the standby to go: %s\n",
			t->spec.slug, strerror(errno)); /* it died: its pidfd says so next */
	pt_closep(&sb->go);
	/* Off the way to the entrypoint from here on. */
	loop_del(d, &sb->w);
	pidfd = sb->job.pidfd;
	sb->job.pidfd = -1;
	tenant_watch_process(d, t, pidfd);
	notify_attach(d, t, TAKE_FD(sb->job.notify));
	if (logs_attach(d, t, sb->log_read, NULL) == 0)
		sb->log_read = -1;
	budget_standby_took_over(d, t);
	swap_layers(d, t);
	t->phase = PHASE_RUNNING;
	t->adopted = false;
	t->started_mono = now_mono_ms();
	health_run_begun(d, t, false);
	t->last_error[0] = '\0';
	standby_free(d, t);
	d->standby_scan = true;
	tenant_record(d, t, "respawn", NULL, -1, "its standby took over");
	routes_changed(d);
	return true;
}

void standby_inspect(struct daemon *d, struct tenant *t, json_t *info)
{
	struct tenant_standby *sb = t->standby;
	char veth[16];

	if (!d->cfg.respawn_standby)
		return;
	if (!sb) {
		json_object_set_new(info, "standby", json_pack("{s:s}", "state", "none"));
		return;
	}
	net_veth_name(t, !t->st.veth_slot, veth);
	json_object_set_new(info, "standby", json_pack("{s:s, s:i, s:s?}",
		"state", sb->ready ? "ready" : "setting-up", "pid", (int)sb->job.pid,
		"veth", d->cfg.net.enabled && t->net.addr ? veth : NULL));
}

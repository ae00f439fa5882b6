/* Starting a tenant: its blueprint and secrets loaded, a fresh writable
 * layer, the plan built and spawned, its log and pidfd watched. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "events.h"
#include "fsutil.h"
#include "idmap.h"
#include "plan.h"
#include "proc.h"
#include "spawn.h"
#include "trace.h"
#include "blueprint.h"
#include "api.h"

int tenant_load_secrets(struct tenant *t, struct pt_kv **ret, pt_err *err)
{
	struct pt_kv *kv = calloc(t->spec.n_secrets + 1, sizeof(*kv));
	char dir[600];

	if (!kv)
		return pt_err_set(err, -ENOMEM, "allocate secrets");
	snprintf(dir, sizeof(dir), "%s/secrets", t->dir);
	for (size_t i = 0; i < t->spec.n_secrets; i++) {
		char path[700];
		int r;

		kv[i].key = t->spec.secrets[i].key;
		snprintf(path, sizeof(path), "%s/%s", dir, kv[i].key);
		r = pt_read_file(AT_FDCWD, path, PT_SECRET_VALUE_MAX + 1, &kv[i].value,
				 NULL, err);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				free(kv[j].value);
			free(kv);
			return r;
		}
	}
	*ret = kv;
	return 0;
}

void tenant_wipe_secrets(struct pt_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		if (kv[i].value) {
			explicit_bzero(kv[i].value, strlen(kv[i].value));
			free(kv[i].value);
		}
	}
	free(kv);
}

/* The writable layer is fresh on every start: nothing a previous run
 * planted there is ever trusted, and what must survive lives in /data.
 * The old layer is only renamed into the trash (trash.c), which a helper
 * process empties: its removal is not on the way to the entrypoint (it
 * was 1.2 ms of a 9 ms cold start), nor in the loop's thread. */
static int fresh_layer(struct daemon *d, struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	r = trash_put(d, t, dfd, "upper", err);
	if (r == 0)
		r = trash_put(d, t, dfd, "work", err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "upper", 0755, t->st.host_uid, t->st.host_uid, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "work", 0700, t->st.host_uid, t->st.host_uid, err);
	/* Two overlays (the root, and /data: see rootfs.c), two workdirs;
	 * siblings, since an overlay refuses a workdir inside another's. */
	if (r == 0)
		r = pt_mkdir_owned(dfd, "work/root", 0700, t->st.host_uid, t->st.host_uid, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "work/data", 0700, t->st.host_uid, t->st.host_uid, err);
	return r;
}

/* The daemon's part of a start runs in three loop rounds, one step a
 * round (tenant_start_queued), so that an API call waits for at most one
 * step, not for the whole (1.8 ms median of the loop's thread while 100
 * tenants start, 3.5 ms at p90): */
enum spawn_stage {
	STAGE_QUEUED,    /* in d->start_queue */
	STAGE_PREPARED,  /* blueprint, secrets, fresh layer, plan, cgroup: prep */
	STAGE_CLONED,    /* premade mounts, clone3, uid/gid maps (P0-P1) */
	STAGE_RELEASED,  /* idmapped lower, veth, go, state save (P2-P3b) */
};

struct cloned_ctx {
	struct daemon *d;
	struct tenant_spawn *sp;
};

/* What the first step makes for the next two: the child copies the plan
 * and the secrets at clone3, the release still needs the plan, the hooks
 * and the cgroup's fds. */
struct spawn_prep {
	struct pt_spec with_secrets;     /* t->spec with the values: the plan points here */
	struct pt_kv *secrets;
	struct pt_blueprint bp;
	struct pt_plan plan;
	struct pt_spawn_req req;
	struct cloned_ctx cctx;
	struct net_hook net;
	int log_write;                   /* the child's stdout and stderr */
	bool budget_fds;                 /* req holds the cgroup's fds */
};

/* A start under way: the child sets itself up while the loop serves on;
 * its sync socket says when it has exec'd ptenant-init or why it failed. */
struct tenant_spawn {
	struct watch w;                  /* job.sock */
	struct tenant *t;
	struct pt_spawn_job job;
	int log_read;                    /* read end of the tenant's log pipe */
	uint64_t deadline;               /* monotonic ms: spawn_timeout_ms */
	enum pt_desired prev_desired;    /* to put back if the start fails */
	bool recorded;                   /* its child's pid is in state.json */
	enum spawn_stage stage;
	struct spawn_prep *prep;         /* STAGE_PREPARED and STAGE_CLONED */
	bool in_setup;                   /* counted in d->spawns_in_setup */
	uint64_t begun_at;               /* monotonic ms: it left the queue */
	struct tenant_spawn *next_queued;
	struct pt_trace *tr, *child_tr;  /* --trace-spawn only */
};

static unsigned spawn_timeout_ms(struct daemon *d)
{
	return d->cfg.spawn_timeout_ms ? d->cfg.spawn_timeout_ms : 30000;
}

/* What the child has its own copy of once cloned: the secrets (wiped),
 * the cgroup's fds, the write end of its log pipe. */
static void prep_drop_cloned(struct tenant *t, struct spawn_prep *p)
{
	tenant_wipe_secrets(p->secrets, t->spec.n_secrets);
	p->secrets = NULL;
	p->with_secrets.secrets = NULL;
	if (p->budget_fds)
		budget_spawn_begun(t, &p->req);
	p->budget_fds = false;
	pt_closep(&p->log_write);
}

static void prep_free(struct tenant *t, struct spawn_prep *p)
{
	if (!p)
		return;
	prep_drop_cloned(t, p);
	pt_plan_free(&p->plan);
	pt_blueprint_free(&p->bp);
	free(p);
}

static void spawn_free(struct daemon *d, struct tenant_spawn *sp)
{
	if (!sp)
		return;
	if (d->start_staging == sp)
		d->start_staging = NULL;
	prep_free(sp->t, sp->prep);
	syncer_forget(d, sp);
	pt_closep(&sp->log_read);
	pt_closep(&sp->job.sock);
	pt_closep(&sp->job.pidfd);
	pt_closep(&sp->job.notify);
	free(sp->tr);
	free(sp->child_tr);
	free(sp);
}

static void on_spawn_ready(struct daemon *d, struct watch *w, uint32_t events);

static void enqueue(struct daemon *d, struct tenant_spawn *sp)
{
	struct tenant_spawn **p = &d->start_queue;

	while (*p)
		p = &(*p)->next_queued;
	*p = sp;
	sp->next_queued = NULL;
	sp->stage = STAGE_QUEUED;
}

static void unqueue(struct daemon *d, struct tenant_spawn *sp)
{
	for (struct tenant_spawn **p = &d->start_queue; *p; p = &(*p)->next_queued)
		if (*p == sp) {
			*p = sp->next_queued;
			break;
		}
}

/* The start's save is written; the child may exec now. A failed write
 * is what tenant_persist makes of one (recorded, retried); the start
 * goes on, as it did when the save was made on the loop's thread. */
static void on_recorded(struct daemon *d, void *ctx, int r, const pt_err *err)
{
	struct tenant_spawn *sp = ctx;
	pt_err e = { 0 };

	tenant_persisted(d, sp->t, r, err);
	/* A child that died meanwhile says why on its socket. */
	(void)pt_spawn_recorded(&sp->job, &e);
}

/* Before the child may exec, state.json names it: a daemon killed at any
 * later point leaves a tenant the next one adopts (it runs) or starts
 * again (it died with us, mid-setup), never an init no one knows of.
 * Begun as soon as the child exists (the clone step, spawn.c P1b): the
 * save is written on the state writer's thread (syncer.c) while the loop
 * goes on serving, makes the child's veth and releases it, and the child
 * builds its rootfs; on_recorded tells the child (after its release). */
static bool on_cloned(void *ctx, pid_t pid)
{
	struct cloned_ctx *c = ctx;
	struct tenant *t = c->sp->t;
	_cleanup_close_ int dfd = -1;
	char *text = NULL;
	pt_err err = { 0 };

	c->sp->prev_desired = t->st.desired;
	c->sp->recorded = true;
	t->st.pid = pid;
	t->st.pid_starttime = 0;
	pt_proc_starttime(pid, &t->st.pid_starttime, NULL);
	t->st.desired = PT_DESIRED_RUNNING;
	t->st.started_at = now_real_ms();
	dfd = open(t->dir, O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && pt_state_format(&t->st, &text) == 0 &&
	    syncer_submit(c->d, dfd, PT_STATE_FILE, text, 0600, t, on_recorded, c->sp, &err) == 0) {
		return true;
	}
	tenant_persist(c->d, t); /* no writer: on this thread, as before */
	return false;
}

/* The start is over, one way or the other: the tenant runs, or the
 * failure is recorded; then whoever asked is told (tenant-exit.c). */
static void spawn_finish(struct daemon *d, struct tenant *t, int r, pt_err *err,
			 bool cancelled)
{
	struct tenant_spawn *sp = t->spawn;

	t->spawn = NULL;
	if (sp && sp->in_setup) {
		sp->in_setup = false;
		d->spawns_in_setup--;
	}
	if (sp && r == 0) {
		budget_spawned(d, t, true);
		/* A log that cannot be watched is said by logs_attach; the
		 * tenant runs all the same. */
		if (logs_attach(d, t, sp->log_read, NULL) == 0)
			sp->log_read = -1;
		pt_trace_mark(sp->tr, "d-logs-attach");
		tenant_watch_process(d, t, TAKE_FD(sp->job.pidfd));
		notify_attach(d, t, TAKE_FD(sp->job.notify));
		pt_trace_mark(sp->tr, "d-watch-pidfd");
	} else if (sp) {
		budget_spawned(d, t, false);
	}
	routes_changed(d); /* running, or failed */
	if (r < 0) {
		/* The steps up to the failure, for --trace-spawn. */
		if (sp)
			pt_trace_print(sp->tr, t->spec.slug, stderr);
		t->phase = PHASE_FAILED;
		/* Every failed start is in the journal, whoever asked for it (an
		 * API call, a respawn, the daemon's start): last_error is lost
		 * with the daemon, the journal is not. A cancelled one is no
		 * failure of the tenant's. */
		if (sp && sp->recorded) {
			/* A stop that cancelled it has said what it wants. */
			t->st.pid = 0;
			t->st.pid_starttime = 0;
			if (!cancelled)
				t->st.desired = sp->prev_desired;
			tenant_persist(d, t);
		}
		if (cancelled) {
			tenant_record(d, t, "start-cancelled", NULL, -1, err->msg);
		} else {
			snprintf(t->last_error, sizeof(t->last_error), "%s", err->msg);
			tenant_record(d, t, "start-failed", "spawn-failed", -1, t->last_error);
		}
		pt_err_prefix(err, "start tenant %s", t->spec.slug);
		spawn_free(d, sp);
		tenant_start_settled(d, t, r, err);
		return;
	}
	/* state.json has said so since the clone (on_cloned). */
	t->last_error[0] = '\0';
	t->phase = PHASE_RUNNING;
	d->standby_scan = true; /* it may want its next run set up */
	t->adopted = false;
	t->started_mono = now_mono_ms();
	health_run_begun(d, t, false);
	usage_run_begun(t);
	pt_trace_print(sp->tr, t->spec.slug, stderr);
	pt_trace_print(sp->child_tr, t->spec.slug, stderr);
	spawn_free(d, sp);
	tenant_start_settled(d, t, 0, NULL);
}

static void on_spawn_ready(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant_spawn *sp = (struct tenant_spawn *)w;
	pt_err err = { 0 };
	int r;

	(void)events;
	r = pt_spawn_advance(&sp->job, &err);
	if (r > 0)
		return;
	loop_del(d, w);
	pt_closep(&sp->job.sock);
	spawn_finish(d, sp->t, r, &err, false);
}

/* From tenant_tick(): a child whose setup has not reached exec in
 * spawn_timeout_ms is stuck, and the start fails saying where. */
void tenant_spawn_tick(struct daemon *d, struct tenant *t, uint64_t now)
{
	struct tenant_spawn *sp = t->spawn;
	pt_err err = { 0 };
	int r;

	if (!sp || sp->stage != STAGE_RELEASED || now < sp->deadline)
		return;
	loop_del(d, &sp->w);
	r = pt_spawn_expire(&sp->job, spawn_timeout_ms(d), &err);
	spawn_finish(d, t, r, &err, false);
}

uint64_t tenant_spawn_deadline(const struct tenant *t)
{
	return t->spawn && t->spawn->stage == STAGE_RELEASED ? t->spawn->deadline : 0;
}

/* A stop, an rm or the daemon's own exit while the child sets up: it has
 * run none of the tenant's code yet, so it is killed; the start fails
 * with `why`. */
void tenant_spawn_cancel(struct daemon *d, struct tenant *t, const char *why)
{
	struct tenant_spawn *sp = t->spawn;
	pt_err err = { 0 };

	if (!sp)
		return;
	if (sp->stage == STAGE_QUEUED) {
		unqueue(d, sp);
	} else if (sp->stage == STAGE_CLONED) {
		pt_spawn_cancel(&sp->job);
	} else if (sp->stage == STAGE_RELEASED) {
		loop_del(d, &sp->w);
		pt_spawn_cancel(&sp->job);
	}
	pt_err_set(&err, -ECANCELED, "%s", why);
	spawn_finish(d, t, err.code, &err, true);
}

/* Step 1: everything that needs no child yet. */
static int spawn_prepare(struct daemon *d, struct tenant_spawn *sp, pt_err *err)
{
	struct tenant *t = sp->t;
	struct spawn_prep *p = calloc(1, sizeof(*p));
	int pipefd[2], r;

	if (!p)
		return pt_err_set(err, -ENOMEM, "tenant %s: allocate the start", t->spec.slug);
	sp->prep = p;
	p->log_write = -1;
	p->with_secrets = t->spec;
	p->with_secrets.secrets = NULL;
	p->req = (struct pt_spawn_req){
		.plan = &p->plan, .init_fd = d->init_fd, .cgroup_fd = -1,
		.trace = sp->tr, .child_trace = sp->child_tr,
		.cloned_hook = on_cloned, .cloned_ctx = &p->cctx,
	};
	p->cctx = (struct cloned_ctx){ .d = d, .sp = sp };
	if (sp->tr)
		pt_trace_init(sp->tr, true);
	r = pt_blueprint_load(d->cfg.state_dir, t->spec.blueprint_name,
			      t->spec.blueprint_version, &p->bp, err);
	pt_trace_mark(sp->tr, "d-blueprint-load");
	if (r < 0)
		return r;
	t->bp_port = p->bp.port;
	t->bp_notify = p->bp.notify;
	t->bp_loaded = true;
	r = tenant_load_secrets(t, &p->secrets, err);
	pt_trace_mark(sp->tr, "d-secrets-load");
	if (r == 0)
		r = PT_FAULT_ERR("start.fresh-layer", err);
	if (r == 0)
		r = fresh_layer(d, t, err);
	pt_trace_mark(sp->tr, "d-fresh-layer");
	p->with_secrets.secrets = p->secrets;
	if (r == 0)
		r = PT_FAULT_ERR("start.plan", err);
	if (r == 0)
		r = pt_plan_build(&p->plan, &p->with_secrets, &p->bp, t->dir, t->st.host_uid, err);
	pt_trace_mark(sp->tr, "d-plan-build");
	if (r == 0)
		r = net_spawn(d, t, &p->plan, &p->req, &p->net, false, err);
	if (r < 0)
		return r;
	if (d->trace_spawn)
		pt_plan_print(&p->plan, stderr);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return pt_err_set(err, -errno, "tenant %s: log pipe", t->spec.slug);
	p->req.keep_fd = sp->log_read = pipefd[0];
	p->req.log_fd = p->log_write = pipefd[1];
	r = security_confine(d, t, &p->req.confine, err);
	if (r == 0)
		r = budget_prepare(d, t, &p->req, err);
	if (r == 0)
		p->budget_fds = true;
	pt_trace_mark(sp->tr, "d-cgroup");
	return r;
}

/* Step 2: the child, in its namespaces, waiting for its release. It has
 * its own copy of the plan and the secrets now; the secrets go at once. */
static int spawn_clone(struct tenant_spawn *sp, pt_err *err)
{
	int r;

	pt_trace_mark(sp->tr, "d-round-to-clone");
	r = pt_spawn_clone(&sp->prep->req, &sp->job, err);
	prep_drop_cloned(sp->t, sp->prep);
	return r;
}

/* Step 3: its network's host side, its release, the state save begun. */
static int spawn_release(struct daemon *d, struct tenant_spawn *sp, pt_err *err)
{
	int r;

	pt_trace_mark(sp->tr, "d-round-to-release");
	r = pt_spawn_release(&sp->prep->req, &sp->job, err);
	prep_free(sp->t, sp->prep);
	sp->prep = NULL;
	if (r < 0)
		return r;
	sp->w.fd = sp->job.sock;
	sp->w.on_ready = on_spawn_ready;
	sp->deadline = now_mono_ms() + spawn_timeout_ms(d);
	r = loop_add(d, &sp->w, EPOLLIN);
	if (r < 0) {
		pt_spawn_cancel(&sp->job);
		return pt_err_set(err, r, "tenant %s: watch the spawn", sp->t->spec.slug);
	}
	return 0;
}

/* One step of the start being staged (the most advanced first: a child
 * waiting for its release is not kept waiting for another's clone). */
static void spawn_step(struct daemon *d, struct tenant_spawn *sp)
{
	pt_err err = { 0 };
	int r;

	switch (sp->stage) {
	case STAGE_QUEUED:
		sp->in_setup = true;
		sp->begun_at = now_mono_ms();
		d->spawns_in_setup++;
		d->start_staging = sp;
		sp->stage = STAGE_PREPARED;
		r = spawn_prepare(d, sp, &err);
		break;
	case STAGE_PREPARED:
		sp->stage = STAGE_CLONED;
		r = spawn_clone(sp, &err);
		break;
	case STAGE_CLONED:
		sp->stage = STAGE_RELEASED;
		d->start_staging = NULL;
		r = spawn_release(d, sp, &err);
		break;
	case STAGE_RELEASED:
	default:
		return;
	}
	/* What failed is undone already: a child killed and reaped. */
	if (r < 0) {
		spawn_finish(d, sp->t, r, &err, false);
	}
}

/* A child holds its slot this long at most: one stuck in its setup (it
 * fails at spawn_timeout_ms) delays the starts queued behind it by this,
 * not by the timeout. A setup takes a few ms, tens under a burst. */
#define SPAWN_SLOT_HOLD_MS 250

static unsigned spawn_concurrency(const struct daemon *d)
{
	long cpus;

	if (d->cfg.spawn_concurrency)
		return d->cfg.spawn_concurrency;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (unsigned)cpus : 1;
}

static bool holds_slot(const struct tenant_spawn *sp, uint64_t now)
{
	return sp && sp->in_setup && now < sp->begun_at + SPAWN_SLOT_HOLD_MS;
}

/* Children in their setup beyond the cores only queue for the CPU and
 * for the kernel's locks (rtnl, mounts, cgroups) with each other and
 * with the loop: measured with 100 starts at once on 2 cores, one slot
 * per core took the batch from 760 to 662-699 ms and the API's p99
 * while it ran from 17.8 to 10.8-11.5 ms (doc/performance.md). */
bool tenant_start_can_begin(const struct daemon *d)
{
	uint64_t now;
	unsigned held = 0, limit;

	if (d->start_staging)
		return true;
	if (!d->start_queue)
		return false;
	if (d->spawns_in_setup < (limit = spawn_concurrency(d)))
		return true;
	now = now_mono_ms();
	for (size_t i = 0; i < d->n_tenants && held < limit; i++)
		held += holds_slot(d->tenants[i]->spawn, now);
	return held < limit;
}

uint64_t tenant_spawn_slot_deadline(const struct daemon *d)
{
	uint64_t next = 0, now;

	if (!d->start_queue)
		return 0;
	now = now_mono_ms();
	for (size_t i = 0; i < d->n_tenants; i++) {
		const struct tenant_spawn *sp = d->tenants[i]->spawn;

		if (holds_slot(sp, now))
			deadline_earliest(&next, sp->begun_at + SPAWN_SLOT_HOLD_MS);
	}
	return next;
}

void tenant_start_queued(struct daemon *d)
{
	struct tenant_spawn *sp = d->start_staging ? d->start_staging : d->start_queue;

	if (!tenant_start_can_begin(d))
		return;
	if (sp->stage == STAGE_QUEUED)
		unqueue(d, sp);
	spawn_step(d, sp);
}

int tenant_start(struct daemon *d, struct tenant *t, enum start_cause cause,
		 struct conn *waiter)
{
	struct tenant_spawn *sp;
	pt_err err = { 0 };

	if (t->broken || t->phase == PHASE_RUNNING || t->phase == PHASE_STOPPING) {
		if (t->broken)
			pt_err_set(&err, -EBADMSG, "tenant %s cannot be loaded: %s",
				   t->spec.slug, t->last_error);
		else
			pt_err_set(&err, -EALREADY, "tenant %s is %s", t->spec.slug,
				   tenant_phase_name(t->phase));
		if (waiter)
			conn_reply_error(d, waiter, &err);
		return err.code;
	}
	if (t->phase == PHASE_STARTING) /* answered with the start under way */
		return tenant_add_waiter(d, t, waiter);
	t->st.idle = PT_IDLE_AWAKE; /* saved with the start's state */
	t->start_cause = cause;
	t->start_asked_us = now_mono_us();
	t->phase = PHASE_STARTING;
	tenant_add_waiter(d, t, waiter); /* when too many wait, answered already */
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		pt_err_set(&err, -ENOMEM, "tenant %s: allocate the start", t->spec.slug);
		spawn_finish(d, t, err.code, &err, false);
		return err.code;
	}
	sp->log_read = -1;
	sp->t = t;
	sp->job = (struct pt_spawn_job)PT_SPAWN_JOB_INIT;
	if (d->trace_spawn) {
		sp->tr = malloc(sizeof(*sp->tr));
		sp->child_tr = malloc(sizeof(*sp->child_tr));
		if (sp->tr)
			sp->tr->on = false;
		if (sp->child_tr)
			sp->child_tr->on = false;
	}
	t->spawn = sp;
	enqueue(d, sp);
	return 0;
}

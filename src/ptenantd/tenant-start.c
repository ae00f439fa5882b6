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

static int load_secrets(struct tenant *t, struct pt_kv **ret, pt_err *err)
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

static void wipe_secrets(struct pt_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		if (kv[i].value) {
			explicit_bzero(kv[i].value, strlen(kv[i].value));
			free(kv[i].value);
		}
	}
	free(kv);
}

/* Moves a layer directory aside with one rename; a leftover of a daemon
 * that died before removing the last one goes first. */
static int set_aside(int dfd, const char *name, const char *old, pt_err *err)
{
	int r = pt_rmtree_at(dfd, old, err);

	if (r < 0)
		return r;
	if (renameat(dfd, name, dfd, old) < 0 && errno != ENOENT)
		return pt_err_set(err, -errno, "move %s aside", name);
	return 0;
}

/* The writable layer is fresh on every start: nothing a previous run
 * planted there is ever trusted, and what must survive lives in /data.
 * The old layer is only renamed here; drop_old_layer() removes it once
 * the tenant is spawned, so its removal is not on the way to the
 * entrypoint (it was 1.2 ms of a 9 ms cold start). */
static int fresh_layer(struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	r = set_aside(dfd, "upper", "upper.old", err);
	if (r == 0)
		r = set_aside(dfd, "work", "work.old", err);
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

static void drop_old_layer(struct tenant *t)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	pt_err err = { 0 };

	/* A failure here is retried (and then fatal) by the next start. */
	if (dfd >= 0 && (pt_rmtree_at(dfd, "upper.old", &err) < 0 ||
			 pt_rmtree_at(dfd, "work.old", &err) < 0))
		fprintf(stderr, "ptenantd: tenant %s: remove the old writable layer: %s\n",
			t->spec.slug, err.msg);
}

static int spawn_with_plan(struct daemon *d, struct tenant *t,
			   struct pt_plan *plan, struct pt_trace *tr,
			   struct pt_trace *child_tr, pt_err *err)
{
	struct pt_spawn_req req = {
		.plan = plan, .init_fd = d->init_fd, .cgroup_fd = -1,
		.setup_timeout_ms = d->cfg.spawn_timeout_ms,
		.trace = tr, .child_trace = child_tr,
	};
	struct pt_spawn_res res;
	int pipefd[2], r;

	r = net_spawn(d, t, plan, &req, err);
	if (r < 0)
		return r;

	if (d->trace_spawn)
		pt_plan_print(plan, stderr);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return pt_err_set(err, -errno, "tenant %s: log pipe", t->spec.slug);
	req.keep_fd = pipefd[0];
	req.log_fd = pipefd[1];
	r = security_confine(d, t, &req.confine, err);
	if (r == 0)
		r = budget_prepare(d, t, &req, err);
	if (r == 0) {
		r = pt_spawn(&req, &res, err);
		budget_spawned(d, t, r == 0);
	}
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}
	r = logs_attach(d, t, pipefd[0], err);
	if (r < 0)
		close(pipefd[0]);
	pt_trace_mark(tr, "d-logs-attach");
	t->st.pid = res.pid;
	t->st.pid_starttime = 0;
	pt_proc_starttime(res.pid, &t->st.pid_starttime, NULL);
	tenant_watch_process(d, t, res.pidfd);
	pt_trace_mark(tr, "d-watch-pidfd");
	return 0;
}

int tenant_start(struct daemon *d, struct tenant *t, pt_err *err)
{
	struct pt_blueprint bp = { 0 };
	struct pt_plan plan = { 0 };
	struct pt_spec with_secrets = t->spec;
	struct pt_kv *secrets = NULL;
	struct pt_trace tr, child_tr;
	int r;

	pt_trace_init(&tr, d->trace_spawn);
	child_tr.on = false;
	if (t->broken)
		return pt_err_set(err, -EBADMSG, "tenant %s cannot be loaded: %s",
				  t->spec.slug, t->last_error);
	if (t->phase == PHASE_RUNNING || t->phase == PHASE_STOPPING)
		return pt_err_set(err, -EALREADY, "tenant %s is %s", t->spec.slug,
				  tenant_phase_name(t->phase));
	r = pt_blueprint_load(d->cfg.state_dir, t->spec.blueprint_name,
			      t->spec.blueprint_version, &bp, err);
	pt_trace_mark(&tr, "d-blueprint-load");
	t->bp_port = r == 0 ? bp.port : t->bp_port;
	if (r == 0)
		r = load_secrets(t, &secrets, err);
	pt_trace_mark(&tr, "d-secrets-load");
	if (r == 0)
		r = PT_FAULT_ERR("start.fresh-layer", err);
	if (r == 0)
		r = fresh_layer(t, err);
	pt_trace_mark(&tr, "d-fresh-layer");
	with_secrets.secrets = secrets;
	if (r == 0)
		r = PT_FAULT_ERR("start.plan", err);
	if (r == 0)
		r = pt_plan_build(&plan, &with_secrets, &bp, t->dir, t->st.host_uid, err);
	pt_trace_mark(&tr, "d-plan-build");
	if (r == 0)
		r = spawn_with_plan(d, t, &plan, &tr, &child_tr, err);
	pt_plan_free(&plan);
	wipe_secrets(secrets, t->spec.n_secrets);
	pt_blueprint_free(&bp);
	drop_old_layer(t);
	pt_trace_mark(&tr, "d-drop-old-layer");
	routes_changed(d); /* running, or failed */
	if (r < 0) {
		/* The steps up to the failure, for --trace-spawn. */
		pt_trace_print(&tr, t->spec.slug, stderr);
		snprintf(t->last_error, sizeof(t->last_error), "%s", err ? err->msg : "");
		t->phase = PHASE_FAILED;
		/* Every failed start is in the journal, whoever asked for it (an
		 * API call, a respawn, the daemon's start): last_error is lost
		 * with the daemon, the journal is not. */
		tenant_record(d, t, "start-failed", "spawn-failed", -1, t->last_error);
		return pt_err_prefix(err, "start tenant %s", t->spec.slug);
	}
	t->last_error[0] = '\0';
	t->phase = PHASE_RUNNING;
	t->adopted = false;
	t->st.desired = PT_DESIRED_RUNNING;
	t->st.started_at = now_real_ms();
	t->started_mono = now_mono_ms();
	tenant_persist(d, t);
	pt_trace_mark(&tr, "d-save-state");
	pt_trace_print(&tr, t->spec.slug, stderr);
	pt_trace_print(&child_tr, t->spec.slug, stderr);
	return 0;
}

/* A tenant's lifecycle in the daemon: create, start, exit handling with
 * respawn backoff, stop, remove. Every transition that must survive a
 * daemon restart is written to state.json before it is acted upon. */
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
#include "events.h"
#include "fsutil.h"
#include "idmap.h"
#include "plan.h"
#include "proc.h"
#include "spawn.h"
#include "trace.h"
#include "blueprint.h"
#include "api.h"

const char *tenant_phase_name(enum tenant_phase p)
{
	switch (p) {
	case PHASE_STOPPED: return "stopped";
	case PHASE_RUNNING: return "running";
	case PHASE_STOPPING: return "stopping";
	case PHASE_BACKOFF: return "restarting";
	case PHASE_CRASHLOOP: return "crash-loop";
	case PHASE_FAILED: return "failed";
	}
	return "?";
}

struct tenant *tenant_find(struct daemon *d, const char *slug)
{
	for (size_t i = 0; i < d->n_tenants; i++)
		if (strcmp(d->tenants[i]->spec.slug, slug) == 0)
			return d->tenants[i];
	return NULL;
}

void tenant_record(struct daemon *d, struct tenant *t, const char *event,
		   const char *reason, int code, const char *message)
{
	struct pt_event ev = {
		.ts_ms = now_real_ms(), .tenant = t ? t->spec.slug : NULL,
		.event = event, .reason = reason, .code = code, .message = message,
	};

	if (pt_events_append(d->events_fd, &ev, NULL) < 0)
		fprintf(stderr, "ptenantd: cannot append to the event journal\n");
	fprintf(stderr, "ptenantd: %s%s%s%s%s%s\n", t ? "tenant " : "",
		t ? t->spec.slug : "", t ? ": " : "", event,
		message ? ": " : "", message ? message : "");
}

static int write_spec(int dfd, const struct pt_spec *spec, pt_err *err);

int tenant_save_spec(struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	return write_spec(dfd, &t->spec, err);
}

int tenant_save_state(struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	return pt_state_save(dfd, &t->st, err);
}

void tenant_free(struct tenant *t)
{
	if (!t)
		return;
	pt_closep(&t->proc.fd);
	pt_closep(&t->log.fd);
	pt_closep(&t->budget.oom.fd);
	pt_closep(&t->budget.leaf_fd);
	pt_logfile_close(&t->logfile);
	pt_spec_free(&t->spec);
	pt_seccomp_bpf_free(&t->seccomp);
	free(t);
}

static int collect_uids(struct daemon *d, uint32_t **ret)
{
	uint32_t *used = calloc(d->n_tenants + 1, sizeof(uint32_t));

	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_tenants; i++)
		used[i] = d->tenants[i]->st.host_uid;
	*ret = used;
	return 0;
}

static int add_to_table(struct daemon *d, struct tenant *t)
{
	struct tenant **n = realloc(d->tenants, (d->n_tenants + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	d->tenants = n;
	d->tenants[d->n_tenants++] = t;
	return 0;
}

static void drop_from_table(struct daemon *d, struct tenant *t)
{
	for (size_t i = 0; i < d->n_tenants; i++)
		if (d->tenants[i] == t) {
			memmove(&d->tenants[i], &d->tenants[i + 1],
				(d->n_tenants - i - 1) * sizeof(*d->tenants));
			d->n_tenants--;
			return;
		}
}

static int write_secrets(int dfd, const struct pt_spec *spec, pt_err *err)
{
	_cleanup_close_ int sdir = -1;

	if (mkdirat(dfd, "secrets", 0700) < 0)
		return pt_err_set(err, -errno, "mkdir secrets");
	sdir = openat(dfd, "secrets", O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sdir < 0)
		return pt_err_set(err, -errno, "open secrets");
	for (size_t i = 0; i < spec->n_secrets; i++) {
		const struct pt_kv *kv = &spec->secrets[i];
		int r = pt_write_file_atomic(sdir, kv->key, kv->value,
					     strlen(kv->value), 0400, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_spec(int dfd, const struct pt_spec *spec, pt_err *err)
{
	json_t *j = pt_spec_to_json(spec, false);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int r;

	json_decref(j);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format spec.json");
	r = pt_write_file_atomic(dfd, "spec.json", text, strlen(text), 0600, err);
	free(text);
	return r;
}

/* Lays out a new tenant directory under a temporary name; the caller
 * renames it into place, so a crash mid-create leaves no half tenant. */
static int lay_out_tenant(const char *tmp, const struct pt_spec *spec,
			  const struct pt_tenant_state *st, pt_err *err)
{
	_cleanup_close_ int dfd = -1;
	int r;

	if (mkdir(tmp, 0700) < 0)
		return pt_err_set(err, -errno, "mkdir %s", tmp);
	dfd = open(tmp, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", tmp);
	r = write_spec(dfd, spec, err);
	if (r == 0)
		r = pt_state_save(dfd, st, err);
	if (r == 0)
		r = write_secrets(dfd, spec, err);
	/* data/ belongs to the tenant's root (or its `user`); everything else
	 * to the daemon. */
	if (r == 0)
		r = pt_mkdir_owned(dfd, "data", 0700,
				   st->host_uid + (spec->user.set ? spec->user.uid : 0),
				   st->host_uid + (spec->user.set ? spec->user.gid : 0), err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "log", 0700, 0, 0, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "root", 0755, 0, 0, err);
	return r;
}

int tenant_create(struct daemon *d, struct pt_spec *spec, bool start,
		  struct tenant **ret, pt_err *err)
{
	_cleanup_free_ uint32_t *used = NULL;
	struct pt_blueprint bp;
	struct tenant *t;
	struct pt_seccomp_bpf bpf = PT_SECCOMP_BPF_INIT;
	char tmp[600];
	int r;

	if (tenant_find(d, spec->slug))
		return pt_err_field(err, -EEXIST, "slug", "tenant %s exists", spec->slug);
	/* A bad profile or rlimit fails here, before anything is written. */
	r = security_check_spec(spec, &bpf, err);
	if (r < 0)
		return pt_err_prefix(err, "create tenant %s", spec->slug);
	r = pt_blueprint_load(d->cfg.state_dir, spec->blueprint_name,
			      spec->blueprint_version, &bp, err);
	if (r < 0) {
		pt_seccomp_bpf_free(&bpf);
		if (r == -ENOENT && err) {
			char msg[PT_ERR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			return pt_err_field(err, r, "blueprint", "%s", msg);
		}
		return r;
	}
	pt_blueprint_free(&bp);
	t = calloc(1, sizeof(*t));
	if (!t || collect_uids(d, &used) < 0) {
		free(t);
		pt_seccomp_bpf_free(&bpf);
		return pt_err_set(err, -ENOMEM, "allocate tenant");
	}
	t->seccomp = bpf;
	t->proc.fd = t->log.fd = t->logfile.fd = t->logfile.dirfd = -1;
	budget_tenant_init(t);
	r = pt_idmap_pick(used, d->n_tenants, d->cfg.uid_base, d->cfg.uid_ranges,
			  &t->st.host_uid, err);
	snprintf(t->dir, sizeof(t->dir), "%s/%s", d->tenants_dir, spec->slug);
	snprintf(tmp, sizeof(tmp), "%s/.create-%s", d->tenants_dir, spec->slug);
	t->st.desired = start ? PT_DESIRED_RUNNING : PT_DESIRED_STOPPED;
	pt_rmtree_at(AT_FDCWD, tmp, NULL); /* a leftover of a crashed create */
	if (r == 0)
		r = lay_out_tenant(tmp, spec, &t->st, err);
	snprintf(t->spec.slug, sizeof(t->spec.slug), "%s", spec->slug);
	if (r == 0)
		r = net_tenant_alloc(d, t, tmp, err);
	if (r == 0 && rename(tmp, t->dir) < 0)
		r = pt_err_set(err, -errno, "rename %s to %s", tmp, t->dir);
	if (r < 0 || (r = add_to_table(d, t)) < 0) {
		pt_rmtree_at(AT_FDCWD, tmp, NULL);
		pt_seccomp_bpf_free(&t->seccomp);
		free(t);
		return pt_err_prefix(err, "create tenant %s", spec->slug);
	}
	/* The table keeps the spec without secret values. */
	t->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	for (size_t i = 0; i < t->spec.n_secrets; i++) {
		explicit_bzero(t->spec.secrets[i].value, strlen(t->spec.secrets[i].value));
		free(t->spec.secrets[i].value);
		t->spec.secrets[i].value = NULL;
	}
	tenant_record(d, t, "create", NULL, -1, NULL);
	routes_changed(d);
	*ret = t;
	return start ? tenant_start(d, t, err) : 0;
}

/* Loads secret values from secrets/ into a copy of the spec's secret list
 * for one spawn; the caller wipes and frees them right after. */
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
		r = fresh_layer(t, err);
	pt_trace_mark(&tr, "d-fresh-layer");
	with_secrets.secrets = secrets;
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
		return pt_err_prefix(err, "start tenant %s", t->spec.slug);
	}
	t->last_error[0] = '\0';
	t->phase = PHASE_RUNNING;
	t->adopted = false;
	t->st.desired = PT_DESIRED_RUNNING;
	t->st.started_at = now_real_ms();
	t->started_mono = now_mono_ms();
	tenant_save_state(t, NULL);
	pt_trace_mark(&tr, "d-save-state");
	pt_trace_print(&tr, t->spec.slug, stderr);
	pt_trace_print(&child_tr, t->spec.slug, stderr);
	return 0;
}

static void answer_waiters(struct daemon *d, struct tenant *t)
{
	for (size_t i = 0; i < t->n_waiters; i++) {
		json_t *resp = pt_api_ok_response();

		json_object_set_new(resp, "tenant", tenant_summary(d, t));
		conn_reply(d, t->waiters[i], resp);
	}
	t->n_waiters = 0;
}

static void answer_waiters_error(struct daemon *d, struct tenant *t, const pt_err *err)
{
	for (size_t i = 0; i < t->n_waiters; i++)
		conn_reply_error(d, t->waiters[i], err);
	t->n_waiters = 0;
}

/* -EBUSY when too many calls already wait on this tenant: the caller is
 * answered at once rather than never. */
static int add_waiter(struct tenant *t, struct conn *c, pt_err *err)
{
	if (!c)
		return 0;
	if (t->n_waiters >= sizeof(t->waiters) / sizeof(t->waiters[0]))
		return pt_err_set(err, -EBUSY, "tenant %s: too many calls waiting for it to stop",
				  t->spec.slug);
	t->waiters[t->n_waiters++] = c;
	return 0;
}

/* Reads why ptenant-init went away. Only our own children have a status
 * to collect; a tenant adopted after a daemon restart exits unseen. */
static void read_exit(struct tenant *t, enum pt_exit_reason *reason, int *code)
{
	siginfo_t si = { 0 };

	*reason = PT_EXIT_UNKNOWN;
	*code = -1;
	if (waitid(P_PIDFD, (id_t)t->proc.fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	if (si.si_code == CLD_EXITED) {
		/* init exits 128+N when a signal N killed the entrypoint. */
		if (si.si_status > 128 && si.si_status < 128 + 65) {
			*reason = PT_EXIT_SIGNAL;
			*code = si.si_status - 128;
		} else {
			*reason = PT_EXIT_CODE;
			*code = si.si_status;
		}
	} else {
		*reason = PT_EXIT_SIGNAL;
		*code = si.si_status;
	}
}

static void describe_exit(enum pt_exit_reason reason, int code, char *buf, size_t n)
{
	if (reason == PT_EXIT_SIGNAL)
		snprintf(buf, n, "killed by signal %d (%s)", code, strsignal(code));
	else if (reason == PT_EXIT_CODE)
		snprintf(buf, n, "exited with code %d", code);
	else
		snprintf(buf, n, "exited; status unknown (adopted after a daemon restart, so not our child)");
}

static void schedule_restart(struct daemon *d, struct tenant *t, uint64_t now)
{
	bool crashloop = false;
	uint64_t delay = pt_backoff_next(&t->backoff, &d->cfg.backoff,
					 t->started_mono, now, &crashloop);
	char msg[128];

	t->phase = crashloop ? PHASE_CRASHLOOP : PHASE_BACKOFF;
	t->next_start = now + delay;
	if (crashloop) {
		snprintf(msg, sizeof(msg), "next start in %llu ms", (unsigned long long)delay);
		tenant_record(d, t, "crash-loop", NULL, -1, msg);
	}
}

static bool wants_restart(const struct tenant *t, enum pt_exit_reason reason, int code)
{
	if (t->st.desired == PT_DESIRED_STOPPED || t->removing)
		return false;
	switch (t->spec.restart) {
	case PT_RESTART_NEVER:
		return false;
	case PT_RESTART_ON_FAILURE:
		return !(reason == PT_EXIT_CODE && code == 0);
	case PT_RESTART_ALWAYS:
	default:
		return true;
	}
}

static int finish_removal(struct daemon *d, struct tenant *t, pt_err *ret_err);

static void on_process_exit(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, proc));
	enum pt_exit_reason reason;
	bool restart_now = false;
	struct pt_trace tr;
	char msg[200];
	uint64_t now;
	int code;

	(void)events;
	pt_trace_init(&tr, d->trace_spawn);
	read_exit(t, &reason, &code);
	loop_del(d, &t->proc);
	pt_closep(&t->proc.fd);
	logs_detach(d, t);
	describe_exit(reason, code, msg, sizeof(msg));
	if (budget_on_exit(d, t)) {
		reason = PT_EXIT_OOM;
		budget_describe_oom(t, msg, sizeof(msg));
	}
	t->st.pid = 0;
	t->st.pid_starttime = 0;
	t->st.last_exit = reason;
	t->st.last_code = code;
	t->st.last_exit_at = now_real_ms();
	tenant_record(d, t, t->phase == PHASE_STOPPING ? "stopped" : "exit",
		      pt_exit_reason_name(reason), code, msg);
	now = now_mono_ms();
	if (wants_restart(t, reason, code) && t->phase != PHASE_STOPPING) {
		schedule_restart(d, t, now);
		restart_now = t->phase == PHASE_BACKOFF && t->next_start <= now;
	} else {
		t->phase = PHASE_STOPPED;
		if (t->st.desired == PT_DESIRED_RUNNING && !t->removing)
			t->st.desired = PT_DESIRED_STOPPED; /* policy said no */
	}
	/* An immediate respawn (the first crash after a healthy run) is
	 * started by tenant_tick() in this same loop round, and its state
	 * save records this exit too: one fsync'd write on the way to the
	 * new entrypoint instead of two. A failed start saves in
	 * tenant_tick(). */
	if (!restart_now)
		tenant_save_state(t, NULL);
	pt_trace_mark(&tr, "d-exit-handling");
	routes_changed(d);
	pt_trace_print(&tr, t->spec.slug, stderr);
	if (t->phase == PHASE_STOPPED && t->restart_pending) {
		pt_err err = { 0 };

		t->restart_pending = false;
		pt_backoff_reset(&t->backoff);
		if (tenant_start(d, t, &err) < 0) {
			tenant_record(d, t, "start-failed", "spawn-failed", -1, err.msg);
			answer_waiters_error(d, t, &err);
		} else {
			tenant_record(d, t, "start", NULL, -1, NULL);
			answer_waiters(d, t);
		}
	} else if (t->phase == PHASE_STOPPED && t->removing)
		finish_removal(d, t, NULL); /* answers the waiters once it is gone */
	else if (t->phase == PHASE_STOPPED)
		answer_waiters(d, t);
}

void tenant_watch_process(struct daemon *d, struct tenant *t, int pidfd)
{
	t->proc.fd = pidfd;
	t->proc.on_ready = on_process_exit;
	loop_add(d, &t->proc, EPOLLIN);
}

int tenant_stop(struct daemon *d, struct tenant *t, struct conn *waiter,
		pt_err *err)
{
	t->st.desired = PT_DESIRED_STOPPED;
	tenant_save_state(t, NULL);
	routes_changed(d); /* stopping or stopped: not routable */
	switch (t->phase) {
	case PHASE_RUNNING:
		/* SIGTERM reaches the entrypoint through init; SIGKILL of pid 1
		 * after the grace period takes the whole pid namespace down. */
		if (pidfd_send_signal(t->proc.fd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
			return pt_err_set(err, -errno, "tenant %s: send SIGTERM", t->spec.slug);
		t->phase = PHASE_STOPPING;
		t->stop_deadline = now_mono_ms() + d->cfg.stop_grace_ms;
		/* fall through */
	case PHASE_STOPPING: {
		int r = add_waiter(t, waiter, err);

		return r < 0 ? r : 1;
	}
	case PHASE_BACKOFF:
	case PHASE_CRASHLOOP:
	case PHASE_FAILED:
	case PHASE_STOPPED:
	default:
		t->phase = PHASE_STOPPED;
		return 0;
	}
}

/* A broken tenant (state.json lost) may still run: find its init by its
 * uid range and end it, so rm never leaves an unsupervised container. */
static void kill_lost_init(struct tenant *t)
{
	char suffix[PT_SLUG_MAX + 16];
	pid_t pid;
	int pidfd;
	struct pollfd pfd;

	snprintf(suffix, sizeof(suffix), "/%s/data", t->spec.slug);
	pid = t->st.host_uid ? pt_proc_find_ns_init(t->st.host_uid, suffix) : 0;
	pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
	if (pidfd < 0)
		return;
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	poll(&pfd, 1, 2000); /* SIGKILL of a pid-ns init: milliseconds */
	close(pidfd);
}

static int finish_removal(struct daemon *d, struct tenant *t, pt_err *ret_err)
{
	pt_err err = { 0 };
	int r;

	if (t->broken)
		kill_lost_init(t);
	r = pt_rmtree_at(AT_FDCWD, t->dir, &err);
	if (r < 0) {
		/* Keep it listed: an operator must see what could not go. */
		t->removing = false;
		snprintf(t->last_error, sizeof(t->last_error), "rm: %s", err.msg);
		pt_err_prefix(&err, "tenant %s: remove", t->spec.slug);
		answer_waiters_error(d, t, &err);
		tenant_record(d, t, "rm-failed", NULL, -1, err.msg);
		if (ret_err)
			*ret_err = err;
		return r;
	}
	drop_from_table(d, t);
	net_tenant_release(d, t);
	routes_changed(d);
	/* Answered only once the directory is gone. */
	for (size_t i = 0; i < t->n_waiters; i++)
		conn_reply(d, t->waiters[i], pt_api_ok_response());
	t->n_waiters = 0;
	tenant_record(d, t, "removed", NULL, -1, NULL);
	tenant_free(t);
	return 0;
}

/* Returns 1 when the removal completes later (the tenant is stopping and
 * the waiter is answered then), 0 when done now. */
int tenant_remove(struct daemon *d, struct tenant *t, struct conn *waiter,
		  pt_err *err)
{
	int r;

	t->removing = true;
	r = tenant_stop(d, t, waiter, err);
	if (r != 0)
		return r;
	return finish_removal(d, t, err);
}

void tenant_tick(struct daemon *d, uint64_t now)
{
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		pt_err err = { 0 };

		if (t->phase == PHASE_STOPPING && now >= t->stop_deadline) {
			pidfd_send_signal(t->proc.fd, SIGKILL, NULL, 0);
			t->stop_deadline = now + 60000; /* and wait for the pidfd */
		}
		if ((t->phase == PHASE_BACKOFF || t->phase == PHASE_CRASHLOOP) &&
		    now >= t->next_start) {
			t->st.restarts++;
			if (tenant_start(d, t, &err) == 0) {
				tenant_record(d, t, "respawn", NULL, -1, NULL);
			} else {
				tenant_record(d, t, "start-failed", "spawn-failed", -1, err.msg);
				t->started_mono = now;
				schedule_restart(d, t, now);
				tenant_save_state(t, NULL);
			}
		}
	}
}

uint64_t tenant_next_deadline(struct daemon *d)
{
	uint64_t next = 0;

	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		uint64_t at = 0;

		if (t->phase == PHASE_STOPPING)
			at = t->stop_deadline;
		else if (t->phase == PHASE_BACKOFF || t->phase == PHASE_CRASHLOOP)
			at = t->next_start;
		if (at && (!next || at < next))
			next = at;
	}
	return next;
}

json_t *tenant_summary(struct daemon *d, struct tenant *t)
{
	char bp[PT_BP_NAME_MAX + PT_BP_VERSION_MAX + 2];
	uint64_t now = now_real_ms();
	json_t *o;

	(void)d;
	snprintf(bp, sizeof(bp), "%s@%s", t->spec.blueprint_name, t->spec.blueprint_version);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}",
		      "slug", t->spec.slug, "blueprint", bp,
		      "state", tenant_phase_name(t->phase),
		      "pid", (json_int_t)t->st.pid,
		      "host_uid", (json_int_t)t->st.host_uid,
		      "restarts", (json_int_t)t->st.restarts);
	if (t->phase == PHASE_RUNNING && t->st.started_at && now >= t->st.started_at)
		json_object_set_new(o, "uptime_ms", json_integer((json_int_t)(now - t->st.started_at)));
	if (t->st.last_exit != PT_EXIT_NONE)
		json_object_set_new(o, "last_exit", json_pack("{s:s, s:i, s:I}",
			"reason", pt_exit_reason_name(t->st.last_exit),
			"code", t->st.last_code, "at", (json_int_t)t->st.last_exit_at));
	if (t->last_error[0])
		json_object_set_new(o, "error", json_string(t->last_error));
	return o;
}

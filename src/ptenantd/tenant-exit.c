/* When a tenant's init goes away: why (exit code, signal, OOM), whether
 * and when to respawn (backoff, crash-loop), and the commands that wait
 * for an exit: stop, restart and rm. */
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

static void answer_waiters(struct daemon *d, struct tenant *t)
{
	for (size_t i = 0; i < t->n_waiters; i++) {
		json_t *resp = pt_api_ok_response();

		json_object_set_new(resp, "tenant", tenant_summary(d, t));
		conn_reply(d, t->waiters[i], resp);
	}
	t->n_waiters = 0;
}

/* With the tenant as it is now: a create whose first start failed must
 * still say that the tenant exists. */
static void answer_waiters_error(struct daemon *d, struct tenant *t, const pt_err *err)
{
	for (size_t i = 0; i < t->n_waiters; i++) {
		json_t *resp = pt_api_error_response(err);

		json_object_set_new(resp, "tenant", tenant_summary(d, t));
		conn_reply(d, t->waiters[i], resp);
	}
	t->n_waiters = 0;
}

void tenant_answer_waiters(struct daemon *d, struct tenant *t, const pt_err *err)
{
	if (err)
		answer_waiters_error(d, t, err);
	else
		answer_waiters(d, t);
}

static bool waiters_full(const struct tenant *t)
{
	return t->n_waiters >= sizeof(t->waiters) / sizeof(t->waiters[0]);
}

/* -EBUSY when too many calls already wait on this tenant: the caller is
 * answered at once rather than never. */
static int add_waiter(struct tenant *t, struct conn *c, pt_err *err)
{
	if (!c)
		return 0;
	if (waiters_full(t))
		return pt_err_set(err, -EBUSY, "tenant %s: too many calls waiting for it to stop",
				  t->spec.slug);
	t->waiters[t->n_waiters++] = c;
	return 0;
}

int tenant_add_waiter(struct daemon *d, struct tenant *t, struct conn *c)
{
	pt_err err = { 0 };

	if (!c)
		return 0;
	if (waiters_full(t)) {
		pt_err_set(&err, -EBUSY, "tenant %s: too many calls waiting for it", t->spec.slug);
		conn_reply_error(d, c, &err);
		return err.code;
	}
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
	idle_on_exit(t);
	notify_detach(d, t);
	read_exit(t, &reason, &code);
	loop_del(d, &t->proc);
	pt_closep(&t->proc.fd);
	logs_detach(d, t);
	describe_exit(reason, code, msg, sizeof(msg));
	if (health_ended_run(t, msg, sizeof(msg)))
		reason = PT_EXIT_UNHEALTHY;
	health_run_ended(d, t);
	/* The leaf stays until we know whether a standby in it takes over. */
	if (budget_exit_stats(d, t)) {
		reason = PT_EXIT_OOM;
		budget_describe_oom(t, msg, sizeof(msg));
	}
	t->st.pid = 0;
	t->st.pid_starttime = 0;
	t->st.last_exit = reason;
	t->st.last_code = code;
	t->st.last_exit_at = now_real_ms();
	if (t->phase != PHASE_STOPPING) {
		char tail[PT_EVENT_LOG_TAIL_MAX + 1];

		/* An incident: what the bot said last goes with it. */
		logs_tail(t, tail, sizeof(tail));
		tenant_record_with_log(d, t, "exit", pt_exit_reason_name(reason), code, msg,
				       tail[0] ? tail : NULL);
	} else {
		tenant_record(d, t, t->st.idle == PT_IDLE_ASLEEP ? "asleep" : "stopped",
			      pt_exit_reason_name(reason), code, msg);
	}
	now = now_mono_ms();
	if (t->phase == PHASE_STOPPING && t->st.idle == PT_IDLE_ASLEEP) {
		/* Stopped to sleep: still wanted running, woken on demand. */
		t->phase = PHASE_STOPPED;
	} else if (wants_restart(t, reason, code) && t->phase != PHASE_STOPPING) {
		schedule_restart(d, t, now);
		restart_now = t->phase == PHASE_BACKOFF && t->next_start <= now;
	} else {
		t->phase = PHASE_STOPPED;
		if (t->st.desired == PT_DESIRED_RUNNING && !t->removing)
			t->st.desired = PT_DESIRED_STOPPED; /* policy said no */
	}
	/* An immediate respawn (the first crash after a healthy run) is its
	 * standby's "go", or a start begun by tenant_tick() in this same loop
	 * round; either's state save records this exit too: one fsync'd
	 * write on the way to the new entrypoint instead of two. A failed
	 * start saves in tenant_tick(). */
	if (restart_now && standby_take_over(d, t)) {
		pt_trace_mark(&tr, "d-standby-go");
		pt_trace_print(&tr, t->spec.slug, stderr);
		return;
	}
	standby_drop(d, t, NULL);
	budget_exit_release(d, t);
	if (!restart_now)
		tenant_persist(d, t);
	pt_trace_mark(&tr, "d-exit-handling");
	routes_changed(d);
	pt_trace_print(&tr, t->spec.slug, stderr);
	if (t->phase == PHASE_STOPPED && t->restart_pending) {
		/* Its waiters are answered once the new run starts, or fails. */
		t->restart_pending = false;
		tenant_start(d, t, START_BY_RESTART, NULL);
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

static int stop_broken(struct daemon *d, struct tenant *t, pt_err *err);

static int send_sigterm(struct tenant *t, pt_err *err)
{
	int r = PT_FAULT("stop.signal");

	if (r == 0 && pidfd_send_signal(t->proc.fd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
		r = -errno;
	return r < 0 ? pt_err_set(err, r, "tenant %s: send SIGTERM", t->spec.slug) : 0;
}

int tenant_stop(struct daemon *d, struct tenant *t, struct conn *waiter,
		pt_err *err)
{
	int r;

	if (t->broken)
		return stop_broken(d, t, err);
	idle_thaw_for(d, t, "to be stopped");
	t->st.desired = PT_DESIRED_STOPPED;
	t->st.idle = PT_IDLE_AWAKE; /* an operator's stop, not a sleep */
	tenant_persist(d, t);
	routes_changed(d); /* stopping or stopped: not routable */
	switch (t->phase) {
	case PHASE_STARTING:
		/* Its child has run none of the tenant's code yet. */
		tenant_spawn_cancel(d, t, t->removing ? "cancelled: the tenant is being removed"
						      : "cancelled: the tenant was stopped");
		t->phase = PHASE_STOPPED;
		return 0;
	case PHASE_RUNNING:
		/* SIGTERM reaches the entrypoint through init; SIGKILL of pid 1
		 * after the grace period takes the whole pid namespace down. */
		r = send_sigterm(t, err);
		if (r < 0)
			return r;
		t->phase = PHASE_STOPPING;
		t->stop_deadline = now_mono_ms() + d->cfg.stop_grace_ms;
		/* fall through */
	case PHASE_STOPPING:
		r = add_waiter(t, waiter, err);
		return r < 0 ? r : 1;
	case PHASE_BACKOFF:
	case PHASE_CRASHLOOP:
	case PHASE_FAILED:
	case PHASE_STOPPED:
	default:
		t->phase = PHASE_STOPPED;
		return 0;
	}
}

/* Like a stop, but it stays wanted running (st.idle asleep, set by the
 * caller): on_process_exit records "asleep", not "stopped". */
int tenant_stop_to_sleep(struct daemon *d, struct tenant *t, struct conn *waiter,
			 pt_err *err)
{
	int r;

	tenant_persist(d, t);
	routes_changed(d);
	standby_drop(d, t, "its tenant goes to sleep");
	r = send_sigterm(t, err);
	if (r < 0) {
		t->st.idle = PT_IDLE_AWAKE;
		tenant_persist(d, t);
		return r;
	}
	t->phase = PHASE_STOPPING;
	t->stop_deadline = now_mono_ms() + d->cfg.stop_grace_ms;
	r = add_waiter(t, waiter, err);
	return r < 0 ? r : (waiter ? 1 : 0);
}

/* A broken tenant (its files could not be loaded) is not supervised, but
 * its container may still run: find its init by its uid range and its
 * /data mount. Returns a pidfd, or -1 when none runs. */
static int find_lost_init(const struct tenant *t, pid_t *ret_pid)
{
	char suffix[PT_SLUG_MAX + 16];
	pid_t pid;

	snprintf(suffix, sizeof(suffix), "/%s/data", t->spec.slug);
	pid = t->st.host_uid ? pt_proc_find_ns_init(t->st.host_uid, suffix) : 0;
	*ret_pid = pid;
	return pid > 0 ? pidfd_open(pid, 0) : -1;
}

/* stop (and so rm) of a broken tenant ends its container at once, so none
 * runs on unsupervised: SIGKILL and a short wait in place, as rm always
 * did, since a broken tenant has no supervision state in which to park a
 * graceful stop. Its cgroup leaf goes too (v1 left it behind). Its
 * state.json is left as it was: the operator repairs it from what is
 * there, and a made-up state would hide what went wrong. */
static int stop_broken(struct daemon *d, struct tenant *t, pt_err *err)
{
	struct pollfd pfd = { .events = POLLIN };
	char msg[200];
	pid_t pid;

	pfd.fd = find_lost_init(t, &pid);
	if (pfd.fd >= 0) {
		pidfd_send_signal(pfd.fd, SIGKILL, NULL, 0);
		/* SIGKILL of a pid-ns init: milliseconds. */
		if (poll(&pfd, 1, 2000) != 1) {
			close(pfd.fd);
			return pt_err_set(err, -ETIMEDOUT, "tenant %s: its container (init pid %d) "
					  "is still running 2 s after SIGKILL", t->spec.slug, (int)pid);
		}
		close(pfd.fd);
		snprintf(msg, sizeof(msg), "container of a tenant whose files could not be "
			 "loaded, found by its host uids (init pid %d), killed", (int)pid);
		tenant_record(d, t, "stopped", pt_exit_reason_name(PT_EXIT_SIGNAL), SIGKILL, msg);
	}
	budget_on_exit(d, t); /* removes its leaf, if one was left */
	return 0;
}

static int finish_removal(struct daemon *d, struct tenant *t, pt_err *ret_err)
{
	pt_err err = { 0 };
	int r;

	r = PT_FAULT_ERR("remove.dir", &err);
	trash_pause(d); /* it may be in t->dir/trash */
	if (r == 0)
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
	usage_tenant_gone(d, t);
	tenant_drop_from_table(d, t);
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
	standby_tick(d, now);
	ingress_tick(d, now);
	rollout_tick(d, now);
	usage_tick(d, now);
	metrics_tick(d, now);
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];

		if (t->state_unsaved && now >= t->state_retry_at)
			tenant_persist(d, t);
		logs_tick(d, t, now);
		notify_tick(d, t, now);
		idle_tick(d, t, now);
		health_tick(d, t, now);
		if (t->phase == PHASE_STOPPING && now >= t->stop_deadline) {
			pidfd_send_signal(t->proc.fd, SIGKILL, NULL, 0);
			t->stop_deadline = now + 60000; /* and wait for the pidfd */
		}
		if (t->phase == PHASE_STARTING)
			tenant_spawn_tick(d, t, now);
		/* Whatever stopped it running, its standby has no run to follow. */
		if (t->standby && t->phase != PHASE_RUNNING && t->phase != PHASE_STOPPING)
			standby_drop(d, t, NULL);
		if ((t->phase == PHASE_BACKOFF || t->phase == PHASE_CRASHLOOP) &&
		    now >= t->next_start) {
			t->st.restarts++;
			tenant_start(d, t, START_BY_RESPAWN, NULL);
		}
	}
}

uint64_t tenant_next_deadline(struct daemon *d)
{
	uint64_t next = standby_next_deadline(d);

	deadline_earliest(&next, ingress_next_deadline(d));
	deadline_earliest(&next, rollout_next_deadline(d));
	deadline_earliest(&next, usage_next_deadline(d));
	deadline_earliest(&next, trash_next_deadline(d));
	deadline_earliest(&next, metrics_next_deadline(d));
	deadline_earliest(&next, tenant_spawn_slot_deadline(d));

	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		uint64_t at = 0;

		if (t->phase == PHASE_STOPPING)
			at = t->stop_deadline;
		else if (t->phase == PHASE_STARTING)
			at = tenant_spawn_deadline(t);
		else if (t->phase == PHASE_BACKOFF || t->phase == PHASE_CRASHLOOP)
			at = t->next_start;
		deadline_earliest(&next, at);
		if (t->state_unsaved)
			deadline_earliest(&next, t->state_retry_at);
		deadline_earliest(&next, logs_next_deadline(t));
		deadline_earliest(&next, idle_next_deadline(d, t));
		deadline_earliest(&next, notify_next_deadline(t));
		deadline_earliest(&next, health_next_deadline(t));
	}
	return next;
}

void tenant_start_settled(struct daemon *d, struct tenant *t, int r, const pt_err *err)
{
	uint64_t now = now_mono_ms();

	if (r == 0) {
		metrics_observe(d, METRICS_SPAWN, now_mono_us() - t->start_asked_us);
		idle_activity(t);
		if (t->start_cause == START_BY_WAKE)
			tenant_record(d, t, "woken", NULL, -1, "started again after its sleep");
		if (t->start_cause == START_BY_API || t->start_cause == START_BY_RESTART) {
			pt_backoff_reset(&t->backoff);
			tenant_record(d, t, "start", NULL, -1, NULL);
		} else if (t->start_cause == START_BY_RESPAWN || t->start_cause == START_BY_RESTORE) {
			tenant_record(d, t, "respawn", NULL, -1, NULL);
		}
		answer_waiters(d, t);
		ingress_start_settled(d, t);
		return;
	}
	/* A respawn that failed is tried again after its backoff (a stop
	 * while it started said otherwise: desired stopped). */
	if (t->start_cause == START_BY_RESPAWN && wants_restart(t, PT_EXIT_UNKNOWN, -1)) {
		t->started_mono = now;
		schedule_restart(d, t, now);
		tenant_persist(d, t);
	}
	answer_waiters_error(d, t, err);
	ingress_start_settled(d, t);
}

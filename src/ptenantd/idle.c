/* Idle tenants: frozen, then asleep (ptenant-spec(5) "idle"; ptenant
 * pause and resume by hand).
 *
 * Frozen: the tenant's cgroup is frozen (v1 freezer.state, v2
 * cgroup.freeze); its init still runs as far as the rest of the daemon is
 * concerned (PHASE_RUNNING), it just gets no CPU. Asleep: its processes
 * were ended on purpose; it is still wanted running (desired running) and
 * starts again on the next wake, so neither stage is ever a crash, a
 * backoff or an operator's stop. Both stages are in state.json, so a new
 * daemon keeps them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgroup.h"
#include "daemon.h"
#include "fault.h"

/* A freeze waits for tasks in the middle of a system call; one that has
 * not completed by then is undone (an incident), not left half-done. */
#define FREEZE_TIMEOUT_MS 2000

const char *tenant_state_name(const struct tenant *t)
{
	if (t->phase == PHASE_RUNNING && t->freezing)
		return "freezing";
	if (t->phase == PHASE_RUNNING && t->st.idle == PT_IDLE_FROZEN)
		return "frozen";
	if (t->phase == PHASE_STOPPED && t->st.idle == PT_IDLE_ASLEEP)
		return "asleep";
	return tenant_phase_name(t->phase);
}

void idle_activity(struct tenant *t)
{
	t->last_active = now_mono_ms();
}

/* The spec's stage, else the daemon's default; 0 when off. */
static uint64_t stage_ms(uint64_t spec_ms, uint64_t default_ms)
{
	if (spec_ms == PT_IDLE_OFF)
		return 0;
	return spec_ms ? spec_ms : default_ms;
}

static uint64_t freeze_after(const struct daemon *d, const struct tenant *t)
{
	/* Without budgets there is no freezer: the tenant goes straight to
	 * sleep at stop_after. */
	if (!d->cg)
		return 0;
	return stage_ms(t->spec.idle.freeze_after_ms, d->cfg.idle_freeze_after_ms);
}

static uint64_t stop_after(const struct daemon *d, const struct tenant *t)
{
	return stage_ms(t->spec.idle.stop_after_ms, d->cfg.idle_stop_after_ms);
}

uint64_t idle_wake_timeout(const struct daemon *d, const struct tenant *t)
{
	return t->spec.idle.wake_timeout_ms ? t->spec.idle.wake_timeout_ms
					    : d->cfg.idle_wake_timeout_ms;
}

static void set_idle(struct daemon *d, struct tenant *t, enum pt_idle_state s)
{
	if (t->st.idle == s)
		return;
	t->st.idle = s;
	tenant_persist(d, t);
	routes_changed(d);
}

static int write_freeze(struct daemon *d, struct tenant *t, bool on, pt_err *err)
{
	int r = on ? PT_FAULT_ERR("idle.freeze", err) : PT_FAULT_ERR("idle.thaw", err);

	if (r == 0)
		r = d->cg->ops->freeze(d->cg, t->spec.slug, on, err);
	return r < 0 ? pt_err_prefix(err, "tenant %s: %s", t->spec.slug,
				     on ? "freeze" : "thaw") : 0;
}

static void freeze_done(struct daemon *d, struct tenant *t)
{
	t->freezing = false;
	set_idle(d, t, PT_IDLE_FROZEN);
	tenant_record(d, t, "frozen", NULL, -1, t->freeze_why);
	tenant_answer_waiters(d, t, NULL);
}

/* Undoes a freeze that failed: the tenant runs on as before. */
static void freeze_failed(struct daemon *d, struct tenant *t, const pt_err *why)
{
	pt_err err = *why;

	t->freezing = false;
	write_freeze(d, t, false, NULL);
	set_idle(d, t, PT_IDLE_AWAKE);
	idle_activity(t); /* not tried again before another idle period */
	tenant_record(d, t, "freeze-failed", NULL, err.code, err.msg);
	tenant_answer_waiters(d, t, &err);
}

int idle_freeze(struct daemon *d, struct tenant *t, const char *why,
		struct conn *waiter, pt_err *err)
{
	int r;

	if (!d->cg)
		return pt_err_set(err, -EOPNOTSUPP, "tenant %s: freezing needs budgets; this "
				  "daemon runs with cgroup_mode = off", t->spec.slug);
	if (t->phase != PHASE_RUNNING || t->st.idle != PT_IDLE_AWAKE)
		return pt_err_set(err, -EALREADY, "tenant %s is %s; only a running tenant is "
				  "frozen", t->spec.slug, tenant_state_name(t));
	if (t->freezing)
		return tenant_add_waiter(d, t, waiter) < 0 ? 0 : 1;
	/* Its next run is set up again once it wakes: a frozen tenant should
	 * hold as little as it can, and a standby mid-setup would freeze. */
	standby_drop(d, t, "its tenant is being frozen");
	snprintf(t->freeze_why, sizeof(t->freeze_why), "%s", why);
	r = write_freeze(d, t, true, err);
	if (r < 0) {
		freeze_failed(d, t, err);
		return r;
	}
	r = d->cg->ops->frozen(d->cg, t->spec.slug, NULL);
	t->freezing = true;
	if (r == 1) {
		freeze_done(d, t);
		return 0;
	}
	t->freeze_deadline = now_mono_ms() + FREEZE_TIMEOUT_MS;
	if (tenant_add_waiter(d, t, waiter) < 0)
		return 0; /* answered (EBUSY); the freeze goes on */
	return waiter ? 1 : 0;
}

/* Checks a freeze under way: done, still going, or out of time. */
static void freeze_check(struct daemon *d, struct tenant *t, uint64_t now)
{
	pt_err err = { 0 };
	int r = d->cg->ops->frozen(d->cg, t->spec.slug, &err);

	if (r == 1) {
		freeze_done(d, t);
		return;
	}
	if (r == 0 && now < t->freeze_deadline) {
		d->cg->ops->freeze(d->cg, t->spec.slug, true, NULL); /* v1: try again */
		return;
	}
	if (r == 0)
		pt_err_set(&err, -ETIMEDOUT, "tenant %s: not frozen %d ms after the freeze was "
			   "asked (a process stuck in the kernel?); thawed, it runs on",
			   t->spec.slug, FREEZE_TIMEOUT_MS);
	freeze_failed(d, t, &err);
}

static int thaw(struct daemon *d, struct tenant *t, const char *why, pt_err *err)
{
	int r;

	if (t->st.idle != PT_IDLE_FROZEN && !t->freezing)
		return 0;
	r = write_freeze(d, t, false, err);
	if (r < 0) {
		tenant_record(d, t, "thaw-failed", NULL, r, err ? err->msg : NULL);
		return r;
	}
	if (t->freezing) {
		pt_err cancelled = { 0 };

		pt_err_set(&cancelled, -ECANCELED, "tenant %s: freeze cancelled: %s",
			   t->spec.slug, why);
		t->freezing = false;
		tenant_answer_waiters(d, t, &cancelled);
	}
	set_idle(d, t, PT_IDLE_AWAKE);
	idle_activity(t);
	tenant_record(d, t, "thawed", NULL, -1, why);
	d->standby_scan = true; /* its next run can be parked again */
	return 0;
}

void idle_thaw_for(struct daemon *d, struct tenant *t, const char *why)
{
	pt_err err = { 0 };

	/* A failed thaw is recorded; the caller's SIGKILL still works. */
	thaw(d, t, why, &err);
}

int idle_sleep(struct daemon *d, struct tenant *t, const char *why,
	       struct conn *waiter, pt_err *err)
{
	int r;

	if (t->phase != PHASE_RUNNING)
		return pt_err_set(err, -EALREADY, "tenant %s is %s; only a running or frozen "
				  "tenant is put to sleep", t->spec.slug, tenant_state_name(t));
	/* SIGTERM reaches a frozen process only once it thaws. */
	r = thaw(d, t, "to be stopped to sleep", err);
	if (r < 0)
		return r;
	tenant_record(d, t, "sleep", NULL, -1, why);
	t->st.idle = PT_IDLE_ASLEEP;
	return tenant_stop_to_sleep(d, t, waiter, err);
}

int idle_wake(struct daemon *d, struct tenant *t, const char *why,
	      struct conn *waiter, pt_err *err)
{
	if (t->phase == PHASE_RUNNING && (t->st.idle == PT_IDLE_FROZEN || t->freezing))
		return thaw(d, t, why, err);
	if (t->phase == PHASE_STOPPED && t->st.idle == PT_IDLE_ASLEEP) {
		int r;

		tenant_record(d, t, "wake", NULL, -1, why);
		set_idle(d, t, PT_IDLE_AWAKE);
		r = tenant_start(d, t, START_BY_WAKE, waiter);
		if (waiter)
			return 1; /* answered by the start, now or once it is over */
		return r < 0 ? pt_err_set(err, r, "tenant %s: wake: start failed", t->spec.slug) : 0;
	}
	if (t->phase == PHASE_RUNNING || t->phase == PHASE_STARTING) {
		idle_activity(t);
		if (t->phase == PHASE_STARTING && waiter)
			return tenant_add_waiter(d, t, waiter) < 0 ? 0 : 1;
		return 0;
	}
	return pt_err_set(err, -ESRCH, "tenant %s is %s: nothing to wake (ptenant start "
			  "starts a stopped tenant)", t->spec.slug, tenant_state_name(t));
}

void idle_on_exit(struct tenant *t)
{
	t->freezing = false;
	if (t->st.idle == PT_IDLE_FROZEN)
		t->st.idle = PT_IDLE_AWAKE; /* killed while frozen: a normal exit */
}

void idle_tick(struct daemon *d, struct tenant *t, uint64_t now)
{
	uint64_t f, s;
	char why[64], dur[24];

	if (t->freezing) {
		freeze_check(d, t, now);
		return;
	}
	/* BUSY=1 on its notify socket: it works, whoever talks to it. */
	if (t->phase != PHASE_RUNNING || t->st.idle == PT_IDLE_ASLEEP || t->busy)
		return;
	f = freeze_after(d, t);
	s = stop_after(d, t);
	if (s && now >= t->last_active + s) {
		pt_duration_format(s, dur, sizeof(dur));
		snprintf(why, sizeof(why), "idle for %s (stop_after)", dur);
		idle_sleep(d, t, why, NULL, NULL);
	} else if (f && t->st.idle == PT_IDLE_AWAKE && now >= t->last_active + f) {
		pt_duration_format(f, dur, sizeof(dur));
		snprintf(why, sizeof(why), "idle for %s (freeze_after)", dur);
		idle_freeze(d, t, why, NULL, NULL);
	}
}

uint64_t idle_next_deadline(struct daemon *d, const struct tenant *t)
{
	uint64_t f, s, at = 0;

	if (t->freezing)
		return t->freeze_deadline < now_mono_ms() + 5 ? t->freeze_deadline
							      : now_mono_ms() + 5;
	if (t->phase != PHASE_RUNNING || t->busy)
		return 0;
	f = freeze_after(d, t);
	s = stop_after(d, t);
	if (f && t->st.idle == PT_IDLE_AWAKE)
		at = t->last_active + f;
	if (s && (!at || t->last_active + s < at))
		at = t->last_active + s;
	return at;
}

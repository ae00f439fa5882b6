/* Blueprint rollouts: `ptenant rollout NAME@NEW`, one at a time.
 *
 * The canary tenants move first, alone; then up to `parallel` at a time.
 * A move is tenant_move() (spec saved, a running tenant restarted on the
 * new version; a stopped, asleep or frozen one moved without a start),
 * then a wait until the new run is healthy (its health checks' first
 * pass; without checks, running for a second) within health_timeout. A
 * tenant that is not is put back on its version at once and counted; at
 * max_failures, or when a canary fails, the rollout halts and every
 * tenant it moved goes back, each checked healthy again.
 *
 * rollout.json is written before every move and after every verdict, so
 * a ptenantd killed at any point finds each tenant on exactly one version
 * (its spec names it) and the rollout where it was: a move under way is
 * judged again, from the run it finds. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cleanup.h"
#include "daemon.h"
#include "fsutil.h"
#include "rollout.h"
#include "spec-health.h"

#define ROLLOUT_FILE "rollout.json"
#define ROLLOUT_FILE_MAX (16 * 1024 * 1024)
#define STABLE_MS 1000          /* without health checks: running this long */
#define TICK_MS 100

void rollout_run_free(struct rollout_run *run)
{
	if (!run)
		return;
	pt_rollout_free(&run->r);
	free(run->since);
	free(run->deadline);
	free(run->restarted);
	free(run);
}

void rollout_shutdown(struct daemon *d)
{
	rollout_run_free(d->rollout);
	d->rollout = NULL;
}

int rollout_run_alloc(size_t n, struct rollout_run **ret)
{
	struct rollout_run *run = calloc(1, sizeof(*run));

	if (run) {
		run->r.tenants = calloc(n, sizeof(*run->r.tenants));
		run->since = calloc(n, sizeof(uint64_t));
		run->deadline = calloc(n, sizeof(uint64_t));
		run->restarted = calloc(n, sizeof(bool));
	}
	if (!run || !run->r.tenants || !run->since || !run->deadline || !run->restarted) {
		rollout_run_free(run);
		return -ENOMEM;
	}
	*ret = run;
	return 0;
}

int rollout_save(struct daemon *d, struct rollout_run *run, pt_err *err)
{
	_cleanup_close_ int dfd = open(d->cfg.state_dir, O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL;
	int r;

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", d->cfg.state_dir);
	r = pt_rollout_format(&run->r, &text);
	if (r < 0)
		return pt_err_set(err, r, "format %s", ROLLOUT_FILE);
	return pt_write_file_atomic(dfd, ROLLOUT_FILE, text, strlen(text), 0644, err);
}

/* A failed write keeps the rollout going in memory; the next step writes
 * it again. What a new ptenantd would find is the last whole file. */
static void persist(struct daemon *d, struct rollout_run *run)
{
	pt_err err = { 0 };

	if (rollout_save(d, run, &err) < 0)
		tenant_record(d, NULL, "rollout-save-failed", NULL, -1, err.msg);
}

void rollout_record(struct daemon *d, struct tenant *t, const char *event, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tenant_record(d, t, event, NULL, -1, msg);
}

static bool split_ref(const char *ref, char name[PT_BP_NAME_MAX + 1],
		      char version[PT_BP_VERSION_MAX + 1])
{
	return pt_blueprint_ref_parse(ref, name, version, "ref", NULL) == 0;
}

static bool tenant_on(const struct tenant *t, const char *ref)
{
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1];

	return split_ref(ref, name, version) && !strcmp(t->spec.blueprint_name, name) &&
	       !strcmp(t->spec.blueprint_version, version);
}

/* ---- one tenant ------------------------------------------------------ */

/* Puts tenant i on `to` (MOVING) or back on `from` (REVERTING). */
static void step_begin(struct daemon *d, struct rollout_run *run, size_t i,
		       enum pt_rollout_step step)
{
	struct pt_rollout_tenant *rt = &run->r.tenants[i];
	const char *ref = step == PT_RT_MOVING ? rt->to : rt->from;
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1];
	struct tenant *t = tenant_find(d, rt->slug);
	uint64_t now = now_mono_ms();
	pt_err err = { 0 };
	int r;

	rt->step = step;
	rt->at = now_real_ms();
	run->since[i] = now;
	run->deadline[i] = now + run->r.health_timeout_ms;
	run->restarted[i] = false;
	persist(d, run); /* first: a crash after the move still knows of it */
	if (!t) {
		rt->step = PT_RT_GONE;
		return;
	}
	split_ref(ref, name, version);
	r = tenant_move(d, t, name, version, NULL, &err);
	run->restarted[i] = r > 0;
	if (r >= 0)
		return;
	snprintf(rt->why, sizeof(rt->why), "%s", err.msg);
	if (step == PT_RT_MOVING) {
		rt->failed = true;
		rollout_record(d, t, "rollout-tenant-failed", "%s: %s", rt->to, err.msg);
		step_begin(d, run, i, PT_RT_REVERTING); /* it is on `from`: done at once */
	} else {
		rt->step = PT_RT_REVERT_FAILED;
		persist(d, run);
	}
}

enum verdict { V_WAIT, V_OK, V_FAIL };

static enum verdict verdict_of_run(struct rollout_run *run, size_t i, struct tenant *t,
				   uint64_t now, char *why, size_t n)
{
	bool new_run = t->started_mono >= run->since[i];
	char took[32];

	if (t->phase == PHASE_RUNNING && new_run) {
		if (t->health.status == HEALTH_HEALTHY)
			return V_OK;
		if (t->health.status == HEALTH_UNHEALTHY) {
			snprintf(why, n, "unhealthy: %s", t->health.last_output);
			return V_FAIL;
		}
		if (t->health.status == HEALTH_NONE && now - t->started_mono >= STABLE_MS)
			return V_OK;
	}
	if (t->phase == PHASE_FAILED) {
		snprintf(why, n, "its start failed: %s", t->last_error);
		return V_FAIL;
	}
	if (new_run && (t->phase == PHASE_BACKOFF || t->phase == PHASE_CRASHLOOP ||
			t->phase == PHASE_STOPPED)) {
		snprintf(why, n, "it exited (%s, code %d)%s%s", pt_exit_reason_name(t->st.last_exit),
			 t->st.last_code, t->last_error[0] ? ": " : "", t->last_error);
		return V_FAIL;
	}
	if (now >= run->deadline[i]) {
		pt_duration_format(run->r.health_timeout_ms, took, sizeof(took));
		snprintf(why, n, "not healthy within %s (%s; last check: %s)", took,
			 t->phase == PHASE_RUNNING ? "running" : tenant_state_name(t),
			 t->health.last_output[0] ? t->health.last_output : "none");
		return V_FAIL;
	}
	return V_WAIT;
}

static enum verdict verdict(struct daemon *d, struct rollout_run *run, size_t i, uint64_t now,
			    char *why, size_t n)
{
	struct pt_rollout_tenant *rt = &run->r.tenants[i];
	struct tenant *t = tenant_find(d, rt->slug);
	const char *ref = rt->step == PT_RT_MOVING ? rt->to : rt->from;

	if (!tenant_on(t, ref)) {
		snprintf(why, n, "its blueprint was changed to %s@%s during the rollout",
			 t->spec.blueprint_name, t->spec.blueprint_version);
		return V_FAIL;
	}
	/* Moved without a start: stopped, asleep, frozen (now asleep),
	 * backing off. Its next start is on the new version. */
	if (!run->restarted[i] && t->phase != PHASE_STARTING && t->phase != PHASE_STOPPING &&
	    (run->since[i] != 0 || t->phase != PHASE_RUNNING))
		return V_OK;
	return verdict_of_run(run, i, t, now, why, n);
}

static void judge(struct daemon *d, struct rollout_run *run, size_t i, uint64_t now)
{
	struct pt_rollout_tenant *rt = &run->r.tenants[i];
	struct tenant *t = tenant_find(d, rt->slug);
	char why[PT_ROLLOUT_WHY_MAX];
	enum verdict v;

	if (!t) {
		rt->step = PT_RT_GONE;
		rt->at = now_real_ms();
		persist(d, run);
		return;
	}
	v = verdict(d, run, i, now, why, sizeof(why));
	if (v == V_WAIT)
		return;
	rt->at = now_real_ms();
	if (rt->step == PT_RT_MOVING && v == V_OK) {
		rt->step = PT_RT_DONE;
		rollout_record(d, t, "rollout-tenant-moved", "%s -> %s, healthy after %llu ms", rt->from,
		       rt->to, (unsigned long long)(now - run->since[i]));
		persist(d, run);
	} else if (rt->step == PT_RT_MOVING) {
		rt->failed = true;
		snprintf(rt->why, sizeof(rt->why), "%s", why);
		rollout_record(d, t, "rollout-tenant-failed", "%s: %s; back to %s", rt->to, why, rt->from);
		step_begin(d, run, i, PT_RT_REVERTING);
	} else if (v == V_OK) {
		rt->step = PT_RT_REVERTED;
		rollout_record(d, t, "rollout-tenant-reverted", "back on %s, healthy", rt->from);
		persist(d, run);
	} else {
		rt->step = PT_RT_REVERT_FAILED;
		if (!rt->why[0])
			snprintf(rt->why, sizeof(rt->why), "back on %s: %s", rt->from, why);
		rollout_record(d, t, "rollout-tenant-revert-failed", "back on %s, but %s", rt->from, why);
		persist(d, run);
	}
}

/* ---- the rollout ----------------------------------------------------- */

static size_t in_flight(const struct pt_rollout *r)
{
	return pt_rollout_count(r, PT_RT_MOVING) + pt_rollout_count(r, PT_RT_REVERTING);
}

void rollout_halt(struct daemon *d, struct rollout_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->r.halt_reason, sizeof(run->r.halt_reason), fmt, ap);
	va_end(ap);
	run->r.phase = PT_ROLLOUT_ROLLING_BACK;
	rollout_record(d, NULL, "rollout-halted", "%s %s: %s; moving %zu tenant(s) back", run->r.id,
	       run->r.target, run->r.halt_reason, pt_rollout_count(&run->r, PT_RT_DONE) +
	       pt_rollout_count(&run->r, PT_RT_MOVING));
	persist(d, run);
}

static void check_halt(struct daemon *d, struct rollout_run *run)
{
	size_t failures = pt_rollout_failures(&run->r);

	for (size_t i = 0; i < run->r.n_tenants; i++)
		if (run->r.tenants[i].canary && run->r.tenants[i].failed) {
			rollout_halt(d, run, "canary %s failed: %s", run->r.tenants[i].slug,
			     run->r.tenants[i].why);
			return;
		}
	if (run->r.max_failures && failures >= run->r.max_failures)
		rollout_halt(d, run, "%zu tenant(s) failed (max %u)", failures, run->r.max_failures);
}

static bool canaries_pending(const struct pt_rollout *r)
{
	for (size_t i = 0; i < r->n_tenants; i++)
		if (r->tenants[i].canary &&
		    (r->tenants[i].step == PT_RT_PENDING || r->tenants[i].step == PT_RT_MOVING))
			return true;
	return false;
}

/* A tenant in the middle of a start or stop of its own is left for a
 * later round: moving it then would fight what is under way. */
static bool settled(struct daemon *d, const struct pt_rollout_tenant *rt)
{
	struct tenant *t = tenant_find(d, rt->slug);

	return !t || (t->phase != PHASE_STARTING && t->phase != PHASE_STOPPING);
}

static void start_moves(struct daemon *d, struct rollout_run *run)
{
	bool canary_stage = canaries_pending(&run->r);
	size_t busy = in_flight(&run->r);

	for (size_t i = 0; i < run->r.n_tenants && busy < run->r.parallel; i++) {
		struct pt_rollout_tenant *rt = &run->r.tenants[i];

		if (rt->step != PT_RT_PENDING || (canary_stage && !rt->canary) || !settled(d, rt))
			continue;
		step_begin(d, run, i, PT_RT_MOVING);
		busy = in_flight(&run->r);
	}
}

static void start_reverts(struct daemon *d, struct rollout_run *run)
{
	size_t busy = in_flight(&run->r);

	for (size_t i = 0; i < run->r.n_tenants && busy < run->r.parallel; i++)
		if (run->r.tenants[i].step == PT_RT_DONE && settled(d, &run->r.tenants[i])) {
			step_begin(d, run, i, PT_RT_REVERTING);
			busy = in_flight(&run->r);
		}
}

static void finish(struct daemon *d, struct rollout_run *run, enum pt_rollout_phase phase)
{
	struct pt_rollout *r = &run->r;

	r->phase = phase;
	r->ended_at = now_real_ms();
	rollout_record(d, NULL, phase == PT_ROLLOUT_DONE ? "rollout-finished" : "rollout-rolled-back",
	       "%s %s: %zu moved, %zu failed (put back), %zu reverted, %zu revert(s) failed, "
	       "%zu gone, in %llu ms", r->id, r->target, pt_rollout_count(r, PT_RT_DONE),
	       pt_rollout_failures(r), pt_rollout_count(r, PT_RT_REVERTED),
	       pt_rollout_count(r, PT_RT_REVERT_FAILED), pt_rollout_count(r, PT_RT_GONE),
	       (unsigned long long)(r->ended_at - r->started_at));
	persist(d, run);
}

void rollout_tick(struct daemon *d, uint64_t now)
{
	struct rollout_run *run = d->rollout;

	if (!run || !pt_rollout_active(&run->r))
		return;
	for (size_t i = 0; i < run->r.n_tenants; i++)
		if (run->r.tenants[i].step == PT_RT_MOVING || run->r.tenants[i].step == PT_RT_REVERTING)
			judge(d, run, i, now);
	if (run->r.phase != PT_ROLLOUT_ROLLING_BACK)
		check_halt(d, run);
	if (run->r.phase == PT_ROLLOUT_ROLLING_BACK) {
		start_reverts(d, run);
		if (!in_flight(&run->r) && !pt_rollout_count(&run->r, PT_RT_DONE) &&
		    !pt_rollout_count(&run->r, PT_RT_MOVING))
			finish(d, run, PT_ROLLOUT_ROLLED_BACK);
	} else if (run->r.phase == PT_ROLLOUT_RUNNING) {
		start_moves(d, run);
		if (!in_flight(&run->r) && !pt_rollout_count(&run->r, PT_RT_PENDING))
			finish(d, run, PT_ROLLOUT_DONE);
	}
}

uint64_t rollout_next_deadline(const struct daemon *d)
{
	if (!d->rollout || !pt_rollout_active(&d->rollout->r))
		return 0;
	return now_mono_ms() + TICK_MS;
}

/* ---- a new ptenantd -------------------------------------------------- */

int rollout_restore(struct daemon *d, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct rollout_run *run;
	struct pt_rollout r;
	char path[600];
	size_t len;
	int e;

	snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, ROLLOUT_FILE);
	e = pt_read_file(AT_FDCWD, path, ROLLOUT_FILE_MAX, &text, &len, err);
	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return e;
	e = pt_rollout_parse(text, len, &r, err);
	if (e < 0)
		return pt_err_prefix(err, "%s", path);
	e = rollout_run_alloc(r.n_tenants, &run);
	if (e < 0) {
		pt_rollout_free(&r);
		return pt_err_set(err, e, "restore the rollout");
	}
	free(run->r.tenants);
	run->r = r;
	d->rollout = run;
	if (!pt_rollout_active(&r))
		return 0;
	/* A move under way: make sure the tenant is on the version the step
	 * names (the crash may have come between the file and the spec),
	 * then judge the run found, from now. */
	for (size_t i = 0; i < run->r.n_tenants; i++) {
		struct pt_rollout_tenant *rt = &run->r.tenants[i];
		struct tenant *t = tenant_find(d, rt->slug);

		if (rt->step != PT_RT_MOVING && rt->step != PT_RT_REVERTING)
			continue;
		if (t && !tenant_on(t, rt->step == PT_RT_MOVING ? rt->to : rt->from)) {
			step_begin(d, run, i, rt->step);
			continue;
		}
		run->since[i] = 0;
		run->deadline[i] = now_mono_ms() + run->r.health_timeout_ms;
		run->restarted[i] = t && (t->phase == PHASE_RUNNING || t->phase == PHASE_STARTING ||
					  t->phase == PHASE_STOPPING);
	}
	rollout_record(d, NULL, "rollout-resumed-after-restart", "%s %s: %s, %zu of %zu tenants settled",
	       run->r.id, run->r.target, pt_rollout_phase_name(run->r.phase),
	       pt_rollout_count(&run->r, PT_RT_DONE) + pt_rollout_count(&run->r, PT_RT_REVERTED),
	       run->r.n_tenants);
	return 0;
}

/* The rollout API: rollout.start, rollout.status, and rollout.pause,
 * .resume, .abort and .undo. A request that is refused changes nothing:
 * every check comes before the first write. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "blueprint.h"
#include "daemon.h"
#include "rollout.h"

#define DEFAULT_PARALLEL 4
#define DEFAULT_MAX_FAILURES 1
#define DEFAULT_CANARY 1
#define DEFAULT_HEALTH_TIMEOUT_MS 60000

struct start_req {
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1];
	char target[PT_BP_REF_MAX + 1];
	char from[PT_BP_REF_MAX + 1];    /* "" when not given */
	json_t *slugs;                   /* borrowed; NULL when not given */
	uint32_t parallel, max_failures, canary;
	uint64_t health_timeout_ms;
};

static int opt_uint(json_t *req, const char *key, uint32_t max, uint32_t def, uint32_t *ret,
		    pt_err *err)
{
	json_t *v = json_object_get(req, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return pt_err_field(err, -EINVAL, key, "%s: expected an integer 0..%u", key, max);
	*ret = (uint32_t)json_integer_value(v);
	return 0;
}

static int parse_start(struct daemon *d, json_t *req, struct start_req *s, pt_err *err)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	json_t *from = json_object_get(req, "from"), *timeout = json_object_get(req, "health_timeout");
	struct pt_blueprint bp;
	char fn[PT_BP_NAME_MAX + 1], fv[PT_BP_VERSION_MAX + 1];
	int r;

	if (!target)
		return pt_err_field(err, -EINVAL, "target", "target: expected NAME@VERSION");
	r = pt_blueprint_ref_parse(target, s->name, s->version, "target", err);
	if (r < 0)
		return r;
	snprintf(s->target, sizeof(s->target), "%s@%s", s->name, s->version);
	r = pt_blueprint_load(d->cfg.state_dir, s->name, s->version, &bp, err);
	if (r < 0)
		return pt_err_field(err, r, "target", "blueprint %s is not imported", s->target);
	pt_blueprint_free(&bp);
	if (from && json_object_get(req, "tenants"))
		return pt_err_field(err, -EINVAL, "from", "give --from or --tenants, not both");
	if (from) {
		if (!json_is_string(from) ||
		    pt_blueprint_ref_parse(json_string_value(from), fn, fv, "from", err) < 0)
			return pt_err_field(err, -EINVAL, "from", "from: expected NAME@VERSION");
		if (strcmp(fn, s->name) != 0)
			return pt_err_field(err, -EINVAL, "from", "from: %s is not a version of %s; a "
					    "rollout moves tenants between versions of one blueprint",
					    json_string_value(from), s->name);
		snprintf(s->from, sizeof(s->from), "%s@%s", fn, fv);
	}
	s->slugs = json_object_get(req, "tenants");
	if (s->slugs && (!json_is_array(s->slugs) || json_array_size(s->slugs) == 0))
		return pt_err_field(err, -EINVAL, "tenants", "tenants: expected a list of slugs");
	s->health_timeout_ms = DEFAULT_HEALTH_TIMEOUT_MS;
	if (timeout && (!json_is_string(timeout) ||
			pt_duration_parse(json_string_value(timeout), &s->health_timeout_ms) < 0 ||
			s->health_timeout_ms < 1000 || s->health_timeout_ms > 24ULL * 3600 * 1000))
		return pt_err_field(err, -EINVAL, "health_timeout", "health_timeout: expected a "
				    "duration from 1s to 1d, e.g. \"60s\"");
	r = opt_uint(req, "parallel", PT_ROLLOUT_PARALLEL_MAX, DEFAULT_PARALLEL, &s->parallel, err);
	if (r == 0 && s->parallel == 0)
		r = pt_err_field(err, -EINVAL, "parallel", "parallel: at least 1");
	if (r == 0)
		r = opt_uint(req, "max_failures", PT_ROLLOUT_TENANTS_MAX, DEFAULT_MAX_FAILURES,
			     &s->max_failures, err);
	if (r == 0)
		r = opt_uint(req, "canary", PT_ROLLOUT_TENANTS_MAX, DEFAULT_CANARY, &s->canary, err);
	return r;
}

static bool picked(struct daemon *d, const struct start_req *s, struct tenant *t)
{
	char ref[PT_BP_REF_MAX + 1];

	(void)d;
	snprintf(ref, sizeof(ref), "%s@%s", t->spec.blueprint_name, t->spec.blueprint_version);
	if (t->broken || strcmp(ref, s->target) == 0)
		return false;
	if (s->from[0])
		return strcmp(ref, s->from) == 0;
	return strcmp(t->spec.blueprint_name, s->name) == 0;
}

static int slug_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pt_rollout_tenant *)a)->slug,
		      ((const struct pt_rollout_tenant *)b)->slug);
}

static void fill(struct pt_rollout_tenant *rt, struct tenant *t, const char *to)
{
	snprintf(rt->slug, sizeof(rt->slug), "%s", t->spec.slug);
	snprintf(rt->from, sizeof(rt->from), "%s@%s", t->spec.blueprint_name,
		 t->spec.blueprint_version);
	snprintf(rt->to, sizeof(rt->to), "%s", to);
}

/* The tenants it moves: those named (each must exist, once), or those on
 * --from, or every tenant on another version of the blueprint. */
static int pick(struct daemon *d, const struct start_req *s, struct rollout_run *run, pt_err *err)
{
	size_t n = 0, i;
	json_t *v;

	if (s->slugs) {
		json_array_foreach(s->slugs, i, v) {
			struct tenant *t = json_is_string(v) ? tenant_find(d, json_string_value(v)) : NULL;

			if (!t)
				return pt_err_field(err, -ENOENT, "tenants", "tenants[%zu]: no tenant "
						    "%.64s", i, json_is_string(v) ? json_string_value(v) : "(not a string)");
			for (size_t k = 0; k < n; k++)
				if (strcmp(run->r.tenants[k].slug, t->spec.slug) == 0)
					return pt_err_field(err, -EINVAL, "tenants", "tenants: %s is named "
							    "twice", t->spec.slug);
			if (t->broken)
				return pt_err_field(err, -EINVAL, "tenants", "tenant %s cannot be loaded: "
						    "%s", t->spec.slug, t->last_error);
			if (strcmp(t->spec.blueprint_name, s->name) != 0)
				return pt_err_field(err, -EINVAL, "tenants", "tenant %s runs %s, not a "
						    "version of %s", t->spec.slug, t->spec.blueprint_name,
						    s->name);
			if (strcmp(t->spec.blueprint_version, s->version) != 0)
				fill(&run->r.tenants[n++], t, s->target);
		}
	} else {
		for (i = 0; i < d->n_tenants; i++)
			if (picked(d, s, d->tenants[i]))
				fill(&run->r.tenants[n++], d->tenants[i], s->target);
	}
	if (n == 0)
		return pt_err_set(err, -ENOENT, "no tenant to move to %s: none %s", s->target,
				  s->slugs ? "of those named is on another version" :
				  s->from[0] ? "is on that --from version" :
				  "is on another version of that blueprint");
	run->r.n_tenants = n;
	if (!s->slugs)
		qsort(run->r.tenants, n, sizeof(*run->r.tenants), slug_cmp);
	return 0;
}

/* The canaries are the first running tenants (a stopped one proves
 * nothing about the version), then the first others if too few run. */
static void mark_canaries(struct daemon *d, struct pt_rollout *ro)
{
	uint32_t marked = 0;

	for (size_t i = 0; i < ro->n_tenants && marked < ro->canary; i++) {
		struct tenant *t = tenant_find(d, ro->tenants[i].slug);

		if (t && t->phase == PHASE_RUNNING) {
			ro->tenants[i].canary = true;
			marked++;
		}
	}
	for (size_t i = 0; i < ro->n_tenants && marked < ro->canary; i++)
		if (!ro->tenants[i].canary) {
			ro->tenants[i].canary = true;
			marked++;
		}
}

static json_t *status_json(const struct rollout_run *run)
{
	static const enum pt_rollout_step steps[] = {
		PT_RT_PENDING, PT_RT_MOVING, PT_RT_DONE, PT_RT_REVERTING,
		PT_RT_REVERTED, PT_RT_REVERT_FAILED, PT_RT_GONE,
	};
	char *text = NULL;
	json_t *o, *counts;

	if (pt_rollout_format(&run->r, &text) < 0)
		return NULL;
	o = json_loads(text, 0, NULL);
	free(text);
	counts = json_object();
	if (!o || !counts) {
		json_decref(o);
		json_decref(counts);
		return NULL;
	}
	json_object_del(o, "version");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		json_object_set_new(counts, pt_rollout_step_name(steps[i]),
				    json_integer((json_int_t)pt_rollout_count(&run->r, steps[i])));
	json_object_set_new(counts, "failed", json_integer((json_int_t)pt_rollout_failures(&run->r)));
	json_object_set_new(counts, "total", json_integer((json_int_t)run->r.n_tenants));
	json_object_set_new(o, "counts", counts);
	return o;
}

static void reply_status(struct daemon *d, struct conn *c, const struct rollout_run *run)
{
	json_t *resp = pt_api_ok_response();

	json_object_set_new(resp, "rollout", status_json(run));
	conn_reply(d, c, resp);
}

static int refuse_if_active(struct daemon *d, pt_err *err)
{
	struct pt_rollout *r = d->rollout ? &d->rollout->r : NULL;

	if (r && pt_rollout_active(r))
		return pt_err_set(err, -EBUSY, "rollout %s of %s is %s (%zu of %zu tenants settled); "
				  "one at a time: wait, or pause or abort it", r->id, r->target,
				  pt_rollout_phase_name(r->phase),
				  pt_rollout_count(r, PT_RT_DONE) + pt_rollout_count(r, PT_RT_REVERTED),
				  r->n_tenants);
	return 0;
}

/* Saved before it is installed: a rollout that cannot be written is not
 * begun. */
static int install(struct daemon *d, struct rollout_run *run, pt_err *err)
{
	int r = rollout_save(d, run, err);

	if (r < 0)
		return r;
	rollout_run_free(d->rollout);
	d->rollout = run;
	return 0;
}

void rollout_op_start(struct daemon *d, struct conn *c, json_t *req)
{
	struct start_req s = { 0 };
	struct rollout_run *run = NULL;
	pt_err err = { 0 };
	int r;

	r = refuse_if_active(d, &err);
	if (r == 0)
		r = parse_start(d, req, &s, &err);
	if (r == 0) {
		r = rollout_run_alloc(s.slugs ? json_array_size(s.slugs) : d->n_tenants + 1, &run);
		if (r < 0)
			pt_err_set(&err, r, "allocate the rollout");
	}
	if (r == 0)
		r = pick(d, &s, run, &err);
	if (r == 0) {
		struct pt_rollout *ro = &run->r;

		ro->started_at = now_real_ms();
		snprintf(ro->id, sizeof(ro->id), "r%llu", (unsigned long long)ro->started_at);
		snprintf(ro->target, sizeof(ro->target), "%s", s.target);
		ro->parallel = s.parallel;
		ro->max_failures = s.max_failures;
		ro->canary = s.canary < ro->n_tenants ? s.canary : (uint32_t)ro->n_tenants;
		ro->health_timeout_ms = s.health_timeout_ms;
		mark_canaries(d, ro);
		r = install(d, run, &err);
	}
	if (r < 0) {
		rollout_run_free(run);
		conn_reply_error(d, c, &err);
		return;
	}
	rollout_record(d, NULL, "rollout-started", "%s %s: %zu tenant(s), canary %u, parallel %u, "
		       "max failures %u, health timeout %llu ms", run->r.id, run->r.target,
		       run->r.n_tenants, run->r.canary, run->r.parallel, run->r.max_failures,
		       (unsigned long long)run->r.health_timeout_ms);
	reply_status(d, c, run);
}

void rollout_op_status(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };

	(void)req;
	if (!d->rollout) {
		pt_err_set(&err, -ENOENT, "no rollout has run with this state directory");
		conn_reply_error(d, c, &err);
		return;
	}
	reply_status(d, c, d->rollout);
}

/* rollout undo: the last finished rollout's moved tenants, back to the
 * versions they had, as a rollout of its own that never halts. */
static int undo(struct daemon *d, pt_err *err)
{
	struct rollout_run *last = d->rollout, *run;
	size_t n = 0;
	int r;

	if (!last)
		return pt_err_set(err, -ENOENT, "no rollout to undo");
	if (last->r.phase != PT_ROLLOUT_DONE)
		return pt_err_set(err, -EINVAL, "rollout %s is %s: only a finished rollout can be "
				  "undone (a halted one is rolled back already)", last->r.id,
				  pt_rollout_phase_name(last->r.phase));
	r = rollout_run_alloc(last->r.n_tenants, &run);
	if (r < 0)
		return pt_err_set(err, r, "allocate the undo");
	for (size_t i = 0; i < last->r.n_tenants; i++) {
		const struct pt_rollout_tenant *lt = &last->r.tenants[i];
		struct pt_rollout_tenant *rt = &run->r.tenants[n];
		struct tenant *t = tenant_find(d, lt->slug);

		if (lt->step != PT_RT_DONE || !t)
			continue;
		snprintf(rt->slug, sizeof(rt->slug), "%s", lt->slug);
		snprintf(rt->from, sizeof(rt->from), "%s", lt->to);
		snprintf(rt->to, sizeof(rt->to), "%s", lt->from);
		n++;
	}
	if (n == 0) {
		rollout_run_free(run);
		return pt_err_set(err, -ENOENT, "rollout %s moved no tenant that is still there",
				  last->r.id);
	}
	run->r.n_tenants = n;
	run->r.started_at = now_real_ms();
	snprintf(run->r.id, sizeof(run->r.id), "r%llu", (unsigned long long)run->r.started_at);
	snprintf(run->r.target, sizeof(run->r.target), "undo");
	snprintf(run->r.undo_of, sizeof(run->r.undo_of), "%s", last->r.id);
	run->r.parallel = last->r.parallel;
	run->r.health_timeout_ms = last->r.health_timeout_ms;
	r = install(d, run, err);
	if (r < 0) {
		rollout_run_free(run);
		return r;
	}
	rollout_record(d, NULL, "rollout-started", "%s undo of %s: %zu tenant(s) back to their "
		       "versions, parallel %u", run->r.id, run->r.undo_of, n, run->r.parallel);
	return 0;
}

static int control(struct daemon *d, const char *op, pt_err *err)
{
	struct rollout_run *run = d->rollout;
	struct pt_rollout *r = run ? &run->r : NULL;

	if (strcmp(op, "rollout.undo") == 0)
		return refuse_if_active(d, err) < 0 ? -EBUSY : undo(d, err);
	if (!r || !pt_rollout_active(r))
		return pt_err_set(err, -ENOENT, "no rollout is under way%s%s", r ? "; the last, " : "",
				  r ? r->id : "");
	if (strcmp(op, "rollout.pause") == 0) {
		if (r->phase != PT_ROLLOUT_RUNNING)
			return pt_err_set(err, -EINVAL, "rollout %s is %s, not running", r->id,
					  pt_rollout_phase_name(r->phase));
		r->phase = PT_ROLLOUT_PAUSED;
		rollout_record(d, NULL, "rollout-paused", "%s %s: moves under way finish; no new "
			       "one starts", r->id, r->target);
	} else if (strcmp(op, "rollout.resume") == 0) {
		if (r->phase != PT_ROLLOUT_PAUSED)
			return pt_err_set(err, -EINVAL, "rollout %s is %s, not paused", r->id,
					  pt_rollout_phase_name(r->phase));
		r->phase = PT_ROLLOUT_RUNNING;
		rollout_record(d, NULL, "rollout-resumed", "%s %s", r->id, r->target);
	} else {
		if (r->phase == PT_ROLLOUT_ROLLING_BACK)
			return pt_err_set(err, -EINVAL, "rollout %s is rolling back already", r->id);
		rollout_halt(d, run, "aborted by ptenant rollout abort");
		return 0;
	}
	return rollout_save(d, run, err);
}

void rollout_op_control(struct daemon *d, struct conn *c, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	pt_err err = { 0 };

	if (!op || control(d, op, &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	reply_status(d, c, d->rollout);
}

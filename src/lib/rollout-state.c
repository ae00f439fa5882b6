/* rollout.json: see rollout-state.h. */
#include "rollout-state.h"

#include "cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLLOUT_VERSION 1

static const char *const phase_names[] = {
	[PT_ROLLOUT_RUNNING] = "running", [PT_ROLLOUT_PAUSED] = "paused",
	[PT_ROLLOUT_ROLLING_BACK] = "rolling-back", [PT_ROLLOUT_DONE] = "done",
	[PT_ROLLOUT_ROLLED_BACK] = "rolled-back",
};

static const char *const step_names[] = {
	[PT_RT_PENDING] = "pending", [PT_RT_MOVING] = "moving", [PT_RT_DONE] = "done",
	[PT_RT_REVERTING] = "reverting", [PT_RT_REVERTED] = "reverted",
	[PT_RT_REVERT_FAILED] = "revert-failed", [PT_RT_GONE] = "gone",
};

#define N_PHASES (sizeof(phase_names) / sizeof(phase_names[0]))
#define N_STEPS (sizeof(step_names) / sizeof(step_names[0]))

const char *pt_rollout_phase_name(enum pt_rollout_phase p)
{
	return (size_t)p < N_PHASES ? phase_names[p] : NULL;
}

const char *pt_rollout_step_name(enum pt_rollout_step s)
{
	return (size_t)s < N_STEPS ? step_names[s] : NULL;
}

bool pt_rollout_active(const struct pt_rollout *r)
{
	return r->phase == PT_ROLLOUT_RUNNING || r->phase == PT_ROLLOUT_PAUSED ||
	       r->phase == PT_ROLLOUT_ROLLING_BACK;
}

size_t pt_rollout_count(const struct pt_rollout *r, enum pt_rollout_step s)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_tenants; i++)
		n += r->tenants[i].step == s;
	return n;
}

size_t pt_rollout_failures(const struct pt_rollout *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_tenants; i++)
		n += r->tenants[i].failed;
	return n;
}

void pt_rollout_free(struct pt_rollout *r)
{
	free(r->tenants);
	r->tenants = NULL;
	r->n_tenants = 0;
}

/* ---- validity, shared by both directions ----------------------------- */

static bool ref_ok(const char *ref)
{
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1];

	return pt_blueprint_ref_parse(ref, name, version, "ref", NULL) == 0;
}

static bool id_ok(const char *id, bool may_be_empty)
{
	size_t n = strlen(id);

	if (n == 0)
		return may_be_empty;
	if (id[0] != 'r' || n < 2 || n > 20)
		return false;
	return strspn(id + 1, "0123456789") == n - 1;
}

static bool text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return false;
	return true;
}

static bool tenant_ok(const struct pt_rollout_tenant *t)
{
	return pt_slug_validate(t->slug, "slug", NULL) == 0 && ref_ok(t->from) &&
	       ref_ok(t->to) && pt_rollout_step_name(t->step) && t->at <= INT64_MAX &&
	       text_ok(t->why);
}

static bool rollout_ok(const struct pt_rollout *r)
{
	if (!id_ok(r->id, false) || !id_ok(r->undo_of, true) || !pt_rollout_phase_name(r->phase) ||
	    r->parallel < 1 || r->parallel > PT_ROLLOUT_PARALLEL_MAX ||
	    r->max_failures > PT_ROLLOUT_TENANTS_MAX || r->canary > PT_ROLLOUT_TENANTS_MAX ||
	    r->health_timeout_ms < 1000 || r->health_timeout_ms > 24ULL * 3600 * 1000 ||
	    r->started_at > INT64_MAX || r->ended_at > INT64_MAX || !text_ok(r->halt_reason) ||
	    r->n_tenants < 1 || r->n_tenants > PT_ROLLOUT_TENANTS_MAX ||
	    !(strcmp(r->target, "undo") == 0 ? r->undo_of[0] != '\0' : ref_ok(r->target)))
		return false;
	for (size_t i = 0; i < r->n_tenants; i++)
		if (!tenant_ok(&r->tenants[i]))
			return false;
	return true;
}

/* ---- format ---------------------------------------------------------- */

static json_t *tenant_to_json(const struct pt_rollout_tenant *t)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:s}", "slug", t->slug,
			 "from", t->from, "to", t->to, "step", pt_rollout_step_name(t->step),
			 "canary", t->canary, "failed", t->failed, "at", (json_int_t)t->at,
			 "why", t->why);
}

int pt_rollout_format(const struct pt_rollout *r, char **ret_text)
{
	_cleanup_json_ json_t *o = NULL;
	json_t *arr;
	char *text;

	if (!rollout_ok(r))
		return -EINVAL;
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:s, s:[]}",
		      "version", ROLLOUT_VERSION, "id", r->id, "target", r->target,
		      "undo_of", r->undo_of, "phase", pt_rollout_phase_name(r->phase),
		      "parallel", (int)r->parallel, "max_failures", (int)r->max_failures,
		      "canary", (int)r->canary, "health_timeout_ms", (json_int_t)r->health_timeout_ms,
		      "started_at", (json_int_t)r->started_at, "ended_at", (json_int_t)r->ended_at,
		      "halt_reason", r->halt_reason, "tenants");
	if (!o)
		return -ENOMEM;
	arr = json_object_get(o, "tenants");
	for (size_t i = 0; i < r->n_tenants; i++)
		if (json_array_append_new(arr, tenant_to_json(&r->tenants[i])) < 0)
			return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	*ret_text = text;
	return 0;
}

/* ---- parse ----------------------------------------------------------- */

static int bad(pt_err *err, const char *field, const char *what)
{
	return pt_err_field(err, -EBADMSG, field, "rollout.json: field %s: %s", field, what);
}

static int get_int(json_t *o, const char *key, uint64_t max, uint64_t *ret, pt_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return bad(err, key, v ? "expected a non-negative integer in range" : "missing");
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_str(json_t *o, const char *key, char *out, size_t size, pt_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, key, v ? "expected a string, not too long" : "missing");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_name(json_t *o, const char *key, const char *const *names, size_t n,
		    unsigned *ret, pt_err *err)
{
	const char *s = json_string_value(json_object_get(o, key));

	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (unsigned)i;
			return 0;
		}
	return bad(err, key, "missing or not a known name");
}

static int get_bool(json_t *o, const char *key, bool *ret, pt_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return bad(err, key, "expected true or false");
	*ret = json_is_true(v);
	return 0;
}

static int parse_tenant(json_t *o, struct pt_rollout_tenant *t, pt_err *err)
{
	unsigned step = 0;
	int r;

	if (!json_is_object(o) || json_object_size(o) != 8)
		return bad(err, "tenants", "each entry must be an object of its 8 fields");
	r = get_str(o, "slug", t->slug, sizeof(t->slug), err);
	if (r == 0)
		r = get_str(o, "from", t->from, sizeof(t->from), err);
	if (r == 0)
		r = get_str(o, "to", t->to, sizeof(t->to), err);
	if (r == 0)
		r = get_name(o, "step", step_names, N_STEPS, &step, err);
	if (r == 0)
		r = get_bool(o, "canary", &t->canary, err);
	if (r == 0)
		r = get_bool(o, "failed", &t->failed, err);
	if (r == 0)
		r = get_int(o, "at", INT64_MAX, &t->at, err);
	if (r == 0)
		r = get_str(o, "why", t->why, sizeof(t->why), err);
	t->step = (enum pt_rollout_step)step;
	if (r == 0 && !tenant_ok(t))
		r = bad(err, "tenants", "an entry names an invalid slug, version or text");
	return r;
}

static int parse_top(json_t *o, struct pt_rollout *r, pt_err *err)
{
	uint64_t v = 0, par = 0, maxf = 0, can = 0;
	unsigned phase = 0;
	int e;

	if (json_object_size(o) != 13)
		return bad(err, "", "expected exactly its 13 fields");
	e = get_int(o, "version", 1000, &v, err);
	if (e == 0 && v != ROLLOUT_VERSION)
		e = bad(err, "version", "unsupported version");
	if (e == 0)
		e = get_str(o, "id", r->id, sizeof(r->id), err);
	if (e == 0)
		e = get_str(o, "target", r->target, sizeof(r->target), err);
	if (e == 0)
		e = get_str(o, "undo_of", r->undo_of, sizeof(r->undo_of), err);
	if (e == 0)
		e = get_name(o, "phase", phase_names, N_PHASES, &phase, err);
	if (e == 0)
		e = get_int(o, "parallel", PT_ROLLOUT_PARALLEL_MAX, &par, err);
	if (e == 0)
		e = get_int(o, "max_failures", PT_ROLLOUT_TENANTS_MAX, &maxf, err);
	if (e == 0)
		e = get_int(o, "canary", PT_ROLLOUT_TENANTS_MAX, &can, err);
	if (e == 0)
		e = get_int(o, "health_timeout_ms", INT64_MAX, &r->health_timeout_ms, err);
	if (e == 0)
		e = get_int(o, "started_at", INT64_MAX, &r->started_at, err);
	if (e == 0)
		e = get_int(o, "ended_at", INT64_MAX, &r->ended_at, err);
	if (e == 0)
		e = get_str(o, "halt_reason", r->halt_reason, sizeof(r->halt_reason), err);
	r->phase = (enum pt_rollout_phase)phase;
	r->parallel = (uint32_t)par;
	r->max_failures = (uint32_t)maxf;
	r->canary = (uint32_t)can;
	return e;
}

int pt_rollout_parse(const char *text, size_t len, struct pt_rollout *ret, pt_err *err)
{
	_cleanup_json_ json_t *o = NULL;
	struct pt_rollout r = { 0 };
	json_error_t jerr;
	json_t *arr;
	int e;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return pt_err_field(err, -EBADMSG, "", "rollout.json: invalid JSON at line %d, "
				    "column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(o))
		return bad(err, "", "expected an object");
	e = parse_top(o, &r, err);
	arr = json_object_get(o, "tenants");
	if (e == 0 && (!json_is_array(arr) || json_array_size(arr) < 1 ||
		       json_array_size(arr) > PT_ROLLOUT_TENANTS_MAX))
		e = bad(err, "tenants", "expected an array of 1 to 10000 entries");
	if (e == 0) {
		r.tenants = calloc(json_array_size(arr), sizeof(*r.tenants));
		if (!r.tenants)
			return pt_err_set(err, -ENOMEM, "rollout.json: allocate its tenants");
	}
	for (size_t i = 0; e == 0 && i < json_array_size(arr); i++) {
		e = parse_tenant(json_array_get(arr, i), &r.tenants[i], err);
		r.n_tenants = i + 1;
	}
	if (e == 0 && !rollout_ok(&r))
		e = bad(err, "", "its fields do not hold together (limits, ids, target)");
	if (e < 0) {
		pt_rollout_free(&r);
		return e;
	}
	*ret = r;
	return 0;
}

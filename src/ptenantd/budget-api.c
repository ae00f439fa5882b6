/* The budget operations of the control API: `stats` and `update`.
 *
 * update changes a running tenant's cgroup in place and then its
 * spec.json, so the next start keeps the new budget. A memory budget
 * below what the tenant uses right now is refused with EBUSY and
 * nothing changes: on v2 the kernel would OOM-kill the tenant at once,
 * on v1 it refuses the write itself; refusing on both keeps the two
 * backends alike and a live change never kills a tenant by surprise.
 * Lower it with `update` on a stopped tenant, or stop, update, start.
 * A pids budget below the current count is accepted: new forks fail,
 * nothing running is killed. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "cgroup.h"
#include "daemon.h"
#include "fault.h"

static struct tenant *lookup(struct daemon *d, json_t *req, bool optional, pt_err *err)
{
	json_t *v = json_object_get(req, "slug");
	struct tenant *t;

	if (!v && optional)
		return NULL;
	if (!json_is_string(v)) {
		pt_err_field(err, -EINVAL, "slug", "request needs a string field \"slug\"");
		return NULL;
	}
	if (pt_slug_validate(json_string_value(v), "slug", err) < 0)
		return NULL;
	t = tenant_find(d, json_string_value(v));
	if (!t)
		pt_err_field(err, -ENOENT, "slug", "no tenant %s", json_string_value(v));
	return t;
}

static json_t *limits_json(struct daemon *d, const struct pt_resources *r)
{
	uint64_t mem = r->memory_max ? r->memory_max : d->cfg.default_memory_max;
	uint32_t cpu = r->cpu_millis ? r->cpu_millis : d->cfg.default_cpu_millis;
	uint64_t pids = r->pids_max ? r->pids_max : d->cfg.default_pids_max;

	return json_pack("{s:I, s:I, s:f, s:i, s:I}", "memory_max", (json_int_t)mem,
			 "memory_high", (json_int_t)r->memory_high, "cpu", cpu / 1000.0,
			 "cpu_weight", r->cpu_weight ? (int)r->cpu_weight : 100,
			 "pids_max", (json_int_t)pids);
}

static json_t *tenant_stats(struct daemon *d, struct tenant *t)
{
	json_t *o = tenant_summary(d, t);
	struct pt_cg_stats s;

	json_object_set_new(o, "limits", limits_json(d, &t->spec.resources));
	json_object_set_new(o, "log", logs_stats(d, t));
	if (t->budget.last_oom_at)
		json_object_set_new(o, "last_oom", json_pack("{s:I, s:I, s:I}",
			"at", (json_int_t)t->budget.last_oom_at,
			"memory_peak", (json_int_t)t->budget.last_oom_peak,
			"memory_max", (json_int_t)t->budget.last_oom_max));
	if (!d->cg || t->phase != PHASE_RUNNING ||
	    d->cg->ops->stats(d->cg, t->spec.slug, &s, NULL) < 0)
		return o;
	/* Of this run: a standby that took over shares the leaf's counters. */
	if (s.cpu_usec != UINT64_MAX)
		json_object_set_new(o, "cpu_usec", json_integer((json_int_t)(s.cpu_usec -
			(s.cpu_usec >= t->budget.cpu_base ? t->budget.cpu_base : 0))));
	json_object_set_new(o, "memory_current", json_integer((json_int_t)s.memory_current));
	json_object_set_new(o, "memory_peak", json_integer((json_int_t)s.memory_peak));
	json_object_set_new(o, "pids_current", json_integer((json_int_t)s.pids_current));
	json_object_set_new(o, "oom_kills", json_integer((json_int_t)(s.oom_kills -
		(s.oom_kills >= t->budget.oom_base ? t->budget.oom_base : 0))));
	return o;
}

void budget_op_stats(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = lookup(d, req, true, &err);
	json_t *arr, *resp;

	if (!t && err.code) {
		conn_reply_error(d, c, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < d->n_tenants; i++)
		if (!t || d->tenants[i] == t)
			json_array_append_new(arr, tenant_stats(d, d->tenants[i]));
	resp = pt_api_ok_response();
	json_object_set_new(resp, "budgets", budget_info(d));
	json_object_set_new(resp, "tenants", arr);
	conn_reply(d, c, resp);
}

/* The optional "log_rate" and "log_burst" of an update, over *res. */
static int parse_log_update(json_t *req, struct pt_resources *res, pt_err *err)
{
	json_t *lr = json_object_get(req, "log_rate"), *lb = json_object_get(req, "log_burst");

	if (lr && (!json_is_string(lr) || pt_size_parse(json_string_value(lr), &res->log_rate) < 0 ||
		   res->log_rate == 0))
		return pt_err_field(err, -EINVAL, "log_rate",
				    "log_rate wants bytes per second, like 64K");
	if (lb && (!json_is_string(lb) || pt_size_parse(json_string_value(lb), &res->log_burst) < 0 ||
		   res->log_burst < 4096))
		return pt_err_field(err, -EINVAL, "log_burst",
				    "log_burst wants a size of at least 4K, like 1M");
	return 0;
}

/* Reads the optional "memory", "memory_high", "cpu", "pids", "log_rate",
 * "log_burst" of an update over *res. Strings as in the spec ("512M",
 * "0.5"). */
static int parse_update(json_t *req, struct pt_resources *res, pt_err *err)
{
	json_t *m = json_object_get(req, "memory"), *h = json_object_get(req, "memory_high");
	json_t *c = json_object_get(req, "cpu"), *p = json_object_get(req, "pids");
	int r;

	if (!m && !h && !c && !p && !json_object_get(req, "log_rate") &&
	    !json_object_get(req, "log_burst"))
		return pt_err_field(err, -EINVAL, "memory",
				    "update needs memory, memory_high, cpu, pids, log_rate or log_burst");
	r = parse_log_update(req, res, err);
	if (r < 0)
		return r;
	if (m && (!json_is_string(m) || pt_size_parse(json_string_value(m), &res->memory_max) < 0 ||
		  res->memory_max < 4096 * 1024))
		return pt_err_field(err, -EINVAL, "memory", "memory wants a size of at least 4M, like 512M");
	if (h && (!json_is_string(h) || pt_size_parse(json_string_value(h), &res->memory_high) < 0))
		return pt_err_field(err, -EINVAL, "memory_high", "memory_high wants a size, like 384M");
	if (c && (!json_is_string(c) || pt_cpu_parse(json_string_value(c), &res->cpu_millis) < 0))
		return pt_err_field(err, -EINVAL, "cpu", "cpu wants cores, like 0.5 or 2");
	if (p && (!json_is_integer(p) || json_integer_value(p) < 1 ||
		  json_integer_value(p) > 4194304))
		return pt_err_field(err, -EINVAL, "pids", "pids wants a number in 1..4194304");
	if (p)
		res->pids_max = (uint64_t)json_integer_value(p);
	if (res->memory_high && res->memory_max && res->memory_high > res->memory_max)
		return pt_err_field(err, -EINVAL, "memory_high", "memory_high is above memory");
	return 0;
}

static int apply_live(struct daemon *d, struct tenant *t, const struct pt_resources *res,
		      pt_err *err)
{
	struct pt_cg_limits lim = {
		.memory_max = res->memory_max ? res->memory_max : d->cfg.default_memory_max,
		.memory_high = res->memory_high,
		.cpu_millis = res->cpu_millis ? res->cpu_millis : d->cfg.default_cpu_millis,
		.cpu_weight = res->cpu_weight,
		.pids_max = res->pids_max ? res->pids_max : d->cfg.default_pids_max,
	};
	struct pt_cg_stats s;
	int r;

	r = d->cg->ops->stats(d->cg, t->spec.slug, &s, err);
	if (r < 0)
		return r;
	if (lim.memory_max < s.memory_current)
		return pt_err_field(err, -EBUSY, "memory",
				    "tenant %s uses %llu bytes, more than the new memory budget %llu; "
				    "stop it, update, start it", t->spec.slug,
				    (unsigned long long)s.memory_current,
				    (unsigned long long)lim.memory_max);
	r = PT_FAULT_ERR("budget.update", err);
	if (r == 0)
		r = d->cg->ops->set_limits(d->cg, t->spec.slug, &lim, err);
	return r < 0 ? pt_err_prefix(err, "tenant %s: update budget", t->spec.slug) : 0;
}

void budget_op_update(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = lookup(d, req, false, &err);
	struct pt_resources res;
	bool live;
	json_t *resp;

	/* A broken tenant's spec.json is the operator's to repair, not ours
	 * to rewrite from what could be salvaged of it. */
	if (t && t->broken)
		pt_err_set(&err, -EBADMSG, "tenant %s cannot be loaded: %s", t->spec.slug,
			   t->last_error);
	if (!t || t->broken || parse_update(req, (res = t->spec.resources, &res), &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	/* A starting tenant's leaf exists already, with the old limits. */
	live = d->cg && (t->phase == PHASE_RUNNING || t->phase == PHASE_STARTING);
	if (live && apply_live(d, t, &res, &err) < 0) {
		/* Put back whatever a partial write changed. */
		apply_live(d, t, &t->spec.resources, NULL);
		conn_reply_error(d, c, &err);
		return;
	}
	t->spec.resources = res;
	/* The log budget needs no cgroup: it is ours, and live always. */
	logs_budget_apply(d, t);
	if (tenant_save_spec(t, &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	tenant_record(d, t, "update", NULL, -1, live ? "budget changed live" :
		      "budget changed; applies at the next start");
	resp = pt_api_ok_response();
	json_object_set_new(resp, "applied_live", json_boolean(live));
	json_object_set_new(resp, "tenant", tenant_stats(d, t));
	conn_reply(d, c, resp);
}

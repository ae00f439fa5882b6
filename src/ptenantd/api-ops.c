/* The control API's operations: each validates its request fully, then
 * acts. A handler answers with conn_reply/conn_reply_error exactly once,
 * now or (stop, rm, exec) when the operation completes. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config-build.h"
#include "api.h"
#include "blueprint.h"
#include "daemon.h"
#include "events.h"

const char *req_string(json_t *req, const char *key, pt_err *err)
{
	json_t *v = json_object_get(req, key);

	if (!json_is_string(v)) {
		pt_err_field(err, -EINVAL, key, "request needs a string field \"%s\"", key);
		return NULL;
	}
	return json_string_value(v);
}

/* Finds the tenant named by "slug", validating the slug's grammar first
 * so a hostile name never reaches a path. */
struct tenant *req_tenant(struct daemon *d, json_t *req, pt_err *err)
{
	const char *slug = req_string(req, "slug", err);
	struct tenant *t;

	if (!slug || pt_slug_validate(slug, "slug", err) < 0)
		return NULL;
	t = tenant_find(d, slug);
	if (!t)
		pt_err_field(err, -ENOENT, "slug", "no tenant %s", slug);
	return t;
}

static void reply_tenant(struct daemon *d, struct conn *c, struct tenant *t)
{
	json_t *resp = pt_api_ok_response();

	json_object_set_new(resp, "tenant", tenant_summary(d, t));
	conn_reply(d, c, resp);
}

static void op_create(struct daemon *d, struct conn *c, json_t *req)
{
	struct pt_spec spec;
	struct tenant *t = NULL;
	pt_err err = { 0 };
	json_t *start = json_object_get(req, "start");
	int r;

	if (start && !json_is_boolean(start)) {
		pt_err_field(&err, -EINVAL, "start", "\"start\" must be true or false");
		conn_reply_error(d, c, &err);
		return;
	}
	r = pt_spec_from_json(json_object_get(req, "spec"), &spec, &err);
	if (r < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	/* null means "stored elsewhere" on disk; a create must carry values. */
	for (size_t i = 0; i < spec.n_secrets; i++)
		if (!spec.secrets[i].value) {
			char field[PT_SECRET_NAME_MAX + 16];

			snprintf(field, sizeof(field), "secrets.%s", spec.secrets[i].key);
			pt_err_field(&err, -EINVAL, field, "secret %s has no value", spec.secrets[i].key);
			pt_spec_free(&spec);
			conn_reply_error(d, c, &err);
			return;
		}
	r = tenant_create(d, &spec, !start || json_is_true(start), &t, &err);
	pt_spec_free(&spec);
	if (r < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	if (start && !json_is_true(start)) {
		reply_tenant(d, c, t);
		return;
	}
	/* Answered once it runs, or with why its first start failed and the
	 * tenant (created all the same). */
	tenant_start(d, t, START_BY_CREATE, c);
}

/* The answer of an operation that may complete later: r < 0 failed,
 * r > 0 parked until the tenant has exited, 0 done now (with the tenant's
 * summary, or a bare ok when t is gone). */
static void answer(struct daemon *d, struct conn *c, struct tenant *t, int r,
		   const pt_err *err)
{
	if (r < 0)
		conn_reply_error(d, c, err);
	else if (r > 0)
		conn_defer(c);
	else if (t)
		reply_tenant(d, c, t);
	else
		conn_reply(d, c, pt_api_ok_response());
}

static void op_start(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);

	if (!t) {
		conn_reply_error(d, c, &err);
		return;
	}
	/* Asked to run, a frozen tenant is thawed (asleep: started below). */
	if (t->phase == PHASE_RUNNING && (t->st.idle == PT_IDLE_FROZEN || t->freezing)) {
		answer(d, c, t, idle_wake(d, t, "ptenant start", NULL, &err), &err);
		return;
	}
	tenant_start(d, t, START_BY_API, c);
}


static void op_stop(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);

	answer(d, c, t, t ? tenant_stop(d, t, c, &err) : err.code, &err);
}

/* ptenant pause SLUG [--sleep]: what the idle stages do, by hand. */
static void op_pause(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);
	json_t *sleep = json_object_get(req, "sleep");
	int r;

	if (t && sleep && !json_is_boolean(sleep)) {
		pt_err_field(&err, -EINVAL, "sleep", "field \"sleep\" must be true or false");
		t = NULL;
	}
	if (!t) {
		conn_reply_error(d, c, &err);
		return;
	}
	if (json_is_true(sleep))
		r = idle_sleep(d, t, "ptenant pause --sleep", c, &err);
	else
		r = idle_freeze(d, t, "ptenant pause", c, &err);
	answer(d, c, t, r, &err);
}

static void op_resume(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);

	answer(d, c, t, t ? idle_wake(d, t, "ptenant resume", c, &err) : err.code, &err);
}

static void op_rm(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);

	/* Once removed, t is freed: answer with a bare ok. */
	answer(d, c, NULL, t ? tenant_remove(d, t, c, &err) : err.code, &err);
}

static void op_ls(struct daemon *d, struct conn *c, json_t *req)
{
	json_t *resp = pt_api_ok_response(), *arr = json_array();

	(void)req;
	for (size_t i = 0; i < d->n_tenants; i++)
		json_array_append_new(arr, tenant_summary(d, d->tenants[i]));
	json_object_set_new(resp, "tenants", arr);
	json_object_set_new(resp, "budgets", budget_info(d));
	conn_reply(d, c, resp);
}

static void op_inspect(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);
	json_t *resp, *info;

	if (!t) {
		conn_reply_error(d, c, &err);
		return;
	}
	info = tenant_summary(d, t);
	/* The spec as stored: secret names, never their values. */
	json_object_set_new(info, "spec", pt_spec_to_json(&t->spec, false));
	json_object_set_new(info, "dir", json_string(t->dir));
	json_object_set_new(info, "host_gid", json_integer(t->st.host_uid));
	json_object_set_new(info, "id_range", json_integer(65536));
	net_inspect(d, t, info);
	standby_inspect(d, t, info);
	notify_inspect(t, info);
	health_inspect(t, info);
	resp = pt_api_ok_response();
	json_object_set_new(resp, "tenant", info);
	conn_reply(d, c, resp);
}

static void op_restart(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);
	int r;

	if (!t) {
		conn_reply_error(d, c, &err);
		return;
	}
	t->restart_pending = true;
	r = tenant_stop(d, t, c, &err);
	if (r > 0) {
		conn_defer(c); /* started again, then answered, on exit */
		return;
	}
	t->restart_pending = false;
	if (r < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	tenant_start(d, t, START_BY_RESTART, c);
}

static void op_logs(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);
	json_t *off = json_object_get(req, "offset"), *data, *resp;
	json_int_t offset = -1;

	if (t && off && (!json_is_integer(off) || json_integer_value(off) < 0)) {
		pt_err_field(&err, -EINVAL, "offset", "\"offset\" must be a non-negative integer");
		t = NULL;
	}
	if (!t) {
		conn_reply_error(d, c, &err);
		return;
	}
	if (off)
		offset = json_integer_value(off);
	data = logs_read(t, offset, 256 * 1024, &err);
	if (!data) {
		conn_reply_error(d, c, &err);
		return;
	}
	resp = pt_api_ok_response();
	json_object_update(resp, data);
	json_decref(data);
	conn_reply(d, c, resp);
}

/* Event kinds are lower-case words and dashes. */
static bool kind_ok(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && n <= 64 && strspn(k, "abcdefghijklmnopqrstuvwxyz-") == n;
}

static int opt_count(json_t *req, const char *key, uint64_t *ret, pt_err *err)
{
	json_t *v = json_object_get(req, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return pt_err_field(err, -EINVAL, key, "%s: expected a non-negative integer", key);
	*ret = (uint64_t)json_integer_value(v);
	return 1;
}

/* The journal's last records (max, default 100), or with "offset" those
 * appended since (events -f polls so), filtered by slug, kind and since
 * (unix ms); the reply's "offset" is where the next read starts. */
static void op_events(struct daemon *d, struct conn *c, json_t *req)
{
	struct pt_events_filter f = { 0 };
	json_t *slug = json_object_get(req, "slug"), *kind = json_object_get(req, "kind");
	uint64_t max = 100, offset = 0, next = 0;
	json_t *arr = NULL, *resp;
	pt_err err = { 0 };
	char path[300];
	int have_offset = 0;

	if (slug && (!json_is_string(slug) ||
		     pt_slug_validate(json_string_value(slug), "slug", &err) < 0)) {
		if (!err.code)
			pt_err_field(&err, -EINVAL, "slug", "slug: expected a string");
	} else if (kind && (!json_is_string(kind) || !kind_ok(json_string_value(kind)))) {
		pt_err_field(&err, -EINVAL, "kind", "kind: expected an event kind, lower-case "
			     "letters and dashes (e.g. exit, oom-killed is a reason: use exit)");
	} else if (opt_count(req, "max", &max, &err) >= 0 &&
		   opt_count(req, "since", &f.since_ms, &err) >= 0 &&
		   (have_offset = opt_count(req, "offset", &offset, &err)) >= 0) {
		f.tenant = slug ? json_string_value(slug) : NULL;
		f.kind = kind ? json_string_value(kind) : NULL;
		snprintf(path, sizeof(path), "%s/events.jsonl", d->cfg.state_dir);
		pt_events_read_from(path, &f, offset, have_offset ? 0 : (size_t)max, &arr, &next, &err);
	}
	if (err.code) {
		conn_reply_error(d, c, &err);
		return;
	}
	resp = pt_api_ok_response();
	json_object_set_new(resp, "events", arr);
	json_object_set_new(resp, "offset", json_integer((json_int_t)next));
	conn_reply(d, c, resp);
}

static void op_exec(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);

	if (!t || exec_start(d, c, t, req, &err) < 0)
		conn_reply_error(d, c, &err);
}

static void op_ping(struct daemon *d, struct conn *c, json_t *req)
{
	json_t *resp = pt_api_ok_response();

	(void)req;
	json_object_set_new(resp, "version", json_string(PTENANT_VERSION));
	json_object_set_new(resp, "tenants", json_integer((json_int_t)d->n_tenants));
	ingress_inspect(d, resp);
	conn_reply(d, c, resp);
}

static const struct {
	const char *name;
	void (*fn)(struct daemon *d, struct conn *c, json_t *req);
} ops[] = {
	{ "ping", op_ping },
	{ "create", op_create },
	{ "start", op_start },
	{ "stop", op_stop },
	{ "pause", op_pause },
	{ "resume", op_resume },
	{ "restart", op_restart },
	{ "rm", op_rm },
	{ "ls", op_ls },
	{ "inspect", op_inspect },
	{ "inspect.security", op_inspect_security },
	{ "logs", op_logs },
	{ "events", op_events },
	{ "exec", op_exec },
	{ "blueprint.import", blueprint_op_import },
	{ "blueprint.ls", blueprint_op_ls },
	{ "blueprint.rm", blueprint_op_rm },
	{ "move", blueprint_op_move },
	{ "usage", usage_op },
	{ "rollout.start", rollout_op_start },
	{ "rollout.status", rollout_op_status },
	{ "rollout.pause", rollout_op_control },
	{ "rollout.resume", rollout_op_control },
	{ "rollout.abort", rollout_op_control },
	{ "rollout.undo", rollout_op_control },
	{ "stats", budget_op_stats },
	{ "update", budget_op_update },
};

void api_dispatch(struct daemon *d, struct conn *c, const char *op, json_t *req)
{
	pt_err err = { 0 };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0) {
			ops[i].fn(d, c, req);
			return;
		}
	pt_err_field(&err, -EINVAL, "op", "unknown op \"%.64s\"", op);
	conn_reply_error(d, c, &err);
}

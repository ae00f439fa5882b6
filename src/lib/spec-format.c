/* The tenant spec back to JSON: spec.json on disk, inspect, and the
 * round trip the fuzzer checks against pt_spec_parse. */
#include "ptenant/spec.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "spec-confine.h"
#include "spec-idle.h"
#include "spec-health.h"

static json_t *strv_to_json(char **strv)
{
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && strv[i]; i++)
		if (json_array_append_new(a, json_string(strv[i])) < 0)
			return NULL;
	return TAKE_PTR(a);
}

static json_t *kv_to_json(const struct pt_kv *kv, size_t n, bool with_values)
{
	_cleanup_json_ json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++) {
		json_t *v = with_values && kv[i].value ? json_string(kv[i].value) : json_null();

		if (json_object_set_new(o, kv[i].key, v) < 0)
			return NULL;
	}
	return TAKE_PTR(o);
}

/* A string, because it is exact: a JSON real would print 0.1 as
 * 0.10000000000000001. */
static json_t *cpu_to_json(uint32_t millis)
{
	char buf[32];
	int n;

	if (millis % 1000 == 0)
		return json_sprintf("%u", millis / 1000);
	n = snprintf(buf, sizeof(buf), "%u.%03u", millis / 1000, millis % 1000);
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	return json_string(buf);
}

/* Zero means "daemon default" throughout, so it is left out. */
static int set_uint(json_t *o, const char *key, uint64_t v)
{
	return v ? json_object_set_new(o, key, json_integer((json_int_t)v)) : 0;
}

static json_t *resources_to_json(const struct pt_resources *res)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set_uint(o, "memory", res->memory_max) < 0 ||
	    set_uint(o, "memory_high", res->memory_high) < 0 ||
	    (res->cpu_millis && json_object_set_new(o, "cpu", cpu_to_json(res->cpu_millis)) < 0) ||
	    set_uint(o, "cpu_weight", res->cpu_weight) < 0 ||
	    set_uint(o, "pids", res->pids_max) < 0 ||
	    set_uint(o, "log_rate", res->log_rate) < 0 ||
	    set_uint(o, "log_burst", res->log_burst) < 0)
		return NULL;
	return TAKE_PTR(o);
}

/* json_object_set_new() fails on a NULL value, which covers every
 * allocation below. */
json_t *pt_spec_to_json(const struct pt_spec *spec, bool with_secrets)
{
	_cleanup_json_ json_t *o = json_object();
	const struct pt_resources *r;

	if (!o || !spec)
		return NULL;
	r = &spec->resources;
	if (json_object_set_new(o, "slug", json_string(spec->slug)) < 0 ||
	    json_object_set_new(o, "blueprint", json_sprintf("%s@%s", spec->blueprint_name,
							     spec->blueprint_version)) < 0 ||
	    (spec->entrypoint &&
	     json_object_set_new(o, "entrypoint", strv_to_json(spec->entrypoint)) < 0) ||
	    (spec->args && json_object_set_new(o, "args", strv_to_json(spec->args)) < 0) ||
	    (spec->n_env &&
	     json_object_set_new(o, "env", kv_to_json(spec->env, spec->n_env, true)) < 0) ||
	    (spec->n_secrets &&
	     json_object_set_new(o, "secrets", kv_to_json(spec->secrets, spec->n_secrets,
							   with_secrets)) < 0) ||
	    (spec->port && json_object_set_new(o, "port", json_integer(spec->port)) < 0))
		return NULL;
	if ((r->memory_max || r->memory_high || r->cpu_millis || r->cpu_weight || r->pids_max ||
	     r->log_rate || r->log_burst) &&
	    json_object_set_new(o, "resources", resources_to_json(r)) < 0)
		return NULL;
	if (json_object_set_new(o, "restart",
				json_string(pt_restart_policy_name(spec->restart))) < 0 ||
	    pt_spec_confine_to_json(spec, o) < 0 || pt_spec_idle_to_json(&spec->idle, o) < 0 ||
	    pt_spec_health_to_json(&spec->health, o) < 0)
		return NULL;
	return TAKE_PTR(o);
}

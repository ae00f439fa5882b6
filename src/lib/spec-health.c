/* "health": {"http": {"path": "/healthz", "port": 8080}, "interval": "10s",
 *            "timeout": "2s", "start_period": "30s", "retries": 3}
 *
 * Exactly one kind: http, tcp, exec or notify. What the check sends is
 * built from the spec, so the path is held to a strict grammar: a CR or
 * LF in it would let a spec add headers or a second request to the
 * daemon's own request. */
#include "spec-health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define INTERVAL_MIN_MS 1000ULL
#define TIMEOUT_MIN_MS 100ULL
#define PERIOD_MAX_MS (24ULL * 3600 * 1000)
#define EXEC_ARG_MAX 1024

static const char *const kind_names[] = {
	[PT_HEALTH_NONE] = "none", [PT_HEALTH_HTTP] = "http", [PT_HEALTH_TCP] = "tcp",
	[PT_HEALTH_EXEC] = "exec", [PT_HEALTH_NOTIFY] = "notify",
};

const char *pt_health_kind_name(enum pt_health_kind k)
{
	return k <= PT_HEALTH_NOTIFY ? kind_names[k] : "?";
}

uint64_t pt_health_interval(const struct pt_health *h)
{
	return h->interval_ms ? h->interval_ms : PT_HEALTH_INTERVAL_DEFAULT_MS;
}

uint64_t pt_health_timeout(const struct pt_health *h)
{
	uint64_t t = h->timeout_ms ? h->timeout_ms : PT_HEALTH_TIMEOUT_DEFAULT_MS;

	return t < pt_health_interval(h) ? t : pt_health_interval(h);
}

uint32_t pt_health_retries(const struct pt_health *h)
{
	return h->retries ? h->retries : PT_HEALTH_RETRIES_DEFAULT;
}

void pt_spec_health_free(struct pt_health *h)
{
	for (size_t i = 0; h->exec && h->exec[i]; i++)
		free(h->exec[i]);
	free(h->exec);
	h->exec = NULL;
}

static int parse_duration_field(json_t *v, const char *field, uint64_t min, uint64_t max,
				uint64_t *ret, pt_err *err)
{
	const char *s = json_string_value(v);
	char lo[32], hi[32];
	uint64_t ms = 0;

	pt_duration_format(min, lo, sizeof(lo));
	pt_duration_format(max, hi, sizeof(hi));
	if (!json_is_string(v) || strlen(s) != json_string_length(v) ||
	    pt_duration_parse(s, &ms) < 0 || ms < min || ms > max)
		return pt_err_invalid(err, field, "%s: must be a duration from %s to %s, e.g. "
				      "\"10s\"", field, lo, hi);
	*ret = ms;
	return 0;
}

static int parse_port(json_t *v, const char *field, uint16_t *ret, pt_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return pt_err_invalid(err, field, "%s: must be an integer 1..65535", field);
	*ret = (uint16_t)json_integer_value(v);
	return 0;
}

/* An origin-form path: '/', then visible ASCII only (no space, CR, LF). */
static int parse_path(json_t *v, char *out, pt_err *err)
{
	const char *s = json_string_value(v);
	size_t n;

	if (!json_is_string(v) || (n = json_string_length(v)) == 0 || s[0] != '/')
		return pt_err_invalid(err, "health.http.path", "health.http.path: must be a string "
				      "starting with '/', e.g. \"/healthz\"");
	if (n > PT_HEALTH_PATH_MAX)
		return pt_err_invalid(err, "health.http.path", "health.http.path: is %zu bytes "
				      "long; at most %d are allowed", n, PT_HEALTH_PATH_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return pt_err_invalid(err, "health.http.path", "health.http.path: byte %zu "
					      "is not visible ASCII; spaces, control bytes and "
					      "non-ASCII must be percent-encoded", i);
	memcpy(out, s, n + 1);
	return 0;
}

static int parse_http(json_t *v, struct pt_health *h, pt_err *err)
{
	const char *key;
	json_t *val;
	int r = 0;

	if (!json_is_object(v))
		return pt_err_invalid(err, "health.http", "health.http: must be an object like "
				      "{\"path\": \"/healthz\", \"port\": 8080}");
	strcpy(h->path, "/");
	json_object_foreach(v, key, val) {
		if (strcmp(key, "path") == 0)
			r = parse_path(val, h->path, err);
		else if (strcmp(key, "port") == 0)
			r = parse_port(val, "health.http.port", &h->port, err);
		else
			r = pt_err_invalid(err, "health.http", "health.http: unknown field; known "
					   "fields are path and port");
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_tcp(json_t *v, struct pt_health *h, pt_err *err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return pt_err_invalid(err, "health.tcp", "health.tcp: must be an object like "
				      "{\"port\": 8080} (or {} for the tenant's port)");
	json_object_foreach(v, key, val) {
		if (strcmp(key, "port") != 0)
			return pt_err_invalid(err, "health.tcp", "health.tcp: unknown field; the "
					      "known field is port");
		if (parse_port(val, "health.tcp.port", &h->port, err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int parse_exec(json_t *v, struct pt_health *h, pt_err *err)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v) || n == 0 || n > PT_HEALTH_ARGV_MAX)
		return pt_err_invalid(err, "health.exec", "health.exec: must be an array of 1 to "
				      "%d strings, the command and its arguments", PT_HEALTH_ARGV_MAX);
	h->exec = calloc(n + 1, sizeof(char *));
	if (!h->exec)
		return pt_err_set(err, -ENOMEM, "parse health.exec");
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(v, i);

		if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a) ||
		    json_string_length(a) > EXEC_ARG_MAX || (i == 0 && json_string_length(a) == 0))
			return pt_err_invalid(err, "health.exec", "health.exec[%zu]: must be a "
					      "string of at most %d bytes without NUL%s", i,
					      EXEC_ARG_MAX, i == 0 ? ", not empty" : "");
		h->exec[i] = strdup(json_string_value(a));
		if (!h->exec[i])
			return pt_err_set(err, -ENOMEM, "parse health.exec");
	}
	return 0;
}

static int set_kind(struct pt_health *h, enum pt_health_kind k, pt_err *err)
{
	if (h->kind != PT_HEALTH_NONE)
		return pt_err_invalid(err, "health", "health: names both %s and %s; a tenant has "
				      "one kind of check", kind_names[h->kind], kind_names[k]);
	h->kind = k;
	return 0;
}

static int parse_key(const char *key, json_t *val, struct pt_health *h, pt_err *err)
{
	if (strcmp(key, "http") == 0)
		return set_kind(h, PT_HEALTH_HTTP, err) < 0 ? -EINVAL : parse_http(val, h, err);
	if (strcmp(key, "tcp") == 0)
		return set_kind(h, PT_HEALTH_TCP, err) < 0 ? -EINVAL : parse_tcp(val, h, err);
	if (strcmp(key, "exec") == 0)
		return set_kind(h, PT_HEALTH_EXEC, err) < 0 ? -EINVAL : parse_exec(val, h, err);
	if (strcmp(key, "notify") == 0) {
		if (!json_is_true(val))
			return pt_err_invalid(err, "health.notify", "health.notify: must be true "
					      "(the tenant says READY=1 on $NOTIFY_SOCKET)");
		return set_kind(h, PT_HEALTH_NOTIFY, err);
	}
	if (strcmp(key, "interval") == 0)
		return parse_duration_field(val, "health.interval", INTERVAL_MIN_MS, PERIOD_MAX_MS,
					    &h->interval_ms, err);
	if (strcmp(key, "timeout") == 0)
		return parse_duration_field(val, "health.timeout", TIMEOUT_MIN_MS, 60000,
					    &h->timeout_ms, err);
	if (strcmp(key, "start_period") == 0)
		return parse_duration_field(val, "health.start_period", 1, PERIOD_MAX_MS,
					    &h->start_period_ms, err);
	if (strcmp(key, "retries") == 0) {
		if (!json_is_integer(val) || json_integer_value(val) < 1 ||
		    json_integer_value(val) > PT_HEALTH_RETRIES_MAX)
			return pt_err_invalid(err, "health.retries", "health.retries: must be an "
					      "integer 1..%d", PT_HEALTH_RETRIES_MAX);
		h->retries = (uint32_t)json_integer_value(val);
		return 0;
	}
	return pt_err_invalid(err, "health", "health: unknown field; known fields are http, tcp, "
			      "exec, notify, interval, timeout, start_period and retries");
}

int pt_spec_health_parse(json_t *v, struct pt_health *ret, pt_err *err)
{
	struct pt_health h = { 0 };
	const char *key;
	json_t *val;
	int r = 0;

	if (!json_is_object(v))
		return pt_err_invalid(err, "health", "health: must be an object like "
				      "{\"http\": {\"path\": \"/healthz\"}, \"interval\": \"10s\"}");
	json_object_foreach(v, key, val) {
		r = parse_key(key, val, &h, err);
		if (r < 0)
			break;
	}
	if (r == 0 && h.kind == PT_HEALTH_NONE)
		r = pt_err_invalid(err, "health", "health: names no check; give one of http, tcp, "
				   "exec or notify");
	if (r == 0 && h.timeout_ms && h.interval_ms && h.timeout_ms > h.interval_ms)
		r = pt_err_invalid(err, "health.timeout", "health.timeout: must not be longer than "
				   "health.interval (one check at a time)");
	if (r < 0) {
		pt_spec_health_free(&h);
		return r;
	}
	*ret = h;
	return 0;
}

static int set_duration(json_t *o, const char *key, uint64_t ms)
{
	char buf[32];

	if (!ms)
		return 0;
	pt_duration_format(ms, buf, sizeof(buf));
	return json_object_set_new(o, key, json_string(buf));
}

static json_t *kind_to_json(const struct pt_health *h)
{
	json_t *k = NULL;

	switch (h->kind) {
	case PT_HEALTH_HTTP:
		k = json_pack("{s:s}", "path", h->path);
		if (k && h->port)
			json_object_set_new(k, "port", json_integer(h->port));
		return k;
	case PT_HEALTH_TCP:
		return h->port ? json_pack("{s:i}", "port", h->port) : json_object();
	case PT_HEALTH_EXEC:
		k = json_array();
		for (size_t i = 0; k && h->exec && h->exec[i]; i++)
			json_array_append_new(k, json_string(h->exec[i]));
		return k;
	case PT_HEALTH_NOTIFY:
		return json_true();
	case PT_HEALTH_NONE:
	default:
		return NULL;
	}
}

int pt_spec_health_to_json(const struct pt_health *h, json_t *o)
{
	json_t *hj, *k;

	if (h->kind == PT_HEALTH_NONE)
		return 0;
	hj = json_object();
	k = kind_to_json(h);
	if (!hj || !k || json_object_set_new(hj, kind_names[h->kind], k) < 0 ||
	    set_duration(hj, "interval", h->interval_ms) < 0 ||
	    set_duration(hj, "timeout", h->timeout_ms) < 0 ||
	    set_duration(hj, "start_period", h->start_period_ms) < 0 ||
	    (h->retries && json_object_set_new(hj, "retries", json_integer(h->retries)) < 0)) {
		json_decref(hj);
		return -ENOMEM;
	}
	return json_object_set_new(o, "health", hj) < 0 ? -ENOMEM : 0;
}

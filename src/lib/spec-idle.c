/* "idle": {"freeze_after": "10m", "stop_after": "6h", "wake_timeout": "30s"}
 *
 * Durations are strings with a unit, never bare numbers: "300" could be
 * seconds or milliseconds, and a tenant frozen 1,000 times too early is
 * an outage. "off" turns a stage off for this tenant whatever the
 * daemon's default (ptenantd.conf). */
#include "spec-idle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const struct {
	const char *suffix;
	uint64_t ms;
} units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
};

#define N_UNITS (sizeof(units) / sizeof(units[0]))

int pt_duration_parse(const char *text, uint64_t *ret_ms)
{
	uint64_t n = 0;
	const char *p = text;

	if (!text || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > PT_IDLE_MAX_MS)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < N_UNITS; i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (n == 0)
			return -EINVAL;
		if (n > PT_IDLE_MAX_MS / units[i].ms)
			return -ERANGE;
		*ret_ms = n * units[i].ms;
		return 0;
	}
	return -EINVAL;
}

void pt_duration_format(uint64_t ms, char *buf, size_t size)
{
	size_t best = 0;

	for (size_t i = 0; i < N_UNITS; i++)
		if (ms % units[i].ms == 0)
			best = i;
	snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[best].ms),
		 units[best].suffix);
}

static int parse_stage(json_t *v, const char *field, uint64_t *ret, pt_err *err)
{
	const char *s = json_string_value(v);
	int r;

	if (!json_is_string(v) || strlen(s) != json_string_length(v))
		return pt_err_invalid(err, field, "%s: must be a duration string like \"30s\", "
				      "\"10m\" or \"2h\", or \"off\"", field);
	if (strcmp(s, "off") == 0) {
		*ret = PT_IDLE_OFF;
		return 0;
	}
	r = pt_duration_parse(s, ret);
	if (r == -ERANGE)
		return pt_err_invalid(err, field, "%s: at most 366 days", field);
	if (r < 0)
		return pt_err_invalid(err, field, "%s: \"%.40s\" is not a duration; use a whole "
				      "number and a unit (ms, s, m, h, d), e.g. \"10m\", or \"off\"",
				      field, s);
	return 0;
}

/* The field names the key when it is a plain name; a hostile one (quotes,
 * control bytes, NUL) is not echoed. */
static int unknown_key(const char *key, pt_err *err)
{
	char field[PT_ERR_FIELD_MAX];
	size_t n = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

	if (key[n] || n == 0 || n > 40)
		return pt_err_invalid(err, "idle", "idle: unknown field; known fields are "
				      "freeze_after, stop_after and wake_timeout");
	snprintf(field, sizeof(field), "idle.%s", key);
	return pt_err_invalid(err, field, "unknown field \"%s\"; known fields are "
			      "freeze_after, stop_after and wake_timeout", field);
}

int pt_spec_idle_parse(json_t *v, struct pt_idle *ret, pt_err *err)
{
	struct pt_idle idle = { 0 };
	const char *key;
	json_t *val;
	int r;

	if (!json_is_object(v))
		return pt_err_invalid(err, "idle", "idle: must be an object like "
				      "{\"freeze_after\": \"10m\", \"stop_after\": \"6h\"}");
	json_object_foreach(v, key, val) {
		if (strcmp(key, "freeze_after") == 0)
			r = parse_stage(val, "idle.freeze_after", &idle.freeze_after_ms, err);
		else if (strcmp(key, "stop_after") == 0)
			r = parse_stage(val, "idle.stop_after", &idle.stop_after_ms, err);
		else if (strcmp(key, "wake_timeout") == 0) {
			r = parse_stage(val, "idle.wake_timeout", &idle.wake_timeout_ms, err);
			if (r == 0 && idle.wake_timeout_ms == PT_IDLE_OFF)
				r = pt_err_invalid(err, "idle.wake_timeout",
						   "idle.wake_timeout: cannot be off; a wake must end");
		} else
			r = unknown_key(key, err);
		if (r < 0)
			return r;
	}
	*ret = idle;
	return 0;
}

int pt_spec_idle_check(const struct pt_idle *idle, pt_err *err)
{
	uint64_t f = idle->freeze_after_ms, s = idle->stop_after_ms;

	if (f && f != PT_IDLE_OFF && s && s != PT_IDLE_OFF && s <= f)
		return pt_err_invalid(err, "idle.stop_after",
				      "idle.stop_after: must be longer than idle.freeze_after "
				      "(a tenant is frozen first, then stopped to sleep)");
	return 0;
}

static int set_stage(json_t *o, const char *key, uint64_t ms)
{
	char buf[32];

	if (!ms)
		return 0;
	if (ms == PT_IDLE_OFF)
		snprintf(buf, sizeof(buf), "off");
	else
		pt_duration_format(ms, buf, sizeof(buf));
	return json_object_set_new(o, key, json_string(buf));
}

int pt_spec_idle_to_json(const struct pt_idle *idle, json_t *o)
{
	json_t *i;

	if (!idle->freeze_after_ms && !idle->stop_after_ms && !idle->wake_timeout_ms)
		return 0;
	i = json_object();
	if (!i || set_stage(i, "freeze_after", idle->freeze_after_ms) < 0 ||
	    set_stage(i, "stop_after", idle->stop_after_ms) < 0 ||
	    set_stage(i, "wake_timeout", idle->wake_timeout_ms) < 0) {
		json_decref(i);
		return -ENOMEM;
	}
	return json_object_set_new(o, "idle", i) < 0 ? -ENOMEM : 0;
}

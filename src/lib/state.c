/* state.json: read back after every daemon restart, possibly after a
 * crash or a full disk, so the parser trusts nothing: every field must be
 * present, typed and in range, and anything else is -EBADMSG naming the
 * field. The formatter refuses what the parser would refuse, so a saved
 * state always loads. */
#include "state.h"

#include "cleanup.h"
#include "fsutil.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define STATE_FILE PT_STATE_FILE
#define STATE_MAX (64 * 1024)
#define STATE_VERSION 1
/* The last range a tenant can own must still hold 65536 ids. */
#define HOST_UID_MAX ((json_int_t)UINT32_MAX - 65535)

/* jansson's own cleaner (json_auto_t), spelled like ours. */

const char *pt_exit_reason_name(enum pt_exit_reason r)
{
	switch (r) {
	case PT_EXIT_NONE:
		return "none";
	case PT_EXIT_CODE:
		return "exit";
	case PT_EXIT_SIGNAL:
		return "signal";
	case PT_EXIT_OOM:
		return "oom-killed";
	case PT_EXIT_SPAWN_FAILED:
		return "spawn-failed";
	case PT_EXIT_UNKNOWN:
		return "unknown";
	case PT_EXIT_UNHEALTHY:
		return "unhealthy";
	}
	return NULL;
}

const char *pt_desired_name(enum pt_desired d)
{
	switch (d) {
	case PT_DESIRED_RUNNING:
		return "running";
	case PT_DESIRED_STOPPED:
		return "stopped";
	}
	return NULL;
}

const char *pt_idle_state_name(enum pt_idle_state s)
{
	switch (s) {
	case PT_IDLE_AWAKE:
		return "awake";
	case PT_IDLE_FROZEN:
		return "frozen";
	case PT_IDLE_ASLEEP:
		return "asleep";
	}
	return NULL;
}

static int exit_reason_from_name(const char *name, enum pt_exit_reason *ret)
{
	for (int r = PT_EXIT_NONE; r <= PT_EXIT_UNHEALTHY; r++)
		if (strcmp(name, pt_exit_reason_name((enum pt_exit_reason)r)) == 0) {
			*ret = (enum pt_exit_reason)r;
			return 0;
		}
	return -EINVAL;
}

static int desired_from_name(const char *name, enum pt_desired *ret)
{
	for (int d = PT_DESIRED_RUNNING; d <= PT_DESIRED_STOPPED; d++)
		if (strcmp(name, pt_desired_name((enum pt_desired)d)) == 0) {
			*ret = (enum pt_desired)d;
			return 0;
		}
	return -EINVAL;
}

/* ---- format ---------------------------------------------------------- */

static int state_valid(const struct pt_tenant_state *s)
{
	if (!pt_exit_reason_name(s->last_exit) || !pt_desired_name(s->desired) ||
	    !pt_idle_state_name(s->idle))
		return 0;
	/* JSON integers are signed 64-bit in jansson: that is the range. */
	return s->host_uid >= 1 && s->host_uid <= HOST_UID_MAX && s->pid >= 0 &&
	       s->pid_starttime <= INT64_MAX && s->started_at <= INT64_MAX &&
	       s->last_exit_at <= INT64_MAX && s->veth_slot <= 1 &&
	       s->healthy_at <= INT64_MAX;
}

int pt_state_format(const struct pt_tenant_state *s, char **ret_text)
{
	_cleanup_json_ json_t *o = NULL;
	_cleanup_free_ char *text = NULL;
	char *nl;
	size_t len;

	if (!state_valid(s))
		return -EINVAL;
	o = json_pack("{s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:{s:s, s:i, s:I}}",
		      "version", STATE_VERSION,
		      "host_uid", (json_int_t)s->host_uid,
		      "desired", pt_desired_name(s->desired),
		      "pid", (json_int_t)s->pid,
		      "pid_starttime", (json_int_t)s->pid_starttime,
		      "started_at", (json_int_t)s->started_at,
		      "restarts", (json_int_t)s->restarts,
		      "last_exit",
		      "reason", pt_exit_reason_name(s->last_exit),
		      "code", s->last_code,
		      "at", (json_int_t)s->last_exit_at);
	if (!o)
		return -ENOMEM;
	if (s->veth_slot && json_object_set_new(o, "veth_slot", json_integer(s->veth_slot)) < 0)
		return -ENOMEM;
	if (s->idle != PT_IDLE_AWAKE &&
	    json_object_set_new(o, "idle", json_string(pt_idle_state_name(s->idle))) < 0)
		return -ENOMEM;
	if (s->healthy_at &&
	    json_object_set_new(o, "healthy_at", json_integer((json_int_t)s->healthy_at)) < 0)
		return -ENOMEM;
	text = json_dumps(o, JSON_INDENT(2));
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	nl = realloc(text, len + 2);
	if (!nl)
		return -ENOMEM;
	text = nl;
	memcpy(text + len, "\n", 2);
	*ret_text = TAKE_PTR(text);
	return 0;
}

/* ---- parse ----------------------------------------------------------- */

static int bad_field(pt_err *err, const char *field, const char *what)
{
	return pt_err_field(err, -EBADMSG, field, "field %s: %s", field, what);
}

/* Looks up key in o; field is its dotted name for messages. */
static json_t *get_field(json_t *o, const char *key, const char *field,
			 pt_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		bad_field(err, field, "missing");
	return v;
}

static int get_int(json_t *o, const char *key, const char *field,
		   json_int_t min, json_int_t max, json_int_t *ret, pt_err *err)
{
	json_t *v = get_field(o, key, field, err);
	json_int_t i;

	if (!v)
		return -EBADMSG;
	i = json_is_integer(v) ? json_integer_value(v) : 0;
	if (json_is_integer(v) && i >= min && i <= max) {
		*ret = i;
		return 0;
	}
	if (min == 0 && max == INT64_MAX)
		return bad_field(err, field, "expected a non-negative integer");
	if (min == 0)
		return pt_err_field(err, -EBADMSG, field,
				    "field %s: expected a non-negative integer "
				    "no larger than %lld", field, (long long)max);
	return pt_err_field(err, -EBADMSG, field,
			    "field %s: expected an integer from %lld to %lld",
			    field, (long long)min, (long long)max);
}

static const char *get_string(json_t *o, const char *key, const char *field,
			      pt_err *err)
{
	json_t *v = get_field(o, key, field, err);

	if (v && !json_is_string(v)) {
		bad_field(err, field, "expected a string");
		return NULL;
	}
	return v ? json_string_value(v) : NULL;
}

/* A field this version does not know is corruption, not an extension:
 * a newer format bumps "version". */
static int check_keys(json_t *o, const char *const *known, const char *prefix,
		      pt_err *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i]) {
			char field[PT_ERR_FIELD_MAX];

			snprintf(field, sizeof(field), "%s%s", prefix, key);
			return pt_err_field(err, -EBADMSG, field,
					    "unknown field %s", field);
		}
	}
	return 0;
}

static int parse_last_exit(json_t *o, struct pt_tenant_state *s, pt_err *err)
{
	static const char *const known[] = { "reason", "code", "at", NULL };
	json_t *le = get_field(o, "last_exit", "last_exit", err);
	const char *reason;
	json_int_t v;
	int r;

	if (!le)
		return -EBADMSG;
	if (!json_is_object(le))
		return bad_field(err, "last_exit", "expected an object");
	r = check_keys(le, known, "last_exit.", err);
	if (r < 0)
		return r;
	reason = get_string(le, "reason", "last_exit.reason", err);
	if (!reason)
		return -EBADMSG;
	if (exit_reason_from_name(reason, &s->last_exit) < 0)
		return pt_err_field(err, -EBADMSG, "last_exit.reason",
				    "field last_exit.reason: unknown reason \"%.64s\"",
				    reason);
	r = get_int(le, "code", "last_exit.code", INT_MIN, INT_MAX, &v, err);
	if (r < 0)
		return r;
	s->last_code = (int)v;
	r = get_int(le, "at", "last_exit.at", 0, INT64_MAX, &v, err);
	if (r < 0)
		return r;
	s->last_exit_at = (uint64_t)v;
	return 0;
}

static int parse_object(json_t *o, struct pt_tenant_state *s, pt_err *err)
{
	static const char *const known[] = {
		"version", "host_uid", "desired", "pid", "pid_starttime",
		"started_at", "restarts", "last_exit", "veth_slot", "idle", "healthy_at", NULL,
	};
	const char *desired;
	json_int_t v;
	int r;

	r = check_keys(o, known, "", err);
	if (r < 0)
		return r;
	r = get_int(o, "version", "version", 0, INT64_MAX, &v, err);
	if (r < 0)
		return r;
	if (v != STATE_VERSION)
		return pt_err_field(err, -EBADMSG, "version",
				    "field version: unsupported version %lld "
				    "(expected %d)", (long long)v, STATE_VERSION);
	if ((r = get_int(o, "host_uid", "host_uid", 1, HOST_UID_MAX, &v, err)) < 0)
		return r;
	s->host_uid = (uint32_t)v;
	desired = get_string(o, "desired", "desired", err);
	if (!desired)
		return -EBADMSG;
	if (desired_from_name(desired, &s->desired) < 0)
		return pt_err_field(err, -EBADMSG, "desired",
				    "field desired: expected \"running\" or "
				    "\"stopped\", not \"%.64s\"", desired);
	if ((r = get_int(o, "pid", "pid", 0, INT_MAX, &v, err)) < 0)
		return r;
	s->pid = (pid_t)v;
	if ((r = get_int(o, "pid_starttime", "pid_starttime", 0, INT64_MAX, &v, err)) < 0)
		return r;
	s->pid_starttime = (uint64_t)v;
	if ((r = get_int(o, "started_at", "started_at", 0, INT64_MAX, &v, err)) < 0)
		return r;
	s->started_at = (uint64_t)v;
	if ((r = get_int(o, "restarts", "restarts", 0, UINT32_MAX, &v, err)) < 0)
		return r;
	s->restarts = (uint32_t)v;
	if (json_object_get(o, "veth_slot")) {
		if ((r = get_int(o, "veth_slot", "veth_slot", 0, 1, &v, err)) < 0)
			return r;
		s->veth_slot = (uint32_t)v;
	}
	if (json_object_get(o, "idle")) {
		const char *idle = get_string(o, "idle", "idle", err);

		if (!idle)
			return -EBADMSG;
		if (strcmp(idle, "frozen") == 0)
			s->idle = PT_IDLE_FROZEN;
		else if (strcmp(idle, "asleep") == 0)
			s->idle = PT_IDLE_ASLEEP;
		else
			return pt_err_field(err, -EBADMSG, "idle", "field idle: expected \"frozen\" "
					    "or \"asleep\", not \"%.64s\"", idle);
	}
	if (json_object_get(o, "healthy_at")) {
		if ((r = get_int(o, "healthy_at", "healthy_at", 0, INT64_MAX, &v, err)) < 0)
			return r;
		s->healthy_at = (uint64_t)v;
	}
	return parse_last_exit(o, s, err);
}

int pt_state_parse(const char *text, size_t len, struct pt_tenant_state *ret,
		   pt_err *err)
{
	_cleanup_json_ json_t *o = NULL;
	struct pt_tenant_state s = { 0 };
	json_error_t jerr;
	int r;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return pt_err_field(err, -EBADMSG, NULL,
				    "invalid JSON at line %d, column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(o))
		return pt_err_field(err, -EBADMSG, NULL, "not a JSON object");
	r = parse_object(o, &s, err);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}

/* ---- files ----------------------------------------------------------- */

int pt_state_save(int dirfd, const struct pt_tenant_state *s, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = pt_state_format(s, &text);
	if (r < 0)
		return pt_err_set(err, r, "format " STATE_FILE);
	return pt_write_file_atomic(dirfd, STATE_FILE, text, strlen(text), 0600,
				    err);
}

int pt_state_load(int dirfd, struct pt_tenant_state *ret, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = pt_read_file(dirfd, STATE_FILE, STATE_MAX, &text, &len, err);
	if (r < 0)
		return r;
	r = pt_state_parse(text, len, ret, err);
	if (r < 0)
		pt_err_prefix(err, STATE_FILE);
	return r;
}

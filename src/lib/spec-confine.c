/* Spec fields that shape the tenant's cage:
 *
 *   "user": "1000" or "1000:1000"      ids inside the tenant (0..65535)
 *   "rlimits": {"nofile": 4096, "core": {"soft": 0, "hard": 0}, ...}
 *   "seccomp_profile": {"allow": [...], "deny": [...]}
 *
 * Same rules as the rest of the spec: unknown names, bad ranges and
 * wrong types are errors naming the field, never silently ignored. */
#include "spec-confine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "error.h"

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE }, { "locks", RLIMIT_LOCKS },
	{ "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE },
	{ "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },
	{ "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO }, { "rttime", RLIMIT_RTTIME },
	{ "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
};

#define N_RLIMIT_NAMES (sizeof(rlimit_names) / sizeof(rlimit_names[0]))
#define RLIMIT_KNOWN "as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, " \
	"nofile, nproc, rss, rtprio, rttime, sigpending and stack"

int pt_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < N_RLIMIT_NAMES; i++)
		if (strcmp(rlimit_names[i].name, name) == 0)
			return rlimit_names[i].resource;
	return -1;
}

const char *pt_rlimit_name(int resource)
{
	for (size_t i = 0; i < N_RLIMIT_NAMES; i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	return "?";
}


/* A decimal id 0..65535, the whole string, nothing else. */
static int parse_id(const char *s, size_t len, uint32_t *ret)
{
	uint32_t v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > PT_ID_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_user(json_t *v, struct pt_user *u, pt_err *err)
{
	const char *s, *colon;
	size_t len;

	if (!json_is_string(v))
		return pt_err_invalid(err, "user", "user: must be a string \"UID\" or \"UID:GID\"");
	s = json_string_value(v);
	len = json_string_length(v);
	if (memchr(s, '\0', len))
		return pt_err_invalid(err, "user", "user: NUL bytes are not allowed");
	colon = memchr(s, ':', len);
	if (parse_id(s, colon ? (size_t)(colon - s) : len, &u->uid) < 0 ||
	    (colon && parse_id(colon + 1, len - (size_t)(colon - s) - 1, &u->gid) < 0))
		return pt_err_invalid(err, "user",
			       "user: must be \"UID\" or \"UID:GID\" with numeric ids 0..%d "
			       "(ids inside the tenant)", PT_ID_MAX);
	if (!colon)
		u->gid = u->uid;
	u->set = true;
	return 0;
}

/* An integer >= 0 or "unlimited". */
static int parse_rlim_value(json_t *v, const char *field, uint64_t *ret, pt_err *err)
{
	if (json_is_string(v) && strcmp(json_string_value(v), "unlimited") == 0) {
		*ret = PT_RLIM_INFINITY;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return pt_err_invalid(err, field, "%s: must be an integer >= 0 or \"unlimited\"", field);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_one_rlimit(const char *name, json_t *v, struct pt_rlimit *rl, pt_err *err)
{
	char field[64], sub[80];
	json_t *soft, *hard;
	int r;

	snprintf(field, sizeof(field), "rlimits.%s", name);
	rl->resource = pt_rlimit_from_name(name);
	if (rl->resource < 0)
		return pt_err_invalid(err, field, "%s: unknown limit; known limits are " RLIMIT_KNOWN,
			       field);
	if (!json_is_object(v)) {
		r = parse_rlim_value(v, field, &rl->soft, err);
		rl->hard = rl->soft;
		return r;
	}
	soft = json_object_get(v, "soft");
	hard = json_object_get(v, "hard");
	if (!soft || !hard || json_object_size(v) != 2)
		return pt_err_invalid(err, field, "%s: an object must have exactly \"soft\" and \"hard\"",
			       field);
	snprintf(sub, sizeof(sub), "%s.soft", field);
	r = parse_rlim_value(soft, sub, &rl->soft, err);
	snprintf(sub, sizeof(sub), "%s.hard", field);
	if (r == 0)
		r = parse_rlim_value(hard, sub, &rl->hard, err);
	if (r == 0 && rl->soft > rl->hard)
		return pt_err_invalid(err, field, "%s: soft limit exceeds the hard limit", field);
	return r;
}

static int parse_rlimits(json_t *v, struct pt_spec *s, pt_err *err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return pt_err_invalid(err, "rlimits", "rlimits: must be an object of limits");
	if (json_object_size(v) > PT_RLIMITS_MAX)
		return pt_err_invalid(err, "rlimits", "rlimits: at most %d limits", PT_RLIMITS_MAX);
	s->n_rlimits = 0;
	json_object_foreach(v, key, val) {
		int r;

		if (strlen(key) > 32)
			return pt_err_invalid(err, "rlimits", "rlimits: unknown limit; known limits are "
				       RLIMIT_KNOWN);
		r = parse_one_rlimit(key, val, &s->rlimits[s->n_rlimits], err);
		if (r < 0)
			return r;
		s->n_rlimits++;
	}
	return 0;
}

int pt_spec_confine_field(const char *key, json_t *v, struct pt_spec *s, pt_err *err)
{
	if (strcmp(key, "user") == 0)
		return parse_user(v, &s->user, err);
	if (strcmp(key, "rlimits") == 0)
		return parse_rlimits(v, s, err);
	if (strcmp(key, "seccomp_profile") == 0)
		return pt_seccomp_profile_parse(v, "seccomp_profile", &s->seccomp, err);
	return 1;
}

static json_t *rlim_json(uint64_t v)
{
	return v == PT_RLIM_INFINITY ? json_string("unlimited") : json_integer((json_int_t)v);
}

static json_t *rlimits_to_json(const struct pt_spec *s)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < s->n_rlimits; i++) {
		const struct pt_rlimit *rl = &s->rlimits[i];
		json_t *v = rl->soft == rl->hard ? rlim_json(rl->soft)
			: json_pack("{s:o, s:o}", "soft", rlim_json(rl->soft),
				    "hard", rlim_json(rl->hard));

		if (json_object_set_new(o, pt_rlimit_name(rl->resource), v) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *strv_json(char **v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && v && v[i]; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int pt_spec_confine_to_json(const struct pt_spec *s, json_t *o)
{
	const struct pt_seccomp_profile *p = &s->seccomp;

	if (s->user.set &&
	    json_object_set_new(o, "user", json_sprintf("%u:%u", s->user.uid, s->user.gid)) < 0)
		return -ENOMEM;
	if (s->n_rlimits && json_object_set_new(o, "rlimits", rlimits_to_json(s)) < 0)
		return -ENOMEM;
	if (p->set && json_object_set_new(o, "seccomp_profile",
					  json_pack("{s:o, s:o}", "allow", strv_json(p->allow),
						    "deny", strv_json(p->deny))) < 0)
		return -ENOMEM;
	return 0;
}

void pt_spec_confine_free(struct pt_spec *s)
{
	pt_seccomp_profile_free(&s->seccomp);
	s->n_rlimits = 0;
	s->user.set = false;
}

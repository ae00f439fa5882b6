#include "rlimits.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>

#define DEFAULT_NOFILE_SOFT 1024
#define DEFAULT_NOFILE_HARD 65536

static rlim_t to_rlim(uint64_t v)
{
	return v == PT_RLIM_INFINITY ? RLIM_INFINITY : (rlim_t)v;
}

int pt_rlimits_check(const struct pt_rlimit *rl, size_t n, pt_err *err)
{
	for (size_t i = 0; i < n; i++) {
		struct rlimit cur;
		char field[48];

		snprintf(field, sizeof(field), "rlimits.%s", pt_rlimit_name(rl[i].resource));
		if (getrlimit(rl[i].resource, &cur) < 0)
			return pt_err_field(err, -errno, field, "%s: getrlimit failed", field);
		if (cur.rlim_max != RLIM_INFINITY && to_rlim(rl[i].hard) > cur.rlim_max)
			return pt_err_field(err, -EINVAL, field,
					    "%s: hard limit %s exceeds the daemon's own hard limit %llu",
					    field, rl[i].hard == PT_RLIM_INFINITY ? "unlimited" : "given",
					    (unsigned long long)cur.rlim_max);
		/* The kernel caps nofile at fs.nr_open whatever the rlimit says. */
		if (rl[i].resource == RLIMIT_NOFILE && rl[i].hard == PT_RLIM_INFINITY)
			return pt_err_field(err, -EINVAL, field, "%s: cannot be unlimited", field);
	}
	return 0;
}

static int set_one(int resource, rlim_t soft, rlim_t hard, pt_err *err)
{
	struct rlimit rl = { soft, hard };

	if (setrlimit(resource, &rl) < 0)
		return pt_err_set(err, -errno, "setrlimit %s %llu:%llu", pt_rlimit_name(resource),
				  (unsigned long long)soft, (unsigned long long)hard);
	return 0;
}

static bool in_spec(const struct pt_rlimit *rl, size_t n, int resource)
{
	for (size_t i = 0; i < n; i++)
		if (rl[i].resource == resource)
			return true;
	return false;
}

/* Defaults for what the spec leaves out (a lowered hard limit could not
 * be raised again by the spec's value). */
static int apply_defaults(const struct pt_rlimit *rl, size_t n, pt_err *err)
{
	struct rlimit cur;
	rlim_t hard = DEFAULT_NOFILE_HARD;
	int r;

	/* No core dumps: a core of a bot holds its secrets and prompts, and
	 * core_pattern is the host's. */
	if (!in_spec(rl, n, RLIMIT_CORE) && (r = set_one(RLIMIT_CORE, 0, 0, err)) < 0)
		return r;
	if (in_spec(rl, n, RLIMIT_NOFILE))
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &cur) < 0)
		return pt_err_set(err, -errno, "getrlimit nofile");
	if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < hard)
		hard = cur.rlim_max;
	return set_one(RLIMIT_NOFILE, DEFAULT_NOFILE_SOFT < hard ? DEFAULT_NOFILE_SOFT : hard,
		       hard, err);
}

int pt_rlimits_apply(const struct pt_rlimit *rl, size_t n, pt_err *err)
{
	int r = apply_defaults(rl, n, err);

	for (size_t i = 0; r == 0 && i < n; i++)
		r = set_one(rl[i].resource, to_rlim(rl[i].soft), to_rlim(rl[i].hard), err);
	return r;
}

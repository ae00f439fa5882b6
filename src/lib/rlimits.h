/* Resource limits of tenant processes: safe defaults (no core dumps, a
 * bounded fd table), then whatever the spec sets. */
#pragma once

#include <stddef.h>

#include "error.h"
#include "ptenant/spec.h"

/* Checked at create: a hard limit above the daemon's own cannot be set
 * without CAP_SYS_RESOURCE on the host, so it would only fail at start.
 * The error names the field ("rlimits.nofile"). */
int pt_rlimits_check(const struct pt_rlimit *rl, size_t n, pt_err *err);

/* In the child: defaults, then the spec's limits. No allocation. */
int pt_rlimits_apply(const struct pt_rlimit *rl, size_t n, pt_err *err);

/* The last steps before a tenant process execs, shared by the tenant's
 * init and by `ptenant exec`, so both run in exactly the same cage:
 *   fresh session keyring -> rlimits -> bounding set -> identity (root of
 *   the tenant, or the spec's `user` with no capabilities) -> caps with
 *   inheritable and ambient empty -> no_new_privs -> seccomp (last). */
#pragma once

#include <stddef.h>

#include "error.h"
#include "ptenant/spec.h"
#include "seccomp-filter.h"

/* Capabilities a bot keeps, as root of its own user namespace. Anything
 * that reaches past the tenant's own files and processes is gone:
 * SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_MODULE, MKNOD, ... */
extern const int pt_confine_keep_caps[];
extern const unsigned pt_confine_n_keep_caps;

struct pt_confine {
	struct pt_user user;                 /* !set: the tenant's root */
	const struct pt_rlimit *rlimits;
	size_t n_rlimits;
	const struct pt_seccomp_bpf *seccomp; /* required: never NULL */
	/* Its nice value: the one ptenantd was started with; the daemon
	 * runs at daemon_nice, ahead of every tenant (ptenantd(8)). */
	int nice;
};

/* The confinement of `spec`'s processes with filter `bpf`. */
void pt_confine_from_spec(struct pt_confine *c, const struct pt_spec *spec,
			  const struct pt_seccomp_bpf *bpf);

/* Sets the process's nice value to c->nice (only ever lowers priority). */
int pt_confine_nice(const struct pt_confine *c, pt_err *err);

/* Everything the process does after it must be allowed by the filter
 * (exec, signals, prctl(PDEATHSIG)). */
int pt_confine_apply(const struct pt_confine *c, pt_err *err);

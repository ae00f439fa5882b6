/* Spawning a tenant: clone3 into fresh namespaces, set up by the parent
 * and the child in numbered steps over a sync socket, exec ptenant-init.
 *
 * The child's failures travel back as data (errno + message), so the
 * caller can say exactly which setup step failed and for which tenant. */
#pragma once

#include <sys/types.h>

#include "confine.h"
#include "error.h"
#include "plan.h"
#include "trace.h"

struct pt_spawn_req {
	const struct pt_plan *plan;
	int init_fd;             /* sealed memfd holding ptenant-init */
	int log_fd;              /* write end of the log pipe: stdout, stderr */
	int keep_fd;             /* read end of the log pipe, init keeps it as fd 3 */
	int cgroup_fd;           /* tenant cgroup dir for CLONE_INTO_CGROUP, or -1 */
	/* How long the child's setup may take to reach exec before it is
	 * killed and the start fails (0: 30 s). */
	unsigned setup_timeout_ms;
	/* cgroup v1: puts the child (host pid) into the tenant's cgroups at
	 * P3b, while it sets up and before it may exec (C5b); NULL when
	 * cgroup_fd does the job. */
	int (*place)(void *ctx, pid_t pid, pt_err *err);
	void *place_ctx;
	struct pt_confine confine; /* user, rlimits, seccomp (required) */
	/* P2b, optional: called with the child's pid once its namespaces
	 * exist and before it is released (the daemon moves the tenant's
	 * veth into its netns there). */
	int (*net_hook)(void *ctx, pid_t pid, pt_err *err);
	void *net_ctx;
	/* --trace-spawn: the parent's steps are marked in `trace`, and the
	 * child's, sent back before exec, land in `child_trace`. Both NULL
	 * (or trace->on false) when not tracing. */
	struct pt_trace *trace;
	struct pt_trace *child_trace;
};

struct pt_spawn_res {
	pid_t pid;               /* host pid of ptenant-init */
	int pidfd;               /* owned by the caller */
};

int pt_spawn(const struct pt_spawn_req *req, struct pt_spawn_res *ret,
	     pt_err *err);

/* Default dispositions and an empty signal mask, for a process about to
 * exec into a tenant. */
void pt_spawn_reset_signals(void);

/* Loads a static binary into a sealed memfd: the tenant execs a copy no
 * one can write, so a tenant can never reach the host binary through
 * /proc/self/exe. */
int pt_spawn_load_init(const char *path, pt_err *err);

/* A spawned child joining its cgroup v1 hierarchies from a helper thread.
 *
 * A move into a v1 cgroup waits for an RCU grace period (about 10 ms
 * here: the kernel's cgroup_threadgroup_rwsem), longer than the child's
 * whole setup. The child starts the move on a thread of its own at C1
 * and goes on building its rootfs meanwhile; writing "0" to cgroup.procs
 * moves the writer's whole thread group, so the child is moved with it.
 * It waits for the thread before anything that must follow the move (its
 * cgroup namespace, its confinement, exec): the tenant's code still never
 * runs outside its budget, and the daemon never waits at all.
 *
 * The thread is a bare clone(CLONE_VM | CLONE_THREAD) with a stack of its
 * own: it makes write system calls and exits, nothing else (no libc
 * state: it shares the child's TLS). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

#define PT_CGJOIN_STACK (16 * 1024)

struct pt_cgjoin {
	const int *fds;          /* cgroup.procs of each hierarchy, opened by the daemon */
	size_t n;
	volatile pid_t tid;      /* the thread's; the kernel clears it at its exit */
	int failed_at;           /* index of the hierarchy whose write failed, or -1 */
	int code;                /* its -errno */
	char *stack;             /* mmap'd, PT_CGJOIN_STACK */
};

/* Starts the thread. Nothing to wait for when n is 0. */
int pt_cgjoin_start(struct pt_cgjoin *j, const int *fds, size_t n, pt_err *err);
/* Waits for it; the error names the hierarchy whose write failed. */
int pt_cgjoin_wait(struct pt_cgjoin *j, pt_err *err);

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

#define PT_SPAWN_PLACE_MAX 8

struct pt_spawn_req {
	const struct pt_plan *plan;
	int init_fd;             /* sealed memfd holding ptenant-init */
	int log_fd;              /* write end of the log pipe: stdout, stderr */
	int keep_fd;             /* read end of the log pipe, init keeps it as fd 3 */
	int cgroup_fd;           /* tenant cgroup dir for CLONE_INTO_CGROUP, or -1 */
	/* cgroup v1: the tenant's cgroup.procs files, one per hierarchy,
	 * opened by the daemon; the child writes itself into each at C1,
	 * before anything of the tenant's runs (n_place_fds 0 when
	 * cgroup_fd does the job, or without budgets). */
	int place_fds[PT_SPAWN_PLACE_MAX];
	size_t n_place_fds;
	struct pt_confine confine; /* user, rlimits, seccomp (required) */
	/* plan->standby: the read end of the pipe on which ptenant-init
	 * waits for "go" (its fd 4). */
	int standby_fd;
	/* Optional: called once the child exists and its maps are written
	 * (P1b, before its release); the child does not exec before the
	 * record is done and "recorded" has followed "go" (P3b, C5c).
	 * The daemon records the child's pid there, so that a daemon killed
	 * from then on is followed by one that finds the child again: adopted
	 * if it reached exec; dead of PR_SET_PDEATHSIG if it did not. */
	/* Returns true when it only started the recording: the caller then
	 * tells the child with pt_spawn_recorded() once it is done. */
	bool (*cloned_hook)(void *ctx, pid_t pid);
	void *cloned_ctx;
	/* P2b, optional: called with the child's pid once its namespaces
	 * exist and before it is released (the daemon moves the tenant's
	 * veth into its netns there). */
	int (*net_hook)(void *ctx, pid_t pid, pt_err *err);
	void *net_ctx;
	/* --trace-spawn: the parent's steps are marked in `trace`, and the
	 * child's, sent back before exec, land in `child_trace`. Both NULL
	 * (or trace->on false) when not tracing. They must outlive the job. */
	struct pt_trace *trace;
	struct pt_trace *child_trace;
};

/* A start under way: the child runs its own setup (C2-C6) while the
 * caller goes on; `sock` becomes readable with its verdict. */
struct pt_spawn_job {
	pid_t pid;               /* host pid of the child, then of ptenant-init */
	int pidfd;
	int sock;                /* the parent's end of the sync socket */
	int notify;              /* the tenant's notify socket (NOTIFY_SOCKET), or -1 */
	struct pt_trace *trace, *child_trace;
	bool released;           /* "go" sent (P3) */
	bool recorded_pending;   /* "recorded" is due once released */
	char slug[64];
};

#define PT_SPAWN_JOB_INIT { .pid = 0, .pidfd = -1, .sock = -1, .notify = -1 }

/* Clones the child into its namespaces and does the parent's steps up to
 * its release (P0-P3): pt_spawn_clone, then pt_spawn_release. Nothing
 * here waits for the child's own setup. On failure nothing is left: the
 * child is killed and reaped. */
int pt_spawn_begin(const struct pt_spawn_req *req, struct pt_spawn_job *job,
		   pt_err *err);

/* The same in two halves, so that a caller with a loop to serve can
 * answer others in between (ptenantd's tenant-start.c): P0-P1, the
 * premade mounts, clone3 and the uid/gid maps; the child then waits for
 * its release. On failure nothing is left. */
int pt_spawn_clone(const struct pt_spawn_req *req, struct pt_spawn_job *job,
		   pt_err *err);

/* P2-P3b for a job pt_spawn_clone made, with the same req: the idmapped
 * lower layer, the net hook, the release, the cloned hook. On failure
 * the child is killed and reaped, and the job's fds are closed. */
int pt_spawn_release(const struct pt_spawn_req *req, struct pt_spawn_job *job,
		     pt_err *err);

/* Reads what the child sent, without blocking: 1 when its verdict has not
 * come yet (wait for job->sock again), 0 when it has exec'd ptenant-init
 * (job->pid and job->pidfd are the tenant's init, the caller takes the
 * pidfd), or the child's error, naming its step (the child is then killed
 * and reaped). job->sock stays open either way: the caller takes it out
 * of its epoll set before closing it, since a child cloned meanwhile
 * holds a copy until its exec and would keep the registration alive. */
int pt_spawn_advance(struct pt_spawn_job *job, pt_err *err);

/* After a cloned_hook that returned true: the child's pid is recorded; it may exec
 * (told now, or right after its release when that has not come yet).
 * A child that died meanwhile makes this fail; its verdict comes on
 * job->sock all the same. */
int pt_spawn_recorded(struct pt_spawn_job *job, pt_err *err);

/* The child's setup took longer than it may: err says where it waits.
 * Kills it. Returns -ETIMEDOUT. */
int pt_spawn_expire(struct pt_spawn_job *job, unsigned timeout_ms, pt_err *err);

/* Ends a job that is still under way (a stop, a daemon shutting down):
 * the child is killed and reaped; closes what the job holds. */
void pt_spawn_cancel(struct pt_spawn_job *job);

/* Default dispositions and an empty signal mask, for a process about to
 * exec into a tenant. */
void pt_spawn_reset_signals(void);

/* Loads a static binary into a sealed memfd: the tenant execs a copy no
 * one can write, so a tenant can never reach the host binary through
 * /proc/self/exe. */
int pt_spawn_load_init(const char *path, pt_err *err);

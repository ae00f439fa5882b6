/* Tenant budgets: one cgroup leaf per tenant under the daemon's own
 * subtree, behind a small ops table so the daemon does not care whether
 * the host runs cgroup v2 or the v1 memory/cpu/pids/freezer hierarchies
 * (the hybrid hosts here). In the manner of crun's cgroup-internal.h.
 *
 * A leaf is named "tenant-<slug>" below the subtree root; the daemon's
 * own process, when it lives in that root (systemd, Delegate=yes), moves
 * to "supervisor" (v2 forbids processes in a cgroup that distributes
 * controllers to children). Slugs never start with "supervisor", so the
 * two names cannot collide. Every function returns 0 or a negative errno
 * and fills err with the file it failed on. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define PT_CG_PATH_MAX 512
#define PT_CG_V1_CTRLS 4 /* memory, cpu, pids, freezer */

enum pt_cg_mode {
	PT_CG_AUTO = 0,  /* v2 if the subtree has the controllers, else v1 */
	PT_CG_V2,
	PT_CG_V1,
	PT_CG_OFF,       /* no budgets at all (must be asked for) */
};

/* What a tenant may use. Zeroes are resolved by the caller (daemon
 * defaults) before they reach a backend, except memory_high (0: no
 * throttling point below memory_max) and cpu_weight (0: 100). */
struct pt_cg_limits {
	uint64_t memory_max;     /* bytes */
	uint64_t memory_high;    /* bytes, 0 = none */
	uint32_t cpu_millis;     /* 1000 = one core */
	uint32_t cpu_weight;     /* 1..10000, v2 semantics */
	uint64_t pids_max;
};

struct pt_cg_stats {
	uint64_t cpu_usec;       /* UINT64_MAX when the host cannot say */
	uint64_t memory_current;
	uint64_t memory_peak;
	uint64_t pids_current;
	uint64_t oom_kills;      /* since the leaf was created */
};

struct pt_cgroup;

struct pt_cgroup_ops {
	const char *name;        /* "v2", "v1" */
	/* Creates the leaf with every limit written; the tenant may be
	 * placed in it only afterwards. An existing leaf is killed and
	 * removed first (a stale run must not share the new budget). */
	int (*create)(struct pt_cgroup *cg, const char *slug,
		      const struct pt_cg_limits *lim, pt_err *err);
	/* An fd for CLONE_INTO_CGROUP (v2), or -EOPNOTSUPP (v1). */
	int (*open_leaf)(struct pt_cgroup *cg, const char *slug, pt_err *err);
	/* v1: the leaf's cgroup.procs of every hierarchy, opened for write
	 * (O_CLOEXEC) into fds: a child writes itself into each (spawn.c,
	 * C1). Returns how many. NULL on v2, which clones into the leaf. */
	int (*open_procs)(struct pt_cgroup *cg, const char *slug, int *fds, size_t max,
			  pt_err *err);
	/* Moves pid into the leaf, every hierarchy (exec). */
	int (*attach)(struct pt_cgroup *cg, const char *slug, pid_t pid, pt_err *err);
	int (*set_limits)(struct pt_cgroup *cg, const char *slug,
			  const struct pt_cg_limits *lim, pt_err *err);
	int (*stats)(struct pt_cgroup *cg, const char *slug,
		     struct pt_cg_stats *ret, pt_err *err);
	/* An fd that becomes ready when an OOM kill may have happened:
	 * *events is the epoll mask to wait for. Re-read stats to learn. */
	int (*oom_fd)(struct pt_cgroup *cg, const char *slug, uint32_t *events,
		      pt_err *err);
	/* Does the leaf hold pid? (live restore: a pid alone is not proof) */
	int (*has_pid)(struct pt_cgroup *cg, const char *slug, pid_t pid);
	/* Asks the kernel to freeze (or thaw) every process in the leaf
	 * (v1 freezer.state, v2 cgroup.freeze). Freezing may take a moment
	 * (a task in the middle of a system call): frozen() says when done. */
	int (*freeze)(struct pt_cgroup *cg, const char *slug, bool frozen, pt_err *err);
	/* 1 when every process in the leaf is frozen, 0 when not (yet). */
	int (*frozen)(struct pt_cgroup *cg, const char *slug, pt_err *err);
	/* Kills every process in the leaf and removes it; -ENOENT is done. */
	int (*destroy)(struct pt_cgroup *cg, const char *slug, pt_err *err);
};

struct pt_cgroup {
	const struct pt_cgroup_ops *ops;
	/* v2: root[0] is the subtree. v1: one per controller, in the order
	 * memory, cpu, pids, freezer; acct is cpuacct (CPU seconds for
	 * stats) or "" when it is not mounted. */
	char root[PT_CG_V1_CTRLS][PT_CG_PATH_MAX];
	char acct[PT_CG_PATH_MAX];
	bool has_memsw;          /* v1: swap accounting, memory.memsw.* */
};

/* Picks and prepares a backend. parent is a cgroup path as the
 * hierarchy sees it ("/ptenant"), or "" for the daemon's own cgroup.
 * On success *ret is ready; the chosen backend is (*ret)->ops->name. */
int pt_cgroup_open(enum pt_cg_mode mode, const char *parent,
		   struct pt_cgroup **ret, pt_err *err);
void pt_cgroup_free(struct pt_cgroup *cg);
/* v2: enables the controllers again in a subtree that was removed and
 * made anew at the same path (its root must exist). */
int pt_cgroup_reprepare(struct pt_cgroup *cg, pt_err *err);

const char *pt_cg_mode_name(enum pt_cg_mode m);
int pt_cg_mode_parse(const char *text, enum pt_cg_mode *ret);

/* ---- shared helpers of the backends (cgroup.c) ---- */

extern const struct pt_cgroup_ops pt_cgroup_v2_ops;
extern const struct pt_cgroup_ops pt_cgroup_v1_ops;

/* dir/file with a value; the error names the file. */
int pt_cg_write(const char *dir, const char *file, const char *value, pt_err *err);
int pt_cg_read(const char *dir, const char *file, char *buf, size_t size, pt_err *err);
int pt_cg_read_u64(const char *dir, const char *file, uint64_t *ret, pt_err *err);
/* "key value" lines (memory.events, cpu.stat, memory.oom_control). */
int pt_cg_read_key(const char *dir, const char *file, const char *key,
		   uint64_t *ret, pt_err *err);
/* Does dir/cgroup.procs list pid? 1 yes, 0 no, <0 error. */
int pt_cg_procs_has(const char *dir, pid_t pid);
/* SIGKILLs every pid in dir/cgroup.procs; returns how many. */
int pt_cg_kill_procs(const char *dir);
/* rmdir, retrying while the kernel still reaps the last processes. */
int pt_cg_rmdir(const char *dir, pt_err *err);
void pt_cg_leaf(const char *root, const char *slug, char *buf, size_t size);
/* From mountinfo text, the mount point of the cgroup2 fs (ctrl NULL) or
 * of the v1 hierarchy carrying ctrl ("memory"), taking only a mount whose
 * root (field 4) is "/". -ENOENT with err naming the mounts found when
 * the hierarchy is mounted only with another root, or not at all. */
int pt_cg_find_mount(const char *mountinfo, const char *ctrl, char *buf, size_t size,
		     pt_err *err);

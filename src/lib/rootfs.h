/* The tenant's filesystem, built by the child inside its own user and
 * mount namespaces, from a plan (see plan.h).
 *
 *   <tenant>/root  <- staging tmpfs (private to the child's mount ns)
 *       lower/     <- the blueprint rootfs, idmapped (fd from the parent)
 *       root/      <- overlay(lower, <tenant>/upper, <tenant>/work)
 *       mask/      <- the masks' source (a tmpfs from the daemon)
 *   then the plan's steps inside root/, then pivot_root into it. Its
 *   tmpfs mounts and /dev nodes are made by the daemon (rootfs-premade.h).
 *
 * Every host path is opened by the child while it still holds its host
 * identity (before it switches to the tenant's root), so no host directory
 * has to be searchable by tenant uids; the kernel then gets those paths as
 * /proc/self/fd/N. Nothing inside the tenant's writable layer exists yet
 * when the steps run (the layer is fresh each start), so no step can be
 * redirected by a planted symlink. */
#pragma once

#include "error.h"
#include "plan.h"
#include "rootfs-premade.h"
#include "trace.h"

struct pt_rootfs_fds {
	int mountpoint;          /* <tenant>/root, O_PATH */
	int upper;               /* <tenant>/upper, O_PATH */
	int work;                /* <tenant>/work, O_PATH: holds the workdirs of
				  * the root overlay (root/) and /data's (data/),
				  * reached after C2 (only the tenant's root may
				  * search it) */
	int data;                /* <tenant>/data, O_PATH */
	int lower;               /* detached idmapped blueprint mount */
};

#define PT_ROOTFS_FDS_INIT { -1, -1, -1, -1, -1 }

/* Opens the host paths of the plan; run before dropping host identity. */
int pt_rootfs_open(const struct pt_plan *plan, struct pt_rootfs_fds *fds,
		   pt_err *err);
/* Builds the root and pivots into it. On return the process's root and
 * cwd are the tenant's "/" and every fd in *fds is closed. Each step is
 * marked in `trace` (NULL: not traced). */
int pt_rootfs_enter(const struct pt_plan *plan, struct pt_rootfs_fds *fds,
		    const struct pt_premade *pm, struct pt_trace *trace, pt_err *err);
void pt_rootfs_fds_close(struct pt_rootfs_fds *fds);
/* Checks, once at daemon start, that tenants' writable layers can live
 * in `dir` (the tenants directory): overlay knows `userxattr` (Linux
 * 5.11) and dir's filesystem stores user.* xattrs (tmpfs only since 6.6).
 * Without them every start would work but whiteouts and directory
 * replacement inside tenants would fail with EIO. */
int pt_rootfs_check_host(const char *dir, pt_err *err);

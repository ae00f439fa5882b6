/* Mounts the daemon makes for a tenant before clone3, in the host's user
 * namespace, for the child to attach: its tmpfs mounts (/dev, /dev/shm,
 * /tmp, /run/secrets), the device nodes in its /dev and the source of its
 * masks.
 *
 * Why not let the child mount them: tmpfs shows its owner in the mount
 * options as a host uid (the kernel prints uid=/gid= relative to the
 * initial user namespace), so a tmpfs made by the tenant's root reads
 * "uid=<host uid base>" in the tenant's /proc/self/mountinfo; and binds of
 * the host's /dev/null show the host's devtmpfs with its size (half the
 * host's RAM). A tmpfs made by host root and then chowned to the tenant's
 * root prints no uid, and device nodes made in it show only its own 64k.
 * The tenant cannot make nodes of its own there: mknod needs CAP_MKNOD in
 * the host's user namespace. */
#pragma once

#include <sys/types.h>

#include "error.h"
#include "plan.h"

struct pt_premade {
	int step_fd[PT_PLAN_STEPS_MAX]; /* a detached tmpfs per PT_STEP_TMPFS, else -1 */
	bool node_made[PT_PLAN_STEPS_MAX]; /* a PT_STEP_BIND_DEV done as a node in /dev */
	int mask;                       /* detached tmpfs holding "dir" and "file" */
	int notify;                     /* the notify socket bound in its tmpfs, or -1 */
};

void pt_premade_init(struct pt_premade *pm);
/* Makes them all for `plan` (whose host_uid owns the tmpfs roots). */
int pt_premade_make(const struct pt_plan *plan, struct pt_premade *pm, pt_err *err);
void pt_premade_close(struct pt_premade *pm);
/* Binds the tenant's notify socket as "notify" in directory dirfd (its
 * /run/ptenant: a premade tmpfs, or reached in a running tenant for one
 * adopted after a daemon restart). Returns the socket. */
int pt_notify_bind_at(int dirfd, pt_err *err);

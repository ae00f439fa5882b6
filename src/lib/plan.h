/* Policy, then mechanism: a validated spec becomes a spawn plan, a plain
 * list of typed steps (what to mount where, which env, which argv). The
 * plan is data: it can be printed (`ptenantd --dry-run`, debug logs) and
 * tested without a kernel; rootfs.c and spawn.c execute it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"

enum pt_step_kind {
	PT_STEP_PROC,        /* procfs of the tenant's pid namespace */
	PT_STEP_SYSFS,       /* read-only sysfs of the tenant's netns */
	PT_STEP_TMPFS,       /* tmpfs with options `data` */
	PT_STEP_BIND_DEV,    /* bind a host device node (source) */
	PT_STEP_DEVPTS,      /* a private devpts instance */
	PT_STEP_SYMLINK,     /* symlink target -> source */
	PT_STEP_BIND_DATA,   /* the tenant's persistent volume */
	PT_STEP_FILE,        /* write `content` to target with `mode` */
	PT_STEP_MASK,        /* hide target: /dev/null on a file, an empty
	                        read-only tmpfs on a directory; absent: skip */
	PT_STEP_READONLY,    /* remount target (recursively) read-only */
};

struct pt_step {
	enum pt_step_kind kind;
	const char *target;      /* relative to the new root, no leading '/' */
	const char *source;      /* host path or symlink text, or NULL */
	const char *data;        /* mount options, or NULL */
	const char *content;     /* PT_STEP_FILE */
	size_t content_len;
	unsigned long flags;     /* MS_* */
	mode_t mode;
	bool chown;              /* PT_STEP_FILE: owned by uid:gid (tenant ids) */
	bool notify;             /* PT_STEP_TMPFS: holds the notify socket */
	uid_t uid;
	gid_t gid;
};

#define PT_PLAN_STEPS_MAX 128

/* The tenant's side of its network: the child configures eth0 with it
 * (it owns its netns through its user namespace, so no helper process
 * and no setns are needed) once the parent has moved the peer in. */
struct pt_plan_net {
	int enabled;
	uint32_t addr;           /* host byte order, a /32 */
	uint32_t gw;
	uint8_t gw_mac[6];
};

struct pt_plan {
	const char *slug;
	uint32_t host_uid;
	/* Paths in the daemon's mount namespace, opened by the child before
	 * it drops its host identity. */
	char tenant_dir[512];
	char lower_dir[512];     /* the blueprint version's rootfs */
	struct pt_step steps[PT_PLAN_STEPS_MAX];
	size_t n_steps;
	char **argv;             /* ptenant-init's argv (owned) */
	char **envp;             /* the tenant's whole environment (owned) */
	char cwd[256];           /* the entrypoint's directory: the image's WorkingDir, else / */
	struct pt_plan_net net;  /* zero: lo only */
	/* The tenant's next run, set up ahead of need (ptenantd's standby.c):
	 * its writable layer is upper.next/work.next, and init waits for
	 * "go" on fd 4 before it starts the entrypoint. */
	bool standby;
	char *owned[PT_PLAN_STEPS_MAX]; /* strings the steps point to */
	size_t n_owned;
};

struct pt_spec;
struct pt_blueprint;

/* Builds the plan of `spec` on blueprint `bp`. The plan points into spec
 * (secrets, slug): spec must outlive it. */
int pt_plan_build(struct pt_plan *plan, const struct pt_spec *spec,
		  const struct pt_blueprint *bp, const char *tenant_dir,
		  uint32_t host_uid, pt_err *err);
/* Gives a built plan its network: eth0 settings, /etc/hosts with the
 * tenant's address, /etc/resolv.conf with the configured resolvers. */
int pt_plan_add_network(struct pt_plan *plan, const struct pt_plan_net *net,
			const uint32_t *resolvers, size_t n_resolvers, pt_err *err);
void pt_plan_free(struct pt_plan *plan);
/* Turns a built plan into a standby's (see `standby` above). */
int pt_plan_make_standby(struct pt_plan *plan, pt_err *err);
/* The writable layer's directories in tenant_dir. */
const char *pt_plan_upper_name(const struct pt_plan *plan);
const char *pt_plan_work_name(const struct pt_plan *plan);
void pt_plan_print(const struct pt_plan *plan, FILE *out);
/* "proc", "tmpfs", "bind-dev", ...: the name a step kind prints as. */
const char *pt_plan_step_name(enum pt_step_kind k);

/* The environment of a tenant: the blueprint's env, then the spec's (the
 * spec wins), then HOSTNAME=<slug>; PATH and HOME defaulted when neither
 * sets them. Nothing comes from the daemon's own environment. */
int pt_plan_env(const struct pt_spec *spec, const struct pt_blueprint *bp,
		char ***ret_envp, pt_err *err);

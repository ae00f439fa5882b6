#pragma once

#include "error.h"
#include "plan.h"

/* PT_STEP_MASK and PT_STEP_READONLY, run in the child on the new root
 * (a dirfd) before pivot_root; mask_src holds the daemon's empty "dir"
 * and "file" (rootfs-premade.h). */
int pt_rootfs_mask(int root, const struct pt_step *s, int mask_src, pt_err *err);
int pt_rootfs_readonly(int root, const struct pt_step *s, pt_err *err);

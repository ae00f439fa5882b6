/* Masked and read-only paths in the tenant's /proc and /sys.
 *
 * procfs and sysfs show host-wide details (kcore, keys, interrupts,
 * timers, firmware, thermal and power zones) and host-wide knobs
 * (/proc/sys, sysrq-trigger). Masks are mounts on top, made with the fd
 * mount API on targets opened with O_NOFOLLOW relative to the new root, so
 * no path is ever resolved through a symlink. They hold because the
 * tenant cannot unmount them: no CAP_SYS_ADMIN, and umount2 is filtered;
 * a fresh procfs mount is refused as well, since the kernel only allows
 * one in a user namespace when no part of /proc is covered ("fully
 * visible" rule) - the masks themselves see to that. */
#include "rootfs-mask.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "syscalls.h"

/* Returns an O_PATH fd of the target, -ENOENT when the kernel has no such
 * entry (masks are best effort by nature: a missing file leaks nothing). */
static int open_target(int root, const char *target, pt_err *err)
{
	int fd = openat(root, target, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno != ENOENT)
		return pt_err_set(err, -errno, "open /%s", target);
	return fd < 0 ? -ENOENT : fd;
}

/* A mask is a read-only bind of an empty directory or an empty file of
 * the daemon's mask tmpfs (rootfs-premade.h): reading a masked file gives
 * an empty file, as programs that parse /proc expect, rather than EACCES,
 * and the mount list shows only that tmpfs (no host uid, no host
 * devtmpfs, as a bind of /dev/null would). */
int pt_rootfs_mask(int root, const struct pt_step *s, int mask_src, pt_err *err)
{
	_cleanup_close_ int target = -1, mnt = -1;
	struct mount_attr ro = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			    MOUNT_ATTR_NOEXEC,
	};
	struct stat st;
	const char *src;

	target = open_target(root, s->target, err);
	if (target == -ENOENT)
		return 0;
	if (target < 0)
		return target;
	if (fstat(target, &st) < 0)
		return pt_err_set(err, -errno, "stat /%s", s->target);
	src = S_ISDIR(st.st_mode) ? "dir" : "file";
	mnt = open_tree(mask_src, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (mnt < 0)
		return pt_err_set(err, -errno, "open_tree the mask %s for /%s", src, s->target);
	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return pt_err_set(err, -errno, "make the mask of /%s read-only", s->target);
	if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "mask /%s", s->target);
	return 0;
}

int pt_rootfs_readonly(int root, const struct pt_step *s, pt_err *err)
{
	_cleanup_close_ int target = -1, tree = -1;
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			    MOUNT_ATTR_NOEXEC,
	};

	target = open_target(root, s->target, err);
	if (target == -ENOENT)
		return 0;
	if (target < 0)
		return target;
	/* A read-only copy of the subtree, put back on top of itself. */
	tree = open_tree(target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
			 AT_EMPTY_PATH);
	if (tree < 0)
		return pt_err_set(err, -errno, "open_tree /%s", s->target);
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return pt_err_set(err, -errno, "make /%s read-only", s->target);
	if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "remount /%s read-only", s->target);
	return 0;
}

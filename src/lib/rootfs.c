#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "rootfs-mask.h"
#include "rootfs-premade.h"
#include "syscalls.h"

#define FD_PATH_MAX 64

static void fd_path(char buf[FD_PATH_MAX], int fd, const char *rel)
{
	snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d%s%s", fd, rel ? "/" : "",
		 rel ? rel : "");
}

static int open_dir_path(const char *dir, const char *name, pt_err *err)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	return fd;
}

int pt_rootfs_open(const struct pt_plan *plan, struct pt_rootfs_fds *fds,
		   pt_err *err)
{
	const char *const names[] = { "root", pt_plan_upper_name(plan),
				      pt_plan_work_name(plan), "data" };
	int *slots[] = { &fds->mountpoint, &fds->upper, &fds->work, &fds->data };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int fd = open_dir_path(plan->tenant_dir, names[i], err);

		if (fd < 0)
			return fd;
		*slots[i] = fd;
	}
	return 0;
}

void pt_rootfs_fds_close(struct pt_rootfs_fds *fds)
{
	pt_closep(&fds->mountpoint);
	pt_closep(&fds->upper);
	pt_closep(&fds->work);
	pt_closep(&fds->data);
	pt_closep(&fds->lower);
}

/* A tmpfs made with the fd-based mount API and attached on the tenant's
 * mountpoint: the staging area where the idmapped lower layer and the
 * overlay root live until pivot_root. */
static int mount_staging(int mountpoint, pt_err *err)
{
	_cleanup_close_ int fsfd = -1, mnt = -1;

	fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return pt_err_set(err, -errno, "fsopen tmpfs (staging)");
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return pt_err_set(err, -errno, "create staging tmpfs");
	mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return pt_err_set(err, -errno, "fsmount staging tmpfs");
	if (move_mount(mnt, "", mountpoint, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "attach staging tmpfs");
	if (mkdirat(mnt, "lower", 0700) < 0 || mkdirat(mnt, "root", 0755) < 0 ||
	    mkdirat(mnt, "mask", 0700) < 0)
		return pt_err_set(err, -errno, "mkdir in staging tmpfs");
	return TAKE_FD(mnt);
}

static int mount_overlay(int staging, const struct pt_rootfs_fds *fds,
			 pt_err *err)
{
	_cleanup_close_ int lower = -1, target = -1;
	char lo[FD_PATH_MAX], up[FD_PATH_MAX], wk[FD_PATH_MAX], tg[FD_PATH_MAX];
	char opts[256];

	/* The lower layer must be attached in our namespace before overlay
	 * will take it (clone_private_mount refuses detached trees). */
	if (move_mount(fds->lower, "", staging, "lower", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "attach idmapped blueprint mount");
	lower = openat(staging, "lower", O_PATH | O_DIRECTORY | O_CLOEXEC);
	target = openat(staging, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lower < 0 || target < 0)
		return pt_err_set(err, -errno, "open staging dirs");
	fd_path(lo, lower, NULL);
	fd_path(up, fds->upper, NULL);
	fd_path(wk, fds->work, "root");
	fd_path(tg, target, NULL);
	/* userxattr: in a user namespace overlay may not write trusted.*
	 * xattrs, so without it whiteouts, opaque directories and renames
	 * over blueprint paths fail with EIO; user.overlay.* need an upper
	 * filesystem with user xattrs (checked at daemon start). */
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,userxattr",
		 lo, up, wk);
	if (mount("overlay", tg, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return pt_err_set(err, -errno, "mount overlay (%s)", opts);
	return 0;
}

/* A name for the filesystem under `fd`, for messages: the common ones by
 * magic number (linux/magic.h), any other as its number. */
static const char *fs_name(int fd, char buf[32])
{
	static const struct { unsigned long magic; const char *name; } known[] = {
		{ 0xef53, "ext4" }, { 0x58465342, "xfs" }, { 0x9123683e, "btrfs" },
		{ 0x01021994, "tmpfs" }, { 0x858458f6, "ramfs" },
		{ 0x794c7630, "overlay" }, { 0x6969, "nfs" }, { 0x65735546, "fuse" },
		{ 0x2fc12fc1, "zfs" }, { 0x4d44, "vfat" },
	};
	struct statfs st;

	if (fstatfs(fd, &st) < 0)
		return "(unknown)";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((unsigned long)st.f_type == known[i].magic)
			return known[i].name;
	snprintf(buf, 32, "0x%lx", (unsigned long)st.f_type);
	return buf;
}

/* Overlay of a kernel before 5.11 refuses the option at parse time, so
 * this needs no mount. */
static int check_overlay_userxattr(pt_err *err)
{
	_cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);

	if (fsfd < 0)
		return pt_err_set(err, -errno, "overlay filesystem unavailable (fsopen overlay)");
	if (fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return pt_err_set(err, -errno,
				  "overlay does not know the userxattr option (Linux >= 5.11 needed "
				  "for writable layers in a user namespace)");
	return 0;
}

/* Overlay in a user namespace keeps whiteouts and opaque directories in
 * user.overlay.* xattrs on the upper filesystem: try one on a scratch file. */
static int check_user_xattr(const char *dir, pt_err *err)
{
	static const char name[] = ".ptenant-xattr-check";
	_cleanup_close_ int dfd = -1, fd = -1;
	char buf[32];
	int e = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", dir);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return pt_err_set(err, -errno, "create %s/%s", dir, name);
	if (fsetxattr(fd, "user.ptenant.check", "1", 1, 0) < 0)
		e = errno;
	unlinkat(dfd, name, 0);
	if (e == EOPNOTSUPP)
		return pt_err_set(err, -e, "%s is on %s, which does not store user.* xattrs: "
				  "tenants' writable layers need them (tmpfs has them since "
				  "Linux 6.6; ext4, xfs and btrfs do)", dir, fs_name(dfd, buf));
	if (e)
		return pt_err_set(err, -e, "set a user.* xattr in %s (%s)", dir, fs_name(dfd, buf));
	return 0;
}

int pt_rootfs_check_host(const char *dir, pt_err *err)
{
	int r = check_overlay_userxattr(err);

	return r < 0 ? r : check_user_xattr(dir, err);
}

/* Opens the parent directory of `target` (relative to root), creating
 * missing directories on the way, never following a symlink. Returns the
 * dirfd and points *ret_last at the final component. */
static int open_parent(int root, const char *target, const char **ret_last,
		       pt_err *err)
{
	char buf[512];
	char *comp, *next;
	_cleanup_close_ int dir = -1;

	snprintf(buf, sizeof(buf), "%s", target);
	dir = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return pt_err_set(err, -errno, "open new root");
	comp = buf;
	while ((next = strchr(comp, '/'))) {
		int fd;

		*next = '\0';
		if (mkdirat(dir, comp, 0755) < 0 && errno != EEXIST)
			return pt_err_set(err, -errno, "mkdir /%s", buf);
		fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return pt_err_set(err, -errno, "open /%s", buf);
		close(dir);
		dir = fd;
		*next = '/';
		comp = next + 1;
	}
	*ret_last = target + (comp - buf);
	return TAKE_FD(dir);
}

/* Makes the mountpoint (a directory, or an empty file for a device node
 * bind) and returns its /proc/self/fd path, reached without symlinks. */
static int make_target(int root, const struct pt_step *s, int want_dir,
		       char path[FD_PATH_MAX + 512], int *ret_parent, pt_err *err)
{
	const char *last;
	int parent = open_parent(root, s->target, &last, err);

	if (parent < 0)
		return parent;
	if (want_dir) {
		if (mkdirat(parent, last, 0755) < 0 && errno != EEXIST) {
			close(parent);
			return pt_err_set(err, -errno, "mkdir /%s", s->target);
		}
	} else {
		int fd = openat(parent, last, O_WRONLY | O_CREAT | O_NOFOLLOW |
				O_CLOEXEC, 0644);
		if (fd < 0) {
			close(parent);
			return pt_err_set(err, -errno, "create /%s", s->target);
		}
		close(fd);
	}
	snprintf(path, FD_PATH_MAX + 512, "/proc/self/fd/%d/%s", parent, last);
	*ret_parent = parent;
	return 0;
}

static int write_file(int parent, const char *last, const struct pt_step *s,
		      pt_err *err)
{
	_cleanup_close_ int fd = -1;

	fd = openat(parent, last, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, s->mode);
	if (fd < 0)
		return pt_err_set(err, -errno, "create /%s", s->target);
	if (write(fd, s->content, s->content_len) != (ssize_t)s->content_len)
		return pt_err_set(err, errno ? -errno : -EIO, "write /%s", s->target);
	if (s->chown && fchown(fd, s->uid, s->gid) < 0)
		return pt_err_set(err, -errno, "chown /%s to %u:%u", s->target,
				  (unsigned)s->uid, (unsigned)s->gid);
	if (fchmod(fd, s->mode) < 0)
		return pt_err_set(err, -errno, "chmod /%s", s->target);
	return 0;
}

/* /data: the tenant's directory as the only (upper) layer of an overlay
 * over an empty lower one, rather than a bind. Files live in <tenant>/data
 * as before (nothing is ever copied up: the lower layer is empty), but the
 * tenant's mount list shows "overlay" with /proc/self/fd paths where a
 * bind would show the host's block device and the host path of its
 * state directory. */
static int mount_data(const struct pt_step *s, const char *path,
		      const struct pt_rootfs_fds *fds, int mask, pt_err *err)
{
	char lo[FD_PATH_MAX], up[FD_PATH_MAX], wk[FD_PATH_MAX];
	char opts[256];

	fd_path(lo, mask, "dir");
	fd_path(up, fds->data, NULL);
	fd_path(wk, fds->work, "data");
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lo, up, wk);
	if (mount("overlay", path, "overlay", s->flags & ~(unsigned long)(MS_BIND | MS_REC),
		  opts) < 0)
		return pt_err_set(err, -errno, "mount overlay on /%s (%s)", s->target, opts);
	return 0;
}

static int step_mount(const struct pt_step *s, const char *path, pt_err *err)
{
	const char *fstype = NULL, *source = s->source;
	unsigned long flags = s->flags;

	switch (s->kind) {
	case PT_STEP_PROC: fstype = "proc"; source = "proc"; break;
	case PT_STEP_SYSFS: fstype = "sysfs"; source = "sysfs"; break;
	case PT_STEP_TMPFS: fstype = "tmpfs"; source = "tmpfs"; break;
	case PT_STEP_DEVPTS: fstype = "devpts"; source = "devpts"; break;
	case PT_STEP_BIND_DEV: break;
	case PT_STEP_BIND_DATA: /* mount_data */
	case PT_STEP_SYMLINK:
	case PT_STEP_FILE:
	case PT_STEP_MASK:
	case PT_STEP_READONLY:
	default:
		return pt_err_set(err, -EINVAL, "step /%s is not a mount", s->target);
	}
	if (mount(source, path, fstype, flags, s->data) < 0)
		return pt_err_set(err, -errno, "mount %s on /%s",
				  fstype ? fstype : source, s->target);
	/* A bind ignores every flag but MS_BIND/MS_REC on the first call;
	 * nosuid/nodev/noexec need a remount of the new mount. */
	if ((flags & MS_BIND) && (flags & ~(unsigned long)(MS_BIND | MS_REC)) &&
	    mount(NULL, path, NULL, MS_REMOUNT | flags, NULL) < 0)
		return pt_err_set(err, -errno, "remount /%s", s->target);
	return 0;
}

/* What the steps run with besides the plan: the host paths, the mounts
 * the daemon made (rootfs-premade.h) and the masks' source, attached. */
struct enter_ctx {
	const struct pt_rootfs_fds *fds;
	const struct pt_premade *pm;
	int mask;
};

/* A tmpfs the daemon made, attached on its mount point. */
static int attach_premade(int mnt, const struct pt_step *s, int parent, pt_err *err)
{
	const char *last = strrchr(s->target, '/');

	last = last ? last + 1 : s->target;
	if (move_mount(mnt, "", parent, last, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "attach tmpfs on /%s", s->target);
	return 0;
}

static int run_step(int root, size_t i, const struct pt_step *s,
		    const struct enter_ctx *c, pt_err *err)
{
	char path[FD_PATH_MAX + 512];
	_cleanup_close_ int parent = -1;
	const char *last;
	int r;

	switch (s->kind) {
	case PT_STEP_MASK:
		return pt_rootfs_mask(root, s, c->mask, err);
	case PT_STEP_READONLY:
		return pt_rootfs_readonly(root, s, err);
	case PT_STEP_SYMLINK:
	case PT_STEP_FILE:
		parent = open_parent(root, s->target, &last, err);
		if (parent < 0)
			return parent;
		if (s->kind == PT_STEP_FILE)
			return write_file(parent, last, s, err);
		if (symlinkat(s->source, parent, last) < 0 && errno != EEXIST)
			return pt_err_set(err, -errno, "symlink /%s", s->target);
		return 0;
	case PT_STEP_BIND_DEV:
	case PT_STEP_PROC:
	case PT_STEP_SYSFS:
	case PT_STEP_TMPFS:
	case PT_STEP_DEVPTS:
	case PT_STEP_BIND_DATA:
	default:
		if (c->pm->node_made[i])
			return 0; /* a node in the daemon's /dev tmpfs already */
		r = make_target(root, s, s->kind != PT_STEP_BIND_DEV, path, &parent, err);
		if (r < 0)
			return r;
		if (c->pm->step_fd[i] >= 0)
			return attach_premade(c->pm->step_fd[i], s, parent, err);
		if (s->kind == PT_STEP_BIND_DATA)
			return mount_data(s, path, c->fds, c->mask, err);
		return step_mount(s, path, err);
	}
}

/* The masks' source must be attached in our namespace before open_tree
 * will clone parts of it; it goes with the staging tmpfs at pivot. */
static int attach_mask(int staging, const struct pt_premade *pm, pt_err *err)
{
	int fd;

	if (move_mount(pm->mask, "", staging, "mask", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "attach the masks' tmpfs");
	fd = openat(staging, "mask", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pt_err_set(err, -errno, "open the masks' tmpfs");
	return fd;
}

static int pivot_into(int root, pt_err *err)
{
	/* pivot_root(".", ".") stacks the old root on the new one; the lazy
	 * unmount then drops the whole host tree from this namespace, so no
	 * host path is reachable even through "..". */
	if (fchdir(root) < 0)
		return pt_err_set(err, -errno, "chdir into new root");
	if (pt_pivot_root(".", ".") < 0)
		return pt_err_set(err, -errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return pt_err_set(err, -errno, "detach old root");
	if (chdir("/") < 0)
		return pt_err_set(err, -errno, "chdir /");
	return 0;
}

int pt_rootfs_enter(const struct pt_plan *plan, struct pt_rootfs_fds *fds,
		    const struct pt_premade *pm, struct pt_trace *trace, pt_err *err)
{
	_cleanup_close_ int staging = -1, root = -1, mask = -1;
	struct enter_ctx c = { .fds = fds, .pm = pm };
	int r;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return pt_err_set(err, -errno, "make mounts private");
	pt_trace_mark(trace, "c4-mounts-private");
	staging = mount_staging(fds->mountpoint, err);
	if (staging < 0)
		return staging;
	pt_trace_mark(trace, "c4-staging-tmpfs");
	r = mount_overlay(staging, fds, err);
	if (r < 0)
		return r;
	pt_trace_mark(trace, "c4-overlay");
	mask = attach_mask(staging, pm, err);
	if (mask < 0)
		return mask;
	c.mask = mask;
	root = openat(staging, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return pt_err_set(err, -errno, "open overlay root");
	for (size_t i = 0; i < plan->n_steps; i++) {
		r = run_step(root, i, &plan->steps[i], &c, err);
		if (r < 0)
			return r;
		pt_trace_mark(trace, "c4-%s:/%s", pt_plan_step_name(plan->steps[i].kind),
			      plan->steps[i].target);
	}
	pt_rootfs_fds_close(fds);
	pt_closep(&mask);
	r = pivot_into(root, err);
	pt_trace_mark(trace, "c4-pivot-root");
	return r;
}

/* Filesystem helpers the daemon trusts with tenant-writable trees. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Writes `len` bytes to dirfd/name atomically: a temp file in the same
 * directory, fsync, rename over name, fsync of the directory. A crash at
 * any point leaves either the old file or the new one, never a torn one.
 * dirfd may be AT_FDCWD. */
int pt_write_file_atomic(int dirfd, const char *name, const void *data,
			 size_t len, mode_t mode, pt_err *err);

enum {
	/* No fsync: for files under the runtime directory, which a reboot
	 * empties and the daemon writes again at start. The rename still
	 * makes a reader see the old file or the new one, never a mix. */
	PT_WRITE_NO_SYNC = 1 << 0,
	/* No fault-injection points: for a thread other than the loop's,
	 * whose hits would make a test's @N count racy (syncer.c). */
	PT_WRITE_NO_FAULTS = 1 << 1,
};

/* pt_write_file_atomic with PT_WRITE_* flags. */
int pt_write_file_atomic_flags(int dirfd, const char *name, const void *data,
			       size_t len, mode_t mode, unsigned flags, pt_err *err);

/* Reads a whole regular file (O_NOFOLLOW; at most max bytes, -EFBIG past
 * that) into a NUL-terminated malloc'd buffer. */
int pt_read_file(int dirfd, const char *name, size_t max, char **ret_data,
		 size_t *ret_len, pt_err *err);

/* The same from an open fd (from where it stands): -EINVAL when not a
 * regular file, -EFBIG past max. */
int pt_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len);

/* One read(2) of dirfd/path into buf, NUL-terminated (at most size - 1
 * bytes): for small kernel files (/proc, sysctl), which read whole in one
 * call. Returns 0 or a negative errno. */
int pt_read_small_at(int dirfd, const char *path, char *buf, size_t size);

/* Removes dirfd/name and everything below it without ever following a
 * symlink or crossing into another mount (tenant layers are hostile: a
 * planted symlink must not make the daemon delete host files). -ENOENT
 * counts as success. */
int pt_rmtree_at(int dirfd, const char *name, pt_err *err);

/* Removes the temporary files a killed pt_write_file_atomic leaves in
 * dirfd/path (".NAME.tmp.XXXXXX"); returns how many, or -errno. */
int pt_sweep_temp_files(int dirfd, const char *path);

/* mkdir -p with a mode for the directories it creates. */
int pt_mkdir_p(const char *path, mode_t mode, pt_err *err);

/* Creates dirfd/name as a directory owned by uid:gid with mode, or fixes
 * an existing directory (not a symlink) to that owner and mode. */
int pt_mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid,
		   gid_t gid, pt_err *err);

/* Copies a directory tree (regular files, dirs, symlinks; hard links
 * kept as links), preserving mode, owner and mtimes. Device nodes, fifos
 * and sockets are refused with -EPERM naming the path: a blueprint has no
 * business shipping them. Used by `blueprint import`. */
int pt_copy_tree(const char *src, const char *dst, pt_err *err);

/* Disk space a tree takes (allocated blocks, not apparent sizes), not
 * crossing mounts or following symlinks; a file with several links in
 * the tree is counted once. Used for a blueprint's size at import. */
int pt_disk_usage(const char *path, uint64_t *ret_bytes, pt_err *err);

/* write(2) until all of it is written (EINTR retried); 0 or -errno. */
int pt_fs_write_all(int fd, const void *data, size_t len);

/* "." or "..": the entries a directory walk skips. */
int pt_fs_is_dot(const char *name);

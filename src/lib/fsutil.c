/* Filesystem helpers. Everything below a tenant's directory may have been
 * planted by the tenant, so tree walks go fd by fd with O_NOFOLLOW, never
 * resolve a path through a directory they did not just open themselves,
 * and refuse to leave the mount they started on. */
#include "fsutil.h"

#include "cleanup.h"
#include "fault.h"
#include "fsutil-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <search.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif

int pt_fs_identity(int fd, struct fs_id *id)
{
	struct statx stx;
	struct stat st;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) == 0) {
		id->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
		id->ino = stx.stx_ino;
		id->mnt = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
		return 0;
	}
	/* Old kernels, or seccomp filters that predate statx. */
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->mnt = 0;
	return 0;
}

int pt_fs_same_mount(const struct fs_id *a, const struct fs_id *b)
{
	return a->dev == b->dev && a->mnt == b->mnt;
}

int pt_fs_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int pt_fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- atomic write ---------------------------------------------------- */

/* Opens the directory that will hold `name` (which may contain slashes),
 * so the temp file, the rename and the directory fsync all act on the
 * same directory even when dirfd is AT_FDCWD. */
static int open_parent(int dirfd, const char *name, const char **ret_base)
{
	const char *slash = strrchr(name, '/');
	_cleanup_free_ char *dir = NULL;
	int fd;

	if (!slash) {
		*ret_base = name;
		fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (slash[1] == '\0')
		return -EISDIR;
	dir = slash == name ? strdup("/") : strndup(name, (size_t)(slash - name));
	if (!dir)
		return -ENOMEM;
	*ret_base = slash + 1;
	fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Unpredictability is not needed: O_EXCL|O_NOFOLLOW make a clash or a
 * planted name a retry, never a hijack. */
static void random_suffix(char *out, size_t n)
{
	static const char chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static uint64_t counter;
	struct timespec ts;
	uint64_t v;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	v = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	v = ((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32)) +
	    v * 0x9E3779B97F4A7C15ULL;
	for (size_t i = 0; i < n; i++, v /= 62)
		out[i] = chars[v % 62];
	out[n] = '\0';
}

/* mkostemp() under a dirfd: O_EXCL on a random name, retried on clashes. */
static int create_temp(int pfd, const char *base, char *tmp, size_t size)
{
	for (int tries = 0; tries < 100; tries++) {
		int n = snprintf(tmp, size, ".%.200s.tmp.", base);
		int fd;

		random_suffix(tmp + n, 6);
		fd = openat(pfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static bool is_temp_name(const char *name)
{
	const char *tag = strstr(name, ".tmp.");

	/* ".NAME.tmp." and the 6 characters of random_suffix. */
	return name[0] == '.' && tag && tag > name + 1 && strlen(tag) == 5 + 6 &&
	       !strchr(tag + 5, '.');
}

int pt_sweep_temp_files(int at, const char *path)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;
	int fd, n = 0;

	fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir)))
		if (de->d_type == DT_REG && is_temp_name(de->d_name) &&
		    unlinkat(dirfd(dir), de->d_name, 0) == 0)
			n++;
	return n;
}

#define FAULT_UNLESS(flags_, name_) ((flags_) & PT_WRITE_NO_FAULTS ? 0 : PT_FAULT(name_))

int pt_write_file_atomic_flags(int dirfd, const char *name, const void *data,
			       size_t len, mode_t mode, unsigned flags, pt_err *err)
{
	_cleanup_close_ int pfd = -1;
	_cleanup_close_ int fd = -1;
	char tmp[NAME_MAX + 1];
	const char *base;
	bool sync = !(flags & PT_WRITE_NO_SYNC);
	int r;

	pfd = open_parent(dirfd, name, &base);
	if (pfd < 0)
		return pt_err_set(err, pfd, "open directory of %s", name);
	fd = create_temp(pfd, base, tmp, sizeof(tmp));
	if (fd < 0)
		return pt_err_set(err, fd, "create temp file for %s", name);

	r = FAULT_UNLESS(flags, "file.write");
	if (r == 0)
		r = pt_fs_write_all(fd, data, len);
	if (r < 0) {
		pt_err_set(err, r, "write %s", name);
		goto fail;
	}
	/* The mode before the fsync, so it is as durable as the data. */
	if (fchmod(fd, mode & 07777) < 0) {
		r = pt_err_set(err, -errno, "chmod %s", name);
		goto fail;
	}
	r = sync ? FAULT_UNLESS(flags, "file.fsync") : 0;
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		pt_err_set(err, r, "fsync %s", name);
		goto fail;
	}
	r = FAULT_UNLESS(flags, "file.rename");
	if (r == 0 && renameat(pfd, tmp, pfd, base) < 0)
		r = -errno;
	if (r < 0) {
		pt_err_set(err, r, "rename %s over %s", tmp, name);
		goto fail;
	}
	if (sync && fsync(pfd) < 0)
		return pt_err_set(err, -errno, "fsync directory of %s", name);
	return 0;
fail:
	unlinkat(pfd, tmp, 0);
	return r;
}

int pt_write_file_atomic(int dirfd, const char *name, const void *data,
			 size_t len, mode_t mode, pt_err *err)
{
	return pt_write_file_atomic_flags(dirfd, name, data, len, mode, 0, err);
}

/* ---- read ------------------------------------------------------------ */

static int read_bounded(int fd, size_t hint, size_t max, char **ret,
			size_t *ret_len)
{
	/* Room for the NUL and for the read that sees EOF. */
	size_t cap = (hint < 1022 ? 1022 : hint < max ? hint : max) + 2;
	_cleanup_free_ char *buf = malloc(cap);
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nbuf;

			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			nbuf = realloc(buf, cap * 2);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		/* The file grew after the fstat. */
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int pt_read_file(int dirfd, const char *name, size_t max, char **ret_data,
		 size_t *ret_len, pt_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int r;

	/* O_NONBLOCK: a planted fifo must not hang the daemon in open(). */
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", name);
	if (fstat(fd, &st) < 0)
		return pt_err_set(err, -errno, "stat %s", name);
	if (S_ISDIR(st.st_mode))
		return pt_err_set(err, -EISDIR, "read %s", name);
	if (!S_ISREG(st.st_mode))
		return pt_err_set(err, -EINVAL, "read %s: not a regular file",
				  name);
	if ((uint64_t)st.st_size > max)
		return pt_err_set(err, -EFBIG, "read %s: larger than %zu bytes",
				  name, max);
	r = read_bounded(fd, (size_t)st.st_size, max, &data, &len);
	if (r == -EFBIG)
		return pt_err_set(err, r, "read %s: larger than %zu bytes",
				  name, max);
	if (r < 0)
		return pt_err_set(err, r, "read %s", name);
	*ret_data = data;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int pt_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return read_bounded(fd, (size_t)st.st_size, max, ret_data, ret_len);
}

/* ---- rmtree ---------------------------------------------------------- */

/* The walk holds one directory open at a time and climbs back through
 * "..", checking it is the directory it came from; so a tree of any
 * depth costs two fds, and a directory moved mid-walk stops it. */
struct rm_frame {
	char *name;          /* name in the parent (the top: as given) */
	struct fs_id id;
};

struct rm_walk {
	struct rm_frame *stack;
	size_t depth;
	size_t cap;
};

/* "<what> <top>/<...>/<child>: <strerror>"; deep paths are cut short. */
static int rm_fail(const struct rm_walk *w, const char *child, pt_err *err,
		   int code, const char *what)
{
	char buf[PT_ERR_MSG_MAX];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < w->depth && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i ? "/" : "", w->stack[i].name);
	if (child && len < sizeof(buf))
		snprintf(buf + len, sizeof(buf) - len, "/%s", child);
	return pt_err_set(err, code, "%s %s", what, buf);
}

static int rm_push(struct rm_walk *w, char *name, const struct fs_id *id)
{
	if (w->depth == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 16;
		struct rm_frame *n = realloc(w->stack, ncap * sizeof(*n));

		if (!n) {
			free(name);
			return -ENOMEM;
		}
		w->stack = n;
		w->cap = ncap;
	}
	w->stack[w->depth].name = name;
	w->stack[w->depth].id = *id;
	w->depth++;
	return 0;
}

/* Unlinks the non-directories of d up to its first subdirectory, whose
 * name it returns (1); 0 once d holds nothing but "." and "..". */
static int rm_scan(const struct rm_walk *w, DIR *d, char **ret_child,
		   pt_err *err)
{
	int fd = dirfd(d);
	struct dirent *de;
	struct stat st;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			return errno ? rm_fail(w, NULL, err, -errno, "read directory")
				     : 0;
		if (pt_fs_is_dot(de->d_name))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				return rm_fail(w, de->d_name, err, -errno, "stat");
			}
			if (S_ISDIR(st.st_mode)) {
				*ret_child = strdup(de->d_name);
				return *ret_child ? 1 : -ENOMEM;
			}
		}
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT)
			return rm_fail(w, de->d_name, err, -errno, "remove");
	}
}

static int rm_descend(struct rm_walk *w, int pfd, char *child, pt_err *err)
{
	_cleanup_free_ char *name = child;
	_cleanup_close_ int fd = -1;
	struct fs_id id;
	int r;

	if (w->depth >= PT_TREE_MAX_DEPTH)
		return pt_err_set(err, -ELOOP, "remove %s: deeper than %d levels",
				  w->stack[0].name, PT_TREE_MAX_DEPTH);
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return rm_fail(w, name, err, -errno, "open");
	r = pt_fs_identity(fd, &id);
	if (r < 0)
		return rm_fail(w, name, err, r, "stat");
	if (!pt_fs_same_mount(&id, &w->stack[0].id))
		return rm_fail(w, name, err, -EXDEV, "refusing to cross the mount at");
	r = rm_push(w, TAKE_PTR(name), &id);
	return r < 0 ? r : TAKE_FD(fd);
}

/* From the emptied directory fd back to its parent, removing it. */
static int rm_ascend(struct rm_walk *w, int fd, pt_err *err)
{
	struct rm_frame *self = &w->stack[w->depth - 1];
	_cleanup_close_ int pfd = -1;
	struct fs_id id;
	int r;

	pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return rm_fail(w, "..", err, -errno, "open");
	r = pt_fs_identity(pfd, &id);
	if (r < 0)
		return rm_fail(w, "..", err, r, "stat");
	if (id.dev != self[-1].id.dev || id.ino != self[-1].id.ino)
		return rm_fail(w, NULL, err, -ESTALE, "moved while removing");
	if (unlinkat(pfd, self->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return rm_fail(w, NULL, err, -errno, "remove");
	free(self->name);
	w->depth--;
	return TAKE_FD(pfd);
}

/* Empties the directory at the top of the stack (fd, consumed). */
static int rm_run(struct rm_walk *w, int fd, pt_err *err)
{
	for (;;) {
		_cleanup_closedir_ DIR *d = NULL;
		char *child = NULL;
		int r;

		d = fdopendir(fd);
		if (!d) {
			r = -errno;
			close(fd);
			return rm_fail(w, NULL, err, r, "open directory");
		}
		r = rm_scan(w, d, &child, err);
		if (r < 0)
			return r;
		if (r == 0 && w->depth == 1)
			return 0;
		fd = r > 0 ? rm_descend(w, dirfd(d), child, err)
			   : rm_ascend(w, dirfd(d), err);
		if (fd < 0)
			return fd;
	}
}

int pt_rmtree_at(int dirfd, const char *name, pt_err *err)
{
	struct rm_walk w = { 0 };
	_cleanup_close_ int fd = -1;
	struct fs_id id;
	struct stat st;
	int r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : pt_err_set(err, -errno, "stat %s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return pt_err_set(err, -errno, "remove %s", name);
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : pt_err_set(err, -errno, "open %s", name);
	r = pt_fs_identity(fd, &id);
	if (r < 0)
		return pt_err_set(err, r, "stat %s", name);

	r = rm_push(&w, strdup(name), &id);
	if (r == 0 && !w.stack[0].name)
		r = -ENOMEM;
	if (r == 0)
		r = rm_run(&w, TAKE_FD(fd), err);
	for (size_t i = 0; i < w.depth; i++)
		free(w.stack[i].name);
	free(w.stack);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return pt_err_set(err, -errno, "remove %s", name);
	return 0;
}

/* ---- mkdir ----------------------------------------------------------- */

static int mkdir_one(const char *path, mode_t mode, pt_err *err)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return pt_err_set(err, -errno, "create directory %s", path);
	if (stat(path, &st) < 0)
		return pt_err_set(err, -errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return pt_err_set(err, -ENOTDIR, "create directory %s", path);
	return 0;
}

int pt_mkdir_p(const char *path, mode_t mode, pt_err *err)
{
	_cleanup_free_ char *copy = NULL;
	int r;

	if (!path || !*path)
		return pt_err_set(err, -EINVAL, "create directory \"\"");
	copy = strdup(path);
	if (!copy)
		return pt_err_set(err, -ENOMEM, "create directory %s", path);
	for (char *p = copy + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		if (p[-1] != '/') {
			*p = '\0';
			r = mkdir_one(copy, mode, err);
			if (r < 0)
				return r;
			*p = c;
		}
		if (c == '\0')
			return 0;
	}
}

int pt_mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid,
		   gid_t gid, pt_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdirat(dirfd, name, mode & 07777) < 0) {
		if (errno != EEXIST)
			return pt_err_set(err, -errno, "create directory %s", name);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return pt_err_set(err, -errno, "stat %s", name);
		if (!S_ISDIR(st.st_mode))
			return pt_err_set(err, -ENOTDIR, "create directory %s", name);
	}
	/* Through an fd, so a directory swapped for a symlink after the
	 * check is refused rather than followed. */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", name);
	if (fchown(fd, uid, gid) < 0)
		return pt_err_set(err, -errno, "chown %s to %u:%u", name,
				  (unsigned)uid, (unsigned)gid);
	/* After the chown, which may have cleared the setgid bit. */
	if (fchmod(fd, mode & 07777) < 0)
		return pt_err_set(err, -errno, "chmod %s", name);
	return 0;
}

int pt_read_small_at(int dirfd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* nftw has no user pointer; the walk is short and single-threaded. */
static uint64_t du_total;

static int du_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	uint64_t bytes = (uint64_t)st->st_blocks * 512;

	(void)path;
	(void)ftw;
	if (type == FTW_NS)
		return 0;
	/* Every link of a file is inside a blueprint's tree, so each link
	 * carries its share and the sum counts the file once. */
	if (type == FTW_F && st->st_nlink > 1)
		bytes /= st->st_nlink;
	du_total += bytes;
	return 0;
}

int pt_disk_usage(const char *path, uint64_t *ret_bytes, pt_err *err)
{
	du_total = 0;
	if (nftw(path, du_visit, 32, FTW_PHYS | FTW_MOUNT) < 0)
		return pt_err_set(err, -errno, "measure disk use of %s", path);
	*ret_bytes = du_total;
	return 0;
}

/* pt_copy_tree, for `blueprint import`: a walk of its own, apart from the
 * other filesystem helpers. */
#include "fsutil.h"
#include "cleanup.h"
#include "fsutil-internal.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* ---- copy ------------------------------------------------------------ */

struct cp_link {
	dev_t dev;
	ino_t ino;
	char *path;          /* relative to the destination top */
};

struct cp_ctx {
	const char *src;
	const char *sep;     /* between src and path: "" when src ends in / */
	int dst_root;
	struct fs_id top;
	struct fs_id dst;    /* refused as a source: a copy into itself */
	void *links;         /* tsearch tree of struct cp_link */
	char *path;          /* relative path of the entry being copied */
	size_t len;
	size_t cap;
};

/* "<what> <src>/<path>: <strerror>" for the entry being copied. */
static int cp_fail(const struct cp_ctx *c, pt_err *err, int code,
		   const char *what)
{
	return pt_err_set(err, code, "%s %s%s%s", what, c->src, c->sep, c->path);
}

static int cp_link_cmp(const void *a, const void *b)
{
	const struct cp_link *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void cp_link_free(void *p)
{
	struct cp_link *l = p;

	free(l->path);
	free(l);
}

static int cp_path_push(struct cp_ctx *c, const char *name, size_t *ret_old)
{
	size_t need = c->len + 1 + strlen(name) + 1;

	if (need > c->cap) {
		char *n = realloc(c->path, need * 2);

		if (!n)
			return -ENOMEM;
		c->path = n;
		c->cap = need * 2;
	}
	*ret_old = c->len;
	c->len += (size_t)sprintf(c->path + c->len, "%s%s", c->len ? "/" : "",
				  name);
	return 0;
}

/* Owner, then mode (the chown cleared any setuid/setgid), then times. */
static int cp_meta(struct cp_ctx *c, int fd, const struct stat *st, pt_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchown(fd, st->st_uid, st->st_gid) < 0)
		return cp_fail(c, err, -errno, "chown copy of");
	if (fchmod(fd, st->st_mode & 07777) < 0)
		return cp_fail(c, err, -errno, "chmod copy of");
	if (futimens(fd, ts) < 0)
		return cp_fail(c, err, -errno, "set times on copy of");
	return 0;
}

static int cp_data(int in, int out)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, SIZE_MAX >> 2, 0);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n == 0)
			return 0;
		/* Filesystems it cannot serve: fall back to read/write. */
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP && errno != EPERM)
			return -errno;
		break;
	}
	for (;;) {
		int r;

		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		r = pt_fs_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

static int cp_file(struct cp_ctx *c, int sfd, int dfd, const char *name,
		   pt_err *err)
{
	_cleanup_close_ int in = -1;
	_cleanup_close_ int out = -1;
	struct stat st;
	int r;

	in = openat(sfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (in < 0)
		return cp_fail(c, err, -errno, "open");
	/* Rechecked on the fd: the entry may have been swapped since. */
	if (fstat(in, &st) < 0)
		return cp_fail(c, err, -errno, "stat");
	if (!S_ISREG(st.st_mode) || st.st_dev != c->top.dev)
		return cp_fail(c, err, -EPERM, "changed while copying:");
	out = openat(dfd, name,
		     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return cp_fail(c, err, -errno, "create copy of");
	r = cp_data(in, out);
	if (r < 0)
		return cp_fail(c, err, r, "copy");
	return cp_meta(c, out, &st, err);
}

static int cp_symlink(struct cp_ctx *c, int sfd, int dfd, const char *name,
		      const struct stat *st, pt_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char target[PATH_MAX];
	ssize_t n;

	n = readlinkat(sfd, name, target, sizeof(target));
	if (n < 0 || (size_t)n >= sizeof(target))
		return cp_fail(c, err, n < 0 ? -errno : -ENAMETOOLONG, "read link");
	target[n] = '\0';
	if (symlinkat(target, dfd, name) < 0)
		return cp_fail(c, err, -errno, "create copy of");
	if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return cp_fail(c, err, -errno, "chown copy of");
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cp_fail(c, err, -errno, "set times on copy of");
	return 0;
}

/* A second name of an inode already copied becomes a link to the copy;
 * the first is recorded. Returns 1 when linked. */
static int cp_hardlink(struct cp_ctx *c, int dfd, const char *name,
		       const struct stat *st, pt_err *err)
{
	struct cp_link key = { .dev = st->st_dev, .ino = st->st_ino };
	struct cp_link **found, *l;

	found = tfind(&key, &c->links, cp_link_cmp);
	if (found) {
		if (linkat(c->dst_root, (*found)->path, dfd, name, 0) < 0)
			return cp_fail(c, err, -errno, "link copy of");
		return 1;
	}
	l = calloc(1, sizeof(*l));
	if (l) {
		*l = key;
		l->path = strdup(c->path);
	}
	if (!l || !l->path || !tsearch(l, &c->links, cp_link_cmp)) {
		if (l)
			cp_link_free(l);
		return cp_fail(c, err, -ENOMEM, "copy");
	}
	return 0;
}

static int cp_dir(struct cp_ctx *c, int sfd, int dfd, int depth, pt_err *err);

static int cp_subdir(struct cp_ctx *c, int sfd, int dfd, const char *name,
		     int depth, pt_err *err)
{
	_cleanup_close_ int sub = -1;
	_cleanup_close_ int dsub = -1;
	struct fs_id id;
	struct stat st;
	int r;

	if (depth >= PT_TREE_MAX_DEPTH)
		return pt_err_set(err, -ELOOP, "copy %s: deeper than %d levels",
				  c->src, PT_TREE_MAX_DEPTH);
	sub = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return cp_fail(c, err, -errno, "open");
	r = pt_fs_identity(sub, &id);
	if (r == 0 && fstat(sub, &st) < 0)
		r = -errno;
	if (r < 0)
		return cp_fail(c, err, r, "stat");
	if (!pt_fs_same_mount(&id, &c->top))
		return cp_fail(c, err, -EXDEV, "refusing to cross the mount at");
	if (id.dev == c->dst.dev && id.ino == c->dst.ino)
		return cp_fail(c, err, -EINVAL, "refusing to copy the destination");
	if (mkdirat(dfd, name, 0700) < 0)
		return cp_fail(c, err, -errno, "create copy of");
	dsub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dsub < 0)
		return cp_fail(c, err, -errno, "open copy of");
	r = cp_dir(c, TAKE_FD(sub), dsub, depth + 1, err);
	if (r < 0)
		return r;
	/* Last: creating the children changed the mtime. */
	return cp_meta(c, dsub, &st, err);
}

static int cp_special(struct cp_ctx *c, mode_t mode, pt_err *err)
{
	const char *kind = S_ISCHR(mode) || S_ISBLK(mode) ? "device node"
			   : S_ISFIFO(mode)               ? "fifo"
			   : S_ISSOCK(mode)               ? "socket"
							  : "special file";

	return pt_err_set(err, -EPERM, "copy %s%s%s: refusing to copy a %s",
			  c->src, c->sep, c->path, kind);
}

static int cp_entry(struct cp_ctx *c, int sfd, int dfd, const char *name,
		    int depth, pt_err *err)
{
	struct stat st;
	size_t old;
	int r;

	r = cp_path_push(c, name, &old);
	if (r < 0)
		return pt_err_set(err, r, "copy %s", c->src);
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = cp_fail(c, err, -errno, "stat");
	else if (st.st_dev != c->top.dev)
		r = cp_fail(c, err, -EXDEV, "refusing to cross the mount at");
	else if (S_ISDIR(st.st_mode))
		r = cp_subdir(c, sfd, dfd, name, depth, err);
	else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		r = cp_special(c, st.st_mode, err);
	else if (st.st_nlink > 1 && (r = cp_hardlink(c, dfd, name, &st, err)))
		r = r < 0 ? r : 0;
	else if (S_ISLNK(st.st_mode))
		r = cp_symlink(c, sfd, dfd, name, &st, err);
	else
		r = cp_file(c, sfd, dfd, name, err);
	c->len = old;
	c->path[old] = '\0';
	return r;
}

/* Copies the children of sfd (consumed) into dfd. */
static int cp_dir(struct cp_ctx *c, int sfd, int dfd, int depth, pt_err *err)
{
	_cleanup_closedir_ DIR *d = fdopendir(sfd);
	struct dirent *de;
	int r;

	if (!d) {
		r = -errno;
		close(sfd);
		return cp_fail(c, err, r, "open directory");
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			return errno ? cp_fail(c, err, -errno, "read directory") : 0;
		if (pt_fs_is_dot(de->d_name))
			continue;
		r = cp_entry(c, dirfd(d), dfd, de->d_name, depth, err);
		if (r < 0)
			return r;
	}
}

static int cp_top(struct cp_ctx *c, const char *dst, pt_err *err)
{
	_cleanup_close_ int sfd = -1;
	struct stat st;
	int r;

	sfd = open(c->src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return pt_err_set(err, -errno, "open %s", c->src);
	r = pt_fs_identity(sfd, &c->top);
	if (r == 0 && fstat(sfd, &st) < 0)
		r = -errno;
	if (r < 0)
		return pt_err_set(err, r, "stat %s", c->src);
	c->dst_root = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dst_root < 0)
		return pt_err_set(err, -errno, "open %s", dst);
	r = pt_fs_identity(c->dst_root, &c->dst);
	if (r < 0)
		return pt_err_set(err, r, "stat %s", dst);
	r = cp_dir(c, TAKE_FD(sfd), c->dst_root, 1, err);
	if (r < 0)
		return r;
	return cp_meta(c, c->dst_root, &st, err);
}

int pt_copy_tree(const char *src, const char *dst, pt_err *err)
{
	struct cp_ctx c = { .src = src, .dst_root = -1, .cap = 256 };
	size_t n = strlen(src);
	int r;

	c.sep = n > 0 && src[n - 1] == '/' ? "" : "/";

	c.path = calloc(1, c.cap);
	if (!c.path)
		return pt_err_set(err, -ENOMEM, "copy %s", src);
	/* 0700 until the end, so nobody else sees a half-made tree. */
	if (mkdir(dst, 0700) < 0) {
		free(c.path);
		return pt_err_set(err, -errno, "create directory %s", dst);
	}
	r = cp_top(&c, dst, err);
	if (c.dst_root >= 0)
		close(c.dst_root);
	tdestroy(c.links, cp_link_free);
	free(c.path);
	if (r < 0)
		pt_rmtree_at(AT_FDCWD, dst, NULL);
	return r;
}


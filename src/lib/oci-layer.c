/* An OCI layer applied onto a root directory; see oci-layer.h.
 *
 * libarchive reads (tar, and gzip or zstd around it); nothing of its
 * disk writer is used: every path is checked here and opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * from the root, so no entry, however crafted, and no symlink an earlier
 * entry planted can make a write land outside the root or through a
 * link. Symlinks are created as they are: they point wherever the image
 * says, but nothing here ever follows one. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "oci-layer.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define ID_MAX 65535 /* what a tenant's idmapped view of the blueprint maps */

static void archive_closep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

/* Refused with the layer, the entry and why (no errno text: the message
 * says it). */
__attribute__((format(printf, 4, 5)))
static int refuse(pt_err *err, const char *what, const char *entry, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return pt_err_field(err, -EINVAL, "", "%s entry %s: %s", what, entry, why);
}

/* The entry's path, relative to the root: "./" and "/" prefixes of the
 * root entry aside, no absolute path, no "." or ".." component, no empty
 * one. "" for the root itself. */
static int clean_path(const char *raw, char *out, size_t n, const char **why)
{
	const char *p = raw;
	size_t len = 0;

	if (!raw || !raw[0]) {
		*why = "an empty path";
		return -1;
	}
	if (raw[0] == '/') {
		*why = "an absolute path";
		return -1;
	}
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!strcmp(p, ".") || !p[0]) {
		out[0] = '\0';
		return 0;
	}
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t c = slash ? (size_t)(slash - p) : strlen(p);

		if (c == 0) { /* "a//b" or a trailing slash */
			p++;
			continue;
		}
		if ((c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' && p[1] == '.')) {
			*why = c == 2 ? "a \"..\" component" : "a \".\" component";
			return -1;
		}
		if (len + c + 2 > n) {
			*why = "a path longer than 4096 bytes";
			return -1;
		}
		if (len)
			out[len++] = '/';
		memcpy(out + len, p, c);
		len += c;
		p += c;
	}
	out[len] = '\0';
	return 0;
}

/* The directory holding path, opened inside the root, no link followed.
 * *name points at the last component. */
static int open_parent(int root, char *path, const char **name)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*name = path;
		return fcntl(root, F_DUPFD_CLOEXEC, 3);
	}
	*slash = '\0';
	fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	*slash = '/';
	*name = slash + 1;
	return fd < 0 ? -errno : fd;
}

/* Removes whatever is at name in dir (a tree: recursively). */
static int remove_at(int dir, const char *name)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir, name, 0) < 0 ? -errno : 0;
	return pt_rmtree_at(dir, name, NULL);
}

/* Empties dir of everything (an opaque whiteout). */
static int empty_dir(int dir)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = fcntl(dir, F_DUPFD_CLOEXEC, 3), r = 0;
	struct dirent *de;

	if (fd < 0)
		return -errno;
	/* O_PATH fds cannot be listed: open the directory itself. */
	{
		int real = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		if (real < 0)
			return -errno;
		d = fdopendir(real);
		if (!d) {
			close(real);
			return -errno;
		}
	}
	while ((de = readdir(d)) && r == 0)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = remove_at(dirfd(d), de->d_name);
	return r;
}

static int whiteout(int root, char *path, const char *what, pt_err *err)
{
	_cleanup_close_ int dir = -1;
	const char *name;
	char shown[4200];
	int r;

	snprintf(shown, sizeof(shown), "%s", path);
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (strcmp(name, WH_OPAQUE)) {
		const char *hidden = name + strlen(WH_PREFIX);

		if (!hidden[0] || !strcmp(hidden, ".") || !strcmp(hidden, ".."))
			return refuse(err, what, shown, "a whiteout of \"%s\"", hidden);
	}
	dir = open_parent(root, path, &name);
	if (dir == -ENOENT)
		return 0; /* nothing below to hide */
	if (dir < 0)
		return refuse(err, what, shown, "its directory is not a directory inside the "
			      "root reached without a symlink (%s)", strerror(-dir));
	if (!strcmp(name, WH_OPAQUE))
		r = empty_dir(dir);
	else
		r = remove_at(dir, name + strlen(WH_PREFIX));
	if (r < 0)
		return pt_err_set(err, r, "%s entry %s: remove what it hides", what, shown);
	return 0;
}

static bool is_whiteout(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, WH_PREFIX, strlen(WH_PREFIX));
}

static int open_layer(int fd, struct archive **ret, pt_err *err)
{
	struct archive *a = archive_read_new();

	if (!a)
		return pt_err_set(err, -ENOMEM, "libarchive");
	if (lseek(fd, 0, SEEK_SET) < 0) {
		archive_read_free(a);
		return pt_err_set(err, -errno, "rewind a layer");
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		int r = pt_err_field(err, -EINVAL, "", "not a tar layer (plain, gzip or zstd): %s",
				     archive_error_string(a));

		archive_read_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

/* Where the entries stopped: the end of the tar, or a tar that breaks. */
static int end_of_layer(struct archive *a, int s, const char *what, pt_err *err)
{
	if (s == ARCHIVE_EOF)
		return 0;
	return pt_err_field(err, -EINVAL, "", "%s: not a readable tar: %s", what,
			    archive_error_string(a));
}

/* Pass 1: the layer's whiteouts, on what the layers below left. */
static int apply_whiteouts(int root, int layer_fd, const char *what, struct pt_layer_stats *stats,
			   pt_err *err)
{
	_cleanup_(archive_closep) struct archive *a = NULL;
	struct archive_entry *e;
	char path[4096];
	const char *why;
	int r = open_layer(layer_fd, &a, err), s;

	if (r < 0)
		return r;
	while ((s = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *raw = archive_entry_pathname(e);

		if (clean_path(raw, path, sizeof(path), &why) < 0)
			return refuse(err, what, raw ? raw : "(none)", "%s", why);
		if (!path[0] || !is_whiteout(path))
			continue;
		stats->whiteouts++;
		r = whiteout(root, path, what, err);
		if (r < 0)
			return r;
	}
	return end_of_layer(a, s, what, err);
}

static int write_data(struct archive *a, int fd)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int s;

	while ((s = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		if (lseek(fd, off, SEEK_SET) < 0)
			return -errno;
		for (size_t done = 0; done < size;) {
			ssize_t n = write(fd, (const char *)buf + done, size - done);

			if (n < 0)
				return -errno;
			done += (size_t)n;
		}
	}
	if (s != ARCHIVE_EOF)
		return -EIO;
	/* Sparse files: the size the header says, holes included. */
	return 0;
}

/* The entry at name in dir, created: what is there of another kind goes
 * first (a directory stays a directory: a layer may update its mode). */
static int create_entry(struct archive *a, struct archive_entry *e, int root, int dir,
			const char *name, const char *what, const char *shown, pt_err *err)
{
	mode_t type = archive_entry_filetype(e), perm = archive_entry_perm(e) & 07777;
	struct stat st;
	int r = 0;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(type == AE_IFDIR && S_ISDIR(st.st_mode))) {
		r = remove_at(dir, name);
		if (r < 0)
			return pt_err_set(err, r, "%s entry %s: replace what is there", what, shown);
	}
	if (archive_entry_hardlink(e)) {
		char target[4096];
		const char *tname, *why;
		_cleanup_close_ int tdir = -1;

		if (clean_path(archive_entry_hardlink(e), target, sizeof(target), &why) < 0)
			return refuse(err, what, shown, "a hard link to %s: %s",
				      archive_entry_hardlink(e), why);
		if (!target[0])
			return refuse(err, what, shown, "a hard link to the root");
		tdir = open_parent(root, target, &tname);
		if (tdir < 0 || fstatat(tdir, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			return refuse(err, what, shown, "a hard link to %s, which is not a regular "
				      "file inside the root", target);
		if (linkat(tdir, tname, dir, name, 0) < 0)
			return pt_err_set(err, -errno, "%s entry %s: link to %s", what, shown, target);
		return 0;
	}
	switch (type) {
	case AE_IFDIR:
		if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST)
			return pt_err_set(err, -errno, "%s entry %s: mkdir", what, shown);
		break;
	case AE_IFLNK:
		if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", dir, name) < 0)
			return pt_err_set(err, -errno, "%s entry %s: symlink", what, shown);
		break;
	case AE_IFIFO:
		return refuse(err, what, shown, "a FIFO: blueprints hold none (ptenant-blueprint(5))");
	case AE_IFREG: {
		_cleanup_close_ int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
						O_CLOEXEC, 0600);

		if (fd < 0)
			return pt_err_set(err, -errno, "%s entry %s: create", what, shown);
		r = write_data(a, fd);
		if (r == 0 && ftruncate(fd, archive_entry_size(e)) < 0)
			r = -errno;
		if (r < 0)
			return pt_err_set(err, r, "%s entry %s: write (%s)", what, shown,
					  r == -EIO ? archive_error_string(a) : "file");
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
		return refuse(err, what, shown, "a device node (%s %u:%u): blueprints hold none",
			      type == AE_IFCHR ? "char" : "block",
			      (unsigned)archive_entry_rdevmajor(e), (unsigned)archive_entry_rdevminor(e));
	default:
		return refuse(err, what, shown, "an entry of a kind a blueprint holds none of (%o)",
			      (unsigned)type);
	}
	/* Owner, then mode (chown clears set-id bits), then times; never
	 * through a symlink. */
	if (fchownat(dir, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return pt_err_set(err, -errno, "%s entry %s: chown", what, shown);
	if (type != AE_IFLNK && fchmodat(dir, name, perm, 0) < 0)
		return pt_err_set(err, -errno, "%s entry %s: chmod", what, shown);
	{
		struct timespec ts[2] = { { .tv_sec = archive_entry_mtime(e) },
					  { .tv_sec = archive_entry_mtime(e) } };

		utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW);
	}
	return 0;
}

/* The directory that will hold path, walked from the root a component at
 * a time with O_NOFOLLOW, missing ones made (0755, root's): a symlink on
 * the way (an earlier entry's, or a lower layer's) is refused, never
 * followed. */
static int make_parent(int root, char *path, const char **name)
{
	char *p = path, *slash;
	int dir = fcntl(root, F_DUPFD_CLOEXEC, 3);

	if (dir < 0)
		return -errno;
	while ((slash = strchr(p, '/'))) {
		int next;

		*slash = '\0';
		next = openat(dir, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && mkdirat(dir, p, 0755) == 0)
			next = openat(dir, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(dir);
		if (next < 0)
			return errno == ENOTDIR || errno == ELOOP ? -ENOTDIR : -errno;
		dir = next;
		p = slash + 1;
	}
	*name = p;
	return dir;
}

static int apply_entry(struct archive *a, struct archive_entry *e, int root, const char *what,
		       const struct pt_layer_limits *limits, struct pt_layer_stats *stats,
		       pt_err *err)
{
	const char *raw = archive_entry_pathname(e), *why, *name = NULL;
	char path[4096], shown[4200];
	_cleanup_close_ int dir = -1;

	if (clean_path(raw, path, sizeof(path), &why) < 0)
		return refuse(err, what, raw ? raw : "(none)", "%s", why);
	if (!path[0] || is_whiteout(path))
		return 0; /* the root's own entry; whiteouts were pass 1 */
	snprintf(shown, sizeof(shown), "%s", path);
	if (++stats->entries > limits->max_entries)
		return refuse(err, what, shown, "more than %llu entries in the image",
			      (unsigned long long)limits->max_entries);
	if (archive_entry_size(e) > 0)
		stats->bytes += (uint64_t)archive_entry_size(e);
	if (stats->bytes > limits->max_bytes)
		return refuse(err, what, shown, "more than %llu bytes of files in the image",
			      (unsigned long long)limits->max_bytes);
	if (archive_entry_uid(e) > ID_MAX || archive_entry_gid(e) > ID_MAX ||
	    archive_entry_uid(e) < 0 || archive_entry_gid(e) < 0)
		return refuse(err, what, shown, "owner %lld:%lld outside 0..%d",
			      (long long)archive_entry_uid(e), (long long)archive_entry_gid(e), ID_MAX);
	dir = make_parent(root, path, &name);
	if (dir == -ENOTDIR)
		return refuse(err, what, shown, "a path through a symlink or a file (an earlier "
			      "entry's or layer's): never followed");
	if (dir < 0)
		return pt_err_set(err, dir, "%s entry %s: open its directory", what, shown);
	return create_entry(a, e, root, dir, name, what, shown, err);
}

int pt_layer_apply(int root_fd, int layer_fd, const char *what,
		   const struct pt_layer_limits *limits, struct pt_layer_stats *stats,
		   pt_err *err)
{
	_cleanup_(archive_closep) struct archive *a = NULL;
	struct archive_entry *e;
	int r, s;

	r = apply_whiteouts(root_fd, layer_fd, what, stats, err);
	if (r < 0)
		return r;
	r = open_layer(layer_fd, &a, err);
	if (r < 0)
		return r;
	while ((s = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		r = apply_entry(a, e, root_fd, what, limits, stats, err);
		if (r < 0)
			return r;
	}
	return end_of_layer(a, s, what, err);
}

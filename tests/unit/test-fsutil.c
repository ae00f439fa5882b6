#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "tmpdir.h"
#include "fsutil.h"

static int setup(void **state)
{
	return tmpdir_setup(state, "fsutil");
}

static int teardown(void **state)
{
	return tmpdir_teardown(state);
}

static void put(int dirfd, const char *name, const char *content, mode_t mode)
{
	_cleanup_close_ int fd = openat(dirfd, name,
					O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
}

static void assert_content(int dirfd, const char *name, const char *want)
{
	char *data = NULL;
	size_t len = 0;

	assert_int_equal(pt_read_file(dirfd, name, 1 << 20, &data, &len, NULL), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(data, want);
	free(data);
}

static int exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Number of entries in dirfd/name other than "." and "..". */
static int count_entries(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int n = 0;

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	return n;
}

static mode_t mode_of(int dirfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode & 07777;
}

/* ---- atomic write ---------------------------------------------------- */

static void test_atomic_write_mode(void **state)
{
	struct fixture *f = *state;
	char path[128];
	mode_t old = umask(0077);

	assert_int_equal(pt_write_file_atomic(f->dirfd, "a", "hello", 5, 0644, NULL), 0);
	umask(old);
	assert_int_equal(mode_of(f->dirfd, "a"), 0644);
	assert_content(f->dirfd, "a", "hello");

	/* AT_FDCWD with a path, and an empty file. */
	snprintf(path, sizeof(path), "%s/b", f->dir);
	assert_int_equal(pt_write_file_atomic(AT_FDCWD, path, "", 0, 0600, NULL), 0);
	assert_int_equal(mode_of(f->dirfd, "b"), 0600);
	assert_content(f->dirfd, "b", "");
	assert_int_equal(count_entries(f->dirfd, "."), 2);
}

static void test_atomic_write_replaces(void **state)
{
	struct fixture *f = *state;

	put(f->dirfd, "a", "old content that is longer", 0666);
	assert_int_equal(pt_write_file_atomic(f->dirfd, "a", "new", 3, 0640, NULL), 0);
	assert_content(f->dirfd, "a", "new");
	assert_int_equal(mode_of(f->dirfd, "a"), 0640);
	assert_int_equal(pt_write_file_atomic(f->dirfd, "a", "newer", 5, 0600, NULL), 0);
	assert_content(f->dirfd, "a", "newer");
	/* No ".a.tmp.*" left behind. */
	assert_int_equal(count_entries(f->dirfd, "."), 1);
}

static void test_atomic_write_replaces_symlink_not_target(void **state)
{
	struct fixture *f = *state;
	char target[128];

	put(f->dirfd, "target", "keep", 0644);
	snprintf(target, sizeof(target), "%s/target", f->dir);
	assert_int_equal(symlinkat(target, f->dirfd, "link"), 0);
	assert_int_equal(pt_write_file_atomic(f->dirfd, "link", "x", 1, 0600, NULL), 0);
	assert_content(f->dirfd, "target", "keep");
	assert_content(f->dirfd, "link", "x");
}

static void test_atomic_write_missing_dir(void **state)
{
	struct fixture *f = *state;
	pt_err err = { 0 };
	char path[128];

	snprintf(path, sizeof(path), "%s/nodir/file", f->dir);
	assert_int_equal(pt_write_file_atomic(AT_FDCWD, path, "x", 1, 0600, &err),
			 -ENOENT);
	assert_int_equal(err.code, -ENOENT);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(count_entries(f->dirfd, "."), 0);
}

static void test_atomic_write_failure_unlinks_temp(void **state)
{
	struct fixture *f = *state;
	pt_err err = { 0 };

	/* The rename over a non-empty directory fails after the temp file
	 * was written: it must be gone. */
	assert_int_equal(mkdirat(f->dirfd, "d", 0755), 0);
	put(f->dirfd, "d/x", "", 0644);
	assert_int_equal(pt_write_file_atomic(f->dirfd, "d", "data", 4, 0600, &err),
			 -EISDIR);
	assert_non_null(strstr(err.msg, "rename"));
	assert_int_equal(count_entries(f->dirfd, "."), 1);
	assert_int_equal(count_entries(f->dirfd, "d"), 1);
}

static void test_sweep_temp_files(void **state)
{
	struct fixture *f = *state;

	/* What a killed writer leaves, beside what must stay. */
	put(f->dirfd, ".state.json.tmp.AbC123", "{", 0600);
	put(f->dirfd, ".spec.json.tmp.zzzzzz", "", 0600);
	put(f->dirfd, "state.json", "{}", 0600);
	put(f->dirfd, ".tmp.abcdef", "", 0600);       /* no NAME */
	put(f->dirfd, ".x.tmp.abc", "", 0600);        /* not 6 characters */
	put(f->dirfd, "x.tmp.abcdef", "", 0600);      /* not hidden */
	assert_int_equal(mkdirat(f->dirfd, ".d.tmp.abcdef", 0755), 0); /* not a file */
	assert_int_equal(pt_sweep_temp_files(f->dirfd, "."), 2);
	assert_int_equal(count_entries(f->dirfd, "."), 5);
	assert_content(f->dirfd, "state.json", "{}");
	assert_int_equal(pt_sweep_temp_files(f->dirfd, "missing"), -ENOENT);
}

/* A writer killed at any instant (SIGKILL, no cleanup) leaves the file
 * whole: the old content or the new, never empty or cut, whatever the
 * moment; only its temp file may stay, and the sweep removes it. */
static void test_atomic_write_killed_writer(void **state)
{
	struct fixture *f = *state;
	static char a[3000], b[7000];
	unsigned seed = (unsigned)time(NULL);

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	assert_int_equal(pt_write_file_atomic(f->dirfd, "state.json", a, sizeof(a), 0600, NULL), 0);
	for (int round = 0; round < 200; round++) {
		struct timespec pause = { 0, (long)(rand_r(&seed) % 400) * 1000 };
		_cleanup_free_ char *got = NULL;
		size_t len = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			for (int i = 0;; i++)
				pt_write_file_atomic(f->dirfd, "state.json", i % 2 ? a : b,
						     i % 2 ? sizeof(a) : sizeof(b), 0600, NULL);
		nanosleep(&pause, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		assert_int_equal(pt_read_file(f->dirfd, "state.json", 1 << 20, &got, &len, NULL), 0);
		if (len == sizeof(a))
			assert_memory_equal(got, a, len);
		else if (len == sizeof(b))
			assert_memory_equal(got, b, len);
		else
			fail_msg("round %d: state.json has %zu bytes", round, len);
	}
	assert_true(pt_sweep_temp_files(f->dirfd, ".") >= 0);
	assert_int_equal(count_entries(f->dirfd, "."), 1);
}

/* ---- read ------------------------------------------------------------ */

static void test_read_file(void **state)
{
	struct fixture *f = *state;
	pt_err err = { 0 };
	char *data = NULL;
	size_t len = 99;

	put(f->dirfd, "f", "0123456789", 0644);
	assert_int_equal(pt_read_file(f->dirfd, "f", 10, &data, &len, NULL), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(data, "0123456789", 11);
	free(data);
	data = NULL;

	assert_int_equal(pt_read_file(f->dirfd, "f", 9, &data, &len, &err), -EFBIG);
	assert_int_equal(err.code, -EFBIG);
	assert_non_null(strstr(err.msg, "f"));
	assert_null(data);

	assert_int_equal(symlinkat("f", f->dirfd, "link"), 0);
	assert_int_equal(pt_read_file(f->dirfd, "link", 100, &data, &len, &err), -ELOOP);
	assert_null(data);

	assert_int_equal(mkdirat(f->dirfd, "dir", 0755), 0);
	assert_int_equal(pt_read_file(f->dirfd, "dir", 100, &data, &len, &err), -EISDIR);
	assert_non_null(strstr(err.msg, "dir"));

	/* A fifo must be refused, not block waiting for a writer. */
	assert_int_equal(mkfifoat(f->dirfd, "fifo", 0600), 0);
	assert_int_equal(pt_read_file(f->dirfd, "fifo", 100, &data, &len, &err), -EINVAL);

	assert_int_equal(pt_read_file(f->dirfd, "missing", 100, &data, &len, &err),
			 -ENOENT);
	assert_null(data);
}

/* ---- rmtree ---------------------------------------------------------- */

static void test_rmtree_nested(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdirat(f->dirfd, "t", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "t/a", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "t/a/b", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "t/a/b/c", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "t/e", 0755), 0);
	put(f->dirfd, "t/f1", "1", 0644);
	put(f->dirfd, "t/a/f2", "2", 0644);
	put(f->dirfd, "t/a/b/c/f3", "3", 0000);
	assert_int_equal(symlinkat("/nonexistent", f->dirfd, "t/a/b/dangling"), 0);
	assert_int_equal(mkfifoat(f->dirfd, "t/a/fifo", 0600), 0);

	assert_int_equal(pt_rmtree_at(f->dirfd, "t", NULL), 0);
	assert_false(exists(f->dirfd, "t"));
	assert_int_equal(count_entries(f->dirfd, "."), 0);
}

static void test_rmtree_symlinks_not_followed(void **state)
{
	struct fixture *f = *state;
	char out_file[128], out_dir[128];

	assert_int_equal(mkdirat(f->dirfd, "outside", 0755), 0);
	put(f->dirfd, "outside/precious", "keep", 0644);
	put(f->dirfd, "outside-file", "keep", 0644);
	snprintf(out_file, sizeof(out_file), "%s/outside-file", f->dir);
	snprintf(out_dir, sizeof(out_dir), "%s/outside", f->dir);

	assert_int_equal(mkdirat(f->dirfd, "t", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "t/sub", 0755), 0);
	assert_int_equal(symlinkat(out_file, f->dirfd, "t/to-file"), 0);
	assert_int_equal(symlinkat(out_dir, f->dirfd, "t/to-dir"), 0);
	assert_int_equal(symlinkat("../../outside", f->dirfd, "t/sub/rel-dir"), 0);

	assert_int_equal(pt_rmtree_at(f->dirfd, "t", NULL), 0);
	assert_false(exists(f->dirfd, "t"));
	assert_content(f->dirfd, "outside-file", "keep");
	assert_content(f->dirfd, "outside/precious", "keep");

	/* A symlink as the top is removed itself, the target is kept. */
	assert_int_equal(symlinkat(out_dir, f->dirfd, "top-link"), 0);
	assert_int_equal(pt_rmtree_at(f->dirfd, "top-link", NULL), 0);
	assert_false(exists(f->dirfd, "top-link"));
	assert_content(f->dirfd, "outside/precious", "keep");
	assert_int_equal(count_entries(f->dirfd, "."), 2);
}

static void test_rmtree_missing_and_file(void **state)
{
	struct fixture *f = *state;
	char path[128];

	assert_int_equal(pt_rmtree_at(f->dirfd, "missing", NULL), 0);
	snprintf(path, sizeof(path), "%s/missing/below", f->dir);
	assert_int_equal(pt_rmtree_at(AT_FDCWD, path, NULL), 0);
	put(f->dirfd, "file", "x", 0644);
	assert_int_equal(pt_rmtree_at(f->dirfd, "file", NULL), 0);
	assert_false(exists(f->dirfd, "file"));
}

/* A chain of n directories named by a 40-character name below top. */
static void make_chain(int dirfd, const char *top, int n)
{
	static const char name[] = "dddddddddddddddddddddddddddddddddddddddd";
	int fd;

	assert_int_equal(mkdirat(dirfd, top, 0755), 0);
	fd = openat(dirfd, top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (int i = 0; i < n; i++) {
		int next;

		assert_int_equal(mkdirat(fd, name, 0755), 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	put(fd, "leaf", "x", 0644);
	close(fd);
}

static void test_rmtree_deep(void **state)
{
	struct fixture *f = *state;

	/* 4095 levels below the top: the limit, paths far past PATH_MAX. */
	make_chain(f->dirfd, "deep", 4095);
	assert_int_equal(pt_rmtree_at(f->dirfd, "deep", NULL), 0);
	assert_false(exists(f->dirfd, "deep"));
}

static void test_rmtree_too_deep(void **state)
{
	static const char name[] = "dddddddddddddddddddddddddddddddddddddddd";
	struct fixture *f = *state;
	pt_err err = { 0 };
	int fd;

	make_chain(f->dirfd, "deep", 4096);
	assert_int_equal(pt_rmtree_at(f->dirfd, "deep", &err), -ELOOP);
	assert_int_equal(err.code, -ELOOP);
	assert_non_null(strstr(err.msg, "deep"));

	/* Cut the chain in two halves that are within the limit. */
	fd = openat(f->dirfd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < 2000; i++) {
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	assert_int_equal(renameat(fd, name, f->dirfd, "half"), 0);
	close(fd);
	assert_int_equal(pt_rmtree_at(f->dirfd, "half", NULL), 0);
	assert_int_equal(pt_rmtree_at(f->dirfd, "deep", NULL), 0);
	assert_int_equal(count_entries(f->dirfd, "."), 0);
}

static void test_rmtree_refuses_mounts(void **state)
{
	struct fixture *f = *state;
	pt_err err = { 0 };
	char mnt[128], bind_src[128], bind_dst[128];

	assert_int_equal(mkdirat(f->dirfd, "t", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "t/mnt", 0755), 0);
	snprintf(mnt, sizeof(mnt), "%s/t/mnt", f->dir);
	if (mount("none", mnt, "tmpfs", 0, "size=1m") < 0)
		skip();
	put(f->dirfd, "t/mnt/inside", "keep", 0644);
	assert_int_equal(pt_rmtree_at(f->dirfd, "t", &err), -EXDEV);
	assert_non_null(strstr(err.msg, "t/mnt"));
	assert_content(f->dirfd, "t/mnt/inside", "keep");
	assert_int_equal(umount(mnt), 0);

	/* A bind mount of the same filesystem has the same st_dev. */
	assert_int_equal(mkdirat(f->dirfd, "src", 0755), 0);
	put(f->dirfd, "src/precious", "keep", 0644);
	snprintf(bind_src, sizeof(bind_src), "%s/src", f->dir);
	snprintf(bind_dst, sizeof(bind_dst), "%s/t/mnt", f->dir);
	assert_int_equal(mount(bind_src, bind_dst, "none", MS_BIND, NULL), 0);
	assert_int_equal(pt_rmtree_at(f->dirfd, "t", &err), -EXDEV);
	assert_content(f->dirfd, "src/precious", "keep");
	assert_int_equal(umount(bind_dst), 0);
	assert_int_equal(pt_rmtree_at(f->dirfd, "t", NULL), 0);
}

/* ---- mkdir ----------------------------------------------------------- */

static void test_mkdir_p(void **state)
{
	struct fixture *f = *state;
	pt_err err = { 0 };
	char path[160];

	snprintf(path, sizeof(path), "%s/a//b/c/", f->dir);
	assert_int_equal(pt_mkdir_p(path, 0750, NULL), 0);
	assert_int_equal(pt_mkdir_p(path, 0750, NULL), 0);
	assert_int_equal(mode_of(f->dirfd, "a/b/c") & 0700, 0700);
	put(f->dirfd, "a/file", "", 0644);
	snprintf(path, sizeof(path), "%s/a/file/x", f->dir);
	assert_int_equal(pt_mkdir_p(path, 0750, &err), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/a/file", f->dir);
	assert_int_equal(pt_mkdir_p(path, 0750, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(pt_mkdir_p("", 0750, &err), -EINVAL);
}

static void test_mkdir_owned(void **state)
{
	struct fixture *f = *state;
	uid_t uid = geteuid() == 0 ? 1234 : geteuid();
	gid_t gid = geteuid() == 0 ? 5678 : getegid();
	pt_err err = { 0 };
	struct stat st;
	mode_t old = umask(0077);

	assert_int_equal(pt_mkdir_owned(f->dirfd, "d", 02755, uid, gid, NULL), 0);
	umask(old);
	assert_int_equal(fstatat(f->dirfd, "d", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 02755);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);

	/* An existing directory is fixed up. */
	assert_int_equal(fchmodat(f->dirfd, "d", 0700, 0), 0);
	assert_int_equal(pt_mkdir_owned(f->dirfd, "d", 0711, uid, gid, NULL), 0);
	assert_int_equal(mode_of(f->dirfd, "d"), 0711);

	/* A symlink to a directory is refused, and its target untouched. */
	assert_int_equal(mkdirat(f->dirfd, "target", 0755), 0);
	assert_int_equal(symlinkat("target", f->dirfd, "link"), 0);
	assert_int_equal(pt_mkdir_owned(f->dirfd, "link", 0700, uid, gid, &err),
			 -ENOTDIR);
	assert_non_null(strstr(err.msg, "link"));
	assert_int_equal(mode_of(f->dirfd, "target"), 0755);

	put(f->dirfd, "file", "", 0644);
	assert_int_equal(pt_mkdir_owned(f->dirfd, "file", 0700, uid, gid, &err),
			 -ENOTDIR);
}

/* ---- copy ------------------------------------------------------------ */

static void set_mtime(int dirfd, const char *name, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	assert_int_equal(utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void assert_mtime(int dirfd, const char *name, time_t sec, long nsec)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mtim.tv_sec, sec);
	assert_int_equal(st.st_mtim.tv_nsec, nsec);
}

static void make_source(struct fixture *f)
{
	assert_int_equal(mkdirat(f->dirfd, "src", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "src/sub", 0755), 0);
	assert_int_equal(mkdirat(f->dirfd, "src/sub/empty", 0755), 0);
	put(f->dirfd, "src/plain", "plain text", 0640);
	put(f->dirfd, "src/suid", "#!/bin/sh\n", 04755);
	put(f->dirfd, "src/sub/secret", "s3cret", 0600);
	assert_int_equal(linkat(f->dirfd, "src/plain", f->dirfd, "src/sub/hard", 0), 0);
	assert_int_equal(symlinkat("../plain", f->dirfd, "src/sub/rel"), 0);
	assert_int_equal(symlinkat("/nonexistent/target", f->dirfd, "src/dangling"), 0);
	assert_int_equal(fchmodat(f->dirfd, "src/sub", 0751, 0), 0);
	assert_int_equal(fchmodat(f->dirfd, "src/sub/empty", 01777, 0), 0);
	if (geteuid() == 0) {
		assert_int_equal(fchownat(f->dirfd, "src/sub/secret", 1234, 5678, 0), 0);
		assert_int_equal(fchownat(f->dirfd, "src/dangling", 4321, 8765,
					  AT_SYMLINK_NOFOLLOW), 0);
		/* The chown cleared the setuid bit: set it again. */
		assert_int_equal(fchownat(f->dirfd, "src/suid", 1000, 1000, 0), 0);
		assert_int_equal(fchmodat(f->dirfd, "src/suid", 04755, 0), 0);
	}
	set_mtime(f->dirfd, "src/plain", 1000000000, 123456789);
	set_mtime(f->dirfd, "src/dangling", 1100000000, 0);
	set_mtime(f->dirfd, "src/sub/empty", 1200000000, 5);
	set_mtime(f->dirfd, "src/sub", 1300000000, 0);
	set_mtime(f->dirfd, "src", 1400000000, 0);
}

static void test_copy_tree(void **state)
{
	struct fixture *f = *state;
	char src[128], dst[128], link[64];
	struct stat a, b;

	make_source(f);
	snprintf(src, sizeof(src), "%s/src", f->dir);
	snprintf(dst, sizeof(dst), "%s/dst", f->dir);
	assert_int_equal(pt_copy_tree(src, dst, NULL), 0);

	assert_content(f->dirfd, "dst/plain", "plain text");
	assert_content(f->dirfd, "dst/sub/secret", "s3cret");
	assert_int_equal(mode_of(f->dirfd, "dst"), 0755);
	assert_int_equal(mode_of(f->dirfd, "dst/plain"), 0640);
	assert_int_equal(mode_of(f->dirfd, "dst/suid"), 04755);
	assert_int_equal(mode_of(f->dirfd, "dst/sub"), 0751);
	assert_int_equal(mode_of(f->dirfd, "dst/sub/empty"), 01777);
	assert_int_equal(mode_of(f->dirfd, "dst/sub/secret"), 0600);

	/* Hard links stay links, and only within the copy. */
	assert_int_equal(fstatat(f->dirfd, "dst/plain", &a, 0), 0);
	assert_int_equal(fstatat(f->dirfd, "dst/sub/hard", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(fstatat(f->dirfd, "src/plain", &b, 0), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);

	/* Symlinks are copied as symlinks, dangling or not. */
	assert_int_equal(readlinkat(f->dirfd, "dst/sub/rel", link, sizeof(link)), 8);
	assert_memory_equal(link, "../plain", 8);
	assert_int_equal(readlinkat(f->dirfd, "dst/dangling", link, sizeof(link)), 19);
	assert_memory_equal(link, "/nonexistent/target", 19);

	assert_mtime(f->dirfd, "dst/plain", 1000000000, 123456789);
	assert_mtime(f->dirfd, "dst/dangling", 1100000000, 0);
	assert_mtime(f->dirfd, "dst/sub/empty", 1200000000, 5);
	assert_mtime(f->dirfd, "dst/sub", 1300000000, 0);
	assert_mtime(f->dirfd, "dst", 1400000000, 0);

	if (geteuid() == 0) {
		assert_int_equal(fstatat(f->dirfd, "dst/sub/secret", &a, 0), 0);
		assert_int_equal(a.st_uid, 1234);
		assert_int_equal(a.st_gid, 5678);
		assert_int_equal(fstatat(f->dirfd, "dst/dangling", &a,
					 AT_SYMLINK_NOFOLLOW), 0);
		assert_int_equal(a.st_uid, 4321);
		assert_int_equal(a.st_gid, 8765);
		assert_int_equal(fstatat(f->dirfd, "dst/suid", &a, 0), 0);
		assert_int_equal(a.st_uid, 1000);
		assert_int_equal(a.st_mode & 07777, 04755);
	}
}

static void test_copy_tree_refusals(void **state)
{
	struct fixture *f = *state;
	char src[128], dst[128], fifo[128];
	pt_err err = { 0 };

	make_source(f);
	snprintf(src, sizeof(src), "%s/src", f->dir);
	snprintf(dst, sizeof(dst), "%s/dst", f->dir);

	/* dst must not exist, and is left alone when it does. */
	assert_int_equal(mkdirat(f->dirfd, "dst", 0700), 0);
	assert_int_equal(pt_copy_tree(src, dst, &err), -EEXIST);
	assert_true(exists(f->dirfd, "dst"));
	assert_int_equal(unlinkat(f->dirfd, "dst", AT_REMOVEDIR), 0);

	/* A fifo deep down: refused with its path, and the copy is gone. */
	assert_int_equal(mkfifoat(f->dirfd, "src/sub/empty/pipe", 0600), 0);
	snprintf(fifo, sizeof(fifo), "%s/sub/empty/pipe", src);
	assert_int_equal(pt_copy_tree(src, dst, &err), -EPERM);
	assert_int_equal(err.code, -EPERM);
	assert_non_null(strstr(err.msg, fifo));
	assert_non_null(strstr(err.msg, "fifo"));
	assert_false(exists(f->dirfd, "dst"));

	/* A source that is a symlink is not followed (O_NOFOLLOW with
	 * O_DIRECTORY answers ENOTDIR). */
	assert_int_equal(unlinkat(f->dirfd, "src/sub/empty/pipe", 0), 0);
	assert_int_equal(symlinkat("src", f->dirfd, "src-link"), 0);
	snprintf(src, sizeof(src), "%s/src-link", f->dir);
	assert_int_equal(pt_copy_tree(src, dst, &err), -ENOTDIR);
	assert_false(exists(f->dirfd, "dst"));

	/* Nor a copy into itself. */
	snprintf(src, sizeof(src), "%s/src", f->dir);
	snprintf(dst, sizeof(dst), "%s/src/sub/copy", f->dir);
	assert_int_equal(pt_copy_tree(src, dst, &err), -EINVAL);
	assert_false(exists(f->dirfd, "src/sub/copy"));
}

static void test_copy_tree_refuses_mounts(void **state)
{
	struct fixture *f = *state;
	char src[128], dst[128], mnt[128];
	pt_err err = { 0 };

	make_source(f);
	snprintf(src, sizeof(src), "%s/src", f->dir);
	snprintf(dst, sizeof(dst), "%s/dst", f->dir);
	snprintf(mnt, sizeof(mnt), "%s/src/sub/empty", f->dir);
	if (mount("none", mnt, "tmpfs", 0, "size=1m") < 0)
		skip();
	assert_int_equal(pt_copy_tree(src, dst, &err), -EXDEV);
	assert_non_null(strstr(err.msg, mnt));
	assert_false(exists(f->dirfd, "dst"));
	assert_int_equal(umount(mnt), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomic_write_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_temp_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_killed_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_replaces_symlink_not_target,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_failure_unlinks_temp,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_symlinks_not_followed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_missing_and_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_deep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_too_deep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmtree_refuses_mounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_tree_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_tree_refuses_mounts, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "tmpdir.h"
#include "logfile.h"

static int setup(void **state)
{
	return tmpdir_setup(state, "logfile");
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	_cleanup_closedir_ DIR *d = fdopendir(f->dirfd);
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Reads a whole file of the test dir into buf as a string. */
static ssize_t slurp(const struct fixture *f, const char *name, char *buf,
		     size_t size)
{
	_cleanup_close_ int fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static void assert_content(const struct fixture *f, const char *name,
			   const char *want)
{
	char buf[8192];

	assert_int_equal(slurp(f, name, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted, comma-joined names in the dir, e.g. "current.log,current.log.1". */
static void list_dir(const struct fixture *f, char *out, size_t size)
{
	char *names[32];
	size_t n = 0, used = 0;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(f->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < 32)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		used += (size_t)snprintf(out + used, size - used, "%s%s",
					 i ? "," : "", names[i]);
		free(names[i]);
	}
}

static void write_str(struct pt_logfile *log, const char *s)
{
	pt_err err = { 0 };

	assert_int_equal(pt_logfile_write(log, s, strlen(s), &err), 0);
}

static void test_append(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };
	char names[256];

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 100, 2, &err), 0);
	assert_int_equal(log.size, 0);
	write_str(&log, "hello ");
	write_str(&log, "world\n");
	assert_int_equal(pt_logfile_write(&log, "x", 0, &err), 0);
	assert_int_equal(log.size, 12);
	assert_content(f, "current.log", "hello world\n");
	list_dir(f, names, sizeof(names));
	assert_string_equal(names, "current.log");
	pt_logfile_close(&log);
	pt_logfile_close(&log);
	assert_int_equal(log.fd, -1);
	assert_int_equal(log.dirfd, -1);
}

static void test_rotate_at_cap(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };
	char names[256];

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 10, 3, &err), 0);
	write_str(&log, "12345");
	write_str(&log, "67890");     /* exactly at the cap: no rotation */
	list_dir(f, names, sizeof(names));
	assert_string_equal(names, "current.log");
	write_str(&log, "abc");       /* would pass it: rotate first */
	list_dir(f, names, sizeof(names));
	assert_string_equal(names, "current.log,current.log.1");
	assert_content(f, "current.log.1", "1234567890");
	assert_content(f, "current.log", "abc");
	assert_int_equal(log.size, 3);
	pt_logfile_close(&log);
}

static void test_keep_drops_oldest(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };
	char names[256];

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 4, 2, &err), 0);
	write_str(&log, "aaaa");
	write_str(&log, "bbbb");      /* rotation 1 */
	write_str(&log, "cccc");      /* rotation 2 */
	write_str(&log, "dddd");      /* rotation 3: "aaaa" is gone */
	list_dir(f, names, sizeof(names));
	assert_string_equal(names, "current.log,current.log.1,current.log.2");
	assert_content(f, "current.log", "dddd");
	assert_content(f, "current.log.1", "cccc");
	assert_content(f, "current.log.2", "bbbb");
	pt_logfile_close(&log);
}

static void test_oversized_write_is_cut(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };
	char names[256];

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 8, 1, &err), 0);
	write_str(&log, "0123456789abcdef");
	assert_int_equal(log.size, 8);
	assert_content(f, "current.log", "01234567");
	list_dir(f, names, sizeof(names));
	assert_string_equal(names, "current.log");
	/* into a non-empty log: rotates, then cuts */
	write_str(&log, "ABCDEFGHIJ");
	assert_content(f, "current.log", "ABCDEFGH");
	assert_content(f, "current.log.1", "01234567");
	pt_logfile_close(&log);
}

static void test_reopen_continues_size(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 10, 2, &err), 0);
	write_str(&log, "1234567");
	pt_logfile_close(&log);

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 10, 2, &err), 0);
	assert_int_equal(log.size, 7);
	write_str(&log, "89");
	assert_content(f, "current.log", "123456789");
	write_str(&log, "xy");        /* 9 + 2 > 10 */
	assert_content(f, "current.log.1", "123456789");
	assert_content(f, "current.log", "xy");
	pt_logfile_close(&log);
}

static void test_symlink_refused(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };
	assert_int_equal(symlinkat("target", f->dirfd, "current.log"), 0);
	assert_int_equal(pt_logfile_open(&log, f->dirfd, 10, 2, &err), -ELOOP);
	assert_int_equal(err.code, -ELOOP);
	assert_non_null(strstr(err.msg, "current.log"));
	assert_int_equal(log.fd, -1);
	assert_int_equal(log.dirfd, -1);
	/* the link was not followed to create its target */
	assert_int_equal(faccessat(f->dirfd, "target", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(errno, ENOENT);
	pt_logfile_close(&log);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct pt_logfile log;
	pt_err err = { 0 };

	assert_int_equal(pt_logfile_open(&log, f->dirfd, 10, 0, &err), -EINVAL);
	pt_logfile_close(&log);
	assert_int_equal(pt_logfile_open(&log, f->dirfd, 0, 1, &err), -EINVAL);
	pt_logfile_close(&log);
	assert_int_equal(pt_logfile_open(&log, -1, 10, 1, &err), -EBADF);
	pt_logfile_close(&log);
	assert_int_equal(pt_logfile_write(&log, "x", 1, &err), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_at_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_write_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_continues_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

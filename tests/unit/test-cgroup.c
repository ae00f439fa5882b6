/* The cgroup mount choice (src/lib/cgroup.c, pt_cg_find_mount): a
 * hierarchy is used through a mount of its root only, whatever order
 * /proc/self/mountinfo lists its mounts in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "cgroup.h"

/* A hybrid host as seen after `ip netns exec` on a host where a subtree
 * of the memory hierarchy was also bind-mounted: the bind comes first. */
#define BIND_FIRST                                                               \
	"25 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"                            \
	"90 25 0:31 /ptenant/tenant-x /srv/mem rw,relatime - cgroup cgroup rw,memory\n" \
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"        \
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"       \
	"33 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" \
	"34 31 0:33 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"

static void test_root_mount_wins_over_an_earlier_bind(void **state)
{
	char buf[PT_CG_PATH_MAX];
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_cg_find_mount(BIND_FIRST, "memory", buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/memory");
	assert_int_equal(pt_cg_find_mount(BIND_FIRST, "cpu", buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/cpu");
	assert_int_equal(pt_cg_find_mount(BIND_FIRST, NULL, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
}

/* "cpu" must not match "cpuacct" or "cpu,cpuacct" by prefix, only as an
 * option of its own; a comount carries both. */
static void test_controller_is_a_whole_option(void **state)
{
	static const char text[] =
		"33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
	char buf[PT_CG_PATH_MAX];

	(void)state;
	assert_int_equal(pt_cg_find_mount(text, "cpu", buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(pt_cg_find_mount(text, "cpuacct", buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/cpuacct");
}

/* Only non-root mounts: refused, naming each with its root. */
static void test_only_subtree_mounts_refused_naming_them(void **state)
{
	static const char text[] =
		"90 25 0:31 /a /srv/a rw - cgroup cgroup rw,memory\n"
		"91 25 0:31 /b/c /srv/b rw - cgroup cgroup rw,memory\n"
		"92 25 0:33 /x /srv/u rw - cgroup2 cgroup2 rw\n";
	char buf[PT_CG_PATH_MAX] = "untouched";
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_cg_find_mount(text, "memory", buf, sizeof(buf), &err), -ENOENT);
	assert_string_equal(buf, "untouched");
	assert_non_null(strstr(err.msg, "the cgroup v1 memory hierarchy is mounted only with a "
				       "root other than / (/srv/a (root /a), /srv/b (root /b/c))"));
	pt_err_clear(&err);
	assert_int_equal(pt_cg_find_mount(text, NULL, buf, sizeof(buf), &err), -ENOENT);
	assert_non_null(strstr(err.msg, "the cgroup2 hierarchy is mounted only with a root "
				       "other than / (/srv/u (root /x))"));
}

static void test_missing_hierarchy_and_junk_lines(void **state)
{
	static const char text[] =
		"garbage\n"
		"\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		"33 31 0:31 / /sys/fs/cgroup/mem rw - cgroup"; /* cut short, no newline */
	char buf[PT_CG_PATH_MAX];
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_cg_find_mount(text, "memory", buf, sizeof(buf), &err), -ENOENT);
	assert_non_null(strstr(err.msg, "find the cgroup v1 memory mount in /proc/self/mountinfo"));
	assert_int_equal(pt_cg_find_mount("", "cpu", buf, sizeof(buf), NULL), -ENOENT);
	assert_int_equal(pt_cg_find_mount(text, "cpu", buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/cpu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_mount_wins_over_an_earlier_bind),
		cmocka_unit_test(test_controller_is_a_whole_option),
		cmocka_unit_test(test_only_subtree_mounts_refused_naming_them),
		cmocka_unit_test(test_missing_hierarchy_and_junk_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "nsdiag.h"
#include "tmpdir.h"

#define CHROOT_HINT                                                          \
	"ptenantd runs in a chroot, where the kernel refuses CLONE_NEWUSER; "  \
	"use a real root (pivot_root) or a container"
#define USER_OFF_HINT                                                        \
	"user namespaces are disabled: /proc/sys/user/max_user_namespaces is 0"
#define UNPRIV_HINT                                                          \
	"kernel.unprivileged_userns_clone is 0, which refuses CLONE_NEWUSER "  \
	"to a root that is not the host's (ptenantd in a container)"
#define GENERIC_HINT                                                         \
	"the kernel refused new namespaces; likely causes: ptenantd in a "     \
	"chroot, user namespaces disabled (user.max_user_namespaces = 0, "      \
	"kernel.unprivileged_userns_clone = 0), or a seccomp or LSM policy "    \
	"of the host or of an outer container"
#define LIMIT_HINT                                                           \
	"a namespace limit is reached: the count in "                          \
	"/proc/sys/user/max_*_namespaces, or 32 nested user or pid namespaces"

/* Nothing known: what a daemon without /proc sees. */
static struct pt_ns_facts unknown(void)
{
	struct pt_ns_facts f;

	pt_ns_facts_read(-1, &f);
	return f;
}

/* A host where nothing explains a refusal. */
static struct pt_ns_facts healthy(void)
{
	struct pt_ns_facts f = { .unprivileged_clone = 1, .chroot = 0, .init_userns = 1 };

	for (int t = 0; t < PT_NS_TYPES; t++)
		f.max[t] = 62000;
	return f;
}

static void assert_hint(int code, const struct pt_ns_facts *f, const char *want)
{
	char buf[512];

	assert_true(pt_ns_refusal_hint(code, f, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void test_unknown_facts(void **state)
{
	struct pt_ns_facts f = unknown();

	(void)state;
	for (int t = 0; t < PT_NS_TYPES; t++)
		assert_int_equal(f.max[t], -1);
	assert_int_equal(f.unprivileged_clone, -1);
	assert_int_equal(f.chroot, -1);
	assert_int_equal(f.init_userns, -1);
	assert_hint(-EPERM, &f, GENERIC_HINT);
	assert_hint(-ENOSPC, &f, LIMIT_HINT);
}

/* The issue: a start in a chroot said only "Operation not permitted". */
static void test_chroot(void **state)
{
	struct pt_ns_facts f = healthy();

	(void)state;
	f.chroot = 1;
	assert_hint(-EPERM, &f, CHROOT_HINT);
	/* The chroot is the cause even when a sysctl also looks wrong: the
	 * kernel checks it first for a root daemon. */
	f.max[PT_NS_USER] = 0;
	f.unprivileged_clone = 0;
	assert_hint(-EPERM, &f, CHROOT_HINT);
}

static void test_disabled(void **state)
{
	struct pt_ns_facts f = healthy();

	(void)state;
	f.max[PT_NS_USER] = 0;
	assert_hint(-ENOSPC, &f, USER_OFF_HINT);
	assert_hint(-EPERM, &f, USER_OFF_HINT);
	f = healthy();
	f.max[PT_NS_NET] = 0;
	assert_hint(-ENOSPC, &f,
		    "net namespaces are disabled: /proc/sys/user/max_net_namespaces is 0");
	/* User first, whatever else is off. */
	f.max[PT_NS_USER] = 0;
	assert_hint(-ENOSPC, &f, USER_OFF_HINT);
}

/* kernel.unprivileged_userns_clone = 0 stops only a root without
 * CAP_SYS_ADMIN in the host's user namespace. */
static void test_unprivileged_clone(void **state)
{
	struct pt_ns_facts f = healthy();

	(void)state;
	f.unprivileged_clone = 0;
	f.init_userns = 0;
	assert_hint(-EPERM, &f, UNPRIV_HINT);
	f.init_userns = -1;
	assert_hint(-EPERM, &f, UNPRIV_HINT);
	f.init_userns = 1;
	assert_hint(-EPERM, &f, GENERIC_HINT);
}

static void test_limits_and_other_errors(void **state)
{
	struct pt_ns_facts f = healthy();
	char buf[16] = "untouched";

	(void)state;
	assert_hint(-ENOSPC, &f, LIMIT_HINT);
	assert_hint(-EUSERS, &f, LIMIT_HINT);
	assert_hint(-EPERM, &f, GENERIC_HINT);
	assert_false(pt_ns_refusal_hint(-EINVAL, &f, buf, sizeof(buf)));
	assert_false(pt_ns_refusal_hint(-ENOSYS, &f, buf, sizeof(buf)));
	assert_string_equal(buf, "untouched");
	/* A small buffer is cut, never overrun. */
	assert_true(pt_ns_refusal_hint(-EPERM, &f, buf, sizeof(buf)));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

/* ---- reading, from a fake /proc -------------------------------------- */

static int setup(void **state)
{
	return tmpdir_setup(state, "nsdiag");
}

static int teardown(void **state)
{
	return tmpdir_teardown(state);
}

static void put(int dirfd, const char *name, const char *content)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
}

static void link_to(int dirfd, const char *target, const char *name)
{
	unlinkat(dirfd, name, 0);
	assert_int_equal(symlinkat(target, dirfd, name), 0);
}

/* Field 4, the root within the filesystem, is "/" in most lines: only
 * field 5, the mount point, says what is mounted at our root. */
#define MOUNTINFO_CHROOT                                                     \
	"82 47 0:21 / /proc rw,relatime - proc proc rw\n"                     \
	"83 47 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw\n"
#define MOUNTINFO_ROOT                                                       \
	"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" MOUNTINFO_CHROOT

/* self/ and 1/ with root and ns/mnt links, as procfs has them. */
static void fake_proc(struct fixture *fx)
{
	static const char *const dirs[] = {
		"sys", "sys/user", "sys/kernel", "self", "self/ns", "1", "1/ns", "nsfs",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		assert_int_equal(mkdirat(fx->dirfd, dirs[i], 0755), 0);
	put(fx->dirfd, "nsfs/mnt-a", "");
	put(fx->dirfd, "nsfs/mnt-b", "");
	put(fx->dirfd, "sys/user/max_user_namespaces", "0\n");
	put(fx->dirfd, "sys/user/max_mnt_namespaces", "15000\n");
	put(fx->dirfd, "sys/user/max_pid_namespaces", "15000");
	put(fx->dirfd, "sys/user/max_uts_namespaces", "x\n");
	put(fx->dirfd, "sys/user/max_ipc_namespaces", "-3\n");
	put(fx->dirfd, "sys/user/max_net_namespaces", "15000 \n");
	/* max_cgroup_namespaces missing: unknown. */
	put(fx->dirfd, "sys/kernel/unprivileged_userns_clone", "1\n");
	put(fx->dirfd, "self/mountinfo", MOUNTINFO_ROOT);
	link_to(fx->dirfd, "/", "self/root");
	link_to(fx->dirfd, "/", "1/root");
	link_to(fx->dirfd, "../../nsfs/mnt-a", "self/ns/mnt");
	link_to(fx->dirfd, "../../nsfs/mnt-a", "1/ns/mnt");
	link_to(fx->dirfd, "../../nsfs/mnt-a", "self/ns/user");
}

static void test_read(void **state)
{
	struct fixture *fx = *state;
	struct pt_ns_facts f;

	fake_proc(fx);
	pt_ns_facts_read(fx->dirfd, &f);
	assert_int_equal(f.max[PT_NS_USER], 0);
	assert_int_equal(f.max[PT_NS_MNT], 15000);
	assert_int_equal(f.max[PT_NS_PID], 15000);
	assert_int_equal(f.max[PT_NS_UTS], -1);    /* not a number */
	assert_int_equal(f.max[PT_NS_IPC], -1);    /* negative */
	assert_int_equal(f.max[PT_NS_NET], -1);    /* trailing garbage */
	assert_int_equal(f.max[PT_NS_CGROUP], -1); /* missing */
	assert_int_equal(f.unprivileged_clone, 1);
	assert_int_equal(f.chroot, 0);
	assert_int_equal(f.init_userns, 0); /* not the host's nsfs inode */
	assert_hint(-ENOSPC, &f, USER_OFF_HINT);
}

static void test_read_chroot(void **state)
{
	struct fixture *fx = *state;
	struct pt_ns_facts f;

	fake_proc(fx);
	/* Our root is not pid 1's, in the same mount namespace. */
	link_to(fx->dirfd, fx->dir, "self/root");
	pt_ns_facts_read(fx->dirfd, &f);
	assert_int_equal(f.chroot, 1);
	assert_hint(-EPERM, &f, CHROOT_HINT);
	/* In another mount namespace than pid 1, roots differ anyway. */
	link_to(fx->dirfd, "../../nsfs/mnt-b", "1/ns/mnt");
	pt_ns_facts_read(fx->dirfd, &f);
	assert_int_equal(f.chroot, -1);
	/* pid 1 not readable (a /proc with hidepid, no ptrace access). */
	link_to(fx->dirfd, "../../nsfs/mnt-a", "1/ns/mnt");
	assert_int_equal(unlinkat(fx->dirfd, "1/root", 0), 0);
	pt_ns_facts_read(fx->dirfd, &f);
	assert_int_equal(f.chroot, -1);
}

/* A chroot into a plain directory: no mount at "/", whatever pid 1 is. */
static void test_read_chroot_mountinfo(void **state)
{
	struct fixture *fx = *state;
	struct pt_ns_facts f;

	fake_proc(fx);
	put(fx->dirfd, "self/mountinfo", MOUNTINFO_CHROOT);
	link_to(fx->dirfd, "../../nsfs/mnt-b", "1/ns/mnt");
	pt_ns_facts_read(fx->dirfd, &f);
	assert_int_equal(f.chroot, 1);
	assert_hint(-EPERM, &f, CHROOT_HINT);
	/* An empty mountinfo is no mount at "/" either. */
	put(fx->dirfd, "self/mountinfo", "");
	pt_ns_facts_read(fx->dirfd, &f);
	assert_int_equal(f.chroot, 1);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pt_ns_type_name(PT_NS_USER), "user");
	assert_string_equal(pt_ns_type_name(PT_NS_CGROUP), "cgroup");
	assert_null(pt_ns_type_name(PT_NS_TYPES));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_facts),
		cmocka_unit_test(test_chroot),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_unprivileged_clone),
		cmocka_unit_test(test_limits_and_other_errors),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_chroot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_chroot_mountinfo, setup, teardown),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

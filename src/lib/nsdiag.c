/* What the kernel checks when it refuses CLONE_NEW*, and where an
 * operator can see it:
 *
 *   EPERM   CLONE_NEWUSER from a chrooted task (create_user_ns(): the
 *           task's root must be its mount namespace's root); Debian's and
 *           Ubuntu's kernel.unprivileged_userns_clone = 0 for a caller
 *           without CAP_SYS_ADMIN in the host's user namespace (root of a
 *           container); a seccomp filter or LSM hook of an outer runtime.
 *   ENOSPC  /proc/sys/user/max_<type>_namespaces reached (0 switches the
 *           type off), or pid/user namespaces nested 32 deep.
 *   EUSERS  the same nesting limit on kernels before 4.9.
 */
#include "nsdiag.h"

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static const char *const ns_names[PT_NS_TYPES] = {
	[PT_NS_USER] = "user", [PT_NS_MNT] = "mnt", [PT_NS_PID] = "pid",
	[PT_NS_UTS] = "uts", [PT_NS_IPC] = "ipc", [PT_NS_NET] = "net",
	[PT_NS_CGROUP] = "cgroup",
};

const char *pt_ns_type_name(enum pt_ns_type t)
{
	return t < PT_NS_TYPES ? ns_names[t] : NULL;
}

/* ---- reading --------------------------------------------------------- */

/* A non-negative integer file, -1 when absent or not a number. */
static long read_long(int procfd, const char *path)
{
	char buf[32], *end;
	long v;

	if (pt_read_small_at(procfd, path, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0)
		return -1;
	return v;
}

static int same_file(int procfd, const char *a, const char *b)
{
	struct stat sa, sb;

	if (fstatat(procfd, a, &sa, 0) < 0 || fstatat(procfd, b, &sb, 0) < 0)
		return -1;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Field 5 of a mountinfo line, the mount point, is "/" exactly. */
static bool mounted_at_root(const char *line)
{
	const char *p = line;

	for (int field = 1; field < 5; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	return p[0] == '/' && p[1] == ' ';
}

/* Whether a mount sits at our "/" (mount points in self/mountinfo are
 * relative to our root). A namespace's root is always a mount, and so is
 * a pivot_root'ed one; a chroot into a plain directory shows only the
 * mounts below it. */
static int root_is_mount(int procfd)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int fd;

	fd = openat(procfd, "self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return -1;
	}
	while (getline(&line, &cap, f) > 0)
		if (mounted_at_root(line))
			return 1;
	return ferror(f) ? -1 : 0;
}

/* The kernel refuses CLONE_NEWUSER when our root is not our mount
 * namespace's. Seen from here: no mount at "/" (a chroot into a
 * directory), or, as systemd's running_in_chroot(), a root other than
 * pid 1's while in its mount namespace (a chroot into a mount point).
 * A chroot into a mount point of a namespace of our own cannot be told. */
static int in_chroot(int procfd)
{
	int mount = root_is_mount(procfd);
	int same_ns = same_file(procfd, "self/ns/mnt", "1/ns/mnt");
	int same_root = same_file(procfd, "self/root", "1/root");

	if (mount == 0)
		return 1;
	if (same_ns != 1 || same_root < 0)
		return -1;
	return !same_root;
}

/* The host's user namespace has a fixed inode number in nsfs
 * (PROC_USER_INIT_INO), as systemd's namespace_is_init() relies on. */
#define PROC_USER_INIT_INO 0xEFFFFFFDU

static int in_init_userns(int procfd)
{
	struct stat st;

	if (fstatat(procfd, "self/ns/user", &st, 0) < 0)
		return -1;
	return st.st_ino == PROC_USER_INIT_INO;
}

void pt_ns_facts_read(int procfd, struct pt_ns_facts *ret)
{
	char path[64];

	for (int t = 0; t < PT_NS_TYPES; t++) {
		snprintf(path, sizeof(path), "sys/user/max_%s_namespaces", ns_names[t]);
		ret->max[t] = procfd >= 0 ? read_long(procfd, path) : -1;
	}
	ret->unprivileged_clone = procfd >= 0 ?
		(int)read_long(procfd, "sys/kernel/unprivileged_userns_clone") : -1;
	ret->chroot = procfd >= 0 ? in_chroot(procfd) : -1;
	ret->init_userns = procfd >= 0 ? in_init_userns(procfd) : -1;
}

/* ---- wording --------------------------------------------------------- */

/* The first namespace type switched off, or -1. User first: it is the
 * one distributions switch off. */
static int disabled_type(const struct pt_ns_facts *f)
{
	for (int t = 0; t < PT_NS_TYPES; t++)
		if (f->max[t] == 0)
			return t;
	return -1;
}

static void say_disabled(int t, char *buf, size_t n)
{
	snprintf(buf, n, "%s namespaces are disabled: /proc/sys/user/max_%s_namespaces is 0",
		 ns_names[t], ns_names[t]);
}

static void eperm_hint(const struct pt_ns_facts *f, char *buf, size_t n)
{
	int off = disabled_type(f);

	if (f->chroot == 1)
		snprintf(buf, n, "ptenantd runs in a chroot, where the kernel refuses "
			 "CLONE_NEWUSER; use a real root (pivot_root) or a container");
	else if (off >= 0)
		say_disabled(off, buf, n);
	else if (f->unprivileged_clone == 0 && f->init_userns != 1)
		snprintf(buf, n, "kernel.unprivileged_userns_clone is 0, which refuses "
			 "CLONE_NEWUSER to a root that is not the host's (ptenantd in a container)");
	else
		snprintf(buf, n, "the kernel refused new namespaces; likely causes: ptenantd "
			 "in a chroot, user namespaces disabled (user.max_user_namespaces = 0, "
			 "kernel.unprivileged_userns_clone = 0), or a seccomp or LSM policy "
			 "of the host or of an outer container");
}

static void enospc_hint(const struct pt_ns_facts *f, char *buf, size_t n)
{
	int off = disabled_type(f);

	if (off >= 0)
		say_disabled(off, buf, n);
	else
		snprintf(buf, n, "a namespace limit is reached: the count in "
			 "/proc/sys/user/max_*_namespaces, or 32 nested user or pid namespaces");
}

bool pt_ns_refusal_hint(int code, const struct pt_ns_facts *f, char *buf, size_t n)
{
	switch (code) {
	case -EPERM:
		eperm_hint(f, buf, n);
		return true;
	case -ENOSPC:
	case -EUSERS:
		enospc_hint(f, buf, n);
		return true;
	default:
		return false;
	}
}

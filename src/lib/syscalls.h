/* Raw wrappers for the syscalls glibc 2.36 does not wrap, in one place.
 * (fsopen/fsmount/move_mount/open_tree/mount_setattr come from
 * <sys/mount.h>, pidfd_* from <sys/pidfd.h>, close_range and execveat
 * from <unistd.h>.) Each returns like the syscall: -1 with errno set; a
 * kernel without the call answers ENOSYS, which callers report as such. */
#pragma once

#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* <linux/sched.h> clashes with glibc's <sched.h>; this is its layout
 * (CLONE_ARGS_SIZE_VER2). */
struct pt_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};

static inline pid_t pt_clone3(struct pt_clone_args *args)
{
	return (pid_t)syscall(SYS_clone3, args, sizeof(*args));
}

static inline int pt_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

#include "cgroup-join.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Raw system calls: the thread has no TLS of its own, so glibc's errno
 * (thread-local) would be the child's main thread's. */
static long raw_write(int fd, const void *buf, size_t n)
{
#if defined(__x86_64__)
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"((long)SYS_write), "D"((long)fd), "S"(buf), "d"(n)
			 : "rcx", "r11", "memory");
	return r;
#else
	/* Elsewhere through libc: on a failure only, errno may be clobbered
	 * under the main thread; the code returned here is read at once. */
	long r = syscall(SYS_write, fd, buf, n);

	return r < 0 ? -errno : r;
#endif
}

static int joiner(void *arg)
{
	struct pt_cgjoin *j = arg;

	for (size_t i = 0; i < j->n; i++) {
		long r = raw_write(j->fds[i], "0", 1);

		if (r != 1) {
			j->code = r < 0 ? (int)r : -EIO;
			j->failed_at = (int)i;
			break;
		}
	}
	return 0; /* glibc's clone() ends the thread with exit(2), not exit_group */
}

int pt_cgjoin_start(struct pt_cgjoin *j, const int *fds, size_t n, pt_err *err)
{
	int r;

	j->fds = fds;
	j->n = n;
	j->tid = 0;
	j->failed_at = -1;
	j->code = 0;
	j->stack = NULL;
	if (!n)
		return 0;
	j->stack = mmap(NULL, PT_CGJOIN_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (j->stack == MAP_FAILED) {
		j->stack = NULL;
		return pt_err_set(err, -errno, "stack for the cgroup join");
	}
	/* No CLONE_FILES or CLONE_FS: the child closes its fds and changes
	 * its root meanwhile; the thread keeps copies of what it needs. */
	/* The kernel writes the thread's id into tid before the thread can
	 * run (CLONE_PARENT_SETTID), and clears it and wakes the futex when
	 * the thread exits (CLONE_CHILD_CLEARTID): no window for a lost exit. */
	r = clone(joiner, j->stack + PT_CGJOIN_STACK,
		  CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_SYSVSEM |
		  CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
		  j, (pid_t *)&j->tid, NULL, (pid_t *)&j->tid);
	if (r < 0)
		return pt_err_set(err, -errno, "start the cgroup join");
	return 0;
}

int pt_cgjoin_wait(struct pt_cgjoin *j, pt_err *err)
{
	pid_t t;

	if (!j->n)
		return 0;
	while ((t = j->tid) != 0)
		syscall(SYS_futex, &j->tid, FUTEX_WAIT, t, NULL, NULL, 0);
	munmap(j->stack, PT_CGJOIN_STACK);
	j->stack = NULL;
	if (j->code)
		return pt_err_set(err, j->code, "join the tenant's cgroup (v1 hierarchy %d)",
				  j->failed_at);
	return 0;
}

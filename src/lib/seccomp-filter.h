/* Named seccomp-filter.h, not seccomp.h: src/lib is on the include path
 * and would shadow libseccomp's <seccomp.h>. */
/* The tenant's syscall filter (see ptenant-seccomp(5)).
 *
 * Compiled in the daemon with libseccomp (once for the default profile at
 * startup, once per tenant that names a profile, at create), exported as
 * classic BPF into memory, and loaded in the child as the very last step
 * before exec, after no_new_privs: the child never runs libseccomp, and a
 * profile that does not compile is an error at create, never a tenant
 * that runs unfiltered.
 *
 * A tenant gets two stacked filters (the kernel runs both; the stricter
 * answer wins):
 *   1. the allow-list: every syscall not named fails with EPERM, a few
 *      only with safe arguments (clone/unshare without namespace flags,
 *      socket only for unix, inet, inet6 and route netlink); syscalls of
 *      any other ABI (i386, x32) fail with ENOSYS;
 *   2. the deny-list: ioctl TIOCSTI and TIOCLINUX fail with EPERM. It is
 *      its own filter because libseccomp folds a conditional rule into an
 *      unconditional allow of the same syscall in one filter. */
#pragma once

#include <linux/filter.h>
#include <stddef.h>

#include "error.h"
#include "ptenant/spec.h"

struct pt_seccomp_bpf {
	struct sock_fprog prog[2];  /* allow-list, deny-list */
};

#define PT_SECCOMP_BPF_INIT { { { 0, NULL }, { 0, NULL } } }

/* Syscalls no profile may allow: they reach past the tenant (mounts, new
 * namespaces, keys, BPF, modules, kexec, handles, io_uring, ...). */
bool pt_seccomp_never_allowed(const char *name);

int pt_seccomp_compile(const struct pt_seccomp_profile *profile,
		       struct pt_seccomp_bpf *ret, pt_err *err);
void pt_seccomp_bpf_free(struct pt_seccomp_bpf *bpf);
/* Instructions in both filters, for `ptenantd --trace-spawn` and docs. */
size_t pt_seccomp_bpf_len(const struct pt_seccomp_bpf *bpf);

/* In the child: needs no_new_privs already set. Async-signal-safe (no
 * allocation), so it is safe after clone3 in a multi-threaded parent. */
int pt_seccomp_load(const struct pt_seccomp_bpf *bpf, pt_err *err);

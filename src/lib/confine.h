/* The last steps before a tenant process execs, shared by the tenant's
 * init and by `ptenant exec`, so both run in exactly the same cage:
 * capabilities cut to a small set, ambient and inheritable empty,
 * no_new_privs. (Seccomp is loaded after these; see seccomp.h.) */
#pragma once

#include "error.h"

/* Capabilities a bot keeps, as root of its own user namespace. Anything
 * that reaches past the tenant's own files and processes is gone:
 * SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_MODULE, MKNOD, ... */
extern const int pt_confine_keep_caps[];
extern const unsigned pt_confine_n_keep_caps;

int pt_confine_apply(pt_err *err);

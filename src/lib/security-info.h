/* `ptenant inspect --security`: the confinement of a running tenant, as
 * the kernel reports it for the tenant's own processes.
 *
 * Read from the host side, through /proc/<host pid>/ of the tenant's init
 * and its children (status, ns/, uid_map, mountinfo): the values are the
 * kernel's view of those very processes, the same a probe inside would
 * read, without running anything inside the tenant or trusting anything
 * it wrote. pid reuse is ruled out by the tenant's pidfd, checked alive
 * after every read. */
#pragma once

#include <jansson.h>
#include <sys/types.h>

#include "error.h"

int pt_security_info(pid_t pid, int pidfd, json_t **ret, pt_err *err);

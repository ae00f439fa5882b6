/* Facts about host processes read from /proc. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
 * With the pid it names one process for the life of the machine, which
 * is how a restarted daemon tells its tenant from a recycled pid. */
int pt_proc_starttime(pid_t pid, uint64_t *ret, pt_err *err);

/* Is pid alive and not a zombie (field 3 of /proc/PID/stat)? A zombie
 * still has its start time but is nothing to supervise. */
int pt_proc_alive(pid_t pid);

/* Finds the host pid of the pid-namespace init running as a host uid of
 * the range that starts at `uid` (a tenant's root) whose /data is a
 * tenant's: an overlay (tenants started since /data stopped being a
 * bind, whose mount list names no host path), or the bind mount of a
 * directory ending in `data_suffix` (e.g. "/tenants/acme/data"), by
 * scanning /proc: 0 if none. For tenants whose state.json is lost. */
pid_t pt_proc_find_ns_init(uid_t uid, const char *data_suffix);

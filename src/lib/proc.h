/* Facts about host processes read from /proc. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
 * With the pid it names one process for the life of the machine, which
 * is how a restarted daemon tells its tenant from a recycled pid. */
int pt_proc_starttime(pid_t pid, uint64_t *ret, pt_err *err);

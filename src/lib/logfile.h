/* A tenant's log: stdout and stderr, size-capped and rotated.
 *
 * The daemon owns the file; the tenant only ever holds the write end of a
 * pipe, so a tenant cannot grow its log past the cap nor touch old logs.
 * Rotation: when a write would pass max_bytes, log -> log.1 -> ... ->
 * log.<keep>, the oldest dropped. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct pt_logfile {
	int dirfd;               /* the tenant's log/ directory (owned) */
	int fd;                  /* current "current.log", O_APPEND */
	uint64_t size;
	uint64_t max_bytes;
	unsigned keep;           /* rotated files kept (>= 1) */
};

/* Opens (creating) dir/current.log. dirfd is dup'ed. */
int pt_logfile_open(struct pt_logfile *log, int dirfd, uint64_t max_bytes,
		    unsigned keep, pt_err *err);
/* Appends, rotating first if the write would pass the cap. A single write
 * larger than max_bytes is cut to max_bytes. */
int pt_logfile_write(struct pt_logfile *log, const void *buf, size_t len,
		     pt_err *err);
/* Moves up to len bytes from a pipe into the log with splice(2): the data
 * never passes through our memory. Rotates as pt_logfile_write does;
 * returns the bytes moved (fewer when the pipe ran dry) or -errno. */
ssize_t pt_logfile_splice(struct pt_logfile *log, int pipe_fd, size_t len, pt_err *err);
void pt_logfile_close(struct pt_logfile *log);

/* Cleanup attributes in the systemd style: every fd, pointer, DIR and FILE
 * owned by a scope is released when the scope ends. Cleaners are safe on
 * NULL and on -1, so an early return never has to think about what was
 * acquired; ownership leaves a scope only through TAKE_FD / TAKE_PTR. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void pt_closep(int *fd)
{
	if (fd && *fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

static inline void pt_freep(void *p)
{
	void **pp = p;
	int saved = errno;
	free(*pp);
	errno = saved;
	*pp = NULL;
}

static inline void pt_fclosep(FILE **f)
{
	if (f && *f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
		*f = NULL;
	}
}

static inline void pt_closedirp(DIR **d)
{
	if (d && *d) {
		int saved = errno;
		closedir(*d);
		errno = saved;
		*d = NULL;
	}
}

#define _cleanup_close_ _cleanup_(pt_closep)
#define _cleanup_free_ _cleanup_(pt_freep)
#define _cleanup_fclose_ _cleanup_(pt_fclosep)
#define _cleanup_closedir_ _cleanup_(pt_closedirp)

/* Ownership transfer: returns the value and disarms the cleaner. */
#define TAKE_FD(fd)                                                          \
	({                                                                   \
		int _fd_ = (fd);                                             \
		(fd) = -1;                                                   \
		_fd_;                                                        \
	})
#define TAKE_PTR(ptr)                                                        \
	({                                                                   \
		__typeof__(ptr) _p_ = (ptr);                                 \
		(ptr) = NULL;                                                \
		_p_;                                                         \
	})

/* jansson ships json_decrefp as its cleaner; named in the project's style
 * for files that include <jansson.h>. */
#define _cleanup_json_ _cleanup_(json_decrefp)

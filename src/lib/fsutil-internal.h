/* Helpers shared by fsutil.c and copytree.c; not part of the library's
 * interface. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Deeper than any real tree; a bound so a hostile one cannot make a walk
 * run out of memory (or of fds, for the copy). */
#define PT_TREE_MAX_DEPTH 4096

/* What makes two directories "the same mount": st_dev alone misses bind
 * mounts of the same filesystem, so the mount id is compared as well when
 * the kernel reports it (0 otherwise, on both sides). */
struct fs_id {
	dev_t dev;
	ino_t ino;
	uint64_t mnt;
};

int pt_fs_identity(int fd, struct fs_id *id);
int pt_fs_same_mount(const struct fs_id *a, const struct fs_id *b);

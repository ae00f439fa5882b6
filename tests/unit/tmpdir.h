/* A fresh directory under /tmp for a test, with an fd open on it: the
 * fixture of the tests that work on real files. */
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	int dirfd;
};

/* cmocka setup body: *state = a fixture in /tmp/test-NAME-XXXXXX. */
static inline int tmpdir_setup(void **state, const char *name)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-%s-XXXXXX", name);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int tmpdir_rm_entry(const char *path, const struct stat *st, int type,
				  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* cmocka teardown body: removes the fixture's tree with nftw, independent
 * of the code under test, so a broken rmtree cannot leave litter behind
 * the tests (and it stays on this file system: FTW_MOUNT). */
static inline int tmpdir_teardown(void **state)
{
	struct fixture *f = *state;

	close(f->dirfd);
	nftw(f->dir, tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	free(f);
	return 0;
}

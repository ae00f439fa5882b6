/* A fresh directory under /tmp for a test, with an fd open on it: the
 * fixture of the tests that work on real files. */
#pragma once

#include <fcntl.h>
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

/* libFuzzer target: an OCI image layer (ptenant-import runs as root on
 * images from anywhere). Any bytes, as a tar (plain, gzip or zstd), are
 * applied onto a fresh directory, over a lower layer that planted a
 * symlink to a canary directory beside it: whatever is refused or
 * written, nothing may appear outside the root (the canary stays empty),
 * and nothing may crash or leak. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "oci-layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];

static int canary_empty(void)
{
	char path[128];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/canary", base);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n == 0;
}

static void remove_base(void)
{
	pt_rmtree_at(AT_FDCWD, base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_layer_limits limits = { 1000, 1 << 20 };
	struct pt_layer_stats stats = { 0 };
	char root[128], link[160];
	pt_err err = { 0 };
	int fd, rootfd;

	if (!base[0]) {
		snprintf(base, sizeof(base), "/tmp/fuzz-oci-layer.XXXXXX");
		if (!mkdtemp(base))
			abort();
		atexit(remove_base);
		snprintf(root, sizeof(root), "%s/canary", base);
		mkdir(root, 0700);
	}
	snprintf(root, sizeof(root), "%s/root", base);
	pt_rmtree_at(AT_FDCWD, root, NULL);
	if (mkdir(root, 0755) < 0)
		abort();
	/* The lower layer's plant: root/planted -> the canary. */
	snprintf(link, sizeof(link), "%s/planted", root);
	{
		char target[128];

		snprintf(target, sizeof(target), "%s/canary", base);
		if (symlink(target, link) < 0)
			abort();
	}
	fd = memfd_create("layer", MFD_CLOEXEC);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || rootfd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	pt_layer_apply(rootfd, fd, "layer 1", &limits, &stats, &err);
	close(fd);
	close(rootfd);
	if (!canary_empty())
		abort();
	return 0;
}

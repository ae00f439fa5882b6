#include "idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int pt_idmap_valid(uint32_t host_uid, uint32_t base, uint32_t ranges)
{
	uint64_t off;

	if (host_uid < base)
		return 0;
	off = (uint64_t)host_uid - base;
	return off % PT_IDMAP_RANGE == 0 && off / PT_IDMAP_RANGE < ranges;
}

int pt_idmap_pick(const uint32_t *used, size_t n_used, uint32_t base,
		  uint32_t ranges, uint32_t *ret_host_uid, pt_err *err)
{
	/* O(ranges * n) is fine for thousands of tenants and keeps the
	 * function free of allocation; picking the lowest free index keeps
	 * ranges dense and predictable for operators reading `ls -n`. */
	for (uint32_t i = 0; i < ranges; i++) {
		uint64_t cand = (uint64_t)base + (uint64_t)i * PT_IDMAP_RANGE;
		int taken = 0;

		if (cand + PT_IDMAP_RANGE - 1 > UINT32_MAX)
			break;
		for (size_t j = 0; j < n_used && !taken; j++)
			taken = used[j] == cand;
		if (!taken) {
			*ret_host_uid = (uint32_t)cand;
			return 0;
		}
	}
	return pt_err_set(err, -ENOSPC,
			  "no free host uid range: all %u ranges above %u are taken",
			  ranges, base);
}

int pt_idmap_format(uint32_t host_uid, char *buf, size_t size)
{
	int n = snprintf(buf, size, "0 %u %u\n", host_uid, PT_IDMAP_RANGE);

	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

static int write_proc_file(pid_t pid, const char *name, const char *text,
			   pt_err *err)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	if (write(fd, text, len) != (ssize_t)len)
		return pt_err_set(err, errno ? -errno : -EIO, "write %s", path);
	return 0;
}

int pt_idmap_write(pid_t pid, uint32_t host_uid, pt_err *err)
{
	char map[64];
	int r;

	r = pt_idmap_format(host_uid, map, sizeof(map));
	if (r < 0)
		return pt_err_set(err, r, "format id map");
	r = write_proc_file(pid, "uid_map", map, err);
	if (r < 0)
		return r;
	return write_proc_file(pid, "gid_map", map, err);
}

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int pt_proc_starttime(pid_t pid, uint64_t *ret, pt_err *err)
{
	char path[64], buf[1024], *p;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return pt_err_set(err, n < 0 ? -errno : -EIO, "read %s", path);
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return pt_err_set(err, -EBADMSG, "parse %s", path);
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return pt_err_set(err, -EBADMSG, "parse %s", path);
	*ret = strtoull(p + 1, NULL, 10);
	return 0;
}

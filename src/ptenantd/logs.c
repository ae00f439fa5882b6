/* Tenant logs: the daemon drains each tenant's stdout/stderr pipe into a
 * size-capped, rotated file under <tenant>/log/, and serves it to `ptenant
 * logs`. The tenant holds only the pipe's write end, so it can neither
 * pass the cap nor touch what was already written. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"

static void drain(struct tenant *t)
{
	char buf[16384];
	ssize_t n;

	/* Bounded per wakeup so one chatty tenant cannot starve the loop. */
	for (int rounds = 0; rounds < 16; rounds++) {
		n = read(t->log.fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		pt_logfile_write(&t->logfile, buf, (size_t)n, NULL);
	}
}

static void on_log(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, log));

	drain(t);
	if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		logs_detach(d, t);
}

int logs_attach(struct daemon *d, struct tenant *t, int read_fd, pt_err *err)
{
	_cleanup_close_ int dirfd = -1;
	char dir[600];
	int r;

	snprintf(dir, sizeof(dir), "%s/log", t->dir);
	dirfd = open(dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return pt_err_set(err, -errno, "open %s", dir);
	if (t->logfile.fd < 0) {
		r = pt_logfile_open(&t->logfile, dirfd, d->cfg.log_max_bytes,
				    d->cfg.log_keep, err);
		if (r < 0)
			return r;
	}
	if (fcntl(read_fd, F_SETFL, O_NONBLOCK) < 0)
		return pt_err_set(err, -errno, "log pipe nonblocking");
	t->log.fd = read_fd;
	t->log.on_ready = on_log;
	r = loop_add(d, &t->log, EPOLLIN);
	if (r < 0) {
		t->log.fd = -1;
		return pt_err_set(err, r, "watch log pipe");
	}
	return 0;
}

void logs_detach(struct daemon *d, struct tenant *t)
{
	if (t->log.fd < 0)
		return;
	drain(t);
	loop_del(d, &t->log);
	pt_closep(&t->log.fd);
}

/* Logs are whatever bytes a tenant wrote; JSON strings must be UTF-8. */
static json_t *text_value(char *buf, size_t n)
{
	json_t *v = json_stringn(buf, n);

	if (v)
		return v;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] >= 0x80 || buf[i] == '\0')
			buf[i] = '?';
	return json_stringn(buf, n);
}

/* Returns {"data": text, "offset": next} reading current.log from offset
 * (or the last `max` bytes when offset < 0). An offset past the end means
 * the log rotated: start again from 0. */
json_t *logs_read(struct tenant *t, int64_t offset, size_t max, pt_err *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	char path[600];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/log/current.log", t->dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return json_pack("{s:s, s:I}", "data", "", "offset", (json_int_t)0);
	if (fd < 0 || fstat(fd, &st) < 0) {
		pt_err_set(err, -errno, "open %s", path);
		return NULL;
	}
	if (offset < 0)
		offset = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	else if (offset > st.st_size)
		offset = 0;
	buf = malloc(max + 1);
	if (!buf) {
		pt_err_set(err, -ENOMEM, "read log");
		return NULL;
	}
	n = pread(fd, buf, max, offset);
	if (n < 0) {
		pt_err_set(err, -errno, "read %s", path);
		return NULL;
	}
	return json_pack("{s:o, s:I}", "data", text_value(buf, (size_t)n),
			 "offset", (json_int_t)(offset + n));
}

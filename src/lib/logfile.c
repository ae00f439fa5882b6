#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

#define LOG_NAME "current.log"
/* "current.log." plus the digits of the largest keep we accept. */
#define LOG_NAME_MAX 32
#define LOG_KEEP_MAX 1000

static void rotated_name(char *buf, size_t size, unsigned i)
{
	snprintf(buf, size, LOG_NAME ".%u", i);
}

/* Opens current.log under the log directory. O_NOFOLLOW: the directory is
 * ours, but a symlink planted there must not redirect our writes. */
static int open_current(struct pt_logfile *log, pt_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* Not O_APPEND: splice(2) refuses such a target. We are the only
	 * writer and write at log->size. */
	fd = openat(log->dirfd, LOG_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return pt_err_set(err, -errno, "open log " LOG_NAME);
	if (fstat(fd, &st) < 0)
		return pt_err_set(err, -errno, "stat log " LOG_NAME);
	if (!S_ISREG(st.st_mode))
		return pt_err_set(err, -EINVAL, "open log " LOG_NAME);
	log->fd = TAKE_FD(fd);
	log->size = (uint64_t)st.st_size;
	return 0;
}

int pt_logfile_open(struct pt_logfile *log, int dirfd, uint64_t max_bytes,
		    unsigned keep, pt_err *err)
{
	int r;

	/* Armed first, so pt_logfile_close is safe whatever fails below. */
	log->dirfd = -1;
	log->fd = -1;
	log->size = 0;
	log->max_bytes = max_bytes;
	log->keep = keep;
	if (max_bytes == 0 || keep < 1 || keep > LOG_KEEP_MAX)
		return pt_err_set(err, -EINVAL, "open log: max_bytes %llu keep %u",
				  (unsigned long long)max_bytes, keep);

	log->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (log->dirfd < 0)
		return pt_err_set(err, -errno, "dup log directory fd");
	r = open_current(log, err);
	if (r < 0)
		pt_logfile_close(log);
	return r;
}

/* Shifts current.log -> .1 -> ... -> .<keep>, dropping the oldest. A
 * missing rotated file is a gap, not an error (fewer rotations so far). */
static int shift_files(struct pt_logfile *log, pt_err *err)
{
	char from[LOG_NAME_MAX], to[LOG_NAME_MAX];

	rotated_name(to, sizeof(to), log->keep);
	if (unlinkat(log->dirfd, to, 0) < 0 && errno != ENOENT)
		return pt_err_set(err, -errno, "unlink log %s", to);
	for (unsigned i = log->keep; i > 1; i--) {
		rotated_name(from, sizeof(from), i - 1);
		rotated_name(to, sizeof(to), i);
		if (renameat(log->dirfd, from, log->dirfd, to) < 0 &&
		    errno != ENOENT)
			return pt_err_set(err, -errno, "rename log %s to %s",
					  from, to);
	}
	rotated_name(to, sizeof(to), 1);
	if (renameat(log->dirfd, LOG_NAME, log->dirfd, to) < 0 && errno != ENOENT)
		return pt_err_set(err, -errno, "rename log " LOG_NAME " to %s", to);
	return 0;
}

static int rotate(struct pt_logfile *log, pt_err *err)
{
	int r;

	r = shift_files(log, err);
	if (r < 0)
		return r;
	/* The old fd now points at current.log.1; drop it before reopening
	 * so a failed open leaves fd = -1 and the next write retries,
	 * rather than growing .1 past the cap. */
	pt_closep(&log->fd);
	log->size = 0;
	return open_current(log, err);
}

static int write_all(struct pt_logfile *log, const char *p, size_t len,
		     pt_err *err)
{
	while (len > 0) {
		ssize_t n = pwrite(log->fd, p, len, (off_t)log->size);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return pt_err_set(err, -errno, "write log " LOG_NAME);
		}
		if (n == 0)
			return pt_err_set(err, -EIO, "write log " LOG_NAME);
		p += n;
		len -= (size_t)n;
		log->size += (uint64_t)n;
	}
	return 0;
}

/* Room for len more bytes in current.log: reopened if an earlier
 * rotation could not, rotated if len would pass the cap. Returns len, cut
 * to max_bytes, or -errno. */
static ssize_t make_room(struct pt_logfile *log, size_t len, pt_err *err)
{
	int r;

	if (log->dirfd < 0)
		return pt_err_set(err, -EBADF, "write log " LOG_NAME);
	if (len > log->max_bytes)
		len = (size_t)log->max_bytes;
	if (log->fd < 0) {
		r = open_current(log, err);
		if (r < 0)
			return r;
	}
	if (log->size > 0 && log->size + len > log->max_bytes) {
		r = rotate(log, err);
		if (r < 0)
			return r;
	}
	return (ssize_t)len;
}

int pt_logfile_write(struct pt_logfile *log, const void *buf, size_t len,
		     pt_err *err)
{
	ssize_t room;

	if (len == 0)
		return 0;
	room = make_room(log, len, err);
	if (room < 0)
		return (int)room;
	return write_all(log, buf, (size_t)room, err);
}

ssize_t pt_logfile_splice(struct pt_logfile *log, int pipe_fd, size_t len, pt_err *err)
{
	size_t done = 0;
	ssize_t room;

	if (len == 0)
		return 0;
	room = make_room(log, len, err);
	if (room < 0)
		return room;
	while (done < (size_t)room) {
		loff_t off = (loff_t)log->size;
		ssize_t n = splice(pipe_fd, NULL, log->fd, &off, (size_t)room - done,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return pt_err_set(err, -errno, "splice into log " LOG_NAME);
		if (n == 0)
			break;
		done += (size_t)n;
		log->size += (uint64_t)n;
	}
	return (ssize_t)done;
}

void pt_logfile_close(struct pt_logfile *log)
{
	pt_closep(&log->fd);
	pt_closep(&log->dirfd);
}

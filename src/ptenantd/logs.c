/* Tenant logs: the daemon drains each tenant's stdout/stderr pipe into a
 * size-capped, rotated file under <tenant>/log/, and serves it to `ptenant
 * logs`. The tenant holds only the pipe's write end, so it can neither
 * pass the cap nor touch what was already written.
 *
 * What a flood costs: bytes move from the pipe to the file with splice(2),
 * never through our memory, and only as many as the tenant's log budget
 * (a token bucket, logbudget.h) allows. The rest is spliced to /dev/null
 * and counted, and the pipe is then left alone for LOG_PAUSE_MS: a tenant
 * over its budget is looked at ten times a second, whatever it writes,
 * and meanwhile its own writes block on the full pipe (its CPU, its
 * time). Dropping rather than only blocking: a bot whose request path
 * logs must not hang because it logged too much; it loses log lines, not
 * requests. Each episode is marked in the log itself, at its start and
 * with the count at its end, and recorded as events log-limited and
 * log-resumed. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "trace.h"

/* Over budget: the pipe is not read for this long. */
#define LOG_PAUSE_MS 100
/* An episode ends after this long without a drop. */
#define LOG_QUIET_MS 1000
/* The pipe's size: what a tenant can write while we do not read (over
 * budget, or ptenantd restarting) before its writes block. */
#define LOG_PIPE_SIZE (256 * 1024)

static int devnull(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return fd;
}

static void fmt_rate(const struct tenant_logs *l, char *buf, size_t n)
{
	snprintf(buf, n, "%.1fK/s, burst %.1fK", (double)l->budget.rate / 1024,
		 (double)l->budget.burst / 1024);
}

/* A line of ours in the tenant's log, marked as not the tenant's, and
 * on a line of its own even when the tenant's last line was cut off. */
static void log_note(struct tenant *t, const char *text)
{
	char line[256], last = '\n';
	int n;

	if (t->logfile.fd >= 0 && t->logfile.size > 0 &&
	    pread(t->logfile.fd, &last, 1, (off_t)t->logfile.size - 1) != 1)
		last = '\n';
	n = snprintf(line, sizeof(line), "%sptenant: %s\n", last == '\n' ? "" : "\n", text);
	if (n > 0)
		pt_logfile_write(&t->logfile, line, (size_t)n, NULL);
}

static void episode_begin(struct daemon *d, struct tenant *t)
{
	char rate[64], msg[160];

	t->logs.limited = true;
	t->logs.episode_dropped = 0;
	fmt_rate(&t->logs, rate, sizeof(rate));
	snprintf(msg, sizeof(msg), "log budget (%s) spent: output over it is dropped", rate);
	log_note(t, msg);
	tenant_record(d, t, "log-limited", NULL, -1, msg);
}

static void episode_end(struct daemon *d, struct tenant *t)
{
	char rate[64], msg[200];

	t->logs.limited = false;
	fmt_rate(&t->logs, rate, sizeof(rate));
	snprintf(msg, sizeof(msg), "%llu bytes of output dropped over the log budget (%s)",
		 (unsigned long long)t->logs.episode_dropped, rate);
	log_note(t, msg);
	tenant_record(d, t, "log-resumed", NULL, -1, msg);
}

static void pause_pipe(struct daemon *d, struct tenant *t)
{
	loop_del(d, &t->log);
	t->logs.resume_at = now_mono_ms() + LOG_PAUSE_MS;
}

/* Drops n bytes of the pipe (fewer if it has fewer). */
static uint64_t discard(struct tenant *t, uint64_t n)
{
	uint64_t done = 0;

	while (done < n) {
		ssize_t k = splice(t->log.fd, NULL, devnull(), NULL, (size_t)(n - done),
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		done += (uint64_t)k;
	}
	return done;
}

/* Returns false when the pipe was paused (over budget). */
static bool drain_once(struct daemon *d, struct tenant *t, bool *empty)
{
	int avail = 0;
	uint64_t pass, moved = 0, dropped;
	ssize_t n;

	*empty = ioctl(t->log.fd, FIONREAD, &avail) < 0 || avail <= 0;
	if (*empty)
		return true;
	pass = pt_logbudget_take(&t->logs.budget, pt_trace_now_ns(), (uint64_t)avail);
	if (pass) {
		n = pt_logfile_splice(&t->logfile, t->log.fd, (size_t)pass, NULL);
		moved = n > 0 ? (uint64_t)n : 0;
		t->logs.bytes += moved;
	}
	/* Over budget, or the file would not take it (disk full): the pipe
	 * must not stay full of what we will never write. */
	if (moved == (uint64_t)avail)
		return true;
	dropped = discard(t, (uint64_t)avail - moved);
	if (!dropped)
		return true;
	if (!t->logs.limited)
		episode_begin(d, t);
	t->logs.suppressed += dropped;
	t->logs.episode_dropped += dropped;
	t->logs.last_drop_ms = now_mono_ms();
	pause_pipe(d, t);
	return false;
}

static void drain(struct daemon *d, struct tenant *t)
{
	bool empty = false;

	/* Bounded per wakeup so one chatty tenant cannot starve the loop. */
	for (int rounds = 0; rounds < 8 && !empty; rounds++)
		if (!drain_once(d, t, &empty))
			return;
}

static void on_log(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, log));

	drain(d, t);
	if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		logs_detach(d, t);
}

void logs_budget_apply(struct daemon *d, struct tenant *t)
{
	const struct pt_resources *r = &t->spec.resources;
	uint64_t rate = r->log_rate ? r->log_rate : d->cfg.default_log_rate;
	uint64_t burst = r->log_burst ? r->log_burst : d->cfg.default_log_burst;

	if (t->logs.budget.last_ns == 0 && t->logs.budget.burst == 0)
		pt_logbudget_init(&t->logs.budget, rate, burst, pt_trace_now_ns());
	else
		pt_logbudget_set(&t->logs.budget, rate, burst, pt_trace_now_ns());
}

void logs_tick(struct daemon *d, struct tenant *t, uint64_t now_ms)
{
	if (t->logs.resume_at && now_ms >= t->logs.resume_at) {
		t->logs.resume_at = 0;
		if (t->log.fd >= 0 && loop_add(d, &t->log, EPOLLIN) < 0)
			fprintf(stderr, "ptenantd: tenant %s: watch log pipe again: %s\n",
				t->spec.slug, strerror(errno));
	}
	if (t->logs.limited && now_ms >= t->logs.last_drop_ms + LOG_QUIET_MS)
		episode_end(d, t);
}

uint64_t logs_next_deadline(const struct tenant *t)
{
	uint64_t at = t->logs.resume_at;

	if (t->logs.limited && (!at || t->logs.last_drop_ms + LOG_QUIET_MS < at))
		at = t->logs.last_drop_ms + LOG_QUIET_MS;
	return at;
}

json_t *logs_stats(struct daemon *d, struct tenant *t)
{
	(void)d;
	return json_pack("{s:I, s:I, s:I, s:I, s:b}",
			 "bytes", (json_int_t)t->logs.bytes,
			 "suppressed", (json_int_t)t->logs.suppressed,
			 "rate", (json_int_t)t->logs.budget.rate,
			 "burst", (json_int_t)t->logs.budget.burst,
			 "limited", t->logs.limited);
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
	/* Larger than the 64 KiB default: fewer wakeups per byte. Best
	 * effort: a host with a smaller pipe-max-size keeps the default. */
	(void)fcntl(read_fd, F_SETPIPE_SZ, LOG_PIPE_SIZE);
	logs_budget_apply(d, t);
	t->logs.resume_at = 0;
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
	drain(d, t);
	if (!t->logs.resume_at)
		loop_del(d, &t->log);
	t->logs.resume_at = 0;
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

void logs_tail(struct tenant *t, char *buf, size_t size)
{
	json_t *r = logs_read(t, -1, size - 1, NULL);
	const char *data = json_string_value(json_object_get(r, "data"));
	const char *start = data;
	size_t n = data ? strlen(data) : 0;

	buf[0] = '\0';
	/* Whole lines: from the first newline, unless it all fits. */
	if (n == size - 1) {
		const char *nl = memchr(data, '\n', n);

		start = nl ? nl + 1 : data + n;
	}
	if (start)
		snprintf(buf, size, "%s", start);
	json_decref(r);
}

/* Durable file writes on a thread of their own. A start's state save
 * (write, fsync, rename, fsync of the directory) was 1-2 ms of the loop's
 * thread on a quiet disk and up to 10 ms while 100 tenants started; an
 * API call waited behind it. Here the loop formats the file and hands it
 * over; the thread writes it; the loop is told through an eventfd and
 * runs the job's completion in a later round.
 *
 * The thread only makes system calls on memory the job owns: no malloc,
 * no stdio, no fault-injection counters. The daemon clones tenants from
 * the loop's thread while this one runs, and a child copied while this
 * thread held a lock must never need that lock. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "fsutil.h"

struct sync_job {
	struct sync_job *next;
	int dirfd;                 /* the job's own copy */
	int close_fd;              /* syncer_close: only this, no write */
	char name[64];
	char *text;
	size_t len;
	mode_t mode;
	const void *owner;         /* whose file: syncer_pending() */
	void *ctx;                 /* NULL once forgotten */
	syncer_done_fn done;
	int r;
	pt_err err;
};

struct syncer {
	struct watch w;            /* the eventfd: jobs done */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a job queued, or quit */
	pthread_cond_t idle;       /* a job done */
	struct sync_job *queue, **queue_tail;
	struct sync_job *in_flight;
	struct sync_job *done, **done_tail;
	bool quit;
};

static void job_free(struct sync_job *j)
{
	if (!j)
		return;
	pt_closep(&j->dirfd);
	pt_closep(&j->close_fd);
	free(j->text);
	free(j);
}

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct sync_job *j;

		while (!s->queue && !s->quit)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->queue)
			break;
		j = s->queue;
		s->queue = j->next;
		if (!s->queue)
			s->queue_tail = &s->queue;
		j->next = NULL;
		s->in_flight = j;
		pthread_mutex_unlock(&s->lock);

		if (j->close_fd >= 0)
			pt_closep(&j->close_fd);
		else if (j->r == 0) /* else a fault injected at syncer_submit */
			j->r = pt_write_file_atomic_flags(j->dirfd, j->name, j->text, j->len,
							  j->mode, PT_WRITE_NO_FAULTS, &j->err);

		pthread_mutex_lock(&s->lock);
		s->in_flight = NULL;
		*s->done_tail = j;
		s->done_tail = &j->next;
		pthread_cond_broadcast(&s->idle);
		(void)!write(s->w.fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Runs the completions of the jobs done so far, on the loop's thread. */
static void reap(struct daemon *d)
{
	struct syncer *s = d->syncer;
	struct sync_job *list;

	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->lock);
	while (list) {
		struct sync_job *j = list;

		list = j->next;
		if (j->ctx && j->done)
			j->done(d, j->ctx, j->r, &j->err);
		job_free(j);
	}
}

static void on_done(struct daemon *d, struct watch *w, uint32_t events)
{
	uint64_t n;

	(void)events;
	(void)!read(w->fd, &n, sizeof(n));
	reap(d);
}

int syncer_start(struct daemon *d, pt_err *err)
{
	struct syncer *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int r;

	if (!s)
		return pt_err_set(err, -ENOMEM, "allocate the state writer");
	s->queue_tail = &s->queue;
	s->done_tail = &s->done;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->w.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->w.on_ready = on_done;
	if (s->w.fd < 0) {
		r = pt_err_set(err, -errno, "create the state writer's eventfd");
		free(s);
		return r;
	}
	/* Signals are the loop's (signalfd): the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, syncer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		r = loop_add(d, &s->w, EPOLLIN);
	if (r < 0) {
		pt_closep(&s->w.fd);
		free(s);
		return pt_err_set(err, r, "start the state writer thread");
	}
	d->syncer = s;
	return 0;
}

void syncer_stop(struct daemon *d)
{
	struct syncer *s = d->syncer;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL); /* the queue is written first */
	reap(d);
	loop_del(d, &s->w);
	pt_closep(&s->w.fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->idle);
	free(s);
	d->syncer = NULL;
}

static void enqueue(struct syncer *s, struct sync_job *j)
{
	pthread_mutex_lock(&s->lock);
	*s->queue_tail = j;
	s->queue_tail = &j->next;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
}

int syncer_submit(struct daemon *d, int dirfd, const char *name, char *text, mode_t mode,
		  const void *owner, syncer_done_fn done, void *ctx, pt_err *err)
{
	struct syncer *s = d->syncer;
	struct sync_job *j;

	if (!s || strlen(name) >= sizeof(j->name)) {
		free(text);
		return pt_err_set(err, -ENOTSUP, "write %s on the state writer", name);
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		free(text);
		return pt_err_set(err, -ENOMEM, "queue a write of %s", name);
	}
	j->close_fd = -1;
	j->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (j->dirfd < 0) {
		int r = pt_err_set(err, -errno, "queue a write of %s", name);

		j->text = text;
		job_free(j);
		return r;
	}
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->text = text;
	j->len = strlen(text);
	j->mode = mode;
	j->owner = owner;
	j->ctx = ctx;
	j->done = done;
	/* Decided here, on the loop's thread, so that a test's @N counts
	 * the way the daemon's own points do. */
	j->r = PT_FAULT_ERR("syncer.write", &j->err);
	enqueue(s, j);
	return 0;
}

void syncer_close(struct daemon *d, int fd)
{
	struct syncer *s = d->syncer;
	struct sync_job *j = s ? calloc(1, sizeof(*j)) : NULL;

	if (!j) {
		close(fd);
		return;
	}
	j->dirfd = -1;
	j->close_fd = fd;
	enqueue(s, j);
}

static void forget_in(struct sync_job *j, const void *ctx)
{
	for (; j; j = j->next)
		if (j->ctx == ctx)
			j->ctx = NULL;
}

void syncer_forget(struct daemon *d, const void *ctx)
{
	struct syncer *s = d->syncer;

	if (!s || !ctx)
		return;
	pthread_mutex_lock(&s->lock);
	forget_in(s->queue, ctx);
	forget_in(s->in_flight, ctx);
	forget_in(s->done, ctx);
	pthread_mutex_unlock(&s->lock);
}

static bool owned_in(const struct sync_job *j, const void *owner)
{
	for (; j; j = j->next)
		if (j->owner == owner)
			return true;
	return false;
}

/* A synchronous write of the same file must come after the queued one,
 * or the older content would land last: wait for the queue, then run
 * the completions (they may answer callers, as in a loop round). */
void syncer_settle(struct daemon *d, const void *owner)
{
	struct syncer *s = d->syncer;
	bool pending;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	pending = owned_in(s->queue, owner) || owned_in(s->in_flight, owner);
	while (pending && (s->queue || s->in_flight))
		pthread_cond_wait(&s->idle, &s->lock);
	pending = pending || owned_in(s->done, owner);
	pthread_mutex_unlock(&s->lock);
	if (pending)
		reap(d);
}

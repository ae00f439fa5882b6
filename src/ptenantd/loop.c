/* The one event loop: epoll over signalfd, a timerfd, the API socket, and
 * each tenant's pidfd and log pipe. Nothing here blocks for long; the
 * timer is re-armed to the earliest tenant deadline (respawn backoff,
 * stop grace) after every round. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

uint64_t now_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_real_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int loop_add(struct daemon *d, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

/* Also forgets w's events still to be handled in this round: a handler
 * may end another watch's owner (a tenant removed, a start over), whose
 * event fetched in the same epoll_wait must not reach freed memory. */
void loop_del(struct daemon *d, struct watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = 0; i < d->batch_n; i++)
		if (d->batch[i].data.ptr == w)
			d->batch[i].data.ptr = NULL;
}

void loop_rearm_timer(struct daemon *d)
{
	uint64_t next = tenant_next_deadline(d), now = now_mono_ms();
	struct itimerspec its = { 0 };

	if (next) {
		uint64_t in = next > now ? next - now : 1;

		its.it_value.tv_sec = (time_t)(in / 1000);
		its.it_value.tv_nsec = (long)(in % 1000) * 1000000;
	}
	timerfd_settime(d->timer.fd, 0, &its, NULL);
}

static void on_timer(struct daemon *d, struct watch *w, uint32_t events)
{
	uint64_t expirations;

	(void)events;
	(void)!read(w->fd, &expirations, sizeof(expirations));
	tenant_tick(d, now_mono_ms());
}

static void on_signal(struct daemon *d, struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->quit = true;
		else if (si.ssi_signo == SIGHUP)
			fprintf(stderr, "ptenantd: SIGHUP: nothing to reload; restart the service to apply a new config (tenants keep running)\n");
	}
}

int loop_prepare(struct daemon *d)
{
	sigset_t set;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	d->sig.on_ready = on_signal;
	d->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->timer.on_ready = on_timer;
	if (d->sig.fd < 0 || d->timer.fd < 0)
		return -errno;
	if (loop_add(d, &d->sig, EPOLLIN) < 0 || loop_add(d, &d->timer, EPOLLIN) < 0)
		return -errno;
	return 0;
}

int loop_run(struct daemon *d)
{
	struct epoll_event evs[64];

	loop_rearm_timer(d);
	while (!d->quit) {
		bool begin;
		int n;

		/* What this round changed, before sleeping (routes.json, the
		 * trash reaper); not between the steps of a start (a rewrite,
		 * or the reaper's clone, was 0.25 ms of a cold start there):
		 * the loop comes back at once. */
		if (!d->start_staging) {
			routes_flush(d);
			trash_flush(d);
		}
		/* A start's daemon side is one step a round (tenant-start.c):
		 * an API call waits for at most one step of one start; a new
		 * start leaves the queue only while fewer than
		 * spawn_concurrency children set up. */
		begin = tenant_start_can_begin(d);
		n = epoll_wait(d->epfd, evs, 64, begin || standby_idle_wanted(d) ? 0 : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		d->batch = evs;
		d->batch_n = n;
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < n; i++) {
				struct watch *w = evs[i].data.ptr;

				if (w && w->first == (pass == 0)) {
					evs[i].data.ptr = NULL; /* handled */
					w->on_ready(d, w, evs[i].events);
				}
			}
		d->batch_n = 0;
		tenant_tick(d, now_mono_ms());
		if (n == 0 && !begin && standby_idle_wanted(d))
			standby_idle(d);
		tenant_start_queued(d);
		api_reap(d);
		loop_rearm_timer(d);
	}
	return 0;
}

/* Health checks (ptenant-spec(5) "health"): is a running tenant serving?
 *
 * Every check is a step of the daemon's one loop, never a wait in it:
 *   http/tcp  a non-blocking connect to 127.0.0.1:PORT inside the
 *             tenant's network namespace (the socket is made there by a
 *             setns and back, then used from the daemon's thread), and
 *             for http a GET whose status line decides;
 *   exec      the command run like `ptenant exec` (the tenant's
 *             namespaces, cgroup and cage), its exit code deciding, the
 *             tail of its output kept;
 *   notify    whether the tenant said READY=1 in this run.
 * A run is "starting" until a check passes, "healthy" from the first pass
 * (the ready point a rollout waits for), and ended as "unhealthy" after
 * `retries` failures in a row once its start period is over; its restart
 * policy then decides, like for any exit, with the backoff. Checks pause
 * while a tenant is frozen and do not count as activity. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "http-response.h"
#include "spec-health.h"

/* While no check has passed and the start period runs, check at least
 * this often: a rollout waits for the first pass. */
#define START_CADENCE_MS 1000

/* An exec check's helper that was cut off (timeout, the run ended):
 * killed, and reaped here when it is gone. */
struct health_reap {
	struct watch w;
	struct health_reap *next;
};

static const struct pt_health *spec_of(const struct tenant *t)
{
	return &t->spec.health;
}

void health_tenant_init(struct tenant *t)
{
	t->health.check.fd = -1;
	t->health.out.fd = -1;
}

const char *health_status_name(const struct tenant *t)
{
	switch (t->health.status) {
	case HEALTH_STARTING:
		return "starting";
	case HEALTH_HEALTHY:
		return "healthy";
	case HEALTH_UNHEALTHY:
		return "unhealthy";
	case HEALTH_NONE:
	default:
		return NULL;
	}
}

/* ---- reaping cut-off exec helpers ------------------------------------ */

static void reap_free(struct daemon *d, struct health_reap *r)
{
	for (struct health_reap **p = &d->health_reaps; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	loop_del(d, &r->w);
	pt_closep(&r->w.fd);
	free(r);
}

static void on_reap(struct daemon *d, struct watch *w, uint32_t events)
{
	siginfo_t si = { 0 };

	(void)events;
	waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG);
	reap_free(d, (struct health_reap *)w);
}

/* Kills the helper; it is reaped once gone, whoever owns the tenant then. */
static void reap_later(struct daemon *d, int pidfd)
{
	struct health_reap *r = calloc(1, sizeof(*r));

	pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	if (!r) {
		close(pidfd); /* a zombie until ptenantd exits: better than a leak */
		return;
	}
	r->w.fd = pidfd;
	r->w.on_ready = on_reap;
	if (loop_add(d, &r->w, EPOLLIN) < 0) {
		close(pidfd);
		free(r);
		return;
	}
	r->next = d->health_reaps;
	d->health_reaps = r;
}

void health_shutdown(struct daemon *d)
{
	while (d->health_reaps)
		reap_free(d, d->health_reaps);
}

/* ---- the check under way --------------------------------------------- */

static void drop_watch(struct daemon *d, struct watch *w)
{
	if (w->fd < 0)
		return;
	loop_del(d, w);
	pt_closep(&w->fd);
}

/* Ends the check under way without a verdict. */
static void check_drop(struct daemon *d, struct tenant *t)
{
	struct tenant_health *h = &t->health;

	if (h->check.fd >= 0 && spec_of(t)->kind == PT_HEALTH_EXEC) {
		loop_del(d, &h->check);
		reap_later(d, h->check.fd);
		h->check.fd = -1;
	}
	drop_watch(d, &h->check);
	drop_watch(d, &h->out);
	h->sent = false;
	h->got = 0;
}

static bool check_under_way(const struct tenant *t)
{
	return t->health.check.fd >= 0;
}

/* One line, printable: what a check said goes to events and inspect. */
static void set_output(struct tenant_health *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->last_output, sizeof(h->last_output), fmt, ap);
	va_end(ap);
	for (char *p = h->last_output; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = ' ';
}

static uint64_t cadence(const struct tenant *t, uint64_t now)
{
	uint64_t interval = pt_health_interval(spec_of(t));

	if (t->health.status == HEALTH_STARTING && now < t->health.start_until &&
	    interval > START_CADENCE_MS)
		return START_CADENCE_MS;
	return interval;
}

static void become_healthy(struct daemon *d, struct tenant *t, uint64_t now)
{
	struct tenant_health *h = &t->health;
	char msg[300];

	if (h->status == HEALTH_STARTING)
		snprintf(msg, sizeof(msg), "first health check passed %llu ms after start: %s",
			 (unsigned long long)(now - h->run_began), h->last_output);
	else
		snprintf(msg, sizeof(msg), "health check passed again: %s", h->last_output);
	h->status = HEALTH_HEALTHY;
	t->st.healthy_at = now_real_ms();
	tenant_persist(d, t);
	tenant_record(d, t, "healthy", NULL, -1, msg);
}

/* Failed retries in a row: the run is ended, and its exit says why. */
static void end_unhealthy(struct daemon *d, struct tenant *t, uint64_t now)
{
	struct tenant_health *h = &t->health;
	char msg[300];

	h->status = HEALTH_UNHEALTHY;
	snprintf(msg, sizeof(msg), "%u health checks failed in a row; last: %s", h->failures,
		 h->last_output);
	tenant_record(d, t, "unhealthy", "unhealthy", -1, msg);
	idle_thaw_for(d, t, "to be ended as unhealthy");
	h->ending = true;
	h->kill_at = now + d->cfg.stop_grace_ms;
	if (pidfd_send_signal(t->proc.fd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
		h->kill_at = now; /* SIGKILL at the next tick */
}

static void check_done(struct daemon *d, struct tenant *t, bool ok)
{
	struct tenant_health *h = &t->health;
	uint64_t now = now_mono_ms();

	check_drop(d, t);
	h->last_at = now_real_ms();
	h->last_ms = now - h->began;
	if (ok) {
		h->passed++;
		h->failures = 0;
		if (h->status != HEALTH_HEALTHY)
			become_healthy(d, t, now);
		h->next_at = now + cadence(t, now); /* healthy: the interval */
		return;
	}
	h->next_at = now + cadence(t, now);
	h->failed++;
	/* Docker's start period: failures while it boots do not count. */
	if (h->status == HEALTH_STARTING && now < h->start_until)
		return;
	if (++h->failures >= pt_health_retries(spec_of(t)))
		end_unhealthy(d, t, now);
}

/* ---- notify ---------------------------------------------------------- */

/* Readiness only: once it said READY=1 the run stays healthy (a run a
 * new ptenantd adopted said it to the old one: healthy_at kept it). */
static void check_notify(struct daemon *d, struct tenant *t)
{
	bool ok = t->ready || t->health.status == HEALTH_HEALTHY;

	if (ok)
		set_output(&t->health, "READY=1");
	else
		set_output(&t->health, "no READY=1 on its notify socket yet");
	check_done(d, t, ok);
}

/* ---- http and tcp ---------------------------------------------------- */

static uint16_t check_port(struct daemon *d, struct tenant *t)
{
	return spec_of(t)->port ? spec_of(t)->port : routes_tenant_port(d, t);
}

/* A socket in the tenant's network namespace. ptenantd has one thread, so
 * nothing else runs while it stands in the tenant's namespace; failing to
 * step back would leave it answering for the wrong host: abort. */
static int socket_in_tenant(struct daemon *d, struct tenant *t)
{
	int fd, e;

	if (d->netns_fd < 0)
		return -EBADF;
	if (setns(t->proc.fd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	e = errno;
	if (setns(d->netns_fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "ptenantd: cannot return to its own network namespace after a "
			"health check of %s: %s\n", t->spec.slug, strerror(errno));
		abort();
	}
	return fd < 0 ? -e : fd;
}

static void on_check_socket(struct daemon *d, struct watch *w, uint32_t events);

static void check_connect(struct daemon *d, struct tenant *t)
{
	struct tenant_health *h = &t->health;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint16_t port = check_port(d, t);
	int fd;

	if (!port) {
		set_output(h, "no port to check: set the check's port or the spec's port");
		check_done(d, t, false);
		return;
	}
	fd = socket_in_tenant(d, t);
	if (fd < 0) {
		set_output(h, "socket in the tenant's network namespace: %s", strerror(-fd));
		check_done(d, t, false);
		return;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	h->check.fd = fd;
	h->check.on_ready = on_check_socket;
	if ((connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) ||
	    loop_add(d, &h->check, EPOLLOUT) < 0) {
		set_output(h, "connect to port %u: %s", port, strerror(errno));
		check_done(d, t, false);
	}
}

static void http_send(struct daemon *d, struct tenant *t)
{
	struct tenant_health *h = &t->health;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &h->check };
	char req[PT_HEALTH_PATH_MAX + 128];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n"
			 "User-Agent: ptenant-health\r\nConnection: close\r\n\r\n",
			 spec_of(t)->path);

	/* Far less than a socket buffer: all of it goes at once, or the
	 * check fails. */
	if (send(h->check.fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		set_output(h, "send the request on port %u: %s", check_port(d, t), strerror(errno));
		check_done(d, t, false);
		return;
	}
	h->sent = true;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, h->check.fd, &ev);
}

/* "HTTP/1.x NNN reason": 2xx and 3xx pass; the rest of the answer is
 * not read. */
static void http_verdict(struct daemon *d, struct tenant *t, bool eof)
{
	struct tenant_health *h = &t->health;
	size_t line = 0;
	int status = 0, r = pt_http_parse_status_line(h->buf, h->got, &status, &line);

	if (r == -EAGAIN && !eof)
		return; /* more to come */
	if (r == 0) {
		while (line > 0 && (h->buf[line - 1] == '\n' || h->buf[line - 1] == '\r'))
			line--;
		h->buf[line] = '\0';
		set_output(h, "%.120s", h->buf);
		check_done(d, t, status >= 200 && status < 400);
		return;
	}
	h->buf[h->got] = '\0';
	if (h->got == 0)
		set_output(h, "GET %.80s: connection closed before a response", spec_of(t)->path);
	else
		set_output(h, "GET %.80s: not an HTTP response: %.60s", spec_of(t)->path, h->buf);
	check_done(d, t, false);
}

static void on_check_socket(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, health.check));
	struct tenant_health *h = &t->health;
	socklen_t len = sizeof(int);
	ssize_t n;
	int e = 0;

	(void)events;
	if (!h->sent) {
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e) {
			set_output(h, "connect to port %u: %s", check_port(d, t), strerror(e));
			check_done(d, t, false);
		} else if (spec_of(t)->kind == PT_HEALTH_TCP) {
			set_output(h, "port %u accepts connections", check_port(d, t));
			check_done(d, t, true);
		} else {
			http_send(d, t);
		}
		return;
	}
	n = recv(w->fd, h->buf + h->got, sizeof(h->buf) - 1 - h->got, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		set_output(h, "GET %.80s: %s", spec_of(t)->path, strerror(errno));
		check_done(d, t, false);
		return;
	}
	h->got += (size_t)n;
	http_verdict(d, t, n == 0);
}

/* ---- exec ------------------------------------------------------------ */

/* Keeps the last bytes of its output: the end says why it failed. */
static void on_exec_output(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, health.out));
	struct tenant_health *h = &t->health;
	char chunk[1024];
	ssize_t n;

	(void)events;
	while ((n = read(w->fd, chunk, sizeof(chunk))) > 0) {
		size_t keep = sizeof(h->buf) - 1, k = (size_t)n;

		if (k >= keep) {
			memcpy(h->buf, chunk + k - keep, keep);
			h->got = keep;
		} else {
			if (h->got + k > keep) {
				memmove(h->buf, h->buf + (h->got + k - keep), keep - k);
				h->got = keep - k;
			}
			memcpy(h->buf + h->got, chunk, k);
			h->got += k;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		drop_watch(d, w);
}

static void on_exec_exit(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, health.check));
	struct tenant_health *h = &t->health;
	siginfo_t si = { 0 };
	int code = -1;

	if (waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	if (h->out.fd >= 0)
		on_exec_output(d, &h->out, events);
	code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	loop_del(d, w);
	pt_closep(&w->fd); /* reaped: nothing left to kill */
	while (h->got && (h->buf[h->got - 1] == '\n' || h->buf[h->got - 1] == ' '))
		h->got--;
	h->buf[h->got] = '\0';
	set_output(h, "exit %d%s%s", code, h->got ? ": " : "",
		   h->buf + (h->got > 150 ? h->got - 150 : 0));
	check_done(d, t, code == 0);
}

static void check_exec(struct daemon *d, struct tenant *t)
{
	struct tenant_health *h = &t->health;
	_cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int pipefd[2], stdio[3], pidfd;
	pt_err err = { 0 };

	if (devnull < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		set_output(h, "make its output pipe: %s", strerror(errno));
		check_done(d, t, false);
		return;
	}
	stdio[0] = devnull;
	stdio[1] = stdio[2] = pipefd[1];
	pidfd = exec_spawn(d, t, spec_of(t)->exec, stdio, &err);
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	h->out.fd = pipefd[0];
	h->out.on_ready = on_exec_output;
	if (pidfd < 0) {
		set_output(h, "%s", err.msg);
		check_done(d, t, false);
		return;
	}
	h->check.fd = pidfd;
	h->check.on_ready = on_exec_exit;
	if (loop_add(d, &h->out, EPOLLIN) < 0)
		pt_closep(&h->out.fd); /* its output is lost, not its verdict */
	if (loop_add(d, &h->check, EPOLLIN) < 0) {
		set_output(h, "watch its helper: %s", strerror(errno));
		check_done(d, t, false);
	}
}

/* ---- the schedule ---------------------------------------------------- */

static void check_begin(struct daemon *d, struct tenant *t, uint64_t now)
{
	struct tenant_health *h = &t->health;

	h->began = now;
	h->deadline = now + pt_health_timeout(spec_of(t));
	h->got = 0;
	h->sent = false;
	switch (spec_of(t)->kind) {
	case PT_HEALTH_NOTIFY:
		check_notify(d, t);
		break;
	case PT_HEALTH_HTTP:
	case PT_HEALTH_TCP:
		check_connect(d, t);
		break;
	case PT_HEALTH_EXEC:
		check_exec(d, t);
		break;
	case PT_HEALTH_NONE:
	default:
		break;
	}
}

void health_run_begun(struct daemon *d, struct tenant *t, bool adopted)
{
	struct tenant_health *h = &t->health;
	uint64_t now = now_mono_ms();

	check_drop(d, t);
	h->failures = 0;
	h->ending = false;
	h->last_output[0] = '\0';
	h->run_began = now;
	if (spec_of(t)->kind == PT_HEALTH_NONE) {
		h->status = HEALTH_NONE;
		t->st.healthy_at = 0;
		return;
	}
	/* A new ptenantd keeps the verdict the old one reached for this run. */
	if (adopted && t->st.healthy_at) {
		h->status = HEALTH_HEALTHY;
	} else {
		h->status = HEALTH_STARTING;
		t->st.healthy_at = 0;
	}
	h->start_until = now + spec_of(t)->start_period_ms;
	/* The first check soon: a bot that serves at once is ready at once. */
	h->next_at = now + (h->status == HEALTH_STARTING ? 100 : pt_health_interval(spec_of(t)));
}

void health_run_ended(struct daemon *d, struct tenant *t)
{
	check_drop(d, t);
	t->health.ending = false;
	if (t->health.status != HEALTH_NONE)
		t->health.status = HEALTH_STARTING;
	t->st.healthy_at = 0;
}

bool health_ended_run(const struct tenant *t, char *buf, size_t n)
{
	if (!t->health.ending)
		return false;
	snprintf(buf, n, "unhealthy: %u health checks failed in a row; last: %s",
		 t->health.failures, t->health.last_output);
	return true;
}

void health_tick(struct daemon *d, struct tenant *t, uint64_t now)
{
	struct tenant_health *h = &t->health;

	if (spec_of(t)->kind == PT_HEALTH_NONE)
		return;
	if (t->phase != PHASE_RUNNING || t->st.idle != PT_IDLE_AWAKE || t->freezing) {
		/* Stopping, or frozen: a frozen bot cannot answer. */
		if (check_under_way(t))
			check_drop(d, t);
		return;
	}
	if (h->ending) {
		if (now >= h->kill_at) {
			pidfd_send_signal(t->proc.fd, SIGKILL, NULL, 0);
			h->kill_at = now + 60000; /* and wait for its pidfd */
		}
		return;
	}
	if (check_under_way(t) && now >= h->deadline) {
		char took[32];

		pt_duration_format(pt_health_timeout(spec_of(t)), took, sizeof(took));
		set_output(h, "no answer within %s", took);
		check_done(d, t, false);
	} else if (!check_under_way(t) && now >= h->next_at) {
		check_begin(d, t, now);
	}
}

uint64_t health_next_deadline(const struct tenant *t)
{
	const struct tenant_health *h = &t->health;

	if (spec_of(t)->kind == PT_HEALTH_NONE || t->phase != PHASE_RUNNING ||
	    t->st.idle != PT_IDLE_AWAKE || t->freezing)
		return 0;
	if (h->ending)
		return h->kill_at;
	return check_under_way(t) ? h->deadline : h->next_at;
}

void health_inspect(struct tenant *t, json_t *info)
{
	const struct pt_health *s = spec_of(t);
	struct tenant_health *h = &t->health;
	json_t *o;

	if (s->kind == PT_HEALTH_NONE)
		return;
	o = json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:s}",
		      "kind", pt_health_kind_name(s->kind),
		      "status", health_status_name(t) ? health_status_name(t) : "starting",
		      "failures", (int)h->failures, "retries", (int)pt_health_retries(s),
		      "interval_ms", (json_int_t)pt_health_interval(s),
		      "passed", (json_int_t)h->passed, "failed", (json_int_t)h->failed,
		      "last_check_ms", (json_int_t)h->last_ms, "last_output", h->last_output);
	if (o && h->last_at)
		json_object_set_new(o, "last_check_at", json_integer((json_int_t)h->last_at));
	if (o && t->st.healthy_at)
		json_object_set_new(o, "healthy_at", json_integer((json_int_t)t->st.healthy_at));
	if (o)
		json_object_set_new(info, "health", o);
}

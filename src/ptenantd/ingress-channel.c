/* The ingress channel: runtime_dir/ingress.sock, ptenant-ingress(8)'s
 * only way into the daemon (it never gets the control API).
 *
 * It accepts two messages (src/lib/ingress-msg.h): "wake SLUG", answered
 * "ready SLUG" once the tenant runs and its port accepts (or "fail SLUG
 * why", recorded as a wake-failed incident), and "active SLUG", which
 * restarts the tenant's idle clock. So a compromised ingress can at most
 * keep tenants awake or wake them: it cannot stop, create, read or change
 * one. The socket is owned by ingress_user (mode 0600; root only when
 * unset), a peer's uid is checked again at accept, there are at most
 * PEERS_MAX peers, each bounded in message rate, and a malformed or
 * excess message is dropped and counted, never answered. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "ingress-msg.h"
#include "netconf.h"

#define PEERS_MAX 8
#define PEER_RATE 20000              /* messages a second per peer */
#define WAKES_MAX 4096
#define PROBE_RETRY_MS 20
#define BAD_LOG_MS 60000

struct ingress_peer {
	struct watch w;
	struct ingress_peer *next;
	uint64_t window;             /* monotonic s of the rate window */
	unsigned in_window;
};

struct wake {
	struct wake *next;
	char slug[PT_SLUG_MAX + 1];
	struct ingress_peer *peers[PEERS_MAX];
	size_t n_peers;
	uint64_t deadline;           /* monotonic ms */
	uint64_t asked_us;           /* monotonic us: the first ask (metrics) */
	uint64_t retry_at;           /* next probe, monotonic ms */
	struct watch probe;          /* connecting to the tenant's port */
};

static void send_msg(struct ingress_peer *p, const struct pt_ingress_msg *m)
{
	char buf[PT_INGRESS_MSG_MAX + 1];
	int n = pt_ingress_msg_format(m, buf, sizeof(buf));

	/* Never blocks: an ingress that does not read loses its answers and
	 * times out on its own. */
	if (n > 0 && send(p->w.fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		fprintf(stderr, "ptenantd: ingress channel: answer \"%.*s\" lost: %s\n", n, buf,
			strerror(errno));
}

static void reply(struct ingress_peer *p, enum pt_ingress_msg_kind kind, const char *slug,
		  const char *reason)
{
	struct pt_ingress_msg m = { .kind = kind };

	snprintf(m.slug, sizeof(m.slug), "%s", slug);
	snprintf(m.reason, sizeof(m.reason), "%s", reason ? reason : "");
	send_msg(p, &m);
}

static void probe_close(struct daemon *d, struct wake *w)
{
	if (w->probe.fd < 0)
		return;
	loop_del(d, &w->probe);
	pt_closep(&w->probe.fd);
}

/* Answers every peer waiting on w and forgets it. */
static void wake_finish(struct daemon *d, struct wake *w, const char *fail)
{
	struct tenant *t = tenant_find(d, w->slug);

	for (size_t i = 0; i < w->n_peers; i++)
		reply(w->peers[i], fail ? PT_MSG_FAIL : PT_MSG_READY, w->slug, fail);
	if (fail && t)
		tenant_record(d, t, "wake-failed", NULL, -1, fail);
	if (!fail && t) {
		t->wakes++;
		metrics_observe_wake(d, t, now_mono_us() - w->asked_us);
	}
	probe_close(d, w);
	for (struct wake **pp = &d->wakes; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w);
}

static void on_probe(struct daemon *d, struct watch *pw, uint32_t events)
{
	struct wake *w = (struct wake *)((char *)pw - offsetof(struct wake, probe));
	socklen_t len = sizeof(int);
	int e = 0;

	(void)events;
	if (getsockopt(pw->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e == 0) {
		wake_finish(d, w, NULL);
		return;
	}
	probe_close(d, w);
	w->retry_at = now_mono_ms() + PROBE_RETRY_MS;
}

/* One connect to the tenant's port, from the daemon's network namespace
 * (the one its address is routed in): the wake is over when it accepts. */
static void probe_start(struct daemon *d, struct wake *w, struct tenant *t)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint16_t port = routes_tenant_port(d, t);
	int fd;

	if (!t->net.addr || !port) {
		wake_finish(d, w, NULL); /* nothing to probe: running is ready */
		return;
	}
	sa.sin_addr.s_addr = htonl(t->net.addr);
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		w->retry_at = now_mono_ms() + PROBE_RETRY_MS;
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		wake_finish(d, w, NULL);
		return;
	}
	if (errno != EINPROGRESS) {
		close(fd);
		w->retry_at = now_mono_ms() + PROBE_RETRY_MS;
		return;
	}
	w->probe.fd = fd;
	w->probe.on_ready = on_probe;
	if (loop_add(d, &w->probe, EPOLLOUT) < 0) {
		pt_closep(&w->probe.fd);
		w->retry_at = now_mono_ms() + PROBE_RETRY_MS;
	}
}

/* Where a wake stands now: goes on, probes, or ends. */
static void wake_step(struct daemon *d, struct wake *w, uint64_t now)
{
	struct tenant *t = tenant_find(d, w->slug);
	char why[PT_INGRESS_REASON_MAX + 1], dur[24];

	if (!t) {
		wake_finish(d, w, "the tenant was removed");
		return;
	}
	if (t->phase == PHASE_STARTING || w->probe.fd >= 0) {
		/* its start, or a probe, is under way */
	} else if (t->phase == PHASE_RUNNING && t->st.idle == PT_IDLE_AWAKE && !t->freezing) {
		idle_activity(t); /* someone waits for it: not idle */
		/* A bot that says READY=1 is ready when it says so. */
		if (routes_tenant_notifies(d, t)) {
			if (t->ready) {
				wake_finish(d, w, NULL);
				return;
			}
		} else if (now >= w->retry_at) {
			probe_start(d, w, t);
			return;
		}
	} else {
		snprintf(why, sizeof(why), "tenant %s is %s%s%s", t->spec.slug,
			 tenant_state_name(t), t->last_error[0] ? ": " : "", t->last_error);
		wake_finish(d, w, why);
		return;
	}
	if (now >= w->deadline) {
		pt_duration_format(idle_wake_timeout(d, t), dur, sizeof(dur));
		snprintf(why, sizeof(why), "tenant %s did not %s within its wake_timeout %s",
			 t->spec.slug, t->phase == PHASE_STARTING ? "start"
				: routes_tenant_notifies(d, t) ? "say READY=1 on its notify socket"
				: "accept a connection on its port", dur);
		wake_finish(d, w, why);
	}
}

static struct wake *wake_find(struct daemon *d, const char *slug)
{
	for (struct wake *w = d->wakes; w; w = w->next)
		if (strcmp(w->slug, slug) == 0)
			return w;
	return NULL;
}

static size_t wakes_count(const struct daemon *d)
{
	size_t n = 0;

	for (const struct wake *w = d->wakes; w; w = w->next)
		n++;
	return n;
}

static void on_wake(struct daemon *d, struct ingress_peer *p, const char *slug)
{
	struct tenant *t = tenant_find(d, slug);
	struct wake *w = wake_find(d, slug);
	pt_err err = { 0 };

	if (!t) {
		reply(p, PT_MSG_FAIL, slug, "no such tenant");
		return;
	}
	if (!w) {
		if (wakes_count(d) >= WAKES_MAX) {
			reply(p, PT_MSG_FAIL, slug, "too many wakes under way");
			return;
		}
		if (idle_wake(d, t, "a request through the ingress", NULL, &err) < 0) {
			tenant_record(d, t, "wake-failed", NULL, err.code, err.msg);
			reply(p, PT_MSG_FAIL, slug, err.msg);
			return;
		}
		w = calloc(1, sizeof(*w));
		if (!w) {
			reply(p, PT_MSG_FAIL, slug, "out of memory");
			return;
		}
		snprintf(w->slug, sizeof(w->slug), "%s", slug);
		w->probe.fd = -1;
		w->deadline = now_mono_ms() + idle_wake_timeout(d, t);
		w->asked_us = now_mono_us();
		w->next = d->wakes;
		d->wakes = w;
	}
	for (size_t i = 0; i < w->n_peers; i++)
		if (w->peers[i] == p)
			goto step;
	w->peers[w->n_peers++] = p; /* at most PEERS_MAX peers exist */
step:
	wake_step(d, w, now_mono_ms());
}

static void on_active(struct daemon *d, const char *slug)
{
	struct tenant *t = tenant_find(d, slug);

	if (!t)
		return;
	/* A request that reached a tenant being frozen (routes.json said
	 * running a moment ago) thaws it: activity is activity. */
	if (t->phase == PHASE_RUNNING && (t->st.idle == PT_IDLE_FROZEN || t->freezing))
		idle_wake(d, t, "a request through the ingress", NULL, NULL);
	else
		idle_activity(t);
}

static void count_bad(struct daemon *d, const char *what)
{
	uint64_t now = now_mono_ms();

	d->ingress_bad++;
	if (!d->ingress_bad_logged_at || now - d->ingress_bad_logged_at >= BAD_LOG_MS) {
		fprintf(stderr, "ptenantd: ingress channel: %s dropped (%llu refused so far; "
			"logged at most once a minute)\n", what, (unsigned long long)d->ingress_bad);
		d->ingress_bad_logged_at = now;
	}
}

static void peer_close(struct daemon *d, struct ingress_peer *p)
{
	for (struct wake *w = d->wakes; w; w = w->next)
		for (size_t i = 0; i < w->n_peers; i++)
			if (w->peers[i] == p) {
				w->peers[i] = w->peers[--w->n_peers];
				break;
			}
	loop_del(d, &p->w);
	pt_closep(&p->w.fd);
	for (struct ingress_peer **pp = &d->ingress_peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	d->n_ingress_peers--;
	free(p);
}

static bool over_rate(struct ingress_peer *p)
{
	uint64_t sec = now_mono_ms() / 1000;

	if (sec != p->window) {
		p->window = sec;
		p->in_window = 0;
	}
	return ++p->in_window > PEER_RATE;
}

static void on_peer(struct daemon *d, struct watch *pw, uint32_t events)
{
	struct ingress_peer *p = (struct ingress_peer *)pw;
	char buf[PT_INGRESS_MSG_MAX + 1];

	/* A bounded batch a round: one peer cannot hold the loop. */
	for (int i = 0; i < 64; i++) {
		struct pt_ingress_msg m;
		ssize_t n = recv(pw->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			peer_close(d, p);
			return;
		}
		if (over_rate(p))
			count_bad(d, "a message over the rate limit");
		else if ((size_t)n > PT_INGRESS_MSG_MAX ||
			 pt_ingress_msg_parse(buf, (size_t)n, true, &m) < 0)
			count_bad(d, "a malformed message");
		else if (m.kind == PT_MSG_WAKE)
			on_wake(d, p, m.slug);
		else if (m.kind == PT_MSG_SERVED)
			usage_served(d, m.slug, m.count); /* metering only: "active" says the rest */
		else
			on_active(d, m.slug);
	}
	(void)events;
}

static bool peer_allowed(const struct daemon *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || (d->ingress_uid != (uid_t)-1 && cred.uid == d->ingress_uid);
}

static void on_accept(struct daemon *d, struct watch *lw, uint32_t events)
{
	(void)events;
	for (int i = 0; i < 8; i++) {
		int fd = accept4(lw->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ingress_peer *p;

		if (fd < 0)
			return;
		if (d->n_ingress_peers >= PEERS_MAX || !peer_allowed(d, fd) ||
		    !(p = calloc(1, sizeof(*p)))) {
			count_bad(d, "a connection (peer limit, uid, or memory)");
			close(fd);
			continue;
		}
		p->w.fd = fd;
		p->w.on_ready = on_peer;
		p->w.first = true; /* a wake is what a waiting visitor waits on */
		if (loop_add(d, &p->w, EPOLLIN) < 0) {
			close(fd);
			free(p);
			continue;
		}
		p->next = d->ingress_peers;
		d->ingress_peers = p;
		d->n_ingress_peers++;
	}
}

static uid_t resolve_user(const char *name)
{
	struct passwd *pw;

	if (!name[0])
		return (uid_t)-1;
	pw = getpwnam(name);
	if (!pw || pw->pw_uid == 0) {
		fprintf(stderr, "ptenantd: ingress_user %s %s: the ingress channel is root-only\n",
			name, pw ? "is root" : "does not exist");
		return (uid_t)-1;
	}
	return pw->pw_uid;
}

int ingress_listen(struct daemon *d, pt_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	d->ingress_listener.fd = -1;
	d->ingress_uid = resolve_user(d->cfg.ingress_user);
	if (snprintf(d->ingress_path, sizeof(d->ingress_path), "%s/ingress.sock",
		     d->cfg.runtime_dir) >= (int)sizeof(sa.sun_path))
		return pt_err_set(err, -ENAMETOOLONG, "socket path %s/ingress.sock",
				  d->cfg.runtime_dir);
	strcpy(sa.sun_path, d->ingress_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pt_err_set(err, -errno, "socket for %s", d->ingress_path);
	unlink(d->ingress_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return pt_err_set(err, -errno, "bind %s", d->ingress_path);
	if (chmod(d->ingress_path, 0600) < 0 ||
	    (d->ingress_uid != (uid_t)-1 && chown(d->ingress_path, d->ingress_uid, 0) < 0))
		return pt_err_set(err, -errno, "set owner of %s", d->ingress_path);
	if (listen(fd, 8) < 0)
		return pt_err_set(err, -errno, "listen on %s", d->ingress_path);
	d->ingress_listener.fd = TAKE_FD(fd);
	d->ingress_listener.on_ready = on_accept;
	d->ingress_listener.first = true;
	return loop_add(d, &d->ingress_listener, EPOLLIN);
}

void ingress_shutdown(struct daemon *d)
{
	while (d->wakes)
		wake_finish(d, d->wakes, "ptenantd is stopping");
	while (d->ingress_peers)
		peer_close(d, d->ingress_peers);
	if (d->ingress_listener.fd >= 0) {
		loop_del(d, &d->ingress_listener);
		pt_closep(&d->ingress_listener.fd);
		unlink(d->ingress_path);
	}
}

void ingress_start_settled(struct daemon *d, struct tenant *t)
{
	struct wake *w = wake_find(d, t->spec.slug);

	if (w)
		wake_step(d, w, now_mono_ms());
}

void ingress_tick(struct daemon *d, uint64_t now)
{
	for (struct wake *w = d->wakes, *next; w; w = next) {
		next = w->next;
		wake_step(d, w, now);
	}
}

uint64_t ingress_next_deadline(const struct daemon *d)
{
	uint64_t next = 0;

	for (const struct wake *w = d->wakes; w; w = w->next) {
		deadline_earliest(&next, w->probe.fd < 0 && w->retry_at && w->retry_at < w->deadline
					 ? w->retry_at : w->deadline);
	}
	return next;
}

void ingress_inspect(struct daemon *d, json_t *info)
{
	json_object_set_new(info, "ingress_channel", json_pack("{s:s, s:i, s:I, s:I}",
		"socket", d->ingress_path, "peers", (int)d->n_ingress_peers,
		"wakes", (json_int_t)wakes_count(d), "refused", (json_int_t)d->ingress_bad));
}

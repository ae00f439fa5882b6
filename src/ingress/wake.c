/* The ingress's end of ptenantd's ingress channel (RUNTIME_DIR/
 * ingress.sock, src/lib/ingress-msg.h): "wake SLUG" for a frozen or
 * asleep tenant, "active SLUG" while it is used; the daemon answers
 * wakes with "ready SLUG" or "fail SLUG why". The channel is optional:
 * without it, running tenants are served as ever and a sleeping one gets
 * 503. Reconnected once a second when the daemon restarts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ingress-msg.h"
#include "ingress.h"

#define RECONNECT_MS 1000

static void wake_drop(struct ingress *in, const char *why)
{
	struct wake_channel *w = &in->wake;

	if (w->end.fd < 0)
		return;
	epoll_ctl(in->epfd, EPOLL_CTL_DEL, w->end.fd, NULL);
	close(w->end.fd);
	w->end.fd = -1;
	w->retry_at = ingress_now_ms() + RECONNECT_MS;
	fprintf(stderr, "ptenant-ingress: wake channel %s: %s; sleeping tenants get 503 until "
		"it is back\n", w->path, why);
	/* Held requests cannot be answered by a daemon we no longer hear. */
	for (size_t b = 0; b < SLOT_BUCKETS; b++)
		for (struct slot *s = in->slots[b]; s; s = s->next)
			if (s->waking)
				proxy_wake_done(in, s, "the wake channel to ptenantd closed");
}

void wake_connect(struct ingress *in)
{
	struct wake_channel *w = &in->wake;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->end };
	int fd;

	if (!w->path[0] || w->end.fd >= 0 || ingress_now_ms() < w->retry_at)
		return;
	w->retry_at = ingress_now_ms() + RECONNECT_MS;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w->path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!w->complained)
			fprintf(stderr, "ptenant-ingress: wake channel %s: %s; retrying every second\n",
				w->path, strerror(errno));
		w->complained = true;
		close(fd);
		return;
	}
	if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	w->end.fd = fd;
	w->complained = false;
	fprintf(stderr, "ptenant-ingress: wake channel %s: connected\n", w->path);
}

static int send_text(struct ingress *in, const char *buf, int n)
{
	if (in->wake.end.fd < 0)
		return -ENOTCONN;
	if (send(in->wake.end.fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		int e = errno;

		if (e == EAGAIN)
			return -EAGAIN; /* the daemon is busy; the caller retries later */
		wake_drop(in, strerror(e));
		return -e;
	}
	return 0;
}

int wake_send(struct ingress *in, const char *kind, const char *slug)
{
	char buf[PT_INGRESS_MSG_MAX + 1];
	int n = snprintf(buf, sizeof(buf), "%s %s", kind, slug);

	return send_text(in, buf, n);
}

int wake_send_served(struct ingress *in, const char *slug, unsigned count)
{
	struct pt_ingress_msg m = { .kind = PT_MSG_SERVED, .count = count };
	char buf[PT_INGRESS_MSG_MAX + 1];
	int n;

	snprintf(m.slug, sizeof(m.slug), "%s", slug);
	n = pt_ingress_msg_format(&m, buf, sizeof(buf));
	return n < 0 ? n : send_text(in, buf, n);
}

void wake_ready(struct ingress *in, uint32_t events)
{
	char buf[PT_INGRESS_MSG_MAX + 1];

	for (int i = 0; i < 64; i++) {
		struct pt_ingress_msg m;
		ssize_t n = recv(in->wake.end.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		struct slot *s;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			wake_drop(in, n == 0 ? "ptenantd closed it" : strerror(errno));
			return;
		}
		if ((size_t)n > PT_INGRESS_MSG_MAX || pt_ingress_msg_parse(buf, (size_t)n, false, &m) < 0) {
			fprintf(stderr, "ptenant-ingress: wake channel: a malformed answer dropped\n");
			continue;
		}
		s = slot_get(in, m.slug);
		if (s && s->waking)
			proxy_wake_done(in, s, m.kind == PT_MSG_READY ? NULL : m.reason);
	}
	(void)events;
}

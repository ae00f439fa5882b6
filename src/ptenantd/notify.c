/* The tenant's notify socket: NOTIFY_SOCKET=/run/ptenant/notify in its
 * environment, a datagram socket the daemon bound in a small tmpfs of the
 * tenant's (rootfs-premade.c), the sd_notify(3) protocol. READY=1 says it
 * serves; BUSY=1 ... BUSY=0 holds it awake around background work (the
 * idle stages wait, idle.c).
 *
 * The tenant's code writes here, so it is read like any untrusted input:
 * datagrams of at most PT_NOTIFY_MSG_MAX bytes, parsed strictly
 * (src/lib/notify-msg.c), at most NOTIFY_RATE a second acted upon; the
 * rest is counted and dropped, and a tenant that floods it is not read at
 * all for a second (its datagrams wait in the socket's bounded queue, its
 * sends fail), so it costs the daemon a bounded share of its loop. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "notify-msg.h"
#include "rootfs-premade.h"

#define NOTIFY_RATE 100              /* datagrams a second acted upon */
#define NOTIFY_FLOOD (10 * NOTIFY_RATE) /* beyond this in a second: a pause */
#define NOTIFY_PAUSE_MS 1000
#define NOTIFY_BATCH 32              /* datagrams read in one loop round */

void notify_detach(struct daemon *d, struct tenant *t)
{
	if (t->notify.fd >= 0) {
		if (!t->notify_paused_at)
			loop_del(d, &t->notify);
		pt_closep(&t->notify.fd);
	}
	t->notify_paused_at = 0;
	t->busy = false;
	t->ready = false;
}

static void on_notify(struct daemon *d, struct watch *w, uint32_t events);

void notify_attach(struct daemon *d, struct tenant *t, int fd)
{
	notify_detach(d, t);
	if (fd < 0)
		return;
	t->notify.fd = fd;
	t->notify.on_ready = on_notify;
	if (loop_add(d, &t->notify, EPOLLIN) < 0)
		pt_closep(&t->notify.fd);
}

/* At most NOTIFY_RATE a second are acted upon; a flood pauses reading. */
static bool over_rate(struct daemon *d, struct tenant *t, uint64_t now)
{
	if (now / 1000 != t->notify_window) {
		t->notify_window = now / 1000;
		t->notify_in_window = 0;
	}
	if (++t->notify_in_window <= NOTIFY_RATE)
		return false;
	if (t->notify_in_window > NOTIFY_FLOOD && !t->notify_paused_at) {
		loop_del(d, &t->notify);
		t->notify_paused_at = now;
		tenant_record(d, t, "notify-flood", NULL, -1, "more than 1000 notify datagrams in "
			      "a second: not read for a second");
	}
	return true;
}

static void apply(struct daemon *d, struct tenant *t, const struct pt_notify_msg *m)
{
	if (m->ready && !t->ready) {
		t->ready = true;
		t->ready_at = now_real_ms();
		tenant_record(d, t, "ready", NULL, -1, "READY=1 on its notify socket");
		ingress_start_settled(d, t); /* a wake may wait for this */
	}
	if (m->busy == 1)
		t->busy = true;
	else if (m->busy == 0 && t->busy) {
		t->busy = false;
		idle_activity(t); /* idle from the end of its work, not its start */
	}
}

static void on_notify(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = (struct tenant *)((char *)w - offsetof(struct tenant, notify));
	char buf[PT_NOTIFY_MSG_MAX + 1];
	uint64_t now = now_mono_ms();

	(void)events;
	for (int i = 0; i < NOTIFY_BATCH && !t->notify_paused_at; i++) {
		struct pt_notify_msg m;
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			return; /* EAGAIN: all read */
		if (over_rate(d, t, now) || (size_t)n > PT_NOTIFY_MSG_MAX ||
		    pt_notify_parse(buf, (size_t)n, &m) < 0) {
			t->notify_ignored++;
			continue;
		}
		t->notify_msgs++;
		t->notify_ignored += m.ignored;
		apply(d, t, &m);
	}
}

void notify_tick(struct daemon *d, struct tenant *t, uint64_t now)
{
	if (t->notify_paused_at && now >= t->notify_paused_at + NOTIFY_PAUSE_MS) {
		t->notify_paused_at = 0;
		if (loop_add(d, &t->notify, EPOLLIN) < 0)
			pt_closep(&t->notify.fd);
	}
}

uint64_t notify_next_deadline(const struct tenant *t)
{
	return t->notify_paused_at ? t->notify_paused_at + NOTIFY_PAUSE_MS : 0;
}

/* A tenant adopted after a daemon restart: the last daemon's socket died
 * with it, so a new one is bound where the tenant looks for it. The path
 * is resolved inside the tenant's root with no symlink followed (the
 * tenant owns that tree), and the socket is made writable by umask, not
 * chmod, so nothing is ever done to a name the tenant could swap. */
void notify_adopt(struct daemon *d, struct tenant *t)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int root = -1, dir = -1;
	char path[64];
	pt_err err = { 0 };
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)t->st.pid);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0)
		dir = (int)syscall(SYS_openat2, root, "run/ptenant", &how, sizeof(how));
	if (dir < 0) {
		fprintf(stderr, "ptenantd: tenant %s: no /run/ptenant to bind its notify socket "
			"in (%s); it runs without one until it restarts\n", t->spec.slug,
			strerror(errno));
		return;
	}
	fd = pt_notify_bind_at(dir, &err);
	if (fd < 0) {
		fprintf(stderr, "ptenantd: tenant %s: %s\n", t->spec.slug, err.msg);
		return;
	}
	notify_attach(d, t, fd);
}

void notify_inspect(struct tenant *t, json_t *info)
{
	json_object_set_new(info, "notify", json_pack("{s:s, s:b, s:b, s:I, s:I}",
		"socket", PT_NOTIFY_SOCKET, "ready", t->ready, "busy", t->busy,
		"messages", (json_int_t)t->notify_msgs, "ignored", (json_int_t)t->notify_ignored));
}

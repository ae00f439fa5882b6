/* The control API socket: accept, authenticate by SO_PEERCRED, read one
 * request line at a time (bounded), dispatch, write the response. A
 * request may be answered later (stop waits for the exit, exec for the
 * command): the connection then stays parked until conn_reply. */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "cleanup.h"
#include "daemon.h"

struct conn {
	struct watch w;
	struct pt_linebuf in;
	char *out;
	size_t out_len, out_off;
	struct ucred peer;
	bool pending;                    /* a reply is owed later */
	bool closed;                     /* peer gone; freed when no reply is owed */
	bool live;                       /* in d->live_conns, counted in d->n_conns */
	size_t held;                     /* its share of d->held */
	int fds[PT_API_MAX_FDS];
	size_t n_fds;
	void *job;                       /* a deferred operation (exec) */
	void (*job_cancel)(struct daemon *d, void *job);
	uint64_t req_at_us;              /* monotonic us: the request being answered */
	struct conn *next_live;
	struct conn *next_dead;
};

void conn_set_job(struct conn *c, void *job,
		  void (*cancel)(struct daemon *d, void *job))
{
	c->job = job;
	c->job_cancel = cancel;
	c->pending = true;
}

void conn_defer(struct conn *c)
{
	c->pending = true;
}

bool conn_is_root(const struct conn *c)
{
	return c->peer.uid == 0;
}

int conn_take_fds(struct conn *c, int *fds, size_t n)
{
	if (c->n_fds != n)
		return -EBADF;
	memcpy(fds, c->fds, n * sizeof(int));
	c->n_fds = 0;
	return 0;
}

static void drop_fds(struct conn *c)
{
	for (size_t i = 0; i < c->n_fds; i++)
		close(c->fds[i]);
	c->n_fds = 0;
}

static void conn_free(struct conn *c)
{
	drop_fds(c);
	pt_linebuf_free(&c->in);
	free(c->out);
	pt_closep(&c->w.fd);
	free(c);
}

static void forget_waiter(struct daemon *d, struct conn *c)
{
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];

		for (size_t k = 0; k < t->n_waiters; k++)
			if (t->waiters[k] == c)
				t->waiters[k--] = t->waiters[--t->n_waiters];
	}
}

static void unlink_live(struct daemon *d, struct conn *c)
{
	for (struct conn **p = &d->live_conns; *p; p = &(*p)->next_live)
		if (*p == c) {
			*p = c->next_live;
			break;
		}
	c->live = false;
	d->n_conns--;
}

/* Freed at the end of the loop round, so no caller up the stack is left
 * holding a dangling pointer. */
static void conn_close(struct daemon *d, struct conn *c)
{
	if (c->closed)
		return;
	if (c->live)
		unlink_live(d, c);
	loop_del(d, &c->w);
	c->closed = true;
	d->held -= c->held;
	c->held = 0;
	forget_waiter(d, c);
	if (c->job && c->job_cancel)
		c->job_cancel(d, c->job);
	c->job = NULL;
	c->next_dead = d->dead_conns;
	d->dead_conns = c;
}

void api_reap(struct daemon *d)
{
	while (d->dead_conns) {
		struct conn *c = d->dead_conns;

		d->dead_conns = c->next_dead;
		conn_free(c);
	}
}

static void flush_out(struct daemon *d, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = &c->w };

			epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
			return;
		}
		if (n < 0) {
			conn_close(d, c);
			return;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

void conn_reply(struct daemon *d, struct conn *c, json_t *resp)
{
	char *text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	size_t len;
	char *nb;

	json_decref(resp);
	c->pending = false;
	c->job = NULL;
	if (c->req_at_us) {
		metrics_observe(d, METRICS_API, now_mono_us() - c->req_at_us);
		c->req_at_us = 0;
	}
	if (c->closed) {
		free(text);
		return;
	}
	if (!text)
		text = strdup("{\"ok\":false,\"error\":{\"kind\":\"io\",\"message\":\"out of memory\"}}");
	if (!text)
		return;
	len = strlen(text);
	nb = realloc(c->out, c->out_len + len + 1);
	if (!nb) {
		free(text);
		return;
	}
	memcpy(nb + c->out_len, text, len);
	nb[c->out_len + len] = '\n';
	c->out = nb;
	c->out_len += len + 1;
	free(text);
	drop_fds(c);
	flush_out(d, c);
}

void conn_reply_error(struct daemon *d, struct conn *c, const pt_err *err)
{
	conn_reply(d, c, pt_api_error_response(err));
}

static void keep_fds(struct conn *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			if (c->n_fds < PT_API_MAX_FDS)
				c->fds[c->n_fds++] = fds[i];
			else
				close(fds[i]);
		}
	}
}

static void handle_line(struct daemon *d, struct conn *c, char *line, size_t len)
{
	const char *op = NULL;
	pt_err err = { 0 };
	json_t *req = NULL;

	c->req_at_us = now_mono_us();
	if (pt_api_parse_request(line, len, &req, &op, &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	api_dispatch(d, c, op, req);
	json_decref(req);
}

static void process_lines(struct daemon *d, struct conn *c)
{
	char *line;
	size_t len;

	/* One request at a time: the next waits until the reply is sent. */
	while (!c->pending && !c->closed && pt_linebuf_pop(&c->in, &line, &len) == 1) {
		handle_line(d, c, line, len);
		free(line);
	}
}

/* Accounts for the connection holding `pending` unfinished bytes; -EBUSY
 * when its share over PT_API_HELD_FREE does not fit in what all share. */
static int hold(struct daemon *d, struct conn *c, size_t pending, pt_err *err)
{
	size_t want = pending > PT_API_HELD_FREE ? pending - PT_API_HELD_FREE : 0;

	if (want > c->held && d->held - c->held + want > PT_API_HELD_MAX)
		return pt_err_field(err, -EBUSY, "", "ptenantd already holds %d MiB of "
				    "unfinished requests, its limit; try again later",
				  PT_API_HELD_MAX / (1024 * 1024));
	d->held = d->held - c->held + want;
	c->held = want;
	return 0;
}

/* The bytes of data go into the connection's buffer, within its limits;
 * otherwise it is answered with the reason and closed. */
static bool take_bytes(struct daemon *d, struct conn *c, const char *data, size_t n)
{
	pt_err err = { 0 };
	int r = hold(d, c, c->in.len + n, &err);

	if (r == 0 && pt_linebuf_feed(&c->in, data, n) < 0)
		r = pt_err_field(&err, -E2BIG, "", "request longer than %d bytes",
				 PT_API_LINE_MAX);
	if (r < 0) {
		conn_reply_error(d, c, &err);
		conn_close(d, c);
		return false;
	}
	return true;
}

static void on_conn(struct daemon *d, struct watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)w;
	char buf[65536], cbuf[CMSG_SPACE(sizeof(int) * PT_API_MAX_FDS)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	if (events & EPOLLOUT) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

		epoll_ctl(d->epfd, EPOLL_CTL_MOD, w->fd, &ev);
		flush_out(d, c);
		return;
	}
	n = recvmsg(w->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(d, c);
		return;
	}
	keep_fds(c, &mh);
	if (!take_bytes(d, c, buf, (size_t)n))
		return;
	process_lines(d, c);
	/* A buffer grown for one large request is not kept for the next. */
	if (!c->in.len)
		pt_linebuf_free(&c->in);
	if (!c->closed)
		hold(d, c, c->in.len, NULL);
}

static bool peer_allowed(struct daemon *d, int fd, struct ucred *cred)
{
	gid_t groups[256];
	socklen_t len = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return false;
	if (cred->uid == 0)
		return true;
	if (d->api_gid == (gid_t)-1)
		return false;
	if (cred->gid == d->api_gid)
		return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == d->api_gid)
			return true;
	return false;
}

/* A peer that may not use the API, or one connection too many: one error
 * line, sent at once into the fresh socket's empty buffer, then closed. */
static bool refuse(struct daemon *d, struct conn *c)
{
	pt_err err = { 0 };

	if (!peer_allowed(d, c->w.fd, &c->peer)) {
		if (d->api_gid == (gid_t)-1 && d->cfg.api_group[0])
			pt_err_field(&err, -EACCES, "", "uid %u may not use ptenantd: its API is "
				     "root-only (its api_group %s does not exist)", c->peer.uid,
				     d->cfg.api_group);
		else if (d->api_gid == (gid_t)-1)
			pt_err_field(&err, -EACCES, "", "uid %u may not use ptenantd: its API is "
				     "root-only (api_group is empty)", c->peer.uid);
		else
			pt_err_field(&err, -EACCES, "", "uid %u may not use ptenantd: root and "
				     "members of group %s only", c->peer.uid, d->cfg.api_group);
	} else if (d->n_conns >= PT_API_CONNS_MAX) {
		pt_err_field(&err, -EBUSY, "", "ptenantd serves at most %d API connections at "
			     "once; try again later", PT_API_CONNS_MAX);
	} else {
		return false;
	}
	conn_reply_error(d, c, &err);
	conn_close(d, c);
	return true;
}

static void on_accept(struct daemon *d, struct watch *w, uint32_t events)
{
	(void)events;
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct conn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->w.fd = fd;
		c->w.on_ready = on_conn;
		c->w.first = true;
		pt_linebuf_init(&c->in, PT_API_LINE_MAX);
		if (refuse(d, c))
			continue;
		if (loop_add(d, &c->w, EPOLLIN) < 0) {
			conn_free(c);
			continue;
		}
		c->live = true;
		d->n_conns++;
		c->next_live = d->live_conns;
		d->live_conns = c;
	}
}

void api_shutdown(struct daemon *d)
{
	while (d->live_conns)
		conn_close(d, d->live_conns);
	api_reap(d);
}

int api_listen(struct daemon *d, pt_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(d->socket_path) >= sizeof(sa.sun_path))
		return pt_err_set(err, -ENAMETOOLONG, "socket path %s", d->socket_path);
	strcpy(sa.sun_path, d->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pt_err_set(err, -errno, "socket");
	unlink(d->socket_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return pt_err_set(err, -errno, "bind %s", d->socket_path);
	/* 0660 root:<api_group>: the group is the whole access policy. */
	if (chmod(d->socket_path, d->api_gid == (gid_t)-1 ? 0600 : 0660) < 0 ||
	    (d->api_gid != (gid_t)-1 && chown(d->socket_path, 0, d->api_gid) < 0))
		return pt_err_set(err, -errno, "set owner of %s", d->socket_path);
	if (listen(fd, 128) < 0)
		return pt_err_set(err, -errno, "listen on %s", d->socket_path);
	d->listener.fd = TAKE_FD(fd);
	d->listener.on_ready = on_accept;
	d->listener.first = true;
	return loop_add(d, &d->listener, EPOLLIN);
}

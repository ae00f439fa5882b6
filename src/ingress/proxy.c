/* One request per client connection: read and check the head, find the
 * tenant in routes.json, connect to the address found there (never one
 * from the request), send the rewritten head, then relay bytes both ways
 * through two bounded buffers. A full buffer stops reading from the side
 * that fills it (backpressure); an empty one stops writing. The tenant's
 * connection carries this one client only, so whatever the client sends
 * after the head can reach that tenant and no other. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "ingress.h"

#define IN_CAP (PT_HTTP_HEAD_MAX + 1024) /* the head grows by < 1 KiB */

static void set_events(struct ingress *in, struct end *e, uint32_t want)
{
	struct epoll_event ev = { .events = want, .data.ptr = e };
	int op = !want ? EPOLL_CTL_DEL : e->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	/* Not in the set when nothing is wanted: epoll would still report
	 * HUP/ERR of a half-dead socket, over and over. */
	if (want == e->events || e->fd < 0)
		return;
	if (epoll_ctl(in->epfd, op, e->fd, &ev) < 0)
		fprintf(stderr, "ptenant-ingress: epoll_ctl: %s\n", strerror(errno));
	e->events = want;
}

static void conn_end(struct ingress *in, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	close(c->client.fd);
	if (c->backend.fd >= 0)
		close(c->backend.fd);
	c->client.fd = c->backend.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		in->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = in->dead;
	in->dead = c;
	in->n_conns--;
}

void proxy_reap(struct ingress *in)
{
	while (in->dead) {
		struct conn *c = in->dead;

		in->dead = c->next;
		free(c->in.data);
		free(c->out.data);
		free(c);
	}
}

static void log_line(const struct conn *c, const char *what)
{
	fprintf(stderr, "ptenant-ingress: %s %s %s\n", c->peer, c->host[0] ? c->host : "-", what);
}

/* Answers the client with status and a one-line text body, then drains
 * what it still sends until it closes or LINGER_MS: closing with unread
 * bytes would reset the connection and lose the answer. */
__attribute__((format(printf, 4, 5)))
static void refuse(struct ingress *in, struct conn *c, int status, const char *fmt, ...)
{
	char body[400], line[480];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	n = snprintf(c->out.data, c->out.cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "X-Content-Type-Options: nosniff\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     status, pt_http_reason(status), strlen(body) + 1, body);
	c->out.off = 0;
	c->out.len = n > 0 && (size_t)n < c->out.cap ? (size_t)n : 0;
	snprintf(line, sizeof(line), "%d %s", status, body);
	log_line(c, line);
	if (c->backend.fd >= 0) {
		set_events(in, &c->backend, 0);
		close(c->backend.fd);
		c->backend.fd = -1;
	}
	c->phase = C_REFUSE;
	c->deadline = ingress_now_ms() + LINGER_MS;
}

static int start_connect(struct ingress *in, struct conn *c, const struct route *rt)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &rt->addr.sin_addr, addr, sizeof(addr));
	snprintf(c->backend_name, sizeof(c->backend_name), "%s:%u", addr,
		 (unsigned)ntohs(rt->addr.sin_port));
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&rt->addr, sizeof(rt->addr)) < 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;

		close(fd);
		return e;
	}
	c->backend.fd = fd;
	c->phase = C_CONNECT;
	c->deadline = ingress_now_ms() + CONNECT_TIMEOUT_MS;
	set_events(in, &c->backend, EPOLLOUT);
	return 0;
}

/* The head is in, valid: find the tenant and queue the rewritten head. */
static void route_request(struct ingress *in, struct conn *c, const struct pt_http_req *req)
{
	char fwd[IN_CAP];
	size_t rest = c->in.len - req->head_len;
	struct route rt;
	int n, r;

	snprintf(c->host, sizeof(c->host), "%s", req->slug);
	r = routes_lookup(&in->routes, req->slug, &rt);
	if (r == -ENOENT)
		return refuse(in, c, 404, "no tenant %s at %s", req->slug, in->domain);
	if (r == -EIO)
		return refuse(in, c, 503, "no routes available (the ingress log says why)");
	if (r < 0)
		return refuse(in, c, 502, "the route of tenant %s is malformed", req->slug);
	if (!rt.running)
		return refuse(in, c, 503, "tenant %s is %s", req->slug, rt.state);
	n = pt_http_forward_head(req, c->peer, fwd, sizeof(fwd));
	if (n < 0 || (size_t)n + rest > c->in.cap)
		return refuse(in, c, 431, "request head too large to forward");
	/* Body bytes that came with the head follow the rewritten head. */
	memmove(c->in.data + n, c->in.data + req->head_len, rest);
	memcpy(c->in.data, fwd, (size_t)n);
	c->in.len = (size_t)n + rest;
	c->in.off = 0;
	r = start_connect(in, c, &rt);
	if (r < 0)
		refuse(in, c, 502, "cannot connect to tenant %s: %s", req->slug, strerror(-r));
}

static void read_head(struct ingress *in, struct conn *c)
{
	struct pt_http_req req;
	pt_err err = { 0 };
	int status, r;
	ssize_t n = recv(c->client.fd, c->in.data + c->in.len, PT_HTTP_HEAD_MAX - c->in.len, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return conn_end(in, c); /* gone before a whole head: nothing to answer */
	c->in.len += (size_t)n;
	r = pt_http_parse_head(c->in.data, c->in.len, in->domain, &req, &status, &err);
	if (r == -EAGAIN)
		return;
	if (r < 0)
		return refuse(in, c, status, "%s", err.msg);
	route_request(in, c, &req);
}

static void connected(struct ingress *in, struct conn *c)
{
	int e = 0;
	socklen_t len = sizeof(e);
	char line[96];

	if (getsockopt(c->backend.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e)
		return refuse(in, c, 502, "tenant %s is not answering on %s: %s", c->host,
			      c->backend_name, strerror(e));
	snprintf(line, sizeof(line), "-> %s", c->backend_name);
	log_line(c, line);
	c->phase = C_RELAY;
	c->deadline = ingress_now_ms() + IDLE_TIMEOUT_MS;
}

/* Moves bytes from fd into b, setting *eof at the end; false on error. */
static bool fill(int fd, struct buf *b, bool *eof)
{
	ssize_t n;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len == b->cap && b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	n = recv(fd, b->data + b->len, b->cap - b->len, 0);
	if (n > 0)
		b->len += (size_t)n;
	else if (n == 0)
		*eof = true;
	return n >= 0 || errno == EAGAIN || errno == EINTR;
}

/* Moves bytes from b to fd; false on error. */
static bool drain(int fd, struct buf *b)
{
	ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);

	if (n > 0)
		b->off += (size_t)n;
	return n >= 0 || errno == EAGAIN || errno == EINTR;
}

static bool pending(const struct buf *b)
{
	return b->off < b->len;
}

static void relay(struct ingress *in, struct conn *c, struct end *e, uint32_t events)
{
	bool ok = true, client = e == &c->client;
	struct buf *rb = client ? &c->in : &c->out;
	bool *eof = client ? &c->client_eof : &c->backend_eof;

	/* Only with room: recv into zero bytes would read as an EOF. */
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !*eof &&
	    (rb->len < rb->cap || rb->off > 0))
		ok = fill(e->fd, rb, eof);
	if (ok && (events & EPOLLOUT))
		ok = client ? drain(c->client.fd, &c->out) : drain(c->backend.fd, &c->in);
	if (!ok)
		return conn_end(in, c);
	/* Half-closes travel on once the bytes before them have. */
	if (c->client_eof && !pending(&c->in) && !c->backend_shut) {
		shutdown(c->backend.fd, SHUT_WR);
		c->backend_shut = true;
	}
	/* The tenant is done and the client has it all: one request per
	 * connection, so nothing is left to carry. */
	if (c->backend_eof && !pending(&c->out))
		return conn_end(in, c);
	c->deadline = ingress_now_ms() + IDLE_TIMEOUT_MS;
}

static void on_refuse(struct ingress *in, struct conn *c, uint32_t events)
{
	char sink[4096];

	if ((events & EPOLLOUT) && !drain(c->client.fd, &c->out))
		return conn_end(in, c);
	if (!pending(&c->out) && !c->client_shut) {
		shutdown(c->client.fd, SHUT_WR);
		c->client_shut = true;
	}
	if (c->client_shut && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = recv(c->client.fd, sink, sizeof(sink), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_end(in, c);
	}
}

static void update_interest(struct ingress *in, struct conn *c)
{
	uint32_t cl = 0, be = 0;

	switch (c->phase) {
	case C_HEAD:
		cl = EPOLLIN;
		break;
	case C_CONNECT:
		be = EPOLLOUT;
		break;
	case C_RELAY:
		cl = (!c->client_eof && c->in.len < c->in.cap ? EPOLLIN : 0) |
		     (pending(&c->out) ? EPOLLOUT : 0);
		be = (!c->backend_eof && c->out.len < c->out.cap ? EPOLLIN : 0) |
		     (pending(&c->in) && !c->backend_shut ? EPOLLOUT : 0);
		break;
	case C_REFUSE:
	default:
		cl = pending(&c->out) ? EPOLLOUT : EPOLLIN;
		break;
	}
	set_events(in, &c->client, cl);
	set_events(in, &c->backend, be);
}

void proxy_ready(struct ingress *in, struct end *e, uint32_t events)
{
	struct conn *c = e->c;

	if (c->dead)
		return;
	switch (c->phase) {
	case C_HEAD:
		read_head(in, c);
		break;
	case C_CONNECT:
		if (e == &c->backend)
			connected(in, c);
		break;
	case C_RELAY:
		relay(in, c, e, events);
		break;
	case C_REFUSE:
	default:
		on_refuse(in, c, events);
		break;
	}
	if (!c->dead)
		update_interest(in, c);
}

/* Past the connection cap: a best-effort answer, no state kept. */
static void refuse_at_cap(int fd)
{
	static const char msg[] =
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
		"Content-Length: 33\r\nConnection: close\r\n\r\n"
		"too many connections; try again\n";

	(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static struct conn *conn_new(struct ingress *in, int fd, const struct sockaddr_storage *ss)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c || !(c->in.data = malloc(IN_CAP)) || !(c->out.data = malloc(RELAY_BUF))) {
		if (c)
			free(c->in.data);
		free(c);
		return NULL;
	}
	c->in.cap = IN_CAP;
	c->out.cap = RELAY_BUF;
	c->client = (struct end){ .fd = fd, .c = c };
	c->backend = (struct end){ .fd = -1, .c = c };
	c->deadline = ingress_now_ms() + HEAD_TIMEOUT_MS;
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, c->peer, sizeof(c->peer));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, c->peer, sizeof(c->peer));
	c->next = in->conns;
	if (in->conns)
		in->conns->prev = c;
	in->conns = c;
	in->n_conns++;
	set_events(in, &c->client, EPOLLIN);
	return c;
}

void proxy_accept(struct ingress *in)
{
	/* Bounded per round, so a flood cannot starve the connections we have. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(in->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "ptenant-ingress: accept: %s\n", strerror(errno));
			return;
		}
		if (in->n_conns >= INGRESS_MAX_CONNS) {
			fprintf(stderr, "ptenant-ingress: %d connections open: 503 to a new one\n",
				INGRESS_MAX_CONNS);
			refuse_at_cap(fd);
		} else if (!conn_new(in, fd, &ss)) {
			fprintf(stderr, "ptenant-ingress: out of memory for a connection\n");
			close(fd);
		}
	}
}

void proxy_expire(struct ingress *in, uint64_t now)
{
	for (struct conn *c = in->conns, *next; c; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		if (c->phase == C_HEAD)
			refuse(in, c, 408, "no complete request head within %d s", HEAD_TIMEOUT_MS / 1000);
		else if (c->phase == C_CONNECT)
			refuse(in, c, 504, "tenant %s did not accept a connection within %d s", c->host,
			       CONNECT_TIMEOUT_MS / 1000);
		else
			conn_end(in, c); /* idle relay, or a refused client still lingering */
		if (!c->dead)
			update_interest(in, c);
	}
}

/* A client connection's life: its request heads, read and checked; the
 * tenant found in routes.json (the address comes from there, never from
 * the request); a request held while its tenant wakes; the connection to
 * the tenant; refusals; timeouts. Moving a request's and its response's
 * bytes is relay.c's.
 *
 * Every request gets a connection of its own to its tenant, closed when
 * the response is over: whatever a client or a tenant sends beyond the
 * framing both agreed on cannot reach another request, let alone another
 * tenant. The client's connection is kept for its next request when both
 * its request and the response said where they end. */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingress.h"

static void hold_remove(struct ingress *in, struct conn *c);

void set_events(struct ingress *in, struct end *e, uint32_t want)
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

static void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

int buf_alloc(struct buf *b, size_t cap)
{
	if (b->data)
		return 0;
	b->data = malloc(cap);
	if (!b->data)
		return -ENOMEM;
	b->cap = cap;
	b->off = b->len = 0;
	return 0;
}

/* The tenant's side of the request is over: its connection closes and it
 * no longer counts against the tenant's cap. */
static void release_held(struct ingress *in, struct slot *s);

void backend_close(struct ingress *in, struct conn *c)
{
	backend_done(in, c, false);
}

void backend_done(struct ingress *in, struct conn *c, bool reuse)
{
	struct slot *rs = c->released_by;

	if (c->backend.fd >= 0) {
		set_events(in, &c->backend, 0);
		if (!reuse || !c->slot || !pool_put(in, c->slot, c->backend.fd, &c->route.addr))
			close(c->backend.fd);
		c->backend.fd = -1;
	}
	c->backend.events = 0;
	if (c->slot) {
		c->slot->conns--;
		c->slot = NULL;
	}
	if (rs) {
		c->released_by = NULL;
		rs->releasing--;
		release_held(in, rs);
	}
}

void conn_end(struct ingress *in, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->phase == C_WAKE)
		hold_remove(in, c);
	backend_close(in, c);
	client_close(in, c);
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
	pool_reap(in);
	while (in->dead) {
		struct conn *c = in->dead;

		in->dead = c->next;
		free(c->in.data);
		free(c->out.data);
		free(c);
	}
}

/* Request log lines (access, refusals) are gathered and written once per
 * loop round (log_flush): one write for many requests under load. */
static char logbuf[64 * 1024];
static size_t loglen;

void log_flush(void)
{
	for (size_t off = 0; off < loglen;) {
		ssize_t n = write(STDERR_FILENO, logbuf + off, loglen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a log that cannot be written is not the clients' problem */
		off += (size_t)n;
	}
	loglen = 0;
}

__attribute__((format(printf, 1, 2)))
static void log_request(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (loglen > sizeof(logbuf) - 2048)
		log_flush();
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
	va_end(ap);
	if (n > 0)
		loglen += (size_t)n < sizeof(logbuf) - loglen ? (size_t)n : sizeof(logbuf) - loglen - 1;
}

/* The access log (ptenant-ingress(8), LOGS): one line per request. */
void access_log(const struct conn *c, int status)
{
	log_request("ptenant-ingress: access %s %s \"%s\" %d %llu %llu wake=%s\n", c->peer,
		c->host[0] ? c->host : "-", c->request[0] ? c->request : "-", status,
		(unsigned long long)c->bytes_out,
		(unsigned long long)(c->started ? ingress_now_ms() - c->started : 0),
		c->woke ? "yes" : "no");
}

/* Answers the client with status and a one-line text body, then drains
 * what it still sends until it closes or LINGER_MS: closing with unread
 * bytes would reset the connection and lose the answer. retry_after (s)
 * adds a Retry-After header when not 0. */
static void answer(struct ingress *in, struct conn *c, int status, const char *headers,
		   const char *body);

__attribute__((format(printf, 5, 6)))
void refuse(struct ingress *in, struct conn *c, int status, unsigned retry_after,
	    const char *fmt, ...)
{
	char body[400], retry[48] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (retry_after)
		snprintf(retry, sizeof(retry), "Retry-After: %u\r\n", retry_after);
	answer(in, c, status, retry, body);
}

/* The reply of refuse, and of a redirect: headers are whole lines. */
static void answer(struct ingress *in, struct conn *c, int status, const char *headers,
		   const char *body)
{
	size_t cap = 1024 + strlen(headers);
	int n;

	if (c->phase == C_WAKE)
		hold_remove(in, c);
	backend_close(in, c);
	free(c->out.data);
	c->out = (struct buf){ 0 };
	if (buf_alloc(&c->out, cap) < 0)
		return conn_end(in, c);
	n = snprintf(c->out.data, c->out.cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "X-Content-Type-Options: nosniff\r\n%sContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     status, pt_http_reason(status), headers, strlen(body) + 1, body);
	c->out.len = n > 0 && (size_t)n < c->out.cap ? (size_t)n : 0;
	c->bytes_out = c->out.len;
	log_request("ptenant-ingress: %s %s %d %s\n", c->peer, c->host[0] ? c->host : "-", status,
		    body);
	access_log(c, status);
	c->phase = C_REFUSE;
	c->deadline = ingress_now_ms() + LINGER_MS;
}

/* An idle connection to the tenant, if its pool has one: the exchange
 * starts at once. */
static bool reuse_connection(struct ingress *in, struct conn *c, struct slot *s)
{
	int fd = pool_take(in, s, &c->route.addr);

	if (fd < 0)
		return false;
	if (buf_alloc(&c->out, RELAY_OUT_CAP) < 0) {
		close(fd);
		return false;
	}
	c->backend = (struct end){ .fd = fd, .c = c };
	c->slot = s;
	s->conns++;
	c->phase = C_RELAY;
	c->client_rx = c->backend_rx = ingress_now_ms();
	slot_request(in, s, c->client_rx);
	return true;
}

static int start_connect(struct ingress *in, struct conn *c)
{
	char addr[INET_ADDRSTRLEN];
	struct slot *s = slot_get(in, c->host);
	int fd;

	inet_ntop(AF_INET, &c->route.addr.sin_addr, addr, sizeof(addr));
	snprintf(c->backend_name, sizeof(c->backend_name), "%s:%u", addr,
		 (unsigned)ntohs(c->route.addr.sin_port));
	if (s && c->fwd_mode != PT_FWD_UPGRADE && reuse_connection(in, c, s))
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || !s) {
		if (fd >= 0)
			close(fd);
		return fd < 0 ? -errno : -ENOMEM;
	}
	if (connect(fd, (const struct sockaddr *)&c->route.addr, sizeof(c->route.addr)) < 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;

		close(fd);
		return e;
	}
	c->backend = (struct end){ .fd = fd, .c = c };
	c->slot = s;
	s->conns++;
	c->phase = C_CONNECT;
	c->deadline = ingress_now_ms() + CONNECT_TIMEOUT_MS;
	slot_request(in, s, ingress_now_ms());
	return 0;
}

static void connect_or_refuse(struct ingress *in, struct conn *c)
{
	int r = start_connect(in, c);

	if (r < 0)
		refuse(in, c, 502, 0, "cannot connect to tenant %s: %s", c->host, strerror(-r));
}

static void hold_remove(struct ingress *in, struct conn *c)
{
	struct slot *s = c->held_in;

	if (!s)
		return;
	for (struct conn **pp = &s->held; *pp; pp = &(*pp)->held_next)
		if (*pp == c) {
			*pp = c->held_next;
			s->n_held--;
			in->n_held--;
			break;
		}
	c->held_next = NULL;
	c->held_in = NULL;
}

/* The request waits for its tenant's wake (wake.c asks; proxy_wake_done
 * ends it), within bounds: per tenant and in total. */
static void hold(struct ingress *in, struct conn *c, struct slot *s)
{
	if (in->wake.end.fd < 0)
		return refuse(in, c, 503, WAKE_RETRY_AFTER_S, "tenant %s is %s and the ingress "
			      "cannot reach ptenantd to wake it", c->host, c->route.state);
	if (s->n_held >= HOLD_MAX_PER_TENANT || in->n_held >= HOLD_MAX)
		return refuse(in, c, 503, WAKE_RETRY_AFTER_S, "tenant %s is waking; too many "
			      "requests already wait for it", c->host);
	if (!s->waking && !c->route.running) {
		if (wake_send(in, "wake", s->slug) < 0)
			return refuse(in, c, 503, WAKE_RETRY_AFTER_S, "tenant %s is %s and its wake "
				      "could not be asked for", c->host, c->route.state);
		s->waking = true;
		s->wake_deadline = ingress_now_ms() + c->route.wake_timeout_ms + 1000;
	}
	/* In arrival order: the first to come is the first to go. */
	struct conn **tail = &s->held;

	while (*tail)
		tail = &(*tail)->held_next;
	c->held_next = NULL;
	*tail = c;
	c->held_in = s;
	s->n_held++;
	in->n_held++;
	c->woke = true;
	c->phase = C_WAKE;
	c->deadline = ingress_now_ms() + c->route.wake_timeout_ms + 2000;
}

/* Lets held requests go on, WAKE_BURST in flight at a time; each one
 * over lets the next go (backend_close). */
static void release_held(struct ingress *in, struct slot *s)
{
	struct conn *c;

	if (s->in_release)
		return; /* the loop below goes on */
	s->in_release = true;
	while (!s->waking && s->releasing < WAKE_BURST && (c = s->held)) {
		hold_remove(in, c);
		c->phase = C_HEAD; /* out of the list; what comes next sets it */
		c->released_by = s;
		s->releasing++;
		connect_or_refuse(in, c);
		if (!c->dead)
			update_interest(in, c);
	}
	s->in_release = false;
}

void proxy_wake_done(struct ingress *in, struct slot *s, const char *why)
{
	struct conn *c;

	s->waking = false;
	if (!why)
		return release_held(in, s);
	while ((c = s->held)) {
		hold_remove(in, c);
		c->phase = C_HEAD;
		refuse(in, c, 503, WAKE_RETRY_AFTER_S, "tenant %s could not be woken: %s", c->host, why);
		if (!c->dead)
			update_interest(in, c);
	}
}

/* http = redirect: the same URL over HTTPS, 308 so a POST stays a POST
 * (a webhook's sender follows it with its body). No tenant is looked up
 * or woken. */
static void redirect_https(struct ingress *in, struct conn *c, const struct pt_http_req *req)
{
	char headers[PT_HTTP_LINE_MAX + 512], port[8] = "";
	bool origin_form = req->target_len && req->target[0] == '/';
	int n;

	if (in->https_port != 443)
		snprintf(port, sizeof(port), ":%u", (unsigned)in->https_port);
	n = snprintf(headers, sizeof(headers), "Location: https://%s.%s%s%.*s\r\n", req->slug,
		     in->conf->domains[req->domain].name, port,
		     origin_form ? (int)req->target_len : 1, origin_form ? req->target : "/");
	if (n < 0 || (size_t)n >= sizeof(headers))
		return refuse(in, c, 414, 0, "request target too long to redirect");
	answer(in, c, 308, headers, "use https://");
}

/* The head is in, valid: find the tenant, rewrite the head in place, and
 * connect, or hold it for a wake. */
static void route_request(struct ingress *in, struct conn *c, const struct pt_http_req *req)
{
	char fwd[PT_HTTP_HEAD_MAX + 1024];
	size_t rest = c->in.len - req->head_len;
	bool upgrade = pt_http_req_upgrade(req, NULL, NULL);
	struct slot *s;
	ssize_t body;
	pt_err err = { 0 };
	int n, r;

	snprintf(c->host, sizeof(c->host), "%s", req->slug);
	snprintf(c->request, sizeof(c->request), "%.*s %.*s", (int)req->method_len, req->method,
		 (int)(req->target_len > 64 ? 64 : req->target_len), req->target);
	c->started = ingress_now_ms();
	c->keep_alive = pt_http_req_keep_alive(req) && !upgrade;
	c->upgrade = upgrade;
	c->head_request = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	pt_http_req_body(req, &c->req_body);
	c->domain = req->domain;
	if (!c->ssl && in->conf->domains[req->domain].redirect)
		return redirect_https(in, c, req);
	/* A connection made for one domain's certificate carries that
	 * domain's tenants only (RFC 9110, 421). */
	if (c->ssl && c->tls.domain >= 0 && (size_t)c->tls.domain != req->domain)
		return refuse(in, c, 421, 0, "this TLS connection is for %s, not %s",
			      in->conf->domains[c->tls.domain].name,
			      in->conf->domains[req->domain].name);
	r = routes_lookup(&in->routes, req->slug, &c->route);
	if (r == -ENOENT)
		return refuse(in, c, 404, 0, "no tenant %s at %s", req->slug,
			      in->conf->domains[req->domain].name);
	if (r == -EIO)
		return refuse(in, c, 503, 0, "no routes available (the ingress log says why)");
	if (r < 0)
		return refuse(in, c, 502, 0, "the route of tenant %s is malformed", req->slug);
	s = slot_get(in, req->slug);
	if (!s)
		return refuse(in, c, 503, 0, "out of memory");
	if (!c->route.running && !c->route.sleeping && !s->waking)
		return refuse(in, c, 503, WAKE_RETRY_AFTER_S, "tenant %s is %s", req->slug,
			      c->route.state);
	if (s->conns >= in->max_per_tenant)
		return refuse(in, c, 503, 1, "tenant %s already has %u requests in flight", req->slug,
			      s->conns);
	/* Keep-alive towards the tenant too (pool.c), when its HTTP has it. */
	c->fwd_mode = upgrade ? PT_FWD_UPGRADE : req->minor == 1 ? PT_FWD_KEEP_ALIVE : PT_FWD_CLOSE;
	n = pt_http_forward_head_as(req, c->peer, c->ssl ? "https" : "http", c->fwd_mode, fwd,
				    sizeof(fwd));
	if (n < 0 || (size_t)n + rest > c->in.cap)
		return refuse(in, c, 431, 0, "request head too large to forward");
	/* What came after the head: body bytes, then maybe the next request. */
	memmove(c->in.data + n, c->in.data + req->head_len, rest);
	memcpy(c->in.data, fwd, (size_t)n);
	c->in.len = (size_t)n + rest;
	c->in.off = 0;
	c->fwd = (size_t)n;
	body = pt_body_feed(&c->req_body, c->in.data + n, rest, &err);
	if (body < 0)
		return refuse(in, c, 400, 0, "%s", err.msg);
	c->fwd += (size_t)body;
	/* While a wake is under way, even a route that already says running
	 * waits for the daemon's "ready" (its port accepting). */
	if (c->route.sleeping || !c->route.running || s->waking || s->held)
		return hold(in, c, s);
	connect_or_refuse(in, c);
}

/* A head in in[0..len)? Parses it; 0 when one was routed or refused,
 * -EAGAIN for more bytes. */
static int try_head(struct ingress *in, struct conn *c)
{
	struct pt_http_req req;
	pt_err err = { 0 };
	int status, r;

	r = pt_http_parse_head_in(c->in.data, c->in.len, in->domains, in->conf->n_domains, &req,
				  &status, &err);
	if (r == -EAGAIN)
		return r;
	if (r < 0) {
		refuse(in, c, status, 0, "%s", err.msg);
		return 0;
	}
	route_request(in, c, &req);
	return 0;
}

static void read_head(struct ingress *in, struct conn *c)
{
	ssize_t n;

	if (c->sniff) {
		int r = client_sniff(in, c);

		if (r < 0)
			return conn_end(in, c);
		if (r == 0)
			return;
	}
	if (buf_alloc(&c->in, PT_HTTP_HEAD_MAX + 1024) < 0)
		return conn_end(in, c);
	n = client_recv(in, c, c->in.data + c->in.len, PT_HTTP_HEAD_MAX - c->in.len);
	if (n == -2)
		return;
	if (n <= 0)
		return conn_end(in, c); /* gone before a whole head: nothing to answer */
	if (c->in.len == 0)
		c->deadline = ingress_now_ms() + in->head_timeout_ms; /* from its first byte */
	c->in.len += (size_t)n;
	try_head(in, c);
}

/* The response is over and the client may send another request: what it
 * already sent (pipelined) is the start of that one. */
void next_request(struct ingress *in, struct conn *c)
{
	size_t rest = c->in.len - c->fwd;

	backend_close(in, c);
	memmove(c->in.data, c->in.data + c->fwd, rest);
	c->in.len = rest;
	c->in.off = c->fwd = 0;
	buf_free(&c->out);
	if (!rest)
		buf_free(&c->in); /* an idle keep-alive connection holds no buffer */
	c->client_eof = c->backend_eof = c->client_shut = c->backend_shut = false;
	c->head_done = c->woke = c->close_after = c->upgrade = c->tenant_keep = false;
	c->resp_start = c->resp_scan = 0;
	c->status = 0;
	c->bytes_out = 0;
	c->started = 0;
	c->host[0] = c->request[0] = '\0';
	c->requests++;
	c->phase = C_HEAD;
	c->deadline = ingress_now_ms() + (rest ? in->head_timeout_ms : in->keepalive_timeout_ms);
	if (rest)
		try_head(in, c);
}

static void connected(struct ingress *in, struct conn *c)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->backend.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e)
		return refuse(in, c, 502, 0, "tenant %s is not answering on %s: %s", c->host,
			      c->backend_name, strerror(e));
	if (buf_alloc(&c->out, RELAY_OUT_CAP) < 0)
		return refuse(in, c, 503, 0, "out of memory");
	c->phase = C_RELAY;
	c->client_rx = c->backend_rx = ingress_now_ms();
}

static void on_refuse(struct ingress *in, struct conn *c, uint32_t events)
{
	char sink[4096];

	if ((events & EPOLLOUT) && !client_drain(in, c, &c->out))
		return conn_end(in, c);
	if (!buf_pending(&c->out) && !c->client_shut) {
		client_shutdown(in, c);
		c->client_shut = true;
	}
	if (c->client_shut && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = client_recv(in, c, sink, sizeof(sink));

		if (n == 0 || n == -1)
			conn_end(in, c);
	}
}

void update_interest(struct ingress *in, struct conn *c)
{
	uint32_t cl = 0, be = 0;

	switch (c->phase) {
	case C_HEAD:
		cl = EPOLLIN;
		break;
	case C_WAKE:
		cl = EPOLLRDHUP; /* only to see the client leave */
		break;
	case C_CONNECT:
		be = EPOLLOUT;
		break;
	case C_RELAY:
	case C_TUNNEL:
		relay_interest(c, &cl, &be);
		break;
	case C_REFUSE:
	default:
		cl = buf_pending(&c->out) ? EPOLLOUT : EPOLLIN;
		break;
	}
	if (c->ssl && (cl & EPOLLIN))
		tls_queue(in, c);
	/* What the last SSL call waits for, as long as anything is wanted. */
	if (c->ssl && (cl & (EPOLLIN | EPOLLOUT)))
		cl |= c->tls_want;
	set_events(in, &c->client, cl);
	set_events(in, &c->backend, be);
}

void proxy_ready(struct ingress *in, struct end *e, uint32_t events)
{
	struct conn *c = e->c;

	if (c->dead)
		return;
	/* TLS: an event on the socket may be what an SSL call of either
	 * direction waited for; retry whatever the relay wants. */
	if (c->ssl && e == &c->client) {
		events = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) |
			 (e->events & (EPOLLIN | EPOLLOUT)) | (events & EPOLLIN);
		c->tls_want = 0;
	}
	switch (c->phase) {
	case C_HEAD:
		read_head(in, c);
		break;
	case C_WAKE:
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_end(in, c); /* the client left before the wake */
		break;
	case C_CONNECT:
		if (e == &c->backend)
			connected(in, c);
		if (!c->dead && c->phase == C_RELAY)
			relay(in, c, &c->backend, EPOLLOUT);
		break;
	case C_RELAY:
	case C_TUNNEL:
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

static struct conn *conn_new(struct ingress *in, int fd, const struct sockaddr_storage *ss,
			     bool https)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->client = (struct end){ .fd = fd, .c = c };
	c->backend = (struct end){ .fd = -1, .c = c };
	/* Over HTTPS the handshake comes first: it too must be over by then. */
	c->deadline = ingress_now_ms() + in->head_timeout_ms;
	c->sniff = https;
	c->tls.domain = -1;
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

void proxy_accept(struct ingress *in, bool https)
{
	int lfd = https ? in->https_fd : in->listen_fd;

	/* Bounded per round, so a flood cannot starve the connections we have. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct conn *c;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "ptenant-ingress: accept: %s\n", strerror(errno));
			return;
		}
		/* Past the cap, a few more get their 503 properly (answered,
		 * then drained: a close with their request unread would reset
		 * the connection before they read why); past that, a close. */
		if (in->n_conns >= in->max_conns + REFUSE_SLACK) {
			close(fd);
			continue;
		}
		/* Answers go out as the relay has them (a head, then a body;
		 * TLS records): Nagle would hold the second behind the client's
		 * delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		c = conn_new(in, fd, &ss, https);
		if (!c) {
			fprintf(stderr, "ptenant-ingress: out of memory for a connection\n");
			close(fd);
		} else if (in->n_conns > in->max_conns && https) {
			conn_end(in, c); /* no HTTP answer can come before a handshake */
		} else if (in->n_conns > in->max_conns) {
			refuse(in, c, 503, 1, "too many connections (%zu); try again", in->max_conns);
			update_interest(in, c);
		}
	}
}

static void expire_one(struct ingress *in, struct conn *c, uint64_t now)
{
	switch (c->phase) {
	case C_HEAD:
		if (now < c->deadline)
			return;
		/* No HTTP answer can reach a client before its handshake. */
		if (c->sniff || (c->ssl && !SSL_is_init_finished(c->ssl)))
			conn_end(in, c);
		else if (c->in.len == 0 && c->requests)
			conn_end(in, c); /* an idle keep-alive connection: no answer due */
		else
			refuse(in, c, 408, 0, "no complete request head within %llu ms",
			       (unsigned long long)in->head_timeout_ms);
		break;
	case C_CONNECT:
		if (now >= c->deadline)
			refuse(in, c, 504, 0, "tenant %s did not accept a connection within %d s",
			       c->host, CONNECT_TIMEOUT_MS / 1000);
		break;
	case C_WAKE:
		if (now >= c->deadline)
			refuse(in, c, 503, WAKE_RETRY_AFTER_S, "tenant %s did not wake in time", c->host);
		break;
	case C_RELAY:
	case C_TUNNEL:
		relay_expire(in, c, now);
		break;
	case C_REFUSE:
	default:
		if (now >= c->deadline)
			conn_end(in, c);
		break;
	}
}

void proxy_expire(struct ingress *in, uint64_t now)
{
	for (struct conn *c = in->conns, *next; c; c = next) {
		next = c->next;
		expire_one(in, c, now);
		if (!c->dead)
			update_interest(in, c);
	}
}

void proxy_close_all(struct ingress *in)
{
	while (in->conns)
		conn_end(in, in->conns);
	proxy_reap(in);
}

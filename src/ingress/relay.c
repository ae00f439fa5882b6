/* A request and its response, once the tenant accepted the connection:
 * the rewritten head and the body go to the tenant as they come, the
 * response comes back as it comes (a token of a streamed answer reaches
 * the client without waiting for the next), through two bounded buffers.
 * A full buffer stops reading from the side that fills it (backpressure);
 * an empty one stops writing.
 *
 * Both bodies are counted (http-response.h), never rewritten: the request
 * body ends where its Content-Length or chunks say, so bytes after it are
 * the client's next request and never reach this tenant; the response ends
 * where its framing says, and anything the tenant sends after it is
 * dropped. A 101 answer to an upgrade request turns the connection into a
 * tunnel: bytes both ways, unparsed, until both sides close. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingress.h"

/* Room kept while a response head is read: the forwarded head may be a
 * little longer than the tenant's (a Connection header added). */
#define HEAD_GROWTH 256

bool buf_pending(const struct buf *b)
{
	return b->off < b->len;
}

bool buf_drain(int fd, struct buf *b)
{
	ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);

	if (n > 0)
		b->off += (size_t)n;
	return n >= 0 || errno == EAGAIN || errno == EINTR;
}

/* Room at the end of b: what was sent is dropped from its start. The
 * callers' offsets into b move with it. */
static size_t compact(struct buf *b, size_t *a, size_t *z)
{
	size_t off = b->off;

	if (!off)
		return 0;
	memmove(b->data, b->data + off, b->len - off);
	b->len -= off;
	b->off = 0;
	if (a)
		*a -= off;
	if (z)
		*z -= off;
	return off;
}

/* recv into b up to room; 0 at EOF (sets *eof), -1 on error, else bytes. */
static ssize_t fill(int fd, struct buf *b, size_t room, bool *eof)
{
	ssize_t n;

	if (b->len >= room)
		return -2; /* no room: not an EOF */
	n = recv(fd, b->data + b->len, room - b->len, 0);
	if (n > 0)
		b->len += (size_t)n;
	else if (n == 0)
		*eof = true;
	else if (errno == EAGAIN || errno == EINTR)
		return -2;
	return n;
}

/* client_recv into c->in; as fill. */
static ssize_t fill_client(struct ingress *in, struct conn *c)
{
	struct buf *b = &c->in;
	ssize_t n;

	if (b->len >= b->cap)
		return -2;
	n = client_recv(in, c, b->data + b->len, b->cap - b->len);
	if (n > 0)
		b->len += (size_t)n;
	else if (n == 0)
		c->client_eof = true;
	return n;
}

static void client_read(struct ingress *in, struct conn *c)
{
	size_t before;
	ssize_t n, body;
	pt_err err = { 0 };

	if (c->in.len == c->in.cap)
		compact(&c->in, &c->fwd, NULL);
	before = c->in.len;
	n = fill_client(in, c);
	if (n == -1)
		return conn_end(in, c);
	if (n <= 0)
		return;
	c->client_rx = ingress_now_ms();
	if (c->phase == C_TUNNEL) {
		c->fwd = c->in.len;
		return;
	}
	body = pt_body_feed(&c->req_body, c->in.data + before, c->in.len - before, &err);
	if (body < 0) {
		if (!c->head_done && !c->bytes_out)
			return refuse(in, c, 400, 0, "%s", err.msg);
		return conn_end(in, c);
	}
	c->fwd += (size_t)body;
}

/* The response head, rewritten in place (interim 1xx ones too); false
 * when the connection ended. */
static bool response_head(struct ingress *in, struct conn *c)
{
	char fwd[PT_HTTP_RESP_FORWARD_MAX];
	const char *hsts = c->ssl && in->tls.hsts[c->domain][0] ? in->tls.hsts[c->domain] : NULL;
	struct pt_http_resp resp;
	pt_err err = { 0 };

	while (!c->head_done) {
		size_t at = c->resp_start, rest;
		bool interim;
		int r = pt_http_parse_response_head(c->out.data + at, c->out.len - at, &resp, &err);
		int n;

		if (r == -EAGAIN && !c->backend_eof)
			return true;
		if (r == -EAGAIN)
			pt_err_set(&err, -EPIPE, "closed the connection before a whole response head");
		if (r == 0 && resp.status == 101 && !c->upgrade)
			r = pt_err_set(&err, -EBADMSG, "101 Switching Protocols to a request that "
				       "asked for no upgrade");
		if (r < 0) {
			/* Nothing of this response reached the client yet: say why. */
			if (!c->bytes_out && at == 0)
				refuse(in, c, 502, 0, "tenant %s: bad response: %s", c->host, err.msg);
			else
				conn_end(in, c);
			return false;
		}
		interim = resp.status < 200 && resp.status != 101;
		pt_http_resp_body(&resp, c->head_request, &c->resp_body);
		if (!interim) {
			c->close_after = !c->keep_alive || c->resp_body.kind == PT_BODY_UNTIL_CLOSE;
			c->tenant_keep = c->fwd_mode == PT_FWD_KEEP_ALIVE &&
					 pt_http_resp_keep_alive(&resp) &&
					 c->resp_body.kind != PT_BODY_UNTIL_CLOSE;
		}
		n = pt_http_forward_response_head_hsts(&resp, c->close_after, hsts, fwd, sizeof(fwd));
		rest = c->out.len - at - resp.head_len;
		if (n < 0 || at + (size_t)n + rest > c->out.cap) {
			conn_end(in, c);
			return false;
		}
		memmove(c->out.data + at + n, c->out.data + at + resp.head_len, rest);
		memcpy(c->out.data + at, fwd, (size_t)n);
		c->out.len = at + (size_t)n + rest;
		c->resp_start = c->resp_scan = at + (size_t)n;
		if (interim)
			continue;
		c->head_done = true;
		c->status = resp.status;
		if (resp.status == 101) {
			c->phase = C_TUNNEL;
			c->fwd = c->in.len; /* what the client sent after its head is the tunnel's */
			c->resp_scan = c->out.len;
		}
	}
	return true;
}

/* Counts the response body; past its end, the tenant is done. */
static void response_body(struct ingress *in, struct conn *c)
{
	pt_err err = { 0 };
	bool exact;
	ssize_t n;

	if (c->phase == C_TUNNEL) {
		c->resp_scan = c->out.len;
		return;
	}
	if (!c->resp_body.done && c->resp_scan < c->out.len) {
		n = pt_body_feed(&c->resp_body, c->out.data + c->resp_scan,
				 c->out.len - c->resp_scan, &err);
		if (n < 0) {
			fprintf(stderr, "ptenant-ingress: %s %s: response body cut: %s\n", c->peer,
				c->host, err.msg);
			return conn_end(in, c);
		}
		c->resp_scan += (size_t)n;
	}
	if (!c->resp_body.done || c->backend.fd < 0)
		return;
	/* Reused only after an exchange that ended exactly: nothing after
	 * the response, the whole request sent. */
	exact = c->out.len == c->resp_scan && c->req_body.done && c->in.off == c->fwd &&
		!c->backend_eof;
	c->out.len = c->resp_scan; /* whatever came after it is dropped */
	c->backend_eof = true;
	backend_done(in, c, exact && c->tenant_keep);
}

static void backend_read(struct ingress *in, struct conn *c)
{
	size_t room = c->head_done ? c->out.cap : c->out.cap - HEAD_GROWTH;
	ssize_t n;

	if (c->out.len >= room)
		compact(&c->out, &c->resp_start, &c->resp_scan);
	n = fill(c->backend.fd, &c->out, room, &c->backend_eof);
	if (n == -1)
		c->backend_eof = true; /* a reset: what came is all there is */
	else if (n == -2)
		return;
	c->backend_rx = ingress_now_ms();
	if (!response_head(in, c) || c->dead)
		return;
	response_body(in, c);
}

static bool response_over(const struct conn *c)
{
	return c->head_done && (c->resp_body.done || c->backend_eof);
}

/* Half-closes travel on once the bytes before them have; a finished
 * exchange ends or makes room for the next request. */
static void after_io(struct ingress *in, struct conn *c)
{
	if (c->client_eof && c->fwd == c->in.off && !c->backend_shut && c->backend.fd >= 0) {
		shutdown(c->backend.fd, SHUT_WR);
		c->backend_shut = true;
	}
	if (c->phase == C_TUNNEL) {
		if (c->backend_eof && !buf_pending(&c->out) && !c->client_shut) {
			client_shutdown(in, c);
			c->client_shut = true;
		}
		if (c->client_shut && c->backend_shut) {
			access_log(c, c->status);
			conn_end(in, c);
		}
		return;
	}
	if (c->backend_eof && !c->head_done) {
		response_head(in, c); /* answers 502 or ends */
		return;
	}
	if (!response_over(c) || buf_pending(&c->out))
		return;
	access_log(c, c->status);
	/* Truncated (the tenant closed early), its own request unfinished,
	 * or a client that said close: this connection is done. */
	if (c->close_after || !c->resp_body.done || !c->req_body.done || c->client_eof)
		return conn_end(in, c);
	next_request(in, c);
}

void relay(struct ingress *in, struct conn *c, struct end *e, uint32_t events)
{
	if (e == &c->client) {
		/* Its request is all in and it hung up: nobody waits for the
		 * answer (a long poll, a stream that has not sent yet). */
		if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c->phase == C_RELAY &&
		    (c->req_body.done || c->client_eof))
			return conn_end(in, c);
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->client_eof)
			client_read(in, c);
		if (!c->dead && (events & EPOLLOUT)) {
			size_t before = c->out.off;

			if (!client_drain(in, c, &c->out))
				return conn_end(in, c);
			c->bytes_out += c->out.off - before;
		}
	} else {
		if ((events & EPOLLOUT) && c->in.off < c->fwd) {
			ssize_t n = send(c->backend.fd, c->in.data + c->in.off, c->fwd - c->in.off,
					 MSG_NOSIGNAL);

			if (n > 0)
				c->in.off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				c->backend_eof = true; /* the tenant went away */
		}
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->backend_eof)
			backend_read(in, c);
	}
	if (!c->dead)
		after_io(in, c);
}

void relay_interest(const struct conn *c, uint32_t *client, uint32_t *backend)
{
	bool tunnel = c->phase == C_TUNNEL;
	size_t room = c->head_done ? c->out.cap : c->out.cap - HEAD_GROWTH;

	*client = (!c->client_eof && (tunnel || !c->req_body.done) &&
		   (c->in.len < c->in.cap || c->in.off) ? EPOLLIN : 0) |
		  (buf_pending(&c->out) ? EPOLLOUT : 0) |
		  (!tunnel && (c->req_body.done || c->client_eof) ? EPOLLRDHUP : 0);
	*backend = 0;
	if (c->backend.fd < 0)
		return;
	*backend = (!c->backend_eof && (c->out.len < room || c->out.off) ? EPOLLIN : 0) |
		   (c->in.off < c->fwd && !c->backend_shut ? EPOLLOUT : 0);
}

/* Per direction: a tenant silent for --idle-timeout while an answer is
 * due, a client silent that long in the middle of its request body, or a
 * tunnel silent both ways. */
void relay_expire(struct ingress *in, struct conn *c, uint64_t now)
{
	bool tenant_idle = now - c->backend_rx >= in->idle_timeout_ms;
	bool client_idle = now - c->client_rx >= in->idle_timeout_ms;

	if (c->phase == C_TUNNEL) {
		if (tenant_idle && client_idle)
			conn_end(in, c);
		return;
	}
	if (tenant_idle && c->backend.fd >= 0 && !c->head_done && !c->bytes_out)
		return refuse(in, c, 504, 0, "tenant %s did not answer within %llu ms", c->host,
			      (unsigned long long)in->idle_timeout_ms);
	if ((tenant_idle && c->backend.fd >= 0) || (client_idle && !c->req_body.done))
		conn_end(in, c);
}

/* A client connection's bytes, plain or TLS: the relay and the head reader
 * call these and never see which. On the HTTPS port the first byte says
 * what the client speaks: a TLS handshake record, plain HTTP sent to the
 * wrong port (answered 400, in plain HTTP, so the client can read why),
 * or garbage (closed).
 *
 * TLS under a non-blocking epoll loop: a read may need the socket
 * writable (and a write readable), so the socket events an SSL call
 * waited for are kept (tls_want) and added to the connection's interest;
 * any event then retries what the relay wants. And SSL may hold
 * decrypted bytes that epoll cannot see: such connections go on
 * in->tls_ready and are read again before the loop sleeps. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingress.h"

/* A log line per failed handshake would let anyone fill the log: one a
 * second at most, with the count of those not shown. */
static void handshake_failed(struct ingress *in, struct conn *c, const char *why)
{
	static uint64_t last, hidden;
	uint64_t now = ingress_now_ms();

	in->tls_failures++;
	if (last && now - last < 1000) {
		hidden++;
		return;
	}
	fprintf(stderr, "ptenant-ingress: tls %s: handshake failed: %s (%llu more not shown)\n",
		c->peer, why, (unsigned long long)hidden);
	last = now;
	hidden = 0;
}

/* An SSL call's result: bytes, or -2 (try again on the events kept in
 * tls_want), 0 at the client's close, -1 when the connection is over. */
static ssize_t ssl_result(struct ingress *in, struct conn *c, int n)
{
	char err[256];

	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		c->tls_want |= EPOLLIN;
		return -2;
	case SSL_ERROR_WANT_WRITE:
		c->tls_want |= EPOLLOUT;
		return -2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno == EAGAIN ? -2 : -1;
	default:
		if (!SSL_is_init_finished(c->ssl))
			handshake_failed(in, c, c->tls.refused[0] ? c->tls.refused :
					 tls_error(err, sizeof(err)));
		ERR_clear_error();
		return -1;
	}
}

/* A plain socket call's result, in the same terms. */
static ssize_t sock_result(ssize_t n)
{
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	return n;
}

ssize_t client_recv(struct ingress *in, struct conn *c, void *buf, size_t len)
{
	if (!c->ssl)
		return sock_result(recv(c->client.fd, buf, len, 0));
	ERR_clear_error();
	return ssl_result(in, c, SSL_read(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len)));
}

ssize_t client_send(struct ingress *in, struct conn *c, const void *buf, size_t len)
{
	if (!len)
		return 0;
	if (!c->ssl)
		return sock_result(send(c->client.fd, buf, len, MSG_NOSIGNAL));
	ERR_clear_error();
	return ssl_result(in, c, SSL_write(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len)));
}

bool client_drain(struct ingress *in, struct conn *c, struct buf *b)
{
	ssize_t n = client_send(in, c, b->data + b->off, b->len - b->off);

	if (n > 0)
		b->off += (size_t)n;
	return n != -1;
}

/* TLS says goodbye with close_notify before the TCP half-close. */
void client_shutdown(struct ingress *in, struct conn *c)
{
	(void)in;
	if (c->ssl && SSL_is_init_finished(c->ssl)) {
		ERR_clear_error();
		SSL_shutdown(c->ssl); /* best effort: the peer may be gone */
		ERR_clear_error();
	}
	shutdown(c->client.fd, SHUT_WR);
}

void client_close(struct ingress *in, struct conn *c)
{
	if (c->tls_queued) {
		for (struct conn **pp = &in->tls_ready; *pp; pp = &(*pp)->tls_next)
			if (*pp == c) {
				*pp = c->tls_next;
				break;
			}
		c->tls_queued = false;
	}
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->client.fd >= 0)
		close(c->client.fd);
	c->client.fd = -1;
}

int client_sniff(struct ingress *in, struct conn *c)
{
	unsigned char first;
	ssize_t n = recv(c->client.fd, &first, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->sniff = false;
	if (first == 0x16) { /* a TLS handshake record */
		c->ssl = tls_new(&in->tls, c->client.fd, &c->tls);
		return c->ssl ? 1 : -1;
	}
	if (first >= 'A' && first <= 'Z') {
		refuse(in, c, 400, 0, "this is the HTTPS port: send plain HTTP to the HTTP port, "
		       "or use https://");
		return 0;
	}
	handshake_failed(in, c, "not a TLS handshake");
	return -1;
}

void tls_queue(struct ingress *in, struct conn *c)
{
	/* SSL_pending, not SSL_has_pending: a record not all in yet is
	 * epoll's to report, and would spin the loop here. */
	if (c->tls_queued || !c->ssl || SSL_pending(c->ssl) <= 0)
		return;
	c->tls_queued = true;
	c->tls_next = in->tls_ready;
	in->tls_ready = c;
}

void tls_run_ready(struct ingress *in)
{
	struct conn *list = in->tls_ready;

	in->tls_ready = NULL;
	while (list) {
		struct conn *c = list;

		list = c->tls_next;
		c->tls_queued = false;
		if (!c->dead)
			proxy_ready(in, &c->client, EPOLLIN);
	}
}

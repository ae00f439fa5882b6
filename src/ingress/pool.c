/* Idle connections to tenants, kept for the next request to the same
 * tenant (HTTP/1.1 keep-alive on the ingress's side of the exchange, as
 * nginx's upstream keepalive): a request then costs no connect and the
 * tenant no accept.
 *
 * A connection goes back to its tenant's pool only after an exchange that
 * ended exactly where both framings said (the request body all sent, the
 * response's end counted, nothing after it, neither side saying close);
 * it is only ever used again for the same tenant and address. An idle one
 * that becomes readable (the tenant closed it, or sends something nobody
 * asked for) is closed, and one taken from the pool is checked once more
 * with a peek, so a tenant cannot slip a response in ahead of a request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingress.h"

struct pooled {
	struct end end;              /* end.pooled is this */
	struct pooled *next;
	struct slot *slot;
	struct sockaddr_in addr;
	uint64_t since;              /* monotonic ms */
};

static void unlink_pooled(struct ingress *in, struct pooled *p)
{
	for (struct pooled **pp = &p->slot->pool; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->slot->n_pool--;
	in->n_pooled--;
	epoll_ctl(in->epfd, EPOLL_CTL_DEL, p->end.fd, NULL);
}

/* Freed after the event batch, like connections: an event of this very
 * batch may still point at it. */
static void retire(struct ingress *in, struct pooled *p)
{
	p->end.fd = -1;
	p->next = in->pool_dead;
	in->pool_dead = p;
}

static void close_pooled(struct ingress *in, struct pooled *p)
{
	unlink_pooled(in, p);
	close(p->end.fd);
	retire(in, p);
}

void pool_reap(struct ingress *in)
{
	while (in->pool_dead) {
		struct pooled *p = in->pool_dead;

		in->pool_dead = p->next;
		free(p);
	}
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

int pool_take(struct ingress *in, struct slot *s, const struct sockaddr_in *addr)
{
	for (struct pooled *p = s->pool, *next; p; p = next) {
		char b;
		ssize_t n;
		int fd;

		next = p->next;
		if (!same_addr(&p->addr, addr))
			continue;
		unlink_pooled(in, p);
		fd = p->end.fd;
		retire(in, p);
		/* Nothing may be waiting on it: not an EOF, not a byte. */
		n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return fd;
		close(fd);
	}
	return -1;
}

bool pool_put(struct ingress *in, struct slot *s, int fd, const struct sockaddr_in *addr)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct pooled *p;

	if (s->n_pool >= POOL_PER_TENANT || in->n_pooled >= POOL_MAX)
		return false;
	p = calloc(1, sizeof(*p));
	if (!p)
		return false;
	p->end = (struct end){ .fd = fd, .pooled = p };
	p->slot = s;
	p->addr = *addr;
	p->since = ingress_now_ms();
	ev.data.ptr = &p->end;
	if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(p);
		return false;
	}
	p->next = s->pool;
	s->pool = p;
	s->n_pool++;
	in->n_pooled++;
	return true;
}

void pool_ready(struct ingress *in, struct pooled *p, uint32_t events)
{
	(void)events; /* whatever it is, an idle connection has nothing to say */
	if (p->end.fd >= 0)
		close_pooled(in, p);
}

void pool_sweep(struct ingress *in, struct slot *s, uint64_t now, bool all)
{
	for (struct pooled *p = s->pool, *next; p; p = next) {
		next = p->next;
		if (all || now - p->since >= POOL_IDLE_MS)
			close_pooled(in, p);
	}
}

/* ptenant-ingress: the HTTP front door. One process, one epoll loop, one
 * request per client connection, relayed to the tenant its Host names.
 * See ptenant-ingress(8). */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ptenant/spec.h"

#define INGRESS_MAX_CONNS 1024
#define HEAD_TIMEOUT_MS 10000        /* the whole head, from accept */
#define CONNECT_TIMEOUT_MS 5000
#define IDLE_TIMEOUT_MS 300000       /* no byte either way while relaying */
#define LINGER_MS 2000               /* draining a refused client */
#define RELAY_BUF (16 * 1024)

/* routes.json as last read; see routes.c. */
struct route_table {
	int dirfd;                   /* the file's directory, opened before the privilege drop */
	char name[256];              /* the file's name in it */
	json_t *routes;              /* NULL: missing or unreadable */
	char problem[300];           /* why routes is NULL */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	bool seen;                   /* stat identity above is valid */
};

struct route {
	struct sockaddr_in addr;
	bool running;
	char state[32];
};

/* Loads the table again when the file changed since the last call. */
void routes_refresh(struct route_table *rt);
/* 0 with *ret filled; -ENOENT no such slug; -EIO no usable table (see
 * rt->problem); -EBADMSG the slug's entry is malformed. */
int routes_lookup(struct route_table *rt, const char *slug, struct route *ret);

struct ingress;

/* One end of a proxied connection, as registered with epoll. */
struct end {
	int fd;
	struct conn *c;
	uint32_t events;             /* what epoll has now */
};

struct buf {
	char *data;
	size_t len, off, cap;        /* unsent bytes are data[off..len) */
};

enum conn_phase {
	C_HEAD,                      /* reading the request head */
	C_CONNECT,                   /* connecting to the tenant */
	C_RELAY,                     /* bytes both ways */
	C_REFUSE,                    /* sending an error reply, then draining */
};

struct conn {
	struct conn *next, *prev;
	struct end client, backend;
	enum conn_phase phase;
	struct buf in;               /* client to tenant (the head first) */
	struct buf out;              /* tenant (or our error reply) to client */
	bool client_eof, backend_eof;
	bool client_shut, backend_shut; /* our write side shut down */
	bool dead;                   /* fds closed; freed after the event batch */
	uint64_t deadline;           /* monotonic ms */
	char peer[INET6_ADDRSTRLEN];
	char host[PT_SLUG_MAX + 1];  /* the slug, once parsed */
	char backend_name[32];       /* address:port, for logs */
};

struct ingress {
	int epfd;
	int listen_fd;
	const char *domain;
	struct route_table routes;
	struct conn *conns;
	struct conn *dead;           /* ended in this batch of events */
	size_t n_conns;
};

uint64_t ingress_now_ms(void);

/* proxy.c */
void proxy_accept(struct ingress *in);
void proxy_ready(struct ingress *in, struct end *e, uint32_t events);
/* Ends connections past their deadline. */
void proxy_expire(struct ingress *in, uint64_t now);
/* Frees the connections ended since the last call: after each batch, so
 * no event of the batch points at freed memory. */
void proxy_reap(struct ingress *in);

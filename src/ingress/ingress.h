/* ptenant-ingress: the HTTP front door. One process, one epoll loop;
 * client connections kept alive across requests, each request relayed on
 * a connection of its own to the tenant its Host names, responses
 * streamed through as they come, upgraded connections (WebSocket)
 * relayed both ways. A request for a frozen or asleep tenant is held
 * while the daemon wakes it. See ptenant-ingress(8). */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "http.h"
#include "http-response.h"
#include "ingress-conf.h"
#include "ptenant/spec.h"
#include "tls.h"

#define DEFAULT_MAX_CONNS 16384      /* client connections in total */
#define DEFAULT_MAX_PER_TENANT 512   /* requests in flight to one tenant */
#define REFUSE_SLACK 64              /* over the cap, still answered 503 */
#define HOLD_MAX_PER_TENANT 256      /* requests held while one tenant wakes */
#define HOLD_MAX 4096                /* ... and for all tenants */
#define HEAD_TIMEOUT_MS 10000        /* a whole head, from its first byte */
#define KEEPALIVE_TIMEOUT_MS 60000   /* between two requests of a client */
#define CONNECT_TIMEOUT_MS 5000
#define IDLE_TIMEOUT_MS 300000       /* a direction with no byte (per direction) */
/* (The three timeouts are the defaults of --head-timeout, --keepalive-
 * timeout and --idle-timeout.) */
#define LINGER_MS 2000               /* draining a refused client */
#define RELAY_BUF (16 * 1024)
#define ACTIVE_INTERVAL_MS 1000      /* "active SLUG" at most this often */
#define WAKE_RETRY_AFTER_S 5
#define WAKE_BURST 8
#define POOL_PER_TENANT 64           /* idle connections kept to one tenant */
#define POOL_MAX 4096                /* ... and to all */
#define POOL_IDLE_MS 15000           /* closed when unused this long */
#define SLOT_BUCKETS 1024
/* The response buffer: a whole head as forwarded, plus a relay's worth. */
#define RELAY_OUT_CAP (PT_HTTP_RESP_FORWARD_MAX + RELAY_BUF)

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
	uint64_t checked_round;      /* the loop round of the last stat */
	uint64_t round;              /* the loop's current round (main.c) */
};

#define DEFAULT_WAKE_TIMEOUT_MS 30000

struct route {
	struct sockaddr_in addr;
	bool running;
	bool sleeping;               /* frozen or asleep: a request wakes it */
	uint64_t wake_timeout_ms;
	char state[32];
};

/* Loads the table again when the file changed since the last call. */
void routes_refresh(struct route_table *rt);
/* 0 with *ret filled; -ENOENT no such slug; -EIO no usable table (see
 * rt->problem); -EBADMSG the slug's entry is malformed. */
int routes_lookup(struct route_table *rt, const char *slug, struct route *ret);

struct ingress;

struct pooled;

/* One end of a proxied connection, as registered with epoll. */
struct end {
	int fd;
	struct conn *c;
	struct pooled *pooled;       /* an idle connection to a tenant (pool.c) */
	uint32_t events;             /* what epoll has now */
};

struct buf {
	char *data;
	size_t len, off, cap;        /* unsent bytes are data[off..len) */
};

enum conn_phase {
	C_HEAD,                      /* reading a request head */
	C_WAKE,                      /* held while its tenant wakes */
	C_CONNECT,                   /* connecting to the tenant */
	C_RELAY,                     /* a request and its response */
	C_TUNNEL,                    /* upgraded (101): bytes both ways */
	C_REFUSE,                    /* sending an error reply, then draining */
};

/* Per tenant (tenants.c). */
struct slot {
	struct slot *next;
	char slug[PT_SLUG_MAX + 1];
	unsigned conns;              /* requests in flight to it (and tunnels) */
	uint64_t active_sent;        /* last "active", monotonic ms */
	unsigned served;             /* requests sent to it, not yet reported */
	uint64_t served_sent;        /* last "served", monotonic ms */
	struct conn *held;           /* requests waiting for its wake */
	unsigned n_held;
	bool waking;
	uint64_t wake_deadline;      /* monotonic ms */
	/* After a wake, held requests go on WAKE_BURST at a time: a bot
	 * that just started may have a short listen backlog. */
	unsigned releasing;          /* released and not yet over */
	bool in_release;
	struct pooled *pool;         /* idle connections to it (pool.c) */
	unsigned n_pool;
};

struct wake_channel {
	char path[108];              /* "" when off */
	struct end end;              /* fd -1 while not connected */
	uint64_t retry_at;
	bool complained;
};

struct conn {
	struct conn *next, *prev;
	struct end client, backend;
	enum conn_phase phase;
	struct buf in;               /* client to tenant: [off, fwd) to send, then the next request */
	size_t fwd;                  /* end of what belongs to this request */
	struct buf out;              /* tenant (or our error reply) to client */
	bool client_eof, backend_eof;
	bool client_shut, backend_shut; /* our write side shut down */
	bool dead;                   /* fds closed; freed after the event batch */
	uint64_t deadline;           /* monotonic ms: head, connect, linger */
	uint64_t client_rx, backend_rx; /* last byte from each side, monotonic ms */
	/* The request in flight. */
	struct pt_body req_body;     /* where its body ends */
	struct pt_body resp_body;    /* where the response's body ends */
	bool head_done;              /* the response head was forwarded */
	bool keep_alive;             /* the client may send another request */
	bool upgrade;                /* it asked for a protocol upgrade */
	bool head_request;           /* HEAD: no response body */
	bool woke;                   /* it waited for a wake (access log) */
	int status;                  /* the response's, for the access log */
	uint64_t bytes_out;          /* response bytes to the client */
	uint64_t started;            /* monotonic ms its head was complete */
	unsigned requests;           /* served on this connection */
	struct route route;
	struct slot *slot;           /* its tenant, while counted there */
	struct conn *held_next;      /* in held_in->held */
	struct slot *held_in;        /* C_WAKE: the tenant it waits for */
	struct slot *released_by;    /* let go after a wake: counted in releasing */
	size_t resp_start;           /* out: where the response head not yet parsed starts */
	size_t resp_scan;            /* out: bytes before it are counted in resp_body */
	bool close_after;            /* the client connection ends with this response */
	enum pt_http_fwd fwd_mode;   /* what the forwarded head said about the connection */
	bool tenant_keep;            /* the tenant's response did not say close */
	size_t domain;               /* the request's, in in->conf */
	/* HTTPS (transport.c) */
	SSL *ssl;                    /* NULL: plain HTTP */
	struct tls_peer tls;         /* what its hello said */
	bool sniff;                  /* on the HTTPS port, first byte not yet seen */
	bool tls_queued;             /* on in->tls_ready */
	uint32_t tls_want;           /* socket events the last SSL call waits for */
	struct conn *tls_next;
	char peer[INET6_ADDRSTRLEN];
	char host[PT_SLUG_MAX + 1];  /* the slug, once parsed */
	char request[96];            /* "METHOD target", cut, for the access log */
	char backend_name[32];       /* address:port, for logs */
};

struct ingress {
	int epfd;
	int listen_fd;
	int https_fd;                /* -1: no HTTPS */
	uint16_t https_port;         /* for redirects */
	const struct pt_ingress_conf *conf;
	const char *domains[PT_INGRESS_DOMAINS_MAX]; /* conf's names, for the parser */
	struct tls_state tls;
	int keys_fd;                 /* the key helper (keyhelper.c); -1: none */
	uint64_t tls_failures;       /* handshakes refused or failed */
	struct conn *tls_ready;      /* TLS connections with bytes SSL holds */
	struct route_table routes;
	struct conn *conns;
	struct conn *dead;           /* ended in this batch of events */
	size_t n_conns;
	size_t max_conns, max_per_tenant;
	uint64_t head_timeout_ms, keepalive_timeout_ms, idle_timeout_ms;
	size_t n_held;               /* requests held for wakes, in total */
	size_t n_pooled;             /* idle connections to tenants */
	struct pooled *pool_dead;    /* taken or closed in this batch, freed after it */
	struct wake_channel wake;
	struct slot *slots[SLOT_BUCKETS];
	uint64_t last_sweep;
};

uint64_t ingress_now_ms(void);

/* proxy.c */
void proxy_accept(struct ingress *in, bool https);
void proxy_ready(struct ingress *in, struct end *e, uint32_t events);
/* Ends connections past their deadline. */
void proxy_expire(struct ingress *in, uint64_t now);
/* proxy.c, for relay.c */
void set_events(struct ingress *in, struct end *e, uint32_t want);
int buf_alloc(struct buf *b, size_t cap);
void backend_close(struct ingress *in, struct conn *c);
/* The tenant's side of the request is over; reuse: its connection goes
 * to the tenant's pool if it can. */
void backend_done(struct ingress *in, struct conn *c, bool reuse);
void conn_end(struct ingress *in, struct conn *c);
void access_log(const struct conn *c, int status);
/* Writes the request log lines gathered since the last call. */
void log_flush(void);
__attribute__((format(printf, 5, 6)))
void refuse(struct ingress *in, struct conn *c, int status, unsigned retry_after,
	    const char *fmt, ...);
void next_request(struct ingress *in, struct conn *c);
void update_interest(struct ingress *in, struct conn *c);

/* transport.c: a client's bytes, plain or TLS. recv and send return
 * bytes, 0 at EOF (recv), -2 to wait for the next event, -1 when the
 * connection is over. */
ssize_t client_recv(struct ingress *in, struct conn *c, void *buf, size_t len);
ssize_t client_send(struct ingress *in, struct conn *c, const void *buf, size_t len);
/* Sends what b holds; false when the connection is over. */
bool client_drain(struct ingress *in, struct conn *c, struct buf *b);
void client_shutdown(struct ingress *in, struct conn *c);
void client_close(struct ingress *in, struct conn *c);
/* On the HTTPS port, before anything: 1 TLS is set up, 0 wait (or
 * answered), -1 end the connection. */
int client_sniff(struct ingress *in, struct conn *c);
/* c goes on in->tls_ready when SSL holds decrypted bytes for it. */
void tls_queue(struct ingress *in, struct conn *c);
/* Reads those connections again (before the loop waits). */
void tls_run_ready(struct ingress *in);

/* relay.c: a request and its response, or a tunnel, once connected */
void relay(struct ingress *in, struct conn *c, struct end *e, uint32_t events);
void relay_interest(const struct conn *c, uint32_t *client, uint32_t *backend);
void relay_expire(struct ingress *in, struct conn *c, uint64_t now);
bool buf_drain(int fd, struct buf *b);
bool buf_pending(const struct buf *b);

/* Frees the connections ended since the last call: after each batch, so
 * no event of the batch points at freed memory. */
void proxy_reap(struct ingress *in);
/* The wake of s is over (why NULL: ready): its held requests go on, or
 * get 503 with why. */
void proxy_wake_done(struct ingress *in, struct slot *s, const char *why);
/* SIGTERM: every connection ends. */
void proxy_close_all(struct ingress *in);

/* tenants.c */
struct slot *slot_get(struct ingress *in, const char *slug);
void slot_active(struct ingress *in, struct slot *s, uint64_t now);
/* A request goes to it: counted for the daemon's usage ledger. */
void slot_request(struct ingress *in, struct slot *s, uint64_t now);
/* Once a second: "active" for tenants with open connections, wakes past
 * their deadline, unused entries freed. */
void slots_sweep(struct ingress *in, uint64_t now);
void slots_free(struct ingress *in);

/* pool.c: idle connections to tenants */
/* An idle connection to s at addr, checked to be quiet; -1 when none. */
int pool_take(struct ingress *in, struct slot *s, const struct sockaddr_in *addr);
/* Keeps fd for s; false when the pool is full (the caller closes it). */
bool pool_put(struct ingress *in, struct slot *s, int fd, const struct sockaddr_in *addr);
void pool_ready(struct ingress *in, struct pooled *p, uint32_t events);
/* Frees the pool entries retired since the last call (after each batch). */
void pool_reap(struct ingress *in);
/* Closes s's idle connections unused for POOL_IDLE_MS (all of them: all). */
void pool_sweep(struct ingress *in, struct slot *s, uint64_t now, bool all);

/* wake.c */
void wake_connect(struct ingress *in);
int wake_send(struct ingress *in, const char *kind, const char *slug);
/* "served SLUG COUNT": requests sent to it since the last report. */
int wake_send_served(struct ingress *in, const char *slug, unsigned count);
void wake_ready(struct ingress *in, uint32_t events);

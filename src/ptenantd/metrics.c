/* Prometheus metrics (ptenantd.conf metrics_listen, off by default): a
 * small HTTP/1.x server in the daemon's loop that answers GET /metrics
 * with the text exposition format, per tenant (labelled by its slug, the
 * only label value that comes from a tenant's side) and for the daemon.
 *
 * Nothing here waits: a scrape's request head is read as it comes (at
 * most HEAD_MAX bytes, within HEAD_TIMEOUT_MS), the text is made in one
 * go from what the daemon knows and its tenants' cgroup counters, and
 * written as the socket takes it. At most CONNS_MAX scrapes at once; more
 * are closed at once. The port carries only this: no tenant data beyond
 * these numbers, no control. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "daemon.h"
#include "listen-addr.h"
#include "metrics-text.h"

#define CONNS_MAX 8
#define HEAD_MAX PT_METRICS_HEAD_MAX
#define HEAD_TIMEOUT_MS 5000

static const double seconds_buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BUCKETS (sizeof(seconds_buckets) / sizeof(seconds_buckets[0]))

struct metrics_conn {
	struct watch w;
	struct metrics_conn *next;
	char head[HEAD_MAX];             /* what came of the request head */
	size_t got;
	struct pt_text out;
	size_t sent;
	uint64_t deadline;               /* monotonic ms */
};

struct metrics {
	struct watch listener;
	char unix_path[108];             /* removed at exit, for a unix socket */
	struct metrics_conn *conns;
	unsigned n_conns;
	uint64_t scrapes, refused;
	struct pt_histogram spawn, api, wake;
};

void metrics_init_histograms(struct daemon *d)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return;
	m->listener.fd = -1;
	pt_histogram_init(&m->spawn, seconds_buckets, N_BUCKETS);
	pt_histogram_init(&m->api, seconds_buckets, N_BUCKETS);
	pt_histogram_init(&m->wake, seconds_buckets, N_BUCKETS);
	d->metrics = m;
}

void metrics_observe(struct daemon *d, enum metrics_hist which, uint64_t usec)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	pt_histogram_observe(which == METRICS_SPAWN ? &m->spawn : which == METRICS_API ? &m->api
			     : &m->wake, (double)usec / 1e6);
}

void metrics_observe_wake(struct daemon *d, struct tenant *t, uint64_t usec)
{
	if (!t->wake_time.bounds)
		pt_histogram_init(&t->wake_time, seconds_buckets, N_BUCKETS);
	pt_histogram_observe(&t->wake_time, (double)usec / 1e6);
	metrics_observe(d, METRICS_WAKE, usec);
}

/* Per tenant, only for tenants woken at least once: a tenant that never
 * sleeps adds no series. */
static void wake_histograms(struct pt_text *t, struct daemon *d)
{
	static const char name[] = "ptenant_tenant_wake_duration_seconds";
	char labels[PT_SLUG_MAX + 16];

	pt_metric_header(t, name, "histogram",
			 "From a wake asked by the ingress to the tenant ready, per tenant.");
	for (size_t i = 0; i < d->n_tenants; i++) {
		if (!d->tenants[i]->wake_time.count)
			continue;
		snprintf(labels, sizeof(labels), "slug=\"%s\"", d->tenants[i]->spec.slug);
		pt_histogram_render_series(t, name, labels, &d->tenants[i]->wake_time);
	}
}

/* ---- the text -------------------------------------------------------- */

static const char *const state_names[] = {
	"running", "frozen", "asleep", "starting", "stopping", "stopped", "restarting",
	"crash-loop", "failed",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

static size_t state_index(const struct tenant *t)
{
	const char *s = tenant_state_name(t);

	for (size_t i = 0; i < N_STATES; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return N_STATES - 1; /* "failed" for anything else (freezing counts as running) */
}

static void per_tenant_state(struct daemon *d, struct pt_text *t)
{
	unsigned count[N_STATES] = { 0 };

	pt_metric_header(t, "ptenant_tenants", "gauge", "Tenants by state.");
	for (size_t i = 0; i < d->n_tenants; i++)
		count[state_index(d->tenants[i])]++;
	for (size_t s = 0; s < N_STATES; s++)
		pt_text_printf(t, "ptenant_tenants{state=\"%s\"} %u\n", state_names[s], count[s]);
	pt_metric_header(t, "ptenant_tenant_state", "gauge",
			 "1 for the state the tenant is in (one series per tenant and state).");
	for (size_t i = 0; i < d->n_tenants; i++) {
		size_t s = state_index(d->tenants[i]);

		for (size_t k = 0; k < N_STATES; k++)
			pt_text_printf(t, "ptenant_tenant_state{slug=\"%s\",state=\"%s\"} %d\n",
				       d->tenants[i]->spec.slug, state_names[k], k == s);
	}
}

static void tenant_counter(struct pt_text *t, struct daemon *d, const char *name,
			   const char *type, const char *help,
			   uint64_t (*get)(struct daemon *, struct tenant *, const void *),
			   const void *arg)
{
	pt_metric_header(t, name, type, help);
	for (size_t i = 0; i < d->n_tenants; i++)
		pt_text_printf(t, "%s{slug=\"%s\"} %llu\n", name, d->tenants[i]->spec.slug,
			       (unsigned long long)get(d, d->tenants[i], arg));
}

static uint64_t get_restarts(struct daemon *d, struct tenant *t, const void *arg)
{
	(void)d;
	(void)arg;
	return t->st.restarts;
}

static uint64_t get_requests(struct daemon *d, struct tenant *t, const void *arg)
{
	(void)d;
	(void)arg;
	return t->usage.requests_total;
}

static uint64_t get_wakes(struct daemon *d, struct tenant *t, const void *arg)
{
	(void)d;
	(void)arg;
	return t->wakes;
}

/* Counted at the ledger's reads (every 10 s). */
static uint64_t get_net(struct daemon *d, struct tenant *t, const void *arg)
{
	(void)d;
	return arg ? t->usage.net_in_total : t->usage.net_out_total;
}

static uint64_t get_limit(struct daemon *d, struct tenant *t, const void *arg)
{
	bool memory = arg != NULL;

	if (memory)
		return t->spec.resources.memory_max ? t->spec.resources.memory_max
						     : d->cfg.default_memory_max;
	return t->spec.resources.pids_max ? t->spec.resources.pids_max : d->cfg.default_pids_max;
}

static void seconds_in(struct pt_text *t, struct daemon *d, const char *name, const char *help,
		       enum pt_usage_state s)
{
	pt_metric_header(t, name, "counter", help);
	for (size_t i = 0; i < d->n_tenants; i++)
		pt_text_printf(t, "%s{slug=\"%s\"} %.3f\n", name, d->tenants[i]->spec.slug,
			       (double)d->tenants[i]->usage.total_ms[s] / 1000.0);
}

static void incidents(struct pt_text *t, struct daemon *d)
{
	pt_metric_header(t, "ptenant_tenant_incidents_total", "counter",
			 "Runs that ended without being asked to, by reason, since ptenantd started.");
	for (size_t i = 0; i < d->n_tenants; i++)
		for (int r = 0; r < PT_UI_N; r++)
			pt_text_printf(t, "ptenant_tenant_incidents_total{slug=\"%s\",reason=\"%s\"} "
				       "%llu\n", d->tenants[i]->spec.slug, pt_usage_incident_name(r),
				       (unsigned long long)d->tenants[i]->usage.incidents_total[r]);
}

/* What the tenants' cgroups say; only with budgets, and only of those
 * that run (a stopped tenant has no leaf). */
/* The figures read from a tenant's cgroup, one series each. */
enum cg_field { CG_CPU, CG_MEMORY, CG_PEAK, CG_OOM_KILLS };

static const struct {
	const char *name, *type, *help;
	enum cg_field field;
} cg_series[] = {
	{ "ptenant_tenant_cpu_seconds_total", "counter",
	  "CPU time of the tenant's cgroup (its current run's leaf).", CG_CPU },
	{ "ptenant_tenant_memory_bytes", "gauge", "Memory in use by the tenant.", CG_MEMORY },
	{ "ptenant_tenant_memory_peak_bytes", "gauge",
	  "The highest memory use of the tenant's cgroup.", CG_PEAK },
	{ "ptenant_tenant_oom_kills_total", "counter",
	  "OOM kills in the tenant's cgroup (its current leaf).", CG_OOM_KILLS },
};

static void cg_sample(struct pt_text *t, const char *name, const char *slug,
		      const struct pt_cg_stats *s, enum cg_field field)
{
	uint64_t v = 0;

	switch (field) {
	case CG_CPU:
		/* Seconds, and only where the backend counts them. */
		if (s->cpu_usec != UINT64_MAX)
			pt_text_printf(t, "%s{slug=\"%s\"} %.6f\n", name, slug,
				       (double)s->cpu_usec / 1e6);
		return;
	case CG_MEMORY:
		v = s->memory_current;
		break;
	case CG_PEAK:
		v = s->memory_peak;
		break;
	case CG_OOM_KILLS:
		v = s->oom_kills;
		break;
	}
	pt_text_printf(t, "%s{slug=\"%s\"} %llu\n", name, slug, (unsigned long long)v);
}

static void cgroup_metrics(struct pt_text *t, struct daemon *d)
{
	struct pt_cg_stats *s;
	bool *ok;

	if (!d->cg || d->n_tenants == 0)
		return;
	s = calloc(d->n_tenants, sizeof(*s));
	ok = calloc(d->n_tenants, sizeof(*ok));
	for (size_t i = 0; s && ok && i < d->n_tenants; i++)
		ok[i] = d->tenants[i]->phase == PHASE_RUNNING && !d->tenants[i]->broken &&
			d->cg->ops->stats(d->cg, d->tenants[i]->spec.slug, &s[i], NULL) == 0;
	for (size_t k = 0; s && ok && k < sizeof(cg_series) / sizeof(cg_series[0]); k++) {
		pt_metric_header(t, cg_series[k].name, cg_series[k].type, cg_series[k].help);
		for (size_t i = 0; i < d->n_tenants; i++)
			if (ok[i])
				cg_sample(t, cg_series[k].name, d->tenants[i]->spec.slug, &s[i],
					  cg_series[k].field);
	}
	free(s);
	free(ok);
}

static void render(struct daemon *d, struct pt_text *t)
{
	struct metrics *m = d->metrics;

	per_tenant_state(d, t);
	tenant_counter(t, d, "ptenant_tenant_restarts_total", "counter",
		       "Respawns of the tenant since it was created.", get_restarts, NULL);
	incidents(t, d);
	tenant_counter(t, d, "ptenant_tenant_memory_limit_bytes", "gauge",
		       "The tenant's memory budget.", get_limit, "memory");
	tenant_counter(t, d, "ptenant_tenant_pids_limit", "gauge",
		       "The tenant's budget of processes.", get_limit, NULL);
	seconds_in(t, d, "ptenant_tenant_active_seconds_total",
		   "Time running (not frozen) since ptenantd started.", PT_US_ACTIVE);
	seconds_in(t, d, "ptenant_tenant_frozen_seconds_total",
		   "Time frozen since ptenantd started.", PT_US_FROZEN);
	seconds_in(t, d, "ptenant_tenant_asleep_seconds_total",
		   "Time asleep since ptenantd started.", PT_US_ASLEEP);
	tenant_counter(t, d, "ptenant_tenant_wakes_total", "counter",
		       "Wakes through the ingress since ptenantd started.", get_wakes, NULL);
	wake_histograms(t, d);
	tenant_counter(t, d, "ptenant_tenant_requests_total", "counter",
		       "Requests ptenant-ingress sent to the tenant, since ptenantd started.",
		       get_requests, NULL);
	cgroup_metrics(t, d);
	if (d->cfg.net.enabled) {
		tenant_counter(t, d, "ptenant_tenant_network_receive_bytes_total", "counter",
			       "Bytes the tenant received on its link, since ptenantd started.",
			       get_net, "in");
		tenant_counter(t, d, "ptenant_tenant_network_transmit_bytes_total", "counter",
			       "Bytes the tenant sent on its link, since ptenantd started.",
			       get_net, NULL);
	}
	pt_histogram_render(t, "ptenant_spawn_duration_seconds",
			    "From a start asked for to the tenant running.", &m->spawn);
	pt_histogram_render(t, "ptenant_api_request_duration_seconds",
			    "From an API request read to its answer.", &m->api);
	pt_histogram_render(t, "ptenant_wake_duration_seconds",
			    "From a wake asked by the ingress to the tenant ready.", &m->wake);
	pt_metric_header(t, "ptenant_api_connections", "gauge", "Open API connections.");
	pt_text_printf(t, "ptenant_api_connections %zu\n", d->n_conns);
	pt_metric_header(t, "ptenant_metrics_scrapes_total", "counter", "Scrapes answered.");
	pt_text_printf(t, "ptenant_metrics_scrapes_total %llu\n", (unsigned long long)m->scrapes);
}

/* ---- the server ------------------------------------------------------ */

static void conn_free(struct daemon *d, struct metrics_conn *c)
{
	struct metrics *m = d->metrics;

	for (struct metrics_conn **p = &m->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	loop_del(d, &c->w);
	pt_closep(&c->w.fd);
	pt_text_free(&c->out);
	free(c);
	m->n_conns--;
}

static void send_more(struct daemon *d, struct metrics_conn *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->w.fd, c->out.buf + c->sent, c->out.len - c->sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN)
			return; /* EPOLLOUT brings us back */
		if (n <= 0) {
			conn_free(d, c);
			return;
		}
		c->sent += (size_t)n;
	}
	conn_free(d, c);
}

static void answer(struct daemon *d, struct metrics_conn *c, const char *status,
		   const char *type, const struct pt_text *body)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &c->w };

	pt_text_printf(&c->out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		       "Connection: close\r\n\r\n", status, type, body ? body->len : 0);
	if (body && body->len)
		pt_text_printf(&c->out, "%.*s", (int)body->len, body->buf);
	if (c->out.oom) {
		conn_free(d, c);
		return;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
	send_more(d, c);
}

static void serve(struct daemon *d, struct metrics_conn *c)
{
	struct pt_text body = { 0 };

	d->metrics->scrapes++;
	render(d, &body);
	if (body.oom)
		answer(d, c, "500 Internal Server Error", "text/plain", NULL);
	else
		answer(d, c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body);
	pt_text_free(&body);
}

static void on_conn(struct daemon *d, struct watch *w, uint32_t events)
{
	struct metrics_conn *c = (struct metrics_conn *)w;
	ssize_t n;

	if (c->out.len) {
		if (events & (EPOLLERR | EPOLLHUP))
			conn_free(d, c);
		else
			send_more(d, c);
		return;
	}
	n = recv(w->fd, c->head + c->got, sizeof(c->head) - c->got, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_free(d, c);
		return;
	}
	c->got += (size_t)n;
	switch (pt_metrics_route(c->head, c->got)) {
	case PT_METRICS_SERVE:
		serve(d, c);
		break;
	case PT_METRICS_NOT_FOUND:
		answer(d, c, "404 Not Found", "text/plain", NULL);
		break;
	case PT_METRICS_BAD_METHOD:
		answer(d, c, "405 Method Not Allowed", "text/plain", NULL);
		break;
	case PT_METRICS_TOO_BIG:
		answer(d, c, "431 Request Header Fields Too Large", "text/plain", NULL);
		break;
	case PT_METRICS_INCOMPLETE:
	default:
		break;
	}
}

static void on_accept(struct daemon *d, struct watch *w, uint32_t events)
{
	struct metrics *m = d->metrics;
	int fd;

	(void)events;
	while ((fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct metrics_conn *c;

		if (m->n_conns >= CONNS_MAX || !(c = calloc(1, sizeof(*c)))) {
			m->refused++;
			close(fd);
			continue;
		}
		c->w.fd = fd;
		c->w.on_ready = on_conn;
		c->deadline = now_mono_ms() + HEAD_TIMEOUT_MS;
		if (loop_add(d, &c->w, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = m->conns;
		m->conns = c;
		m->n_conns++;
	}
}

int metrics_listen(struct daemon *d, pt_err *err)
{
	struct metrics *m = d->metrics;
	struct pt_listen_addr a;
	char why[200];
	int fd, one = 1;

	if (!m || !d->cfg.metrics_listen[0])
		return 0;
	if (pt_listen_addr_parse(d->cfg.metrics_listen, &a, why, sizeof(why)) < 0)
		return pt_err_set(err, -EINVAL, "metrics_listen %s: %s", d->cfg.metrics_listen, why);
	fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pt_err_set(err, -errno, "metrics_listen %s: socket", d->cfg.metrics_listen);
	if (a.family == AF_UNIX) {
		unlink(a.u.un.sun_path); /* a stale socket of an earlier ptenantd */
		snprintf(m->unix_path, sizeof(m->unix_path), "%s", a.u.un.sun_path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, &a.u.sa, a.len) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		close(fd);
		return pt_err_set(err, -e, "metrics_listen %s: bind", d->cfg.metrics_listen);
	}
	/* A unix socket is root's: who may scrape is the operator's choice of
	 * directory and mode. */
	if (a.family == AF_UNIX)
		chmod(a.u.un.sun_path, 0600);
	m->listener.fd = fd;
	m->listener.on_ready = on_accept;
	if (loop_add(d, &m->listener, EPOLLIN) < 0) {
		pt_closep(&m->listener.fd);
		return pt_err_set(err, -errno, "metrics_listen: epoll");
	}
	fprintf(stderr, "ptenantd: metrics on %s\n", d->cfg.metrics_listen);
	return 0;
}

void metrics_tick(struct daemon *d, uint64_t now)
{
	struct metrics *m = d->metrics;
	struct metrics_conn *c, *next;

	for (c = m ? m->conns : NULL; c; c = next) {
		next = c->next;
		if (now >= c->deadline)
			conn_free(d, c); /* slow or silent scrapers do not stay */
	}
}

uint64_t metrics_next_deadline(const struct daemon *d)
{
	uint64_t next = 0;

	for (struct metrics_conn *c = d->metrics ? d->metrics->conns : NULL; c; c = c->next)
		if (!next || c->deadline < next)
			next = c->deadline;
	return next;
}

void metrics_shutdown(struct daemon *d)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	while (m->conns)
		conn_free(d, m->conns);
	if (m->listener.fd >= 0) {
		loop_del(d, &m->listener);
		pt_closep(&m->listener.fd);
	}
	if (m->unix_path[0])
		unlink(m->unix_path);
	free(m);
	d->metrics = NULL;
}

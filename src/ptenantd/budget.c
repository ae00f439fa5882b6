/* Budgets in the daemon: which cgroup backend, each tenant's leaf around
 * its spawn, the OOM watch in the event loop, stats and live updates.
 *
 * Where budgets come from: cgroup_mode (auto, v2, v1, off) and
 * cgroup_parent. Under systemd on cgroup v2 the subtree is the scope
 * ptenant-tenants.scope (tenant-scope.c says why); on a v1 or hybrid host
 * (Delegate=yes) it is the daemon's own cgroup. Run by hand with no
 * cgroup_parent, the daemon does not take whatever cgroup it happens to
 * be in (that may be a login session or the host's root), and it does
 * not quietly run tenants unlimited either: that is a startup error, as
 * is a subtree that offers no usable controller. Only cgroup_mode = off runs without budgets, and then the
 * log, `ptenant ls` and `ptenant stats` say so. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "api.h"
#include "cgroup.h"
#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "spawn.h"

#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

static void fmt_size(uint64_t b, char *buf, size_t n)
{
	if (b == UINT64_MAX)
		snprintf(buf, n, "max");
	else if (b >= 1024ULL * 1024 * 1024)
		snprintf(buf, n, "%.1fG", b / (1024.0 * 1024 * 1024));
	else
		snprintf(buf, n, "%.1fM", b / (1024.0 * 1024));
}

int budget_init(struct daemon *d, pt_err *err)
{
	enum pt_cg_mode mode = (enum pt_cg_mode)d->cfg.cgroup_mode;
	const char *parent = d->cfg.cgroup_parent;
	bool systemd = getenv("INVOCATION_ID") != NULL;
	char scope[PT_CG_PATH_MAX];
	int r;

	if (mode == PT_CG_OFF) {
		snprintf(d->budget_note, sizeof(d->budget_note), "off (cgroup_mode = off)");
		fprintf(stderr, "ptenantd: budgets %s: tenants run without cgroup limits\n",
			d->budget_note);
		return 0;
	}
	if (!parent[0] && !systemd)
		return pt_err_field(err, -EINVAL, "cgroup_parent",
				    "budgets: no cgroup subtree to manage: set cgroup_parent "
				    "(e.g. /ptenant), run ptenantd under systemd with Delegate=yes, "
				    "or set cgroup_mode = off to run tenants without budgets");
	if (!parent[0] && mode != PT_CG_V1 && tenant_scope_wanted()) {
		r = tenant_scope_ensure(scope, sizeof(scope), err);
		if (r < 0)
			return pt_err_prefix(err, "budgets: the systemd scope for tenants "
					     "(or set cgroup_parent)");
		parent = scope;
		d->tenant_scope = true;
	}
	r = pt_cgroup_open(mode, parent, &d->cg, err);
	if (r < 0)
		return pt_err_prefix(err, "budgets (cgroup_mode = %s, cgroup_parent = %s; "
				     "set cgroup_mode = off to run without)",
				     pt_cg_mode_name(mode), parent[0] ? parent : "own cgroup");
	snprintf(d->budget_note, sizeof(d->budget_note), "cgroup %s under %s%s",
		 d->cg->ops->name, d->cg->root[0],
		 strcmp(d->cg->ops->name, "v1") == 0 ? " (and cpu, pids, freezer)" : "");
	fprintf(stderr, "ptenantd: budgets: %s\n", d->budget_note);
	return 0;
}

void budget_free(struct daemon *d)
{
	pt_cgroup_free(d->cg);
	d->cg = NULL;
}

void budget_tenant_init(struct tenant *t)
{
	t->budget.oom.fd = -1;
	t->budget.leaf_fd = -1;
}

static void limits_of(struct daemon *d, const struct pt_resources *res,
		      struct pt_cg_limits *lim)
{
	lim->memory_max = res->memory_max ? res->memory_max : d->cfg.default_memory_max;
	lim->memory_high = res->memory_high;
	lim->cpu_millis = res->cpu_millis ? res->cpu_millis : d->cfg.default_cpu_millis;
	lim->cpu_weight = res->cpu_weight;
	lim->pids_max = res->pids_max ? res->pids_max : d->cfg.default_pids_max;
}

/* `systemctl stop ptenant-tenants.scope` (or anything else that removed
 * it) ended every tenant and the scope with them; the next start makes it
 * again, as the next ptenantd would, instead of failing every respawn. */
static int scope_back(struct daemon *d, pt_err *err)
{
	char scope[PT_CG_PATH_MAX];
	int r;

	if (!d->tenant_scope || tenant_scope_alive())
		return 0;
	r = tenant_scope_ensure(scope, sizeof(scope), err);
	if (r == 0)
		r = pt_cgroup_reprepare(d->cg, err);
	if (r < 0)
		return pt_err_prefix(err, "the tenants' systemd scope is gone; making it again");
	fprintf(stderr, "ptenantd: the tenants' systemd scope was gone (stopped by hand?): "
		"made it again\n");
	return 0;
}

int budget_prepare(struct daemon *d, struct tenant *t, struct pt_spawn_req *req,
		   pt_err *err)
{
	struct pt_cg_limits lim;
	int r, fd;

	if (!d->cg)
		return 0;
	r = scope_back(d, err);
	if (r < 0)
		return r;
	limits_of(d, &t->spec.resources, &lim);
	r = PT_FAULT_ERR("budget.cgroup-create", err);
	if (r == 0)
		r = d->cg->ops->create(d->cg, t->spec.slug, &lim, err);
	if (r < 0)
		return pt_err_prefix(err, "tenant %s: cgroup", t->spec.slug);
	t->budget.cg = d->cg;
	t->budget.slug = t->spec.slug;
	t->budget.oom_kills = 0;
	t->budget.oom_base = 0;
	t->budget.cpu_base = 0;
	t->budget.oom_killed = false;
	if (d->cg->ops->open_procs) {
		r = d->cg->ops->open_procs(d->cg, t->spec.slug, req->place_fds,
					   PT_SPAWN_PLACE_MAX, err);
		if (r < 0) {
			d->cg->ops->destroy(d->cg, t->spec.slug, NULL);
			return pt_err_prefix(err, "tenant %s: cgroup", t->spec.slug);
		}
		req->n_place_fds = (size_t)r;
		return 0;
	}
	fd = d->cg->ops->open_leaf(d->cg, t->spec.slug, err);
	if (fd < 0) {
		d->cg->ops->destroy(d->cg, t->spec.slug, NULL);
		return pt_err_prefix(err, "tenant %s: cgroup", t->spec.slug);
	}
	t->budget.leaf_fd = fd;
	req->cgroup_fd = fd;
	return 0;
}

static void watch_oom(struct daemon *d, struct tenant *t);

/* A standby joins the leaf of the run it will follow (standby.c), made
 * by that run's start: a respawn then needs no cgroup work at all. */
int budget_prepare_standby(struct daemon *d, struct tenant *t, struct pt_spawn_req *req,
			   pt_err *err)
{
	int r;

	if (!d->cg)
		return 0;
	if (d->cg->ops->open_procs) {
		r = d->cg->ops->open_procs(d->cg, t->spec.slug, req->place_fds,
					   PT_SPAWN_PLACE_MAX, err);
		if (r < 0)
			return pt_err_prefix(err, "tenant %s: standby: cgroup", t->spec.slug);
		req->n_place_fds = (size_t)r;
		return 0;
	}
	r = d->cg->ops->open_leaf(d->cg, t->spec.slug, err);
	if (r < 0)
		return pt_err_prefix(err, "tenant %s: standby: cgroup", t->spec.slug);
	req->cgroup_fd = r;
	return 0;
}

void budget_standby_begun(struct pt_spawn_req *req)
{
	pt_closep(&req->cgroup_fd);
	for (size_t i = 0; i < req->n_place_fds; i++)
		pt_closep(&req->place_fds[i]);
	req->n_place_fds = 0;
}

/* The standby took over in the same leaf: the counters that are per run
 * start from where the leaf's are now. The memory peak cannot be reset
 * this way: it covers every run since the leaf was made. */
void budget_standby_took_over(struct daemon *d, struct tenant *t)
{
	struct pt_cg_stats s;

	if (!d->cg)
		return;
	t->budget.oom_killed = false;
	if (d->cg->ops->stats(d->cg, t->spec.slug, &s, NULL) == 0) {
		t->budget.oom_base = t->budget.oom_kills = s.oom_kills;
		t->budget.cpu_base = s.cpu_usec == UINT64_MAX ? 0 : s.cpu_usec;
	}
	watch_oom(d, t);
}

/* The child is born in (v2) or has its own way into (v1) the leaf: the
 * daemon's handles on it go. */
void budget_spawn_begun(struct tenant *t, struct pt_spawn_req *req)
{
	pt_closep(&t->budget.leaf_fd);
	for (size_t i = 0; i < req->n_place_fds; i++)
		pt_closep(&req->place_fds[i]);
	req->n_place_fds = 0;
}

/* The OOM watch fired: count again, and if a kill happened, the whole
 * tenant goes (v2's memory.oom.group did that already; v1 has none). */
static void on_oom(struct daemon *d, struct watch *w, uint32_t events)
{
	struct tenant *t = container_of(w, struct tenant, budget.oom);
	struct pt_cg_stats s;
	char drain[256];

	(void)events;
	/* Reading resets the notification: kernfs (v2) re-arms EPOLLPRI on
	 * read, the eventfd (v1) stays readable until read. */
	(void)!pread(w->fd, drain, sizeof(drain), 0);
	if (!d->cg || d->cg->ops->stats(d->cg, t->spec.slug, &s, NULL) < 0 ||
	    s.oom_kills <= t->budget.oom_kills)
		return;
	t->budget.oom_kills = s.oom_kills;
	t->budget.oom_killed = true;
	fprintf(stderr, "ptenantd: tenant %s: OOM kill in its cgroup (peak %llu bytes): "
		"killing the tenant\n", t->spec.slug, (unsigned long long)s.memory_peak);
	if (t->proc.fd >= 0)
		pidfd_send_signal(t->proc.fd, SIGKILL, NULL, 0);
}

static void watch_oom(struct daemon *d, struct tenant *t)
{
	pt_err err = { 0 };
	uint32_t events = 0;
	int fd = d->cg->ops->oom_fd(d->cg, t->spec.slug, &events, &err);

	if (fd < 0) {
		/* Still detected at exit from the counters; only the
		 * prompt kill on v1 is lost. */
		fprintf(stderr, "ptenantd: tenant %s: no OOM watch: %s\n", t->spec.slug, err.msg);
		return;
	}
	t->budget.oom.fd = fd;
	t->budget.oom.on_ready = on_oom;
	if (loop_add(d, &t->budget.oom, events) < 0)
		pt_closep(&t->budget.oom.fd);
}

void budget_spawned(struct daemon *d, struct tenant *t, bool ok)
{
	if (!d->cg)
		return;
	if (!ok) {
		d->cg->ops->destroy(d->cg, t->spec.slug, NULL);
		return;
	}
	watch_oom(d, t);
}

static void unwatch(struct daemon *d, struct tenant *t)
{
	loop_del(d, &t->budget.oom);
	pt_closep(&t->budget.oom.fd);
}

static void remember_oom(struct daemon *d, struct tenant *t)
{
	struct pt_cg_limits lim;

	limits_of(d, &t->spec.resources, &lim);
	t->budget.last_oom_at = now_real_ms();
	t->budget.last_oom_peak = t->budget.peak_bytes;
	t->budget.last_oom_max = lim.memory_max;
}

bool budget_exit_stats(struct daemon *d, struct tenant *t)
{
	struct pt_cg_stats s;

	unwatch(d, t);
	if (!d->cg)
		return false;
	/* The counters, not the order in which the pidfd and the watch
	 * fired, decide: the leaf is fresh for every run, or its count when
	 * a standby took over is the base. */
	if (d->cg->ops->stats(d->cg, t->spec.slug, &s, NULL) == 0) {
		t->budget.peak_bytes = s.memory_peak;
		if (s.oom_kills > t->budget.oom_base)
			t->budget.oom_killed = true;
	}
	if (t->budget.oom_killed)
		remember_oom(d, t);
	return t->budget.oom_killed;
}

void budget_exit_release(struct daemon *d, struct tenant *t)
{
	pt_err err = { 0 };

	if (d->cg && d->cg->ops->destroy(d->cg, t->spec.slug, &err) < 0)
		fprintf(stderr, "ptenantd: tenant %s: remove cgroup: %s\n", t->spec.slug, err.msg);
}

bool budget_on_exit(struct daemon *d, struct tenant *t)
{
	bool oom = budget_exit_stats(d, t);

	budget_exit_release(d, t);
	return oom;
}

void budget_describe_oom(const struct tenant *t, char *buf, size_t n)
{
	char peak[32], max[32];
	uint64_t lim = t->spec.resources.memory_max;

	fmt_size(t->budget.peak_bytes, peak, sizeof(peak));
	if (lim)
		fmt_size(lim, max, sizeof(max));
	snprintf(buf, n, "killed by the OOM killer: memory peak %s of %s (peak_bytes=%llu)",
		 peak, lim ? max : "the default budget", (unsigned long long)t->budget.peak_bytes);
}

void budget_describe(struct daemon *d, const struct tenant *t, char *buf, size_t n)
{
	struct pt_cg_limits lim;
	char mem[32], high[32], with_high[48] = "";

	limits_of(d, &t->spec.resources, &lim);
	fmt_size(lim.memory_max, mem, sizeof(mem));
	if (lim.memory_high) {
		fmt_size(lim.memory_high, high, sizeof(high));
		snprintf(with_high, sizeof(with_high), ", memory_high %s", high);
	}
	/* The spec's values are kept while budgets are off: say they wait. */
	snprintf(buf, n, "memory %s%s, cpu %g, pids %llu%s", mem, with_high,
		 lim.cpu_millis / 1000.0, (unsigned long long)lim.pids_max,
		 d->cg ? "" : " (not enforced: budgets off)");
}

bool budget_adopt(struct daemon *d, struct tenant *t)
{
	struct pt_cg_stats s;

	if (!d->cg)
		return true;
	t->budget.cg = d->cg;
	t->budget.slug = t->spec.slug;
	if (d->cg->ops->has_pid(d->cg, t->spec.slug, t->st.pid) != 1) {
		/* Started while budgets were off, or by another backend:
		 * adopted all the same (it is alive), budgeted at its next
		 * start. Killing it for that would be worse. */
		fprintf(stderr, "ptenantd: tenant %s: pid %d is not in its cgroup; "
			"its budget applies from its next start\n", t->spec.slug, (int)t->st.pid);
		return true;
	}
	if (d->cg->ops->stats(d->cg, t->spec.slug, &s, NULL) == 0)
		t->budget.oom_kills = s.oom_kills;
	watch_oom(d, t);
	return true;
}

int budget_join(struct daemon *d, struct tenant *t)
{
	if (!d->cg)
		return 0;
	return d->cg->ops->attach(d->cg, t->spec.slug, getpid(), NULL);
}

json_t *budget_info(struct daemon *d)
{
	return json_pack("{s:b, s:s}", "enabled", d->cg != NULL, "note", d->budget_note);
}

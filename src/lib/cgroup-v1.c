/* The cgroup v1 backend, for hybrid hosts whose memory, cpu, pids and
 * freezer controllers are bound to v1 hierarchies.
 *
 * The same leaf name in each of the four hierarchies (and in cpuacct,
 * when mounted, for CPU seconds). v1 has no CLONE_INTO_CGROUP: the
 * spawned child writes itself into every leaf, through files the daemon
 * opened, before it is released (spawn.c, C1), so the tenant's own code
 * never runs outside its budget. No memory.oom.group either: the daemon kills the
 * whole tenant when memory.oom_control counts a kill, so both backends
 * behave alike. Teardown freezes the leaf first, so nothing can fork
 * while its processes are being killed. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

enum { MEM = 0, CPU, PIDS, FREEZER };

/* Leaf paths; n is how many (4, or 5 with a separate cpuacct). */
static int leaves(struct pt_cgroup *cg, const char *slug,
		  char dirs[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80])
{
	int n = PT_CG_V1_CTRLS;

	for (int i = 0; i < PT_CG_V1_CTRLS; i++)
		pt_cg_leaf(cg->root[i], slug, dirs[i], sizeof(dirs[i]));
	if (cg->acct[0] && strcmp(cg->acct, cg->root[CPU]) != 0)
		pt_cg_leaf(cg->acct, slug, dirs[n++], sizeof(dirs[0]));
	return n;
}

static int write_num(const char *dir, const char *file, long long v, pt_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return pt_cg_write(dir, file, buf, err);
}

/* memsw (memory + swap) must stay >= the memory limit at every step, so
 * the order depends on the direction; equal values mean no swap. */
static int set_memory(struct pt_cgroup *cg, const char *dir, uint64_t max, pt_err *err)
{
	long long v = max ? (long long)max : -1;
	pt_err first = { 0 };

	if (!cg->has_memsw)
		return write_num(dir, "memory.limit_in_bytes", v, err);
	if (write_num(dir, "memory.limit_in_bytes", v, &first) == 0)
		return write_num(dir, "memory.memsw.limit_in_bytes", v, err);
	if (first.code != -EINVAL)
		return pt_err_field(err, first.code, "", "%s", first.msg);
	if (write_num(dir, "memory.memsw.limit_in_bytes", v, err) < 0)
		return err ? err->code : -EIO;
	return write_num(dir, "memory.limit_in_bytes", v, err);
}

static int v1_set_limits(struct pt_cgroup *cg, const char *slug,
			 const struct pt_cg_limits *lim, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80];
	uint32_t weight = lim->cpu_weight ? lim->cpu_weight : 100;
	int r;

	leaves(cg, slug, d);
	r = set_memory(cg, d[MEM], lim->memory_max, err);
	/* The soft limit is v1's nearest thing to memory.high. */
	if (r == 0)
		r = write_num(d[MEM], "memory.soft_limit_in_bytes",
			      lim->memory_high ? (long long)lim->memory_high : -1, err);
	if (r == 0)
		r = write_num(d[CPU], "cpu.cfs_period_us", 100000, err);
	if (r == 0)
		r = write_num(d[CPU], "cpu.cfs_quota_us", (long long)lim->cpu_millis * 100, err);
	/* weight 100 (the v2 default) is 1024 shares (the v1 default). */
	if (r == 0)
		r = write_num(d[CPU], "cpu.shares", weight * 1024LL / 100 < 2 ? 2 :
			      weight * 1024LL / 100, err);
	if (r == 0 && lim->pids_max)
		r = write_num(d[PIDS], "pids.max", (long long)lim->pids_max, err);
	return r;
}

static int v1_destroy(struct pt_cgroup *cg, const char *slug, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80];
	int n = leaves(cg, slug, d), r = 0;
	struct stat st;

	if (stat(d[FREEZER], &st) == 0) {
		/* Frozen tasks cannot fork; they die of the SIGKILL on thaw. */
		pt_cg_write(d[FREEZER], "freezer.state", "FROZEN", NULL);
		for (int i = 0; i < n; i++)
			pt_cg_kill_procs(d[i]);
		pt_cg_write(d[FREEZER], "freezer.state", "THAWED", NULL);
	}
	for (int i = 0; i < n; i++) {
		int q = pt_cg_rmdir(d[i], r < 0 ? NULL : err);

		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

static int v1_create(struct pt_cgroup *cg, const char *slug,
		     const struct pt_cg_limits *lim, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80];
	int n, r;

	r = v1_destroy(cg, slug, err);
	if (r < 0)
		return r;
	n = leaves(cg, slug, d);
	for (int i = 0; i < n; i++)
		if (mkdir(d[i], 0755) < 0) {
			r = pt_err_set(err, -errno, "mkdir %s", d[i]);
			break;
		}
	if (r == 0)
		r = v1_set_limits(cg, slug, lim, err);
	if (r < 0)
		v1_destroy(cg, slug, NULL);
	return r;
}

static int v1_open_leaf(struct pt_cgroup *cg, const char *slug, pt_err *err)
{
	(void)cg;
	return pt_err_set(err, -EOPNOTSUPP, "tenant %s: cgroup v1 cannot clone into a cgroup", slug);
}

static int v1_attach(struct pt_cgroup *cg, const char *slug, pid_t pid, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80];
	int n = leaves(cg, slug, d);

	for (int i = 0; i < n; i++) {
		int r = write_num(d[i], "cgroup.procs", pid, err);

		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_open_procs(struct pt_cgroup *cg, const char *slug, int *fds, size_t max,
			 pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80], path[PT_CG_PATH_MAX + 100];
	int n = leaves(cg, slug, d);

	if ((size_t)n > max)
		return pt_err_set(err, -E2BIG, "tenant %s: %d v1 hierarchies", slug, n);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", d[i]);
		fds[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			int r = pt_err_set(err, -errno, "open %s", path);

			while (i-- > 0)
				pt_closep(&fds[i]);
			return r;
		}
	}
	return n;
}

static int v1_stats(struct pt_cgroup *cg, const char *slug,
		    struct pt_cg_stats *ret, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80], acct[PT_CG_PATH_MAX + 80];
	struct pt_cg_stats s = { .cpu_usec = UINT64_MAX };
	uint64_t ns;
	int r;

	leaves(cg, slug, d);
	if (cg->acct[0]) {
		pt_cg_leaf(cg->acct, slug, acct, sizeof(acct));
		if (pt_cg_read_u64(acct, "cpuacct.usage", &ns, NULL) == 0)
			s.cpu_usec = ns / 1000;
	}
	r = pt_cg_read_u64(d[MEM], "memory.usage_in_bytes", &s.memory_current, err);
	if (r == 0)
		r = pt_cg_read_u64(d[MEM], "memory.max_usage_in_bytes", &s.memory_peak, err);
	if (r == 0)
		r = pt_cg_read_u64(d[PIDS], "pids.current", &s.pids_current, err);
	/* oom_kill in memory.oom_control is 4.13+; older kernels count 0. */
	if (r == 0 && pt_cg_read_key(d[MEM], "memory.oom_control", "oom_kill",
				     &s.oom_kills, NULL) < 0)
		s.oom_kills = 0;
	if (r == 0)
		*ret = s;
	return r;
}

/* An eventfd registered through cgroup.event_control: the kernel signals
 * it on every OOM in the leaf. The registration ends with the leaf. */
static int v1_oom_fd(struct pt_cgroup *cg, const char *slug, uint32_t *events,
		     pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80], path[PT_CG_PATH_MAX + 100], reg[32];
	_cleanup_close_ int efd = -1, ofd = -1;
	int r;

	pt_cg_leaf(cg->root[MEM], slug, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return pt_err_set(err, -errno, "tenant %s: eventfd", slug);
	ofd = open(path, O_RDONLY | O_CLOEXEC);
	if (ofd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	snprintf(reg, sizeof(reg), "%d %d", efd, ofd);
	r = pt_cg_write(dir, "cgroup.event_control", reg, err);
	if (r < 0)
		return r;
	*events = EPOLLIN;
	return TAKE_FD(efd);
}

static int v1_has_pid(struct pt_cgroup *cg, const char *slug, pid_t pid)
{
	char dir[PT_CG_PATH_MAX + 80];

	pt_cg_leaf(cg->root[MEM], slug, dir, sizeof(dir));
	return pt_cg_procs_has(dir, pid);
}

static int v1_freeze(struct pt_cgroup *cg, const char *slug, bool frozen, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80];

	leaves(cg, slug, d);
	/* Written again while FREEZING, it tries the stragglers again. */
	return pt_cg_write(d[FREEZER], "freezer.state", frozen ? "FROZEN" : "THAWED", err);
}

static int v1_frozen(struct pt_cgroup *cg, const char *slug, pt_err *err)
{
	char d[PT_CG_V1_CTRLS + 1][PT_CG_PATH_MAX + 80];
	char state[32];
	int r;

	leaves(cg, slug, d);
	r = pt_cg_read(d[FREEZER], "freezer.state", state, sizeof(state), err);
	if (r < 0)
		return r;
	return strncmp(state, "FROZEN", 6) == 0;
}

const struct pt_cgroup_ops pt_cgroup_v1_ops = {
	.name = "v1",
	.create = v1_create,
	.open_leaf = v1_open_leaf,
	.open_procs = v1_open_procs,
	.attach = v1_attach,
	.set_limits = v1_set_limits,
	.stats = v1_stats,
	.oom_fd = v1_oom_fd,
	.has_pid = v1_has_pid,
	.freeze = v1_freeze,
	.frozen = v1_frozen,
	.destroy = v1_destroy,
};

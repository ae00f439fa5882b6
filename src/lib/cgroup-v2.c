/* The cgroup v2 backend: one leaf per tenant in a delegated subtree.
 *
 * The leaf exists with every limit written before the tenant does
 * (clone3 with CLONE_INTO_CGROUP), so no tenant ever runs unbudgeted.
 * memory.oom.group = 1: an OOM kill takes the whole tenant, which is then
 * respawned by its policy, rather than leaving a bot with a random child
 * missing. Teardown writes cgroup.kill, which reaches every process,
 * including ones forked while we look. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

static const char *const needed[] = { "memory", "cpu", "pids" };

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* The daemon itself may not stay in a cgroup that hands controllers to
 * children (v2's no-internal-process rule): it moves to "supervisor". */
static int move_self(const char *root, pt_err *err)
{
	char sup[PT_CG_PATH_MAX + 16];

	snprintf(sup, sizeof(sup), "%s/supervisor", root);
	if (mkdir(sup, 0755) < 0 && errno != EEXIST)
		return pt_err_set(err, -errno, "mkdir %s", sup);
	return pt_cg_write(sup, "cgroup.procs", "0", err);
}

int pt_cgroup_v2_prepare(struct pt_cgroup *cg, bool own, pt_err *err);
int pt_cgroup_v2_prepare(struct pt_cgroup *cg, bool own, pt_err *err)
{
	const char *root = cg->root[0];
	char ctl[256], sub[256];
	int r;

	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return pt_err_set(err, -errno, "mkdir %s", root);
	r = pt_cg_read(root, "cgroup.controllers", ctl, sizeof(ctl), err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!has_word(ctl, needed[i]))
			return pt_err_set(err, -EOPNOTSUPP, "%s/cgroup.controllers lacks %s",
					  root, needed[i]);
	if (own && (r = move_self(root, err)) < 0)
		return r;
	r = pt_cg_read(root, "cgroup.subtree_control", sub, sizeof(sub), err);
	for (size_t i = 0; r >= 0 && i < sizeof(needed) / sizeof(needed[0]); i++) {
		char plus[16];

		if (has_word(sub, needed[i]))
			continue;
		snprintf(plus, sizeof(plus), "+%s", needed[i]);
		r = pt_cg_write(root, "cgroup.subtree_control", plus, err);
	}
	return r < 0 ? r : 0;
}

static void leaf(struct pt_cgroup *cg, const char *slug, char *buf, size_t n)
{
	pt_cg_leaf(cg->root[0], slug, buf, n);
}

static int write_u64(const char *dir, const char *file, uint64_t v, pt_err *err)
{
	char buf[32];

	if (v == 0 || v == UINT64_MAX)
		snprintf(buf, sizeof(buf), "max");
	else
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return pt_cg_write(dir, file, buf, err);
}

static int v2_set_limits(struct pt_cgroup *cg, const char *slug,
			 const struct pt_cg_limits *lim, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80], cpu[48], weight[16];
	int r;

	leaf(cg, slug, dir, sizeof(dir));
	/* quota per 100 ms period: 1000 millicores = 100000 us. */
	snprintf(cpu, sizeof(cpu), "%llu 100000", (unsigned long long)lim->cpu_millis * 100);
	snprintf(weight, sizeof(weight), "%u", lim->cpu_weight ? lim->cpu_weight : 100);
	/* high before max: lowering both never leaves high above max. */
	r = write_u64(dir, "memory.high", lim->memory_high, err);
	if (r == 0)
		r = write_u64(dir, "memory.max", lim->memory_max, err);
	if (r == 0)
		r = pt_cg_write(dir, "cpu.max", cpu, err);
	if (r == 0)
		r = pt_cg_write(dir, "cpu.weight", weight, err);
	if (r == 0)
		r = write_u64(dir, "pids.max", lim->pids_max, err);
	return r;
}

static int v2_destroy(struct pt_cgroup *cg, const char *slug, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80];
	struct stat st;

	leaf(cg, slug, dir, sizeof(dir));
	if (stat(dir, &st) < 0 && errno == ENOENT)
		return 0;
	/* cgroup.kill is 5.14+; before that, kill what cgroup.procs lists. */
	if (pt_cg_write(dir, "cgroup.kill", "1", NULL) < 0)
		pt_cg_kill_procs(dir);
	return pt_cg_rmdir(dir, err);
}

static int v2_create(struct pt_cgroup *cg, const char *slug,
		     const struct pt_cg_limits *lim, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80];
	pt_err swap = { 0 };
	int r;

	r = v2_destroy(cg, slug, err);
	if (r < 0)
		return r;
	leaf(cg, slug, dir, sizeof(dir));
	if (mkdir(dir, 0755) < 0)
		return pt_err_set(err, -errno, "mkdir %s", dir);
	r = v2_set_limits(cg, slug, lim, err);
	/* No swap: a tenant over budget is killed, not slowly swapped. The
	 * file is absent when the kernel accounts no swap; then none is. */
	if (r == 0 && pt_cg_write(dir, "memory.swap.max", "0", &swap) < 0 &&
	    swap.code != -ENOENT)
		r = pt_err_field(err, swap.code, "", "%s", swap.msg);
	if (r == 0)
		r = pt_cg_write(dir, "memory.oom.group", "1", err);
	if (r < 0) {
		rmdir(dir);
		return r;
	}
	return 0;
}

static int v2_open_leaf(struct pt_cgroup *cg, const char *slug, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80];
	int fd;

	leaf(cg, slug, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? pt_err_set(err, -errno, "open %s", dir) : fd;
}

static int v2_attach(struct pt_cgroup *cg, const char *slug, pid_t pid, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80], p[24];

	leaf(cg, slug, dir, sizeof(dir));
	snprintf(p, sizeof(p), "%d", (int)pid);
	return pt_cg_write(dir, "cgroup.procs", p, err);
}

static int v2_stats(struct pt_cgroup *cg, const char *slug,
		    struct pt_cg_stats *ret, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80];
	struct pt_cg_stats s = { 0 };
	int r;

	leaf(cg, slug, dir, sizeof(dir));
	r = pt_cg_read_key(dir, "cpu.stat", "usage_usec", &s.cpu_usec, err);
	if (r == 0)
		r = pt_cg_read_u64(dir, "memory.current", &s.memory_current, err);
	if (r == 0 && pt_cg_read_u64(dir, "memory.peak", &s.memory_peak, NULL) < 0)
		s.memory_peak = s.memory_current; /* memory.peak is 5.19+ */
	if (r == 0)
		r = pt_cg_read_u64(dir, "pids.current", &s.pids_current, err);
	if (r == 0)
		r = pt_cg_read_key(dir, "memory.events", "oom_kill", &s.oom_kills, err);
	if (r == 0)
		*ret = s;
	return r;
}

/* memory.events signals a change with EPOLLPRI (kernfs_notify). */
static int v2_oom_fd(struct pt_cgroup *cg, const char *slug, uint32_t *events,
		     pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80], path[PT_CG_PATH_MAX + 100];
	int fd;

	leaf(cg, slug, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/memory.events", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	*events = EPOLLPRI;
	return fd;
}

static int v2_has_pid(struct pt_cgroup *cg, const char *slug, pid_t pid)
{
	char dir[PT_CG_PATH_MAX + 80];

	leaf(cg, slug, dir, sizeof(dir));
	return pt_cg_procs_has(dir, pid);
}

static int v2_freeze(struct pt_cgroup *cg, const char *slug, bool frozen, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80];

	leaf(cg, slug, dir, sizeof(dir));
	return pt_cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
}

static int v2_frozen(struct pt_cgroup *cg, const char *slug, pt_err *err)
{
	char dir[PT_CG_PATH_MAX + 80];
	uint64_t v = 0;
	int r;

	leaf(cg, slug, dir, sizeof(dir));
	r = pt_cg_read_key(dir, "cgroup.events", "frozen", &v, err);
	return r < 0 ? r : v == 1;
}

const struct pt_cgroup_ops pt_cgroup_v2_ops = {
	.name = "v2",
	.create = v2_create,
	.open_leaf = v2_open_leaf,
	.attach = v2_attach,
	.set_limits = v2_set_limits,
	.stats = v2_stats,
	.oom_fd = v2_oom_fd,
	.has_pid = v2_has_pid,
	.freeze = v2_freeze,
	.frozen = v2_frozen,
	.destroy = v2_destroy,
};

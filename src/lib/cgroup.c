/* Backend choice and the small file helpers both backends share.
 *
 * The subtree is found, never assumed: the cgroup2 mount and each v1
 * controller's mount come from /proc/self/mountinfo, the daemon's own
 * cgroup from /proc/self/cgroup. Nothing outside the subtree is ever
 * written, except (v2, daemon inside its delegated root) moving the
 * daemon itself into the subtree's "supervisor" leaf. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"

static const char *const v1_names[PT_CG_V1_CTRLS] = { "memory", "cpu", "pids", "freezer" };

const char *pt_cg_mode_name(enum pt_cg_mode m)
{
	switch (m) {
	case PT_CG_AUTO: return "auto";
	case PT_CG_V2: return "v2";
	case PT_CG_V1: return "v1";
	case PT_CG_OFF: return "off";
	}
	return "?";
}

int pt_cg_mode_parse(const char *text, enum pt_cg_mode *ret)
{
	for (int m = PT_CG_AUTO; m <= PT_CG_OFF; m++)
		if (strcmp(text, pt_cg_mode_name((enum pt_cg_mode)m)) == 0) {
			*ret = (enum pt_cg_mode)m;
			return 0;
		}
	return -EINVAL;
}

void pt_cg_leaf(const char *root, const char *slug, char *buf, size_t size)
{
	snprintf(buf, size, "%s/tenant-%s", root, slug);
}

/* ---- file helpers ---- */

int pt_cg_write(const char *dir, const char *file, const char *value, pt_err *err)
{
	char path[PT_CG_PATH_MAX + 64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	if (write(fd, value, len) != (ssize_t)len)
		return pt_err_set(err, -errno, "write '%s' to %s", value, path);
	return 0;
}

int pt_cg_read(const char *dir, const char *file, char *buf, size_t size, pt_err *err)
{
	char path[PT_CG_PATH_MAX + 64];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	n = read(fd, buf, size - 1);
	if (n < 0)
		return pt_err_set(err, -errno, "read %s", path);
	buf[n] = '\0';
	return (int)n;
}

int pt_cg_read_u64(const char *dir, const char *file, uint64_t *ret, pt_err *err)
{
	char buf[64], *end;
	int r = pt_cg_read(dir, file, buf, sizeof(buf), err);

	if (r < 0)
		return r;
	if (strncmp(buf, "max", 3) == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*ret = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return pt_err_set(err, -EBADMSG, "%s/%s: not a number", dir, file);
	return 0;
}

int pt_cg_read_key(const char *dir, const char *file, const char *key,
		   uint64_t *ret, pt_err *err)
{
	char buf[4096];
	size_t klen = strlen(key);
	int r = pt_cg_read(dir, file, buf, sizeof(buf), err);

	if (r < 0)
		return r;
	for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*ret = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
	return pt_err_set(err, -ENOENT, "%s/%s has no '%s'", dir, file, key);
}

static FILE *open_procs(const char *dir)
{
	char path[PT_CG_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	return fopen(path, "re");
}

int pt_cg_procs_has(const char *dir, pid_t pid)
{
	_cleanup_fclose_ FILE *f = open_procs(dir);
	long p;

	if (!f)
		return -errno;
	while (fscanf(f, "%ld", &p) == 1)
		if (p == (long)pid)
			return 1;
	return 0;
}

int pt_cg_kill_procs(const char *dir)
{
	_cleanup_fclose_ FILE *f = open_procs(dir);
	int n = 0;
	long p;

	if (!f)
		return -errno;
	while (fscanf(f, "%ld", &p) == 1)
		if (p > 0 && kill((pid_t)p, SIGKILL) == 0)
			n++;
	return n;
}

int pt_cg_rmdir(const char *dir, pt_err *err)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	/* A killed process leaves the cgroup only once the kernel has torn
	 * it down; that takes milliseconds, so bounded retries suffice. */
	for (int i = 0; i < 200; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			break;
		pt_cg_kill_procs(dir);
		nanosleep(&ts, NULL);
	}
	return pt_err_set(err, -errno, "rmdir %s", dir);
}

/* ---- where things are ---- */

/* One mountinfo line: its root (field 4), mount point (field 5), and,
 * after the " - " separator, fstype and super options. 0 or -EINVAL. */
static int parse_mountinfo_line(char *line, char root[PT_CG_PATH_MAX],
				char mnt[PT_CG_PATH_MAX], char fstype[32], char opts[1024])
{
	char *sep = strstr(line, " - ");

	if (!sep || sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
	    sscanf(sep + 3, "%31s %*s %1023s", fstype, opts) != 2)
		return -EINVAL;
	return 0;
}

static bool carries(const char *fstype, char *opts, const char *ctrl)
{
	if (!ctrl)
		return strcmp(fstype, "cgroup2") == 0;
	if (strcmp(fstype, "cgroup") != 0)
		return false;
	for (char *save = NULL, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
		if (strcmp(o, ctrl) == 0)
			return true;
	return false;
}

int pt_cg_find_mount(const char *mountinfo, const char *ctrl, char *buf, size_t size,
		     pt_err *err)
{
	const char *what = ctrl ? ctrl : "cgroup2";
	char others[PT_ERR_MSG_MAX / 2] = "";
	size_t n_others = 0;

	for (const char *p = mountinfo; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[4096], root[PT_CG_PATH_MAX], mnt[PT_CG_PATH_MAX], fstype[32], opts[1024];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p = nl ? nl + 1 : NULL;
		if (parse_mountinfo_line(line, root, mnt, fstype, opts) < 0 ||
		    !carries(fstype, opts, ctrl))
			continue;
		if (strcmp(root, "/") == 0) {
			snprintf(buf, size, "%s", mnt);
			return 0;
		}
		if (n_others++ < 4) {
			size_t used = strlen(others);

			snprintf(others + used, sizeof(others) - used, "%s%s (root %s)",
				 used ? ", " : "", mnt, root);
		}
	}
	if (n_others)
		return pt_err_set(err, -ENOENT, "the %s%s hierarchy is mounted only with a root "
				  "other than / (%s%s): mount it whole (cgroup paths are "
				  "relative to its root), e.g. run ptenantd in the host's mount "
				  "namespace", ctrl ? "cgroup v1 " : "", what, others,
				  n_others > 4 ? ", ..." : "");
	return pt_err_set(err, -ENOENT, "find the %s%s mount in /proc/self/mountinfo",
			  ctrl ? "cgroup v1 " : "", what);
}

/* The mount point of the cgroup2 fs (ctrl NULL) or of the v1 hierarchy
 * carrying ctrl: the one of its mounts whose root is the hierarchy's
 * root. Another mount of it (a bind of a subtree, as one may find after
 * `ip netns exec`) would place each controller's cgroups elsewhere. */
static int find_mount(const char *ctrl, char *buf, size_t size, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	int r = pt_read_file(AT_FDCWD, "/proc/self/mountinfo", 64 << 20, &text, NULL, err);

	return r < 0 ? r : pt_cg_find_mount(text, ctrl, buf, size, err);
}

/* The daemon's own cgroup in the v2 ("") or a v1 hierarchy. */
static int own_cgroup(const char *ctrl, char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		bool match = false;

		if (!p)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (!ctrl)
			match = strcmp(c + 1, "") == 0 && strncmp(line, "0", 1) == 0;
		else
			for (char *o = strtok(c + 1, ","); o && !match; o = strtok(NULL, ","))
				match = strcmp(o, ctrl) == 0;
		if (match) {
			snprintf(buf, size, "%s", strcmp(p, "/") == 0 ? "" : p);
			return 0;
		}
	}
	return -ENOENT;
}

/* mount + cgroup path (parent, or the daemon's own cgroup). */
static int subtree_path(const char *ctrl, const char *parent, char *buf,
			size_t size, pt_err *err)
{
	char mnt[PT_CG_PATH_MAX], own[PT_CG_PATH_MAX];
	int r = find_mount(ctrl, mnt, sizeof(mnt), err);

	if (r < 0)
		return r;
	if (!parent[0]) {
		r = own_cgroup(ctrl, own, sizeof(own));
		if (r < 0)
			return pt_err_set(err, r, "find the daemon's %s cgroup in /proc/self/cgroup",
					  ctrl ? ctrl : "v2");
		parent = own;
	}
	snprintf(buf, size, "%s%s", mnt, strcmp(parent, "/") == 0 ? "" : parent);
	return 0;
}

/* Creates the subtree directory itself (one level) when it is missing. */
static int ensure_dir(const char *dir, pt_err *err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return pt_err_set(err, -errno, "mkdir %s", dir);
	return 0;
}

/* ---- choosing ---- */

int pt_cgroup_v2_prepare(struct pt_cgroup *cg, bool own, pt_err *err);

static int open_v2(struct pt_cgroup *cg, const char *parent, pt_err *err)
{
	int r = subtree_path(NULL, parent, cg->root[0], sizeof(cg->root[0]), err);

	if (r < 0)
		return r;
	cg->ops = &pt_cgroup_v2_ops;
	return pt_cgroup_v2_prepare(cg, !parent[0], err);
}

static int open_v1(struct pt_cgroup *cg, const char *parent, pt_err *err)
{
	pt_err ignored = { 0 };
	char probe[PT_CG_PATH_MAX + 32];
	int r;

	for (int i = 0; i < PT_CG_V1_CTRLS; i++) {
		r = subtree_path(v1_names[i], parent, cg->root[i], sizeof(cg->root[i]), err);
		if (r == 0)
			r = ensure_dir(cg->root[i], err);
		if (r < 0)
			return r;
	}
	/* cpuacct is only for the CPU seconds of `stats`; when it shares
	 * the cpu hierarchy its files are already in the cpu leaf. */
	if (subtree_path("cpuacct", parent, cg->acct, sizeof(cg->acct), &ignored) < 0 ||
	    ensure_dir(cg->acct, &ignored) < 0)
		cg->acct[0] = '\0';
	snprintf(probe, sizeof(probe), "%s/memory.memsw.limit_in_bytes", cg->root[0]);
	cg->has_memsw = access(probe, F_OK) == 0;
	cg->ops = &pt_cgroup_v1_ops;
	return 0;
}

int pt_cgroup_open(enum pt_cg_mode mode, const char *parent,
		   struct pt_cgroup **ret, pt_err *err)
{
	_cleanup_free_ struct pt_cgroup *cg = calloc(1, sizeof(*cg));
	pt_err v2err = { 0 };
	int r;

	if (!cg)
		return pt_err_set(err, -ENOMEM, "allocate cgroup state");
	if (mode == PT_CG_OFF)
		return pt_err_set(err, -EINVAL, "cgroup_mode is off");
	if (mode == PT_CG_V2 || mode == PT_CG_AUTO) {
		r = open_v2(cg, parent, mode == PT_CG_V2 ? err : &v2err);
		if (r == 0 || mode == PT_CG_V2)
			goto out;
		memset(cg, 0, sizeof(*cg));
	}
	r = open_v1(cg, parent, err);
	if (r < 0 && mode == PT_CG_AUTO)
		pt_err_prefix(err, "no usable cgroup controllers (v2: %s; v1)", v2err.msg);
out:
	if (r < 0)
		return r;
	*ret = TAKE_PTR(cg);
	return 0;
}

int pt_cgroup_reprepare(struct pt_cgroup *cg, pt_err *err)
{
	if (cg->ops != &pt_cgroup_v2_ops)
		return pt_err_set(err, -EOPNOTSUPP, "prepare a v1 subtree again");
	return pt_cgroup_v2_prepare(cg, false, err);
}

void pt_cgroup_free(struct pt_cgroup *cg)
{
	free(cg);
}

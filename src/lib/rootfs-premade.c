#include "rootfs-premade.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "syscalls.h"

void pt_premade_init(struct pt_premade *pm)
{
	for (size_t i = 0; i < PT_PLAN_STEPS_MAX; i++) {
		pm->step_fd[i] = -1;
		pm->node_made[i] = false;
	}
	pm->mask = -1;
	pm->notify = -1;
}

void pt_premade_close(struct pt_premade *pm)
{
	for (size_t i = 0; i < PT_PLAN_STEPS_MAX; i++)
		pt_closep(&pm->step_fd[i]);
	pt_closep(&pm->mask);
	pt_closep(&pm->notify);
}

static unsigned attrs_of(unsigned long ms)
{
	return (ms & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
	       (ms & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
	       (ms & MS_NODEV ? MOUNT_ATTR_NODEV : 0) |
	       (ms & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0) |
	       (ms & MS_STRICTATIME ? MOUNT_ATTR_STRICTATIME : 0);
}

/* Applies "k=v,k,..." to fsfd; uid=/gid= (ids inside the tenant) are not
 * given to the kernel, which would print them as host ids, but returned
 * for a chown of the root. */
static int apply_options(int fsfd, const char *target, const char *data,
			 uid_t *uid, gid_t *gid, pt_err *err)
{
	char buf[256], *save = NULL, *opt;

	if (!data)
		return 0;
	if (strlen(data) >= sizeof(buf))
		return pt_err_set(err, -E2BIG, "tmpfs options of /%s too long", target);
	snprintf(buf, sizeof(buf), "%s", data);
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		int r;

		if (eq)
			*eq++ = '\0';
		if (eq && strcmp(opt, "uid") == 0)
			*uid += (uid_t)strtoul(eq, NULL, 10);
		else if (eq && strcmp(opt, "gid") == 0)
			*gid += (gid_t)strtoul(eq, NULL, 10);
		else {
			r = eq ? fsconfig(fsfd, FSCONFIG_SET_STRING, opt, eq, 0)
			       : fsconfig(fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
			if (r < 0)
				return pt_err_set(err, -errno, "tmpfs for /%s: option %s", target, opt);
		}
	}
	return 0;
}

/* A detached tmpfs with `data`'s options and `flags`, its root owned by
 * uid:gid (host ids). */
static int make_tmpfs(const char *target, const char *data, unsigned long flags,
		      uid_t uid, gid_t gid, pt_err *err)
{
	_cleanup_close_ int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC), mnt = -1;
	int r;

	if (fsfd < 0)
		return pt_err_set(err, -errno, "fsopen tmpfs for /%s", target);
	/* "tmpfs", as mount(8) would name it, not the "none" of fsopen. */
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "tmpfs", 0) < 0)
		return pt_err_set(err, -errno, "tmpfs for /%s: source", target);
	r = apply_options(fsfd, target, data, &uid, &gid, err);
	if (r < 0)
		return r;
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return pt_err_set(err, -errno, "create tmpfs for /%s", target);
	mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs_of(flags));
	if (mnt < 0)
		return pt_err_set(err, -errno, "fsmount tmpfs for /%s", target);
	if (fchownat(mnt, "", uid, gid, AT_EMPTY_PATH) < 0)
		return pt_err_set(err, -errno, "chown tmpfs for /%s to %u:%u", target,
				  (unsigned)uid, (unsigned)gid);
	return TAKE_FD(mnt);
}

/* The node of a PT_STEP_BIND_DEV ("dev/null" from "/dev/null") made in
 * the /dev tmpfs `dev`, with the host node's type, number and mode. */
static int make_node(int dev, const struct pt_step *s, pt_err *err)
{
	const char *name = s->target + strlen("dev/");
	struct stat st;

	if (stat(s->source, &st) < 0)
		return pt_err_set(err, -errno, "stat %s", s->source);
	if (!S_ISCHR(st.st_mode))
		return pt_err_set(err, -ENODEV, "%s is not a character device", s->source);
	if (mknodat(dev, name, S_IFCHR | 0600, st.st_rdev) < 0 ||
	    fchmodat(dev, name, st.st_mode & 07777, 0) < 0)
		return pt_err_set(err, -errno, "make /%s", s->target);
	return 0;
}

/* The source of every mask: an empty read-only directory and an empty
 * file, owned by host root (nobody, inside). */
static int make_mask(pt_err *err)
{
	_cleanup_close_ int mnt = make_tmpfs("(masks)", "mode=0555,size=4k",
					     MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0, err);
	_cleanup_close_ int fd = -1;

	if (mnt < 0)
		return mnt;
	fd = openat(mnt, "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0 || mkdirat(mnt, "dir", 0555) < 0 || fchmodat(mnt, "dir", 0555, 0) < 0 ||
	    fchmodat(mnt, "file", 0444, 0) < 0)
		return pt_err_set(err, -errno, "populate the mask tmpfs");
	return TAKE_FD(mnt);
}

/* The notify socket, "notify" in directory dirfd: bound through
 * /proc/self/fd (a premade tmpfs is in no mount tree yet). Writable by
 * everyone inside (any of the tenant's users may say READY=1): made so by
 * the umask at bind, never by a chmod of a name the tenant could have
 * swapped for a symlink meanwhile; a name already there is unlinked (not
 * followed) and, if the tenant races one back in, bind fails. */
int pt_notify_bind_at(int dirfd, pt_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old;
	int r;

	if (fd < 0)
		return pt_err_set(err, -errno, "notify socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/notify", dirfd);
	unlinkat(dirfd, "notify", 0);
	old = umask(0);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return pt_err_set(err, -errno, "bind the notify socket");
	return TAKE_FD(fd);
}

int pt_premade_make(const struct pt_plan *plan, struct pt_premade *pm, pt_err *err)
{
	int dev = -1;

	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];

		if (s->kind == PT_STEP_TMPFS) {
			pm->step_fd[i] = make_tmpfs(s->target, s->data, s->flags,
						    plan->host_uid, plan->host_uid, err);
			if (pm->step_fd[i] < 0)
				return pm->step_fd[i];
			if (strcmp(s->target, "dev") == 0)
				dev = pm->step_fd[i];
			if (s->notify && pm->notify < 0) {
				pm->notify = pt_notify_bind_at(pm->step_fd[i], err);
				if (pm->notify < 0)
					return pt_err_prefix(err, "/%s", s->target);
			}
		} else if (s->kind == PT_STEP_BIND_DEV && dev >= 0 &&
			   strncmp(s->target, "dev/", 4) == 0 && !strchr(s->target + 4, '/')) {
			int r = make_node(dev, s, err);

			if (r < 0)
				return r;
			pm->node_made[i] = true;
		}
	}
	pm->mask = make_mask(err);
	return pm->mask < 0 ? pm->mask : 0;
}

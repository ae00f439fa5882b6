/* What a start sets aside, removed off the loop's thread.
 *
 * Every start gives the tenant a fresh writable layer (tenant-start.c,
 * standby.c); the previous one is renamed into the tenant's trash/
 * directory, one rename each, and a helper process (the reaper) empties
 * every trash/ at the lowest CPU and I/O priority. Removing a layer in
 * the loop, even in idle rounds, cost it milliseconds a file: ext4
 * mounted with `discard` waits for the device to trim each freed extent
 * (off-CPU profile of 100 starts: 125 ms of the loop's thread), and an
 * API call that came meanwhile waited with it. A layer is the tenant's
 * discarded state, so how long it lingers harms no one; the reaper runs
 * whenever there is trash and none runs, and only one runs at a time, so
 * no directory has two removers. The daemon removes tenant directories
 * itself (rm): it ends the reaper first (trash_pause), the next one goes
 * on where it stopped. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "fsutil.h"
#include "syscalls.h"

#define TRASH_RETRY_MS 60000
/* ioprio_set(2): no glibc wrapper, no uapi header in Debian 12's libc. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

/* Old names of a set-aside layer (daemons before the trash): removed too. */
static const char *const legacy[] = { "upper.old", "work.old" };

/* Below this much free space or inodes, the old layer's are what the
 * next run's first writes (its /etc files, its overlay's copy-ups) may
 * need: it is removed at once, before the run starts, as it was before
 * the trash. A full disk is no time to save milliseconds. */
#define SHORT_BYTES (64ULL << 20)
#define SHORT_INODES 4096ULL

static bool space_short(int dfd)
{
	struct statvfs sv;

	if (fstatvfs(dfd, &sv) < 0)
		return false;
	return (uint64_t)sv.f_bavail * sv.f_frsize < SHORT_BYTES ||
	       (sv.f_files && sv.f_favail < SHORT_INODES);
}

int trash_put(struct daemon *d, const struct tenant *t, int dfd, const char *name,
	      pt_err *err)
{
	static unsigned seq;
	char to[128];

	if (space_short(dfd)) {
		int r;

		fprintf(stderr, "ptenantd: tenant %s: under %llu MiB or %llu inodes free on its "
			"file system: its old %s/ is removed at once, not by the trash\n",
			t->spec.slug, SHORT_BYTES >> 20, SHORT_INODES, name);
		r = pt_rmtree_at(dfd, name, err);
		return r < 0 ? pt_err_prefix(err, "short of space, remove %s", name) : 0;
	}

	if (mkdirat(dfd, TRASH_DIR, 0700) < 0 && errno != EEXIST)
		return pt_err_set(err, -errno, "create %s/", TRASH_DIR);
	/* Unique across restarts, as a leftover of the last daemon may wait. */
	for (int tries = 0;; tries++) {
		snprintf(to, sizeof(to), TRASH_DIR "/%s.%llu.%u", name,
			 (unsigned long long)now_real_ms(), ++seq);
		if (renameat(dfd, name, dfd, to) == 0)
			break;
		if (errno == ENOENT)
			return 0;
		if ((errno != EEXIST && errno != ENOTEMPTY) || tries == 3)
			return pt_err_set(err, -errno, "move %s to %s", name, to);
	}
	d->trash_pending = true;
	return 0;
}

/* A tenant may nest directories deeper than pt_rmtree_at walks (its limit
 * bounds the remover's memory). Such a chain is cut: the directory
 * CUT_LEVELS down the first path is moved up into trash/ under a name of
 * its own, and both halves are shallower. */
#define CUT_LEVELS 2000
#define CUTS_MAX 4096

/* The first subdirectory of dirfd, its name in buf: 1, or 0 if none. */
static int first_subdir(int dirfd, char buf[256])
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)))
		if (!pt_fs_is_dot(de->d_name) &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			snprintf(buf, 256, "%s", de->d_name);
			return 1;
		}
	return 0;
}

/* rmtree removed what it could before it met the limit, so the first
 * path left is the one that was too deep. 1 when a cut was made. */
static int cut_chain(int trashfd, const char *name, unsigned n)
{
	_cleanup_close_ int fd = openat(trashfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
	char child[256], to[64];

	if (fd < 0)
		return 0;
	for (int level = 1;; level++) {
		int next;

		if (!first_subdir(fd, child))
			return 0;
		if (level == CUT_LEVELS)
			break;
		next = openat(fd, child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return 0;
		close(fd);
		fd = next;
	}
	snprintf(to, sizeof(to), "cut.%d.%u", (int)getpid(), n);
	return renameat(fd, child, trashfd, to) == 0;
}

/* One entry of trash/; *cuts counts the chains it had to cut. */
static int remove_entry(int trashfd, const char *name, unsigned *cuts, pt_err *err)
{
	int r = PT_FAULT_ERR("trash.remove", err);

	if (r == 0)
		r = pt_rmtree_at(trashfd, name, err);
	while (r == -ELOOP && *cuts < CUTS_MAX && cut_chain(trashfd, name, *cuts)) {
		++*cuts;
		*err = (pt_err){ 0 };
		r = pt_rmtree_at(trashfd, name, err);
	}
	return r;
}

/* Empties one tenant's trash/ (and what older daemons left); false when
 * something stays, said on stderr. */
static bool empty_tenant(int tenants, const char *slug)
{
	_cleanup_close_ int dfd = openat(tenants, slug, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_closedir_ DIR *trash = NULL;
	struct dirent *de;
	bool ok = true;
	int fd;

	if (dfd < 0)
		return true; /* removed meanwhile, or not a tenant directory */
	for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		pt_err err = { 0 };

		if (pt_rmtree_at(dfd, legacy[i], &err) < 0) {
			fprintf(stderr, "ptenantd: trash: tenant %s: %s\n", slug, err.msg);
			ok = false;
		}
	}
	fd = openat(dfd, TRASH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ok;
	trash = fdopendir(fd);
	if (!trash) {
		close(fd);
		return false;
	}
	/* Again while cuts add entries the last pass may not have seen. */
	for (unsigned cuts = 0, before = 1; cuts != before && cuts < CUTS_MAX;) {
		before = cuts;
		rewinddir(trash);
		while ((de = readdir(trash))) {
			pt_err err = { 0 };

			if (pt_fs_is_dot(de->d_name))
				continue;
			if (remove_entry(dirfd(trash), de->d_name, &cuts, &err) < 0) {
				fprintf(stderr, "ptenantd: trash: tenant %s: %s/%s: %s\n", slug,
					TRASH_DIR, de->d_name, err.msg);
				ok = false;
			}
		}
	}
	return ok;
}

static __attribute__((noreturn)) void reaper_main(const char *tenants_dir, pid_t daemon)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;
	sigset_t none;
	bool ok = true;
	int keep;

	/* Never outlives the daemon: the next one starts its own. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != daemon)
		_exit(0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Only stderr (the journal) of the daemon's files: an API socket or
	 * a child's sync socket held here would outlive their closing. */
	keep = pt_fault_announce_fd();
	if (keep > 3)
		close_range(3, (unsigned)keep - 1, 0);
	close_range(keep >= 3 ? (unsigned)keep + 1 : 3, ~0U, 0);
	setpriority(PRIO_PROCESS, 0, 19);
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
	prctl(PR_SET_NAME, "ptenantd-trash");
	dir = opendir(tenants_dir);
	if (!dir) {
		fprintf(stderr, "ptenantd: trash: open %s: %s\n", tenants_dir, strerror(errno));
		_exit(1);
	}
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.') /* nor .create-*: half-made */
			ok &= empty_tenant(dirfd(dir), de->d_name);
	_exit(ok ? 0 : 1);
}

static void reaper_gone(struct daemon *d)
{
	loop_del(d, &d->reaper);
	pt_closep(&d->reaper.fd);
}

/* SIGKILL, then reaped: it is gone when this returns. */
static void reaper_end(struct daemon *d)
{
	pidfd_send_signal(d->reaper.fd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, (id_t)d->reaper.fd, &(siginfo_t){ 0 }, WEXITED);
	reaper_gone(d);
}

/* What is left waits TRASH_RETRY_MS for the next reaper. */
static void retry_later(struct daemon *d)
{
	d->trash_pending = true;
	d->trash_retry_at = now_mono_ms() + TRASH_RETRY_MS;
}

static void on_reaper_exit(struct daemon *d, struct watch *w, uint32_t events)
{
	siginfo_t si = { 0 };

	(void)events;
	waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG);
	if (si.si_pid == 0)
		return;
	reaper_gone(d);
	if (si.si_code != CLD_EXITED || si.si_status != 0) {
		/* What it could not remove is on stderr; again in a while. */
		fprintf(stderr, "ptenantd: trash: the reaper %s %d; what is left is tried again "
			"in %d s\n", si.si_code == CLD_EXITED ? "exited with" : "was killed by signal",
			si.si_status, TRASH_RETRY_MS / 1000);
		retry_later(d);
	}
}

static int reaper_start(struct daemon *d, pt_err *err)
{
	struct pt_clone_args args = { 0 };
	pid_t pid, daemon = getpid();
	int pidfd = -1, r;

	r = PT_FAULT_ERR("trash.fork", err);
	if (r < 0)
		return r;
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	pid = pt_clone3(&args);
	if (pid == 0)
		reaper_main(d->tenants_dir, daemon);
	if (pid < 0)
		return pt_err_set(err, -errno, "fork the trash reaper");
	d->reaper.fd = pidfd;
	d->reaper.on_ready = on_reaper_exit;
	r = loop_add(d, &d->reaper, EPOLLIN);
	if (r < 0) {
		/* Unwatched, it would never be reaped: it goes now. */
		reaper_end(d);
		return pt_err_set(err, r, "watch the trash reaper");
	}
	return 0;
}

void trash_flush(struct daemon *d)
{
	pt_err err = { 0 };

	if (!d->trash_pending || d->reaper.fd >= 0 ||
	    (d->trash_retry_at && now_mono_ms() < d->trash_retry_at))
		return;
	d->trash_pending = false;
	d->trash_retry_at = 0;
	if (reaper_start(d, &err) < 0) {
		fprintf(stderr, "ptenantd: trash: %s; tried again in %d s\n", err.msg,
			TRASH_RETRY_MS / 1000);
		retry_later(d);
	}
}

uint64_t trash_next_deadline(const struct daemon *d)
{
	return d->trash_pending && d->reaper.fd < 0 ? d->trash_retry_at : 0;
}

void trash_pause(struct daemon *d)
{
	if (d->reaper.fd < 0)
		return;
	reaper_end(d);
	d->trash_pending = true;
}

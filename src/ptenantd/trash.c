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

int trash_put(struct daemon *d, int dfd, const char *name, pt_err *err)
{
	static unsigned seq;
	char to[128];

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

/* Empties one tenant's trash/ (and what older daemons left); false when
 * something stays, said on stderr. */
static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

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
	while ((de = readdir(trash))) {
		pt_err err = { 0 };

		if (is_dot(de->d_name))
			continue;
		if (PT_FAULT_ERR("trash.remove", &err) < 0 ||
		    pt_rmtree_at(dirfd(trash), de->d_name, &err) < 0) {
			fprintf(stderr, "ptenantd: trash: tenant %s: %s/%s: %s\n", slug,
				TRASH_DIR, de->d_name, err.msg);
			ok = false;
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
		d->trash_pending = true;
		d->trash_retry_at = now_mono_ms() + TRASH_RETRY_MS;
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
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
		pt_closep(&d->reaper.fd);
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
		d->trash_pending = true;
		d->trash_retry_at = now_mono_ms() + TRASH_RETRY_MS;
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
	pidfd_send_signal(d->reaper.fd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, (id_t)d->reaper.fd, &(siginfo_t){ 0 }, WEXITED);
	reaper_gone(d);
	d->trash_pending = true;
}

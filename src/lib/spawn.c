/* The parent/child choreography of a tenant start.
 *
 *   parent                                  child (new user/mnt/pid/... ns)
 *   [P0] tmpfs mounts, /dev nodes and the
 *        masks' source, as host root
 *        (rootfs-premade.h)
 *   clone3(CLONE_NEW*, CLONE_PIDFD,  ------> [C1] open host paths while it is
 *          CLONE_INTO_CGROUP on v2)              still host root (kuid 0);
 *                                                v1: a thread of its own
 *                                                starts joining the tenant's
 *                                                cgroups (cgroup-join.h)
 *   [P1] write uid_map/gid_map                   (waits for "go")
 *   [P1b] record the child (cloned_hook)
 *   [P2] idmapped blueprint mount for the
 *        child's user namespace
 *   [P2b] net_hook: veth pair, peer born
 *        in the child's netns as eth0
 *   [P3] send "go" + the mount fd --------> [C2] become the tenant's root
 *   [P3b] once recorded (now, or when the   [C3] hostname, lo up, eth0
 *        caller says), send "recorded"           address/routes (plan->net)
 *   (pt_spawn_begin returns: the caller's   [C4] build rootfs, pivot_root
 *   loop goes on)                           [C5] stdio, close fds
 *                                           [C5b] v1: waits for the join,
 *                                                then a new cgroup namespace
 *                                           [C5c] waits for "recorded"
 *                                           [C6] keyring, rlimits, caps,
 *                                                user, no_new_privs,
 *                                                seccomp; exec init
 *   [P4] the sync socket is readable  <---- (sync socket is O_CLOEXEC)
 *        (pt_spawn_advance): EOF = exec done,
 *        or {errno, message} of the failed step
 *        (when tracing, the child's step marks come first, just before
 *        the exec: see trace.h)
 *
 * P1 must precede C2: until the maps exist the child's uid 0 means nothing.
 * P2 needs the child's user namespace, so it cannot happen before clone3.
 * P2b needs the child's netns and must precede C3, which configures the
 * eth0 it creates; the child does that itself because it holds
 * CAP_NET_ADMIN over its own netns (no setns in the daemon, no helper).
 * C1 precedes C2 because the daemon's directories are not searchable by
 * the tenant's uids, on purpose.
 * Budgets: on v2 the child is born in its limited leaf. v1 cannot clone
 * into a cgroup, so the child moves itself, through cgroup.procs files
 * the daemon opened (the kernel checks the opener's credentials). A move
 * waits for an RCU grace period (~10 ms, longer than all the rest of the
 * setup): a thread of the child's waits in it from C1 while the child
 * goes on, and the child waits for that thread at C5b, before anything of
 * the tenant's runs. Never the daemon, whose loop serves other starts and
 * the API meanwhile; and many children moving at once share one grace
 * period. The child's cgroup namespace is made after the move: one made
 * at clone3 would be rooted at the daemon's cgroup, not the tenant's, and
 * would show the tenant where the others live.
 *
 * Nothing here blocks on the child's setup: pt_spawn_begin returns once
 * the child is released, and the caller's event loop calls
 * pt_spawn_advance when the sync socket is readable. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-join.h"
#include "cleanup.h"
#include "confine.h"
#include "fault.h"
#include "fsutil.h"
#include "idmap.h"
#include "net.h"
#include "netlink.h"
#include "nsdiag.h"
#include "rootfs.h"
#include "syscalls.h"

#define SYNC_GO 0x676f2121u
#define SYNC_RECORDED 0x7265636fu
#define SYNC_TRACE 0x74726163u

struct trace_msg {
	uint32_t magic;
	struct pt_trace trace;
};

struct sync_msg {
	uint32_t magic;
	int32_t code;
	char msg[PT_ERR_MSG_MAX];
};

static bool tracing(const struct pt_spawn_req *req)
{
	return req->trace && req->trace->on;
}

static int send_fd(int sock, uint32_t magic, int fd)
{
	struct sync_msg m = { .magic = magic };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	if (fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

/* Returns the received fd (or -1 when none came), or -errno. */
static int recv_fd(int sock, struct sync_msg *m)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return n == (ssize_t)sizeof(*m) ? fd : -EBADMSG;
}

/* ---- child ------------------------------------------------------------ */

static __attribute__((noreturn)) void child_fail(int sock, const pt_err *err)
{
	struct sync_msg m = { .magic = 0, .code = err->code };

	snprintf(m.msg, sizeof(m.msg), "%s", err->msg);
	(void)!send(sock, &m, sizeof(m), MSG_NOSIGNAL);
	_exit(127);
}

static int become_tenant_root(pt_err *err)
{
	if (setresgid(0, 0, 0) < 0)
		return pt_err_set(err, -errno, "setresgid 0");
	if (setgroups(0, NULL) < 0)
		return pt_err_set(err, -errno, "setgroups");
	if (setresuid(0, 0, 0) < 0)
		return pt_err_set(err, -errno, "setresuid 0");
	return 0;
}

static int setup_stdio(const struct pt_spawn_req *req, pt_err *err)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), standby = req->standby_fd;

	/* A standby's "go" pipe becomes fd 4: out of the way of 0-3 first. */
	if (req->plan->standby && standby < 5 &&
	    (standby = fcntl(standby, F_DUPFD_CLOEXEC, 5)) < 0)
		return pt_err_set(err, -errno, "move the standby's go pipe");
	if (null < 0)
		return pt_err_set(err, -errno, "open /dev/null in the tenant");
	/* fd 3 is the read end of the log pipe: init keeps it open so that a
	 * daemon restart never leaves the pipe without a reader (writers
	 * would get SIGPIPE); it is never read inside the tenant. */
	if (dup2(null, 0) < 0 || dup2(req->log_fd, 1) < 0 ||
	    dup2(req->log_fd, 2) < 0 || dup2(req->keep_fd, 3) < 0)
		return pt_err_set(err, -errno, "set up stdio");
	close(null);
	if (req->keep_fd == 3 && fcntl(3, F_SETFD, 0) < 0)
		return pt_err_set(err, -errno, "keep fd 3");
	/* Everything above 3 is the daemon's and must not reach the tenant:
	 * mark it close-on-exec (the sync socket and the init memfd go
	 * away with the exec itself). */
	if (close_range(4, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return pt_err_set(err, -errno, "close_range");
	/* ptenant-init --standby waits on fd 4 (dup2 clears CLOEXEC). */
	if (req->plan->standby && dup2(standby, 4) < 0)
		return pt_err_set(err, -errno, "set up the standby's go pipe");
	return 0;
}

void pt_spawn_reset_signals(void)
{
	sigset_t none;

	/* The daemon blocks the signals its signalfd reads and ignores
	 * SIGPIPE; a tenant must start with neither. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The child's marks go to the parent before exec; a failed send only
 * loses the trace. */
static void send_trace(int sock, struct pt_trace *t)
{
	struct trace_msg tm = { .magic = SYNC_TRACE };

	if (!t)
		return;
	tm.trace = *t;
	(void)!send(sock, &tm, sizeof(tm), MSG_NOSIGNAL);
}

static __attribute__((noreturn)) void child_main(const struct pt_spawn_req *req,
						 const struct pt_premade *pm,
						 int sock, uint64_t clone_ns)
{
	struct pt_rootfs_fds fds = PT_ROOTFS_FDS_INIT;
	const struct pt_plan *plan = req->plan;
	struct pt_trace ctrace, *tr = NULL;
	struct pt_cgjoin join;
	struct sync_msg m;
	pt_err err = { 0 };

	if (tracing(req)) {
		pt_trace_init(&ctrace, true);
		ctrace.start_ns = clone_ns; /* the first step includes clone3 */
		tr = &ctrace;
	}
	/* Until exec, the child must not outlive a daemon that died mid-setup. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		_exit(127);
	pt_trace_mark(tr, "c0-clone3-to-child");
	/* The tenant's setup is the tenant's work: at its priority, not at
	 * the daemon's (daemon_nice), from the first step. */
	if (pt_confine_nice(&req->confine, &err) < 0)
		child_fail(sock, &err);
	if (PT_FAULT_ERR("child.open-host-paths", &err) < 0 ||
	    pt_rootfs_open(plan, &fds, &err) < 0)                      /* C1 */
		child_fail(sock, &err);
	pt_trace_mark(tr, "c1-open-host-paths");
	if (PT_FAULT_ERR("child.cgroup-v1-place", &err) < 0 ||
	    pt_cgjoin_start(&join, req->place_fds, req->n_place_fds, &err) < 0)
		child_fail(sock, &err);
	fds.lower = recv_fd(sock, &m);
	if (fds.lower < 0 || m.magic != SYNC_GO)
		_exit(127); /* the parent failed and will reap us */
	pt_trace_mark(tr, "c1-wait-for-go");
	if (PT_FAULT_ERR("child.become-root", &err) < 0 ||
	    become_tenant_root(&err) < 0)                              /* C2 */
		child_fail(sock, &err);
	pt_trace_mark(tr, "c2-become-root");
	if (sethostname(plan->slug, strlen(plan->slug)) < 0) {         /* C3 */
		pt_err_set(&err, -errno, "sethostname %s", plan->slug);
		child_fail(sock, &err);
	}
	pt_trace_mark(tr, "c3-hostname");
	if (PT_FAULT_ERR("child.net", &err) < 0 || pt_net_loopback_up(&err) < 0)
		child_fail(sock, &err);
	pt_trace_mark(tr, "c3-loopback-up");
	if (plan->net.enabled) {
		if (pt_nl_eth0_setup(plan->net.addr, plan->net.gw, plan->net.gw_mac, &err) < 0)
			child_fail(sock, &err);
		pt_trace_mark(tr, "c3-eth0");
	}
	if (PT_FAULT_ERR("child.rootfs", &err) < 0 ||
	    pt_rootfs_enter(plan, &fds, pm, tr, &err) < 0)             /* C4 */
		child_fail(sock, &err);
	if (PT_FAULT_ERR("child.stdio", &err) < 0 ||
	    setup_stdio(req, &err) < 0)                                /* C5 */
		child_fail(sock, &err);
	pt_trace_mark(tr, "c5-stdio");
	if (req->n_place_fds) {                                        /* C5b */
		if (pt_cgjoin_wait(&join, &err) < 0)
			child_fail(sock, &err);
		/* Rooted where it now is. */
		if (unshare(CLONE_NEWCGROUP) < 0) {
			pt_err_set(&err, -errno, "unshare the cgroup namespace");
			child_fail(sock, &err);
		}
		pt_trace_mark(tr, "c5b-cgroup-v1-joined");
	}
	if (recv_fd(sock, &m) != -1 || m.magic != SYNC_RECORDED)     /* C5c */
		_exit(127); /* the parent failed and will reap us */
	pt_trace_mark(tr, "c5c-recorded");
	/* After the mounts (they need CAP_SYS_ADMIN), before exec; the
	 * filter is loaded last inside it, so only exec and the few calls
	 * below run filtered before init does.                         C6 */
	if (PT_FAULT_ERR("child.confine", &err) < 0 ||
	    pt_confine_apply(&req->confine, &err) < 0)
		child_fail(sock, &err);
	pt_trace_mark(tr, "c5-confine");
	/* As the tenant's user, as runc does: a WorkingDir that user cannot
	 * enter is the image's mistake, said plainly. */
	if (plan->cwd[0] && strcmp(plan->cwd, "/") && chdir(plan->cwd) < 0) {
		pt_err_set(&err, -errno, "chdir to the blueprint's workdir %s", plan->cwd);
		child_fail(sock, &err);
	}
	umask(022);
	pt_spawn_reset_signals();
	/* The tenant must survive a daemon restart (live restore). */
	prctl(PR_SET_PDEATHSIG, 0);
	pt_trace_mark(tr, "c5-signals");
	send_trace(sock, tr);
	execveat(req->init_fd, "", plan->argv, plan->envp, AT_EMPTY_PATH);
	pt_err_set(&err, -errno, "exec ptenant-init");
	child_fail(sock, &err);
}

/* ---- parent ----------------------------------------------------------- */

/* The blueprint rootfs as the child's user namespace must see it: files
 * owned by host uid 0 on disk appear owned by the tenant's root, read-only,
 * without a per-tenant copy or chown. */
static int make_idmapped_lower(const char *lower, pid_t pid, pt_err *err)
{
	_cleanup_close_ int tree = -1, userns = -1;
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY |
			    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	userns = open(path, O_RDONLY | O_CLOEXEC);
	if (userns < 0)
		return pt_err_set(err, -errno, "open %s", path);
	tree = open_tree(AT_FDCWD, lower, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return pt_err_set(err, -errno, "open_tree %s", lower);
	attr.userns_fd = (uint64_t)userns;
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return pt_err_set(err, -errno, "idmap mount of %s", lower);
	return TAKE_FD(tree);
}

/* Where a stuck child waits: its kernel wait channel and the number of the
 * system call it is in (/proc/PID/syscall's first field), for the error. */
static void child_whereabouts(pid_t pid, char *buf, size_t size)
{
	char path[64], wchan[64] = "", sc[32] = "";

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	if (pt_read_small_at(AT_FDCWD, path, wchan, sizeof(wchan)) < 0)
		wchan[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (pt_read_small_at(AT_FDCWD, path, sc, sizeof(sc)) < 0)
		sc[0] = '\0';
	sc[strcspn(sc, " \n")] = '\0';
	snprintf(buf, size, "wchan %s, syscall %s", wchan[0] ? wchan : "?", sc[0] ? sc : "?");
}

/* A step of the parent failed while the child was already running its
 * own setup: when the child failed first (and that is why the parent's
 * step failed: its pid is gone, its socket closed), its own message says
 * more, so it wins. */
static int child_error_or(int sock, int r, pt_err *err)
{
	struct sync_msg m;

	if (recv(sock, &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m) && m.magic == 0)
		return pt_err_field(err, m.code < 0 ? m.code : -EIO, "", "%.*s",
				    (int)sizeof(m.msg) - 1, m.msg);
	return r;
}

/* P2-P3b, once the child's maps are written (P1, pt_spawn_clone). */
static int parent_release(const struct pt_spawn_req *req, struct pt_spawn_job *job,
			  pt_err *err)
{
	_cleanup_close_ int lower = -1;
	pid_t pid = job->pid;
	int sock = job->sock;
	int r;

	r = PT_FAULT_ERR("spawn.idmapped-lower", err);
	if (r < 0)
		return r;
	lower = make_idmapped_lower(req->plan->lower_dir, pid, err);  /* P2 */
	if (lower < 0)
		return child_error_or(sock, lower, err);
	pt_trace_mark(req->trace, "p2-idmapped-lower");
	if (req->net_hook) {                                          /* P2b */
		r = req->net_hook(req->net_ctx, pid, err);
		if (r < 0)
			return child_error_or(sock, r, err);
		pt_trace_mark(req->trace, "p2b-net-host-side");
	}
	r = send_fd(sock, SYNC_GO, lower);                            /* P3 */
	if (r < 0)
		return child_error_or(sock, pt_err_set(err, r, "release child"), err);
	pt_trace_mark(req->trace, "p3-release-child");
	job->released = true;
	/* P3b: "recorded" follows "go" on the socket; it waits here when the
	 * record was done before the release (see pt_spawn_clone). */
	if (!job->recorded_pending)
		return 0; /* the caller sends it: pt_spawn_recorded() */
	r = send_fd(sock, SYNC_RECORDED, -1);
	if (r < 0)
		return child_error_or(sock, pt_err_set(err, r, "tell the child it is recorded"), err);
	pt_trace_mark(req->trace, "p3b-recorded");
	return 0;
}

/* SIGKILL, then the exit collected: a child in its setup dies in
 * milliseconds. One stuck in the kernel beyond 2 s is left to
 * PR_SET_PDEATHSIG rather than hang the daemon (and said). */
static void kill_and_reap(int pidfd, pid_t pid)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	siginfo_t si;

	if (pidfd < 0)
		return;
	pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	if (poll(&pfd, 1, 2000) != 1) {
		fprintf(stderr, "ptenantd: spawn child %d does not die of SIGKILL in 2 s; left to the kernel\n",
			(int)pid);
		return;
	}
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
}

static void job_close(struct pt_spawn_job *job)
{
	pt_closep(&job->sock);
	pt_closep(&job->pidfd);
	pt_closep(&job->notify);
}

void pt_spawn_cancel(struct pt_spawn_job *job)
{
	kill_and_reap(job->pidfd, job->pid);
	job_close(job);
}

/* EPERM and ENOSPC from clone3 are the host's doing (a chroot, a sysctl,
 * a limit), and the errno alone sends the operator nowhere: name the
 * likely cause. */
static int clone_failed(const char *slug, int code, pt_err *err)
{
	_cleanup_close_ int procfd = -1;
	struct pt_ns_facts facts;
	char hint[320];

	procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pt_ns_facts_read(procfd, &facts);
	if (!pt_ns_refusal_hint(code, &facts, hint, sizeof(hint)))
		return pt_err_set(err, code, "tenant %s: clone3", slug);
	return pt_err_field(err, code, NULL, "tenant %s: clone3: %s (%s)", slug,
			    strerror(-code), hint);
}

int pt_spawn_clone(const struct pt_spawn_req *req, struct pt_spawn_job *job,
		   pt_err *err)
{
	_cleanup_close_ int psock = -1, csock = -1, pidfd = -1;
	_cleanup_(pt_premade_close) struct pt_premade pm;
	struct pt_clone_args args = { 0 };
	uint64_t clone_ns = tracing(req) ? pt_trace_now_ns() : 0;
	int sv[2], r;
	pid_t pid;

	/* [P0] the daemon's own mounts for the tenant (see rootfs-premade.h),
	 * before clone3: the child inherits them with its copy of our fds. */
	pt_premade_init(&pm);
	r = pt_premade_make(req->plan, &pm, err);
	if (r < 0)
		return pt_err_prefix(err, "tenant %s", req->plan->slug);
	pt_trace_mark(req->trace, "p0-premade-mounts");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return pt_err_set(err, -errno, "tenant %s: socketpair", req->plan->slug);
	psock = sv[0];
	csock = sv[1];
	args.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
		     CLONE_NEWIPC | CLONE_NEWNET | CLONE_PIDFD;
	if (!req->n_place_fds)
		args.flags |= CLONE_NEWCGROUP;
	if (req->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)req->cgroup_fd;
	}
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	pid = pt_clone3(&args);
	if (pid < 0)
		return clone_failed(req->plan->slug, -errno, err);
	if (pid == 0) {
		close(psock);
		child_main(req, &pm, csock, clone_ns);
	}
	pt_trace_mark(req->trace, "p0-clone3");
	pt_closep(&csock);
	r = PT_FAULT_ERR("spawn.idmap", err);
	if (r == 0)
		r = pt_idmap_write(pid, req->plan->host_uid, err);     /* P1 */
	if (r < 0) {
		r = child_error_or(psock, r, err);
		kill_and_reap(pidfd, pid);
		return pt_err_prefix(err, "tenant %s", req->plan->slug);
	}
	pt_trace_mark(req->trace, "p1-idmap");
	job->pid = pid;
	job->pidfd = TAKE_FD(pidfd);
	job->sock = TAKE_FD(psock);
	job->notify = TAKE_FD(pm.notify);
	job->trace = req->trace;
	job->child_trace = req->child_trace;
	job->released = false;
	snprintf(job->slug, sizeof(job->slug), "%s", req->plan->slug);
	/* [P1b] The child's pid is known: its record starts now, so that
	 * its save runs while the parent makes the child's veth and the child
	 * builds its rootfs (C5c waits for it, 0.7 ms when it began at P3b). */
	job->recorded_pending = !(req->cloned_hook && req->cloned_hook(req->cloned_ctx, pid));
	return 0;
}

int pt_spawn_release(const struct pt_spawn_req *req, struct pt_spawn_job *job,
		     pt_err *err)
{
	int r = parent_release(req, job, err);

	if (r < 0) {
		pt_spawn_cancel(job);
		return pt_err_prefix(err, "tenant %s", req->plan->slug);
	}
	return 0;
}

int pt_spawn_begin(const struct pt_spawn_req *req, struct pt_spawn_job *job,
		   pt_err *err)
{
	int r = pt_spawn_clone(req, job, err);

	return r < 0 ? r : pt_spawn_release(req, job, err);
}

/* The child's verdict (P4): its marks come first when tracing. */
int pt_spawn_advance(struct pt_spawn_job *job, pt_err *err)
{
	union {
		struct sync_msg m;
		struct trace_msg t;
	} buf;
	ssize_t n;
	int r;

	for (;;) {
		n = recv(job->sock, &buf, sizeof(buf), MSG_DONTWAIT);
		/* ECONNRESET: the child died with "recorded" unread (it failed
		 * first); the error is reported once, then its message is read. */
		if (n < 0 && (errno == EINTR || errno == ECONNRESET))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n == (ssize_t)sizeof(buf.t) && buf.t.magic == SYNC_TRACE) {
			if (job->child_trace)
				*job->child_trace = buf.t.trace;
			pt_trace_mark(job->trace, "p4-child-setup");
			continue;
		}
		break;
	}
	if (n == 0) {
		pt_trace_mark(job->trace, job->trace && job->trace->on ? "p4-exec"
								       : "p4-child-setup+exec");
		return 0;
	}
	if (n < 0)
		r = pt_err_set(err, -errno, "read the child's verdict");
	else if (n != (ssize_t)sizeof(buf.m) || buf.m.magic != 0)
		r = pt_err_set(err, -EPROTO, "child sent a malformed sync message");
	else /* the child's message already carries its strerror text */
		r = pt_err_field(err, buf.m.code < 0 ? buf.m.code : -EIO, "", "%.*s",
				 (int)sizeof(buf.m.msg) - 1, buf.m.msg);
	kill_and_reap(job->pidfd, job->pid);
	pt_closep(&job->pidfd);
	pt_err_prefix(err, "tenant %s", job->slug);
	return r;
}

int pt_spawn_recorded(struct pt_spawn_job *job, pt_err *err)
{
	int r;

	if (!job->released) { /* sent after "go" (parent_release) */
		job->recorded_pending = true;
		return 0;
	}
	r = send_fd(job->sock, SYNC_RECORDED, -1);

	if (r < 0)
		return pt_err_set(err, r, "tenant %s: tell the child it is recorded", job->slug);
	pt_trace_mark(job->trace, "p3b-recorded");
	return 0;
}

int pt_spawn_expire(struct pt_spawn_job *job, unsigned timeout_ms, pt_err *err)
{
	char where[128];

	child_whereabouts(job->pid, where, sizeof(where));
	pt_spawn_cancel(job);
	return pt_err_set(err, -ETIMEDOUT,
			  "tenant %s: the child's setup did not reach exec in %u ms, spawn_timeout_ms "
			  "(child pid %d: %s)", job->slug, timeout_ms, (int)job->pid, where);
}

int pt_spawn_load_init(const char *path, pt_err *err)
{
	_cleanup_close_ int src = -1, mfd = -1;
	struct stat st;
	char buf[65536];
	ssize_t n;

	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return pt_err_set(err, -errno, "open %s", path);
	if (fstat(src, &st) < 0 || !S_ISREG(st.st_mode))
		return pt_err_set(err, -ENOEXEC, "%s is not a regular file", path);
	mfd = memfd_create("ptenant-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return pt_err_set(err, -errno, "memfd_create");
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, (size_t)n) != n)
			return pt_err_set(err, -errno, "copy %s to memfd", path);
	if (n < 0)
		return pt_err_set(err, -errno, "read %s", path);
	if (fchmod(mfd, 0555) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_WRITE) < 0)
		return pt_err_set(err, -errno, "seal ptenant-init memfd");
	return TAKE_FD(mfd);
}

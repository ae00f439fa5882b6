/* The hostile tenant: attacks made from inside a tenant, as its root.
 *
 *   probe ATTACK [ARG...]     exit 0: blocked (the attack failed safely)
 *                             exit 1: BREACH (the attack worked)
 *                             exit 2: the probe itself could not run
 * Each prints one line saying what it tried and what the kernel said.
 * Built static (the busybox blueprint has no libc); run by run.sh. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#define BLOCKED(...) (printf("blocked: " __VA_ARGS__), putchar('\n'), 0)
#define BREACH(...) (printf("BREACH: " __VA_ARGS__), putchar('\n'), 1)
#define ERRS strerror(errno)

/* A syscall that must fail: blocked when it returns < 0. */
static int must_fail(const char *what, long r)
{
	if (r < 0)
		return BLOCKED("%s: %s", what, ERRS);
	return BREACH("%s succeeded (%ld)", what, r);
}

/* Reading must give nothing: open refused or zero bytes. */
static int no_content(const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return BLOCKED("open %s: %s", path, ERRS);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return BLOCKED("%s reads as empty (%s)", path, n < 0 ? ERRS : "0 bytes");
	return BREACH("%s gave %zd bytes", path, n);
}

static int no_write(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return BLOCKED("open %s for writing: %s", path, ERRS);
	if (write(fd, data, strlen(data)) < 0) {
		close(fd);
		return BLOCKED("write %s: %s", path, ERRS);
	}
	close(fd);
	return BREACH("wrote %s", path);
}

static int dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return BLOCKED("opendir %s: %s", path, ERRS);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n ? BREACH("%s lists %d entries", path, n) : BLOCKED("%s is empty", path);
}

static int a_mount(void) { return must_fail("mount tmpfs on /mnt", mount("none", "/tmp", "tmpfs", 0, NULL)); }
static int a_mount_proc(void) { mkdir("/tmp/p", 0755); return must_fail("mount proc", mount("proc", "/tmp/p", "proc", 0, NULL)); }
static int a_fsopen(void) { return must_fail("fsopen tmpfs", syscall(SYS_fsopen, "tmpfs", 0)); }
static int a_open_tree(void) { return must_fail("open_tree / clone", syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */)); }
static int a_umount_mask(void) { return must_fail("umount2 /proc/interrupts (a mask)", umount2("/proc/interrupts", MNT_DETACH)); }
static int a_pivot_root(void) { return must_fail("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp")); }
static int a_userns_unshare(void) { return must_fail("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER)); }
static int a_netns_unshare(void) { return must_fail("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET)); }

static int a_userns_clone(void)
{
	long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return must_fail("clone(CLONE_NEWUSER)", r);
}

static int a_userns_clone3(void)
{
	struct { unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal,
		 stack, stack_size, tls; } args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	long r = syscall(SYS_clone3, &args, sizeof(args));

	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return must_fail("clone3(CLONE_NEWUSER)", r);
}

static int a_setns(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY);

	return must_fail("setns(own netns)", setns(fd, 0));
}

static int a_mknod(void) { return must_fail("mknod /tmp/sda b 8 0", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0))); }
static int a_mknod_mem(void) { return must_fail("mknod /tmp/mem c 1 1", mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1))); }
static int a_init_module(void) { return must_fail("init_module", syscall(SYS_init_module, "\0asm", 4, "")); }
static int a_finit_module(void) { int fd = open("/bin/busybox", O_RDONLY); return must_fail("finit_module", syscall(SYS_finit_module, fd, "", 0)); }
static int a_delete_module(void) { return must_fail("delete_module", syscall(SYS_delete_module, "overlay", O_NONBLOCK)); }
static int a_kexec(void) { return must_fail("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0)); }
static int a_keyctl(void) { return must_fail("keyctl(GET_KEYRING_ID, session)", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, -3, 0)); }
static int a_add_key(void) { return must_fail("add_key user", syscall(SYS_add_key, "user", "x", "y", 1, -3)); }
static int a_request_key(void) { return must_fail("request_key", syscall(SYS_request_key, "user", "x", NULL, -3)); }

static int a_bpf(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	return must_fail("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
}

static int a_perf(void)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.size = sizeof(attr);
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	return must_fail("perf_event_open", syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

static int a_userfaultfd(void) { return must_fail("userfaultfd", syscall(SYS_userfaultfd, 0)); }
static int a_io_uring(void) { char p[120] = { 0 }; return must_fail("io_uring_setup", syscall(SYS_io_uring_setup, 4, p)); }

static int a_ptrace_pid(const char *arg)
{
	pid_t pid = (pid_t)atoi(arg);
	long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
	int saved = errno;

	if (r == 0) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return BREACH("ptrace attach to pid %d", pid);
	}
	errno = saved;
	if (kill(pid, 0) == 0)
		return BREACH("pid %d is visible (kill 0 works)", pid);
	return BLOCKED("ptrace/kill of pid %d: %s", pid, strerror(saved));
}

/* ptenantd runs ahead of its tenants (daemon_nice): a tenant must not
 * have inherited that, nor be able to take it. */
static int a_raise_priority(void)
{
	int now;

	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && now < 0)
		return BREACH("runs at nice %d, ahead of ordinary processes", now);
	return must_fail("setpriority(nice -20)", setpriority(PRIO_PROCESS, 0, -20));
}

static int a_kcore(void) { return no_content("/proc/kcore"); }
static int a_keys(void) { return no_content("/proc/keys"); }
static int a_proc_masked(const char *path) { return no_content(path); }
static int a_sysrq(void) { return no_write("/proc/sysrq-trigger", "h"); }
static int a_proc_sys(void) { return no_write("/proc/sys/kernel/hostname", "pwned"); }
static int a_core_pattern(void) { return no_write("/proc/sys/kernel/core_pattern", "|/tmp/x"); }
static int a_sys_write(void) { return no_write("/sys/class/net/lo/mtu", "1280"); }
static int a_sys_uevent(void) { return no_write("/sys/kernel/uevent_helper", "/tmp/x"); }

static int a_open_by_handle(void)
{
	struct { unsigned int bytes; int type; unsigned char f[8]; } h = { 8, 1, { 2, 0, 0, 0, 0, 0, 0, 0 } };

	/* The "shocker" exploit: inode 2 is the root of most host filesystems. */
	return must_fail("open_by_handle_at(inode 2)", syscall(SYS_open_by_handle_at, AT_FDCWD, &h, O_RDONLY));
}

static int a_raw_socket(void) { return must_fail("socket(AF_INET, SOCK_RAW)", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)); }
static int a_packet_socket(void) { return must_fail("socket(AF_PACKET)", socket(AF_PACKET, SOCK_RAW, 0)); }
static int a_vsock(void) { return must_fail("socket(AF_VSOCK)", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0)); }
static int a_netlink_audit(void) { return must_fail("socket(NETLINK_AUDIT)", socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)); }
static int a_netlink_uevent(void) { return must_fail("socket(NETLINK_KOBJECT_UEVENT)", socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT)); }
static int a_socket_hibits(void) { return must_fail("socket(AF_PACKET | 1<<32)", syscall(SYS_socket, AF_PACKET | (1UL << 32), SOCK_RAW, 0)); }

static int a_netconf_ioctl(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_mtu = 1280;
	return must_fail("ioctl SIOCSIFMTU lo", ioctl(s, SIOCSIFMTU, &ifr));
}

/* RTM_NEWADDR 10.9.9.9/32 on lo: needs CAP_NET_ADMIN over the netns. */
static int a_netconf_netlink(void)
{
	struct { struct nlmsghdr nh; struct ifaddrmsg ifa; struct rtattr rta; struct in_addr a; } req;
	struct { struct nlmsghdr nh; struct nlmsgerr e; char pad[256]; } resp;
	int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);

	if (s < 0)
		return BLOCKED("route netlink socket: %s", ERRS);
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = 32;
	req.ifa.ifa_index = if_nametoindex("lo");
	req.rta.rta_type = IFA_LOCAL;
	req.rta.rta_len = RTA_LENGTH(4);
	inet_pton(AF_INET, "10.9.9.9", &req.a);
	if (send(s, &req, sizeof(req), 0) < 0 || recv(s, &resp, sizeof(resp), 0) < 0)
		return BLOCKED("netlink RTM_NEWADDR: %s", ERRS);
	if (resp.nh.nlmsg_type == NLMSG_ERROR && resp.e.error < 0)
		return BLOCKED("netlink RTM_NEWADDR: %s", strerror(-resp.e.error));
	return BREACH("added 10.9.9.9 to lo");
}

static int a_tiocsti(void)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY), s;
	char c = 'x';

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return printf("probe: no pty: %s\n", ERRS), 2;
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	return must_fail("ioctl TIOCSTI", ioctl(s, TIOCSTI, &c));
}

static int a_tiocsti_hibits(void)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY), s;
	char c = 'x';

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return printf("probe: no pty: %s\n", ERRS), 2;
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	return must_fail("ioctl TIOCSTI | 1<<32", syscall(SYS_ioctl, s, TIOCSTI | (1UL << 32), &c));
}

static int a_tioclinux(void) { char sub = 6; return must_fail("ioctl TIOCLINUX", ioctl(0, TIOCLINUX, &sub)); }

/* CVE-2019-5736: rewrite the binary that enters the tenant. */
static int a_overwrite_init(void)
{
	int fd = open("/proc/1/exe", O_WRONLY | O_TRUNC);

	if (fd < 0)
		fd = open("/proc/1/exe", O_RDWR);
	if (fd < 0)
		return BLOCKED("open /proc/1/exe for writing: %s", ERRS);
	if (write(fd, "\x7f" "ELF", 4) < 0)
		return BLOCKED("write /proc/1/exe: %s", ERRS);
	return BREACH("wrote into /proc/1/exe");
}

/* Every fd of this process and of init must be stdio, a pipe, a pty or
 * /dev/null: a directory or file fd of the daemon would reach the host. */
static int fds_of(const char *dir, int *bad)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[300], l[300];

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		n = readlink(p, l, sizeof(l) - 1);
		if (n < 0)
			continue;
		l[n] = '\0';
		if (strncmp(l, "pipe:", 5) && strncmp(l, "/dev/pts/", 9) && strcmp(l, "/dev/null") &&
		    strncmp(l, "socket:", 7) && strcmp(l, dir) && !strstr(l, "/fd")) {
			printf("  fd %s -> %s\n", p, l);
			(*bad)++;
		}
	}
	closedir(d);
	return 0;
}

static int a_inherited_fd(void)
{
	char cwd[256];
	ssize_t n = readlink("/proc/1/cwd", cwd, sizeof(cwd) - 1);
	int bad = 0;

	fds_of("/proc/self/fd", &bad);
	fds_of("/proc/1/fd", &bad);
	if (n > 0)
		cwd[n] = '\0';
	if (n <= 0 || strcmp(cwd, "/") != 0)
		bad++;
	if (bad)
		return BREACH("%d fds or cwds outside the tenant (init cwd %s)", bad, n > 0 ? cwd : "?");
	return BLOCKED("only stdio/pipes in this process and init; cwd /");
}

static int a_euid_is(const char *want)
{
	printf("euid %d\n", geteuid());
	return geteuid() == (uid_t)atoi(want) ? BLOCKED("setuid/fcaps bit gave nothing (euid %d)", geteuid())
					       : BREACH("euid changed to %d", geteuid());
}

/* i386 ABI through int 0x80: getuid (24) must fail (ENOSYS), and so
 * must mount (21). eax = -ENOSYS is the filter's answer. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static int a_i386(void)
{
	long r1 = int80(24, 0, 0, 0), r2 = int80(21, 0, 0, 0);

	if (r1 < 0 && r2 < 0)
		return BLOCKED("i386 getuid -> %ld, mount -> %ld", r1, r2);
	return BREACH("i386 ABI reachable: getuid -> %ld, mount -> %ld", r1, r2);
}

static int a_x32(void)
{
	long r1 = syscall(0x40000000 | 102 /* getuid */), e1 = errno;
	long r2 = syscall(0x40000000 | 165 /* mount */, "none", "/tmp", "tmpfs", 0, 0);

	if (r1 < 0 && r2 < 0)
		return BLOCKED("x32 getuid: %s, mount: %s", strerror((int)e1), ERRS);
	return BREACH("x32 ABI reachable: getuid -> %ld, mount -> %ld", r1, r2);
}

static int a_scan_cmdline(const char *marker)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char p[300], buf[4096];

	while (d && (e = readdir(d))) {
		int fd;
		ssize_t n;

		/* Numeric entries only: /proc/self is this probe, whose own
		 * argv holds the marker. */
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(p, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		if (n > 0 && (buf[n] = '\0', strstr(buf, marker)))
			return BREACH("process %s shows %s", e->d_name, marker);
	}
	return BLOCKED("no process with %s in /proc", marker);
}

static int a_scan_environ(const char *marker)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char p[300], buf[65536];

	while (d && (e = readdir(d))) {
		int fd;
		ssize_t n;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
			continue;
		snprintf(p, sizeof(p), "/proc/%s/environ", e->d_name);
		if ((fd = open(p, O_RDONLY)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0 && memmem(buf, (size_t)n, marker, strlen(marker)))
			return BREACH("/proc/%s/environ has %s", e->d_name, marker);
	}
	return BLOCKED("no environment in /proc holds %s", marker);
}

/* Every regular file the tenant can read (not /proc, /sys, /dev): does
 * any hold marker? Returns the path holding it in found. */
static int scan_tree(int dir, const char *path, const char *marker, int depth, char *found,
		     size_t n)
{
	static char buf[1 << 20];
	DIR *d;
	struct dirent *e;
	int hit = 0;

	if (depth > 24 || !(d = fdopendir(dir))) {
		close(dir);
		return 0;
	}
	while (!hit && (e = readdir(d))) {
		char sub[4096];
		struct stat st;
		int fd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", strcmp(path, "/") ? path : "", e->d_name);
		if (!strcmp(sub, "/proc") || !strcmp(sub, "/sys") || !strcmp(sub, "/dev"))
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			hit = scan_tree(fd, sub, marker, depth + 1, found, n); /* closes fd */
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			ssize_t got = read(fd, buf, sizeof(buf));

			if (got > 0 && memmem(buf, (size_t)got, marker, strlen(marker))) {
				snprintf(found, n, "%s", sub);
				hit = 1;
			}
		}
		close(fd);
	}
	closedir(d);
	return hit;
}

static int a_scan_files(const char *marker)
{
	char found[4096];
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	if (fd >= 0 && scan_tree(fd, "/", marker, 0, found, sizeof(found)))
		return BREACH("%s holds %s", found, marker);
	return BLOCKED("no file this tenant can read holds %s", marker);
}

static int a_no_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return BLOCKED("stat %s: %s", path, ERRS);
	return BREACH("%s is visible", path);
}

static int a_connect_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t len;

	if (path[0] == '@') { /* abstract */
		memcpy(a.sun_path + 1, path + 1, strlen(path + 1));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	} else {
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		len = sizeof(a);
	}
	return must_fail(path, connect(s, (struct sockaddr *)&a, len));
}

/* The daemon's ingress channel is SOCK_SEQPACKET: a stream connect would
 * fail on the type alone, whether or not the path were reachable. */
static int a_connect_seqpacket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	return must_fail(path, connect(s, (struct sockaddr *)&a, sizeof(a)));
}

/* Floods the tenant's own notify socket with everything but what it
 * understands: oversized, binary, unknown keys, and a burst of valid
 * ones. Always "blocked" here: the host checks that the daemon and the
 * neighbour did not notice (run.sh). */
static int a_notify_flood(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *path = getenv("NOTIFY_SOCKET");
	static char big[65536];
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	long sent = 0, refused = 0;

	if (!path || s < 0)
		return BREACH("no NOTIFY_SOCKET to flood");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	memset(big, 'B', sizeof(big));
	for (long i = 0; i < 100000; i++) {
		const char *m = i % 4 == 0 ? big : i % 4 == 1 ? "READY=1\0\x01" :
				i % 4 == 2 ? "FDSTORE=1\nWATCHDOG=1" : "BUSY=1";
		size_t len = i % 4 == 0 ? sizeof(big) : i % 4 == 1 ? 9 : strlen(m);

		if (sendto(s, m, len, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof(a)) >= 0)
			sent++;
		else
			refused++;
	}
	return BLOCKED("flooded the notify socket: %ld datagrams taken, %ld refused", sent, refused);
}

static int a_connect_tcp(const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	return must_fail("connect 127.0.0.1 (another tenant's port)", connect(s, (struct sockaddr *)&a, sizeof(a)));
}

/* Control mode for the runner: hold a listening socket (abstract unix or
 * tcp) so a neighbour can try to reach it. */
static int listen_forever(const char *what)
{
	int s;

	if (what[0] == '@') {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		s = socket(AF_UNIX, SOCK_STREAM, 0);
		memcpy(a.sun_path + 1, what + 1, strlen(what + 1));
		if (bind(s, (struct sockaddr *)&a,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(what))) < 0)
			return 2;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(what)) };

		s = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return 2;
	}
	listen(s, 8);
	for (;;)
		close(accept(s, NULL, NULL));
}

static int a_caps(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int bad = 0;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "CapInh: %llx", &v) == 1 || sscanf(line, "CapAmb: %llx", &v) == 1)
			bad += v != 0;
		if (sscanf(line, "CapBnd: %llx", &v) == 1)
			bad += (v & ((1ULL << 21) | (1ULL << 12) | (1ULL << 13) | (1ULL << 19) |
				     (1ULL << 16) | (1ULL << 27))) != 0; /* SYS_ADMIN NET_ADMIN NET_RAW SYS_PTRACE SYS_MODULE MKNOD */
	}
	return bad ? BREACH("forbidden capability present") : BLOCKED("CapInh/CapAmb empty, bounding set cut");
}

static int a_capset(void)
{
	struct { unsigned v; int pid; } h = { 0x20080522, 0 };
	struct { unsigned e, p, i; } d[2] = { { 1u << 21, 1u << 21, 0 }, { 0, 0, 0 } };

	return must_fail("capset +CAP_SYS_ADMIN", syscall(SYS_capset, &h, d));
}

static int a_chroot_escape(void)
{
	struct stat before, after;

	stat("/", &before);
	mkdir("/tmp/jail", 0755);
	if (chroot("/tmp/jail") < 0)
		return BLOCKED("chroot: %s", ERRS);
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0)
			break;
	if (chroot(".") < 0)
		return BLOCKED("chroot .: %s", ERRS);
	stat("/", &after);
	if (before.st_dev == after.st_dev && before.st_ino == after.st_ino && access("/proc/1", F_OK) == 0)
		return BLOCKED("chroot break lands on the tenant's own root");
	return BREACH("chroot break reached another root");
}

static int a_raise_rlimit(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	return must_fail("setrlimit core unlimited", setrlimit(RLIMIT_CORE, &rl));
}

static int a_syslog(void) { char b[64]; return must_fail("syslog READ_ALL", syscall(SYS_syslog, 3, b, sizeof(b))); }
static int a_settime(void) { struct timespec t = { 0, 0 }; return must_fail("clock_settime", clock_settime(CLOCK_REALTIME, &t)); }
static int a_reboot(void) { return must_fail("reboot(CAD_OFF)", syscall(SYS_reboot, 0xfee1dead, 672274793, 0, NULL)); }

static int a_host_dev(void)
{
	static const char *const nodes[] = { "/dev/mem", "/dev/kmsg", "/dev/sda", "/dev/vda", "/dev/kvm", "/dev/port" };
	int bad = 0;

	for (size_t i = 0; i < 6; i++)
		if (access(nodes[i], F_OK) == 0)
			bad++, printf("  %s exists\n", nodes[i]);
	return bad ? BREACH("host device nodes in /dev") : BLOCKED("no host device nodes in /dev");
}

struct attack {
	const char *name;
	int (*fn0)(void);
	int (*fn1)(const char *);
};

static const struct attack attacks[] = {
	{ "mount", a_mount, NULL }, { "mount-proc", a_mount_proc, NULL },
	{ "fsopen", a_fsopen, NULL }, { "open-tree", a_open_tree, NULL },
	{ "umount-mask", a_umount_mask, NULL }, { "pivot-root", a_pivot_root, NULL },
	{ "userns-unshare", a_userns_unshare, NULL }, { "userns-clone", a_userns_clone, NULL },
	{ "userns-clone3", a_userns_clone3, NULL }, { "netns-unshare", a_netns_unshare, NULL },
	{ "setns", a_setns, NULL },
	{ "mknod-block", a_mknod, NULL }, { "mknod-mem", a_mknod_mem, NULL },
	{ "init-module", a_init_module, NULL }, { "finit-module", a_finit_module, NULL },
	{ "delete-module", a_delete_module, NULL }, { "kexec", a_kexec, NULL },
	{ "keyctl", a_keyctl, NULL }, { "add-key", a_add_key, NULL },
	{ "request-key", a_request_key, NULL }, { "bpf", a_bpf, NULL },
	{ "perf-event-open", a_perf, NULL }, { "userfaultfd", a_userfaultfd, NULL },
	{ "io-uring", a_io_uring, NULL }, { "ptrace-pid", NULL, a_ptrace_pid },
	{ "read-kcore", a_kcore, NULL }, { "read-keys", a_keys, NULL },
	{ "read-masked", NULL, a_proc_masked }, { "masked-dir", NULL, dir_empty },
	{ "write-sysrq", a_sysrq, NULL }, { "write-proc-sys", a_proc_sys, NULL },
	{ "write-core-pattern", a_core_pattern, NULL }, { "write-sys", a_sys_write, NULL },
	{ "write-uevent-helper", a_sys_uevent, NULL },
	{ "open-by-handle", a_open_by_handle, NULL }, { "raw-socket", a_raw_socket, NULL },
	{ "packet-socket", a_packet_socket, NULL }, { "vsock", a_vsock, NULL },
	{ "netlink-audit", a_netlink_audit, NULL }, { "netlink-uevent", a_netlink_uevent, NULL },
	{ "socket-highbits", a_socket_hibits, NULL },
	{ "netconf-ioctl", a_netconf_ioctl, NULL }, { "netconf-netlink", a_netconf_netlink, NULL },
	{ "tiocsti", a_tiocsti, NULL }, { "tiocsti-highbits", a_tiocsti_hibits, NULL },
	{ "tioclinux", a_tioclinux, NULL }, { "overwrite-init", a_overwrite_init, NULL },
	{ "inherited-fd", a_inherited_fd, NULL }, { "euid-is", NULL, a_euid_is },
	{ "i386-abi", a_i386, NULL }, { "x32-abi", a_x32, NULL },
	{ "scan-cmdline", NULL, a_scan_cmdline }, { "scan-environ", NULL, a_scan_environ },
	{ "no-path", NULL, a_no_path }, { "scan-files", NULL, a_scan_files }, { "connect-unix", NULL, a_connect_unix },
	{ "connect-seqpacket", NULL, a_connect_seqpacket }, { "notify-flood", a_notify_flood, NULL },
	{ "connect-tcp", NULL, a_connect_tcp }, { "caps", a_caps, NULL },
	{ "capset", a_capset, NULL }, { "chroot-escape", a_chroot_escape, NULL },
	{ "raise-rlimit", a_raise_rlimit, NULL }, { "syslog", a_syslog, NULL },
	{ "settime", a_settime, NULL }, { "reboot", a_reboot, NULL },
	{ "host-dev", a_host_dev, NULL }, { "raise-priority", a_raise_priority, NULL },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "listen") == 0)
		return listen_forever(argv[2]);
	for (size_t i = 0; argc >= 2 && i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		if (strcmp(attacks[i].name, argv[1]) != 0)
			continue;
		if (attacks[i].fn0)
			return attacks[i].fn0();
		if (argc < 3)
			return printf("probe: %s needs an argument\n", argv[1]), 2;
		return attacks[i].fn1(argv[2]);
	}
	fprintf(stderr, "probe: unknown attack %s\n", argc >= 2 ? argv[1] : "(none)");
	return 2;
}

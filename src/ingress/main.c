/* ptenant-ingress: the HTTP front door. See ptenant-ingress(8).
 *
 * It parses untrusted input, so it holds as little as possible: it binds
 * its port and opens the directory of routes.json, then (started as
 * root) becomes --user with no groups, no capabilities and no_new_privs.
 * It never talks to the daemon's API: routes.json says where tenants
 * are, and the ingress channel (wake.c) carries "wake" and "active",
 * nothing else. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config-build.h"
#include "ingress.h"

struct options {
	const char *listen, *domain, *routes, *user, *wake_socket;
	long max_conns, max_per_tenant;
	long head_timeout, keepalive_timeout, idle_timeout; /* ms */
};

static volatile sig_atomic_t quit;

uint64_t ingress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ptenant-ingress --listen ADDR:PORT --domain DOMAIN --routes PATH [--user NAME]\n"
		"Route HTTP requests for SLUG.DOMAIN to that tenant's address.\n\n"
		"  -l, --listen ADDR:PORT  where to accept clients (IPv4, or [IPv6]:PORT)\n"
		"  -d, --domain DOMAIN     the domain tenants live under (SLUG.DOMAIN)\n"
		"  -r, --routes PATH       the daemon's routes.json (RUNTIME_DIR/routes.json)\n"
		"  -u, --user NAME         the user to run as when started as root (default nobody)\n"
		"  -w, --wake-socket PATH  ptenantd's ingress channel (default: ingress.sock beside\n"
		"                          the routes file; \"\" to serve without waking tenants)\n"
		"      --max-conns N       client connections open at most (default 16384)\n"
		"      --max-per-tenant N  requests in flight to one tenant at most (default 512)\n"
		"      --head-timeout MS   a request head must be complete within (default 10000)\n"
		"      --keepalive-timeout MS  an idle client connection is closed after (default 60000)\n"
		"      --idle-timeout MS   a tenant or client silent this long mid-exchange is cut\n"
		"                          (default 300000; a tunnel: silent both ways)\n"
		"  -h, --help              this help\n"
		"      --version           print the version\n\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 when startup fails, 2 on bad usage.\n");
}

static int number_arg(int opt, const char *arg, struct options *o)
{
	static const struct {
		int opt;
		const char *name;
		long max;
	} nums[] = {
		{ 'C', "max-conns", 1000000 }, { 'T', "max-per-tenant", 1000000 },
		{ 'H', "head-timeout", 3600000 }, { 'K', "keepalive-timeout", 3600000 },
		{ 'I', "idle-timeout", 86400000 },
	};
	long *fields[] = { &o->max_conns, &o->max_per_tenant, &o->head_timeout,
			   &o->keepalive_timeout, &o->idle_timeout };
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i].opt != opt)
			continue;
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || end == arg || v < 1 || v > nums[i].max) {
			fprintf(stderr, "ptenant-ingress: --%s %s: want a number from 1 to %ld\n",
				nums[i].name, arg, nums[i].max);
			return -EINVAL;
		}
		*fields[i] = v;
		return 0;
	}
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "domain", required_argument, NULL, 'd' },
		{ "routes", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' },
		{ "wake-socket", required_argument, NULL, 'w' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "max-per-tenant", required_argument, NULL, 'T' },
		{ "head-timeout", required_argument, NULL, 'H' },
		{ "keepalive-timeout", required_argument, NULL, 'K' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "l:d:r:u:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w': o->wake_socket = optarg; break;
		case 'C':
		case 'T':
		case 'H':
		case 'K':
		case 'I':
			if (number_arg(c, optarg, o) < 0)
				return -EINVAL;
			break;
		case 'l': o->listen = optarg; break;
		case 'd': o->domain = optarg; break;
		case 'r': o->routes = optarg; break;
		case 'u': o->user = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ptenant-ingress %s\n", PTENANT_VERSION); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc || !o->listen || !o->domain || !o->routes) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* The domain as the parser compares it: lower case, no trailing dot,
 * letters, digits, '-' and '.' only. */
static int check_domain(const char *domain, char *out, size_t n)
{
	size_t len = strlen(domain);

	if (len == 0 || len >= n || domain[0] == '.' || domain[len - 1] == '.')
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		char ch = domain[i];

		if (ch && !(ch == '-' || ch == '.' || (ch >= '0' && ch <= '9') ||
			    (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
			return -EINVAL;
		out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
	}
	return 0;
}

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || end == colon + 1)
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	*len = sizeof(struct sockaddr_in);
	return inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -EINVAL;
}

static int open_listener(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (parse_listen(spec, &ss, &len) < 0) {
		fprintf(stderr, "ptenant-ingress: --listen %s: want ADDR:PORT\n", spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0) {
		fprintf(stderr, "ptenant-ingress: listen on %s: %s\n", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Opened before the privilege drop, so routes.json may sit below a
 * directory --user cannot search; the file itself must be readable. */
static int open_routes(struct route_table *rt, const char *path)
{
	char copy[4096], copy2[4096];

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy) ||
	    snprintf(copy2, sizeof(copy2), "%s", path) >= (int)sizeof(copy2) ||
	    snprintf(rt->name, sizeof(rt->name), "%s", basename(copy2)) >= (int)sizeof(rt->name)) {
		fprintf(stderr, "ptenant-ingress: --routes %s: path too long\n", path);
		return -1;
	}
	rt->dirfd = open(dirname(copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rt->dirfd < 0) {
		fprintf(stderr, "ptenant-ingress: open the directory of %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Root becomes the user for good: groups, then gid, then uid (after the
 * uid, setgid would fail), then no_new_privs so nothing can regain any. */
static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() == 0) {
		pw = getpwnam(user);
		if (!pw || pw->pw_uid == 0) {
			fprintf(stderr, "ptenant-ingress: --user %s: %s\n", user,
				pw ? "must not be root" : "no such user");
			return -1;
		}
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
			fprintf(stderr, "ptenant-ingress: become %s: %s\n", user, strerror(errno));
			return -1;
		}
		if (setuid(0) == 0) {
			fprintf(stderr, "ptenant-ingress: could regain root after the drop\n");
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "ptenant-ingress: no_new_privs: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* The channel's path: given, or beside routes.json (both are in the
 * daemon's runtime_dir). */
static int wake_path(const struct options *o, char *out, size_t n)
{
	char copy[4096];

	if (o->wake_socket)
		return snprintf(out, n, "%s", o->wake_socket) >= (int)n ? -ENAMETOOLONG : 0;
	if (snprintf(copy, sizeof(copy), "%s", o->routes) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	return snprintf(out, n, "%s/ingress.sock", dirname(copy)) >= (int)n ? -ENAMETOOLONG : 0;
}

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void setup_process(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Two fds per connection at the cap: past the usual soft 1024. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run(struct ingress *in)
{
	struct end listener = { .fd = in->listen_fd };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listener }, evs[64];
	uint64_t last_expire = 0;

	if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->listen_fd, &ev) < 0)
		return -errno;
	while (!quit) {
		/* 250 ms: the deadline scan's resolution. */
		int n = epoll_wait(in->epfd, evs, 64, 250);
		uint64_t now;

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct end *e = evs[i].data.ptr;

			if (e == &listener)
				proxy_accept(in);
			else if (e == &in->wake.end)
				wake_ready(in, evs[i].events);
			else if (e->pooled)
				pool_ready(in, e->pooled, evs[i].events);
			else
				proxy_ready(in, e, evs[i].events);
		}
		now = ingress_now_ms();
		/* Scans of every connection and tenant, not once per event. */
		if (now - last_expire >= 250) {
			proxy_expire(in, now);
			last_expire = now;
		}
		if (now - in->last_sweep >= ACTIVE_INTERVAL_MS) {
			slots_sweep(in, now);
			in->last_sweep = now;
		}
		wake_connect(in);
		proxy_reap(in);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .user = "nobody", .max_conns = DEFAULT_MAX_CONNS,
			     .max_per_tenant = DEFAULT_MAX_PER_TENANT,
			     .head_timeout = HEAD_TIMEOUT_MS, .keepalive_timeout = KEEPALIVE_TIMEOUT_MS,
			     .idle_timeout = IDLE_TIMEOUT_MS };
	struct ingress in = { .epfd = -1, .listen_fd = -1, .wake.end.fd = -1 };
	char domain[254];
	int r;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (check_domain(o.domain, domain, sizeof(domain)) < 0) {
		fprintf(stderr, "ptenant-ingress: --domain %s: not a domain name\n", o.domain);
		return 2;
	}
	in.domain = domain;
	in.max_conns = (size_t)o.max_conns;
	in.max_per_tenant = (size_t)o.max_per_tenant;
	in.head_timeout_ms = (uint64_t)o.head_timeout;
	in.keepalive_timeout_ms = (uint64_t)o.keepalive_timeout;
	in.idle_timeout_ms = (uint64_t)o.idle_timeout;
	if (wake_path(&o, in.wake.path, sizeof(in.wake.path)) < 0) {
		fprintf(stderr, "ptenant-ingress: --wake-socket: path too long\n");
		return 2;
	}
	setup_process();
	in.listen_fd = open_listener(o.listen);
	if (in.listen_fd < 0 || open_routes(&in.routes, o.routes) < 0 ||
	    drop_privileges(o.user) < 0)
		return 1;
	in.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (in.epfd < 0)
		return 1;
	routes_refresh(&in.routes);
	fprintf(stderr, "ptenant-ingress %s: http://*.%s on %s, routes %s, wake channel %s, uid %u\n",
		PTENANT_VERSION, domain, o.listen, o.routes, in.wake.path[0] ? in.wake.path : "off",
		(unsigned)getuid());
	wake_connect(&in);
	r = run(&in);
	if (r < 0) {
		fprintf(stderr, "ptenant-ingress: event loop: %s\n", strerror(-r));
		return 1;
	}
	fprintf(stderr, "ptenant-ingress: stopping\n");
	proxy_close_all(&in);
	slots_free(&in);
	return 0;
}

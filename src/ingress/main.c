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
#include "keyhelper.h"

#define DOMAIN_ARGS_MAX PT_INGRESS_DOMAINS_MAX

struct options {
	const char *listen, *https_listen, *routes, *user, *wake_socket, *config;
	const char *tls_min_version, *tls_ciphers;
	const char *domains[DOMAIN_ARGS_MAX];   /* --domain, in order */
	size_t n_domains;
	long max_conns, max_per_tenant;
	long head_timeout, keepalive_timeout, idle_timeout; /* ms */
	bool given[128];                       /* set on the command line, by option */
	char *file_values[32];                 /* the config file's, kept for the above */
	size_t n_file_values;
};

static volatile sig_atomic_t quit, reload;

uint64_t ingress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ptenant-ingress [--config FILE] --listen ADDR:PORT --domain DOMAIN --routes PATH\n"
		"Route HTTP(S) requests for SLUG.DOMAIN to that tenant's address.\n\n"
		"  -c, --config FILE       options (key = value, '_' for '-') and [DOMAIN] sections with\n"
		"                          cert, key, http, hsts: see ptenant-ingress(8)\n"
		"  -l, --listen ADDR:PORT  where to accept clients (IPv4, or [IPv6]:PORT)\n"
		"      --https-listen ADDR:PORT  where to accept HTTPS clients (needs a domain with a\n"
		"                          certificate, from --config)\n"
		"  -d, --domain DOMAIN     a domain tenants live under (SLUG.DOMAIN); may be repeated\n"
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
		"      --tls-min-version V 1.2 (default) or 1.3\n"
		"      --tls-ciphers LIST  TLS 1.2 cipher suites (OpenSSL syntax; default ECDHE+AEAD)\n"
		"  -h, --help              this help\n"
		"      --version           print the version\n\n"
		"SIGHUP loads the certificates and keys again (a bad one keeps the old).\n"
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

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "https-listen", required_argument, NULL, 'S' },
	{ "domain", required_argument, NULL, 'd' },
	{ "routes", required_argument, NULL, 'r' },
	{ "user", required_argument, NULL, 'u' },
	{ "wake-socket", required_argument, NULL, 'w' },
	{ "max-conns", required_argument, NULL, 'C' },
	{ "max-per-tenant", required_argument, NULL, 'T' },
	{ "head-timeout", required_argument, NULL, 'H' },
	{ "keepalive-timeout", required_argument, NULL, 'K' },
	{ "idle-timeout", required_argument, NULL, 'I' },
	{ "tls-min-version", required_argument, NULL, 'M' },
	{ "tls-ciphers", required_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static void options_free(struct options *o)
{
	for (size_t i = 0; i < o->n_file_values; i++)
		free(o->file_values[i]);
	o->n_file_values = 0;
}

/* One option's value, from the command line or the config file. */
static int apply_option(int opt, const char *arg, struct options *o)
{
	switch (opt) {
	case 'C':
	case 'T':
	case 'H':
	case 'K':
	case 'I':
		return number_arg(opt, arg, o);
	case 'd':
		if (o->n_domains == DOMAIN_ARGS_MAX) {
			fprintf(stderr, "ptenant-ingress: --domain: more than %d\n", DOMAIN_ARGS_MAX);
			return -EINVAL;
		}
		o->domains[o->n_domains++] = arg;
		return 0;
	case 'w': o->wake_socket = arg; return 0;
	case 'l': o->listen = arg; return 0;
	case 'S': o->https_listen = arg; return 0;
	case 'r': o->routes = arg; return 0;
	case 'u': o->user = arg; return 0;
	case 'M': o->tls_min_version = arg; return 0;
	case 'P': o->tls_ciphers = arg; return 0;
	case 'c': o->config = arg; return 0;
	default: return -EINVAL;
	}
}

static int parse_args(int argc, char **argv, struct options *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "c:l:d:r:u:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ptenant-ingress %s\n", PTENANT_VERSION); exit(0);
		case '?': usage(stderr); return -EINVAL;
		default:
			if (apply_option(c, optarg, o) < 0)
				return -EINVAL;
			if (c > 0 && c < 128)
				o->given[c] = true;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* A key before the config file's first section: a long option, which
 * the command line overrides. */
static int file_option(void *ctx, const char *key, const char *value, pt_err *err)
{
	struct options *o = ctx;
	char name[32];
	size_t len = strlen(key);

	if (len >= sizeof(name))
		return pt_err_field(err, -EINVAL, "", "unknown key %s", key);
	for (size_t i = 0; i <= len; i++)
		name[i] = key[i] == '_' ? '-' : key[i];
	for (const struct option *lo = longopts; lo->name; lo++) {
		char *copy;

		if (strcmp(lo->name, name) || lo->has_arg != required_argument || lo->val == 'c')
			continue;
		if (o->given[lo->val] && lo->val != 'd')
			return 0;
		if (o->n_file_values == sizeof(o->file_values) / sizeof(o->file_values[0]) ||
		    !(copy = strdup(value)))
			return pt_err_field(err, -E2BIG, "", "too many keys");
		o->file_values[o->n_file_values++] = copy;
		if (apply_option(lo->val, copy, o) < 0)
			return pt_err_field(err, -EINVAL, "", "%s = %s: see the message above", key,
					    value);
		return 0;
	}
	return pt_err_field(err, -EINVAL, "", "unknown key %s", key);
}

/* The config file (read as root, before anything else), then the
 * command line's domains. */
static int load_config(struct options *o, struct pt_ingress_conf *conf)
{
	pt_err err = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (o->config) {
		f = fopen(o->config, "re");
		if (!f) {
			fprintf(stderr, "ptenant-ingress: --config %s: %s\n", o->config, strerror(errno));
			return -1;
		}
		text = malloc(1024 * 1024);
		len = text ? fread(text, 1, 1024 * 1024, f) : 0;
		if (!text || ferror(f) || !feof(f)) {
			fprintf(stderr, "ptenant-ingress: --config %s: %s\n", o->config,
				!text ? "out of memory" : ferror(f) ? "read error" : "larger than 1 MiB");
			fclose(f);
			free(text);
			return -1;
		}
		fclose(f);
		if (pt_ingress_conf_parse(conf, text, len, o->config, file_option, o, &err) < 0) {
			fprintf(stderr, "ptenant-ingress: %s\n", err.msg);
			free(text);
			return -1;
		}
		free(text);
	}
	for (size_t i = 0; i < o->n_domains; i++)
		if (pt_ingress_conf_add(conf, o->domains[i], &err) < 0 && err.code != -EEXIST) {
			fprintf(stderr, "ptenant-ingress: --%s\n", err.msg);
			return -1;
		}
	if (o->tls_min_version && strcmp(o->tls_min_version, "1.2") &&
	    strcmp(o->tls_min_version, "1.3")) {
		fprintf(stderr, "ptenant-ingress: --tls-min-version %s: want 1.2 or 1.3 (older TLS "
			"is not offered)\n", o->tls_min_version);
		return -1;
	}
	if (!o->listen || !conf->n_domains || !o->routes) {
		fprintf(stderr, "ptenant-ingress: %s is needed (on the command line or in --config)\n",
			!o->listen ? "--listen" : !o->routes ? "--routes" : "a --domain or a [DOMAIN] section");
		usage(stderr);
		return -1;
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
	if (sig == SIGHUP)
		reload = 1;
	else
		quit = 1;
}

static void setup_process(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Two fds per connection at the cap: past the usual soft 1024. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Domain i's certificate and key, read by the key helper now, checked,
 * put in use. At startup a bad one stops the ingress; on reload it keeps
 * the one in use, and the log says why. */
static int load_certificate(struct ingress *in, size_t i, bool startup)
{
	const struct pt_ingress_domain *d = &in->conf->domains[i];
	struct pem_pair pem;
	char why[512];
	SSL_CTX *ctx = NULL;

	if (keyhelper_fetch(in->keys_fd, d, i, &pem, why, sizeof(why)) == 0) {
		ctx = tls_context(&in->tls, d->name, pem.cert, pem.cert_len, pem.key, pem.key_len, why,
				  sizeof(why));
		pem_pair_free(&pem);
	}
	if (!ctx) {
		if (startup)
			fprintf(stderr, "ptenant-ingress: [%s] certificate %s, key %s: %s\n", d->name,
				d->cert, d->key, why);
		else
			fprintf(stderr, "ptenant-ingress: reload: [%s] certificate %s, key %s: %s; "
				"still using the one valid until %s\n", d->name, d->cert, d->key, why,
				in->tls.not_after[i]);
		return -1;
	}
	tls_install(&in->tls, i, ctx);
	fprintf(stderr, "ptenant-ingress: [%s] certificate %s %s, valid until %s\n", d->name, d->cert,
		startup ? "loaded" : "reloaded", in->tls.not_after[i]);
	return 0;
}

static void reload_certificates(struct ingress *in)
{
	unsigned ok = 0, bad = 0;

	for (size_t i = 0; i < in->conf->n_domains; i++)
		if (in->conf->domains[i].cert[0])
			load_certificate(in, i, false) == 0 ? ok++ : bad++;
	fprintf(stderr, "ptenant-ingress: reload: %u certificate(s) loaded, %u kept as they were\n",
		ok, bad);
}

/* HTTPS, set up as root: the listener, the key helper, every domain's
 * certificate. */
static int setup_https(struct ingress *in, const struct options *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	pid_t pid;
	char why[512];
	bool any = false;

	for (size_t i = 0; i < in->conf->n_domains; i++)
		any |= in->conf->domains[i].cert[0] != '\0';
	if (!o->https_listen && !any)
		return 0;
	if (!o->https_listen || !any) {
		fprintf(stderr, "ptenant-ingress: %s\n", any ?
			"a domain has a certificate but there is no --https-listen (https_listen)" :
			"--https-listen needs a domain with a certificate (cert, key in --config)");
		return -1;
	}
	if (parse_listen(o->https_listen, &ss, &len) < 0) {
		fprintf(stderr, "ptenant-ingress: --https-listen %s: want ADDR:PORT\n", o->https_listen);
		return -1;
	}
	in->https_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			       ((struct sockaddr_in *)&ss)->sin_port);
	if (tls_init(&in->tls, in->conf, o->tls_min_version, o->tls_ciphers, why, sizeof(why)) < 0) {
		fprintf(stderr, "ptenant-ingress: %s\n", why);
		return -1;
	}
	in->keys_fd = keyhelper_start(in->conf, &pid);
	if (in->keys_fd < 0) {
		fprintf(stderr, "ptenant-ingress: start the key helper: %s\n", strerror(-in->keys_fd));
		return -1;
	}
	for (size_t i = 0; i < in->conf->n_domains; i++)
		if (in->conf->domains[i].cert[0] && load_certificate(in, i, true) < 0)
			return -1;
	in->https_fd = open_listener(o->https_listen);
	return in->https_fd < 0 ? -1 : 0;
}

static int run(struct ingress *in)
{
	struct end listener = { .fd = in->listen_fd }, https = { .fd = in->https_fd };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listener }, evs[64];
	uint64_t last_expire = 0;

	if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->listen_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &https;
	if (in->https_fd >= 0 && epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->https_fd, &ev) < 0)
		return -errno;
	while (!quit) {
		/* 250 ms: the deadline scan's resolution; 0 while SSL holds
		 * bytes for a connection. */
		int n;
		uint64_t now;

		/* The access log goes out once a round, not a write per line. */
		log_flush();
		n = epoll_wait(in->epfd, evs, 64, in->tls_ready ? 0 : 250);
		in->routes.round++;

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct end *e = evs[i].data.ptr;

			if (e == &listener || e == &https)
				proxy_accept(in, e == &https);
			else if (e == &in->wake.end)
				wake_ready(in, evs[i].events);
			else if (e->pooled)
				pool_ready(in, e->pooled, evs[i].events);
			else
				proxy_ready(in, e, evs[i].events);
		}
		tls_run_ready(in);
		if (reload) {
			reload = 0;
			if (in->keys_fd >= 0)
				reload_certificates(in);
			else
				fprintf(stderr, "ptenant-ingress: SIGHUP: no HTTPS, nothing to reload\n");
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
	struct ingress in = { .epfd = -1, .listen_fd = -1, .https_fd = -1, .keys_fd = -1,
			      .wake.end.fd = -1 };
	struct pt_ingress_conf *conf = calloc(1, sizeof(*conf));
	int r;

	if (!conf || parse_args(argc, argv, &o) < 0 || load_config(&o, conf) < 0) {
		options_free(&o);
		free(conf);
		return 2;
	}
	in.conf = conf;
	for (size_t i = 0; i < conf->n_domains; i++)
		in.domains[i] = conf->domains[i].name;
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
	if (in.listen_fd < 0 || setup_https(&in, &o) < 0 || open_routes(&in.routes, o.routes) < 0 ||
	    drop_privileges(o.user) < 0)
		return 1;
	in.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (in.epfd < 0)
		return 1;
	routes_refresh(&in.routes);
	for (size_t i = 0; i < conf->n_domains; i++)
		fprintf(stderr, "ptenant-ingress %s: http%s://*.%s%s\n", PTENANT_VERSION,
			in.tls.ctx[i] ? "(s)" : "", conf->domains[i].name,
			conf->domains[i].redirect ? " (http redirects to https)" : "");
	fprintf(stderr, "ptenant-ingress %s: http on %s%s%s, routes %s, wake channel %s, uid %u\n",
		PTENANT_VERSION, o.listen, o.https_listen ? ", https on " : "",
		o.https_listen ? o.https_listen : "", o.routes,
		in.wake.path[0] ? in.wake.path : "off", (unsigned)getuid());
	wake_connect(&in);
	r = run(&in);
	if (r < 0) {
		fprintf(stderr, "ptenant-ingress: event loop: %s\n", strerror(-r));
		return 1;
	}
	log_flush();
	fprintf(stderr, "ptenant-ingress: stopping\n");
	proxy_close_all(&in);
	log_flush();
	slots_free(&in);
	tls_free(&in.tls);
	json_decref(in.routes.routes);
	options_free(&o);
	free(conf);
	return 0;
}

#include "plan.h"
#include "notify-msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "blueprint.h"
#include "cleanup.h"
#include "netconf.h"
#include "ptenant/spec.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The minimal /dev: what programs expect, nothing that reaches hardware.
 * Bound from the host because a user namespace cannot mknod. */
static const char *const dev_nodes[][2] = {
	{ "dev/null", "/dev/null" },
	{ "dev/zero", "/dev/zero" },
	{ "dev/full", "/dev/full" },
	{ "dev/random", "/dev/random" },
	{ "dev/urandom", "/dev/urandom" },
	{ "dev/tty", "/dev/tty" },
};

static const char *const dev_links[][2] = {
	{ "dev/ptmx", "pts/ptmx" },
	{ "dev/fd", "/proc/self/fd" },
	{ "dev/stdin", "/proc/self/fd/0" },
	{ "dev/stdout", "/proc/self/fd/1" },
	{ "dev/stderr", "/proc/self/fd/2" },
};

/* What the container world masks, and a little more: host-wide state a
 * tenant has no business reading (kernel memory, keys, interrupt and
 * timer details that fingerprint the host and its neighbours, firmware,
 * thermal and power zones that leak other tenants' load). */
static const char *const masked_paths[] = {
	"proc/acpi", "proc/asound", "proc/interrupts", "proc/softirqs",
	"proc/kcore", "proc/keys", "proc/key-users", "proc/kallsyms",
	"proc/kpagecount", "proc/kpageflags", "proc/kpagecgroup",
	"proc/latency_stats", "proc/timer_list", "proc/timer_stats",
	"proc/sched_debug", "proc/scsi", "proc/vmallocinfo", "proc/slabinfo",
	"proc/modules", "proc/iomem", "proc/ioports", "proc/config.gz",
	"sys/firmware", "sys/devices/virtual/powercap", "sys/class/powercap",
	"sys/devices/virtual/thermal", "sys/class/thermal", "sys/kernel/debug",
	"sys/kernel/tracing", "sys/kernel/security",
};

/* Host-wide knobs: readable (programs look at them), never writable. */
static const char *const readonly_paths[] = {
	"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
};

static struct pt_step *add_step(struct pt_plan *plan, enum pt_step_kind kind,
				const char *target)
{
	struct pt_step *s;

	if (plan->n_steps >= PT_PLAN_STEPS_MAX)
		return NULL;
	s = &plan->steps[plan->n_steps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->target = target;
	return s;
}

static int add_mount(struct pt_plan *plan, enum pt_step_kind kind,
		     const char *target, const char *data, unsigned long flags)
{
	struct pt_step *s = add_step(plan, kind, target);

	if (!s)
		return -E2BIG;
	s->data = data;
	s->flags = flags;
	return 0;
}

static int add_dev(struct pt_plan *plan)
{
	int r;

	/* A fresh tmpfs every start: nothing a previous run planted in /dev
	 * survives, and the tenant cannot create nodes in it anyway. */
	r = add_mount(plan, PT_STEP_TMPFS, "dev", "mode=755,size=64k",
		      MS_NOSUID | MS_NOEXEC | MS_STRICTATIME);
	for (size_t i = 0; r == 0 && i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		struct pt_step *s = add_step(plan, PT_STEP_BIND_DEV, dev_nodes[i][0]);

		if (!s)
			return -E2BIG;
		s->source = dev_nodes[i][1];
		s->flags = MS_BIND | MS_NOSUID | MS_NOEXEC;
	}
	if (r == 0)
		r = add_mount(plan, PT_STEP_DEVPTS, "dev/pts",
			      "newinstance,ptmxmode=0666,mode=0620",
			      MS_NOSUID | MS_NOEXEC);
	if (r == 0)
		r = add_mount(plan, PT_STEP_TMPFS, "dev/shm", "mode=1777,size=65536k",
			      MS_NOSUID | MS_NODEV);
	for (size_t i = 0; r == 0 && i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		struct pt_step *s = add_step(plan, PT_STEP_SYMLINK, dev_links[i][0]);

		if (!s)
			return -E2BIG;
		s->source = dev_links[i][1];
	}
	return r;
}

static int add_file(struct pt_plan *plan, const char *target,
		    const char *content, size_t len, mode_t mode)
{
	struct pt_step *s = add_step(plan, PT_STEP_FILE, target);

	if (!s)
		return -E2BIG;
	s->content = content;
	s->content_len = len;
	s->mode = mode;
	return 0;
}

/* Keeps a string the plan's steps point to; freed with the plan. */
static const char *plan_own(struct pt_plan *plan, char *str)
{
	if (!str || plan->n_owned >= PT_PLAN_STEPS_MAX) {
		free(str);
		return NULL;
	}
	plan->owned[plan->n_owned++] = str;
	return str;
}

static const char *plan_printf(struct pt_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *plan_printf(struct pt_plan *plan, const char *fmt, ...)
{
	char *str = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&str, fmt, ap);
	va_end(ap);
	return plan_own(plan, n < 0 ? NULL : str);
}

static int add_secrets(struct pt_plan *plan, const struct pt_spec *spec)
{
	int r;

	const struct pt_user *u = &spec->user;
	bool as_user = u->set && (u->uid || u->gid);
	const char *opts = "mode=0700,size=4200k";

	/* tmpfs: secrets never touch the tenant's disk layer, and 0700 +
	 * 0400 keeps them from every other uid inside the tenant: root's by
	 * default, the spec's `user`'s when it names one (it has no
	 * capabilities to read root's files). Room for PT_SECRETS_MAX values
	 * of PT_SECRET_VALUE_MAX bytes. */
	if (as_user && !(opts = plan_printf(plan, "mode=0700,size=4200k,uid=%u,gid=%u",
					    u->uid, u->gid)))
		return -ENOMEM;
	r = add_mount(plan, PT_STEP_TMPFS, "run/secrets", opts,
		      MS_NOSUID | MS_NODEV | MS_NOEXEC);
	for (size_t i = 0; r == 0 && i < spec->n_secrets; i++) {
		const struct pt_kv *kv = &spec->secrets[i];

		const char *path;

		if (!kv->value)
			return -ENOKEY;
		path = plan_printf(plan, "run/secrets/%s", kv->key);
		if (!path)
			return -ENOMEM;
		r = add_file(plan, path, kv->value, strlen(kv->value), 0400);
		if (r == 0 && as_user) {
			struct pt_step *st = &plan->steps[plan->n_steps - 1];

			st->chown = true;
			st->uid = u->uid;
			st->gid = u->gid;
		}
	}
	return r;
}

/* /run/ptenant: a small tmpfs of its own holding the notify socket the
 * daemon binds (rootfs-premade.c), NOTIFY_SOCKET in the environment. */
static int add_notify(struct pt_plan *plan)
{
	int r = add_mount(plan, PT_STEP_TMPFS, "run/ptenant", "mode=0755,size=16k",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC);

	if (r == 0)
		plan->steps[plan->n_steps - 1].notify = true;
	return r;
}

static int add_etc(struct pt_plan *plan, const char *slug)
{
	const char *hostname = plan_printf(plan, "%s\n", slug);
	const char *hosts = plan_printf(plan,
		"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t%s\n", slug);
	int r;

	if (!hostname || !hosts)
		return -ENOMEM;
	/* Written into the fresh writable layer, never into the blueprint. */
	r = add_file(plan, "etc/hostname", hostname, strlen(hostname), 0644);
	if (r == 0)
		r = add_file(plan, "etc/hosts", hosts, strlen(hosts), 0644);
	return r;
}

static int add_masks(struct pt_plan *plan)
{
	for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++)
		if (!add_step(plan, PT_STEP_MASK, masked_paths[i]))
			return -E2BIG;
	for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++)
		if (!add_step(plan, PT_STEP_READONLY, readonly_paths[i]))
			return -E2BIG;
	return 0;
}

static int add_mounts(struct pt_plan *plan, const struct pt_spec *spec)
{
	int r;

	r = add_mount(plan, PT_STEP_PROC, "proc", NULL,
		      MS_NOSUID | MS_NODEV | MS_NOEXEC);
	if (r == 0)
		r = add_mount(plan, PT_STEP_SYSFS, "sys", NULL,
			      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	if (r == 0)
		r = add_masks(plan);
	if (r == 0)
		r = add_dev(plan);
	if (r == 0)
		r = add_mount(plan, PT_STEP_BIND_DATA, "data", NULL,
			      MS_BIND | MS_NOSUID | MS_NODEV);
	if (r == 0)
		r = add_mount(plan, PT_STEP_TMPFS, "tmp", "mode=1777,size=65536k",
			      MS_NOSUID | MS_NODEV);
	if (r == 0)
		r = add_secrets(plan, spec);
	if (r == 0)
		r = add_notify(plan);
	if (r == 0)
		r = add_etc(plan, spec->slug);
	return r;
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ptenant-init -- <entrypoint> <args...>: the spec's entrypoint replaces
 * the blueprint's whole command line, the spec's args replace only its
 * arguments. */
static int build_argv(struct pt_plan *plan, const struct pt_spec *spec,
		      const struct pt_blueprint *bp)
{
	char *const *entry = spec->entrypoint ? spec->entrypoint : bp->entrypoint;
	char *const *args = spec->args ? spec->args
			    : spec->entrypoint ? NULL : bp->args;
	size_t n_entry = strv_len(entry), n_args = strv_len(args), k = 0;
	char **argv;

	if (n_entry == 0)
		return -ENOEXEC;
	argv = calloc(n_entry + n_args + 3, sizeof(char *));
	if (!argv)
		return -ENOMEM;
	plan->argv = argv;
	if (!(argv[k++] = strdup("ptenant-init")) || !(argv[k++] = strdup("--")))
		return -ENOMEM;
	for (size_t i = 0; i < n_entry; i++)
		if (!(argv[k++] = strdup(entry[i])))
			return -ENOMEM;
	for (size_t i = 0; i < n_args; i++)
		if (!(argv[k++] = strdup(args[i])))
			return -ENOMEM;
	return 0;
}

int pt_plan_make_standby(struct pt_plan *plan, pt_err *err)
{
	size_t n = strv_len(plan->argv);
	char **argv = realloc(plan->argv, (n + 2) * sizeof(char *));
	char *flag;

	if (argv)
		plan->argv = argv;
	flag = argv ? strdup("--standby") : NULL;
	if (!flag)
		return pt_err_set(err, -ENOMEM, "tenant %s: standby argv", plan->slug);
	/* ptenant-init --standby -- ... */
	memmove(argv + 2, argv + 1, n * sizeof(char *));
	argv[1] = flag;
	plan->standby = true;
	return 0;
}

const char *pt_plan_upper_name(const struct pt_plan *plan)
{
	return plan->standby ? "upper.next" : "upper";
}

const char *pt_plan_work_name(const struct pt_plan *plan)
{
	return plan->standby ? "work.next" : "work";
}

static ssize_t env_find(char **envp, size_t n, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], key, klen) == 0 && envp[i][klen] == '=')
			return (ssize_t)i;
	return -1;
}

static int env_set(char **envp, size_t *n, const char *key, const char *value,
		   int overwrite)
{
	ssize_t at = env_find(envp, *n, key);
	char *entry;

	if (at >= 0 && !overwrite)
		return 0;
	if (asprintf(&entry, "%s=%s", key, value) < 0)
		return -ENOMEM;
	if (at >= 0) {
		free(envp[at]);
		envp[at] = entry;
	} else {
		envp[(*n)++] = entry;
	}
	return 0;
}

int pt_plan_env(const struct pt_spec *spec, const struct pt_blueprint *bp,
		char ***ret_envp, pt_err *err)
{
	size_t cap = bp->n_env + spec->n_env + 6, n = 0;
	char **envp = calloc(cap, sizeof(char *));
	char port[8];
	int r = 0;

	if (!envp)
		return pt_err_set(err, -ENOMEM, "allocate environment");
	for (size_t i = 0; r == 0 && i < bp->n_env; i++)
		r = env_set(envp, &n, bp->env[i].key, bp->env[i].value, 1);
	for (size_t i = 0; r == 0 && i < spec->n_env; i++)
		r = env_set(envp, &n, spec->env[i].key, spec->env[i].value, 1);
	snprintf(port, sizeof(port), "%u", spec->port ? spec->port : bp->port);
	if (r == 0)
		r = env_set(envp, &n, "HOSTNAME", spec->slug, 1);
	if (r == 0)
		r = env_set(envp, &n, "PATH", DEFAULT_PATH, 0);
	if (r == 0)
		/* /root is root's (0700); a non-root user's home is its data. */
		r = env_set(envp, &n, "HOME", spec->user.set && spec->user.uid ? "/data" : "/root", 0);
	if (r == 0 && (spec->port || bp->port))
		r = env_set(envp, &n, "PORT", port, 0);
	/* The daemon's socket, whatever the spec says: it is the only one. */
	if (r == 0)
		r = env_set(envp, &n, "NOTIFY_SOCKET", PT_NOTIFY_SOCKET, 1);
	if (r < 0) {
		strv_free(envp);
		return pt_err_set(err, r, "build environment");
	}
	*ret_envp = envp;
	return 0;
}

int pt_plan_build(struct pt_plan *plan, const struct pt_spec *spec,
		  const struct pt_blueprint *bp, const char *tenant_dir,
		  uint32_t host_uid, pt_err *err)
{
	int r;

	memset(plan, 0, sizeof(*plan));
	plan->slug = spec->slug;
	plan->host_uid = host_uid;
	snprintf(plan->tenant_dir, sizeof(plan->tenant_dir), "%s", tenant_dir);
	snprintf(plan->lower_dir, sizeof(plan->lower_dir), "%s", bp->rootfs);
	snprintf(plan->cwd, sizeof(plan->cwd), "%s", bp->workdir[0] ? bp->workdir : "/");
	r = add_mounts(plan, spec);
	if (r == -ENOKEY)
		return pt_err_set(err, -EINVAL, "tenant %s: a secret has no value loaded",
				  spec->slug);
	if (r < 0)
		return pt_err_set(err, r, "tenant %s: build mount plan", spec->slug);
	r = build_argv(plan, spec, bp);
	if (r == -ENOEXEC)
		return pt_err_set(err, -EINVAL,
				  "tenant %s: no entrypoint in spec or blueprint %s@%s",
				  spec->slug, bp->name, bp->version);
	if (r < 0)
		return pt_err_set(err, r, "tenant %s: build argv", spec->slug);
	return pt_plan_env(spec, bp, &plan->envp, err);
}

static char *resolv_conf(const uint32_t *resolvers, size_t n)
{
	char *buf = NULL, a[PT_IPV4_STR];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("# written by ptenant at every start; see resolvers in ptenantd(8)\n", f);
	for (size_t i = 0; i < n; i++) {
		pt_ipv4_format(resolvers[i], a);
		fprintf(f, "nameserver %s\n", a);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int pt_plan_add_network(struct pt_plan *plan, const struct pt_plan_net *net,
			const uint32_t *resolvers, size_t n_resolvers, pt_err *err)
{
	const char *hosts, *resolv;
	char a[PT_IPV4_STR];
	int r;

	plan->net = *net;
	pt_ipv4_format(net->addr, a);
	hosts = plan_printf(plan, "127.0.0.1\tlocalhost\n::1\tlocalhost\n%s\t%s\n",
			    a, plan->slug);
	resolv = plan_own(plan, resolv_conf(resolvers, n_resolvers));
	if (!hosts || !resolv)
		return pt_err_set(err, -ENOMEM, "tenant %s: network files", plan->slug);
	/* The hosts file add_etc wrote names 127.0.1.1; with an address of
	 * its own the tenant's name resolves to that instead. */
	for (size_t i = 0; i < plan->n_steps; i++)
		if (plan->steps[i].kind == PT_STEP_FILE &&
		    strcmp(plan->steps[i].target, "etc/hosts") == 0) {
			plan->steps[i].content = hosts;
			plan->steps[i].content_len = strlen(hosts);
		}
	r = add_file(plan, "etc/resolv.conf", resolv, strlen(resolv), 0644);
	if (r < 0)
		return pt_err_set(err, r, "tenant %s: add /etc/resolv.conf", plan->slug);
	return 0;
}

void pt_plan_free(struct pt_plan *plan)
{
	strv_free(plan->argv);
	strv_free(plan->envp);
	for (size_t i = 0; i < plan->n_owned; i++)
		free(plan->owned[i]);
	plan->argv = plan->envp = NULL;
	plan->n_owned = 0;
	plan->n_steps = 0;
}

const char *pt_plan_step_name(enum pt_step_kind k)
{
	switch (k) {
	case PT_STEP_PROC: return "proc";
	case PT_STEP_SYSFS: return "sysfs";
	case PT_STEP_TMPFS: return "tmpfs";
	case PT_STEP_BIND_DEV: return "bind-dev";
	case PT_STEP_DEVPTS: return "devpts";
	case PT_STEP_SYMLINK: return "symlink";
	case PT_STEP_BIND_DATA: return "bind-data";
	case PT_STEP_FILE: return "file";
	case PT_STEP_MASK: return "mask";
	case PT_STEP_READONLY: return "readonly";
	}
	return "?";
}

void pt_plan_print(const struct pt_plan *plan, FILE *out)
{
	fprintf(out, "tenant %s: host uid/gid %u..%u\n", plan->slug,
		plan->host_uid, plan->host_uid + 65535);
	if (plan->net.enabled) {
		char a[PT_IPV4_STR], g[PT_IPV4_STR];

		pt_ipv4_format(plan->net.addr, a);
		pt_ipv4_format(plan->net.gw, g);
		fprintf(out, "  net: eth0 %s/32 via %s\n", a, g);
	}
	fprintf(out, "  rootfs: overlay lower=%s (idmapped) upper=%s/%s%s\n",
		plan->lower_dir, plan->tenant_dir, pt_plan_upper_name(plan),
		plan->standby ? " (standby)" : "");
	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct pt_step *s = &plan->steps[i];

		fprintf(out, "  %-9s /%s", pt_plan_step_name(s->kind), s->target);
		if (s->source)
			fprintf(out, " <- %s", s->source);
		if (s->data)
			fprintf(out, " (%s)", s->data);
		if (s->kind == PT_STEP_FILE)
			fprintf(out, " (%zu bytes, mode %04o)", s->content_len,
				(unsigned)s->mode);
		fputc('\n', out);
	}
	for (size_t i = 0; plan->argv && plan->argv[i]; i++)
		fprintf(out, "%s%s", i ? " " : "  argv: ", plan->argv[i]);
	fputc('\n', out);
	for (size_t i = 0; plan->envp && plan->envp[i]; i++)
		fprintf(out, "  env: %.*s=...\n",
			(int)strcspn(plan->envp[i], "="), plan->envp[i]);
}

/* Seccomp: profile parsing, compilation in the daemon, loading in the
 * child. See seccomp.h for the design and ptenant-seccomp(5) for the
 * profile format. */
#include "seccomp-filter.h"

#include <errno.h>
#include <jansson.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <unistd.h>

#include "cleanup.h"
#include "seccomp-lists.h"

/* Namespace flags clone() may not carry. CLONE_NEWTIME (0x80) is left
 * out: in clone()'s flags those bits are the exit signal, and a time
 * namespace can only be asked for through clone3/unshare anyway. */
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
			CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)
#define UNSHARE_NS_FLAGS (CLONE_NS_FLAGS | 0x80ULL /* CLONE_NEWTIME */)
#define LOW32 0xffffffffULL

static bool in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

static bool in_strv(char *const *v, const char *name)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

bool pt_seccomp_never_allowed(const char *name)
{
	return in_list(pt_seccomp_never, name);
}

/* ---- profile parsing ---------------------------------------------------- */

void pt_seccomp_profile_free(struct pt_seccomp_profile *p)
{
	for (size_t i = 0; p->allow && p->allow[i]; i++)
		free(p->allow[i]);
	for (size_t i = 0; p->deny && p->deny[i]; i++)
		free(p->deny[i]);
	free(p->allow);
	free(p->deny);
	memset(p, 0, sizeof(*p));
}

static int check_name(const char *name, bool allow, const char *field, pt_err *err)
{
	if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
		return pt_err_field(err, -EINVAL, field, "%s: unknown syscall \"%.64s\"", field, name);
	if (allow && pt_seccomp_never_allowed(name))
		return pt_err_field(err, -EINVAL, field,
				    "%s: \"%s\" can never be allowed (it reaches past the tenant)",
				    field, name);
	if (allow && in_list(pt_seccomp_conditional, name))
		return pt_err_field(err, -EINVAL, field,
				    "%s: \"%s\" is allowed only with argument checks; it can be "
				    "denied, not allowed unconditionally", field, name);
	return 0;
}

static int parse_names(json_t *arr, const char *field, bool allow, char ***ret, pt_err *err)
{
	size_t i, n = json_array_size(arr);
	char sub[96];
	json_t *e;

	if (!json_is_array(arr))
		return pt_err_field(err, -EINVAL, field, "%s: must be an array of syscall names", field);
	if (n > PT_SECCOMP_NAMES_MAX)
		return pt_err_field(err, -EINVAL, field, "%s: at most %d names", field,
				    PT_SECCOMP_NAMES_MAX);
	*ret = calloc(n + 1, sizeof(char *));
	if (!*ret)
		return pt_err_field(err, -ENOMEM, field, "%s: out of memory", field);
	json_array_foreach(arr, i, e) {
		const char *s = json_string_value(e);
		int r;

		snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
		if (!s || strlen(s) != json_string_length(e) || strlen(s) > 64)
			return pt_err_field(err, -EINVAL, sub, "%s: must be a syscall name", sub);
		r = check_name(s, allow, sub, err);
		if (r < 0)
			return r;
		if (!((*ret)[i] = strdup(s)))
			return pt_err_field(err, -ENOMEM, sub, "%s: out of memory", sub);
	}
	return 0;
}

static int parse_profile_fields(json_t *obj, const char *field,
				struct pt_seccomp_profile *p, pt_err *err)
{
	char sub[80];
	const char *key;
	json_t *v;
	int r = 0;

	json_object_foreach(obj, key, v) {
		bool allow = strcmp(key, "allow") == 0;

		snprintf(sub, sizeof(sub), "%s.%.16s", field, key);
		if (!allow && strcmp(key, "deny") != 0)
			return pt_err_field(err, -EINVAL, sub,
					    "%s: unknown field; known fields are allow and deny", sub);
		r = parse_names(v, sub, allow, allow ? &p->allow : &p->deny, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; p->allow && p->allow[i]; i++)
		if (in_strv(p->deny, p->allow[i])) {
			snprintf(sub, sizeof(sub), "%s.allow[%zu]", field, i);
			return pt_err_field(err, -EINVAL, sub, "%s: \"%s\" is both allowed and denied",
					    sub, p->allow[i]);
		}
	return 0;
}

int pt_seccomp_profile_parse(json_t *obj, const char *field,
			     struct pt_seccomp_profile *ret, pt_err *err)
{
	struct pt_seccomp_profile p = { 0 };
	int r;

	if (!json_is_object(obj))
		return pt_err_field(err, -EINVAL, field,
				    "%s: must be an object {\"allow\": [...], \"deny\": [...]}", field);
	r = parse_profile_fields(obj, field, &p, err);
	if (r < 0) {
		pt_seccomp_profile_free(&p);
		return r;
	}
	pt_seccomp_profile_free(ret);
	p.set = true;
	*ret = p;
	return 0;
}

/* ---- compilation ---------------------------------------------------------- */

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

#define RULE(ctx, name, ...) seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), __VA_ARGS__)

static int add_socket_rules(scmp_filter_ctx ctx)
{
	static const int inet[] = { AF_INET, AF_INET6 };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	int r;

	/* The kernel reads family and protocol as int: compare the low 32
	 * bits, so garbage in the upper half cannot slip past. */
	r = RULE(ctx, socket, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, AF_UNIX));
	for (size_t f = 0; r == 0 && f < 2; f++)
		for (size_t t = 0; r == 0 && t < 2; t++)
			r = RULE(ctx, socket, 2, SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, inet[f]),
				 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, types[t]));
	/* Route netlink only: reading addresses and routes is what libc and
	 * most runtimes do; changing them needs CAP_NET_ADMIN, which is gone. */
	if (r == 0)
		r = RULE(ctx, socket, 2, SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, AF_NETLINK),
			 SCMP_A2(SCMP_CMP_MASKED_EQ, LOW32, NETLINK_ROUTE));
	return r;
}

static int add_conditional(scmp_filter_ctx ctx, const struct pt_seccomp_profile *p)
{
	static const uint64_t personas[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };
	int r = 0;

	if (!in_strv(p->deny, "clone"))
		r = RULE(ctx, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0));
	if (r == 0 && !in_strv(p->deny, "unshare"))
		r = RULE(ctx, unshare, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, UNSHARE_NS_FLAGS, 0));
	if (r == 0 && !in_strv(p->deny, "socket"))
		r = add_socket_rules(ctx);
	for (size_t i = 0; r == 0 && !in_strv(p->deny, "personality") && i < 5; i++)
		r = RULE(ctx, personality, 1, SCMP_A0(SCMP_CMP_EQ, personas[i]));
	/* ENOSYS, not EPERM: glibc then falls back to clone(). */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return r;
}

static int add_allow_list(scmp_filter_ctx ctx, const struct pt_seccomp_profile *p,
			  pt_err *err)
{
	int r;

	for (size_t i = 0; pt_seccomp_default_allow[i]; i++) {
		const char *name = pt_seccomp_default_allow[i];
		int nr = seccomp_syscall_resolve_name(name);

		if (nr == __NR_SCMP_ERROR || in_strv(p->deny, name))
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			return pt_err_set(err, r, "seccomp: allow %s", name);
	}
	for (size_t i = 0; p->allow && p->allow[i]; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				     seccomp_syscall_resolve_name(p->allow[i]), 0);
		if (r < 0)
			return pt_err_set(err, r, "seccomp: allow %s", p->allow[i]);
	}
	r = add_conditional(ctx, p);
	return r < 0 ? pt_err_set(err, r, "seccomp: argument-checked rules") : 0;
}

/* libseccomp 2.5 exports only to an fd: go through a memfd. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *prog, pt_err *err)
{
	_cleanup_close_ int fd = memfd_create("ptenant-seccomp", MFD_CLOEXEC);
	off_t size;
	void *buf;
	int r;

	if (fd < 0)
		return pt_err_set(err, -errno, "seccomp: memfd_create");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return pt_err_set(err, r, "seccomp: export BPF");
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return pt_err_set(err, -E2BIG, "seccomp: filter of %lld bytes", (long long)size);
	buf = malloc((size_t)size);
	if (!buf)
		return pt_err_set(err, -ENOMEM, "seccomp: allocate filter");
	if (pread(fd, buf, (size_t)size, 0) != size) {
		free(buf);
		return pt_err_set(err, -EIO, "seccomp: read back the filter");
	}
	prog->filter = buf;
	prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	return 0;
}

static int compile_allow(const struct pt_seccomp_profile *p, struct sock_fprog *prog,
			 pt_err *err)
{
	_cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r;

	if (!ctx)
		return pt_err_set(err, -ENOMEM, "seccomp_init");
	/* Only the native ABI is in the filter: an i386 (int 0x80) or x32
	 * syscall is "another architecture" and fails with ENOSYS. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS));
	if (r < 0)
		return pt_err_set(err, r, "seccomp: set the bad-ABI action");
	r = add_allow_list(ctx, p, err);
	return r < 0 ? r : export_bpf(ctx, prog, err);
}

static int compile_deny(struct sock_fprog *prog, pt_err *err)
{
	static const unsigned long tty_cmds[] = { TIOCSTI, TIOCLINUX };
	_cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return pt_err_set(err, -ENOMEM, "seccomp_init");
	/* Other ABIs are the first filter's to refuse. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	/* The kernel takes the ioctl command as unsigned int: match the low
	 * 32 bits, or TIOCSTI | 1<<32 would pass. */
	for (size_t i = 0; r == 0 && i < 2; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, tty_cmds[i]));
	if (r < 0)
		return pt_err_set(err, r, "seccomp: ioctl deny rules");
	return export_bpf(ctx, prog, err);
}

int pt_seccomp_compile(const struct pt_seccomp_profile *profile,
		       struct pt_seccomp_bpf *ret, pt_err *err)
{
	static const struct pt_seccomp_profile none = { 0 };
	struct pt_seccomp_bpf bpf = PT_SECCOMP_BPF_INIT;
	int r;

	r = compile_allow(profile ? profile : &none, &bpf.prog[0], err);
	if (r == 0)
		r = compile_deny(&bpf.prog[1], err);
	if (r < 0) {
		pt_seccomp_bpf_free(&bpf);
		return r;
	}
	*ret = bpf;
	return 0;
}

void pt_seccomp_bpf_free(struct pt_seccomp_bpf *bpf)
{
	for (size_t i = 0; i < 2; i++) {
		free(bpf->prog[i].filter);
		bpf->prog[i].filter = NULL;
		bpf->prog[i].len = 0;
	}
}

size_t pt_seccomp_bpf_len(const struct pt_seccomp_bpf *bpf)
{
	return (size_t)bpf->prog[0].len + bpf->prog[1].len;
}

int pt_seccomp_load(const struct pt_seccomp_bpf *bpf, pt_err *err)
{
	/* Never run unfiltered by accident: an empty program is an error. */
	if (!bpf || !bpf->prog[0].len || !bpf->prog[1].len)
		return pt_err_set(err, -EINVAL, "load seccomp filter: no filter compiled");
	for (size_t i = 0; i < 2; i++)
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &bpf->prog[i], 0, 0) < 0)
			return pt_err_set(err, -errno, "load seccomp filter %zu", i + 1);
	return 0;
}

#include "confine.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <stdbool.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rlimits.h"

/* Docker's default set less NET_RAW (raw sockets: spoofing, sniffing),
 * MKNOD (useless in a user namespace) and AUDIT_WRITE. */
const int pt_confine_keep_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
	CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_SETFCAP, CAP_NET_BIND_SERVICE,
	CAP_SYS_CHROOT,
};
const unsigned pt_confine_n_keep_caps =
	sizeof(pt_confine_keep_caps) / sizeof(pt_confine_keep_caps[0]);

static bool kept(int cap)
{
	for (unsigned i = 0; i < pt_confine_n_keep_caps; i++)
		if (pt_confine_keep_caps[i] == cap)
			return true;
	return false;
}

static int drop_bounding(pt_err *err)
{
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (kept(cap))
			continue;
		/* EINVAL: a cap this kernel does not know; nothing to drop. */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return pt_err_set(err, -errno, "drop capability %d from the bounding set", cap);
	}
	return 0;
}

static int set_process_caps(pt_err *err)
{
	cap_t caps = cap_init(); /* all clear: inheritable stays empty */
	int r = 0;

	if (!caps)
		return pt_err_set(err, -errno, "cap_init");
	if (cap_set_flag(caps, CAP_EFFECTIVE, (int)pt_confine_n_keep_caps,
			 pt_confine_keep_caps, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_PERMITTED, (int)pt_confine_n_keep_caps,
			 pt_confine_keep_caps, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		r = pt_err_set(err, -errno, "set process capabilities");
	cap_free(caps);
	return r;
}

/* An anonymous session keyring of its own: the daemon's (the host's)
 * session keyring is never inherited by a tenant, and keys a tenant
 * process could create (it cannot: keyctl is filtered) would die with it. */
static int fresh_keyring(pt_err *err)
{
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0) < 0)
		return pt_err_set(err, -errno, "join a fresh session keyring");
	return 0;
}

/* A non-root user: the uid change itself clears permitted and effective
 * (no SECBIT_KEEP_CAPS); the empty cap set makes sure of it. */
static int become_user(const struct pt_user *u, pt_err *err)
{
	cap_t none;
	int r = 0;

	if (setgroups(0, NULL) < 0 || setresgid(u->gid, u->gid, u->gid) < 0)
		return pt_err_set(err, -errno, "set gid %u", u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return pt_err_set(err, -errno, "set uid %u", u->uid);
	none = cap_init();
	if (!none)
		return pt_err_set(err, -errno, "cap_init");
	if (cap_set_proc(none) < 0)
		r = pt_err_set(err, -errno, "clear capabilities of uid %u", u->uid);
	cap_free(none);
	return r;
}

void pt_confine_from_spec(struct pt_confine *c, const struct pt_spec *spec,
			  const struct pt_seccomp_bpf *bpf)
{
	c->user = spec->user;
	if (c->user.set && c->user.uid == 0 && c->user.gid == 0)
		c->user.set = false; /* "0:0" is the default root */
	c->rlimits = spec->rlimits;
	c->n_rlimits = spec->n_rlimits;
	c->seccomp = bpf;
	c->nice = 0;
}

/* Raising the nice value needs no privilege, so a child of the daemon
 * can always come down to the tenant's. */
int pt_confine_nice(const struct pt_confine *c, pt_err *err)
{
	if (setpriority(PRIO_PROCESS, 0, c->nice) < 0)
		return pt_err_set(err, -errno, "set nice %d", c->nice);
	return 0;
}

int pt_confine_apply(const struct pt_confine *c, pt_err *err)
{
	int r;

	r = pt_confine_nice(c, err);
	if (r == 0)
		r = fresh_keyring(err);
	if (r == 0)
		r = pt_rlimits_apply(c->rlimits, c->n_rlimits, err);
	/* The bounding set before the identity change: it needs CAP_SETPCAP,
	 * and limits what any later exec can ever regain. */
	if (r == 0)
		r = drop_bounding(err);
	if (r == 0)
		r = c->user.set ? become_user(&c->user, err) : set_process_caps(err);
	if (r == 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		r = pt_err_set(err, -errno, "clear ambient capabilities");
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = pt_err_set(err, -errno, "set no_new_privs");
	/* Last: the filter denies what the steps above needed. */
	if (r == 0)
		r = pt_seccomp_load(c->seccomp, err);
	return r;
}

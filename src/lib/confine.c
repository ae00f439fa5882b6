#include "confine.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/capability.h>
#include <sys/prctl.h>

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

int pt_confine_apply(pt_err *err)
{
	int r;

	/* The bounding set first: it needs CAP_SETPCAP, which we keep, and
	 * limits what any later exec can ever regain. */
	r = drop_bounding(err);
	if (r == 0)
		r = set_process_caps(err);
	if (r == 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		r = pt_err_set(err, -errno, "clear ambient capabilities");
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = pt_err_set(err, -errno, "set no_new_privs");
	return r;
}

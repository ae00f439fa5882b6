/* The cage of each tenant, from the daemon's side: the default seccomp
 * filter compiled once at startup, a tenant's own profile compiled once
 * (at create, or on first start after a daemon restart), the checks a
 * spec's confinement fields need against this host, and
 * `ptenant inspect --security`. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "daemon.h"
#include "rlimits.h"
#include "security-info.h"

int security_prepare(struct daemon *d, pt_err *err)
{
	int r = pt_seccomp_compile(NULL, &d->seccomp, err);

	if (r < 0)
		return pt_err_prefix(err, "compile the default seccomp profile");
	if (d->trace_spawn)
		fprintf(stderr, "ptenantd: default seccomp filter: %u + %u BPF instructions\n",
			d->seccomp.prog[0].len, d->seccomp.prog[1].len);
	return 0;
}

int security_check_spec(const struct pt_spec *spec, struct pt_seccomp_bpf *bpf,
			pt_err *err)
{
	int r = pt_rlimits_check(spec->rlimits, spec->n_rlimits, err);

	if (r < 0 || !spec->seccomp.set)
		return r;
	r = pt_seccomp_compile(&spec->seccomp, bpf, err);
	if (r < 0 && err) {
		char msg[PT_ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return pt_err_field(err, r, "seccomp_profile", "seccomp_profile: %s", msg);
	}
	return r;
}

int security_confine(struct daemon *d, struct tenant *t, struct pt_confine *c,
		     pt_err *err)
{
	const struct pt_seccomp_bpf *bpf = &d->seccomp;

	if (t->spec.seccomp.set) {
		if (!t->seccomp.prog[0].len &&
		    security_check_spec(&t->spec, &t->seccomp, err) < 0)
			return pt_err_prefix(err, "tenant %s", t->spec.slug);
		bpf = &t->seccomp;
	}
	pt_confine_from_spec(c, &t->spec, bpf);
	c->nice = d->tenant_nice;
	return 0;
}

void op_inspect_security(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);
	const char *slug = t ? t->spec.slug : NULL;
	json_t *info = NULL, *resp;

	if (!t) {
		conn_reply_error(d, c, &err);
		return;
	}
	if (t->phase != PHASE_RUNNING || t->proc.fd < 0) {
		pt_err_set(&err, -ESRCH, "tenant %s is %s, not running", slug,
			   tenant_phase_name(t->phase));
		conn_reply_error(d, c, &err);
		return;
	}
	if (pt_security_info(t->st.pid, t->proc.fd, &info, &err) < 0) {
		pt_err_prefix(&err, "tenant %s", slug);
		conn_reply_error(d, c, &err);
		return;
	}
	json_object_set_new(info, "seccomp_profile",
			    json_string(t->spec.seccomp.set ? "custom" : "default"));
	json_object_set_new(info, "seccomp_bpf_instructions",
			    json_integer((json_int_t)pt_seccomp_bpf_len(
				    t->spec.seccomp.set ? &t->seccomp : &d->seccomp)));
	resp = pt_api_ok_response();
	json_object_set_new(resp, "security", info);
	conn_reply(d, c, resp);
}

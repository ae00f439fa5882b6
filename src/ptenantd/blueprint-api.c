/* Blueprint versions: import, list (with the tenants on each), remove
 * (never one in use), and moving a tenant from one version to another
 * (ptenant update --blueprint). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "blueprint.h"
#include "daemon.h"
#include "fsutil.h"

static bool on_version(const struct tenant *t, const char *name, const char *version)
{
	return !strcmp(t->spec.blueprint_name, name) && !strcmp(t->spec.blueprint_version, version);
}

void blueprint_op_import(struct daemon *d, struct conn *c, json_t *req)
{
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1];
	const char *ref, *dir;
	pt_err err = { 0 };

	/* The daemon reads the directory as root: only root may name one. */
	if (!conn_is_root(c)) {
		pt_err_set(&err, -EPERM, "blueprint import is for root only");
		conn_reply_error(d, c, &err);
		return;
	}
	ref = req_string(req, "ref", &err);
	dir = ref ? req_string(req, "dir", &err) : NULL;
	if (!dir || pt_blueprint_ref_parse(ref, name, version, "ref", &err) < 0 ||
	    (dir[0] != '/' && pt_err_field(&err, -EINVAL, "dir", "dir must be an absolute path")) ||
	    pt_blueprint_import(d->cfg.state_dir, name, version, dir, &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	tenant_record(d, NULL, "blueprint-import", NULL, -1, ref);
	conn_reply(d, c, pt_api_ok_response());
}

void blueprint_op_ls(struct daemon *d, struct conn *c, json_t *req)
{
	pt_err err = { 0 };
	json_t *arr, *resp, *b;
	size_t i;

	(void)req;
	if (pt_blueprint_list(d->cfg.state_dir, &arr, &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	json_array_foreach(arr, i, b) {
		const char *name = json_string_value(json_object_get(b, "name"));
		const char *version = json_string_value(json_object_get(b, "version"));
		json_t *slugs = json_array();

		for (size_t k = 0; name && version && k < d->n_tenants; k++)
			if (on_version(d->tenants[k], name, version))
				json_array_append_new(slugs, json_string(d->tenants[k]->spec.slug));
		json_object_set_new(b, "tenants", slugs);
	}
	resp = pt_api_ok_response();
	json_object_set_new(resp, "blueprints", arr);
	conn_reply(d, c, resp);
}

/* Refused while any tenant, running or not, names the version: its next
 * start would find nothing. */
void blueprint_op_rm(struct daemon *d, struct conn *c, json_t *req)
{
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1], users[256] = "";
	char dir[600], gone[700];
	const char *ref;
	size_t n_users = 0;
	pt_err err = { 0 };

	if (!conn_is_root(c)) {
		pt_err_set(&err, -EPERM, "blueprint rm is for root only");
		goto fail;
	}
	ref = req_string(req, "ref", &err);
	if (!ref || pt_blueprint_ref_parse(ref, name, version, "ref", &err) < 0)
		goto fail;
	for (size_t k = 0; k < d->n_tenants; k++)
		if (on_version(d->tenants[k], name, version)) {
			if (n_users++ < 8)
				snprintf(users + strlen(users), sizeof(users) - strlen(users), "%s%s",
					 n_users > 1 ? ", " : "", d->tenants[k]->spec.slug);
		}
	if (n_users) {
		pt_err_field(&err, -EBUSY, "ref", "blueprint %s is used by %zu tenant(s): %s%s; move "
			     "them first (ptenant update SLUG --blueprint NAME@VERSION)", ref, n_users,
			     users, n_users > 8 ? ", ..." : "");
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s/blueprints/%s/%s", d->cfg.state_dir, name, version);
	snprintf(gone, sizeof(gone), "%s/blueprints/%s/.rm-%s", d->cfg.state_dir, name, version);
	/* One rename, then the removal: a crash in between leaves a
	 * directory no listing shows, removed by the next rm of it. */
	pt_rmtree_at(AT_FDCWD, gone, NULL);
	if (rename(dir, gone) < 0) {
		if (errno == ENOENT)
			pt_err_field(&err, -ENOENT, "ref", "blueprint %s is not imported", ref);
		else
			pt_err_set(&err, -errno, "rename %s", dir);
		goto fail;
	}
	if (pt_rmtree_at(AT_FDCWD, gone, &err) < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/blueprints/%s", d->cfg.state_dir, name);
	rmdir(dir); /* the name goes with its last version */
	tenant_record(d, NULL, "blueprint-rm", NULL, -1, ref);
	conn_reply(d, c, pt_api_ok_response());
	return;
fail:
	conn_reply_error(d, c, &err);
}

int tenant_move(struct daemon *d, struct tenant *t, const char *name, const char *version,
		struct conn *waiter, pt_err *err)
{
	struct pt_blueprint bp;
	char old[PT_BP_NAME_MAX + PT_BP_VERSION_MAX + 2], detail[300];
	int r;

	if (t->broken)
		return pt_err_set(err, -EBADMSG, "tenant %s cannot be loaded: %s", t->spec.slug,
				  t->last_error);
	if (on_version(t, name, version))
		return 0;
	/* Its restart would cancel the start and leave it stopped. */
	if (t->phase == PHASE_STARTING)
		return pt_err_set(err, -EBUSY, "tenant %s is starting; move it once it runs",
				  t->spec.slug);
	r = pt_blueprint_load(d->cfg.state_dir, name, version, &bp, err);
	if (r < 0)
		return pt_err_field(err, r, "blueprint", "blueprint %s@%s is not imported", name,
				    version);
	pt_blueprint_free(&bp);
	snprintf(old, sizeof(old), "%s@%s", t->spec.blueprint_name, t->spec.blueprint_version);
	snprintf(t->spec.blueprint_name, sizeof(t->spec.blueprint_name), "%s", name);
	snprintf(t->spec.blueprint_version, sizeof(t->spec.blueprint_version), "%s", version);
	r = tenant_save_spec(t, err);
	if (r < 0) {
		pt_blueprint_ref_parse(old, t->spec.blueprint_name, t->spec.blueprint_version, "ref",
				       NULL);
		return r;
	}
	/* Its parked next run was set up on the old version. */
	standby_drop(d, t, "blueprint changed");
	snprintf(detail, sizeof(detail), "blueprint %s -> %s@%s", old, name, version);
	tenant_record(d, t, "update", NULL, -1, detail);
	if (t->phase != PHASE_RUNNING && t->phase != PHASE_STARTING)
		return 0; /* stopped, asleep, backing off: the next start is on it */
	if (t->st.idle == PT_IDLE_FROZEN)
		return tenant_stop_to_sleep(d, t, waiter, err);
	t->restart_pending = true;
	r = tenant_stop(d, t, waiter, err);
	if (r <= 0)
		t->restart_pending = false;
	return r;
}

void blueprint_op_move(struct daemon *d, struct conn *c, json_t *req)
{
	char name[PT_BP_NAME_MAX + 1], version[PT_BP_VERSION_MAX + 1];
	pt_err err = { 0 };
	struct tenant *t = req_tenant(d, req, &err);
	const char *ref = t ? req_string(req, "blueprint", &err) : NULL;
	json_t *resp;
	int r;

	if (!ref || pt_blueprint_ref_parse(ref, name, version, "blueprint", &err) < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	r = tenant_move(d, t, name, version, c, &err);
	if (r < 0) {
		conn_reply_error(d, c, &err);
		return;
	}
	if (r > 0) {
		conn_defer(c); /* answered when it runs again (or sleeps) */
		return;
	}
	resp = pt_api_ok_response();
	json_object_set_new(resp, "tenant", tenant_summary(d, t));
	conn_reply(d, c, resp);
}

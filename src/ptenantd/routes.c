/* routes.json: the one thing ptenant-ingress(8) learns from the daemon.
 * The ingress parses untrusted HTTP, so it never gets the API socket; it
 * reads this world-readable file instead, which holds nothing a tenant's
 * visitor could not learn anyway (slug, address, port, state).
 *
 * Lifecycle code marks the table dirty; the loop writes it once per round
 * (routes_flush), so restoring 1,000 tenants is one write, not 1,000. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"
#include "daemon.h"
#include "fsutil.h"

#define ROUTES_JSON "routes.json"

void routes_changed(struct daemon *d)
{
	d->routes_dirty = true;
}

/* What the tenant's blueprint says (port, notify): read once from its
 * manifest (at the last start, or for a tenant adopted at daemon start). */
static void load_blueprint_facts(struct daemon *d, struct tenant *t)
{
	struct pt_blueprint bp;

	if (t->bp_loaded || t->broken)
		return;
	if (pt_blueprint_load(d->cfg.state_dir, t->spec.blueprint_name,
			      t->spec.blueprint_version, &bp, NULL) == 0) {
		t->bp_port = bp.port;
		t->bp_notify = bp.notify;
		t->bp_loaded = true;
		pt_blueprint_free(&bp);
	}
}

uint16_t routes_tenant_port(struct daemon *d, struct tenant *t)
{
	if (t->spec.port)
		return t->spec.port;
	load_blueprint_facts(d, t);
	return t->bp_port;
}

bool routes_tenant_notifies(struct daemon *d, struct tenant *t)
{
	load_blueprint_facts(d, t);
	return t->bp_notify;
}

static json_t *routes_build(struct daemon *d)
{
	json_t *routes = json_object();
	json_t *doc = json_pack("{s:i, s:o}", "version", 1, "routes", routes);

	for (size_t i = 0; doc && i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		uint16_t port = routes_tenant_port(d, t);
		char addr[PT_IPV4_STR];
		json_t *r;

		/* No networking or no port: nothing to route to. */
		if (!t->net.addr || !port)
			continue;
		pt_ipv4_format(t->net.addr, addr);
		r = json_pack("{s:s, s:i, s:s, s:I}", "address", addr, "port", (int)port,
			      "state", tenant_state_name(t),
			      "wake_timeout_ms", (json_int_t)idle_wake_timeout(d, t));
		if (!r || json_object_set_new(routes, t->spec.slug, r) < 0) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

static int routes_write(struct daemon *d, pt_err *err)
{
	json_t *doc = routes_build(d);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char path[sizeof(d->cfg.runtime_dir) + sizeof(ROUTES_JSON) + 1];
	int r;

	json_decref(doc);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format " ROUTES_JSON);
	snprintf(path, sizeof(path), "%s/" ROUTES_JSON, d->cfg.runtime_dir);
	/* 0644: the ingress runs as an unprivileged user. No fsync: the
	 * runtime directory does not outlive a reboot, the daemon writes the
	 * table again at start, and an fsync here was 1-5 ms of a loop round
	 * while many tenants started. */
	r = pt_write_file_atomic_flags(AT_FDCWD, path, text, strlen(text), 0644,
				       PT_WRITE_NO_SYNC, err);
	free(text);
	return r;
}

void routes_flush(struct daemon *d)
{
	pt_err err = { 0 };

	if (!d->routes_dirty || !d->cfg.net.enabled)
		return;
	/* Stays dirty on failure: the next round tries again. */
	if (routes_write(d, &err) < 0)
		fprintf(stderr, "ptenantd: write routes: %s\n", err.msg);
	else
		d->routes_dirty = false;
}

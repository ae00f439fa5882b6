/* Blueprints: the shared, read-only bot code every tenant runs.
 *
 * <state_dir>/blueprints/<name>/<version>/{manifest.json,rootfs/}
 * One copy on disk for all tenants; tenants see it through an idmapped
 * mount, so it is never chowned or copied per tenant. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "ptenant/spec.h"

struct json_t;

struct pt_blueprint {
	char name[PT_BP_NAME_MAX + 1];
	char version[PT_BP_VERSION_MAX + 1];
	char dir[512];           /* .../blueprints/<name>/<version> */
	char rootfs[576];        /* dir + "/rootfs" */
	char **entrypoint;       /* NULL-terminated */
	char **args;             /* NULL-terminated, may be empty */
	struct pt_kv *env;
	size_t n_env;
	uint16_t port;
	/* Its bot says READY=1 on NOTIFY_SOCKET once it serves: a wake waits
	 * for that rather than for its port to accept. */
	bool notify;
	/* From an OCI image (ptenant-import): the manifest's digest, the
	 * source named at import, and the config's WorkingDir and User
	 * ("uid:gid"); "" when not from an image or not set. */
	char image_digest[72];
	char image_source[256];
	char workdir[256];
	char user[32];
	/* Disk space of the stored rootfs, measured at import (0: imported
	 * before sizes were recorded). */
	uint64_t size_bytes;
};

/* Parses a manifest.json text (name, version, entrypoint, args, port,
 * env). Errors name the field. */
int pt_blueprint_parse_manifest(const char *text, size_t len,
				struct pt_blueprint *ret, pt_err *err);

/* Loads blueprints/<name>/<version>; -ENOENT names the missing ref. */
int pt_blueprint_load(const char *state_dir, const char *name,
		      const char *version, struct pt_blueprint *ret, pt_err *err);

/* Copies src_dir ({manifest.json,rootfs/}) in as name@version: into a
 * temp dir, then one rename, so a failed import leaves nothing behind.
 * -EEXIST if that version exists: versions are immutable. */
int pt_blueprint_import(const char *state_dir, const char *name,
			const char *version, const char *src_dir, pt_err *err);

/* JSON array of {"name","version","entrypoint","port"[,"digest"][,"size_bytes"]}
 * of every version. */
int pt_blueprint_list(const char *state_dir, struct json_t **ret, pt_err *err);

void pt_blueprint_free(struct pt_blueprint *bp);

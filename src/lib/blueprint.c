#include "blueprint.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"

#define MANIFEST_MAX (256 * 1024)

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int parse_strv(json_t *arr, const char *field, int need_abs,
		      char ***ret, pt_err *err)
{
	size_t n = json_array_size(arr);
	char **v;

	if (!json_is_array(arr))
		return pt_err_field(err, -EINVAL, field, "%s: expected an array of strings", field);
	if (n > PT_ARGV_MAX)
		return pt_err_field(err, -EINVAL, field, "%s: more than %d entries", field, PT_ARGV_MAX);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
			strv_free(v);
			return pt_err_field(err, -EINVAL, field, "%s[%zu]: expected a string without NUL", field, i);
		}
		v[i] = strdup(json_string_value(e));
		if (!v[i]) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	if (need_abs && (n == 0 || v[0][0] != '/')) {
		strv_free(v);
		return pt_err_field(err, -EINVAL, field, "%s: must start with an absolute path", field);
	}
	*ret = v;
	return 0;
}

static int parse_env(json_t *obj, struct pt_blueprint *bp, pt_err *err)
{
	const char *key;
	json_t *val;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return pt_err_field(err, -EINVAL, "env", "env: expected an object");
	bp->env = calloc(json_object_size(obj) + 1, sizeof(*bp->env));
	if (!bp->env)
		return -ENOMEM;
	json_object_foreach(obj, key, val) {
		struct pt_kv *kv = &bp->env[bp->n_env];
		int r = pt_env_key_validate(key, "env", err);

		if (r < 0)
			return r;
		if (!json_is_string(val))
			return pt_err_field(err, -EINVAL, "env", "env.%s: expected a string", key);
		kv->key = strdup(key);
		kv->value = strdup(json_string_value(val));
		bp->n_env++;
		if (!kv->key || !kv->value)
			return -ENOMEM;
	}
	return 0;
}

/* "image": {"digest", "source", "workdir", "user"}, each optional. */
static int parse_image(json_t *img, struct pt_blueprint *bp, pt_err *err)
{
	static const struct {
		const char *key;
		size_t off, size;
	} fields[] = {
		{ "digest", offsetof(struct pt_blueprint, image_digest), sizeof(bp->image_digest) },
		{ "source", offsetof(struct pt_blueprint, image_source), sizeof(bp->image_source) },
		{ "workdir", offsetof(struct pt_blueprint, workdir), sizeof(bp->workdir) },
		{ "user", offsetof(struct pt_blueprint, user), sizeof(bp->user) },
	};

	if (!img)
		return 0;
	if (!json_is_object(img))
		return pt_err_field(err, -EINVAL, "image", "image: expected an object");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(img, fields[i].key);

		if (!v)
			continue;
		if (!json_is_string(v) || strlen(json_string_value(v)) >= fields[i].size)
			return pt_err_field(err, -EINVAL, "image", "image.%s: expected a string shorter "
					    "than %zu bytes", fields[i].key, fields[i].size);
		memcpy((char *)bp + fields[i].off, json_string_value(v), strlen(json_string_value(v)) + 1);
	}
	if (bp->workdir[0] && bp->workdir[0] != '/')
		return pt_err_field(err, -EINVAL, "image", "image.workdir: expected an absolute path");
	if (bp->user[0]) {
		unsigned uid, gid;
		char end;

		if (sscanf(bp->user, "%u:%u%c", &uid, &gid, &end) != 2 || uid > 65535 || gid > 65535)
			return pt_err_field(err, -EINVAL, "image", "image.user: expected UID:GID "
					    "(0..65535)");
	}
	return 0;
}

static int parse_fields(json_t *root, struct pt_blueprint *bp, pt_err *err)
{
	json_t *port = json_object_get(root, "port");
	json_t *args = json_object_get(root, "args");
	int r;

	r = parse_strv(json_object_get(root, "entrypoint"), "entrypoint", 1,
		       &bp->entrypoint, err);
	if (r == 0)
		r = args ? parse_strv(args, "args", 0, &bp->args, err)
			 : (bp->args = calloc(1, sizeof(char *))) ? 0 : -ENOMEM;
	if (r == 0 && port) {
		if (!json_is_integer(port) || json_integer_value(port) < 1 ||
		    json_integer_value(port) > 65535)
			return pt_err_field(err, -EINVAL, "port", "port: expected an integer 1..65535");
		bp->port = (uint16_t)json_integer_value(port);
	}
	if (r == 0)
		r = parse_env(json_object_get(root, "env"), bp, err);
	if (r == 0)
		r = parse_image(json_object_get(root, "image"), bp, err);
	if (r == 0 && json_object_get(root, "notify")) {
		if (!json_is_boolean(json_object_get(root, "notify")))
			return pt_err_field(err, -EINVAL, "notify", "notify: expected true or false");
		bp->notify = json_is_true(json_object_get(root, "notify"));
	}
	if (r == 0 && json_object_get(root, "size_bytes")) {
		json_t *size = json_object_get(root, "size_bytes");

		if (!json_is_integer(size) || json_integer_value(size) < 0)
			return pt_err_field(err, -EINVAL, "size_bytes",
					    "size_bytes: expected a non-negative integer");
		bp->size_bytes = (uint64_t)json_integer_value(size);
	}
	return r;
}

int pt_blueprint_parse_manifest(const char *text, size_t len,
				struct pt_blueprint *ret, pt_err *err)
{
	struct pt_blueprint bp = { 0 };
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return pt_err_field(err, -EINVAL, "", "manifest.json:%d:%d: %s",
				    jerr.line, jerr.column, jerr.text);
	r = json_is_object(root) ? parse_fields(root, &bp, err)
				 : pt_err_field(err, -EINVAL, "", "manifest.json: expected an object");
	json_decref(root);
	if (r < 0) {
		pt_blueprint_free(&bp);
		return r == -ENOMEM ? pt_err_set(err, r, "parse manifest") : r;
	}
	*ret = bp;
	return 0;
}

int pt_blueprint_load(const char *state_dir, const char *name,
		      const char *version, struct pt_blueprint *ret, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	struct pt_blueprint bp;
	char dir[512], path[600];
	size_t len;
	int r;

	snprintf(dir, sizeof(dir), "%s/blueprints/%s/%s", state_dir, name, version);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	r = pt_read_file(AT_FDCWD, path, MANIFEST_MAX, &text, &len, err);
	if (r == -ENOENT)
		return pt_err_set(err, -ENOENT, "blueprint %s@%s is not imported", name, version);
	if (r < 0)
		return r;
	r = pt_blueprint_parse_manifest(text, len, &bp, err);
	if (r < 0)
		return pt_err_prefix(err, "blueprint %s@%s", name, version);
	snprintf(bp.name, sizeof(bp.name), "%s", name);
	snprintf(bp.version, sizeof(bp.version), "%s", version);
	snprintf(bp.dir, sizeof(bp.dir), "%s", dir);
	snprintf(bp.rootfs, sizeof(bp.rootfs), "%s/rootfs", dir);
	*ret = bp;
	return 0;
}

void pt_blueprint_free(struct pt_blueprint *bp)
{
	strv_free(bp->entrypoint);
	strv_free(bp->args);
	for (size_t i = 0; i < bp->n_env; i++) {
		free(bp->env[i].key);
		free(bp->env[i].value);
	}
	free(bp->env);
	bp->entrypoint = bp->args = NULL;
	bp->env = NULL;
	bp->n_env = 0;
}

static int write_manifest(const char *dir, const struct pt_blueprint *bp,
			  pt_err *err)
{
	_cleanup_close_ int dfd = -1;
	json_t *m = json_object(), *env = json_object();
	json_t *entry = json_array(), *args = json_array();
	char *text;
	int r;

	for (size_t i = 0; bp->entrypoint[i]; i++)
		json_array_append_new(entry, json_string(bp->entrypoint[i]));
	for (size_t i = 0; bp->args[i]; i++)
		json_array_append_new(args, json_string(bp->args[i]));
	for (size_t i = 0; i < bp->n_env; i++)
		json_object_set_new(env, bp->env[i].key, json_string(bp->env[i].value));
	json_object_set_new(m, "name", json_string(bp->name));
	json_object_set_new(m, "version", json_string(bp->version));
	json_object_set_new(m, "entrypoint", entry);
	json_object_set_new(m, "args", args);
	if (bp->port)
		json_object_set_new(m, "port", json_integer(bp->port));
	if (bp->notify)
		json_object_set_new(m, "notify", json_true());
	json_object_set_new(m, "env", env);
	if (bp->size_bytes)
		json_object_set_new(m, "size_bytes", json_integer((json_int_t)bp->size_bytes));
	if (bp->image_digest[0] || bp->workdir[0] || bp->user[0]) {
		json_t *img = json_object();

		if (bp->image_digest[0])
			json_object_set_new(img, "digest", json_string(bp->image_digest));
		if (bp->image_source[0])
			json_object_set_new(img, "source", json_string(bp->image_source));
		if (bp->workdir[0])
			json_object_set_new(img, "workdir", json_string(bp->workdir));
		if (bp->user[0])
			json_object_set_new(img, "user", json_string(bp->user));
		json_object_set_new(m, "image", img);
	}
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(m);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format manifest");
	dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	r = dfd < 0 ? pt_err_set(err, -errno, "open %s", dir)
		    : pt_write_file_atomic(dfd, "manifest.json", text, strlen(text), 0644, err);
	free(text);
	return r;
}

static int import_into(const char *tmp, const char *src_dir,
		       struct pt_blueprint *bp, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	char path[1024];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/manifest.json", src_dir);
	r = pt_read_file(AT_FDCWD, path, MANIFEST_MAX, &text, &len, err);
	if (r < 0)
		return r;
	{
		struct pt_blueprint parsed;

		r = pt_blueprint_parse_manifest(text, len, &parsed, err);
		if (r < 0)
			return pt_err_prefix(err, "%s", path);
		/* NAME@VERSION of the import wins over what the manifest says. */
		memcpy(parsed.name, bp->name, sizeof(parsed.name));
		memcpy(parsed.version, bp->version, sizeof(parsed.version));
		*bp = parsed;
	}
	if (mkdir(tmp, 0755) < 0)
		return pt_err_set(err, -errno, "mkdir %s", tmp);
	snprintf(path, sizeof(path), "%s/rootfs", src_dir);
	{
		char dst[1024];

		snprintf(dst, sizeof(dst), "%s/rootfs", tmp);
		r = pt_copy_tree(path, dst, err);
		/* Measured on the copy, as it lies on this disk. */
		if (r == 0)
			r = pt_disk_usage(dst, &bp->size_bytes, err);
	}
	return r < 0 ? r : write_manifest(tmp, bp, err);
}

int pt_blueprint_import(const char *state_dir, const char *name,
			const char *version, const char *src_dir, pt_err *err)
{
	struct pt_blueprint bp = { 0 };
	char parent[512], tmp[640], final[640];
	int r;

	snprintf(parent, sizeof(parent), "%s/blueprints/%s", state_dir, name);
	snprintf(final, sizeof(final), "%s/%s", parent, version);
	snprintf(tmp, sizeof(tmp), "%s/.import-%s.%d", parent, version, (int)getpid());
	if (access(final, F_OK) == 0)
		return pt_err_set(err, -EEXIST, "blueprint %s@%s exists; versions are immutable, import a new version",
				  name, version);
	r = pt_mkdir_p(parent, 0755, err);
	if (r < 0)
		return r;
	snprintf(bp.name, sizeof(bp.name), "%s", name);
	snprintf(bp.version, sizeof(bp.version), "%s", version);
	r = import_into(tmp, src_dir, &bp, err);
	if (r == 0 && rename(tmp, final) < 0)
		r = pt_err_set(err, errno == ENOTEMPTY ? -EEXIST : -errno, "rename %s to %s", tmp, final);
	if (r < 0)
		pt_rmtree_at(AT_FDCWD, tmp, NULL);
	pt_blueprint_free(&bp);
	return r;
}

static json_t *describe(const char *state_dir, const char *name, const char *version)
{
	struct pt_blueprint bp;
	json_t *o;

	if (pt_blueprint_load(state_dir, name, version, &bp, NULL) < 0)
		return NULL;
	o = json_pack("{s:s, s:s, s:s, s:i}", "name", name, "version", version,
		      "entrypoint", bp.entrypoint[0], "port", bp.port);
	if (o && bp.image_digest[0])
		json_object_set_new(o, "digest", json_string(bp.image_digest));
	if (o && bp.size_bytes)
		json_object_set_new(o, "size_bytes", json_integer((json_int_t)bp.size_bytes));
	pt_blueprint_free(&bp);
	return o;
}

int pt_blueprint_list(const char *state_dir, json_t **ret, pt_err *err)
{
	_cleanup_closedir_ DIR *top = NULL;
	json_t *arr = json_array();
	struct dirent *de;
	char path[512];

	snprintf(path, sizeof(path), "%s/blueprints", state_dir);
	top = opendir(path);
	if (!top && errno != ENOENT) {
		json_decref(arr);
		return pt_err_set(err, -errno, "open %s", path);
	}
	while (top && (de = readdir(top))) {
		_cleanup_closedir_ DIR *versions = NULL;
		struct dirent *ve;
		char vpath[800];

		if (de->d_name[0] == '.')
			continue;
		snprintf(vpath, sizeof(vpath), "%s/%s", path, de->d_name);
		versions = opendir(vpath);
		while (versions && (ve = readdir(versions))) {
			json_t *o;

			if (ve->d_name[0] == '.')
				continue;
			o = describe(state_dir, de->d_name, ve->d_name);
			if (o)
				json_array_append_new(arr, o);
		}
	}
	*ret = arr;
	return 0;
}

/* ptenant-import: an OCI image (a layout directory, or an oci-archive
 * file) made into a blueprint directory: rootfs/ from its layers, and a
 * manifest.json from its config. See ptenant-blueprint(5), OCI IMAGES.
 *
 * Images are untrusted input handled as root (files keep their owners),
 * so this runs as a process of its own, not in ptenantd: it opens the
 * source and the destination, then keeps only the capabilities that
 * writing a tree with its owners needs, with no_new_privs. Every blob is
 * verified against its digest before it is read; every entry is checked
 * before it is written (oci-layer.c). On any error the destination is
 * removed: nothing is left behind. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "config-build.h"
#include "fsutil.h"
#include "oci-image.h"
#include "oci-layer.h"

#define DEFAULT_MAX_ENTRIES 500000
#define DEFAULT_MAX_BYTES (8ULL << 30)

struct source {
	char path[4096];
	const char *tag;             /* NULL: the only image */
	bool archive;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ptenant-import [OPTION]... oci:DIR[:TAG]|oci-archive:FILE[:TAG] DEST\n"
		"Make the OCI image into a blueprint directory DEST (rootfs/, manifest.json).\n\n"
		"      --max-entries N  refuse an image of more entries (default 500000)\n"
		"      --max-bytes N    refuse an image of more bytes of files (default 8 GiB)\n"
		"  -h, --help           this help\n"
		"      --version        print the version\n\n"
		"On success one JSON line on stdout: digest, layers, entries, bytes.\n"
		"Exit status: 0 done, 1 refused or failed (DEST removed), 2 bad usage.\n");
}

/* oci:DIR[:TAG] or oci-archive:FILE[:TAG]: the tag is what follows the
 * last ':' after the last '/'. */
static int parse_source(const char *arg, struct source *s)
{
	const char *rest;
	char *colon, *slash;

	if (!strncmp(arg, "oci:", 4))
		rest = arg + 4;
	else if (!strncmp(arg, "oci-archive:", 12))
		rest = arg + 12, s->archive = true;
	else
		return -1;
	if (!rest[0] || snprintf(s->path, sizeof(s->path), "%s", rest) >= (int)sizeof(s->path))
		return -1;
	slash = strrchr(s->path, '/');
	colon = strrchr(slash ? slash : s->path, ':');
	if (colon) {
		*colon = '\0';
		s->tag = colon + 1;
		if (!s->tag[0])
			return -1;
	}
	return 0;
}

/* What an image needs to be written with its owners and modes; nothing
 * more, and no way to gain anything by exec. */
static int confine(void)
{
	cap_value_t keep[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
			       CAP_FSETID };
	cap_t caps = cap_init();
	int r = -1;

	if (caps && cap_set_flag(caps, CAP_PERMITTED, 5, keep, CAP_SET) == 0 &&
	    cap_set_flag(caps, CAP_EFFECTIVE, 5, keep, CAP_SET) == 0 &&
	    (geteuid() != 0 || cap_set_proc(caps) == 0) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		r = 0;
	cap_free(caps);
	return r;
}

/* A file of the image's rootfs, read inside it (its links resolved as the
 * tenant would see them, never outside). */
static char *read_in_root(int root, const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	char *text = NULL;
	size_t len;

	if (fd < 0 || pt_read_fd(fd, 1 << 20, &text, &len) < 0)
		return NULL;
	return text;
}

/* name (or a number) in an /etc/passwd or /etc/group text: its id. */
static int lookup_id(const char *text, const char *name, unsigned *id)
{
	char *end;
	unsigned long v = strtoul(name, &end, 10);
	size_t n = strlen(name);

	if (name[0] && !*end && v <= 65535) {
		*id = (unsigned)v;
		return 0;
	}
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *f = strchr(l, ':'), *g;

		if (!f || (size_t)(f - l) != n || strncmp(l, name, n))
			continue;
		g = strchr(f + 1, ':');
		if (!g)
			return -1;
		v = strtoul(g + 1, &end, 10);
		if (end == g + 1 || *end != ':' || v > 65535)
			return -1;
		*id = (unsigned)v;
		return 0;
	}
	return -1;
}

/* A passwd line whose uid (3rd field) is uid. */
static bool line_uid_is(const char *l, unsigned uid)
{
	const char *f = strchr(l, ':');

	f = f ? strchr(f + 1, ':') : NULL;
	return f && strtoul(f + 1, NULL, 10) == uid && f[1] >= '0' && f[1] <= '9';
}

/* Config.User: "user", "uid", "user:group", "uid:gid", resolved in the
 * image's own /etc/passwd and /etc/group into "uid:gid". */
static int resolve_user(int root, const char *user, char *out, size_t n, pt_err *err)
{
	_cleanup_free_ char *passwd = read_in_root(root, "etc/passwd");
	_cleanup_free_ char *group = read_in_root(root, "etc/group");
	char u[256], *colon;
	unsigned uid, gid = 0;

	snprintf(u, sizeof(u), "%s", user);
	colon = strchr(u, ':');
	if (colon)
		*colon = '\0';
	if (lookup_id(passwd, u, &uid) < 0)
		return pt_err_field(err, -EINVAL, "", "config User %s: no user %s in the image's "
				    "/etc/passwd", user, u);
	if (colon && lookup_id(group, colon + 1, &gid) < 0)
		return pt_err_field(err, -EINVAL, "", "config User %s: no group %s in the image's "
				    "/etc/group", user, colon + 1);
	if (!colon && passwd) { /* the user's own group: its passwd line's 4th field */
		char key[300];
		const char *l;

		snprintf(key, sizeof(key), "%s:", u);
		for (l = passwd; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			const char *f = l;

			if (strncmp(l, key, strlen(key)) && !(isdigit((unsigned char)u[0]) &&
							       line_uid_is(l, uid)))
				continue;
			for (int i = 0; i < 3 && f; i++)
				f = strchr(f, ':') ? strchr(f, ':') + 1 : NULL;
			gid = f ? (unsigned)strtoul(f, NULL, 10) : 0;
			break;
		}
	}
	snprintf(out, n, "%u:%u", uid, gid > 65535 ? 0 : gid);
	return 0;
}

/* The image config's process: Entrypoint (else Cmd's first word) runs,
 * with Cmd (else the rest of Cmd) as its arguments. */
static int process(json_t *cfg, json_t *m, pt_err *err)
{
	json_t *ep = json_object_get(cfg, "Entrypoint"), *cmd = json_object_get(cfg, "Cmd");
	json_t *entry = json_array(), *args = json_array(), *v;
	size_t i;

	if ((ep && !json_is_array(ep) && !json_is_null(ep)) ||
	    (cmd && !json_is_array(cmd) && !json_is_null(cmd)))
		goto bad;
	json_array_foreach(ep, i, v) {
		if (!json_is_string(v))
			goto bad;
		json_array_append(entry, v);
	}
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v))
			goto bad;
		json_array_append(json_array_size(entry) ? args : entry, v);
	}
	if (!json_array_size(entry)) {
		json_decref(entry);
		json_decref(args);
		return pt_err_field(err, -EINVAL, "", "the image config has neither Entrypoint nor Cmd: "
				    "nothing to run");
	}
	json_object_set_new(m, "entrypoint", entry);
	json_object_set_new(m, "args", args);
	return 0;
bad:
	json_decref(entry);
	json_decref(args);
	return pt_err_field(err, -EINVAL, "", "the image config's Entrypoint and Cmd must be "
			    "arrays of strings");
}

static int environment(json_t *cfg, json_t *m, pt_err *err)
{
	json_t *env = json_object(), *v;
	size_t i;

	json_array_foreach(json_object_get(cfg, "Env"), i, v) {
		const char *kv = json_string_value(v), *eq = kv ? strchr(kv, '=') : NULL;
		char key[256];

		if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
			json_decref(env);
			return pt_err_field(err, -EINVAL, "", "the image config's Env[%zu] is not KEY=VALUE",
					    i);
		}
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		json_object_set_new(env, key, json_string(eq + 1));
	}
	json_object_set_new(m, "env", env);
	return 0;
}

/* ExposedPorts {"8080/tcp": {}}: the lowest TCP port is the bot's. */
static void exposed_port(json_t *cfg, json_t *m)
{
	const char *key;
	json_t *v;
	long best = 0;

	json_object_foreach(json_object_get(cfg, "ExposedPorts"), key, v) {
		char *end;
		long p = strtol(key, &end, 10);

		if (p >= 1 && p <= 65535 && (!*end || !strcmp(end, "/tcp")) && (!best || p < best))
			best = p;
	}
	if (best)
		json_object_set_new(m, "port", json_integer(best));
}

/* manifest.json of the blueprint, from the image config. */
static int write_blueprint_manifest(int dest, int root, const struct pt_oci_image *img,
				    const char *source, pt_err *err)
{
	json_t *cfg = json_object_get(img->config_json, "config"), *m = json_object();
	json_t *image = json_object();
	const char *user = json_string_value(json_object_get(cfg, "User"));
	const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
	char ids[32];
	char *text;
	int r;

	r = process(cfg, m, err);
	if (r == 0)
		r = environment(cfg, m, err);
	if (r == 0 && user && user[0]) {
		r = resolve_user(root, user, ids, sizeof(ids), err);
		json_object_set_new(image, "user", json_string(ids));
	}
	if (r == 0 && wd && wd[0] && (wd[0] != '/' || strlen(wd) > 255))
		r = pt_err_field(err, -EINVAL, "", "the image config's WorkingDir %.100s is not an "
				 "absolute path of at most 255 bytes", wd);
	if (r < 0) {
		json_decref(m);
		json_decref(image);
		return r;
	}
	exposed_port(cfg, m);
	if (wd && wd[0])
		json_object_set_new(image, "workdir", json_string(wd));
	json_object_set_new(image, "digest", json_string(img->manifest_digest));
	json_object_set_new(image, "source", json_string(source));
	json_object_set_new(m, "image", image);
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(m);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format manifest.json");
	r = pt_write_file_atomic(dest, "manifest.json", text, strlen(text), 0644, err);
	free(text);
	return r;
}

static int apply_layers(int layout, int root, const struct pt_oci_image *img,
			const struct pt_layer_limits *limits, struct pt_layer_stats *stats,
			pt_err *err)
{
	for (size_t i = 0; i < img->n_layers; i++) {
		_cleanup_close_ int fd = -1;
		char what[64];

		snprintf(what, sizeof(what), "layer %zu (%.19s)", i + 1, img->layers[i].digest);
		fd = pt_oci_blob_open(layout, &img->layers[i], err);
		if (fd < 0)
			return pt_err_prefix(err, "%s", what), fd;
		if (pt_layer_apply(root, fd, what, limits, stats, err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int import(const struct source *src, const char *arg, int dest,
		  const struct pt_layer_limits *limits, pt_err *err)
{
	struct pt_layer_stats stats = { 0 };
	struct pt_oci_image img;
	_cleanup_close_ int layout = -1, root = -1;
	int r;

	if (src->archive) {
		_cleanup_close_ int file = open(src->path, O_RDONLY | O_CLOEXEC);

		if (file < 0)
			return pt_err_set(err, -errno, "open %s", src->path);
		if (mkdirat(dest, ".oci", 0700) < 0)
			return pt_err_set(err, -errno, "make a place to unpack %s", src->path);
		layout = openat(dest, ".oci", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (layout < 0)
			return pt_err_set(err, -errno, "open it");
		r = pt_oci_archive_unpack(file, layout, limits->max_bytes, err);
		if (r < 0)
			return r;
	} else {
		layout = open(src->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (layout < 0)
			return pt_err_set(err, -errno, "open the OCI layout %s", src->path);
	}
	if (confine() < 0)
		return pt_err_set(err, -errno, "drop capabilities");
	r = pt_oci_open(layout, src->tag, &img, err);
	if (r < 0)
		return r;
	if (mkdirat(dest, "rootfs", 0755) < 0 ||
	    (root = openat(dest, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = pt_err_set(err, -errno, "make rootfs");
	if (r == 0)
		r = apply_layers(layout, root, &img, limits, &stats, err);
	if (r == 0)
		r = write_blueprint_manifest(dest, root, &img, arg, err);
	if (r == 0 && src->archive)
		pt_rmtree_at(dest, ".oci", NULL);
	if (r == 0)
		printf("{\"digest\":\"%s\",\"layers\":%zu,\"entries\":%llu,\"bytes\":%llu,"
		       "\"whiteouts\":%llu}\n", img.manifest_digest, img.n_layers,
		       (unsigned long long)stats.entries, (unsigned long long)stats.bytes,
		       (unsigned long long)stats.whiteouts);
	pt_oci_close(&img);
	return r;
}

static int number(const char *opt, const char *arg, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || end == arg || v == 0 || arg[0] == '-') {
		fprintf(stderr, "ptenant-import: --%s %s: want a positive number\n", opt, arg);
		return -1;
	}
	*ret = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "max-entries", required_argument, NULL, 'E' },
		{ "max-bytes", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct pt_layer_limits limits = { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_BYTES };
	struct source src = { 0 };
	_cleanup_close_ int dest = -1;
	pt_err err = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'E': if (number("max-entries", optarg, &limits.max_entries) < 0) return 2; break;
		case 'B': if (number("max-bytes", optarg, &limits.max_bytes) < 0) return 2; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ptenant-import %s\n", PTENANT_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || parse_source(argv[optind], &src) < 0) {
		if (argc - optind == 2)
			fprintf(stderr, "ptenant-import: %s: want oci:DIR[:TAG] or oci-archive:FILE[:TAG]\n",
				argv[optind]);
		usage(stderr);
		return 2;
	}
	if (mkdir(argv[optind + 1], 0755) < 0) {
		fprintf(stderr, "ptenant-import: make %s: %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}
	dest = open(argv[optind + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dest < 0 || import(&src, argv[optind], dest, &limits, &err) < 0) {
		fprintf(stderr, "ptenant-import: %s: %s\n", argv[optind],
			dest < 0 ? strerror(errno) : err.msg);
		pt_rmtree_at(AT_FDCWD, argv[optind + 1], NULL);
		return 1;
	}
	return 0;
}

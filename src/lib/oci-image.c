/* An OCI image layout, read and verified; see oci-image.h. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "oci-image.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define REF_NAME "org.opencontainers.image.ref.name"

int pt_oci_digest_valid(const char *d)
{
	if (strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return 0;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* sha256 of what fd holds from its start, and its size. */
static int sha256_fd(int fd, char out[PT_OCI_DIGEST_MAX + 1], uint64_t *size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], buf[65536];
	unsigned int len = 0;
	ssize_t n;
	int r = 0;

	*size = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	if (n < 0)
		r = -errno;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return r;
}

int pt_oci_blob_open(int dirfd, const struct pt_oci_layer *blob, pt_err *err)
{
	_cleanup_close_ int fd = -1;
	char path[100], got[PT_OCI_DIGEST_MAX + 1];
	struct stat st;
	uint64_t size;
	int r;

	if (!pt_oci_digest_valid(blob->digest))
		return pt_err_field(err, -EINVAL, "", "blob digest %.80s: not sha256:<64 hex>",
				    blob->digest);
	snprintf(path, sizeof(path), "blobs/sha256/%s", blob->digest + 7);
	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return pt_err_set(err, -errno, "blob %s", blob->digest);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return pt_err_field(err, -EINVAL, "", "blob %s: not a regular file", blob->digest);
	if ((uint64_t)st.st_size != blob->size)
		return pt_err_field(err, -EINVAL, "", "blob %s: %lld bytes, its descriptor says %llu",
				    blob->digest, (long long)st.st_size,
				    (unsigned long long)blob->size);
	r = sha256_fd(fd, got, &size);
	if (r < 0)
		return pt_err_set(err, r, "read blob %s", blob->digest);
	if (strcmp(got, blob->digest))
		return pt_err_field(err, -EINVAL, "", "blob %s: its content has digest %s: "
				    "corrupt or tampered with", blob->digest, got);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return pt_err_set(err, -errno, "rewind blob %s", blob->digest);
	return TAKE_FD(fd);
}

/* A descriptor: digest and size, checked. */
static int descriptor(json_t *d, const char *what, struct pt_oci_layer *ret, pt_err *err)
{
	json_t *digest = json_object_get(d, "digest"), *size = json_object_get(d, "size");

	if (!json_is_object(d) || !json_is_string(digest) || !json_is_integer(size) ||
	    json_integer_value(size) < 0)
		return pt_err_field(err, -EINVAL, "", "%s: a descriptor needs digest and size", what);
	if (!pt_oci_digest_valid(json_string_value(digest)))
		return pt_err_field(err, -EINVAL, "", "%s: digest %.80s is not sha256:<64 hex>", what,
				    json_string_value(digest));
	snprintf(ret->digest, sizeof(ret->digest), "%s", json_string_value(digest));
	ret->size = (uint64_t)json_integer_value(size);
	return 0;
}

/* A JSON blob, verified and parsed. */
static int load_json(int dirfd, const struct pt_oci_layer *blob, const char *what, json_t **ret,
		     pt_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	size_t len;
	int r;

	if (blob->size > PT_OCI_JSON_MAX)
		return pt_err_field(err, -EFBIG, "", "%s %s: larger than %d bytes", what, blob->digest,
				    PT_OCI_JSON_MAX);
	fd = pt_oci_blob_open(dirfd, blob, err);
	if (fd < 0)
		return pt_err_prefix(err, "%s", what), fd;
	r = pt_read_fd(fd, PT_OCI_JSON_MAX, &text, &len);
	if (r < 0)
		return pt_err_set(err, r, "read %s %s", what, blob->digest);
	*ret = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*ret || !json_is_object(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		return pt_err_field(err, -EINVAL, "", "%s %s: not a JSON object (%s)", what,
				    blob->digest, jerr.text);
	}
	return 0;
}

/* index.json's entry for tag (or the only one). */
static int pick(json_t *manifests, const char *tag, json_t **ret, pt_err *err)
{
	char tags[256] = "";
	size_t i, n = json_array_size(manifests);
	json_t *m;

	if (!n)
		return pt_err_field(err, -EINVAL, "", "index.json lists no image");
	if (!tag) {
		if (n == 1) {
			*ret = json_array_get(manifests, 0);
			return 0;
		}
	}
	json_array_foreach(manifests, i, m) {
		json_t *name = json_object_get(json_object_get(m, "annotations"), REF_NAME);

		if (json_is_string(name) && tag && !strcmp(json_string_value(name), tag)) {
			*ret = m;
			return 0;
		}
		if (json_is_string(name) && strlen(tags) + strlen(json_string_value(name)) + 3 < sizeof(tags))
			snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%s%s",
				 tags[0] ? ", " : "", json_string_value(name));
	}
	return pt_err_field(err, -ENOENT, "", "%s: the layout's tags are: %s",
			    tag ? "no image with that tag" : "several images: name one with :TAG",
			    tags[0] ? tags : "(none)");
}

/* An image index: its linux/amd64 image. */
static json_t *platform_entry(json_t *index)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, m) {
		json_t *p = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));

		if (os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64"))
			return m;
	}
	return NULL;
}

static int read_manifest(int dirfd, json_t *desc, struct pt_oci_image *img, pt_err *err)
{
	struct pt_oci_layer blob;
	json_t *manifest = NULL, *layers, *l;
	size_t i;
	int r;

	for (int depth = 0;; depth++) {
		const char *mt;

		r = descriptor(desc, "image manifest", &blob, err);
		if (r == 0)
			r = load_json(dirfd, &blob, "image manifest", &manifest, err);
		if (r < 0)
			return r;
		mt = json_string_value(json_object_get(manifest, "mediaType"));
		if (!mt || (strcmp(mt, MT_INDEX) && strcmp(mt, MT_DOCKER_LIST)))
			break;
		if (depth)
			break;
		desc = platform_entry(manifest);
		if (!desc) {
			json_decref(manifest);
			return pt_err_field(err, -ENOENT, "", "the image index %s has no linux/amd64 image",
					    blob.digest);
		}
		desc = json_incref(desc);
		json_decref(manifest);
		manifest = NULL;
		r = descriptor(desc, "image manifest", &blob, err);
		json_decref(desc);
		if (r < 0)
			return r;
		r = load_json(dirfd, &blob, "image manifest", &manifest, err);
		if (r < 0)
			return r;
		break;
	}
	memcpy(img->manifest_digest, blob.digest, sizeof(blob.digest));
	r = descriptor(json_object_get(manifest, "config"), "config", &img->config, err);
	layers = json_object_get(manifest, "layers");
	if (r == 0 && !json_is_array(layers))
		r = pt_err_field(err, -EINVAL, "", "manifest %s: no layers array", blob.digest);
	if (r == 0 && json_array_size(layers) > PT_OCI_LAYERS_MAX)
		r = pt_err_field(err, -E2BIG, "", "manifest %s: more than %d layers", blob.digest,
				 PT_OCI_LAYERS_MAX);
	json_array_foreach(layers, i, l) {
		char what[32];

		if (r < 0)
			break;
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		r = descriptor(l, what, &img->layers[i], err);
		img->n_layers = i + 1;
	}
	json_decref(manifest);
	return r;
}

int pt_oci_open(int dirfd, const char *tag, struct pt_oci_image *ret, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	json_t *index, *desc = NULL;
	size_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = pt_read_file(dirfd, "index.json", PT_OCI_JSON_MAX, &text, &len, err);
	if (r < 0)
		return pt_err_prefix(err, "not an OCI image layout"), r;
	index = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!index || !json_is_array(json_object_get(index, "manifests"))) {
		json_decref(index);
		return pt_err_field(err, -EINVAL, "", "index.json: not an image index (%s)",
				    index ? "no manifests array" : jerr.text);
	}
	r = pick(json_object_get(index, "manifests"), tag, &desc, err);
	if (r == 0)
		r = read_manifest(dirfd, desc, ret, err);
	json_decref(index);
	if (r == 0)
		r = load_json(dirfd, &ret->config, "image config", &ret->config_json, err);
	if (r < 0)
		pt_oci_close(ret);
	return r;
}

void pt_oci_close(struct pt_oci_image *img)
{
	json_decref(img->config_json);
	img->config_json = NULL;
}

static bool archive_member(const char *path)
{
	const char *p = path;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!strcmp(p, "index.json") || !strcmp(p, "oci-layout"))
		return true;
	if (strncmp(p, "blobs/sha256/", 13) || strlen(p) != 13 + 64)
		return false;
	for (p += 13; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int pt_oci_archive_unpack(int archive_fd, int dirfd, uint64_t max_bytes, pt_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	uint64_t total = 0;
	int s, r = 0;

	if (!a)
		return pt_err_set(err, -ENOMEM, "libarchive");
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_fd(a, archive_fd, 64 * 1024) != ARCHIVE_OK) {
		r = pt_err_field(err, -EINVAL, "", "oci-archive: not a tar: %s", archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	if (mkdirat(dirfd, "blobs", 0700) < 0 || mkdirat(dirfd, "blobs/sha256", 0700) < 0) {
		archive_read_free(a);
		return pt_err_set(err, -errno, "oci-archive: make blobs/sha256");
	}
	while (r == 0 && (s = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		_cleanup_close_ int fd = -1;
		const void *buf;
		size_t size;
		la_int64_t off;

		if (!path || archive_entry_filetype(e) != AE_IFREG || !archive_member(path))
			continue;
		while (path[0] == '.' && path[1] == '/')
			path += 2;
		total += (uint64_t)(archive_entry_size(e) > 0 ? archive_entry_size(e) : 0);
		if (total > max_bytes) {
			r = pt_err_field(err, -EFBIG, "", "oci-archive: more than %llu bytes",
					 (unsigned long long)max_bytes);
			break;
		}
		fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = pt_err_set(err, -errno, "oci-archive: %s", path);
			break;
		}
		while ((s = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
			if (pwrite(fd, buf, size, off) != (ssize_t)size) {
				r = pt_err_set(err, -errno, "oci-archive: write %s", path);
				break;
			}
		if (r == 0 && s != ARCHIVE_EOF)
			r = pt_err_field(err, -EINVAL, "", "oci-archive: %s: %s", path,
					 archive_error_string(a));
	}
	archive_read_free(a);
	return r;
}

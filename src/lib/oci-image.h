/* An OCI image layout (what `skopeo copy ... oci:DIR:TAG` and umoci
 * write), read and checked: index.json to the image's manifest, its
 * config and layers, every blob's size and sha256 verified before use.
 * See ptenant-blueprint(5), OCI IMAGES. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PT_OCI_LAYERS_MAX 128
#define PT_OCI_DIGEST_MAX 71            /* "sha256:" + 64 hex */
#define PT_OCI_JSON_MAX (4 * 1024 * 1024) /* index, manifest, config */

struct pt_oci_layer {
	char digest[PT_OCI_DIGEST_MAX + 1];
	uint64_t size;
};

struct pt_oci_image {
	char manifest_digest[PT_OCI_DIGEST_MAX + 1];
	struct pt_oci_layer config;
	struct pt_oci_layer layers[PT_OCI_LAYERS_MAX];
	size_t n_layers;
	struct json_t *config_json;       /* the image config, parsed */
};

/* Finds the image tagged tag (org.opencontainers.image.ref.name), or the
 * only one when tag is NULL, in the layout at dirfd; an image index in
 * between is followed to its linux/amd64 entry. */
int pt_oci_open(int dirfd, const char *tag, struct pt_oci_image *ret, pt_err *err);
void pt_oci_close(struct pt_oci_image *img);

/* The blob, opened and verified (size, sha256): a fd at its start. */
int pt_oci_blob_open(int dirfd, const struct pt_oci_layer *blob, pt_err *err);

/* An oci-archive (a tar of a layout) unpacked into the empty directory
 * dirfd: index.json, oci-layout and blobs/sha256/<hex> only, regular
 * files only; anything else in it is ignored. */
int pt_oci_archive_unpack(int archive_fd, int dirfd, uint64_t max_bytes, pt_err *err);

/* "sha256:<64 lower-case hex>" and nothing else. */
int pt_oci_digest_valid(const char *digest);

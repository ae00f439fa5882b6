/* One OCI image layer applied onto a root directory: a tar stream
 * (plain, gzip or zstd), read with libarchive, written by us entry by
 * entry, so every entry is checked before anything is written and every
 * write stays inside the root. See ptenant-blueprint(5), OCI IMAGES. */
#pragma once

#include <stdint.h>

#include "error.h"

struct pt_layer_limits {
	uint64_t max_entries;        /* over all layers */
	uint64_t max_bytes;          /* file contents, over all layers */
};

struct pt_layer_stats {
	uint64_t entries, bytes;     /* so far, over all layers */
	uint64_t whiteouts;
};

/* Applies the layer in the file layer_fd (read from its start) onto the
 * directory root_fd: whiteouts first (".wh.NAME" removes NAME,
 * ".wh..wh..opq" empties its directory of what lower layers put there),
 * then the entries. Refused, naming the entry: an absolute path or a ".."
 * component, a path through a symlink (one an earlier layer planted
 * included), a hard link to a path that is not a regular file in the
 * root, a device node or a FIFO, a whiteout of the root or of "." or "..", a uid
 * or gid above 65535, and going over limits. what names the layer in
 * messages ("layer 2 (sha256:0123abcd...)"). */
int pt_layer_apply(int root_fd, int layer_fd, const char *what,
		   const struct pt_layer_limits *limits, struct pt_layer_stats *stats,
		   pt_err *err);

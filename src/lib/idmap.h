/* Host uid/gid ranges: each tenant owns 65536 host ids that no other
 * tenant shares, so tenant root is an unprivileged, unique host uid. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define PT_IDMAP_RANGE 65536u

/* Picks the lowest free range: `used` holds the first host uid of every
 * range already owned (any order). Returns 0 and *ret_host_uid, or
 * -ENOSPC when all `ranges` ranges above `base` are taken. */
int pt_idmap_pick(const uint32_t *used, size_t n_used, uint32_t base,
		  uint32_t ranges, uint32_t *ret_host_uid, pt_err *err);

/* Is host_uid the start of a range of this base (a corrupt state file
 * could name any number)? */
int pt_idmap_valid(uint32_t host_uid, uint32_t base, uint32_t ranges);

/* Formats "0 <host_uid> 65536\n" into buf. */
int pt_idmap_format(uint32_t host_uid, char *buf, size_t size);

/* Writes uid_map and gid_map of pid (a child in a new user namespace,
 * stopped at its first sync point) mapping 0..65535 to the tenant's
 * range. Done by the privileged parent: an unprivileged child could only
 * map itself. */
int pt_idmap_write(pid_t pid, uint32_t host_uid, pt_err *err);

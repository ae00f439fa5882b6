/* The confinement fields of a tenant spec (user, rlimits,
 * seccomp_profile), kept apart from spec.c so that file stays one
 * concern: the grammar of names and resources. */
#pragma once

#include <jansson.h>

#include "ptenant/spec.h"

/* Returns 1 when `key` is not a confinement field, else 0 or -errno. */
int pt_spec_confine_field(const char *key, json_t *v, struct pt_spec *s, pt_err *err);
/* Adds the set confinement fields to `o`; -ENOMEM on failure. */
int pt_spec_confine_to_json(const struct pt_spec *s, json_t *o);
void pt_spec_confine_free(struct pt_spec *s);

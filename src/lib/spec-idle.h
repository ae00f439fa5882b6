/* The spec's "idle" block: when a tenant nobody uses is frozen, when it
 * is stopped to sleep, and how long a wake may take. Kept apart from
 * spec.c like the confinement fields. */
#pragma once

#include <jansson.h>

#include "ptenant/spec.h"

/* "idle": {...}; the value of the key. 0 or -EINVAL naming idle.FIELD. */
int pt_spec_idle_parse(json_t *v, struct pt_idle *ret, pt_err *err);
/* Cross-field rules (stop_after longer than freeze_after). */
int pt_spec_idle_check(const struct pt_idle *idle, pt_err *err);
/* Adds "idle" to o when any stage is set; -ENOMEM on failure. */
int pt_spec_idle_to_json(const struct pt_idle *idle, json_t *o);

/* The spec's "health" block: how the daemon checks that a running tenant
 * serves. Kept apart from spec.c like the idle and confinement fields. */
#pragma once

#include <jansson.h>

#include "ptenant/spec.h"

/* "health": {...}; the value of the key. 0 or -EINVAL naming health.FIELD
 * (-ENOMEM when out of memory). */
int pt_spec_health_parse(json_t *v, struct pt_health *ret, pt_err *err);
/* Adds "health" to o when a kind is set; -ENOMEM on failure. */
int pt_spec_health_to_json(const struct pt_health *h, json_t *o);
void pt_spec_health_free(struct pt_health *h);

/* The values in force: the spec's, or the defaults. */
uint64_t pt_health_interval(const struct pt_health *h);
uint64_t pt_health_timeout(const struct pt_health *h);
uint32_t pt_health_retries(const struct pt_health *h);
const char *pt_health_kind_name(enum pt_health_kind k);

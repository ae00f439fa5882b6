/* One error convention for all of ptenant.
 *
 * Library functions return 0 (or a non-negative value) on success and a
 * negative errno on failure. Where the caller needs to know more than the
 * errno (which path, which field, which tenant), the function also takes a
 * `pt_err *` and fills it; the pointer may be NULL. Library code never logs:
 * the daemon and the CLI log once, at the boundary, from the pt_err.
 *
 * The message reads as "<what was attempted> <on what>: <strerror>", e.g.
 * "mount overlay on /var/lib/ptenant/tenants/acme/root: Invalid argument". */
#pragma once

#include <stddef.h>

#define PT_ERR_MSG_MAX 512
#define PT_ERR_FIELD_MAX 64

typedef struct pt_err {
	int code;                      /* negative errno, 0 when unset */
	char field[PT_ERR_FIELD_MAX];  /* spec/API field at fault, or "" */
	char msg[PT_ERR_MSG_MAX];
} pt_err;

/* Records the error and returns `code`, so callers can write
 * `return pt_err_set(err, -errno, "open %s", path);`. When code is a
 * negative errno the strerror text is appended. */
int pt_err_set(pt_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, naming the field at fault (spec validation, API requests). The
 * errno text is not appended: the message itself says what is wrong. */
int pt_err_field(pt_err *err, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* pt_err_field with -EINVAL: the spec and profile parsers' "this field is
 * wrong, and here is how". */
int pt_err_invalid(pt_err *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with context ("tenant acme: ..."). */
int pt_err_prefix(pt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void pt_err_clear(pt_err *err);

/* A stable machine-readable name for the API ("invalid", "not_found",
 * "exists", "busy", "permission", "io", ...) derived from the errno. */
const char *pt_err_kind(int code);

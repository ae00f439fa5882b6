#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Formats into a local buffer first: callers may pass err->msg itself
 * as an argument ("prefix: %s", err->msg), which must not overlap. */
static void vformat(pt_err *err, int code, int with_errno, const char *fmt,
		    va_list ap)
{
	char buf[PT_ERR_MSG_MAX];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		n = 0;
	if (with_errno && code < 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(-code));
	err->code = code;
	memcpy(err->msg, buf, sizeof(err->msg));
}

int pt_err_set(pt_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->field[0] = '\0';
	va_start(ap, fmt);
	vformat(err, code, 1, fmt, ap);
	va_end(ap);
	return code;
}

int pt_err_field(pt_err *err, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vformat(err, code, 0, fmt, ap);
	va_end(ap);
	if (field != err->field)
		snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	return code;
}

int pt_err_invalid(pt_err *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	va_start(ap, fmt);
	vformat(err, -EINVAL, 0, fmt, ap);
	va_end(ap);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	return -EINVAL;
}

int pt_err_prefix(pt_err *err, const char *fmt, ...)
{
	char prefix[PT_ERR_MSG_MAX];
	char old[PT_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return 0;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return err->code;
}

void pt_err_clear(pt_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->field[0] = '\0';
	err->msg[0] = '\0';
}

const char *pt_err_kind(int code)
{
	switch (-code) {
	case EINVAL:
	case E2BIG:
	case ERANGE:
	case EBADMSG:
		return "invalid";
	case ENOENT:
	case ESRCH:
		return "not_found";
	case EEXIST:
		return "exists";
	case EBUSY:
	case EALREADY:
		return "busy";
	case EPERM:
	case EACCES:
		return "permission";
	case ENOSPC:
	case EDQUOT:
		return "exhausted";
	default:
		return "io";
	}
}

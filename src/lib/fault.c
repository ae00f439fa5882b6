#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum fault_action { FAULT_NONE, FAULT_ERRNO, FAULT_KILL, FAULT_HANG };

static struct {
	enum fault_action action;
	int code;              /* negative errno for FAULT_ERRNO */
	unsigned nth, hits;
	int announce_fd;
	char point[64];
	char action_text[24];
} fault = { .announce_fd = -1 };

static const struct {
	const char *name;
	int code;
} errno_names[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO },
	{ "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EBUSY", EBUSY },
	{ "EEXIST", EEXIST }, { "ENODEV", ENODEV }, { "EINVAL", EINVAL },
	{ "EMFILE", EMFILE }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS },
	{ "EAGAIN", EAGAIN }, { "ETIMEDOUT", ETIMEDOUT }, { "EDQUOT", EDQUOT },
	{ "ENOBUFS", ENOBUFS }, { "EINTR", EINTR },
};

static int parse_action(const char *s, pt_err *err)
{
	char *end;
	long n;

	if (strcmp(s, "kill") == 0 || strcmp(s, "hang") == 0) {
		fault.action = s[0] == 'k' ? FAULT_KILL : FAULT_HANG;
		return 0;
	}
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (strcmp(s, errno_names[i].name) == 0) {
			fault.action = FAULT_ERRNO;
			fault.code = -errno_names[i].code;
			return 0;
		}
	errno = 0;
	n = strtol(s, &end, 10);
	if (s[0] && !*end && errno == 0 && n > 0 && n < 4096) {
		fault.action = FAULT_ERRNO;
		fault.code = -(int)n;
		return 0;
	}
	return pt_err_field(err, -EINVAL, "PTENANT_FAULT",
			    "PTENANT_FAULT: action '%s' is not kill, hang, an errno name "
			    "(EIO, ENOSPC, ...) or an errno number", s);
}

int pt_fault_setup(const char *spec, pt_err *err)
{
	char buf[128], *colon, *at;

	memset(&fault, 0, sizeof(fault));
	fault.announce_fd = -1;
	if (!spec || !spec[0])
		return 0;
	if (!PT_FAULT_INJECTION)
		return pt_err_field(err, -EOPNOTSUPP, "PTENANT_FAULT",
				    "PTENANT_FAULT is set, but this ptenantd is built without "
				    "fault injection (meson -Dfault_injection=true)");
	if (strlen(spec) >= sizeof(buf))
		return pt_err_field(err, -EINVAL, "PTENANT_FAULT", "PTENANT_FAULT is too long");
	strcpy(buf, spec);
	/* The last colon: trace steps have colons of their own
	 * ("c4-bind-dev:/dev/null"). */
	colon = strrchr(buf, ':');
	if (!colon || colon == buf || (size_t)(colon - buf) >= sizeof(fault.point))
		return pt_err_field(err, -EINVAL, "PTENANT_FAULT",
				    "PTENANT_FAULT '%s' is not POINT:ACTION[@N]", spec);
	*colon = '\0';
	fault.nth = 1;
	at = strchr(colon + 1, '@');
	/* Where the announcement goes even after a tenant's child has made
	 * its stdio the tenant's log (it stays open until its exec). */
	fault.announce_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 100);
	if (at) {
		char *end;
		long n;

		*at = '\0';
		errno = 0;
		n = strtol(at + 1, &end, 10);
		if (!at[1] || *end || errno || n < 1 || n > 1000000)
			return pt_err_field(err, -EINVAL, "PTENANT_FAULT",
					    "PTENANT_FAULT: '@%s' is not a count from 1", at + 1);
		fault.nth = (unsigned)n;
	}
	snprintf(fault.point, sizeof(fault.point), "%s", buf);
	snprintf(fault.action_text, sizeof(fault.action_text), "%s", colon + 1);
	return parse_action(colon + 1, err);
}

bool pt_fault_armed(void)
{
	return fault.action != FAULT_NONE;
}

int pt_fault_announce_fd(void)
{
	return fault.action != FAULT_NONE ? fault.announce_fd : -1;
}

static _Noreturn void die_here(const char *name)
{
	/* SIGKILL to itself from inside its pid namespace does not end a
	 * namespace's init; exiting is as abrupt (no cleanup of ours runs). */
	if (getpid() == 1)
		_exit(137);
	(void)name;
	raise(SIGKILL);
	_exit(137);
}

/* Whether this reach of `name` is the one the test asked for. */
static bool fires(const char *name)
{
	if (fault.action == FAULT_NONE || strcmp(name, fault.point) != 0)
		return false;
	return ++fault.hits == fault.nth;
}

static void announce(const char *name)
{
	dprintf(fault.announce_fd >= 0 ? fault.announce_fd : STDERR_FILENO,
		"ptenantd: PTENANT_FAULT: fired at %s (%s, pid %d)\n", name, fault.action_text,
		(int)getpid());
}

int pt_fault_hit(const char *name)
{
	if (!fires(name))
		return 0;
	announce(name);
	switch (fault.action) {
	case FAULT_ERRNO:
		return fault.code;
	case FAULT_KILL:
		die_here(name);
	case FAULT_HANG:
		for (;;)
			pause();
	case FAULT_NONE:
		break;
	}
	return 0;
}

void pt_fault_step(const char *name)
{
	if (fault.action == FAULT_KILL || fault.action == FAULT_HANG)
		(void)pt_fault_hit(name);
}

#if PT_FAULT_INJECTION
/* Weak: a program with no point at all links too (and lists none). */
extern const struct pt_fault_point __start_pt_fault_points[] __attribute__((weak));
extern const struct pt_fault_point __stop_pt_fault_points[] __attribute__((weak));

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void pt_fault_list(FILE *out)
{
	size_t n = __start_pt_fault_points
			   ? (size_t)(__stop_pt_fault_points - __start_pt_fault_points) : 0;
	const char **names = calloc(n + 1, sizeof(*names));

	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		names[i] = __start_pt_fault_points[i].name;
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
			fprintf(out, "%s\n", names[i]);
	free(names);
}
#else
void pt_fault_list(FILE *out)
{
	(void)out;
}
#endif

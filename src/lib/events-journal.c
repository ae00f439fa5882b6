/* The incident journal's second reader: journald.
 *
 * Each record becomes one structured entry, with fields an operator can
 * filter by (journalctl -u ptenantd PTENANT_TENANT=acme). A field whose
 * value is unknown is left out rather than sent empty, so "has a reason"
 * and "has no reason" stay distinguishable. Under systemd the daemon's
 * stderr is the journal too; ptenantd then drops its plain stderr line
 * for the event (pt_journal_owns_stderr), so each event is logged once. */
#include "events.h"

#include "config-build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#if HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

static bool is(const char *s, const char *what)
{
	return s && strcmp(s, what) == 0;
}

int pt_event_priority(const struct pt_event *ev)
{
	if (is(ev->event, "crash-loop") || is(ev->event, "rm-failed") ||
	    is(ev->event, "state-save-failed") ||
	    is(ev->reason, "oom-killed") || is(ev->reason, "spawn-failed"))
		return LOG_ERR;
	/* Output being dropped is worth a look, not an alarm. */
	if (is(ev->event, "log-limited") || is(ev->event, "unhealthy"))
		return LOG_WARNING;
	/* An exit nobody asked for; "stopped" is the operator's own stop. */
	if (is(ev->event, "exit") && !(is(ev->reason, "exit") && ev->code == 0))
		return LOG_WARNING;
	return LOG_INFO;
}

static int add(char **fields, size_t max, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add(char **fields, size_t max, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n >= max)
		return -E2BIG;
	va_start(ap, fmt);
	r = vasprintf(&fields[*n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		fields[*n] = NULL;
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

int pt_event_journal_fields(const struct pt_event *ev, char **fields, size_t max)
{
	size_t n = 0;
	int r;

	r = add(fields, max, &n, "MESSAGE=%s%s%s%s%s%s", ev->tenant ? "tenant " : "",
		ev->tenant ? ev->tenant : "", ev->tenant ? ": " : "", ev->event,
		ev->message ? ": " : "", ev->message ? ev->message : "");
	if (r == 0)
		r = add(fields, max, &n, "PRIORITY=%d", pt_event_priority(ev));
	if (r == 0)
		r = add(fields, max, &n, "PTENANT_EVENT=%s", ev->event);
	if (r == 0 && ev->tenant && ev->tenant[0])
		r = add(fields, max, &n, "PTENANT_TENANT=%s", ev->tenant);
	if (r == 0 && ev->reason && ev->reason[0])
		r = add(fields, max, &n, "PTENANT_REASON=%s", ev->reason);
	if (r == 0 && ev->code >= 0 && is(ev->reason, "exit"))
		r = add(fields, max, &n, "PTENANT_EXIT_CODE=%d", ev->code);
	if (r == 0 && ev->code >= 0 && (is(ev->reason, "signal") || is(ev->reason, "oom-killed")))
		r = add(fields, max, &n, "PTENANT_SIGNAL=%d", ev->code);
	if (r < 0) {
		pt_event_journal_fields_free(fields, n);
		return r;
	}
	return (int)n;
}

void pt_event_journal_fields_free(char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(fields[i]);
		fields[i] = NULL;
	}
}

void pt_events_journal_send(const struct pt_event *ev)
{
#if HAVE_LIBSYSTEMD
	char *fields[PT_EVENT_JOURNAL_FIELDS_MAX];
	struct iovec iov[PT_EVENT_JOURNAL_FIELDS_MAX];
	int n = pt_event_journal_fields(ev, fields, PT_EVENT_JOURNAL_FIELDS_MAX);

	if (n < 0)
		return;
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ .iov_base = fields[i], .iov_len = strlen(fields[i]) };
	/* Best effort: journald may not run, and events.jsonl is the record. */
	(void)sd_journal_sendv(iov, n);
	pt_event_journal_fields_free(fields, (size_t)n);
#else
	(void)ev;
#endif
}

bool pt_journal_owns_stderr(void)
{
#if HAVE_LIBSYSTEMD
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=DEV:INO of the stream it connected;
	 * a redirected stderr keeps the variable but not the stream. */
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
#else
	return false;
#endif
}

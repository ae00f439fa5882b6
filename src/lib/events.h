/* The incident journal: one JSON object per line in events.jsonl.
 *
 * {"time":"2026-12-02T06:29:36.769Z","ts":1796192976769,"tenant":"acme",
 *  "event":"exit","reason":"signal","code":9,"message":"killed by signal 9 (Killed)"}
 *
 * Appends are a single write(2) of a whole line on an O_APPEND fd, so
 * concurrent readers never see a torn record and a crash loses at most
 * the line being written. Also sent to journald when it runs. */
#pragma once

#include "calendar.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct json_t;

struct pt_event {
	uint64_t ts_ms;
	const char *tenant;      /* slug, or NULL for daemon events */
	const char *event;       /* "exit", "respawn", "crash-loop", "create", ... */
	const char *reason;      /* "exit", "signal", "oom-killed", ... or NULL */
	int code;                /* exit code / signal, -1 when none */
	const char *message;     /* free text, or NULL */
	/* For an exit: the last lines of the tenant's log before it died
	 * (the tenant's own bytes, made valid UTF-8), or NULL. */
	const char *log_tail;
};

#define PT_EVENT_LOG_TAIL_MAX 400

/* What a read keeps: records of that tenant, of that kind, from that
 * time; NULL or 0 for any. */
struct pt_events_filter {
	const char *tenant;
	const char *kind;
	uint64_t since_ms;
};

/* Appends one record to fd (opened O_WRONLY|O_APPEND|O_CLOEXEC). */
int pt_events_append(int fd, const struct pt_event *ev, pt_err *err);

/* Reads the journal at path and returns a JSON array of the last `max`
 * records (all if max == 0), those of `tenant` only when non-NULL. Lines
 * that do not parse are skipped (a torn last line after a crash). */
int pt_events_read(const char *path, const char *tenant, size_t max,
		   struct json_t **ret_array, pt_err *err);
/* The same from byte offset `from` of the file up to its last whole line
 * (a line being written is left for the next read), with a filter;
 * *ret_next is where the next read starts (for `events -f`). An offset
 * past the end (a new file) reads from the start. */
int pt_events_read_from(const char *path, const struct pt_events_filter *filter,
			uint64_t from, size_t max, struct json_t **ret_array,
			uint64_t *ret_next, pt_err *err);

/* journald (events-journal.c). The syslog priority of a record: err for
 * crash-loop, rm-failed, oom-killed and spawn-failed, warning for any
 * other exit that is not a clean exit 0, info otherwise (a stop the
 * operator asked for included). */
int pt_event_priority(const struct pt_event *ev);

/* The record as journal fields "KEY=value" (malloc'd, at most max):
 * MESSAGE, PRIORITY, PTENANT_EVENT, and when known PTENANT_TENANT,
 * PTENANT_REASON, PTENANT_EXIT_CODE (reason exit) or PTENANT_SIGNAL
 * (reason signal or oom-killed). Returns the count or a negative errno. */
#define PT_EVENT_JOURNAL_FIELDS_MAX 8
int pt_event_journal_fields(const struct pt_event *ev, char **fields, size_t max);
void pt_event_journal_fields_free(char **fields, size_t n);

/* Sends the record to journald (best effort; a no-op without libsystemd). */
void pt_events_journal_send(const struct pt_event *ev);

/* True when stderr is the journal stream systemd connected (JOURNAL_STREAM):
 * then the structured entry is the log line, and a plain one would double it. */
bool pt_journal_owns_stderr(void);


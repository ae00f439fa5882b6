/* Step timings of a tenant start, for `ptenantd --trace-spawn`.
 *
 * A pt_trace is a small fixed array of (step, CLOCK_MONOTONIC ns) marks.
 * The daemon marks its own steps; the spawned child marks each setup step
 * in its own copy (clone3 without CLONE_VM) and sends the array to the
 * parent over the sync socket right before exec, so the child's steps are
 * timed on the same clock without the child ever writing to the daemon's
 * stderr. Every function is a no-op on a NULL or disabled trace, so the
 * untraced path pays one branch per step.
 *
 * Printed form, one line per step, whitespace-separated and stable:
 *   trace-spawn SLUG STEP MS ms
 * STEP has no spaces; MS is the time since the previous mark of the same
 * side (daemon or child), in milliseconds with three decimals. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PT_TRACE_MAX 128 /* a start marks ~70 steps with every mask */
#define PT_TRACE_STEP_MAX 40

struct pt_trace_mark {
	char step[PT_TRACE_STEP_MAX];
	uint64_t ns;
};

struct pt_trace {
	bool on;
	uint32_t n;
	uint64_t start_ns;       /* the mark the first step is measured from */
	struct pt_trace_mark marks[PT_TRACE_MAX];
};

uint64_t pt_trace_now_ns(void);
/* Starts an enabled (on) or disabled trace at the current time. */
void pt_trace_init(struct pt_trace *t, bool on);
/* Records the end of STEP; a step name longer than PT_TRACE_STEP_MAX-1 is
 * cut, spaces become '-'. Marks beyond PT_TRACE_MAX are dropped. */
void pt_trace_mark(struct pt_trace *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints every mark as a "trace-spawn" line, each relative to the one
 * before (the first to start_ns). */
void pt_trace_print(const struct pt_trace *t, const char *slug, FILE *out);

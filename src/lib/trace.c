#include "trace.h"

#include "fault.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

uint64_t pt_trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pt_trace_init(struct pt_trace *t, bool on)
{
	t->on = on;
	t->n = 0;
	t->start_ns = on ? pt_trace_now_ns() : 0;
}

void pt_trace_mark(struct pt_trace *t, const char *fmt, ...)
{
	struct pt_trace_mark *m, scratch;
	bool traced = t && t->on && t->n < PT_TRACE_MAX;
	va_list ap;

	if (!traced && !pt_fault_armed())
		return;
	m = traced ? &t->marks[t->n++] : &scratch;
	m->ns = pt_trace_now_ns();
	va_start(ap, fmt);
	vsnprintf(m->step, sizeof(m->step), fmt, ap);
	va_end(ap);
	for (char *p = m->step; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '\n')
			*p = '-';
	/* A test's kill or hang at this step; no-op unless one is armed. */
	pt_fault_step(m->step);
}

void pt_trace_print(const struct pt_trace *t, const char *slug, FILE *out)
{
	uint64_t prev;

	if (!t || !t->on)
		return;
	prev = t->start_ns;
	for (uint32_t i = 0; i < t->n && i < PT_TRACE_MAX; i++) {
		const struct pt_trace_mark *m = &t->marks[i];
		uint64_t d = m->ns >= prev ? m->ns - prev : 0;

		fprintf(out, "trace-spawn %s %s %.3f ms\n", slug,
			m->step[0] ? m->step : "?", (double)d / 1e6);
		prev = m->ns;
	}
}

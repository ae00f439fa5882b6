/* See metrics-text.h. */
#include "metrics-text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pt_text_printf(struct pt_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->buf && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap ? t->cap * 2 : 4096;
			char *nb;

			while (cap - t->len <= (size_t)n)
				cap *= 2;
			nb = realloc(t->buf, cap);
			if (!nb) {
				t->oom = true;
				return;
			}
			t->buf = nb;
			t->cap = cap;
		}
	}
}

void pt_text_free(struct pt_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

void pt_metric_header(struct pt_text *t, const char *name, const char *type, const char *help)
{
	pt_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pt_histogram_init(struct pt_histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n = n < PT_HIST_BUCKETS_MAX ? n : PT_HIST_BUCKETS_MAX;
}

void pt_histogram_observe(struct pt_histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n && v > h->bounds[i])
		i++;
	if (i < h->n)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

void pt_histogram_render_series(struct pt_text *t, const char *name, const char *labels,
				const struct pt_histogram *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < h->n; i++) {
		cum += h->counts[i];
		pt_text_printf(t, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, h->bounds[i],
			       (unsigned long long)cum);
	}
	pt_text_printf(t, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
		       name, labels, (unsigned long long)h->count, name, labels, h->sum, name,
		       labels, (unsigned long long)h->count);
}

void pt_histogram_render(struct pt_text *t, const char *name, const char *help,
			 const struct pt_histogram *h)
{
	uint64_t cum = 0;

	pt_metric_header(t, name, "histogram", help);
	for (size_t i = 0; i < h->n; i++) {
		cum += h->counts[i];
		pt_text_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
			       (unsigned long long)cum);
	}
	pt_text_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
		       (unsigned long long)h->count, name, h->sum, name,
		       (unsigned long long)h->count);
}

static bool starts(const char *buf, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(buf, prefix, n) == 0;
}

enum pt_metrics_route pt_metrics_route(const char *buf, size_t len)
{
	bool ended = memmem(buf, len, "\r\n\r\n", 4) || memmem(buf, len, "\n\n", 2);

	if (!ended)
		return len >= PT_METRICS_HEAD_MAX ? PT_METRICS_TOO_BIG : PT_METRICS_INCOMPLETE;
	if (!starts(buf, len, "GET "))
		return PT_METRICS_BAD_METHOD;
	if (starts(buf, len, "GET /metrics ") || starts(buf, len, "GET /metrics?") ||
	    starts(buf, len, "GET / ") || starts(buf, len, "GET /? "))
		return PT_METRICS_SERVE;
	return PT_METRICS_NOT_FOUND;
}

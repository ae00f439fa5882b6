/* The Prometheus text exposition format (version 0.0.4), as ptenantd
 * serves it: a growing text buffer, metric headers, and histograms with
 * fixed buckets. Pure, so the unit tests check the format itself. Label
 * values come only from slugs and fixed names: nothing to escape. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pt_text {
	char *buf;
	size_t len, cap;
	bool oom;                /* an append failed: the text is incomplete */
};

void pt_text_printf(struct pt_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pt_text_free(struct pt_text *t);

/* "# HELP name help\n# TYPE name type\n" */
void pt_metric_header(struct pt_text *t, const char *name, const char *type, const char *help);

/* What a scrape's request head (buf[0..len), as much as has come) asks
 * for: the exposition (GET /metrics or GET /, with any query), or an
 * answer: 404, 405, 431 (more than PT_METRICS_HEAD_MAX bytes without an
 * end); 0 while the head is incomplete. */
#define PT_METRICS_HEAD_MAX 4096
enum pt_metrics_route {
	PT_METRICS_INCOMPLETE = 0,
	PT_METRICS_SERVE = 200,
	PT_METRICS_NOT_FOUND = 404,
	PT_METRICS_BAD_METHOD = 405,
	PT_METRICS_TOO_BIG = 431,
};
enum pt_metrics_route pt_metrics_route(const char *buf, size_t len);

#define PT_HIST_BUCKETS_MAX 16
struct pt_histogram {
	const double *bounds;    /* upper bounds, increasing; +Inf is implied */
	size_t n;
	uint64_t counts[PT_HIST_BUCKETS_MAX]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

void pt_histogram_init(struct pt_histogram *h, const double *bounds, size_t n);
void pt_histogram_observe(struct pt_histogram *h, double v);
/* Header, cumulative _bucket lines (le="..." and "+Inf"), _sum, _count. */
void pt_histogram_render(struct pt_text *t, const char *name, const char *help,
			 const struct pt_histogram *h);
/* The same series without the header, with a label before le=:
 * labels is 'slug="acme"' (the caller wrote the header once). */
void pt_histogram_render_series(struct pt_text *t, const char *name, const char *labels,
				const struct pt_histogram *h);

/* libFuzzer target: the metrics port's request head, as it comes in
 * pieces. Any bytes give one of the routes; a head that ended keeps its
 * route whatever follows; nothing is waited for past the size limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics-text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	enum pt_metrics_route r = pt_metrics_route(buf, size), prev = PT_METRICS_INCOMPLETE;

	if (r != PT_METRICS_INCOMPLETE && r != PT_METRICS_SERVE && r != PT_METRICS_NOT_FOUND &&
	    r != PT_METRICS_BAD_METHOD && r != PT_METRICS_TOO_BIG)
		abort();
	if (size >= PT_METRICS_HEAD_MAX && r == PT_METRICS_INCOMPLETE)
		abort();
	/* Read in pieces: once decided (short of the size limit), it stays. */
	for (size_t k = 0; k <= size && k < PT_METRICS_HEAD_MAX; k++) {
		enum pt_metrics_route at = pt_metrics_route(buf, k);

		if (prev != PT_METRICS_INCOMPLETE && at != prev)
			abort();
		prev = at;
	}
	return 0;
}

/* libFuzzer target: a line of the usage ledger (usage/YYYY-MM.jsonl) is
 * read back after crashes and by `ptenant usage`: any bytes give either a
 * line or -EBADMSG with a message, and a line that parsed survives format
 * + parse unchanged (a bill read twice must say the same). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_usage_line l, again;
	pt_err err = { 0 };
	char buf[1024];
	int n;

	if (pt_usage_line_parse((const char *)data, size, &l, &err) < 0) {
		if (err.code != -EBADMSG || err.msg[0] == '\0')
			abort();
		return 0;
	}
	n = pt_usage_line_format(&l, buf, sizeof(buf));
	if (n < 0 || pt_usage_line_parse(buf, (size_t)n, &again, NULL) < 0 ||
	    memcmp(&l, &again, sizeof(l)) != 0)
		abort();
	return 0;
}

/* libFuzzer target: a tenant's notify datagrams reach the root daemon
 * as they are. Any bytes: refused, or parsed with every line either
 * understood or counted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_notify_msg m;
	size_t lines = 1;

	if (pt_notify_parse((const char *)data, size, &m) < 0)
		return 0;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (m.ignored > lines || m.busy < -1 || m.busy > 1 || size > PT_NOTIFY_MSG_MAX)
		abort();
	if (m.ready && !memmem(data, size, "READY=1", 7))
		abort();
	return 0;
}

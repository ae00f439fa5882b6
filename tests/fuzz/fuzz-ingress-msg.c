/* libFuzzer target: the ingress channel's messages. The daemon reads them
 * from the (unprivileged, parsing untrusted HTTP) ingress, the ingress
 * reads the daemon's answers: any bytes must parse to a valid message or
 * be refused, and a message that parsed must format back to the very
 * bytes it came from (one way to write each, so the two ends cannot
 * disagree). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int to_daemon = 0; to_daemon < 2; to_daemon++) {
		struct pt_ingress_msg m, again;
		char buf[PT_INGRESS_MSG_MAX + 1];
		int n;

		memset(&m, 0x5A, sizeof(m));
		if (pt_ingress_msg_parse((const char *)data, size, to_daemon, &m) < 0)
			continue;
		if (pt_slug_validate(m.slug, "slug", NULL) < 0)
			abort();
		n = pt_ingress_msg_format(&m, buf, sizeof(buf));
		if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0)
			abort();
		if (pt_ingress_msg_parse(buf, (size_t)n, to_daemon, &again) < 0 ||
		    again.kind != m.kind || strcmp(again.slug, m.slug) != 0 ||
		    strcmp(again.reason, m.reason) != 0)
			abort();
	}
	return 0;
}

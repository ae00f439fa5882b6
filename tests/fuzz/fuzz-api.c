/* The API's untrusted input: bytes in arbitrary chunks through the line
 * buffer, each record through the request parser. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_linebuf lb;
	size_t off = 0;

	pt_linebuf_init(&lb, 4096);
	while (off < size) {
		/* The first byte of each chunk picks its length. */
		size_t n = 1 + data[off] % 64;
		char *line;
		size_t len;

		if (n > size - off)
			n = size - off;
		if (pt_linebuf_feed(&lb, (const char *)data + off, n) < 0)
			break;
		off += n;
		while (pt_linebuf_pop(&lb, &line, &len) == 1) {
			const char *op;
			json_t *req;
			pt_err err;

			if (pt_api_parse_request(line, len, &req, &op, &err) == 0) {
				if (!op)
					abort();
				json_decref(req);
			} else if (!err.msg[0]) {
				abort();
			}
			free(line);
		}
	}
	pt_linebuf_free(&lb);
	return 0;
}

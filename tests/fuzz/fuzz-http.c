/* The ingress's untrusted input: any bytes as a request head. An accepted
 * head must name a valid slug and a complete head inside the buffer, and
 * its forwarded form must fit the documented bound; a refused one must
 * carry a status and a reason. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct pt_http_req *req, const char *buf, size_t size)
{
	static char out[PT_HTTP_HEAD_MAX + 512];

	if (pt_slug_validate(req->slug, "slug", NULL) < 0)
		abort();
	if (req->head_len < 4 || req->head_len > size || req->head_len > PT_HTTP_HEAD_MAX ||
	    memcmp(buf + req->head_len - 4, "\r\n\r\n", 4) != 0)
		abort();
	if (!req->host || req->n_headers > PT_HTTP_HEADERS_MAX || req->target[0] != '/')
		abort();
	/* The forwarded head must not carry a line break from a value. */
	for (size_t i = 0; i < req->n_headers; i++)
		if (memchr(req->headers[i].value, '\r', req->headers[i].value_len) ||
		    memchr(req->headers[i].value, '\n', req->headers[i].value_len))
			abort();
	if (pt_http_forward_head(req, "255.255.255.255", false, out, sizeof(out)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_http_req req;
	pt_err err = { 0 };
	int status = 0, r;

	r = pt_http_parse_head((const char *)data, size, "demo.test", &req, &status, &err);
	if (r == 0)
		check_accepted(&req, (const char *)data, size);
	else if (r != -EAGAIN && (status < 400 || status > 505 || !err.msg[0]))
		abort();
	return 0;
}

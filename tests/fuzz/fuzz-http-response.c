/* The ingress's other untrusted input: what a tenant answers, and the
 * bodies both sides stream. The first byte picks what the rest is (a
 * response head and body, a chunked body alone, or a request head and
 * body) and how to feed it. A body must end at the same byte however it
 * is split; an accepted head must stay accepted, with the same framing,
 * once forwarded, and must not be refused while it is still arriving. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fed whole, byte by byte and in two pieces cut where seed says: one
 * result. */
static void check_body(const struct pt_body *start, const char *p, size_t len, unsigned seed)
{
	struct pt_body whole = *start, bytes = *start, two = *start;
	pt_err e1 = { 0 }, e2 = { 0 }, e3 = { 0 };
	size_t cut = ((size_t)seed * 131 + len / 3) % (len + 1);
	ssize_t r1, r2 = 0, r3;

	r1 = pt_body_feed(&whole, p, len, &e1);
	for (size_t i = 0; i < len && r2 >= 0; i++) {
		ssize_t r = pt_body_feed(&bytes, p + i, 1, &e2);

		r2 = r < 0 ? r : r2 + r;
	}
	r3 = pt_body_feed(&two, p, cut, &e3);
	if (r3 >= 0) {
		ssize_t r = pt_body_feed(&two, p + cut, len - cut, &e3);

		r3 = r < 0 ? r : r3 + r;
	}
	if (r1 != r2 || r1 != r3 || whole.done != bytes.done || whole.done != two.done)
		abort();
	if (r1 < 0 && (r1 != -EBADMSG || !e1.msg[0] || strcmp(e1.msg, e2.msg) || strcmp(e1.msg, e3.msg)))
		abort();
	if (r1 >= 0 && ((size_t)r1 > len || ((size_t)r1 < len && !whole.done)))
		abort();
	if (whole.kind == PT_BODY_UNTIL_CLOSE && whole.done)
		abort();
}

static bool same_framing(const struct pt_body *a, const struct pt_body *b)
{
	return a->kind == b->kind && a->remaining == b->remaining && a->done == b->done;
}

static void fuzz_response(const char *buf, size_t len, unsigned flags)
{
	static struct pt_http_resp resp, again;
	static char out[PT_HTTP_RESP_FORWARD_MAX];
	bool to_head = flags & 1, close = flags & 2;
	struct pt_body body, fwd_body;
	pt_err err = { 0 };
	int r = pt_http_parse_response_head(buf, len, &resp, &err), n;

	if (r == -EAGAIN) {
		if (len >= PT_HTTP_RESP_HEAD_MAX ||
		    pt_http_parse_response_head(buf, len / 2, &again, &err) != -EAGAIN)
			abort();
		return;
	}
	if (r < 0) {
		if (r != -EBADMSG || !err.msg[0])
			abort();
		return;
	}
	if (resp.head_len < 4 || resp.head_len > len || resp.head_len > PT_HTTP_RESP_HEAD_MAX ||
	    memcmp(buf + resp.head_len - 4, "\r\n\r\n", 4) != 0 ||
	    resp.status < 100 || resp.status > 599 || resp.minor < 0 || resp.minor > 1 ||
	    resp.n_headers > PT_HTTP_HEADERS_MAX)
		abort();
	for (size_t i = 0; i < resp.n_headers; i++)
		if (memchr(resp.headers[i].value, '\r', resp.headers[i].value_len) ||
		    memchr(resp.headers[i].value, '\n', resp.headers[i].value_len))
			abort();
	/* Arriving in pieces, it waits for its end. */
	if (pt_http_parse_response_head(buf, resp.head_len - 1, &again, &err) != -EAGAIN ||
	    pt_http_parse_response_head(buf, (flags >> 2) % resp.head_len, &again, &err) != -EAGAIN)
		abort();
	pt_http_resp_body(&resp, to_head, &body);
	n = pt_http_forward_response_head(&resp, close, out, sizeof(out));
	if (n < 0)
		abort();
	/* (Unless forwarding took it over a limit: one more header, or the
	 * spaces it puts after colons.) */
	if (resp.n_headers < PT_HTTP_HEADERS_MAX && (size_t)n <= PT_HTTP_RESP_HEAD_MAX) {
		if (pt_http_parse_response_head(out, (size_t)n, &again, &err) != 0 ||
		    (size_t)n != again.head_len || again.status != resp.status)
			abort();
		pt_http_resp_body(&again, to_head, &fwd_body);
		if (!same_framing(&body, &fwd_body))
			abort();
	}
	check_body(&body, buf + resp.head_len, len - resp.head_len, flags >> 2);
}

static void fuzz_request(const char *buf, size_t len, unsigned flags)
{
	static struct pt_http_req req, again;
	static char out[PT_HTTP_HEAD_MAX + 512];
	struct pt_body body, fwd_body;
	const char *proto = NULL;
	size_t proto_len = 0;
	pt_err err = { 0 };
	int status, n;
	bool upgrade;

	if (pt_http_parse_head(buf, len, "demo.test", &req, &status, &err) != 0)
		return;
	upgrade = pt_http_req_upgrade(&req, &proto, &proto_len);
	if (upgrade && (!proto || proto < buf || proto + proto_len > buf + req.head_len ||
			req.minor != 1))
		abort();
	if (pt_http_req_keep_alive(&req) && req.minor != 1)
		abort();
	pt_http_req_body(&req, &body);
	n = pt_http_forward_head(&req, "255.255.255.255", upgrade, out, sizeof(out));
	if (n < 0)
		abort();
	/* Forwarded, it means the same to the tenant, and ends its connection
	 * unless it is being upgraded. */
	if ((size_t)n <= PT_HTTP_HEAD_MAX && req.n_headers <= PT_HTTP_HEADERS_MAX - 4) {
		if (pt_http_parse_head(out, (size_t)n, "demo.test", &again, &status, &err) != 0)
			abort();
		pt_http_req_body(&again, &fwd_body);
		if (!same_framing(&body, &fwd_body) || pt_http_req_keep_alive(&again) != upgrade ||
		    pt_http_req_upgrade(&again, NULL, NULL) != upgrade)
			abort();
	}
	check_body(&body, buf + req.head_len, len - req.head_len, flags);
}

/* A status line that parses is -EAGAIN at every shorter prefix: a
 * health check reading it in pieces reaches the same verdict. */
static void fuzz_status_line(const char *p, size_t len)
{
	size_t line = 0;
	int status = 0, r = pt_http_parse_status_line(p, len, &status, &line);

	if (r == 0 && (status < 100 || status > 599 || line == 0 || line > len ||
		       line > PT_HTTP_STATUS_LINE_MAX || p[line - 1] != '\n'))
		abort();
	if (r != 0 && r != -EAGAIN && r != -EBADMSG)
		abort();
	for (size_t k = 0; r == 0 && k < line; k++) {
		int s2;
		size_t l2;

		if (pt_http_parse_status_line(p, k, &s2, &l2) != -EAGAIN)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;
	struct pt_body body;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 3:
		fuzz_status_line(buf, size - 1);
		break;
	case 0:
		fuzz_response(buf, size - 1, data[0] / 4);
		break;
	case 1:
		pt_body_chunked(&body);
		check_body(&body, buf, size - 1, data[0] / 4);
		break;
	default:
		fuzz_request(buf, size - 1, data[0] / 4);
		break;
	}
	return 0;
}

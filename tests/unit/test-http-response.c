/* Body framing, keep-alive, upgrades and tenant response heads: every body
 * is fed in every split, and ends exactly where the next message begins. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http-response.h"

#define NEXT "GET /next HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"

/* A body to feed: its bytes, then the next message's (never counted). An
 * error vector has msg, a part of the expected reason, and no rest. */
struct vec {
	enum pt_body_kind kind;
	uint64_t length;
	const char *body, *rest;
	size_t body_len, rest_len;
	bool done;
	const char *msg;
};

#define S(s) s, sizeof(s) - 1
#define OK(kind, n, body, rest, done) { kind, n, body, rest, sizeof(body) - 1, sizeof(rest) - 1, done, NULL }
#define CHUNKED(body, rest, done) OK(PT_BODY_CHUNKED, 0, body, rest, done)
#define BAD(body, msg) { PT_BODY_CHUNKED, 0, body, "", sizeof(body) - 1, 0, false, msg }

static void body_start(struct pt_body *b, const struct vec *v)
{
	switch (v->kind) {
	case PT_BODY_NONE: pt_body_none(b); break;
	case PT_BODY_LENGTH: pt_body_length(b, v->length); break;
	case PT_BODY_CHUNKED: pt_body_chunked(b); break;
	case PT_BODY_UNTIL_CLOSE: pt_body_until_close(b); break;
	}
}

/* Feeds buf in pieces cut at i and j: the body's length, or the error. */
static long feed_cut(const struct vec *v, const char *buf, size_t len, size_t i, size_t j,
		     bool *done, pt_err *err)
{
	size_t cut[] = { 0, i, j, len };
	struct pt_body b;
	long total = 0;

	body_start(&b, v);
	for (size_t k = 0; k < 3; k++) {
		size_t n = cut[k + 1] - cut[k];
		ssize_t r = pt_body_feed(&b, buf + cut[k], n, err);

		if (r < 0)
			return r;
		assert_true((size_t)r <= n);
		if ((size_t)r < n)
			assert_true(b.done); /* short only at the end */
		total += r;
	}
	*done = b.done;
	return total;
}

/* Byte by byte, as the slowest client sends it. */
static long feed_bytes(const struct vec *v, const char *buf, size_t len, bool *done, pt_err *err)
{
	struct pt_body b;
	long total = 0;

	body_start(&b, v);
	for (size_t k = 0; k < len; k++) {
		ssize_t r = pt_body_feed(&b, buf + k, 1, err);

		if (r < 0)
			return r;
		assert_true(r == 1 || b.done);
		total += r;
	}
	*done = b.done;
	return total;
}

static void check_result(const struct vec *v, long r, bool done, const pt_err *err)
{
	if (v->msg) {
		assert_int_equal(r, -EBADMSG);
		if (!strstr(err->msg, v->msg))
			fail_msg("\"%s\": want \"%s\"", err->msg, v->msg);
		return;
	}
	assert_int_equal(r, (long)v->body_len);
	assert_int_equal(done, v->done);
}

/* Every cut into two or (short vectors) three pieces, and byte by byte. */
static void check_vec(const struct vec *v)
{
	size_t len = v->body_len + v->rest_len;
	char *buf = malloc(len + 1);
	bool done = false;
	pt_err err = { 0 };
	long r;

	assert_non_null(buf);
	memcpy(buf, v->body, v->body_len);
	memcpy(buf + v->body_len, v->rest, v->rest_len);
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = len > 256 ? len : i; j <= len; j++) {
			r = feed_cut(v, buf, len, i, j, &done, &err);
			check_result(v, r, done, &err);
		}
	}
	r = feed_bytes(v, buf, len, &done, &err);
	check_result(v, r, done, &err);
	free(buf);
}

static void check_vecs(const struct vec *vs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_vec(&vs[i]);
}

static void test_chunked_valid(void **state)
{
	static const struct vec vs[] = {
		CHUNKED("5\r\nhello\r\n0\r\n\r\n", NEXT, true),
		CHUNKED("0\r\n\r\n", NEXT, true),
		CHUNKED("5;name=value\r\nhello\r\n6 ;a ; b=\"x y\"\r\n world\r\n0;last\r\n\r\n", NEXT, true),
		CHUNKED("000A\r\n0123456789\r\na\r\nabcdefghij\r\nFf\r\n"
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n00\r\n\r\n", NEXT, true),
		CHUNKED("1\r\nx\r\n0\r\nExpires: never\r\nX-A:b\r\nX-Empty:\r\n\r\n", NEXT, true),
		CHUNKED("0000000000000001\r\nx\r\n0\r\n\r\n", "", true),
		/* Chunk data is opaque: what looks like an end inside it is not. */
		CHUNKED("7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n", NEXT, true),
		CHUNKED("3\r\n\0\r\n\r\n0\r\n\r\n", "\0", true),
		/* Incomplete: every byte so far is the body's. */
		CHUNKED("4000000000000000\r\nabc", "", false),
		CHUNKED("5\r\nhel", "", false),
		CHUNKED("5\r\nhello\r\n0\r\nX: y\r\n\r", "", false),
		CHUNKED("5", "", false),
	};

	(void)state;
	check_vecs(vs, sizeof(vs) / sizeof(vs[0]));
}

static void test_chunked_invalid(void **state)
{
	static const struct vec vs[] = {
		BAD("x\r\n", "chunk size line without a hex size"),
		BAD("\r\n", "chunk size line without a hex size"),
		BAD(";a\r\n", "chunk size line without a hex size"),
		BAD(" 5\r\n", "chunk size line without a hex size"),
		BAD("-1\r\n", "chunk size line without a hex size"),
		BAD("5\r\nhello\r\n\r\n", "chunk size line without a hex size"),
		BAD("5 \r\nhello\r\n0\r\n\r\n", "malformed chunk size line"),
		BAD("5x\r\n", "malformed chunk size line"),
		BAD("0x5\r\n", "malformed chunk size line"),
		BAD("5 5\r\n", "malformed chunk size line"),
		BAD("5\nhello\r\n", "LF without CR in a chunk size line"),
		BAD("5;a\nhello\r\n", "LF without CR in a chunk size line"),
		BAD("5\rhello\r\n", "CR without LF in a chunk size line"),
		BAD("5\r\nhelloX\r\n0\r\n\r\n", "missing CRLF after chunk data"),
		BAD("5\r\nhello\n0\r\n\r\n", "missing CRLF after chunk data"),
		BAD("5\r\nhello\r0\r\n\r\n", "missing CRLF after chunk data"),
		BAD("5\r\nhello\r\r\n", "missing CRLF after chunk data"),
		BAD("00000000000000001\r\n", "chunk size with more than 16 hex digits"),
		BAD("4000000000000001\r\n", "chunk size over 2^62"),
		BAD("FFFFFFFFFFFFFFFF\r\n", "chunk size over 2^62"),
		BAD("1;a\x01\r\n", "control character in a chunk extension"),
		BAD("1;a\0\r\n", "control character in a chunk extension"),
		BAD("0\r\nX: y\n\r\n", "LF without CR in the trailers"),
		BAD("0\r\n\n", "LF without CR in the trailers"),
		BAD("0\r\nX: y\rZ", "CR without LF in the trailers"),
		BAD("0\r\n\rX", "CR without LF at the end of a chunked body"),
		BAD("0\r\nX: y\r\n z\r\n\r\n", "folded trailer line (obs-fold)"),
		BAD("0\r\nbad\r\n\r\n", "malformed trailer field (no ':')"),
		BAD("0\r\nX : y\r\n\r\n", "malformed trailer field name"),
		BAD("0\r\n:y\r\n\r\n", "malformed trailer field name"),
		BAD("0\r\nX: a\x7f\r\n\r\n", "control character in a trailer value"),
		BAD("0\r\nX: a\0\r\n\r\n", "control character in a trailer value"),
	};

	(void)state;
	check_vecs(vs, sizeof(vs) / sizeof(vs[0]));
}

/* prefix, n times ch, suffix: in a buffer owned by the caller. */
static char *build(const char *prefix, char ch, size_t n, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	char *b = malloc(p + n + s + 1);

	assert_non_null(b);
	memcpy(b, prefix, p);
	memset(b + p, ch, n);
	memcpy(b + p + n, suffix, s + 1);
	return b;
}

static void check_built(char *s, const char *msg)
{
	struct vec v = { PT_BODY_CHUNKED, 0, s, NEXT, strlen(s), msg ? 0 : strlen(NEXT), !msg, msg };

	check_vec(&v);
	free(s);
}

/* The line limits, at their edge and one past. */
static void test_chunked_limits(void **state)
{
	(void)state;
	check_built(build("1;", 'a', PT_CHUNK_LINE_MAX - 2, "\r\nx\r\n0\r\n\r\n"), NULL);
	check_built(build("1;", 'a', PT_CHUNK_LINE_MAX - 1, "\r\nx\r\n0\r\n\r\n"),
		    "chunk size line longer than 4 KiB");
	check_built(build("0\r\nX: ", 'a', PT_CHUNK_LINE_MAX - 3, "\r\n\r\n"), NULL);
	check_built(build("0\r\nX: ", 'a', PT_CHUNK_LINE_MAX - 2, "\r\n\r\n"),
		    "trailer line longer than 4 KiB");
}

/* The trailer section in all: exactly 8 KiB (two lines), then one more. */
static void test_chunked_trailers_total(void **state)
{
	char *line = build("X: ", 'a', PT_CHUNK_LINE_MAX - 3, "\r\n");
	char *s = malloc(3 * PT_CHUNK_LINE_MAX);
	size_t second = PT_CHUNK_TRAILERS_MAX - (PT_CHUNK_LINE_MAX + 2) - 2;

	(void)state;
	assert_non_null(s);
	snprintf(s, 3 * PT_CHUNK_LINE_MAX, "0\r\n%sY: %.*s\r\n\r\n", line, (int)(second - 3), line + 3);
	check_built(strdup(s), NULL);
	snprintf(s, 3 * PT_CHUNK_LINE_MAX, "0\r\n%sY: %.*s\r\n\r\n", line, (int)(second - 2), line + 3);
	check_built(strdup(s), "more than 8 KiB of trailers");
	free(line);
	free(s);
}

static void test_chunked_failure_sticks(void **state)
{
	struct pt_body b;
	pt_err err = { 0 };

	(void)state;
	pt_body_chunked(&b);
	assert_int_equal(pt_body_feed(&b, S("zz\r\n"), &err), -EBADMSG);
	memset(&err, 0, sizeof(err));
	assert_int_equal(pt_body_feed(&b, S("0\r\n\r\n"), &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "already malformed"));
	assert_false(b.done);
}

static void test_length_none_close(void **state)
{
	static const struct vec vs[] = {
		OK(PT_BODY_LENGTH, 5, "hello", NEXT, true),
		OK(PT_BODY_LENGTH, 5, "0\r\n\r\n", "0\r\n\r\n", true),
		OK(PT_BODY_LENGTH, 0, "", NEXT, true),
		OK(PT_BODY_LENGTH, 10, "hello", "", false),
		OK(PT_BODY_NONE, 0, "", "HTTP/1.1 200 OK\r\n\r\n", true),
		OK(PT_BODY_UNTIL_CLOSE, 0, "anything\r\n0\r\n\r\n" NEXT, "", false),
	};
	struct pt_body b;

	(void)state;
	check_vecs(vs, sizeof(vs) / sizeof(vs[0]));
	pt_body_length(&b, UINT64_C(1) << 40);
	assert_int_equal(pt_body_feed(&b, S("abc"), NULL), 3);
	assert_true(b.remaining == (UINT64_C(1) << 40) - 3);
	pt_body_none(&b);
	assert_true(b.done);
	pt_body_until_close(&b);
	assert_false(b.done);
}

static struct pt_http_req req;

static const struct pt_http_req *req_of(const char *s)
{
	pt_err err = { 0 };
	int status;

	if (pt_http_parse_head(s, strlen(s), "demo.test", &req, &status, &err) != 0)
		fail_msg("%s: %s", s, err.msg);
	return &req;
}

#define REQ(version, headers) req_of("GET / HTTP/" version "\r\nHost: acme.demo.test\r\n" headers "\r\n")

static void test_req_body(void **state)
{
	const char *s = "POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 4\r\n\r\nabcd" NEXT;
	struct pt_body b;

	(void)state;
	pt_http_req_body(REQ("1.1", "Content-Length: 12\r\n"), &b);
	assert_int_equal(b.kind, PT_BODY_LENGTH);
	assert_int_equal(b.remaining, 12);
	assert_false(b.done);
	pt_http_req_body(REQ("1.1", "Content-Length: 0\r\n"), &b);
	assert_true(b.kind == PT_BODY_LENGTH && b.done);
	pt_http_req_body(REQ("1.1", "Transfer-Encoding: Chunked\r\n"), &b);
	assert_true(b.kind == PT_BODY_CHUNKED && !b.done);
	pt_http_req_body(REQ("1.0", ""), &b);
	assert_true(b.kind == PT_BODY_NONE && b.done);
	/* A pipelined request after the body is not the body's. */
	pt_http_req_body(req_of(s), &b);
	assert_int_equal(pt_body_feed(&b, s + req.head_len, strlen(s) - req.head_len, NULL), 4);
	assert_true(b.done);
}

static void test_req_keep_alive(void **state)
{
	(void)state;
	assert_true(pt_http_req_keep_alive(REQ("1.1", "")));
	assert_true(pt_http_req_keep_alive(REQ("1.1", "Connection: keep-alive, Upgrade\r\n")));
	assert_true(pt_http_req_keep_alive(REQ("1.1", "Connection: closed, unclose\r\n")));
	assert_true(pt_http_req_keep_alive(REQ("1.1", "X-Connection: close\r\n")));
	assert_false(pt_http_req_keep_alive(REQ("1.1", "Connection: Keep-Alive,\t CLOSE \r\n")));
	assert_false(pt_http_req_keep_alive(REQ("1.1", "Connection: ,close,\r\n")));
	assert_false(pt_http_req_keep_alive(REQ("1.1", "Connection: keep-alive\r\nconnection: Close\r\n")));
	assert_false(pt_http_req_keep_alive(REQ("1.0", "")));
	assert_false(pt_http_req_keep_alive(REQ("1.0", "Connection: keep-alive\r\n")));
}

static void test_req_upgrade(void **state)
{
	const char *proto = NULL;
	size_t len = 0;

	(void)state;
	assert_true(pt_http_req_upgrade(REQ("1.1", "Connection: keep-alive, Upgrade\r\nUpgrade: websocket \r\n"),
					&proto, &len));
	assert_int_equal(len, 9);
	assert_memory_equal(proto, "websocket", 9);
	assert_true(pt_http_req_upgrade(REQ("1.1", "Upgrade: WebSocket, h2c/1.0\r\nConnection: UPGRADE\r\n"),
					&proto, &len));
	assert_int_equal(len, strlen("WebSocket, h2c/1.0"));
	assert_true(pt_http_req_upgrade(REQ("1.1", "Connection: keep-alive\r\nConnection: upgrade\r\n"
					       "Upgrade: websocket\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: upgrade\r\n"), &proto, &len));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Upgrade: websocket\r\n"), &proto, &len));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: upgraded\r\nUpgrade: websocket\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: Upgrade\r\nUpgrade: websocket\r\n"
						"Upgrade: h2c\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: Upgrade\r\nUpgrade:\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: Upgrade\r\nUpgrade: , ,\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: Upgrade\r\nUpgrade: web@socket\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.1", "Connection: Upgrade\r\nUpgrade: websocket;v=1\r\n"), NULL, NULL));
	assert_false(pt_http_req_upgrade(REQ("1.0", "Connection: Upgrade\r\nUpgrade: websocket\r\n"), NULL, NULL));
}

static struct pt_http_resp resp;

static int parse_resp_n(const char *s, size_t n, pt_err *err)
{
	int r = pt_http_parse_response_head(s, n, &resp, err);

	if (r < 0 && r != -EAGAIN)
		assert_true(err->msg[0] != '\0');
	return r;
}

static void ok_resp(const char *s)
{
	pt_err err = { 0 };

	if (parse_resp_n(s, strlen(s), &err) != 0)
		fail_msg("%s: %s", s, err.msg);
}

static void bad_resp_n(const char *s, size_t n, const char *msg)
{
	pt_err err = { 0 };

	assert_int_equal(parse_resp_n(s, n, &err), -EBADMSG);
	if (!strstr(err.msg, msg))
		fail_msg("%s: \"%s\", want \"%s\"", s, err.msg, msg);
}

static void bad_resp(const char *s, const char *msg)
{
	bad_resp_n(s, strlen(s), msg);
}

static void test_resp_valid(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \t5 \r\n\r\nhello";
	size_t head = strlen(s) - 5;
	pt_err err = { 0 };

	(void)state;
	ok_resp(s);
	assert_int_equal(resp.minor, 1);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.reason_len, 2);
	assert_memory_equal(resp.reason, "OK", 2);
	assert_int_equal(resp.head_len, head);
	assert_int_equal(resp.n_headers, 2);
	assert_int_equal(resp.headers[1].value_len, 1);
	assert_memory_equal(resp.headers[1].value, "5", 1);
	/* It arrives a byte at a time: nothing is decided before its end. */
	for (size_t i = 0; i < head; i++)
		assert_int_equal(parse_resp_n(s, i, &err), -EAGAIN);
	ok_resp("HTTP/1.0 404 Not Found\r\n\r\n");
	assert_int_equal(resp.minor, 0);
	assert_int_equal(resp.reason_len, 9);
	ok_resp("HTTP/1.1 204\r\n\r\n");
	assert_int_equal(resp.status, 204);
	assert_int_equal(resp.reason_len, 0);
	ok_resp("HTTP/1.1 599 \r\n\r\n");
	assert_int_equal(resp.reason_len, 0);
	ok_resp("HTTP/1.1 100 Continue\r\n\r\n");
	ok_resp("HTTP/1.1 200 caf\xc3\xa9\r\nX-A: caf\xc3\xa9\r\n\r\n");
	ok_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n");
	ok_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
	ok_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void test_resp_incomplete(void **state)
{
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(parse_resp_n("", 0, &err), -EAGAIN);
	assert_int_equal(parse_resp_n(S("HTTP/1."), &err), -EAGAIN);
	assert_int_equal(parse_resp_n(S("HTTP/1.1 200 OK\r"), &err), -EAGAIN);
	assert_int_equal(parse_resp_n(S("HTTP/1.1 200 OK\r\nX: y\r\n\r"), &err), -EAGAIN);
	/* Refused before its end when it can never be valid. */
	bad_resp("HTTP/2", "not an HTTP/1.0 or HTTP/1.1 response");
	bad_resp("HTTP/1.2", "not an HTTP/1.0 or HTTP/1.1 response");
	bad_resp("SSH-2.0-OpenSSH_9.6\r\n", "not an HTTP/1.0 or HTTP/1.1 response");
	bad_resp("HTTP/1.1 200 OK\n", "CR or LF alone in the response head");
	bad_resp("HTTP/1.1 200 OK\r\nX: y\rZ", "CR or LF alone in the response head");
}

static void test_resp_status_line(void **state)
{
	(void)state;
	bad_resp("HTTP/1.2 200 OK\r\n\r\n", "not an HTTP/1.0 or HTTP/1.1 response");
	bad_resp("http/1.1 200 OK\r\n\r\n", "not an HTTP/1.0 or HTTP/1.1 response");
	bad_resp("HTTP/1.1\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 99 OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 099 OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 600 OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 2000 OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 200OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1  200 OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 2x0 OK\r\n\r\n", "status code is not 3 digits 100-599");
	bad_resp("HTTP/1.1 200 O\x01K\r\n\r\n", "control character in the reason phrase");
	bad_resp_n(S("HTTP/1.1 200 O\0K\r\n\r\n"), "control character in the reason phrase");
}

static void test_resp_headers(void **state)
{
	(void)state;
	bad_resp("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "folded header line (obs-fold)");
	bad_resp("HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n", "folded header line (obs-fold)");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n", "CR or LF alone in a header line");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\rY: b\r\n\r\n", "CR or LF alone in a header line");
	bad_resp("HTTP/1.1 200 OK\nX: a\r\n\r\n", "CR or LF alone in the status line");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", "control character in a header value");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\x7fz\r\n\r\n", "control character in a header value");
	bad_resp_n(S("HTTP/1.1 200 OK\r\nX: a\0z\r\n\r\n"), "control character in a header value");
	bad_resp("HTTP/1.1 200 OK\r\nX Y: z\r\n\r\n", "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\nX : z\r\n\r\n", "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\nX(: z\r\n\r\n", "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\n: z\r\n\r\n", "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", "malformed header name");
}

/* n headers, then filler up to total bytes of head (when it is larger). */
static char *resp_with(size_t n, size_t total)
{
	size_t cap = 64 + n * 16 + total, len;
	char *b = malloc(cap);

	assert_non_null(b);
	len = (size_t)snprintf(b, cap, "HTTP/1.1 200 OK\r\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "X-%zu:v\r\n", i);
	if (total > len + 2) {
		memset(b + len - 2, 'a', total - len - 2);
		len = total - 2;
		memcpy(b + len - 2, "\r\n", 2);
	}
	snprintf(b + len, cap - len, "\r\n");
	return b;
}

static void test_resp_limits(void **state)
{
	char *h100 = resp_with(100, 0), *h101 = resp_with(101, 0);
	char *max = resp_with(1, PT_HTTP_RESP_HEAD_MAX), *over = resp_with(1, PT_HTTP_RESP_HEAD_MAX + 1);
	pt_err err = { 0 };

	(void)state;
	ok_resp(h100);
	assert_int_equal(resp.n_headers, 100);
	bad_resp(h101, "more than 100 header fields");
	ok_resp(max);
	assert_int_equal(resp.head_len, PT_HTTP_RESP_HEAD_MAX);
	bad_resp(over, "response head larger than 16 KiB");
	over[PT_HTTP_RESP_HEAD_MAX] = '\0';
	bad_resp(over, "response head larger than 16 KiB");
	assert_int_equal(parse_resp_n(over, PT_HTTP_RESP_HEAD_MAX - 1, &err), -EAGAIN);
	free(h100);
	free(h101);
	free(max);
	free(over);
}

static void test_resp_framing(void **state)
{
	(void)state;
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "invalid Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "invalid Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "invalid Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", "invalid Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n", "invalid Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		 "Content-Length repeated with different values");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n",
		 "Content-Length repeated with different values");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "both Transfer-Encoding and Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		 "both Transfer-Encoding and Content-Length");
	bad_resp("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "Transfer-Encoding in an HTTP/1.0 response");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		 "Transfer-Encoding whose last coding is not chunked");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
		 "Transfer-Encoding whose last coding is not chunked");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		 "chunked is not the last transfer coding");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "chunked is not the last transfer coding");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "empty transfer coding");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n", "empty transfer coding");
}

static void check_body(const char *head, bool to_head, enum pt_body_kind kind, uint64_t remaining,
		       bool done)
{
	struct pt_body b;

	ok_resp(head);
	pt_http_resp_body(&resp, to_head, &b);
	if (b.kind != kind || b.remaining != remaining || b.done != done)
		fail_msg("%s: kind %d remaining %llu done %d", head, (int)b.kind,
			 (unsigned long long)b.remaining, b.done);
}

static void test_resp_body(void **state)
{
	(void)state;
	check_body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 100 Continue\r\n\r\n", false, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\n", false, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false, PT_BODY_NONE, 0, true);
	check_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, PT_BODY_CHUNKED, 0, false);
	check_body("HTTP/1.1 404 OK\r\nContent-Length: 5\r\n\r\n", false, PT_BODY_LENGTH, 5, false);
	check_body("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, PT_BODY_LENGTH, 0, true);
	check_body("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n", false,
		   PT_BODY_LENGTH, UINT64_C(999999999999999999), false);
	check_body("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", false,
		   PT_BODY_UNTIL_CLOSE, 0, false);
	check_body("HTTP/1.0 200 OK\r\n\r\n", false, PT_BODY_UNTIL_CLOSE, 0, false);
}

static void check_forward(const char *in, bool close, const char *want)
{
	char out[PT_HTTP_RESP_FORWARD_MAX];
	size_t n = strlen(want);

	ok_resp(in);
	assert_int_equal(pt_http_forward_response_head(&resp, close, out, sizeof(out)), (int)n);
	assert_memory_equal(out, want, n);
	assert_int_equal(pt_http_forward_response_head(&resp, close, out, n), (int)n);
	assert_int_equal(pt_http_forward_response_head(&resp, close, out, n - 1), -ENOBUFS);
	assert_int_equal(pt_http_forward_response_head(&resp, close, out, 0), -ENOBUFS);
}

/* HTTPS with HSTS: the operator's header on final responses, the
 * tenant's own dropped; none on interim ones. */
static void test_forward_response_hsts(void **state)
{
	char out[PT_HTTP_RESP_FORWARD_MAX];
	const char *want = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
			   "Strict-Transport-Security: max-age=300\r\n\r\n";
	const char *interim = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n";
	int n;

	(void)state;
	ok_resp("HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=0\r\nContent-Length: 0\r\n\r\n");
	n = pt_http_forward_response_head_hsts(&resp, false, "max-age=300", out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* Without a policy, the tenant's header goes through as it was. */
	n = pt_http_forward_response_head_hsts(&resp, false, NULL, out, sizeof(out));
	assert_non_null(memmem(out, (size_t)n, "max-age=0", 9));
	ok_resp(interim);
	n = pt_http_forward_response_head_hsts(&resp, false, "max-age=300", out, sizeof(out));
	assert_int_equal(n, (int)strlen(interim));
	assert_memory_equal(out, interim, strlen(interim));
}

static void test_forward_response_head(void **state)
{
	char *big = resp_with(99, PT_HTTP_RESP_HEAD_MAX);
	char out[PT_HTTP_RESP_FORWARD_MAX];

	(void)state;
	/* What Connection names stays: a tenant naming Content-Length there
	 * must not change where its response ends for the client. */
	check_forward("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-A\r\nKeep-Alive: timeout=5\r\n"
		      "Content-Type: text/html\r\nContent-Length:5\r\nProxy-Connection: x\r\nTE: trailers\r\n"
		      "Upgrade: h2c\r\nSet-Cookie: a=b\r\nX-A: kept\r\n\r\n", false,
		      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
		      "Set-Cookie: a=b\r\nX-A: kept\r\n\r\n");
	check_forward("HTTP/1.0 200\r\nX-A:  b \r\n\r\n", true,
		      "HTTP/1.1 200 \r\nX-A: b\r\nConnection: close\r\n\r\n");
	check_forward("HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n"
		      "connection: close\r\n\r\n", false,
		      "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n");
	check_forward("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", true,
		      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: Upgrade\r\n\r\n");
	check_forward("HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n", true,
		      "HTTP/1.1 100 Continue\r\n\r\n");
	/* The largest head, every header growing by a space, still fits. */
	ok_resp(big);
	assert_true(pt_http_forward_response_head(&resp, true, out, sizeof(out)) > PT_HTTP_RESP_HEAD_MAX);
	free(big);
}

/* What a health check accepts as the first line of an answer. */
static void test_status_line(void **state)
{
	static const struct {
		const char *text;
		int r, status;
		size_t line;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nServer: x\r\n", 0, 200, 17 },
		{ "HTTP/1.0 503 Service Unavailable\n", 0, 503, 33 },
		{ "HTTP/1.1 204\r\n", 0, 204, 14 },
		{ "HTTP/1.1 302 \tmoved\r\n", 0, 302, 21 },
		{ "HTTP/1.1 200 OK", -EAGAIN, 0, 0 },
		{ "HTTP/1.1 200 OK\r", -EAGAIN, 0, 0 },
		{ "HTTP/1.1 2", -EAGAIN, 0, 0 },
		{ "HTT", -EAGAIN, 0, 0 },
		{ "", -EAGAIN, 0, 0 },
		{ "HTTP/2 200\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.2 200 OK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 99 OK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 099 OK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 600 OK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 20x OK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 200OK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 200 O\rK\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 200 OK\r\r\n", -EBADMSG, 0, 0 },
		{ "HTTP/1.1 200\x7f\r\n", -EBADMSG, 0, 0 },
		{ "SSH-2.0-OpenSSH\r\n", -EBADMSG, 0, 0 },
		{ "http/1.1 200 OK\r\n", -EBADMSG, 0, 0 },
	};
	char longline[PT_HTTP_STATUS_LINE_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int status = 0;
		size_t line = 0;
		int r = pt_http_parse_status_line(cases[i].text, strlen(cases[i].text), &status, &line);

		if (r != cases[i].r)
			fail_msg("\"%s\": %d, expected %d", cases[i].text, r, cases[i].r);
		if (r == 0) {
			assert_int_equal(status, cases[i].status);
			assert_int_equal(line, cases[i].line);
		}
	}
	/* A reason that never ends is cut at the limit, not waited for. */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "HTTP/1.1 200 ", 13);
	{
		int status;
		size_t line;

		assert_int_equal(pt_http_parse_status_line(longline, PT_HTTP_STATUS_LINE_MAX - 1,
							   &status, &line), -EAGAIN);
		assert_int_equal(pt_http_parse_status_line(longline, sizeof(longline), &status, &line),
				 -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunked_valid),
		cmocka_unit_test(test_chunked_invalid),
		cmocka_unit_test(test_chunked_limits),
		cmocka_unit_test(test_chunked_trailers_total),
		cmocka_unit_test(test_chunked_failure_sticks),
		cmocka_unit_test(test_length_none_close),
		cmocka_unit_test(test_req_body),
		cmocka_unit_test(test_req_keep_alive),
		cmocka_unit_test(test_req_upgrade),
		cmocka_unit_test(test_resp_valid),
		cmocka_unit_test(test_resp_incomplete),
		cmocka_unit_test(test_resp_status_line),
		cmocka_unit_test(test_resp_headers),
		cmocka_unit_test(test_resp_limits),
		cmocka_unit_test(test_resp_framing),
		cmocka_unit_test(test_resp_body),
		cmocka_unit_test(test_forward_response_head),
		cmocka_unit_test(test_forward_response_hsts),
		cmocka_unit_test(test_status_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

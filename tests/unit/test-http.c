/* The ingress's request-head parser: every hostile shape gets the exact
 * status, and an accepted head names a valid slug. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

#define DOMAIN "demo.test"

static struct pt_http_req req;

/* Parses a head of explicit length (so NUL bytes can be in it). */
static int parse_n(const char *s, size_t n, int *status)
{
	pt_err err = { 0 };
	int r = pt_http_parse_head(s, n, DOMAIN, &req, status, &err);

	if (r < 0 && r != -EAGAIN) {
		assert_true(err.msg[0] != '\0'); /* every refusal says why */
		assert_true(*status >= 400 && *status <= 505);
	}
	return r;
}

static int parse(const char *s, int *status)
{
	return parse_n(s, strlen(s), status);
}

/* The status a head gets; 200 for accepted. */
static int status_of(const char *s)
{
	int status = 0, r = parse(s, &status);

	return r == 0 ? 200 : r == -EAGAIN ? 0 : status;
}

static void test_simple_get(void **state)
{
	int status;

	(void)state;
	assert_int_equal(parse("GET /x?y=1 HTTP/1.1\r\nHost: acme.demo.test\r\n\r\nBODY", &status), 0);
	assert_string_equal(req.slug, "acme");
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.head_len, strlen("GET /x?y=1 HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"));
	assert_int_equal(req.target_len, 6);
	assert_memory_equal(req.target, "/x?y=1", 6);
	assert_int_equal(req.n_headers, 1);
}

static void test_incomplete_needs_more(void **state)
{
	int status;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: acme.demo.test\r\n", &status), -EAGAIN);
	assert_int_equal(parse("", &status), -EAGAIN);
}

static void test_uppercase_host_normalised(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: ACME.Demo.TEST\r\n\r\n"), 200);
	assert_string_equal(req.slug, "acme");
}

static void test_host_port_stripped(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test:18080\r\n\r\n"), 200);
	assert_string_equal(req.slug, "acme");
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test:99999\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test:\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test:80x\r\n\r\n"), 400);
}

static void test_host_ows_trimmed(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: \t globex.demo.test \t\r\n\r\n"), 200);
	assert_string_equal(req.slug, "globex");
}

static void test_no_host(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\n\r\n"), 400);
}

static void test_duplicate_host(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\r\nhost: globex.demo.test\r\n\r\n"), 400);
}

static void test_other_domain(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.example.com\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acmedemo.test\r\n\r\n"), 404);
}

static void test_suffix_attack(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test.evil.com\r\n\r\n"), 404);
}

static void test_nested_label(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a.acme.demo.test\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme..demo.test\r\n\r\n"), 404);
}

static void test_dots(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: ..\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: ...demo.test\r\n\r\n"), 404);
}

static void test_invalid_slug(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: -acme.demo.test\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: ac_me.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.demo.test\r\n\r\n"), 404);
}

static void test_userinfo(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: evil@acme.demo.test\r\n\r\n"), 400);
}

static void test_ip_literals(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n"), 404);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: 10.213.0.2\r\n\r\n"), 404);
}

static void test_nul_bytes(void **state)
{
	static const char h1[] = "GET / HTTP/1.1\r\nHost: acme.demo.test\0.evil\r\n\r\n";
	static const char h2[] = "GET /\0 HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n";
	int status;

	(void)state;
	assert_int_equal(parse_n(h1, sizeof(h1) - 1, &status), -EBADMSG);
	assert_int_equal(status, 400);
	assert_int_equal(parse_n(h2, sizeof(h2) - 1, &status), -EBADMSG);
	assert_int_equal(status, 400);
}

static void test_cr_without_lf(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\rX-A: b\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\rHost: acme.demo.test\r\n\r\n"), 400);
}

static void test_bare_lf(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nX-A: 1\nHost: acme.demo.test\r\n\r\n"), 400);
}

static void test_obs_fold(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX-A: a\r\n b\r\n\r\n"), 400);
}

static void test_space_before_colon(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost : acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\r\n: x\r\n\r\n"), 400);
}

static void test_smuggling_cl_te(void **state)
{
	int status;

	(void)state;
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 4\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &status), -EBADMSG);
	assert_int_equal(status, 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\n"
				   "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"), 400);
}

static void test_content_length(void **state)
{
	(void)state;
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 12\r\n\r\n"), 200);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: -1\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 1 2\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 0x10\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length:\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 3\r\n"
				   "Content-Length: 3\r\n\r\n"), 400);
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nTransfer-Encoding: Chunked\r\n\r\n"), 200);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
	assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: acme.demo.test\r\nTransfer-Encoding: chunked\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"), 400);
	assert_int_equal(status_of("POST / HTTP/1.0\r\nHost: acme.demo.test\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

static void test_versions(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.0\r\nHost: acme.demo.test\r\n\r\n"), 200);
	assert_int_equal(req.minor, 0);
	assert_int_equal(status_of("GET / HTTP/2.0\r\nHost: acme.demo.test\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / HTTP/1.2\r\nHost: acme.demo.test\r\n\r\n"), 505);
	assert_int_equal(status_of("GET / HTTP/1.1 \r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / http/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("GET /\r\nHost: acme.demo.test\r\n\r\n"), 400);
}

static void test_request_line_shapes(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET  / HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("G(T / HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("GET http://acme.demo.test/ HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("OPTIONS * HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("\r\nGET / HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("CONNECT acme.demo.test:80 HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 400);
	assert_int_equal(status_of("CONNECT / HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 405);
	assert_int_equal(status_of("GETGETGETGETGETGETGETGETGETGETGETGET / HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n"), 501);
}

static char *repeat(char ch, size_t n, const char *prefix, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	char *b = malloc(p + n + s + 1);

	assert_non_null(b);
	memcpy(b, prefix, p);
	memset(b + p, ch, n);
	memcpy(b + p + n, suffix, s + 1);
	return b;
}

static void test_header_too_long(void **state)
{
	char *h = repeat('a', 20 * 1024, "GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX-Big: ", "\r\n\r\n");

	(void)state;
	assert_int_equal(status_of(h), 431);
	/* Also when the head has not ended yet: it never could in time. */
	h[PT_HTTP_HEAD_MAX] = '\0';
	assert_int_equal(status_of(h), 431);
	h[PT_HTTP_HEAD_MAX - 1] = '\0';
	assert_int_equal(status_of(h), 0);
	free(h);
}

static void test_uri_too_long(void **state)
{
	char *h = repeat('a', 9 * 1024, "GET /", " HTTP/1.1\r\nHost: acme.demo.test\r\n\r\n");

	(void)state;
	assert_int_equal(status_of(h), 414);
	h[PT_HTTP_LINE_MAX + 1] = '\0';
	assert_int_equal(status_of(h), 414);
	free(h);
}

static char *many_headers(size_t n)
{
	size_t cap = 64 + n * 16, len;
	char *b = malloc(cap);

	assert_non_null(b);
	len = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\nHost: acme.demo.test\r\n");
	for (size_t i = 1; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "X-%zu: v\r\n", i);
	snprintf(b + len, cap - len, "\r\n");
	return b;
}

static void test_header_count(void **state)
{
	char *h100 = many_headers(100), *h101 = many_headers(101);

	(void)state;
	assert_int_equal(status_of(h100), 200);
	assert_int_equal(req.n_headers, 100);
	assert_int_equal(status_of(h101), 431);
	free(h100);
	free(h101);
}

static void test_control_chars_in_value(void **state)
{
	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX-A: a\x01z\r\n\r\n"), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX-A: a\x7fz\r\n\r\n"), 400);
	/* obs-text is opaque, not an error. */
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX-A: caf\xc3\xa9\r\n\r\n"), 200);
}

static void test_forward_head(void **state)
{
	const char *in = "POST /chat HTTP/1.1\r\nHost: Acme.demo.test:18080\r\nConnection: keep-alive\r\n"
			 "X-Forwarded-For: 6.6.6.6\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nhi";
	const char *want = "POST /chat HTTP/1.1\r\nHost: Acme.demo.test:18080\r\nContent-Length: 2\r\n"
			   "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Host: Acme.demo.test:18080\r\n"
			   "X-Forwarded-Proto: http\r\nConnection: close\r\n\r\n";
	char out[PT_HTTP_HEAD_MAX + 512];
	int n;

	(void)state;
	assert_int_equal(status_of(in), 200);
	n = pt_http_forward_head(&req, "192.0.2.7", false, out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	assert_int_equal(pt_http_forward_head(&req, "192.0.2.7", false, out, 20), -ENOBUFS);
	assert_int_equal(pt_http_forward_head(&req, "192.0.2.7", false, out, (size_t)n), n);
	assert_int_equal(pt_http_forward_head(&req, "192.0.2.7", false, out, (size_t)n - 1), -ENOBUFS);
}

/* A relayed upgrade: the tenant sees what to switch to, and a Connection
 * saying so; the client's own hop-by-hop and forged headers still go. */
static void test_forward_head_upgrade(void **state)
{
	const char *in = "GET /ws HTTP/1.1\r\nHost: acme.demo.test\r\nConnection: keep-alive, Upgrade\r\n"
			 "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Keep-Alive: 5\r\nForwarded: for=6.6.6.6\r\nSec-WebSocket-Version: 13\r\n\r\n";
	const char *want = "GET /ws HTTP/1.1\r\nHost: acme.demo.test\r\nUpgrade: websocket\r\n"
			   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
			   "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Host: acme.demo.test\r\n"
			   "X-Forwarded-Proto: http\r\nConnection: Upgrade\r\n\r\n";
	char out[PT_HTTP_HEAD_MAX + 512];
	int n;

	(void)state;
	assert_int_equal(status_of(in), 200);
	n = pt_http_forward_head(&req, "192.0.2.7", true, out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	assert_int_equal(pt_http_forward_head(&req, "192.0.2.7", true, out, (size_t)n - 1), -ENOBUFS);
	/* The same request not relayed as an upgrade loses it. */
	n = pt_http_forward_head(&req, "192.0.2.7", false, out, sizeof(out));
	assert_true(n > 0);
	assert_null(memmem(out, (size_t)n, "Upgrade", 7));
	assert_non_null(memmem(out, (size_t)n, "\r\nConnection: close\r\n\r\n", 23));
}

/* Several domains: Host may be a slug under any of them, and the parse
 * says which; a slug under none is 404, naming the first. */
static void test_several_domains(void **state)
{
	const char *const domains[] = { "demo.test", "bots.example.com" };
	pt_err err = { 0 };
	int status;
	const char *a = "GET / HTTP/1.1\r\nHost: acme.Bots.Example.com\r\n\r\n";
	const char *b = "GET / HTTP/1.1\r\nHost: acme.demo.test:8443\r\n\r\n";
	const char *c = "GET / HTTP/1.1\r\nHost: acme.example.com\r\n\r\n";
	const char *d = "GET / HTTP/1.1\r\nHost: x.acme.bots.example.com\r\n\r\n";

	(void)state;
	assert_int_equal(pt_http_parse_head_in(a, strlen(a), domains, 2, &req, &status, &err), 0);
	assert_string_equal(req.slug, "acme");
	assert_int_equal(req.domain, 1);
	assert_int_equal(pt_http_parse_head_in(b, strlen(b), domains, 2, &req, &status, &err), 0);
	assert_int_equal(req.domain, 0);
	assert_true(pt_http_parse_head_in(c, strlen(c), domains, 2, &req, &status, &err) < 0);
	assert_int_equal(status, 404);
	assert_non_null(strstr(err.msg, "demo.test"));
	assert_true(pt_http_parse_head_in(d, strlen(d), domains, 2, &req, &status, &err) < 0);
	assert_int_equal(status, 404);
	/* Nested domains: a slug of the longer one is not refused by the
	 * shorter one coming first. */
	{
		const char *const nested[] = { "example.com", "bots.example.com" };
		const char *e = "GET / HTTP/1.1\r\nHost: acme.bots.example.com\r\n\r\n";

		assert_int_equal(pt_http_parse_head_in(e, strlen(e), nested, 2, &req, &status, &err), 0);
		assert_string_equal(req.slug, "acme");
		assert_int_equal(req.domain, 1);
		assert_int_equal(pt_http_parse_head_in(c, strlen(c), nested, 2, &req, &status, &err), 0);
		assert_string_equal(req.slug, "acme");
		assert_int_equal(req.domain, 0);
	}
}

/* Over HTTPS the tenant is told so; whatever the client claimed is not. */
static void test_forward_head_https(void **state)
{
	const char *in = "GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX-Forwarded-Proto: http\r\n\r\n";
	char out[PT_HTTP_HEAD_MAX + 512];
	int n;

	(void)state;
	assert_int_equal(status_of(in), 200);
	n = pt_http_forward_head_as(&req, "192.0.2.7", "https", PT_FWD_KEEP_ALIVE, out, sizeof(out));
	assert_true(n > 0);
	assert_non_null(memmem(out, (size_t)n, "\r\nX-Forwarded-Proto: https\r\n", 28));
	assert_null(memmem(out, (size_t)n, "Proto: http\r\n", 14));
}

static void test_reasons(void **state)
{
	(void)state;
	assert_string_equal(pt_http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(pt_http_reason(503), "Service Unavailable");
	assert_string_equal(pt_http_reason(308), "Permanent Redirect");
	assert_string_equal(pt_http_reason(421), "Misdirected Request");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incomplete_needs_more),
		cmocka_unit_test(test_uppercase_host_normalised),
		cmocka_unit_test(test_host_port_stripped),
		cmocka_unit_test(test_host_ows_trimmed),
		cmocka_unit_test(test_no_host),
		cmocka_unit_test(test_duplicate_host),
		cmocka_unit_test(test_other_domain),
		cmocka_unit_test(test_suffix_attack),
		cmocka_unit_test(test_nested_label),
		cmocka_unit_test(test_dots),
		cmocka_unit_test(test_invalid_slug),
		cmocka_unit_test(test_userinfo),
		cmocka_unit_test(test_ip_literals),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_cr_without_lf),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_space_before_colon),
		cmocka_unit_test(test_smuggling_cl_te),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_request_line_shapes),
		cmocka_unit_test(test_header_too_long),
		cmocka_unit_test(test_uri_too_long),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_control_chars_in_value),
		cmocka_unit_test(test_forward_head),
		cmocka_unit_test(test_forward_head_upgrade),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_several_domains),
		cmocka_unit_test(test_forward_head_https),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The request-head parser behind ptenant-ingress. See http.h.
 *
 * Grammar from RFC 9110/9112, taken at its strictest wherever leniency
 * has been a smuggling or routing bug somewhere: CRLF only (a lone CR or
 * LF is an error, not a line end), no whitespace before ':', no obs-fold,
 * no Transfer-Encoding beside Content-Length, one Host, origin-form
 * targets only (an absolute URI would carry a second authority). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* Where the parse stands while it walks the head. */
struct cursor {
	const char *buf;
	size_t pos, end;                 /* end: the head, without its last CRLF */
	int *status;
	pt_err *err;
};

static int fail(struct cursor *c, int status, const char *reason)
{
	int code = status == 404 ? -ENOENT
		 : status == 405 ? -EPERM
		 : status == 414 || status == 431 ? -EMSGSIZE
		 : status == 501 ? -EOPNOTSUPP
		 : status == 505 ? -EPROTONOSUPPORT : -EBADMSG;

	*c->status = status;
	return pt_err_field(c->err, code, "", "%s", reason);
}

bool pt_http_is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* field-vchar / SP / HTAB; obs-text (>= 0x80) passes through opaque. */
bool pt_http_is_value_char(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* The end of the line starting at pos (the index of its CR), or -1 when
 * a LF comes without CR or a CR without LF. Lines never run past the
 * head: it ends in CRLFCRLF. */
long pt_http_line_end(const char *buf, size_t pos, size_t end)
{
	for (size_t i = pos; i + 1 < end + 2; i++) {
		if (buf[i] == '\n')
			return -1;
		if (buf[i] == '\r')
			return buf[i + 1] == '\n' ? (long)i : -1;
	}
	return -1;
}

static long line_end(const struct cursor *c, size_t pos)
{
	return pt_http_line_end(c->buf, pos, c->end);
}

size_t pt_http_head_end(const char *buf, size_t len, size_t cap)
{
	size_t n = len < cap ? len : cap;

	for (size_t i = 0; i + 4 <= n; i++)
		if (buf[i] == '\r' && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

static int parse_version(struct cursor *c, const char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return fail(c, 400, "malformed HTTP version");
	if (v[5] != '1' || v[7] > '1')
		return fail(c, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	*minor = v[7] - '0';
	return 0;
}

static int parse_request_line(struct cursor *c, struct pt_http_req *req)
{
	long eol = line_end(c, 0);
	const char *p = c->buf, *e;
	size_t i = 0;

	if (eol <= 0)
		return fail(c, 400, eol == 0 ? "empty request line" : "CR or LF alone in the request line");
	e = p + eol;
	while (p + i < e && pt_http_is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || p + i >= e || p[i] != ' ')
		return fail(c, 400, "malformed method");
	if (i > PT_HTTP_METHOD_MAX)
		return fail(c, 501, "method too long");
	req->method = p;
	req->method_len = i;
	req->target = p + i + 1;
	for (i = 0; req->target + i < e && req->target[i] > 0x20 && req->target[i] < 0x7f; i++)
		;
	req->target_len = i;
	if (req->target + i >= e || req->target[i] != ' ')
		return fail(c, 400, "malformed request target");
	if (i == 0 || req->target[0] != '/')
		return fail(c, 400, "the request target must be a path starting with '/'");
	if (req->method_len == 7 && memcmp(req->method, "CONNECT", 7) == 0)
		return fail(c, 405, "CONNECT is not served: this is not a forward proxy");
	c->pos = (size_t)eol + 2;
	p = req->target + i + 1;
	return parse_version(c, p, (size_t)(e - p), &req->minor);
}

const char *pt_http_parse_field(const char *p, const char *e, struct pt_http_header *h)
{
	size_t i = 0;

	if (*p == ' ' || *p == '\t')
		return "folded header line (obs-fold)";
	while (p + i < e && pt_http_is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || p + i >= e || p[i] != ':')
		return "malformed header name (or whitespace before ':')";
	h->name = p;
	h->name_len = i;
	p += i + 1;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	for (const char *q = p; q < e; q++)
		if (!pt_http_is_value_char((unsigned char)*q))
			return "control character in a header value";
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h->value = p;
	h->value_len = (size_t)(e - p);
	return NULL;
}

static int parse_header(struct cursor *c, size_t eol, struct pt_http_header *h)
{
	const char *why = pt_http_parse_field(c->buf + c->pos, c->buf + eol, h);

	return why ? fail(c, 400, why) : 0;
}

static int parse_headers(struct cursor *c, struct pt_http_req *req)
{
	while (c->pos < c->end) {
		long eol = line_end(c, c->pos);
		int r;

		if (eol < 0)
			return fail(c, 400, "CR or LF alone in a header line");
		if (req->n_headers == PT_HTTP_HEADERS_MAX)
			return fail(c, 431, "more than 100 header fields");
		r = parse_header(c, (size_t)eol, &req->headers[req->n_headers]);
		if (r < 0)
			return r;
		req->n_headers++;
		c->pos = (size_t)eol + 2;
	}
	return 0;
}

bool pt_http_name_is(const struct pt_http_header *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static bool valid_length(const struct pt_http_header *h)
{
	if (h->value_len == 0 || h->value_len > 18)
		return false;
	for (size_t i = 0; i < h->value_len; i++)
		if (h->value[i] < '0' || h->value[i] > '9')
			return false;
	return true;
}

/* Body framing: the two headers that, disagreeing between us and the
 * tenant, would let one request hide inside another. */
static int check_framing(struct cursor *c, struct pt_http_req *req)
{
	const struct pt_http_header *cl = NULL, *te = NULL;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct pt_http_header *h = &req->headers[i];

		if (pt_http_name_is(h, "content-length")) {
			if (cl)
				return fail(c, 400, "more than one Content-Length");
			if (!valid_length(h))
				return fail(c, 400, "invalid Content-Length");
			cl = h;
		} else if (pt_http_name_is(h, "transfer-encoding")) {
			if (te)
				return fail(c, 400, "more than one Transfer-Encoding");
			te = h;
		} else if (pt_http_name_is(h, "host")) {
			if (req->host)
				return fail(c, 400, "more than one Host header");
			req->host = h;
		}
	}
	if (te && cl)
		return fail(c, 400, "both Transfer-Encoding and Content-Length (request smuggling)");
	if (te && req->minor == 0)
		return fail(c, 400, "Transfer-Encoding in an HTTP/1.0 request");
	if (te && !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
		return fail(c, 501, "only Transfer-Encoding: chunked is supported");
	if (!req->host)
		return fail(c, 400, "no Host header");
	return 0;
}

/* Lower-cases host[0..n) into out, checking it is letters, digits, '-'
 * and '.' only; strips a valid :port. Returns the host's length or <0. */
static int normalise_host(struct cursor *c, const char *v, size_t n, char *out)
{
	const char *colon = memchr(v, ':', n);
	size_t len = colon ? (size_t)(colon - v) : n;

	if (n == 0)
		return fail(c, 400, "empty Host header");
	if (memchr(v, '@', n))
		return fail(c, 400, "Host with userinfo");
	if (v[0] == '[')
		return fail(c, 404, "an IP address names no tenant");
	if (colon) {
		size_t plen = n - len - 1;
		unsigned port = 0;

		for (size_t i = 0; i < plen; i++) {
			if (colon[1 + i] < '0' || colon[1 + i] > '9')
				return fail(c, 400, "invalid port in Host");
			port = port * 10 + (unsigned)(colon[1 + i] - '0');
		}
		if (plen == 0 || plen > 5 || port > 65535)
			return fail(c, 400, "invalid port in Host");
	}
	if (len == 0 || len > PT_HTTP_HOST_MAX)
		return fail(c, 400, "invalid Host");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (!(ch == '-' || ch == '.' || (ch >= '0' && ch <= '9') ||
		      ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')))
			return fail(c, 400, "invalid character in Host");
		out[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch);
	}
	out[len] = '\0';
	return (int)len;
}

/* <slug>.<domain>, nothing else: one label under one of our domains,
 * which must be a valid slug. Anything else is "not ours" (404), never a
 * guess. */
static int route_host(struct cursor *c, struct pt_http_req *req,
		      const char *const *domains, size_t n_domains)
{
	char host[PT_HTTP_HOST_MAX + 1], msg[PT_HTTP_HOST_MAX + 128];
	int len = normalise_host(c, req->host->value, req->host->value_len, host);
	size_t slen;

	if (len < 0)
		return len;
	snprintf(msg, sizeof(msg), "host %s is not <tenant>.%s%s", host,
		 n_domains ? domains[0] : "", n_domains > 1 ? " (or another domain of ours)" : "");
	for (size_t i = 0; i < n_domains; i++) {
		size_t dlen = strlen(domains[i]);

		if ((size_t)len < dlen + 2 || host[len - dlen - 1] != '.' ||
		    strcasecmp(host + len - dlen, domains[i]) != 0)
			continue;
		slen = (size_t)len - dlen - 1;
		/* Deeper than one label: maybe a slug under a longer domain
		 * of ours (bots.example.com beside example.com). */
		if (memchr(host, '.', slen))
			continue;
		if (slen > PT_SLUG_MAX)
			return fail(c, 404, msg);
		memcpy(req->slug, host, slen);
		req->slug[slen] = '\0';
		if (pt_slug_validate(req->slug, "host", NULL) < 0) {
			req->slug[0] = '\0';
			return fail(c, 404, msg);
		}
		req->domain = i;
		return 0;
	}
	return fail(c, 404, msg);
}

/* Before the head is complete: is it already too long to ever be? */
static int check_incomplete(struct cursor *c, const char *buf, size_t len)
{
	if (len > PT_HTTP_LINE_MAX && !memmem(buf, PT_HTTP_LINE_MAX, "\r\n", 2))
		return fail(c, 414, "request line longer than 8 KiB");
	if (len >= PT_HTTP_HEAD_MAX)
		return fail(c, 431, "request head larger than 16 KiB");
	return -EAGAIN;
}

int pt_http_parse_head(const char *buf, size_t len, const char *domain,
		       struct pt_http_req *ret, int *ret_status, pt_err *err)
{
	return pt_http_parse_head_in(buf, len, &domain, 1, ret, ret_status, err);
}

int pt_http_parse_head_in(const char *buf, size_t len, const char *const *domains,
			  size_t n_domains, struct pt_http_req *ret, int *ret_status,
			  pt_err *err)
{
	struct cursor c = { .buf = buf, .status = ret_status, .err = err };
	size_t head = pt_http_head_end(buf, len, PT_HTTP_HEAD_MAX);
	int r;

	memset(ret, 0, sizeof(*ret));
	*ret_status = 0;
	if (!head)
		return check_incomplete(&c, buf, len);
	c.end = head - 2;
	if (head - 2 > PT_HTTP_LINE_MAX && !memmem(buf, PT_HTTP_LINE_MAX, "\r\n", 2))
		return fail(&c, 414, "request line longer than 8 KiB");
	r = parse_request_line(&c, ret);
	if (r == 0)
		r = parse_headers(&c, ret);
	if (r == 0)
		r = check_framing(&c, ret);
	if (r == 0)
		r = route_host(&c, ret, domains, n_domains);
	if (r < 0)
		return r;
	ret->head_len = head;
	return 0;
}

/* Not forwarded: hop-by-hop headers (the ingress owns the connection to
 * the tenant) and forwarding headers a client could forge. Upgrade is
 * hop-by-hop too, unless the request is being relayed as one: then the
 * tenant must see what it is asked to switch to. */
static bool dropped(const struct pt_http_header *h, bool upgrade)
{
	static const char *const names[] = {
		"connection", "keep-alive", "proxy-connection", "te",
		"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
		"forwarded", "x-real-ip",
	};

	if (pt_http_name_is(h, "upgrade"))
		return !upgrade;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (pt_http_name_is(h, names[i]))
			return true;
	return false;
}

void pt_http_put(struct pt_http_out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

void pt_http_puts(struct pt_http_out *o, const char *s)
{
	pt_http_put(o, s, strlen(s));
}

int pt_http_forward_head(const struct pt_http_req *req, const char *client,
			 enum pt_http_fwd mode, char *out, size_t cap)
{
	return pt_http_forward_head_as(req, client, "http", mode, out, cap);
}

int pt_http_forward_head_as(const struct pt_http_req *req, const char *client,
			    const char *proto, enum pt_http_fwd mode, char *out, size_t cap)
{
	struct pt_http_out o = { .p = out, .cap = cap };
	bool upgrade = mode == PT_FWD_UPGRADE;

	pt_http_put(&o, req->method, req->method_len);
	pt_http_puts(&o, " ");
	pt_http_put(&o, req->target, req->target_len);
	pt_http_puts(&o, req->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct pt_http_header *h = &req->headers[i];

		if (dropped(h, upgrade))
			continue;
		pt_http_put(&o, h->name, h->name_len);
		pt_http_puts(&o, ": ");
		pt_http_put(&o, h->value, h->value_len);
		pt_http_puts(&o, "\r\n");
	}
	pt_http_puts(&o, "X-Forwarded-For: ");
	pt_http_puts(&o, client);
	pt_http_puts(&o, "\r\nX-Forwarded-Host: ");
	pt_http_put(&o, req->host->value, req->host->value_len);
	pt_http_puts(&o, "\r\nX-Forwarded-Proto: ");
	pt_http_puts(&o, proto);
	pt_http_puts(&o, "\r\n");
	pt_http_puts(&o, upgrade ? "Connection: Upgrade\r\n\r\n" :
		  mode == PT_FWD_KEEP_ALIVE ? "\r\n" : "Connection: close\r\n\r\n");
	return o.full ? -ENOBUFS : (int)o.len;
}

const char *pt_http_reason(int status)
{
	switch (status) {
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* Body framing, connection reuse and the tenant's response head, for
 * ptenant-ingress. See http-response.h.
 *
 * The same strictness as http.c, for the same reason: a byte sequence we
 * accept must have one reading only. The chunked decoder is a state
 * machine fed one byte at a time (the data in bulk), so where reads split
 * the stream never changes where a body ends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-response.h"

/* The chunked decoder's states (pt_body.state). */
enum {
	CK_SIZE,                         /* the hex digits of a chunk-size line */
	CK_EXT_WS,                       /* whitespace after them: ';' must follow */
	CK_EXT,                          /* a chunk extension, up to CR */
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER,                      /* the start of a trailer line, or of the last, empty one */
	CK_TRAILER_NAME,
	CK_TRAILER_VALUE,
	CK_TRAILER_LF,
	CK_END_LF,
	CK_FAILED,
};

static void body_init(struct pt_body *b, enum pt_body_kind kind)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
}

void pt_body_none(struct pt_body *b)
{
	body_init(b, PT_BODY_NONE);
	b->done = true;
}

void pt_body_length(struct pt_body *b, uint64_t n)
{
	body_init(b, PT_BODY_LENGTH);
	b->remaining = n;
	b->done = n == 0;
}

void pt_body_chunked(struct pt_body *b)
{
	body_init(b, PT_BODY_CHUNKED);
	b->state = CK_SIZE;
}

void pt_body_until_close(struct pt_body *b)
{
	body_init(b, PT_BODY_UNTIL_CLOSE);
}

static int bad(struct pt_body *b, pt_err *err, const char *reason)
{
	b->state = CK_FAILED;
	return pt_err_field(err, -EBADMSG, "", "%s", reason);
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		return (ch | 0x20) - 'a' + 10;
	return -1;
}

/* chunk-size [ chunk-ext ] CRLF, up to its CR. The extension is checked
 * for its characters only: nothing here reads it, and CR and LF can only
 * end the line. */
static int size_line(struct pt_body *b, unsigned char ch, pt_err *err)
{
	int x = hex_value(ch);

	if (ch == '\n')
		return bad(b, err, "LF without CR in a chunk size line");
	if (ch == '\r' && b->digits > 0 && b->state != CK_EXT_WS) {
		b->state = CK_SIZE_LF;
		return 0;
	}
	if (++b->line > PT_CHUNK_LINE_MAX)
		return bad(b, err, "chunk size line longer than 4 KiB");
	if (b->state == CK_SIZE && x >= 0) {
		if (++b->digits > 16)
			return bad(b, err, "chunk size with more than 16 hex digits");
		b->size = b->size << 4 | (uint64_t)x;
		if (b->size > PT_CHUNK_SIZE_MAX)
			return bad(b, err, "chunk size over 2^62");
		return 0;
	}
	if (b->digits == 0)
		return bad(b, err, "chunk size line without a hex size");
	if (b->state != CK_EXT && (ch == ' ' || ch == '\t'))
		b->state = CK_EXT_WS;
	else if (b->state != CK_EXT && ch == ';')
		b->state = CK_EXT;
	else if (b->state != CK_EXT)
		return bad(b, err, "malformed chunk size line");
	else if (!pt_http_is_value_char(ch))
		return bad(b, err, "control character in a chunk extension");
	return 0;
}

static int trailer_byte(struct pt_body *b, pt_err *err)
{
	if (++b->trailers > PT_CHUNK_TRAILERS_MAX)
		return bad(b, err, "more than 8 KiB of trailers");
	return 0;
}

/* A trailer field line (name ':' value, as in a head), or the empty line
 * that ends the body. */
static int trailer_line(struct pt_body *b, unsigned char ch, pt_err *err)
{
	if (ch == '\n')
		return bad(b, err, "LF without CR in the trailers");
	if (ch == '\r' && b->state == CK_TRAILER) {
		b->state = CK_END_LF;
		return 0;
	}
	if (ch == '\r' && b->state == CK_TRAILER_NAME)
		return bad(b, err, "malformed trailer field (no ':')");
	if (ch == '\r') {
		b->state = CK_TRAILER_LF;
		return trailer_byte(b, err);
	}
	if (++b->line > PT_CHUNK_LINE_MAX)
		return bad(b, err, "trailer line longer than 4 KiB");
	if (trailer_byte(b, err) < 0)
		return -EBADMSG;
	if (b->state == CK_TRAILER && (ch == ' ' || ch == '\t'))
		return bad(b, err, "folded trailer line (obs-fold)");
	if (b->state == CK_TRAILER_NAME && ch == ':')
		b->state = CK_TRAILER_VALUE;
	else if (b->state != CK_TRAILER_VALUE && pt_http_is_tchar(ch))
		b->state = CK_TRAILER_NAME;
	else if (b->state != CK_TRAILER_VALUE)
		return bad(b, err, "malformed trailer field name");
	else if (!pt_http_is_value_char(ch))
		return bad(b, err, "control character in a trailer value");
	return 0;
}

/* One byte of a chunked body outside chunk data. */
static int chunk_step(struct pt_body *b, unsigned char ch, pt_err *err)
{
	switch (b->state) {
	case CK_SIZE:
	case CK_EXT_WS:
	case CK_EXT:
		return size_line(b, ch, err);
	case CK_SIZE_LF:
		if (ch != '\n')
			return bad(b, err, "CR without LF in a chunk size line");
		b->state = b->size ? CK_DATA : CK_TRAILER;
		b->remaining = b->size;
		b->line = 0;
		return 0;
	case CK_DATA_CR:
	case CK_DATA_LF:
		if (ch != (b->state == CK_DATA_CR ? '\r' : '\n'))
			return bad(b, err, "missing CRLF after chunk data");
		if (b->state == CK_DATA_CR) {
			b->state = CK_DATA_LF;
			return 0;
		}
		b->state = CK_SIZE;
		b->size = 0;
		b->digits = 0;
		return 0;
	case CK_TRAILER:
	case CK_TRAILER_NAME:
	case CK_TRAILER_VALUE:
		return trailer_line(b, ch, err);
	case CK_TRAILER_LF:
		if (ch != '\n')
			return bad(b, err, "CR without LF in the trailers");
		b->state = CK_TRAILER;
		b->line = 0;
		return trailer_byte(b, err);
	case CK_END_LF:
		if (ch != '\n')
			return bad(b, err, "CR without LF at the end of a chunked body");
		b->done = true;
		return 0;
	default:
		return bad(b, err, "chunked body already malformed");
	}
}

static ssize_t feed_chunked(struct pt_body *b, const char *p, size_t len, pt_err *err)
{
	size_t i = 0;

	if (b->state == CK_FAILED)
		return bad(b, err, "chunked body already malformed");
	while (i < len && !b->done) {
		if (b->state == CK_DATA) {
			size_t n = len - i < b->remaining ? len - i : (size_t)b->remaining;

			i += n;
			b->remaining -= n;
			if (b->remaining == 0)
				b->state = CK_DATA_CR;
			continue;
		}
		if (chunk_step(b, (unsigned char)p[i], err) < 0)
			return -EBADMSG;
		i++;
	}
	return (ssize_t)i;
}

ssize_t pt_body_feed(struct pt_body *b, const char *p, size_t len, pt_err *err)
{
	size_t n;

	switch (b->kind) {
	case PT_BODY_NONE:
		return 0;
	case PT_BODY_UNTIL_CLOSE:
		return (ssize_t)len;
	case PT_BODY_CHUNKED:
		return feed_chunked(b, p, len, err);
	case PT_BODY_LENGTH:
		break;
	}
	n = len < b->remaining ? len : (size_t)b->remaining;
	b->remaining -= n;
	b->done = b->remaining == 0;
	return (ssize_t)n;
}

/* The elements of a comma-separated list, one per call, without their
 * OWS (an empty one comes back empty); false after the last. */
static bool list_next(const char **p, const char *end, const char **elem, size_t *n)
{
	const char *s = *p, *comma, *e;

	if (!s)
		return false;
	comma = memchr(s, ',', (size_t)(end - s));
	e = comma ? comma : end;
	*p = comma ? comma + 1 : NULL;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*elem = s;
	*n = (size_t)(e - s);
	return true;
}

static bool elem_is(const char *elem, size_t n, const char *token)
{
	return n == strlen(token) && strncasecmp(elem, token, n) == 0;
}

/* Whether any header called name lists token (any case). */
static bool has_token(const struct pt_http_header *hs, size_t n_headers, const char *name,
		      const char *token)
{
	for (size_t i = 0; i < n_headers; i++) {
		const char *p = hs[i].value, *elem;
		size_t n;

		if (!pt_http_name_is(&hs[i], name))
			continue;
		while (list_next(&p, hs[i].value + hs[i].value_len, &elem, &n))
			if (elem_is(elem, n, token))
				return true;
	}
	return false;
}

static const struct pt_http_header *find(const struct pt_http_header *hs, size_t n_headers,
					 const char *name)
{
	for (size_t i = 0; i < n_headers; i++)
		if (pt_http_name_is(&hs[i], name))
			return &hs[i];
	return NULL;
}

/* A Content-Length the parsers validated: at most 18 digits, no overflow. */
static uint64_t length_of(const struct pt_http_header *h)
{
	uint64_t n = 0;

	for (size_t i = 0; i < h->value_len; i++)
		n = n * 10 + (uint64_t)(h->value[i] - '0');
	return n;
}

void pt_http_req_body(const struct pt_http_req *req, struct pt_body *ret)
{
	const struct pt_http_header *cl = find(req->headers, req->n_headers, "content-length");

	if (find(req->headers, req->n_headers, "transfer-encoding"))
		pt_body_chunked(ret);
	else if (cl)
		pt_body_length(ret, length_of(cl));
	else
		pt_body_none(ret);
}

bool pt_http_resp_keep_alive(const struct pt_http_resp *resp)
{
	return resp->minor == 1 && !has_token(resp->headers, resp->n_headers, "connection", "close");
}

bool pt_http_req_keep_alive(const struct pt_http_req *req)
{
	return req->minor == 1 && !has_token(req->headers, req->n_headers, "connection", "close");
}

/* HTTP/1.0 has no Upgrade (RFC 9110 7.8: a server ignores it there). */
bool pt_http_req_upgrade(const struct pt_http_req *req, const char **proto, size_t *len)
{
	const struct pt_http_header *up = NULL;
	bool token = false;

	if (req->minor != 1 || !has_token(req->headers, req->n_headers, "connection", "upgrade"))
		return false;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!pt_http_name_is(&req->headers[i], "upgrade"))
			continue;
		if (up)
			return false;
		up = &req->headers[i];
	}
	if (!up)
		return false;
	for (size_t i = 0; i < up->value_len; i++) {
		unsigned char ch = (unsigned char)up->value[i];

		if (pt_http_is_tchar(ch))
			token = true;
		else if (!strchr("/, \t", ch) || !ch)
			return false;
	}
	if (!token)
		return false;
	if (proto)
		*proto = up->value;
	if (len)
		*len = up->value_len;
	return true;
}

/* Where the parse of a response head stands. */
struct cursor {
	const char *buf;
	size_t pos, end;                 /* end: the head, without its last CRLF */
	pt_err *err;
};

static int fail(pt_err *err, const char *reason)
{
	return pt_err_field(err, -EBADMSG, "", "%s", reason);
}

/* A LF without CR, or a CR followed by anything but LF, in buf[0..n). */
static bool stray_cr_lf(const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return true;
		if (buf[i] == '\r' && i + 1 < n && buf[i + 1] != '\n')
			return true;
	}
	return false;
}

/* Before the head is complete: can it still become valid? Refusing early
 * spares waiting for 16 KiB from a backend that does not speak HTTP/1. */
static int check_incomplete(const char *buf, size_t len, pt_err *err)
{
	size_t n = len < 8 ? len : 8;

	if (memcmp(buf, "HTTP/1.0", n) != 0 && memcmp(buf, "HTTP/1.1", n) != 0)
		return fail(err, "not an HTTP/1.0 or HTTP/1.1 response");
	if (stray_cr_lf(buf, len < PT_HTTP_RESP_HEAD_MAX ? len : PT_HTTP_RESP_HEAD_MAX))
		return fail(err, "CR or LF alone in the response head");
	if (len >= PT_HTTP_RESP_HEAD_MAX)
		return fail(err, "response head larger than 16 KiB");
	return -EAGAIN;
}

static long line_end(const struct cursor *c, size_t pos)
{
	return pt_http_line_end(c->buf, pos, c->end);
}

/* HTTP-version SP 3DIGIT SP reason-phrase; a line ending right after the
 * status is taken too, as the reason is never read. */
static int parse_status_line(struct cursor *c, struct pt_http_resp *resp)
{
	long eol = line_end(c, 0);
	const char *p = c->buf;

	if (eol < 0)
		return fail(c->err, "CR or LF alone in the status line");
	if (eol < 8 || (memcmp(p, "HTTP/1.0", 8) != 0 && memcmp(p, "HTTP/1.1", 8) != 0))
		return fail(c->err, "not an HTTP/1.0 or HTTP/1.1 response");
	resp->minor = p[7] - '0';
	if (eol < 12 || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (eol > 12 && p[12] != ' '))
		return fail(c->err, "status code is not 3 digits 100-599");
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	resp->reason = p + (eol > 12 ? 13 : 12);
	resp->reason_len = eol > 12 ? (size_t)eol - 13 : 0;
	for (size_t i = 0; i < resp->reason_len; i++)
		if (!pt_http_is_value_char((unsigned char)resp->reason[i]))
			return fail(c->err, "control character in the reason phrase");
	c->pos = (size_t)eol + 2;
	return 0;
}

static int parse_header(struct cursor *c, size_t eol, struct pt_http_header *h)
{
	const char *why = pt_http_parse_field(c->buf + c->pos, c->buf + eol, h);

	return why ? fail(c->err, why) : 0;
}

static int parse_headers(struct cursor *c, struct pt_http_resp *resp)
{
	while (c->pos < c->end) {
		long eol = line_end(c, c->pos);
		int r;

		if (eol < 0)
			return fail(c->err, "CR or LF alone in a header line");
		if (resp->n_headers == PT_HTTP_HEADERS_MAX)
			return fail(c->err, "more than 100 header fields");
		r = parse_header(c, (size_t)eol, &resp->headers[resp->n_headers]);
		if (r < 0)
			return r;
		resp->n_headers++;
		c->pos = (size_t)eol + 2;
	}
	return 0;
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

/* The codings of all Transfer-Encoding headers, as one list: chunked must
 * be the last, and only there (applying it twice is not a framing). */
static int check_codings(struct cursor *c, const struct pt_http_resp *resp)
{
	bool last_chunked = false;

	for (size_t i = 0; i < resp->n_headers; i++) {
		const struct pt_http_header *h = &resp->headers[i];
		const char *p = h->value, *elem;
		size_t n;

		if (!pt_http_name_is(h, "transfer-encoding"))
			continue;
		while (list_next(&p, h->value + h->value_len, &elem, &n)) {
			if (last_chunked)
				return fail(c->err, "chunked is not the last transfer coding");
			if (n == 0)
				return fail(c->err, "empty transfer coding");
			last_chunked = elem_is(elem, n, "chunked");
		}
	}
	if (!last_chunked)
		return fail(c->err, "Transfer-Encoding whose last coding is not chunked");
	return 0;
}

/* The two headers that, read differently by us and by the client, would
 * let a tenant end its response somewhere the client does not. */
static int check_framing(struct cursor *c, const struct pt_http_resp *resp)
{
	const struct pt_http_header *cl = NULL, *te = NULL;

	for (size_t i = 0; i < resp->n_headers; i++) {
		const struct pt_http_header *h = &resp->headers[i];

		if (pt_http_name_is(h, "content-length")) {
			if (!valid_length(h))
				return fail(c->err, "invalid Content-Length");
			if (cl && (cl->value_len != h->value_len ||
				   memcmp(cl->value, h->value, h->value_len) != 0))
				return fail(c->err, "Content-Length repeated with different values");
			cl = h;
		} else if (pt_http_name_is(h, "transfer-encoding")) {
			te = h;
		}
	}
	if (te && cl)
		return fail(c->err, "both Transfer-Encoding and Content-Length");
	if (te && resp->minor == 0)
		return fail(c->err, "Transfer-Encoding in an HTTP/1.0 response");
	return te ? check_codings(c, resp) : 0;
}

int pt_http_parse_response_head(const char *buf, size_t len, struct pt_http_resp *ret,
				pt_err *err)
{
	struct cursor c = { .buf = buf, .err = err };
	size_t head = pt_http_head_end(buf, len, PT_HTTP_RESP_HEAD_MAX);
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!head)
		return check_incomplete(buf, len, err);
	c.end = head - 2;
	r = parse_status_line(&c, ret);
	if (r == 0)
		r = parse_headers(&c, ret);
	if (r == 0)
		r = check_framing(&c, ret);
	if (r < 0)
		return r;
	ret->head_len = head;
	return 0;
}

void pt_http_resp_body(const struct pt_http_resp *resp, bool to_head_request,
		       struct pt_body *ret)
{
	const struct pt_http_header *cl = find(resp->headers, resp->n_headers, "content-length");

	if (to_head_request || resp->status < 200 || resp->status == 204 || resp->status == 304)
		pt_body_none(ret);
	else if (find(resp->headers, resp->n_headers, "transfer-encoding"))
		pt_body_chunked(ret);
	else if (cl)
		pt_body_length(ret, length_of(cl));
	else
		pt_body_until_close(ret);
}

/* Not forwarded to the client: hop-by-hop headers (the ingress owns its
 * connection to the client), then any the ingress sets itself. A 101's
 * Upgrade says what the tunnel now carries: the client needs it. */
static bool resp_dropped(const struct pt_http_header *h, int status)
{
	static const char *const names[] = {
		"connection", "keep-alive", "proxy-connection", "te", "upgrade",
		/* Ingress-owned: none yet. */
	};

	if (status == 101 && pt_http_name_is(h, "upgrade"))
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (pt_http_name_is(h, names[i]))
			return true;
	return false;
}


int pt_http_forward_response_head(const struct pt_http_resp *resp, bool close, char *out,
				  size_t cap)
{
	return pt_http_forward_response_head_hsts(resp, close, NULL, out, cap);
}

/* Connection: close on an interim response would be read as ending a
 * connection that still has the final response to carry. The operator's
 * HSTS policy is the domain's, not a tenant's: the tenant's header goes. */
int pt_http_forward_response_head_hsts(const struct pt_http_resp *resp, bool close,
				       const char *hsts, char *out, size_t cap)
{
	struct pt_http_out o = { .p = out, .cap = cap };
	char status[8];

	snprintf(status, sizeof(status), "%03d ", resp->status % 1000);
	pt_http_puts(&o, "HTTP/1.1 ");
	pt_http_puts(&o, status);
	pt_http_put(&o, resp->reason, resp->reason_len);
	pt_http_puts(&o, "\r\n");
	for (size_t i = 0; i < resp->n_headers; i++) {
		const struct pt_http_header *h = &resp->headers[i];

		if (resp_dropped(h, resp->status) ||
		    (hsts && pt_http_name_is(h, "strict-transport-security")))
			continue;
		pt_http_put(&o, h->name, h->name_len);
		pt_http_puts(&o, ": ");
		pt_http_put(&o, h->value, h->value_len);
		pt_http_puts(&o, "\r\n");
	}
	if (hsts && resp->status >= 200) {
		pt_http_puts(&o, "Strict-Transport-Security: ");
		pt_http_puts(&o, hsts);
		pt_http_puts(&o, "\r\n");
	}
	if (resp->status == 101)
		pt_http_puts(&o, "Connection: Upgrade\r\n");
	else if (close && resp->status >= 200)
		pt_http_puts(&o, "Connection: close\r\n");
	pt_http_puts(&o, "\r\n");
	return o.full ? -ENOBUFS : (int)o.len;
}

int pt_http_parse_status_line(const char *buf, size_t len, int *status, size_t *line_len)
{
	static const char version[] = "HTTP/1.";
	const char *lf = memchr(buf, '\n', len < PT_HTTP_STATUS_LINE_MAX ? len : PT_HTTP_STATUS_LINE_MAX);
	size_t n = lf ? (size_t)(lf - buf) : len, end;
	int code = 0;

	/* A CR at the end may be the CR of CRLF. */
	if (n > 0 && buf[n - 1] == '\r' && (lf || n == len))
		n--;
	end = n;
	/* Each fixed part, as far as it has come. */
	for (size_t i = 0; i < 7 && i < end; i++)
		if (buf[i] != version[i])
			return -EBADMSG;
	if (end > 7 && buf[7] != '0' && buf[7] != '1')
		return -EBADMSG;
	if (end > 8 && buf[8] != ' ')
		return -EBADMSG;
	for (size_t i = 9; i < 12 && i < end; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
		code = code * 10 + (buf[i] - '0');
	}
	if (end > 12 && buf[12] != ' ')
		return -EBADMSG;
	for (size_t i = 13; i < end; i++)
		if ((unsigned char)buf[i] < 0x20 ? buf[i] != '\t' : buf[i] == 0x7f)
			return -EBADMSG;
	if (!lf)
		return len < PT_HTTP_STATUS_LINE_MAX ? -EAGAIN : -EBADMSG;
	if (end < 12 || code < 100 || code > 599)
		return -EBADMSG;
	*status = code;
	*line_len = (size_t)(lf - buf) + 1;
	return 0;
}

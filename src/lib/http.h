/* A strict, bounded parser of HTTP/1.x request heads, for ptenant-ingress.
 * Pure: no I/O, no allocation; the request points into the caller's
 * buffer. Everything a front door must not be lenient about (smuggling,
 * folding, stray CR, a Host that is not one of ours) is an error with the
 * status to answer, so a request the parser accepts means one thing to
 * the ingress and to the tenant behind it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "ptenant/spec.h"

#define PT_HTTP_HEAD_MAX (16 * 1024)     /* request line + headers + CRLF */
#define PT_HTTP_LINE_MAX (8 * 1024)      /* the request line: 414 past it */
#define PT_HTTP_HEADERS_MAX 100
#define PT_HTTP_METHOD_MAX 32
#define PT_HTTP_HOST_MAX 255

struct pt_http_header {
	const char *name, *value;        /* value without surrounding OWS */
	size_t name_len, value_len;
};

struct pt_http_req {
	const char *method, *target;
	size_t method_len, target_len;
	int minor;                       /* HTTP/1.<minor>: 0 or 1 */
	size_t head_len;                 /* through the empty line */
	struct pt_http_header headers[PT_HTTP_HEADERS_MAX];
	size_t n_headers;
	const struct pt_http_header *host;
	char slug[PT_SLUG_MAX + 1];      /* from Host, validated */
	size_t domain;                   /* which of the domains Host is under */
};

/* Parses the head at the start of buf[0..len). Returns 0 with *ret filled
 * when a complete, valid head is there; -EAGAIN when more bytes are
 * needed (and can still fit); any other negative errno with *ret_status
 * the HTTP status to answer (400, 404, 405, 414, 431, 501, 505) and err
 * a one-line reason. domain is the ingress's own, lower case; a Host of
 * <slug>.<domain> (any case, optional :port) is the only one accepted. */
int pt_http_parse_head(const char *buf, size_t len, const char *domain,
		       struct pt_http_req *ret, int *ret_status, pt_err *err);
/* The same with several domains (an ingress serving more than one): Host
 * may be <slug>.<any of them>; ret->domain says which. */
int pt_http_parse_head_in(const char *buf, size_t len, const char *const *domains,
			  size_t n_domains, struct pt_http_req *ret, int *ret_status,
			  pt_err *err);

/* The head to send the tenant: the client's, minus hop-by-hop headers and
 * any X-Forwarded-* it sent, plus X-Forwarded-For (client), X-Forwarded-
 * Host and Connection: close. With upgrade (a request pt_http_req_upgrade
 * accepted), the client's Upgrade header stays and the head ends with
 * Connection: Upgrade instead. Returns its length, or -ENOBUFS when cap is
 * too small (PT_HTTP_HEAD_MAX + 512 always suffices). */
enum pt_http_fwd {
	PT_FWD_CLOSE = 0,        /* Connection: close: one request, then the tenant closes */
	PT_FWD_UPGRADE = 1,      /* the client's Upgrade kept, Connection: Upgrade */
	PT_FWD_KEEP_ALIVE = 2,   /* no Connection header: HTTP/1.1's keep-alive, so the
				    ingress may send this tenant another request on it */
};
int pt_http_forward_head(const struct pt_http_req *req, const char *client,
			 enum pt_http_fwd mode, char *out, size_t cap);
/* The same, with X-Forwarded-Proto: proto ("http" or "https": how the
 * client reached the ingress). */
int pt_http_forward_head_as(const struct pt_http_req *req, const char *client,
			    const char *proto, enum pt_http_fwd mode, char *out, size_t cap);

const char *pt_http_reason(int status);

/* The first CRLFCRLF of buf within its first cap bytes: the offset just
 * past it, or 0 when there is none (yet). */
size_t pt_http_head_end(const char *buf, size_t len, size_t cap);

/* The end of the line of buf starting at pos (the index of its CR), or -1
 * when a LF comes without CR or a CR without LF; end is where the head's
 * last line ends (its CRLFCRLF follows). */
long pt_http_line_end(const char *buf, size_t pos, size_t end);

/* One header field line [p, e) (no CRLF) into *h, strictly (no obs-fold,
 * a token name right before ':', no control character in the value, OWS
 * trimmed): NULL, or why not. Shared by the request and response parsers. */
const char *pt_http_parse_field(const char *p, const char *e, struct pt_http_header *h);

/* A bounded writer of heads: once something does not fit, full is set
 * and nothing more is written (the caller says -ENOBUFS). */
struct pt_http_out {
	char *p;
	size_t len, cap;
	bool full;
};
void pt_http_put(struct pt_http_out *o, const char *s, size_t n);
void pt_http_puts(struct pt_http_out *o, const char *s);

/* RFC 9110's token characters and field-value characters (obs-text
 * passes), and a case-insensitive header name match: shared with the
 * response side (http-response.c). */
bool pt_http_is_tchar(unsigned char ch);
bool pt_http_is_value_char(unsigned char ch);
bool pt_http_name_is(const struct pt_http_header *h, const char *name);

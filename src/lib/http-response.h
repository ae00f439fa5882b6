/* The rest of HTTP/1.x that ptenant-ingress needs once it relays more
 * than one request head: where a body ends (counted, never rewritten),
 * whether a client connection may carry another request, WebSocket
 * upgrades, and the tenant's response head. Pure, like http.h: no I/O,
 * no allocation, results point into the caller's buffer.
 *
 * The tenant is as untrusted as the client: whatever it sends must end,
 * for the ingress, exactly where it ends for the client, or one tenant
 * could answer a request the client sends next on the same connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "http.h"

#define PT_CHUNK_LINE_MAX 4096            /* a chunk-size or trailer line, without CRLF */
#define PT_CHUNK_TRAILERS_MAX (8 * 1024)  /* the whole trailer section */
#define PT_CHUNK_SIZE_MAX (UINT64_C(1) << 62)

/* Where a message body ends, found by counting its bytes (never changing
 * them). */
enum pt_body_kind {
	PT_BODY_NONE = 0,
	PT_BODY_LENGTH,
	PT_BODY_CHUNKED,
	PT_BODY_UNTIL_CLOSE,
};

struct pt_body {
	enum pt_body_kind kind;
	uint64_t remaining;              /* LENGTH: bytes left; CHUNKED: of this chunk's data */
	/* The chunked decoder, private to http-response.c: where it is in the
	 * grammar, the size being read, and how long the current line and the
	 * trailer section are so far. */
	unsigned state;
	unsigned digits;
	uint64_t size;
	size_t line, trailers;
	bool done;                       /* the body is complete (NONE and LENGTH 0 start done) */
};

void pt_body_none(struct pt_body *b);
void pt_body_length(struct pt_body *b, uint64_t n);
void pt_body_chunked(struct pt_body *b);
void pt_body_until_close(struct pt_body *b);

/* Feeds the next len bytes of the stream. Returns how many of them belong
 * to the body (fewer than len only once b->done: the rest is the next
 * message), or -EBADMSG with err saying what is wrong; a chunked body
 * that failed keeps failing. Chunked is RFC 9112 7.1 taken strictly:
 * CRLF only, 1 to 16 hex digits up to 2^62, chunk extensions (";name=
 * value", not interpreted) and trailer fields within PT_CHUNK_LINE_MAX a
 * line and PT_CHUNK_TRAILERS_MAX in all; done is set after the CRLF of
 * the empty line ending the trailers. UNTIL_CLOSE is never done: the
 * caller ends it at EOF. Any split of the stream gives the same result. */
ssize_t pt_body_feed(struct pt_body *b, const char *p, size_t len, pt_err *err);

/* The request's body framing, from the Content-Length or Transfer-Encoding
 * pt_http_parse_head validated: LENGTH, CHUNKED, or NONE. */
void pt_http_req_body(const struct pt_http_req *req, struct pt_body *ret);

/* Whether the client lets its connection carry another request after
 * this one: HTTP/1.1 without a "close" token in Connection (any case, any
 * of several headers). HTTP/1.0 never: we do not do 1.0 keep-alive. */
bool pt_http_req_keep_alive(const struct pt_http_req *req);

/* A protocol upgrade request (WebSocket): HTTP/1.1, an "upgrade" token in
 * Connection and exactly one Upgrade header whose value is a non-empty
 * list of protocols (token characters, '/', ',' and OWS only). Sets
 * *proto and *len (either may be NULL) to that value. */
bool pt_http_req_upgrade(const struct pt_http_req *req, const char **proto, size_t *len);

#define PT_HTTP_RESP_HEAD_MAX (16 * 1024)
/* pt_http_forward_response_head never needs more than this. */
#define PT_HTTP_RESP_FORWARD_MAX (PT_HTTP_RESP_HEAD_MAX + 256)

struct pt_http_resp {
	int minor;                       /* HTTP/1.<minor>: 0 or 1 */
	int status;                      /* 100..599 */
	const char *reason;              /* may be empty */
	size_t reason_len;
	size_t head_len;                 /* through the empty line */
	struct pt_http_header headers[PT_HTTP_HEADERS_MAX];
	size_t n_headers;
};

/* Parses the tenant's response head at the start of buf[0..len). Returns
 * 0 with *ret filled; -EAGAIN when incomplete and still possibly valid;
 * -EBADMSG with err naming the problem (version other than HTTP/1.0 or
 * 1.1, status other than 3 digits 100-599, obs-fold, CR or LF alone,
 * control characters in values, bad header names, more than
 * PT_HTTP_HEADERS_MAX headers or PT_HTTP_RESP_HEAD_MAX bytes, an invalid
 * Content-Length or two that differ, Transfer-Encoding beside Content-
 * Length or in HTTP/1.0, or not ending in one chunked coding). A 1xx
 * other than 101 is interim: the final response head follows it. */
int pt_http_parse_response_head(const char *buf, size_t len, struct pt_http_resp *ret,
				pt_err *err);

/* The status line alone, for ptenantd's health checks: "HTTP/1.0" or
 * "HTTP/1.1", SP, three digits 100-599, then SP and a reason of visible
 * characters, spaces and tabs, or nothing, then CRLF (or LF). Returns 0
 * with *status and *line_len (through the LF) set; -EAGAIN when no LF has
 * come yet and what came can still start one; -EBADMSG otherwise,
 * including a line longer than PT_HTTP_STATUS_LINE_MAX. */
#define PT_HTTP_STATUS_LINE_MAX 256
int pt_http_parse_status_line(const char *buf, size_t len, int *status, size_t *line_len);

/* Whether the tenant lets its connection carry another request: HTTP/1.1
 * without a "close" token in Connection. */
bool pt_http_resp_keep_alive(const struct pt_http_resp *resp);

/* Its body framing (RFC 9112 6.3): NONE for a response to HEAD, a 1xx
 * (101 included: the connection becomes a tunnel), 204 and 304; CHUNKED
 * with Transfer-Encoding; LENGTH with Content-Length; else UNTIL_CLOSE,
 * whose head must then be forwarded with close. */
void pt_http_resp_body(const struct pt_http_resp *resp, bool to_head_request,
		       struct pt_body *ret);

/* The head to send the client: "HTTP/1.1 <status> <reason>", the tenant's
 * headers minus hop-by-hop ones (Connection, Keep-Alive, Proxy-Connection,
 * TE, Upgrade, but a 101 keeps its Upgrade) and any the ingress owns, then
 * "Connection: Upgrade" for a 101, or "Connection: close" when close is
 * set on a final (non-1xx) response. Returns its length, or -ENOBUFS when
 * cap is too small (PT_HTTP_RESP_FORWARD_MAX always suffices). */
int pt_http_forward_response_head(const struct pt_http_resp *resp, bool close, char *out,
				  size_t cap);
/* The same, plus "Strict-Transport-Security: <hsts>" on a final response
 * when hsts is not NULL (the tenant's own such header is dropped). hsts
 * must be at most PT_HTTP_HSTS_MAX bytes. */
#define PT_HTTP_HSTS_MAX 96
int pt_http_forward_response_head_hsts(const struct pt_http_resp *resp, bool close,
				       const char *hsts, char *out, size_t cap);

/* The control API: JSON over a Unix stream socket, one request and one
 * response per line (see ptenantd(8), "CONTROL API").
 *
 *   -> {"op":"create","spec":{...}}
 *   <- {"ok":true,"tenant":{...}}
 *   <- {"ok":false,"error":{"kind":"invalid","field":"slug","message":"..."}}
 *
 * `exec` passes the caller's stdin/stdout/stderr along with the request
 * (SCM_RIGHTS), so the command talks to the caller's terminal directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct json_t;

/* Limits of the API (ptenantd(8), CONTROL API). A request line: a create
 * at every size limit of ptenant-spec(5) (64 secrets of 64 KiB, 256 env
 * values of 32 KiB, 256 args of 4 KiB: about 13 MiB of printable text)
 * fits, so the cap is not 1 MiB. */
#define PT_API_LINE_MAX (16 * 1024 * 1024)
#define PT_API_MAX_FDS 3
/* Connections at once (running execs and stop/rm waits included); one
 * more is answered "busy" and closed. */
#define PT_API_CONNS_MAX 128
/* Unfinished request bytes: each connection's first PT_API_HELD_FREE are
 * its own, beyond that all connections share PT_API_HELD_MAX, so a few
 * large requests cannot make the daemon hold gigabytes, and a normal
 * request always fits. */
#define PT_API_HELD_FREE (64 * 1024)
#define PT_API_HELD_MAX (32 * 1024 * 1024)

/* Incremental reader of newline-terminated records with a hard cap, so a
 * peer that never sends '\n' costs at most PT_API_LINE_MAX bytes. */
struct pt_linebuf {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
};

void pt_linebuf_init(struct pt_linebuf *lb, size_t max);
void pt_linebuf_free(struct pt_linebuf *lb);
/* Appends bytes. -E2BIG when the pending record would exceed max. */
int pt_linebuf_feed(struct pt_linebuf *lb, const char *data, size_t len);
/* Pops the next complete record (without '\n', NUL-terminated, malloc'd)
 * into *ret; returns 1 when one was popped, 0 when none is complete. */
int pt_linebuf_pop(struct pt_linebuf *lb, char **ret, size_t *ret_len);

/* Parses one request line: must be a JSON object with a string "op".
 * Errors name what is wrong (for the error response). */
int pt_api_parse_request(const char *line, size_t len, struct json_t **ret,
			 const char **ret_op, pt_err *err);

/* The field path ("spec.env.FOO", "args[2]") of what is at byte pos of a
 * JSON text, for the parser's errors that say only where: the key last
 * read in each enclosing object, the element of each array. The text up
 * to pos is taken as well-formed; "" at the top level. */
void pt_json_path_at(const char *text, size_t len, size_t pos, char *buf, size_t size);

/* {"ok":false,"error":{...}} from a pt_err. */
struct json_t *pt_api_error_response(const pt_err *err);
struct json_t *pt_api_ok_response(void);

/* Client side. */
int pt_api_connect(const char *socket_path, pt_err *err);
/* Sends one request (with fds, n_fds may be 0) and reads one response. */
int pt_api_call(int fd, struct json_t *req, const int *fds, size_t n_fds,
		struct json_t **ret_resp, pt_err *err);
/* Writes a JSON value as one line. */
int pt_api_send(int fd, struct json_t *msg, const int *fds, size_t n_fds,
		pt_err *err);

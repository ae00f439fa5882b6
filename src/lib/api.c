#include "api.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

void pt_linebuf_init(struct pt_linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max;
}

void pt_linebuf_free(struct pt_linebuf *lb)
{
	free(lb->buf);
	lb->buf = NULL;
	lb->len = lb->cap = 0;
}

int pt_linebuf_feed(struct pt_linebuf *lb, const char *data, size_t len)
{
	const char *nl;
	size_t pending;

	/* Only the record still missing its '\n' counts against the cap. */
	nl = lb->len ? memrchr(lb->buf, '\n', lb->len) : NULL;
	pending = nl ? lb->len - (size_t)(nl - lb->buf) - 1 : lb->len;
	nl = memchr(data, '\n', len);
	if (!nl && pending + len > lb->max)
		return -E2BIG;
	if (nl && pending + (size_t)(nl - data) > lb->max)
		return -E2BIG;
	if (lb->len + len + 1 > lb->cap) {
		size_t cap = lb->cap ? lb->cap : 4096;
		char *nb;

		while (cap < lb->len + len + 1)
			cap *= 2;
		nb = realloc(lb->buf, cap);
		if (!nb)
			return -ENOMEM;
		lb->buf = nb;
		lb->cap = cap;
	}
	memcpy(lb->buf + lb->len, data, len);
	lb->len += len;
	return 0;
}

int pt_linebuf_pop(struct pt_linebuf *lb, char **ret, size_t *ret_len)
{
	char *nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;
	size_t n;
	char *line;

	if (!nl)
		return 0;
	n = (size_t)(nl - lb->buf);
	if (n > lb->max)
		return -E2BIG;
	line = malloc(n + 1);
	if (!line)
		return -ENOMEM;
	memcpy(line, lb->buf, n);
	line[n] = '\0';
	memmove(lb->buf, nl + 1, lb->len - n - 1);
	lb->len -= n + 1;
	*ret = line;
	if (ret_len)
		*ret_len = n;
	return 1;
}

/* ---- where in a JSON text ---------------------------------------------- */

#define PATH_DEPTH 32

struct path_frame {
	bool object;
	bool expect_key;         /* object: the next string is a key */
	bool have_key;
	char key[PT_ERR_FIELD_MAX];
	size_t index;            /* array: the element we are in */
};

static void path_format(const struct path_frame *f, size_t depth, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < depth && used < size; i++) {
		if (f[i].object && !f[i].have_key)
			break;
		if (f[i].object)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "." : "",
						 f[i].key);
		else
			used += (size_t)snprintf(buf + used, size - used, "[%zu]", f[i].index);
	}
}

/* One character outside a string: brackets open and close frames, ':'
 * and ',' move between keys, values and elements. */
static void path_step(struct path_frame *f, size_t *depth, char c)
{
	struct path_frame *top = *depth ? &f[*depth - 1] : NULL;

	if ((c == '{' || c == '[') && *depth < PATH_DEPTH) {
		f[*depth] = (struct path_frame){ .object = c == '{', .expect_key = c == '{' };
		(*depth)++;
	} else if ((c == '}' || c == ']') && *depth) {
		(*depth)--;
	} else if (c == ':' && top && top->object) {
		top->expect_key = false;
	} else if (c == ',' && top) {
		top->expect_key = top->object;
		top->have_key = top->have_key && !top->object;
		top->index += !top->object;
	}
}

void pt_json_path_at(const char *text, size_t len, size_t pos, char *buf, size_t size)
{
	struct path_frame f[PATH_DEPTH];
	size_t depth = 0, klen = 0;
	bool in_string = false, escape = false, is_key = false;

	for (size_t i = 0; i < len && i < pos; i++) {
		char c = text[i];
		struct path_frame *top = depth ? &f[depth - 1] : NULL;

		if (!in_string) {
			if (c == '"') {
				in_string = true;
				is_key = top && top->object && top->expect_key;
				klen = 0;
			} else {
				path_step(f, &depth, c);
			}
			continue;
		}
		if (!escape && c == '"') {
			in_string = false;
			if (is_key) {
				top->key[klen] = '\0';
				top->have_key = true;
			}
			continue;
		}
		escape = !escape && c == '\\';
		if (is_key && klen + 1 < sizeof(top->key))
			top->key[klen++] = c;
	}
	path_format(f, depth, buf, size);
}

/* The parser's complaints that are about one field (a duplicate key, an
 * integer past 64 bits, a NUL in a string) name it; the rest name the
 * column. Never the parser's own flag names. */
static int json_error(const char *line, size_t len, const json_error_t *jerr, pt_err *err)
{
	/* An if chain below: -Wswitch-enum would want all of jansson's codes. */
	enum json_error_code code = json_error_code(jerr);
	size_t pos = jerr->position > 0 ? (size_t)jerr->position : 0;
	char field[PT_ERR_FIELD_MAX];

	pt_json_path_at(line, len, pos, field, sizeof(field));
	if (code == json_error_duplicate_key)
		return pt_err_field(err, -EINVAL, field, "request is not valid JSON: key %s "
				    "appears twice (column %d)", field[0] ? field : "?", jerr->column);
	if (code == json_error_numeric_overflow)
		return pt_err_field(err, -EINVAL, field, "%s: integer out of range (at most "
				    "64 bits: -2^63 to 2^63-1)", field[0] ? field : "request");
	if (code == json_error_null_character)
		return pt_err_field(err, -EINVAL, field, "%s: a string holds a NUL byte (\\u0000)",
				    field[0] ? field : "request");
	return pt_err_field(err, -EINVAL, "", "request is not valid JSON (column %d: %s)",
			    jerr->column, jerr->text);
}

int pt_api_parse_request(const char *line, size_t len, json_t **ret,
			 const char **ret_op, pt_err *err)
{
	json_error_t jerr;
	json_t *req, *op;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return json_error(line, len, &jerr, err);
	if (!json_is_object(req)) {
		json_decref(req);
		return pt_err_field(err, -EINVAL, "", "request must be a JSON object");
	}
	op = json_object_get(req, "op");
	if (!json_is_string(op)) {
		json_decref(req);
		return pt_err_field(err, -EINVAL, "op", "request needs a string field \"op\"");
	}
	*ret_op = json_string_value(op);
	*ret = req;
	return 0;
}

json_t *pt_api_error_response(const pt_err *err)
{
	json_t *e = json_pack("{s:s, s:s}", "kind", pt_err_kind(err->code),
			      "message", err->msg[0] ? err->msg : strerror(-err->code));

	if (e && err->field[0])
		json_object_set_new(e, "field", json_string(err->field));
	return json_pack("{s:b, s:o}", "ok", 0, "error", e);
}

json_t *pt_api_ok_response(void)
{
	return json_pack("{s:b}", "ok", 1);
}

int pt_api_connect(const char *socket_path, pt_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return pt_err_set(err, -ENAMETOOLONG, "socket path %s", socket_path);
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pt_err_set(err, -errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return pt_err_set(err, -errno, "connect to ptenantd at %s", socket_path);
	return TAKE_FD(fd);
}

static int send_all(int fd, const char *buf, size_t len, const int *fds,
		    size_t n_fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * PT_API_MAX_FDS)];
	size_t off = 0;

	while (off < len) {
		struct iovec iov = { (char *)buf + off, len - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (off == 0 && n_fds > 0) {
			struct cmsghdr *c;

			memset(cbuf, 0, sizeof(cbuf));
			mh.msg_control = cbuf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

int pt_api_send(int fd, json_t *msg, const int *fds, size_t n_fds, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (n_fds > PT_API_MAX_FDS)
		return pt_err_set(err, -EINVAL, "too many fds to pass");
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format request");
	len = strlen(text);
	text[len] = '\n'; /* json_dumps leaves room: we replace the NUL */
	r = send_all(fd, text, len + 1, fds, n_fds);
	return r < 0 ? pt_err_set(err, r, "send to ptenantd") : 0;
}

static int read_reply(int fd, json_t **ret_resp, pt_err *err)
{
	struct pt_linebuf lb;
	char buf[65536], *line = NULL;
	json_error_t jerr;
	size_t len;
	int r;

	pt_linebuf_init(&lb, 64 * 1024 * 1024);
	while ((r = pt_linebuf_pop(&lb, &line, &len)) == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ECONNRESET;
			break;
		}
		r = pt_linebuf_feed(&lb, buf, (size_t)n);
		if (r < 0)
			break;
	}
	pt_linebuf_free(&lb);
	if (r < 0)
		return pt_err_set(err, r, "read reply from ptenantd");
	*ret_resp = json_loadb(line, len, 0, &jerr);
	free(line);
	if (!*ret_resp)
		return pt_err_set(err, -EBADMSG, "ptenantd sent a reply that is not JSON");
	return 0;
}

int pt_api_call(int fd, json_t *req, const int *fds, size_t n_fds,
		json_t **ret_resp, pt_err *err)
{
	pt_err send_err = { 0 };
	int r;

	r = pt_api_send(fd, req, fds, n_fds, &send_err);
	if (r == 0)
		return read_reply(fd, ret_resp, err);
	/* A daemon that turns us away (permission, busy, a request too long)
	 * answers and closes at once, maybe before our request is all sent:
	 * its answer, still in our receive queue, says why; EPIPE does not. */
	if ((r == -EPIPE || r == -ECONNRESET) && read_reply(fd, ret_resp, NULL) == 0)
		return 0;
	if (err)
		*err = send_err;
	return r;
}

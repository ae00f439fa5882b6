/* events.jsonl: one compact JSON object per line, appended with a single
 * write(2) so a reader never sees half a record from a live writer; a
 * crash can still leave a torn last line, which the reader skips. */
#include "events.h"

#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Including the newline. Small enough for one write to be one record. */
#define EVENT_LINE_MAX 8192
#define TRUNCATED_MARK "..."
/* Every record starts so; inside a JSON string the quote is escaped, so
 * this marks the start of a record even in a line glued to a torn one. */
#define RECORD_START "{\"time\":"


/* ---- append ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF included. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	cp = s[0] & (0x3Fu >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* A copy with each invalid byte replaced by U+FFFD: jansson refuses
 * invalid UTF-8, and a tenant's bytes must not cost us the record. */
static char *utf8_sanitize(const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), o = 0;
	/* Worst case every byte replaced; plus room for a truncation mark. */
	char *out = malloc(n * 3 + sizeof(TRUNCATED_MARK));

	if (!out)
		return NULL;
	while (n > 0) {
		size_t len = utf8_seq(s, n);

		if (len == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			len = 1;
		} else {
			memcpy(out + o, s, len);
			o += len;
		}
		s += len;
		n -= len;
	}
	out[o] = '\0';
	return out;
}

static int set_string(json_t *o, const char *key, const char *value)
{
	_cleanup_free_ char *clean = NULL;
	json_t *v;

	if (!value)
		return 0;
	v = json_string(value);
	if (!v) {
		clean = utf8_sanitize(value);
		v = clean ? json_string(clean) : NULL;
	}
	return json_object_set_new(o, key, v);
}

/* The whole line, newline included; NULL when out of memory. */
static char *render(const struct pt_event *ev, const char *message,
		    size_t *ret_len)
{
	_cleanup_json_ json_t *o = json_object();
	const char *log_tail = ev->log_tail;
	char stamp[32];
	char *text, *line;
	int r = 0;

	/* Its end: the lines before the exit. A cut character is mended by
	 * set_string's UTF-8 repair. */
	if (log_tail && strlen(log_tail) > PT_EVENT_LOG_TAIL_MAX)
		log_tail += strlen(log_tail) - PT_EVENT_LOG_TAIL_MAX;

	if (!o)
		return NULL;
	pt_format_time_ms(ev->ts_ms, stamp, sizeof(stamp));
	r |= json_object_set_new(o, "time", json_string(stamp));
	r |= json_object_set_new(o, "ts", json_integer((json_int_t)ev->ts_ms));
	r |= set_string(o, "tenant", ev->tenant);
	r |= set_string(o, "event", ev->event);
	r |= set_string(o, "reason", ev->reason);
	if (ev->code != -1)
		r |= json_object_set_new(o, "code", json_integer(ev->code));
	r |= set_string(o, "message", message);
	r |= set_string(o, "log_tail", log_tail);
	if (r != 0)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		return NULL;
	*ret_len = strlen(text) + 1;
	line = realloc(text, *ret_len + 1);
	if (!line) {
		free(text);
		return NULL;
	}
	memcpy(line + *ret_len - 1, "\n", 2);
	return line;
}

/* Bytes jansson spends on c inside a string (no JSON_ENSURE_ASCII). */
static size_t escaped_size(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
	    c == '\r' || c == '\t')
		return 2;
	return c < 0x20 ? 6 : 1;
}

/* Cuts msg (at a character boundary, marked) so its escaped form takes at
 * most budget bytes. msg has room for the mark past any cut point. */
static void cut_message(char *msg, size_t budget)
{
	size_t i = 0, used = 0, mark = strlen(TRUNCATED_MARK);

	budget = budget > mark ? budget - mark : 0;
	while (msg[i] && used + escaped_size((unsigned char)msg[i]) <= budget)
		used += escaped_size((unsigned char)msg[i++]);
	while (i > 0 && ((unsigned char)msg[i] & 0xC0) == 0x80)
		i--;
	memcpy(msg + i, TRUNCATED_MARK, mark + 1);
}

/* Renders ev, cutting the message to make the line fit. */
static int render_bounded(const struct pt_event *ev, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *msg = NULL;
	size_t len, escaped = 0;
	char *line;

	if (ev->message) {
		msg = utf8_sanitize(ev->message);
		if (!msg)
			return -ENOMEM;
	}
	line = render(ev, msg, &len);
	if (line && len > EVENT_LINE_MAX) {
		free(line);
		line = NULL;
		for (size_t i = 0; msg && msg[i]; i++)
			escaped += escaped_size((unsigned char)msg[i]);
		/* What the line takes without the message's text. */
		if (!msg || len - escaped > EVENT_LINE_MAX)
			return -EMSGSIZE;
		cut_message(msg, EVENT_LINE_MAX - (len - escaped));
		line = render(ev, msg, &len);
	}
	if (!line)
		return -ENOMEM;
	if (len > EVENT_LINE_MAX) {
		free(line);
		return -EMSGSIZE;
	}
	*ret = line;
	*ret_len = len;
	return 0;
}

int pt_events_append(int fd, const struct pt_event *ev, pt_err *err)
{
	_cleanup_free_ char *line = NULL;
	size_t len;
	ssize_t n;
	int r;

	if (!ev || !ev->event)
		return pt_err_set(err, -EINVAL, "append event: no event name");
	r = render_bounded(ev, &line, &len);
	if (r < 0)
		return pt_err_set(err, r, "append event %s", ev->event);
	pt_events_journal_send(ev);
	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pt_err_set(err, -errno, "append event %s", ev->event);
	if ((size_t)n != len)
		return pt_err_set(err, -EIO,
				  "append event %s: short write (%zd of %zu bytes)",
				  ev->event, n, len);
	return 0;
}

/* ---- read ------------------------------------------------------------ */

/* The last `max` records, oldest first at slot `head` once full. */
struct ring {
	json_t **slot;
	size_t max;
	size_t count;
	size_t cap;
	size_t head;
};

static int ring_push(struct ring *r, json_t *rec)
{
	if (r->count == r->max) {
		json_decref(r->slot[r->head]);
		r->slot[r->head] = rec;
		r->head = (r->head + 1) % r->max;
		return 0;
	}
	/* Grown on demand: max may be far above what the file holds. */
	if (r->count == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		json_t **n;

		if (ncap > r->max)
			ncap = r->max;
		n = realloc(r->slot, ncap * sizeof(*n));
		if (!n) {
			json_decref(rec);
			return -ENOMEM;
		}
		r->slot = n;
		r->cap = ncap;
	}
	r->slot[r->count++] = rec;
	return 0;
}

static void ring_free(struct ring *r)
{
	for (size_t i = 0; i < r->count; i++)
		json_decref(r->slot[i]);
	free(r->slot);
}

/* Parses one line; a line a torn record was glued to yields the record
 * that follows the tear. NULL when nothing in it is a record. */
static json_t *parse_line(const char *line, size_t len)
{
	const char *start = line, *p;
	json_t *rec = json_loadb(line, len, 0, NULL);

	if (rec && json_is_object(rec))
		return rec;
	json_decref(rec);
	while ((p = memmem(start + 1, len - (size_t)(start + 1 - line),
			   RECORD_START, strlen(RECORD_START))))
		start = p;
	if (start == line)
		return NULL;
	rec = json_loadb(start, len - (size_t)(start - line), 0, NULL);
	if (rec && json_is_object(rec))
		return rec;
	json_decref(rec);
	return NULL;
}

static int matches(json_t *rec, const struct pt_events_filter *f)
{
	const char *t = json_string_value(json_object_get(rec, "tenant"));
	const char *e = json_string_value(json_object_get(rec, "event"));
	json_int_t ts = json_integer_value(json_object_get(rec, "ts"));

	if (f->tenant && (!t || strcmp(t, f->tenant) != 0))
		return 0;
	if (f->kind && (!e || strcmp(e, f->kind) != 0))
		return 0;
	return !f->since_ms || (ts >= 0 && (uint64_t)ts >= f->since_ms);
}

/* Whole lines only: one without its newline is being written. *pos is
 * where reading stopped. */
static int collect(FILE *f, const struct pt_events_filter *filter, json_t *all,
		   struct ring *ring, uint64_t *pos)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, f)) >= 0) {
		json_t *rec;
		int r;

		if (n == 0 || line[n - 1] != '\n')
			break;
		*pos += (uint64_t)n;
		rec = parse_line(line, (size_t)n);
		if (!rec)
			continue;
		if (!matches(rec, filter)) {
			json_decref(rec);
			continue;
		}
		r = ring->max ? ring_push(ring, rec) : json_array_append_new(all, rec);
		if (r < 0)
			return -ENOMEM;
	}
	if (ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

int pt_events_read(const char *path, const char *tenant, size_t max,
		   struct json_t **ret_array, pt_err *err)
{
	struct pt_events_filter f = { .tenant = tenant };
	uint64_t next;

	return pt_events_read_from(path, &f, 0, max, ret_array, &next, err);
}

int pt_events_read_from(const char *path, const struct pt_events_filter *filter,
			uint64_t from, size_t max, json_t **ret_array, uint64_t *ret_next,
			pt_err *err)
{
	_cleanup_json_ json_t *all = json_array();
	_cleanup_fclose_ FILE *f = NULL;
	struct ring ring = { .max = max };
	uint64_t pos = 0;
	struct stat st;
	int r = 0;

	if (!all)
		return pt_err_set(err, -ENOMEM, "read %s", path);
	f = fopen(path, "re");
	if (!f && errno != ENOENT)
		return pt_err_set(err, -errno, "open %s", path);
	if (f && fstat(fileno(f), &st) == 0 && from <= (uint64_t)st.st_size &&
	    fseeko(f, (off_t)from, SEEK_SET) == 0)
		pos = from;
	if (f)
		r = collect(f, filter, all, &ring, &pos);
	for (size_t i = 0; r == 0 && i < ring.count; i++) {
		json_t *rec = ring.slot[(ring.head + i) % ring.count];

		if (json_array_append(all, rec) < 0)
			r = -ENOMEM;
	}
	ring_free(&ring);
	if (r < 0)
		return pt_err_set(err, r, "read %s", path);
	*ret_array = TAKE_PTR(all);
	*ret_next = pos;
	return 0;
}

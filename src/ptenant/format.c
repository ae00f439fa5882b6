/* Table output shared by the subcommands and checked by unit tests. */
#include "format.h"

#include <jansson.h>
#include <string.h>

#include "events.h"

#define EVENT_COLUMNS 5

struct event_row {
	const char *col[EVENT_COLUMNS]; /* TIME TENANT EVENT REASON CODE */
	const char *message;
	char code[24];
};

static const char *const event_headers[EVENT_COLUMNS] = {
	"TIME", "TENANT", "EVENT", "REASON", "CODE",
};

static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

static void event_row(json_t *ev, struct event_row *row)
{
	json_t *code = json_object_get(ev, "code");
	const char *msg = json_string_value(json_object_get(ev, "message"));

	snprintf(row->code, sizeof(row->code), "-");
	if (json_is_integer(code))
		snprintf(row->code, sizeof(row->code), "%lld",
			 (long long)json_integer_value(code));
	row->col[0] = or_dash(json_string_value(json_object_get(ev, "time")));
	row->col[1] = or_dash(json_string_value(json_object_get(ev, "tenant")));
	row->col[2] = or_dash(json_string_value(json_object_get(ev, "event")));
	row->col[3] = or_dash(json_string_value(json_object_get(ev, "reason")));
	row->col[4] = row->code;
	row->message = msg ? msg : "";
}

/* An exit's last log lines, indented under it. */
static void print_log_tail(FILE *out, json_t *ev)
{
	const char *tail = json_string_value(json_object_get(ev, "log_tail"));

	while (tail && *tail) {
		const char *nl = strchr(tail, '\n');
		int n = nl ? (int)(nl - tail) : (int)strlen(tail);

		fprintf(out, "    log| %.*s\n", n, tail);
		tail += n + (nl ? 1 : 0);
	}
}

/* CODE is a number: right-aligned, the rest left-aligned. A row without
 * a message ends at CODE, with no trailing blank. */
static void print_row(FILE *out, const char *const *col, const int *width,
		      const char *message)
{
	for (size_t c = 0; c < EVENT_COLUMNS; c++)
		fprintf(out, c == EVENT_COLUMNS - 1 ? " %*s" : c ? " %-*s" : "%-*s",
			width[c], col[c]);
	fprintf(out, "%s%s\n", message[0] ? " " : "", message);
}

void cli_print_events(FILE *out, json_t *events)
{
	int width[EVENT_COLUMNS];
	struct event_row row;
	json_t *ev;
	size_t i;

	for (size_t c = 0; c < EVENT_COLUMNS; c++)
		width[c] = (int)strlen(event_headers[c]);
	/* Two passes over the array: widths first, then the rows. */
	json_array_foreach(events, i, ev) {
		event_row(ev, &row);
		for (size_t c = 0; c < EVENT_COLUMNS; c++)
			if ((int)strlen(row.col[c]) > width[c])
				width[c] = (int)strlen(row.col[c]);
	}
	print_row(out, event_headers, width, "MESSAGE");
	json_array_foreach(events, i, ev) {
		event_row(ev, &row);
		print_row(out, row.col, width, row.message);
		print_log_tail(out, ev);
	}
}

void cli_print_events_follow(FILE *out, json_t *events, bool header)
{
	/* Fixed widths: the rows come one batch at a time. */
	static const int width[EVENT_COLUMNS] = { 24, 16, 14, 10, 4 };
	struct event_row row;
	json_t *ev;
	size_t i;

	if (header)
		print_row(out, event_headers, width, "MESSAGE");
	json_array_foreach(events, i, ev) {
		event_row(ev, &row);
		print_row(out, row.col, width, row.message);
		print_log_tail(out, ev);
	}
	fflush(out);
}

bool cli_format_last_oom(json_t *tenant, char *buf, size_t n)
{
	json_t *oom = json_object_get(tenant, "last_oom");
	json_t *peak = json_object_get(oom, "memory_peak");
	json_t *max = json_object_get(oom, "memory_max");
	json_t *at = json_object_get(oom, "at");
	char stamp[32];

	if (!json_is_integer(peak) || !json_is_integer(max) || !json_is_integer(at))
		return false;
	pt_format_time_ms((uint64_t)json_integer_value(at), stamp, sizeof(stamp));
	snprintf(buf, n, "%s: last OOM: %.1f MiB peak (of %.1f MiB) at %s",
		 or_dash(json_string_value(json_object_get(tenant, "slug"))),
		 (double)json_integer_value(peak) / 1048576.0,
		 (double)json_integer_value(max) / 1048576.0, stamp);
	return true;
}

void cli_format_last_exit(json_t *tenant, char *buf, size_t n)
{
	json_t *e = json_object_get(tenant, "last_exit");
	const char *reason = json_string_value(json_object_get(e, "reason"));
	json_t *code = json_object_get(e, "code");

	if (!reason)
		snprintf(buf, n, "-");
	else if (!json_is_integer(code) || json_integer_value(code) < 0)
		snprintf(buf, n, "%s", reason);
	else
		snprintf(buf, n, "%s:%lld", reason, (long long)json_integer_value(code));
}

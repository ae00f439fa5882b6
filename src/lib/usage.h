/* The usage ledger's records (issue 14): what one tenant used in one UTC
 * day. ptenantd appends one line per tenant per day to
 * <state_dir>/usage/YYYY-MM.jsonl when the day closes, and keeps the open
 * day in usage/open.json, rewritten every few seconds. Pure: the line
 * format, its parser (a torn or corrupt line is -EBADMSG naming the
 * field, and the reader skips it), sums, and the calendar. */
#pragma once

#include "calendar.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ptenant/spec.h"

enum pt_usage_state {
	PT_US_ACTIVE = 0,        /* running, not frozen */
	PT_US_FROZEN,
	PT_US_ASLEEP,
	PT_US_STOPPED,           /* stopped, failed, starting for the first time */
	PT_US_CRASHLOOP,         /* exited, waiting to be restarted */
	PT_US_N,
};

/* Why a run ended, counted: the exit reasons of ptenantd(8). */
enum pt_usage_incident {
	PT_UI_EXIT = 0, PT_UI_SIGNAL, PT_UI_OOM, PT_UI_UNHEALTHY, PT_UI_SPAWN_FAILED,
	PT_UI_UNKNOWN, PT_UI_N,
};

struct pt_usage {
	uint64_t state_ms[PT_US_N];
	uint64_t cpu_us;                 /* with budgets */
	uint64_t mem_byte_ms;            /* memory in use x time, with budgets */
	uint64_t mem_peak;               /* bytes, the highest seen */
	uint64_t restarts;
	uint64_t incidents[PT_UI_N];
	bool metered;                    /* cpu and memory were measured (budgets on) */
	uint64_t net_in, net_out;        /* bytes the tenant received and sent */
	bool net_metered;                /* it had a network link (network = on) */
	uint64_t requests;               /* through ptenant-ingress */
	bool requests_metered;           /* an ingress reported them */
};

struct pt_usage_line {
	uint64_t day;                    /* days since 1970-01-01, UTC */
	char slug[PT_SLUG_MAX + 1];
	struct pt_usage u;
};

const char *pt_usage_state_name(enum pt_usage_state s);
const char *pt_usage_incident_name(enum pt_usage_incident i);
/* "oom-killed" -> PT_UI_OOM; -1 when not one of them. */
int pt_usage_incident_from_reason(const char *reason);

void pt_usage_add(struct pt_usage *sum, const struct pt_usage *u);

/* One line, without its newline: {"day":"2026-12-04","slug":...}.
 * Returns its length, or -ENOBUFS when size is too small (1024 always
 * suffices). */
int pt_usage_line_format(const struct pt_usage_line *l, char *buf, size_t size);
int pt_usage_line_parse(const char *text, size_t len, struct pt_usage_line *ret, pt_err *err);

/* A link's byte counters from /proc/net/dev's text: rx and tx as the
 * link's own side counts them. 0, or -ENOENT when ifname is not there. */
int pt_netdev_bytes(const char *text, size_t len, const char *ifname, uint64_t *rx,
		    uint64_t *tx);


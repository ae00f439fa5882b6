/* Respawn policy: the pure arithmetic of when to restart a tenant.
 *
 * The first restart after a quiet period happens at once (a single crash
 * should cost the tenant nothing), then each further crash doubles the
 * delay up to a cap. When `burst` crashes land inside `window_ms` the
 * tenant is in crash-loop: it waits `crashloop_ms` before each try, so a
 * broken blueprint cannot burn a host's CPU on respawns. A run that lasts
 * longer than `window_ms` resets the history. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PT_BACKOFF_HISTORY 32

struct pt_backoff_policy {
	uint32_t initial_ms;     /* delay of the 2nd restart in a row (e.g. 100) */
	uint32_t max_ms;         /* cap of the exponential part (e.g. 10000) */
	uint32_t burst;          /* crashes in window that mean crash-loop (e.g. 5) */
	uint32_t window_ms;      /* e.g. 60000 */
	uint32_t crashloop_ms;   /* delay while in crash-loop (default 30000) */
};

struct pt_backoff {
	uint64_t crash_ms[PT_BACKOFF_HISTORY]; /* ring of crash times */
	uint32_t n;              /* entries used */
	uint32_t head;           /* next write position */
	uint32_t consecutive;    /* crashes since the last healthy run */
};

void pt_backoff_policy_default(struct pt_backoff_policy *p);
void pt_backoff_reset(struct pt_backoff *b);

/* Records an exit at now_ms of a run that started at started_ms and
 * returns the delay before the next start. *ret_crashloop tells whether
 * the tenant is now in crash-loop. */
uint64_t pt_backoff_next(struct pt_backoff *b, const struct pt_backoff_policy *p,
			 uint64_t started_ms, uint64_t now_ms, bool *ret_crashloop);

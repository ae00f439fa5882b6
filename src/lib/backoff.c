#include "backoff.h"

#include <string.h>

void pt_backoff_policy_default(struct pt_backoff_policy *p)
{
	p->initial_ms = 100;
	p->max_ms = 10000;
	p->burst = 5;
	p->window_ms = 60000;
	p->crashloop_ms = 30000;
}

void pt_backoff_reset(struct pt_backoff *b)
{
	memset(b, 0, sizeof(*b));
}

static void record_crash(struct pt_backoff *b, uint64_t now_ms)
{
	b->crash_ms[b->head] = now_ms;
	b->head = (b->head + 1) % PT_BACKOFF_HISTORY;
	if (b->n < PT_BACKOFF_HISTORY)
		b->n++;
	/* Saturate: a tenant crashing forever must not wrap back to "first
	 * crash, restart at once". */
	if (b->consecutive < UINT32_MAX)
		b->consecutive++;
}

/* Crashes in (now - window, now]. Entries from the future (a clock that
 * stepped back) do not count: they cannot be trusted to be recent. */
static uint32_t crashes_in_window(const struct pt_backoff *b, uint64_t now_ms,
				  uint64_t window_ms)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < b->n; i++) {
		uint64_t t = b->crash_ms[i];

		if (t <= now_ms && now_ms - t < window_ms)
			count++;
	}
	return count;
}

static uint64_t exponential_delay(uint32_t consecutive, uint64_t initial_ms,
				  uint64_t max_ms)
{
	uint32_t shift;
	uint64_t delay;

	if (consecutive <= 1)
		return 0;
	shift = consecutive - 2;
	/* initial_ms < 2^32, so any shift of 32 or more is far past any
	 * 32-bit cap; checking it first keeps the shift defined. */
	if (initial_ms == 0)
		delay = 0;
	else if (shift >= 32)
		delay = UINT64_MAX;
	else
		delay = initial_ms << shift;
	return delay < max_ms ? delay : max_ms;
}

uint64_t pt_backoff_next(struct pt_backoff *b, const struct pt_backoff_policy *p,
			 uint64_t started_ms, uint64_t now_ms, bool *ret_crashloop)
{
	uint64_t ran_ms = now_ms > started_ms ? now_ms - started_ms : 0;
	bool crashloop;

	if (ran_ms >= p->window_ms)
		pt_backoff_reset(b);
	record_crash(b, now_ms);

	/* burst 0 would mean "always in crash-loop"; treat it as disabled
	 * instead, which is the only useful reading of it. */
	crashloop = p->burst > 0 &&
		    crashes_in_window(b, now_ms, p->window_ms) >= p->burst;
	if (ret_crashloop)
		*ret_crashloop = crashloop;
	if (crashloop)
		return p->crashloop_ms;
	return exponential_delay(b->consecutive, p->initial_ms, p->max_ms);
}

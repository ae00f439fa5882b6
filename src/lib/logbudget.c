#include "logbudget.h"

#define NS 1000000000ULL

static void refill(struct pt_logbudget *b, uint64_t now_ns)
{
	unsigned __int128 earned;

	if (now_ns <= b->last_ns)
		return;
	if (b->tokens >= b->burst) {
		b->last_ns = now_ns;
		return;
	}
	earned = (unsigned __int128)(now_ns - b->last_ns) * b->rate / NS;
	if (earned >= b->burst - b->tokens) {
		b->tokens = b->burst;
		b->last_ns = now_ns;
		return;
	}
	b->tokens += (uint64_t)earned;
	/* Only the time the whole bytes took is spent: the fraction of a
	 * byte earned stays for the next refill, so a steady writer at
	 * exactly the rate is never cut short by rounding. */
	b->last_ns += (uint64_t)(earned * NS / b->rate);
}

void pt_logbudget_init(struct pt_logbudget *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst;
	b->tokens = burst;
	b->last_ns = now_ns;
}

void pt_logbudget_set(struct pt_logbudget *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	if (b->rate)
		refill(b, now_ns);
	else
		b->tokens = burst; /* from unlimited: a full bucket */
	/* A larger burst is there at once: an operator who raises a budget
	 * means it now. */
	if (burst > b->burst && b->rate)
		b->tokens += burst - b->burst;
	b->rate = rate;
	b->burst = burst;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ns = now_ns;
}

uint64_t pt_logbudget_take(struct pt_logbudget *b, uint64_t now_ns, uint64_t want)
{
	uint64_t n;

	if (!b->rate)
		return want;
	refill(b, now_ns);
	n = want < b->tokens ? want : b->tokens;
	b->tokens -= n;
	return n;
}

uint64_t pt_logbudget_wait_ns(struct pt_logbudget *b, uint64_t now_ns, uint64_t bytes)
{
	uint64_t missing;

	if (!b->rate)
		return 0;
	refill(b, now_ns);
	if (bytes > b->burst)
		bytes = b->burst;
	if (b->tokens >= bytes)
		return 0;
	missing = bytes - b->tokens;
	/* Rounded up: at the returned time the bytes are there. */
	return (uint64_t)(((unsigned __int128)missing * NS + b->rate - 1) / b->rate) -
	       (now_ns - b->last_ns);
}

/* A tenant's log budget: a token bucket of bytes.
 *
 * The bucket holds up to `burst` bytes and refills at `rate` bytes per
 * second; each byte of output that reaches the log takes one. Output
 * beyond what the bucket holds is dropped and counted: a tenant that
 * writes at or under its rate (with bursts up to `burst`) loses nothing,
 * a flooding one costs the daemon no more than its rate in log writes.
 * Pure logic on a caller-supplied clock (ns), so it is tested without
 * time passing. rate 0 means no limit. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct pt_logbudget {
	uint64_t rate;         /* bytes per second; 0: unlimited */
	uint64_t burst;        /* the bucket's size, bytes */
	uint64_t tokens;       /* bytes that may pass now */
	uint64_t last_ns;      /* the clock the tokens are counted up to */
};

/* A full bucket at now_ns. */
void pt_logbudget_init(struct pt_logbudget *b, uint64_t rate, uint64_t burst, uint64_t now_ns);

/* A live change of rate and burst: the tokens earned so far stay, up to
 * the new burst; a larger burst adds its difference at once. */
void pt_logbudget_set(struct pt_logbudget *b, uint64_t rate, uint64_t burst, uint64_t now_ns);

/* How many of `want` bytes may pass at now_ns; they are taken. */
uint64_t pt_logbudget_take(struct pt_logbudget *b, uint64_t now_ns, uint64_t want);

/* ns from now_ns until the bucket holds `bytes` (capped at burst); 0 when
 * it does already or there is no limit. */
uint64_t pt_logbudget_wait_ns(struct pt_logbudget *b, uint64_t now_ns, uint64_t bytes);

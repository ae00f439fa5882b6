/* What the ingress keeps per tenant it has seen a request for: its open
 * backend connections (the per-tenant cap, and "it is in use" for its
 * idle clock), when the daemon was last told it is active, and the
 * requests held while it wakes. An entry lives while any of that is
 * non-empty; slots_sweep frees the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "ingress-msg.h"

static size_t bucket(const char *slug)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *slug; slug++)
		h = (h ^ (unsigned char)*slug) * 16777619u;
	return h % SLOT_BUCKETS;
}

struct slot *slot_get(struct ingress *in, const char *slug)
{
	size_t b = bucket(slug);
	struct slot *s;

	for (s = in->slots[b]; s; s = s->next)
		if (strcmp(s->slug, slug) == 0)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->slug, sizeof(s->slug), "%s", slug);
	s->next = in->slots[b];
	in->slots[b] = s;
	return s;
}

/* Tells the daemon how many requests went to the tenant since the last
 * report (its usage ledger counts them), at most once per
 * ACTIVE_INTERVAL_MS unless `now_anyway` (the slot is about to go). */
static void report_served(struct ingress *in, struct slot *s, uint64_t now, bool now_anyway)
{
	if (!s->served || (!now_anyway && s->served_sent && now - s->served_sent < ACTIVE_INTERVAL_MS))
		return;
	if (wake_send_served(in, s->slug, s->served) == 0) {
		s->served = 0;
		s->served_sent = now;
	}
}

/* A request goes to the tenant: counted, and the daemon told it is in use. */
void slot_request(struct ingress *in, struct slot *s, uint64_t now)
{
	if (s->served < PT_INGRESS_SERVED_MAX)
		s->served++;
	slot_active(in, s, now);
}

/* Tells the daemon the tenant is in use, at most once per
 * ACTIVE_INTERVAL_MS: a request, or connections still open. */
void slot_active(struct ingress *in, struct slot *s, uint64_t now)
{
	report_served(in, s, now, false);
	if (s->active_sent && now - s->active_sent < ACTIVE_INTERVAL_MS)
		return;
	if (wake_send(in, "active", s->slug) == 0)
		s->active_sent = now;
}

static bool unused(const struct slot *s)
{
	return !s->conns && !s->held && !s->waking && !s->releasing && !s->n_pool;
}

void slots_sweep(struct ingress *in, uint64_t now)
{
	for (size_t b = 0; b < SLOT_BUCKETS; b++) {
		struct slot **pp = &in->slots[b];

		while (*pp) {
			struct slot *s = *pp;

			if (s->conns)
				slot_active(in, s, now);
			else
				report_served(in, s, now, false);
			pool_sweep(in, s, now, false);
			if (s->waking && now >= s->wake_deadline)
				proxy_wake_done(in, s, "no answer from ptenantd within the "
						"tenant's wake_timeout");
			if (unused(s) && now - s->active_sent >= ACTIVE_INTERVAL_MS) {
				report_served(in, s, now, true);
				*pp = s->next;
				free(s);
				continue;
			}
			pp = &s->next;
		}
	}
}

void slots_free(struct ingress *in)
{
	for (size_t b = 0; b < SLOT_BUCKETS; b++)
		while (in->slots[b]) {
			struct slot *s = in->slots[b];

			in->slots[b] = s->next;
			pool_sweep(in, s, 0, true);
			free(s);
		}
	pool_reap(in);
}

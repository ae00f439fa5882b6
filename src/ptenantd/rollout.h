/* Rollouts inside ptenantd: the engine (rollout.c) and its API
 * (rollout-api.c) share the run in progress. */
#pragma once

#include "daemon.h"
#include "rollout-state.h"

struct rollout_run {
	struct pt_rollout r;
	/* Per tenant, not persisted: when its move (or revert) began, 0 for
	 * one found under way by a new ptenantd (any run counts); when it
	 * times out; whether the move restarted it. */
	uint64_t *since, *deadline;
	bool *restarted;
};

int rollout_run_alloc(size_t n, struct rollout_run **ret);
void rollout_run_free(struct rollout_run *run);
/* Writes <state_dir>/rollout.json, atomically. */
int rollout_save(struct daemon *d, struct rollout_run *run, pt_err *err);
/* Halts it: every tenant it moved goes back. */
void rollout_halt(struct daemon *d, struct rollout_run *run, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rollout_record(struct daemon *d, struct tenant *t, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

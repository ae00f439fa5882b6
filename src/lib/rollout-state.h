/* A blueprint rollout as ptenantd keeps it on disk (<state_dir>/
 * rollout.json): what it moves where, with which limits, and where each
 * tenant stands. Written after every step, read back by a new ptenantd
 * after a crash, so the parser trusts nothing (every field present,
 * typed and in range; -EBADMSG naming the field) and the formatter
 * refuses what the parser would refuse. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ptenant/spec.h"

#define PT_ROLLOUT_TENANTS_MAX 10000
#define PT_ROLLOUT_PARALLEL_MAX 256
#define PT_ROLLOUT_WHY_MAX 300
#define PT_BP_REF_MAX (PT_BP_NAME_MAX + PT_BP_VERSION_MAX + 1)

enum pt_rollout_phase {
	PT_ROLLOUT_RUNNING = 0,
	PT_ROLLOUT_PAUSED,
	PT_ROLLOUT_ROLLING_BACK,  /* halted (failures, canary, abort): moved tenants go back */
	PT_ROLLOUT_DONE,          /* every tenant moved (or failed, under max_failures) */
	PT_ROLLOUT_ROLLED_BACK,   /* after a halt: every moved tenant is back */
};

enum pt_rollout_step {
	PT_RT_PENDING = 0,        /* not touched yet */
	PT_RT_MOVING,             /* on `to`, waiting for it to be healthy */
	PT_RT_DONE,               /* healthy on `to` (or moved without a start) */
	PT_RT_REVERTING,          /* going back to `from`, waiting for healthy */
	PT_RT_REVERTED,           /* back on `from`, healthy (or not started) */
	PT_RT_REVERT_FAILED,      /* back on `from`, but not healthy there */
	PT_RT_GONE,               /* removed while the rollout ran */
};

struct pt_rollout_tenant {
	char slug[PT_SLUG_MAX + 1];
	char from[PT_BP_REF_MAX + 1];     /* NAME@VERSION before the rollout */
	char to[PT_BP_REF_MAX + 1];
	enum pt_rollout_step step;
	bool canary;
	bool failed;                      /* was not healthy on `to` */
	uint64_t at;                      /* unix ms of its last step */
	char why[PT_ROLLOUT_WHY_MAX];     /* why it failed, or "" */
};

struct pt_rollout {
	char id[32];                      /* "r" + unix ms of its start */
	char target[PT_BP_REF_MAX + 1];   /* NAME@NEW, or "undo" */
	char undo_of[32];                 /* for an undo: the rollout it undoes */
	enum pt_rollout_phase phase;
	uint32_t parallel;                /* 1..PT_ROLLOUT_PARALLEL_MAX */
	uint32_t max_failures;            /* halts when failures reach it; 0: never */
	uint32_t canary;                  /* first tenants, moved alone */
	uint64_t health_timeout_ms;
	uint64_t started_at, ended_at;    /* unix ms; ended 0 while it runs */
	char halt_reason[PT_ROLLOUT_WHY_MAX];
	struct pt_rollout_tenant *tenants;
	size_t n_tenants;
};

const char *pt_rollout_phase_name(enum pt_rollout_phase p);
const char *pt_rollout_step_name(enum pt_rollout_step s);
bool pt_rollout_active(const struct pt_rollout *r);
/* How many of its tenants stand at that step; and how many failed. */
size_t pt_rollout_count(const struct pt_rollout *r, enum pt_rollout_step s);
size_t pt_rollout_failures(const struct pt_rollout *r);

/* To JSON text (malloc'd, NUL-terminated); -EINVAL for a rollout the
 * parser would refuse, -ENOMEM. */
int pt_rollout_format(const struct pt_rollout *r, char **ret_text);
/* From JSON text; on failure *ret is untouched. */
int pt_rollout_parse(const char *text, size_t len, struct pt_rollout *ret, pt_err *err);
void pt_rollout_free(struct pt_rollout *r);

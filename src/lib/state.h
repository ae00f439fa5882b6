/* The per-tenant runtime state (state.json), beside its spec.json.
 *
 * spec.json is what was asked for; state.json is what the daemon knows:
 * the host id range the tenant owns, whether it should run, the pid of
 * its init (for live restore after a daemon restart) and its exit
 * history. Both are written with pt_write_file_atomic. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum pt_desired { PT_DESIRED_RUNNING = 0, PT_DESIRED_STOPPED };

enum pt_exit_reason {
	PT_EXIT_NONE = 0,        /* never exited */
	PT_EXIT_CODE,            /* exited with a status code */
	PT_EXIT_SIGNAL,          /* killed by a signal */
	PT_EXIT_OOM,             /* killed by the OOM killer (memory.events) */
	PT_EXIT_SPAWN_FAILED,    /* setup failed before the entrypoint ran */
	PT_EXIT_UNKNOWN,         /* exited while the daemon was down */
	PT_EXIT_UNHEALTHY,       /* ended by ptenantd: its health checks failed */
};

/* Idle stages (ptenant-spec(5) "idle"; ptenant pause): a frozen tenant's
 * init runs in a frozen cgroup; an asleep one wants to run (desired
 * running) but has no process until a wake. */
enum pt_idle_state { PT_IDLE_AWAKE = 0, PT_IDLE_FROZEN, PT_IDLE_ASLEEP };

struct pt_tenant_state {
	uint32_t host_uid;       /* first host uid/gid of the tenant's range */
	enum pt_desired desired;
	pid_t pid;               /* host pid of ptenant-init, 0 if not running */
	uint64_t pid_starttime;  /* /proc/PID/stat field 22, to detect pid reuse */
	uint64_t started_at;     /* unix ms of the current/last start */
	uint32_t restarts;       /* total respawns since create */
	enum pt_exit_reason last_exit;
	int last_code;           /* exit code or signal number */
	uint64_t last_exit_at;   /* unix ms */
	/* Which of its two host veths the running init's network uses: a
	 * standby (the next run, set up ahead) takes the other one. */
	uint32_t veth_slot;      /* 0 or 1; absent in older files: 0 */
	enum pt_idle_state idle; /* absent: awake */
	/* unix ms of the current run's first passed health check; 0: none
	 * yet (or no checks). Kept so a new ptenantd adopting the run knows
	 * it was ready. */
	uint64_t healthy_at;
};

const char *pt_exit_reason_name(enum pt_exit_reason r);
const char *pt_desired_name(enum pt_desired d);
/* "awake", "frozen", "asleep"; NULL for a value out of range. */
const char *pt_idle_state_name(enum pt_idle_state s);

#define PT_STATE_FILE "state.json"

/* Serialises to a NUL-terminated JSON text (malloc'd). */
int pt_state_format(const struct pt_tenant_state *s, char **ret_text);
/* Parses and validates; a truncated or corrupt text is -EBADMSG with a
 * message naming what is wrong ("field pid: not an integer"). */
int pt_state_parse(const char *text, size_t len, struct pt_tenant_state *ret,
		   pt_err *err);

/* dirfd is the tenant's directory; file name "state.json". */
int pt_state_save(int dirfd, const struct pt_tenant_state *s, pt_err *err);
int pt_state_load(int dirfd, struct pt_tenant_state *ret, pt_err *err);

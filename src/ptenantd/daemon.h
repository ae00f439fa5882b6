/* ptenantd's internal interfaces: one event loop, the tenant table, the
 * API connections. Everything hangs off one struct daemon passed
 * explicitly (no globals), so a reader always sees which state a function
 * touches. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backoff.h"
#include "config.h"
#include "error.h"
#include "ipam.h"
#include "logbudget.h"
#include "logfile.h"
#include "seccomp-filter.h"
#include "ptenant/spec.h"
#include "state.h"
#include "confine.h"
#include "usage.h"
#include "metrics-text.h"

struct json_t;
struct daemon;
struct epoll_event;

/* Something in the epoll set. */
struct watch {
	int fd;
	void (*on_ready)(struct daemon *d, struct watch *w, uint32_t events);
	/* Handled first in a loop round (the API socket and connections):
	 * a round that also finishes many starts answers its callers first. */
	bool first;
};

enum tenant_phase {
	PHASE_STOPPED = 0,   /* not running, by command or by policy */
	PHASE_RUNNING,
	PHASE_STOPPING,      /* SIGTERM sent, SIGKILL at stop_deadline */
	PHASE_BACKOFF,       /* exited, restart at next_start */
	PHASE_CRASHLOOP,     /* exited too often, restart at next_start */
	PHASE_FAILED,        /* cannot be started (e.g. blueprint missing) */
	PHASE_STARTING,      /* its child sets itself up (tenant-start.c) */
};

/* Who asked for a start: what is recorded and who is told when it is over. */
enum start_cause {
	START_BY_API = 0,    /* ptenant start: "start", backoff reset */
	START_BY_CREATE,     /* ptenant create (the create is recorded) */
	START_BY_RESTART,    /* ptenant restart, once the old run is gone */
	START_BY_RESPAWN,    /* its restart policy: "respawn"; a failure backs off */
	START_BY_RESTORE,    /* a new ptenantd bringing it back: "respawn" */
	START_BY_WAKE,       /* an asleep tenant woken (idle.c): "wake" */
};

struct conn;
struct exec_job;
struct health_reap;
struct rollout_run;
struct usage_ledger;
struct metrics;
struct tenant_spawn;
struct tenant_standby;
struct pt_cgroup;
struct pt_spawn_req;

/* The tenant's cgroup leaf while it runs (budget.c). */
struct tenant_budget {
	struct watch oom;                /* memory.events (v2) / eventfd (v1) */
	int leaf_fd;                     /* for CLONE_INTO_CGROUP, spawn only */
	struct pt_cgroup *cg;            /* v1 placement context */
	const char *slug;
	uint64_t oom_kills;              /* oom_kill count seen in this run */
	/* The leaf's counters when this run began: 0 for a fresh leaf, more
	 * when a standby took over in the leaf of the run before. */
	uint64_t oom_base;
	uint64_t cpu_base;               /* usec */
	uint64_t peak_bytes;             /* memory peak of the run that ended */
	bool oom_killed;                 /* the run ended in an OOM kill */
	/* The last run that ended in an OOM kill, for stats: a respawned
	 * tenant's own peak is small and would hide the incident. Kept in
	 * memory only (the journal has every one); at 0 none since ptenantd
	 * started. */
	uint64_t last_oom_at;            /* unix ms */
	uint64_t last_oom_peak;          /* bytes */
	uint64_t last_oom_max;           /* its memory budget then, bytes */
};

/* The tenant's output against its log budget (logs.c). Counters since
 * ptenantd started (stats, metering). */
struct tenant_logs {
	struct pt_logbudget budget;
	uint64_t bytes;                  /* written to its log */
	uint64_t suppressed;             /* dropped over its budget */
	uint64_t episode_dropped;        /* dropped since it was last limited */
	uint64_t last_drop_ms;           /* monotonic */
	uint64_t resume_at;              /* monotonic ms; 0: its pipe is watched */
	bool limited;                    /* over budget, episode not yet closed */
};

/* Its health checks (health.c), for the current run. */
enum health_status {
	HEALTH_NONE = 0,     /* the spec has no checks */
	HEALTH_STARTING,     /* no check has passed in this run yet */
	HEALTH_HEALTHY,
	HEALTH_UNHEALTHY,    /* failed retries in a row: being ended */
};

struct tenant_health {
	enum health_status status;
	struct watch check;              /* http/tcp: its socket; exec: helper's pidfd */
	struct watch out;                /* exec: read end of the command's output */
	bool sent;                       /* http: the request is out, reading */
	uint64_t next_at;                /* monotonic ms: the next check */
	uint64_t began;                  /* monotonic ms: the check under way began */
	uint64_t deadline;               /* monotonic ms: it times out */
	uint64_t start_until;            /* monotonic ms: failures count from then */
	uint64_t run_began;              /* monotonic ms: this run's start */
	unsigned failures;               /* in a row */
	uint64_t passed, failed;         /* checks since ptenantd started */
	uint64_t last_at;                /* unix ms: the last check ended */
	uint64_t last_ms;                /* how long it took */
	bool ending;                     /* unhealthy: SIGTERM sent, SIGKILL at kill_at */
	uint64_t kill_at;
	char last_output[200];           /* what the last check said, one line */
	char buf[512];                   /* http: the response's start; exec: its output's tail */
	size_t got;
};

/* What it used in the open day (usage.c), not yet in the ledger. */
struct tenant_usage {
	struct pt_usage open;
	enum pt_usage_state state;       /* what the time since last_at is */
	uint64_t last_at;                /* unix ms: accounted up to here */
	uint64_t cpu_seen;               /* its cgroup's CPU counter, last read */
	bool cpu_valid;                  /* cpu_seen is of the leaf it runs in */
	uint64_t mem_last;               /* memory in use, last read (bytes) */
	/* Its host-side veth's counters, last read; valid for that slot's
	 * link of this run (a new run's link counts from 0). */
	uint64_t net_rx_seen, net_tx_seen;
	bool net_valid;
	uint32_t net_slot;
	/* Since ptenantd started, never reset (metrics.c). */
	uint64_t total_ms[PT_US_N];
	uint64_t incidents_total[PT_UI_N];
	uint64_t net_in_total, net_out_total;
	uint64_t requests_total;
};

struct tenant {
	struct pt_spec spec;             /* secret values not loaded */
	struct pt_tenant_state st;
	char dir[512];
	enum tenant_phase phase;
	struct watch proc;               /* pidfd of ptenant-init */
	struct watch log;                /* read end of the log pipe */
	struct pt_logfile logfile;
	struct tenant_logs logs;
	struct pt_backoff backoff;
	uint64_t next_start;             /* monotonic ms, PHASE_BACKOFF/CRASHLOOP */
	uint64_t stop_deadline;          /* monotonic ms, PHASE_STOPPING */
	uint64_t started_mono;           /* monotonic ms of the last start */
	bool adopted;                    /* restored after a daemon restart */
	bool broken;                     /* its files could not be loaded */
	bool removing;                   /* rm requested: delete once stopped */
	bool restart_pending;            /* restart requested: start once stopped */
	/* state.json could not be written (a full disk): the change holds in
	 * memory and tenant_tick() writes it again from state_retry_at on. */
	bool state_unsaved;
	uint64_t state_retry_at;
	char state_error[256];           /* why, while state_unsaved */
	struct pt_tenant_net net;        /* addr 0: no network */
	bool fw_elements;                /* its nftables elements are in (net.c) */
	uint16_t bp_port;                /* its blueprint's port, once known (routes.c) */
	bool bp_notify;                  /* its blueprint's bot says READY=1 */
	bool bp_loaded;                  /* bp_port and bp_notify are known */
	char last_error[256];            /* why the last start failed */
	struct tenant_spawn *spawn;      /* the start under way, PHASE_STARTING */
	struct tenant_standby *standby;  /* its next run, parked (standby.c) */
	uint64_t standby_retry_at;       /* monotonic ms: no standby before */
	unsigned standby_failures;       /* in a row */
	enum start_cause start_cause;
	struct conn *waiters[8];         /* API calls answered when it stops or starts */
	size_t n_waiters;
	struct pt_seccomp_bpf seccomp;   /* its own profile, compiled; or empty */
	struct tenant_budget budget;
	/* Idle stages (idle.c); st.idle is the persisted stage. */
	uint64_t last_active;            /* monotonic ms of its last activity */
	bool freezing;                   /* freeze asked, not yet complete */
	uint64_t freeze_deadline;        /* monotonic ms: give up, thaw */
	char freeze_why[64];             /* "idle for 10m", "ptenant pause" */
	/* Its notify socket (notify.c), for the current run. */
	struct watch notify;
	bool ready;                      /* said READY=1 in this run */
	bool busy;                       /* said BUSY=1, not yet BUSY=0 */
	uint64_t ready_at;               /* unix ms */
	uint64_t notify_msgs, notify_ignored; /* since ptenantd started */
	uint64_t notify_window;          /* rate window, monotonic s */
	unsigned notify_in_window;
	uint64_t notify_paused_at;       /* flooded: not read since (monotonic ms) */
	struct tenant_health health;
	struct tenant_usage usage;
	uint64_t start_asked_us;         /* monotonic us: its start was asked for */
	uint64_t wakes;                  /* through the ingress, since ptenantd started */
	struct pt_histogram wake_time;   /* their durations (metrics.c) */
};

struct daemon {
	struct pt_config cfg;
	char tenants_dir[300];
	char socket_path[300];
	int epfd;
	struct epoll_event *batch;       /* this round's events (loop.c) */
	int batch_n;
	struct watch sig;
	struct watch listener;
	struct watch timer;
	int init_fd;                     /* sealed memfd of ptenant-init */
	int tenant_nice;                 /* the nice value ptenantd started with */
	struct pt_seccomp_bpf seccomp;   /* the default profile, compiled at start */
	int events_fd;                   /* events.jsonl, O_APPEND */
	gid_t api_gid;                   /* (gid_t)-1: root only */
	bool trace_spawn;
	bool journal_stderr; /* stderr is journald's stream: events go structured only */
	bool quit;
	struct tenant **tenants;
	size_t n_tenants;
	/* Starts asked for, begun one a loop round (tenant-start.c). */
	struct tenant_spawn *start_queue;
	struct tenant_spawn *start_staging; /* out of the queue, child not released */
	unsigned spawns_in_setup;        /* begun, their child not exec'd yet */
	/* Set-aside layers, removed by a helper process (trash.c). */
	struct watch reaper;             /* its pidfd; fd -1: none runs */
	bool trash_pending;              /* something may wait in a trash/ */
	uint64_t trash_retry_at;         /* monotonic ms: the last reaper failed */
	bool standby_scan;               /* some tenant may want a standby now */
	uint64_t standby_next_at;        /* monotonic ms: scan again then (0: no) */
	unsigned standby_setting_up;     /* standbys whose child sets up */
	struct conn *live_conns;         /* open API connections */
	struct conn *dead_conns;         /* closed, freed after the loop round */
	struct exec_job *exec_jobs;      /* running exec helpers */
	size_t n_conns;                  /* API connections open (PT_API_CONNS_MAX) */
	size_t held;                     /* their unfinished bytes over PT_API_HELD_FREE */
	struct pt_cgroup *cg;            /* NULL: running without budgets */
	char budget_note[200];           /* which backend, or why none */
	bool tenant_scope;               /* d->cg is ptenant-tenants.scope (tenant-scope.c) */
	bool routes_dirty;               /* routes.json to be rewritten */
	/* The ingress channel (ingress-channel.c). */
	struct watch ingress_listener;
	char ingress_path[300];
	uid_t ingress_uid;               /* who may connect besides root */
	struct ingress_peer *ingress_peers;
	unsigned n_ingress_peers;
	struct wake *wakes;              /* wakes asked for, not answered yet */
	uint64_t ingress_bad;            /* messages refused (malformed, over rate) */
	uint64_t ingress_bad_logged_at;  /* monotonic ms, to log at most 1/min */
	/* Health checks (health.c). */
	int netns_fd;                    /* the daemon's own network namespace (main.c) */
	struct health_reap *health_reaps; /* exec check helpers ended, to reap */
	struct rollout_run *rollout;     /* the last rollout, running or not (rollout.c) */
	/* The usage ledger (usage.c). */
	struct usage_ledger *usage;
	struct metrics *metrics;         /* metrics.c */
	struct syncer *syncer;           /* durable writes off the loop (syncer.c) */
};

/* loop.c */
uint64_t now_mono_ms(void);
/* The earlier of *next and at, for the deadline scans that arm the loop's
 * timer; 0 is "none" for both. */
static inline void deadline_earliest(uint64_t *next, uint64_t at)
{
	if (at && (!*next || at < *next))
		*next = at;
}
uint64_t now_real_ms(void);
int loop_add(struct daemon *d, struct watch *w, uint32_t events);
void loop_del(struct daemon *d, struct watch *w);
/* Creates the epoll set, signalfd and timer; before anything registers. */
int loop_prepare(struct daemon *d);
int loop_run(struct daemon *d);
void loop_rearm_timer(struct daemon *d);

/* syncer.c: durable file writes (pt_write_file_atomic) on a thread of
 * their own. done runs on the loop's thread once the write is over, with
 * its result, unless ctx was forgotten. */
typedef void (*syncer_done_fn)(struct daemon *d, void *ctx, int r, const pt_err *err);
int syncer_start(struct daemon *d, pt_err *err);
/* Writes what is queued, then ends the thread. */
void syncer_stop(struct daemon *d);
/* Queues dirfd/name <- text (taken, freed either way). owner says whose
 * file it is (syncer_settle). Fails when no writer runs. */
int syncer_submit(struct daemon *d, int dirfd, const char *name, char *text, mode_t mode,
		  const void *owner, syncer_done_fn done, void *ctx, pt_err *err);
/* Closes fd on the writer's thread, after the writes queued before it:
 * for the last reference to a replaced file, whose release frees its
 * blocks (and, on a file system mounted with discard, waits for the
 * device). Without a writer, closes it at once. */
void syncer_close(struct daemon *d, int fd);
/* ctx is going away: its done is not called. */
void syncer_forget(struct daemon *d, const void *ctx);
/* Before a write of owner's file on the loop's thread: waits for its
 * queued writes and runs their completions. */
void syncer_settle(struct daemon *d, const void *owner);

/* tenant.c: lifecycle */
struct tenant *tenant_find(struct daemon *d, const char *slug);
/* Removes t from the table (does not free it). */
void tenant_drop_from_table(struct daemon *d, struct tenant *t);
int tenant_create(struct daemon *d, struct pt_spec *spec, bool start,
		  struct tenant **ret, pt_err *err);
/* Starts t, or joins the start under way: 0 when it runs or is starting
 * (waiter, if any, is answered once it is over), a negative errno when it
 * failed at once (waiter answered, the failure recorded). */
int tenant_start(struct daemon *d, struct tenant *t, enum start_cause cause,
		 struct conn *waiter);
/* tenant-start.c: the start under way. tenant_start only queues it;
 * tenant_start_queued, once a loop round, takes one step of the start
 * out of the queue (prepare, clone, release), or takes the next one out. */
void tenant_start_queued(struct daemon *d);
/* A step of a start is due in this round: one is under way, or a queued
 * one may leave the queue (spawn_concurrency). */
bool tenant_start_can_begin(const struct daemon *d);
/* When a child in its setup stops holding its slot (0: none to wait for). */
uint64_t tenant_spawn_slot_deadline(const struct daemon *d);
void tenant_spawn_tick(struct daemon *d, struct tenant *t, uint64_t now);
uint64_t tenant_spawn_deadline(const struct tenant *t);
void tenant_spawn_cancel(struct daemon *d, struct tenant *t, const char *why);
/* tenant-start.c, for standby.c too */
struct pt_kv;
int tenant_load_secrets(struct tenant *t, struct pt_kv **ret, pt_err *err);
void tenant_wipe_secrets(struct pt_kv *kv, size_t n);

/* trash.c: a tenant's previous writable layer, set aside and removed by a
 * low-priority helper process, off the loop's thread. */
#define TRASH_DIR "trash"
/* Renames dfd/name (in t's directory) into its trash/, or removes it at
 * once when the file system is short of space; 0 if there is no such
 * name. */
int trash_put(struct daemon *d, const struct tenant *t, int dfd, const char *name,
	      pt_err *err);
/* Once a loop round: starts the reaper when there is trash and none runs. */
void trash_flush(struct daemon *d);
uint64_t trash_next_deadline(const struct daemon *d);
/* Before the daemon removes a tenant's directory itself: the reaper, if
 * one runs, is ended (no directory has two removers); the next goes on. */
void trash_pause(struct daemon *d);

/* standby.c: a tenant's next run, set up ahead (respawn_standby = on) */
/* For a loop round with nothing else to do: begins one standby. */
void standby_idle(struct daemon *d);
bool standby_idle_wanted(const struct daemon *d);
void standby_tick(struct daemon *d, uint64_t now);
uint64_t standby_next_deadline(const struct daemon *d);
/* Its run died and its policy says respawn now: true when the standby
 * took over (it runs the entrypoint, the tenant is running). */
bool standby_take_over(struct daemon *d, struct tenant *t);
/* Kills and forgets t's standby, if any; why (or NULL) goes to the log. */
void standby_drop(struct daemon *d, struct tenant *t, const char *why);
void standby_inspect(struct daemon *d, struct tenant *t, struct json_t *info);

/* tenant-exit.c: a start is over (r 0: it runs); records it by its cause
 * and answers the waiters. */
void tenant_start_settled(struct daemon *d, struct tenant *t, int r, const pt_err *err);
/* Adds c to those answered when t's start or stop is over; when too many
 * wait, c is answered at once with EBUSY and -EBUSY returned. */
int tenant_add_waiter(struct daemon *d, struct tenant *t, struct conn *c);
int tenant_stop(struct daemon *d, struct tenant *t, struct conn *waiter,
		pt_err *err);
int tenant_remove(struct daemon *d, struct tenant *t, struct conn *waiter,
		  pt_err *err);
void tenant_tick(struct daemon *d, uint64_t now);
uint64_t tenant_next_deadline(struct daemon *d);
const char *tenant_phase_name(enum tenant_phase p);
struct json_t *tenant_summary(struct daemon *d, struct tenant *t);
void tenant_record(struct daemon *d, struct tenant *t, const char *event,
		   const char *reason, int code, const char *message);
/* The same with the last lines of its log (an incident's context). */
void tenant_record_with_log(struct daemon *d, struct tenant *t, const char *event,
			    const char *reason, int code, const char *message,
			    const char *log_tail);
/* logs.c: the last lines of its log, at most PT_EVENT_LOG_TAIL_MAX bytes
 * of whole lines, into buf ("" when none). */
void logs_tail(struct tenant *t, char *buf, size_t size);
int tenant_save_state(struct tenant *t, pt_err *err);
/* tenant_save_state after a change of the daemon's own making: a failure
 * is recorded once (event state-save-failed) and retried every second. */
void tenant_persist(struct daemon *d, struct tenant *t);
/* What tenant_persist does with a save's result (r, err): for a save
 * made elsewhere (the start's, on the state writer). */
void tenant_persisted(struct daemon *d, struct tenant *t, int r, const pt_err *err);
int tenant_save_spec(struct tenant *t, pt_err *err);
void tenant_free(struct tenant *t);
void tenant_watch_process(struct daemon *d, struct tenant *t, int pidfd);

/* blueprint-api.c: blueprint versions and moving tenants between them */
void blueprint_op_import(struct daemon *d, struct conn *c, struct json_t *req);
void blueprint_op_ls(struct daemon *d, struct conn *c, struct json_t *req);
void blueprint_op_rm(struct daemon *d, struct conn *c, struct json_t *req);
void blueprint_op_move(struct daemon *d, struct conn *c, struct json_t *req);
/* Puts t on name@version: the spec saved, then restarted when it runs
 * (an asleep tenant stays asleep: the next wake starts the new version).
 * 0 done (or nothing to do), 1 waiter answered once it runs again. */
int tenant_move(struct daemon *d, struct tenant *t, const char *name, const char *version,
		struct conn *waiter, pt_err *err);

/* idle.c: frozen and asleep tenants (spec "idle", ptenant pause/resume) */
/* The name ls shows: the phase, or frozen / freezing / asleep. */
const char *tenant_state_name(const struct tenant *t);
/* Something used the tenant: its idle clock starts again. */
void idle_activity(struct tenant *t);
/* Freezes a running tenant: 0 frozen now, 1 when it completes later
 * (waiter answered then), <0 refused or failed. */
int idle_freeze(struct daemon *d, struct tenant *t, const char *why,
		struct conn *waiter, pt_err *err);
/* Stops a running (or frozen) tenant to sleep: its processes end, it
 * stays wanted running and wakes by idle_wake. 1: waiter answered once
 * its processes are gone. */
int idle_sleep(struct daemon *d, struct tenant *t, const char *why,
	       struct conn *waiter, pt_err *err);
/* Thaws a frozen tenant or starts an asleep one; anything else running
 * counts as activity. 0 done now, 1 waiter answered when started. */
int idle_wake(struct daemon *d, struct tenant *t, const char *why,
	      struct conn *waiter, pt_err *err);
/* Before a stop, restart or exec: a frozen tenant is thawed first (a
 * signal to a frozen task waits for the thaw). */
void idle_thaw_for(struct daemon *d, struct tenant *t, const char *why);
/* Its run ended: whatever stage it was in is over (unless asleep). */
void idle_on_exit(struct tenant *t);
void idle_tick(struct daemon *d, struct tenant *t, uint64_t now);
uint64_t idle_next_deadline(struct daemon *d, const struct tenant *t);
/* tenant-exit.c: for idle.c */
void tenant_answer_waiters(struct daemon *d, struct tenant *t, const pt_err *err);
int tenant_stop_to_sleep(struct daemon *d, struct tenant *t, struct conn *waiter,
			 pt_err *err);

/* notify.c: the tenant's NOTIFY_SOCKET (READY=1, BUSY=1/0) */
void notify_attach(struct daemon *d, struct tenant *t, int fd);
void notify_detach(struct daemon *d, struct tenant *t);
/* Live restore: binds a new socket in the running tenant. */
void notify_adopt(struct daemon *d, struct tenant *t);
void notify_tick(struct daemon *d, struct tenant *t, uint64_t now);
uint64_t notify_next_deadline(const struct tenant *t);
void notify_inspect(struct tenant *t, struct json_t *info);

/* budget.c: cgroup limits, OOM detection, stats, live update */
int budget_init(struct daemon *d, pt_err *err);

/* tenant-scope.c: under systemd on cgroup v2, the tenants' cgroup is the
 * scope ptenant-tenants.scope, made once and kept alive by a holder. */
bool tenant_scope_wanted(void);
int tenant_scope_ensure(char *parent, size_t size, pt_err *err);
/* Whether ptenant-tenants.scope still has its holder: false once the
 * scope was stopped. */
bool tenant_scope_alive(void);
void budget_free(struct daemon *d);
void budget_tenant_init(struct tenant *t);
/* Creates the leaf with its limits and fills req (cgroup_fd or place). */
int budget_prepare(struct daemon *d, struct tenant *t, struct pt_spawn_req *req,
		   pt_err *err);
/* Once clone3 has run: closes the daemon's handles on the leaf. */
void budget_spawn_begun(struct tenant *t, struct pt_spawn_req *req);
/* When the start is over: ok false when it failed (the leaf goes away). */
void budget_spawned(struct daemon *d, struct tenant *t, bool ok);
/* At exit: true when an OOM kill ended the run (peak in t->budget);
 * removes the leaf. */
bool budget_on_exit(struct daemon *d, struct tenant *t);
/* budget_on_exit in two: the run's figures, then the leaf's removal
 * (skipped when a standby in the leaf takes over). */
bool budget_exit_stats(struct daemon *d, struct tenant *t);
void budget_exit_release(struct daemon *d, struct tenant *t);
/* The standby's way into the leaf of the run it follows. */
int budget_prepare_standby(struct daemon *d, struct tenant *t, struct pt_spawn_req *req,
			   pt_err *err);
void budget_standby_begun(struct pt_spawn_req *req);
void budget_standby_took_over(struct daemon *d, struct tenant *t);
void budget_describe_oom(const struct tenant *t, char *buf, size_t n);
/* Its budget in words, defaults applied: "memory 512.0M, cpu 1, pids 512". */
void budget_describe(struct daemon *d, const struct tenant *t, char *buf, size_t n);
/* Live restore: a running tenant must be in its leaf to be adopted. */
bool budget_adopt(struct daemon *d, struct tenant *t);
/* In a forked child of the daemon: join the tenant's cgroup (exec). */
int budget_join(struct daemon *d, struct tenant *t);
void budget_op_stats(struct daemon *d, struct conn *c, struct json_t *req);
void budget_op_update(struct daemon *d, struct conn *c, struct json_t *req);
struct json_t *budget_info(struct daemon *d);

/* restore.c: bring tenants back at startup */
int restore_tenants(struct daemon *d, pt_err *err);

/* net.c: tenant networking (no-op unless network = on) */
struct pt_plan;
struct pt_spawn_req;
int net_daemon_init(struct daemon *d, pt_err *err);
void net_daemon_exit(struct daemon *d);
int net_tenant_alloc(struct daemon *d, struct tenant *t, const char *dir, pt_err *err);
/* From its host veth when net.json is lost: 1 when found, 0 when not. */
int net_tenant_recover(struct daemon *d, struct tenant *t, pt_err *err);
int net_tenant_load(struct daemon *d, struct tenant *t, int dfd, pt_err *err);
/* What the spawn's net hook (P2b) works with: the caller's storage, kept
 * until the spawn is released (pt_spawn_release). */
struct net_hook {
	struct daemon *d;
	struct tenant *t;
	unsigned slot;
	bool standby;
};
/* Wires the start's network (a standby's on its own slot, unrouted). */
int net_spawn(struct daemon *d, struct tenant *t, struct pt_plan *plan,
	      struct pt_spawn_req *req, struct net_hook *hook, bool standby, pt_err *err);
/* Routes the tenant's address to its standby's link. */
int net_standby_promote(struct daemon *d, struct tenant *t, pt_err *err);
void net_veth_name(const struct tenant *t, unsigned slot, char buf[16]);
void net_tenant_release(struct daemon *d, struct tenant *t);
void net_inspect(struct daemon *d, struct tenant *t, struct json_t *info);

/* logs.c */
int logs_attach(struct daemon *d, struct tenant *t, int read_fd, pt_err *err);
void logs_detach(struct daemon *d, struct tenant *t);
/* The tenant's log budget from its spec (or the daemon's defaults); a
 * live change keeps what it has earned. */
void logs_budget_apply(struct daemon *d, struct tenant *t);
/* Resumes a paused pipe, closes a limited episode; from tenant_tick(). */
void logs_tick(struct daemon *d, struct tenant *t, uint64_t now_ms);
/* When logs_tick() has something to do for t (monotonic ms), or 0. */
uint64_t logs_next_deadline(const struct tenant *t);
/* {"bytes", "suppressed", "rate", "burst", "limited"} for stats. */
struct json_t *logs_stats(struct daemon *d, struct tenant *t);
struct json_t *logs_read(struct tenant *t, int64_t offset, size_t max, pt_err *err);

/* api-server.c */
int api_listen(struct daemon *d, pt_err *err);
void api_reap(struct daemon *d);
/* At exit: closes every connection (cancelling its job) and frees it. */
void api_shutdown(struct daemon *d);
void conn_reply(struct daemon *d, struct conn *c, struct json_t *resp);
void conn_reply_error(struct daemon *d, struct conn *c, const pt_err *err);
bool conn_is_root(const struct conn *c);
int conn_take_fds(struct conn *c, int *fds, size_t n);
/* The reply comes later (from a tenant waiter or a job). */
void conn_defer(struct conn *c);
void conn_set_job(struct conn *c, void *job,
		  void (*cancel)(struct daemon *d, void *job));

/* api-ops.c */
/* The tenant a request's "slug" names, its grammar checked first so a
 * hostile name never reaches a path; NULL with err filled otherwise. */
struct tenant *req_tenant(struct daemon *d, struct json_t *req, pt_err *err);
/* The request's string field key, or NULL with err naming it. */
const char *req_string(struct json_t *req, const char *key, pt_err *err);
void api_dispatch(struct daemon *d, struct conn *c, const char *op,
		  struct json_t *req);

/* security.c: the cage of each tenant */
int security_prepare(struct daemon *d, pt_err *err);
/* Validates spec's confinement fields against this host and compiles its
 * profile into *bpf (left empty for the default one). For create. */
int security_check_spec(const struct pt_spec *spec, struct pt_seccomp_bpf *bpf,
			pt_err *err);
/* The confinement of t's processes, compiling its profile on first use. */
int security_confine(struct daemon *d, struct tenant *t, struct pt_confine *c,
		     pt_err *err);
void op_inspect_security(struct daemon *d, struct conn *c, struct json_t *req);

/* ingress-channel.c: runtime_dir/ingress.sock, ptenant-ingress(8)'s only
 * way in: "wake SLUG" and "active SLUG", nothing else. */
struct ingress_peer;
struct wake;
int ingress_listen(struct daemon *d, pt_err *err);
void ingress_shutdown(struct daemon *d);
/* A start is over: wakes waiting for it go on (probe) or fail. */
void ingress_start_settled(struct daemon *d, struct tenant *t);
void ingress_tick(struct daemon *d, uint64_t now);
uint64_t ingress_next_deadline(const struct daemon *d);
void ingress_inspect(struct daemon *d, struct json_t *info);
/* The spec's wake_timeout, or the daemon's default. */
uint64_t idle_wake_timeout(const struct daemon *d, const struct tenant *t);

/* routes.c: <runtime_dir>/routes.json for ptenant-ingress(8) */
/* Marks the routable set (or a state in it) changed. */
void routes_changed(struct daemon *d);
/* The spec's port, or its blueprint's (0: none). */
uint16_t routes_tenant_port(struct daemon *d, struct tenant *t);
/* Its blueprint declares that its bot says READY=1 (manifest "notify"). */
bool routes_tenant_notifies(struct daemon *d, struct tenant *t);
/* Writes the file when marked; once per loop round. */
void routes_flush(struct daemon *d);

/* health.c: the spec's health checks, run from the loop without blocking */
/* Sets fds to -1; at tenant allocation. */
void health_tenant_init(struct tenant *t);
/* A run began (adopted: a new ptenantd found it running). */
void health_run_begun(struct daemon *d, struct tenant *t, bool adopted);
/* The run ended: a check under way is dropped. */
void health_run_ended(struct daemon *d, struct tenant *t);
/* The checks ended this run: its exit is "unhealthy", with why in buf. */
bool health_ended_run(const struct tenant *t, char *buf, size_t n);
void health_tick(struct daemon *d, struct tenant *t, uint64_t now);
uint64_t health_next_deadline(const struct tenant *t);
/* "healthy", "unhealthy", "starting"; NULL when the spec has no checks. */
const char *health_status_name(const struct tenant *t);
void health_inspect(struct tenant *t, struct json_t *info);
void health_shutdown(struct daemon *d);

/* rollout.c: blueprint rollouts (ptenant rollout), one at a time */
void rollout_tick(struct daemon *d, uint64_t now);
uint64_t rollout_next_deadline(const struct daemon *d);
/* At start, once the tenants are back: the last rollout, continued if it
 * was under way. */
int rollout_restore(struct daemon *d, pt_err *err);
void rollout_shutdown(struct daemon *d);
/* rollout-api.c */
void rollout_op_start(struct daemon *d, struct conn *c, struct json_t *req);
void rollout_op_status(struct daemon *d, struct conn *c, struct json_t *req);
void rollout_op_control(struct daemon *d, struct conn *c, struct json_t *req);

/* usage.c: the usage ledger (ptenant usage) */
/* At start, once the tenants are back: the open day from usage/open.json
 * (a damaged one is set aside and named), the gap since accounted. */
int usage_init(struct daemon *d, pt_err *err);
void usage_tick(struct daemon *d, uint64_t now_mono);
uint64_t usage_next_deadline(const struct daemon *d);
/* From tenant_record: the time so far in its state, and what the event
 * counts (a respawn, an incident). */
void usage_event(struct daemon *d, struct tenant *t, const char *event, const char *reason);
/* A new cgroup leaf for its run: its CPU counter starts from 0. */
void usage_run_begun(struct tenant *t);
/* Before it is removed: its open day is kept until the day closes. */
void usage_tenant_gone(struct daemon *d, struct tenant *t);
void usage_op(struct daemon *d, struct conn *c, struct json_t *req);
/* The ingress says n more requests went to the tenant. */
void usage_served(struct daemon *d, const char *slug, unsigned n);
/* At exit: a last checkpoint. */
void usage_shutdown(struct daemon *d);

/* metrics.c: Prometheus metrics on metrics_listen */
enum metrics_hist { METRICS_SPAWN, METRICS_API, METRICS_WAKE };
/* Before anything is timed (restore starts tenants). */
void metrics_init_histograms(struct daemon *d);
void metrics_observe(struct daemon *d, enum metrics_hist which, uint64_t usec);
/* A wake of t: its own histogram and the daemon's. */
void metrics_observe_wake(struct daemon *d, struct tenant *t, uint64_t usec);
int metrics_listen(struct daemon *d, pt_err *err);
void metrics_tick(struct daemon *d, uint64_t now);
uint64_t metrics_next_deadline(const struct daemon *d);
void metrics_shutdown(struct daemon *d);
uint64_t now_mono_us(void);

/* exec.c */
/* At exit: frees the exec jobs left (their helpers die with the daemon). */
void exec_shutdown(struct daemon *d);
int exec_start(struct daemon *d, struct conn *c, struct tenant *t,
	       struct json_t *req, pt_err *err);
/* Forks a helper that joins t's namespaces and cgroup, becomes its root
 * and runs argv in the tenant's own cage on stdio (which it dups); the
 * helper exits with argv's status. Returns its pidfd, or -errno. */
int exec_spawn(struct daemon *d, struct tenant *t, char **argv, const int stdio[3],
	       pt_err *err);

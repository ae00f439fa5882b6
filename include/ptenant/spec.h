/* The tenant spec: what an operator (or the control plane) asks for.
 *
 * JSON on the wire and on disk; these C types are the validated form. A
 * spec that parses is complete and safe to act on: every string has been
 * checked against its grammar, every number against its range, and every
 * error names the field at fault. See ptenant-spec(5). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../src/lib/error.h"

#define PT_SLUG_MAX 63
#define PT_BP_NAME_MAX 63
#define PT_BP_VERSION_MAX 64
#define PT_ARGV_MAX 256          /* entrypoint + args entries */
#define PT_ARG_LEN_MAX 4096
#define PT_ENV_MAX 256
#define PT_ENV_KEY_MAX 128
#define PT_ENV_VALUE_MAX 32768
#define PT_SECRETS_MAX 64
#define PT_SECRET_NAME_MAX 64
#define PT_SECRET_VALUE_MAX 65536

#define PT_RLIMITS_MAX 16
#define PT_SECCOMP_NAMES_MAX 512
#define PT_ID_MAX 65535          /* ids inside the tenant's user namespace */
#define PT_RLIM_INFINITY UINT64_MAX

enum pt_restart_policy {
	PT_RESTART_ALWAYS = 0,   /* default: respawn on any exit */
	PT_RESTART_ON_FAILURE,   /* respawn unless it exited 0 */
	PT_RESTART_NEVER,
};

struct pt_kv {
	char *key;
	char *value;             /* for secrets: NULL when loaded without values */
};

struct pt_resources {
	uint64_t memory_max;     /* bytes; 0 = daemon default */
	uint64_t memory_high;    /* bytes; 0 = derived from memory_max */
	uint32_t cpu_millis;     /* 1000 = one core; 0 = daemon default */
	uint32_t cpu_weight;     /* 1..10000; 0 = default (100) */
	uint64_t pids_max;       /* 0 = daemon default */
	uint64_t log_rate;       /* bytes of output per second; 0 = daemon default */
	uint64_t log_burst;      /* bytes; 0 = daemon default */
};

/* Who the tenant's processes run as, inside its user namespace. root
 * (the default) keeps the tenant's small capability set; any other uid
 * runs with no capabilities at all. */
struct pt_user {
	bool set;
	uint32_t uid;
	uint32_t gid;
};

struct pt_rlimit {
	int resource;            /* RLIMIT_* */
	uint64_t soft, hard;     /* PT_RLIM_INFINITY = unlimited */
};

/* Tightens (deny) or relaxes (allow) the default seccomp profile by
 * syscall name; see ptenant-seccomp(5). */
struct pt_seccomp_profile {
	bool set;
	char **allow;            /* NULL-terminated, may be NULL */
	char **deny;
};

/* When an idle tenant is frozen, then stopped to sleep (ptenant-spec(5),
 * "idle"). 0: the daemon's default (ptenantd.conf idle_*); PT_IDLE_OFF:
 * this stage is off for this tenant even if the daemon has a default. */
#define PT_IDLE_OFF UINT64_MAX
#define PT_IDLE_MAX_MS (366ULL * 24 * 3600 * 1000)
struct pt_idle {
	uint64_t freeze_after_ms;
	uint64_t stop_after_ms;
	uint64_t wake_timeout_ms;
};

/* How the daemon checks that a running tenant serves (ptenant-spec(5),
 * "health"). kind NONE: no checks; the tenant is ready once it runs. */
enum pt_health_kind {
	PT_HEALTH_NONE = 0,
	PT_HEALTH_HTTP,          /* GET path on port: 2xx or 3xx passes */
	PT_HEALTH_TCP,           /* port accepts a connection */
	PT_HEALTH_EXEC,          /* argv run in the tenant exits 0 */
	PT_HEALTH_NOTIFY,        /* the tenant said READY=1 in this run */
};
#define PT_HEALTH_PATH_MAX 512
#define PT_HEALTH_ARGV_MAX 32
#define PT_HEALTH_RETRIES_MAX 100
#define PT_HEALTH_INTERVAL_DEFAULT_MS 10000
#define PT_HEALTH_TIMEOUT_DEFAULT_MS 3000
#define PT_HEALTH_RETRIES_DEFAULT 3
struct pt_health {
	enum pt_health_kind kind;
	char path[PT_HEALTH_PATH_MAX + 1]; /* http */
	uint16_t port;           /* http, tcp; 0 = the tenant's port */
	char **exec;             /* exec: NULL-terminated */
	uint64_t interval_ms;    /* 0 = PT_HEALTH_INTERVAL_DEFAULT_MS */
	uint64_t timeout_ms;     /* 0 = default, at most the interval */
	uint64_t start_period_ms; /* failures before it is over do not count */
	uint32_t retries;        /* 0 = default: failures in a row that restart it */
};

struct pt_spec {
	char slug[PT_SLUG_MAX + 1];
	char blueprint_name[PT_BP_NAME_MAX + 1];
	char blueprint_version[PT_BP_VERSION_MAX + 1];
	char **entrypoint;       /* NULL-terminated, NULL = blueprint's */
	char **args;             /* NULL-terminated, NULL = blueprint's */
	struct pt_kv *env;
	size_t n_env;
	struct pt_kv *secrets;
	size_t n_secrets;
	uint16_t port;           /* 0 = blueprint's */
	struct pt_resources resources;
	enum pt_restart_policy restart;
	struct pt_user user;
	struct pt_rlimit rlimits[PT_RLIMITS_MAX]; /* only those the spec sets */
	size_t n_rlimits;
	struct pt_seccomp_profile seccomp;
	struct pt_idle idle;
	struct pt_health health;
};

/* Parses and validates a whole spec. On failure returns -EINVAL (or
 * -ENOMEM), fills err (err->field names the JSON path at fault, e.g.
 * "env.FOO" or "resources.memory") and leaves *ret untouched.
 * `text` need not be NUL-terminated. */
int pt_spec_parse(const char *text, size_t len, struct pt_spec *ret, pt_err *err);

/* Same, from an already-parsed jansson object (the API request body). */
struct json_t;
int pt_spec_from_json(struct json_t *obj, struct pt_spec *ret, pt_err *err);

/* Serialises a spec. Secret values are written only when with_secrets is
 * true (never for spec.json on disk nor for `inspect`: those carry the
 * names alone). Returns a new reference, NULL on ENOMEM. */
struct json_t *pt_spec_to_json(const struct pt_spec *spec, bool with_secrets);

void pt_spec_free(struct pt_spec *spec);

/* The individual grammars, for the CLI and the daemon. Each returns 0 or
 * -EINVAL with a message naming `field`. */
int pt_slug_validate(const char *slug, const char *field, pt_err *err);
int pt_blueprint_ref_parse(const char *ref, char name[PT_BP_NAME_MAX + 1],
			   char version[PT_BP_VERSION_MAX + 1], const char *field,
			   pt_err *err);
int pt_env_key_validate(const char *key, const char *field, pt_err *err);
int pt_secret_name_validate(const char *name, const char *field, pt_err *err);

/* "256M", "1G", "1048576", "512Ki" -> bytes. Suffixes K M G T (powers of
 * 1024, optional trailing 'i' or 'B'). Rejects 0, overflow and junk. */
int pt_size_parse(const char *text, uint64_t *ret_bytes);
/* "0.5", "2", "1.25" cores -> millicores (1..1024000). */
int pt_cpu_parse(const char *text, uint32_t *ret_millis);

/* "nofile" -> RLIMIT_NOFILE; -1 when unknown. And back. */
int pt_rlimit_from_name(const char *name);
const char *pt_rlimit_name(int resource);

/* Parses a seccomp profile object ({"allow": [...], "deny": [...]}),
 * checking every name against the syscall table. `field` prefixes the
 * error's field ("seccomp_profile"). */
int pt_seccomp_profile_parse(struct json_t *obj, const char *field,
			     struct pt_seccomp_profile *ret, pt_err *err);
void pt_seccomp_profile_free(struct pt_seccomp_profile *p);

/* "500ms", "30s", "5m", "2h", "1d" -> milliseconds (1 ms .. 366 days).
 * Rejects 0, a missing unit, junk and overflow. */
int pt_duration_parse(const char *text, uint64_t *ret_ms);
/* The reverse, in the largest unit that divides it ("90s", "5m"). */
void pt_duration_format(uint64_t ms, char *buf, size_t size);

const char *pt_restart_policy_name(enum pt_restart_policy p);
int pt_restart_policy_parse(const char *text, enum pt_restart_policy *ret);

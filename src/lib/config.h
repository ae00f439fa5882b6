/* ptenantd.conf: `key = value` lines, `#` comments. See ptenantd(8). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "backoff.h"
#include "error.h"
#include "netconf.h"

struct pt_config {
	char state_dir[256];     /* default /var/lib/ptenant */
	char runtime_dir[256];   /* default /run/ptenant (socket, mountpoints) */
	char api_group[64];      /* default "ptenant"; "" = root only */
	/* Who may use the ingress channel (runtime_dir/ingress.sock): the
	 * user ptenant-ingress runs as; "" = root only. */
	char ingress_user[64];
	uint32_t uid_base;       /* default 1000000000; ranges of 65536 above it */
	uint32_t uid_ranges;     /* default 4096: how many tenants may exist */
	uint64_t log_max_bytes;  /* default 1M */
	uint32_t log_keep;       /* default 3 */
	uint32_t stop_grace_ms;  /* default 10000 */
	uint32_t spawn_timeout_ms; /* default 30000: a tenant's setup before exec */
	uint32_t spawn_concurrency; /* children setting up at once; 0: one per CPU */
	int32_t daemon_nice;     /* default -10: ptenantd's own, tenants keep theirs */
	struct pt_backoff_policy backoff;
	uint64_t default_memory_max; /* default 512M */
	uint32_t default_cpu_millis; /* default 1000 */
	uint64_t default_pids_max;   /* default 512 */
	uint64_t default_log_rate;   /* default 64K (bytes/s); 0 = no log budget */
	uint64_t default_log_burst;  /* default 1M */
	struct pt_netconf net;       /* network = off by default */
	uint32_t cgroup_mode;        /* enum pt_cg_mode: auto (default), v2, v1, off */
	char cgroup_parent[256];     /* cgroup path ("/ptenant"); "" = own cgroup */
	/* Each running tenant with a restart policy keeps its next run set up
	 * and parked (ptenantd's standby.c): a respawn is a "go". */
	uint32_t respawn_standby;    /* 0 off, 1 on */
	/* Defaults of a spec's idle block: 0 = that stage off. */
	uint64_t idle_freeze_after_ms;
	uint64_t idle_stop_after_ms;
	uint64_t idle_wake_timeout_ms; /* default 30 s */
	/* Where ptenantd serves Prometheus metrics; "" = nowhere (default). */
	char metrics_listen[128];
};

void pt_config_defaults(struct pt_config *c);
/* Parses text over the defaults already in *c. Unknown keys, bad values
 * and duplicate keys are errors naming the line and the key. */
int pt_config_parse(struct pt_config *c, const char *text, size_t len,
		    const char *origin, pt_err *err);
/* Loads a file; a missing file is not an error when optional is true. */
int pt_config_load(struct pt_config *c, const char *path, int optional,
		   pt_err *err);
/* Sets one key from a command-line flag ("state_dir", "/tmp/x"). */
int pt_config_set(struct pt_config *c, const char *key, const char *value,
		  pt_err *err);

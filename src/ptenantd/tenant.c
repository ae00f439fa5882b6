/* A tenant in the daemon: the table, the journal, its files, create, and
 * the summary the API shows. Starting is in tenant-start.c, exits,
 * respawns, stop and rm in tenant-exit.c. Every transition that must
 * survive a daemon restart is written to state.json before it is acted
 * upon. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "events.h"
#include "fsutil.h"
#include "idmap.h"
#include "netconf.h"
#include "plan.h"
#include "proc.h"
#include "spawn.h"
#include "trace.h"
#include "blueprint.h"
#include "api.h"

const char *tenant_phase_name(enum tenant_phase p)
{
	switch (p) {
	case PHASE_STOPPED: return "stopped";
	case PHASE_RUNNING: return "running";
	case PHASE_STOPPING: return "stopping";
	case PHASE_BACKOFF: return "restarting";
	case PHASE_CRASHLOOP: return "crash-loop";
	case PHASE_FAILED: return "failed";
	case PHASE_STARTING: return "starting";
	}
	return "?";
}

struct tenant *tenant_find(struct daemon *d, const char *slug)
{
	for (size_t i = 0; i < d->n_tenants; i++)
		if (strcmp(d->tenants[i]->spec.slug, slug) == 0)
			return d->tenants[i];
	return NULL;
}

void tenant_record(struct daemon *d, struct tenant *t, const char *event,
		   const char *reason, int code, const char *message)
{
	tenant_record_with_log(d, t, event, reason, code, message, NULL);
}

void tenant_record_with_log(struct daemon *d, struct tenant *t, const char *event,
			    const char *reason, int code, const char *message,
			    const char *log_tail)
{
	struct pt_event ev = {
		.ts_ms = now_real_ms(), .tenant = t ? t->spec.slug : NULL,
		.event = event, .reason = reason, .code = code, .message = message,
		.log_tail = log_tail,
	};

	usage_event(d, t, event, reason);
	if (pt_events_append(d->events_fd, &ev, NULL) < 0)
		fprintf(stderr, "ptenantd: cannot append to the event journal\n");
	if (d->journal_stderr)
		return; /* the structured entry was the log line */
	fprintf(stderr, "ptenantd: %s%s%s%s%s%s\n", t ? "tenant " : "",
		t ? t->spec.slug : "", t ? ": " : "", event,
		message ? ": " : "", message ? message : "");
}

static int write_spec(int dfd, const struct pt_spec *spec, pt_err *err);

int tenant_save_spec(struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	return write_spec(dfd, &t->spec, err);
}

int tenant_save_state(struct tenant *t, pt_err *err)
{
	_cleanup_close_ int dfd = open(t->dir, O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", t->dir);
	return pt_state_save(dfd, &t->st, err);
}

#define STATE_RETRY_MS 1000

/* A failed write does not undo the change it was to record (a stop is
 * still a stop): the daemon knows the truth, keeps serving, says once what
 * failed, and writes again until it succeeds; the file on disk is the old
 * whole one meanwhile, never a torn one (pt_write_file_atomic). */
void tenant_persisted(struct daemon *d, struct tenant *t, int r, const pt_err *err)
{
	if (r == 0) {
		if (t->state_unsaved)
			tenant_record(d, t, "state-saved", NULL, -1,
				      "state.json written again after a failed write");
		t->state_unsaved = false;
		return;
	}
	/* On a full disk the event journal cannot take the record either:
	 * stderr (the system journal) has it, and ls shows state_error. */
	if (!t->state_unsaved)
		tenant_record(d, t, "state-save-failed", NULL, -1, err->msg);
	snprintf(t->state_error, sizeof(t->state_error), "%s", err->msg);
	t->state_unsaved = true;
	t->state_retry_at = now_mono_ms() + STATE_RETRY_MS;
}

void tenant_persist(struct daemon *d, struct tenant *t)
{
	pt_err err = { 0 };
	int r;

	syncer_settle(d, t); /* a start's save still queued lands first */
	r = tenant_save_state(t, &err);
	tenant_persisted(d, t, r, &err);
}

void tenant_free(struct tenant *t)
{
	if (!t)
		return;
	pt_closep(&t->proc.fd);
	pt_closep(&t->log.fd);
	pt_closep(&t->notify.fd);
	pt_closep(&t->budget.oom.fd);
	pt_closep(&t->budget.leaf_fd);
	pt_logfile_close(&t->logfile);
	pt_spec_free(&t->spec);
	pt_seccomp_bpf_free(&t->seccomp);
	free(t);
}

static int collect_uids(struct daemon *d, uint32_t **ret)
{
	uint32_t *used = calloc(d->n_tenants + 1, sizeof(uint32_t));

	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_tenants; i++)
		used[i] = d->tenants[i]->st.host_uid;
	*ret = used;
	return 0;
}

static int add_to_table(struct daemon *d, struct tenant *t)
{
	struct tenant **n = realloc(d->tenants, (d->n_tenants + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	d->tenants = n;
	d->tenants[d->n_tenants++] = t;
	return 0;
}

void tenant_drop_from_table(struct daemon *d, struct tenant *t)
{
	for (size_t i = 0; i < d->n_tenants; i++)
		if (d->tenants[i] == t) {
			memmove(&d->tenants[i], &d->tenants[i + 1],
				(d->n_tenants - i - 1) * sizeof(*d->tenants));
			d->n_tenants--;
			return;
		}
}

static int write_secrets(int dfd, const struct pt_spec *spec, pt_err *err)
{
	_cleanup_close_ int sdir = -1;

	if (mkdirat(dfd, "secrets", 0700) < 0)
		return pt_err_set(err, -errno, "mkdir secrets");
	sdir = openat(dfd, "secrets", O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sdir < 0)
		return pt_err_set(err, -errno, "open secrets");
	for (size_t i = 0; i < spec->n_secrets; i++) {
		const struct pt_kv *kv = &spec->secrets[i];
		int r = pt_write_file_atomic(sdir, kv->key, kv->value,
					     strlen(kv->value), 0400, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_spec(int dfd, const struct pt_spec *spec, pt_err *err)
{
	json_t *j = pt_spec_to_json(spec, false);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int r;

	json_decref(j);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format spec.json");
	r = pt_write_file_atomic(dfd, "spec.json", text, strlen(text), 0600, err);
	free(text);
	return r;
}

/* Lays out a new tenant directory under a temporary name; the caller
 * renames it into place, so a crash mid-create leaves no half tenant. */
static int lay_out_tenant(const char *tmp, const struct pt_spec *spec,
			  const struct pt_tenant_state *st, pt_err *err)
{
	_cleanup_close_ int dfd = -1;
	int r;

	if (mkdir(tmp, 0700) < 0)
		return pt_err_set(err, -errno, "mkdir %s", tmp);
	dfd = open(tmp, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", tmp);
	r = write_spec(dfd, spec, err);
	if (r == 0)
		r = pt_state_save(dfd, st, err);
	if (r == 0)
		r = write_secrets(dfd, spec, err);
	/* data/ belongs to the tenant's root (or its `user`); everything else
	 * to the daemon. */
	if (r == 0)
		r = pt_mkdir_owned(dfd, "data", 0700,
				   st->host_uid + (spec->user.set ? spec->user.uid : 0),
				   st->host_uid + (spec->user.set ? spec->user.gid : 0), err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "log", 0700, 0, 0, err);
	if (r == 0)
		r = pt_mkdir_owned(dfd, "root", 0755, 0, 0, err);
	return r;
}

/* The create record says what the tenant was given, so the journal alone
 * answers "what was this tenant?" after it is gone. */
static void describe_create(struct daemon *d, const struct tenant *t, char *buf, size_t n)
{
	char budget[160], addr[PT_IPV4_STR] = "", with_addr[32] = "";

	budget_describe(d, t, budget, sizeof(budget));
	if (t->net.addr) {
		pt_ipv4_format(t->net.addr, addr);
		snprintf(with_addr, sizeof(with_addr), ", address %s", addr);
	}
	snprintf(buf, n, "blueprint %s@%s, %s, restart %s, host uids %u-%u%s",
		 t->spec.blueprint_name, t->spec.blueprint_version, budget,
		 pt_restart_policy_name(t->spec.restart), t->st.host_uid,
		 t->st.host_uid + PT_IDMAP_RANGE - 1, with_addr);
}

int tenant_create(struct daemon *d, struct pt_spec *spec, bool start,
		  struct tenant **ret, pt_err *err)
{
	_cleanup_free_ uint32_t *used = NULL;
	struct pt_blueprint bp;
	struct tenant *t;
	struct pt_seccomp_bpf bpf = PT_SECCOMP_BPF_INIT;
	char tmp[600], what[512];
	int r;

	if (tenant_find(d, spec->slug))
		return pt_err_field(err, -EEXIST, "slug", "tenant %s exists", spec->slug);
	/* A bad profile or rlimit fails here, before anything is written. */
	r = security_check_spec(spec, &bpf, err);
	if (r < 0)
		return pt_err_prefix(err, "create tenant %s", spec->slug);
	r = pt_blueprint_load(d->cfg.state_dir, spec->blueprint_name,
			      spec->blueprint_version, &bp, err);
	if (r < 0) {
		pt_seccomp_bpf_free(&bpf);
		if (r == -ENOENT && err) {
			char msg[PT_ERR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			return pt_err_field(err, r, "blueprint", "%s", msg);
		}
		return r;
	}
	/* An image's User is the default of a spec that names none: kept in
	 * the spec, so the tenant stays who it was created as. */
	if (!spec->user.set && bp.user[0]) {
		unsigned uid = 0, gid = 0;

		if (sscanf(bp.user, "%u:%u", &uid, &gid) == 2)
			spec->user = (struct pt_user){ .set = true, .uid = uid, .gid = gid };
	}
	pt_blueprint_free(&bp);
	t = calloc(1, sizeof(*t));
	if (!t || collect_uids(d, &used) < 0) {
		free(t);
		pt_seccomp_bpf_free(&bpf);
		return pt_err_set(err, -ENOMEM, "allocate tenant");
	}
	t->seccomp = bpf;
	t->proc.fd = t->log.fd = t->logfile.fd = t->logfile.dirfd = t->notify.fd = -1;
	health_tenant_init(t);
	budget_tenant_init(t);
	r = pt_idmap_pick(used, d->n_tenants, d->cfg.uid_base, d->cfg.uid_ranges,
			  &t->st.host_uid, err);
	snprintf(t->dir, sizeof(t->dir), "%s/%s", d->tenants_dir, spec->slug);
	snprintf(tmp, sizeof(tmp), "%s/.create-%s", d->tenants_dir, spec->slug);
	t->st.desired = start ? PT_DESIRED_RUNNING : PT_DESIRED_STOPPED;
	pt_rmtree_at(AT_FDCWD, tmp, NULL); /* a leftover of a crashed create */
	if (r == 0)
		r = PT_FAULT_ERR("create.layout", err);
	if (r == 0)
		r = lay_out_tenant(tmp, spec, &t->st, err);
	snprintf(t->spec.slug, sizeof(t->spec.slug), "%s", spec->slug);
	if (r == 0)
		r = net_tenant_alloc(d, t, tmp, err);
	if (r == 0)
		r = PT_FAULT_ERR("create.rename", err);
	if (r == 0 && rename(tmp, t->dir) < 0)
		r = pt_err_set(err, -errno, "rename %s to %s", tmp, t->dir);
	if (r < 0 || (r = add_to_table(d, t)) < 0) {
		pt_rmtree_at(AT_FDCWD, tmp, NULL);
		pt_seccomp_bpf_free(&t->seccomp);
		free(t);
		return pt_err_prefix(err, "create tenant %s", spec->slug);
	}
	/* The table keeps the spec without secret values. */
	t->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	for (size_t i = 0; i < t->spec.n_secrets; i++) {
		explicit_bzero(t->spec.secrets[i].value, strlen(t->spec.secrets[i].value));
		free(t->spec.secrets[i].value);
		t->spec.secrets[i].value = NULL;
	}
	describe_create(d, t, what, sizeof(what));
	tenant_record(d, t, "create", NULL, -1, what);
	routes_changed(d);
	*ret = t;
	return 0;
}

/* Loads secret values from secrets/ into a copy of the spec's secret list
 * for one spawn; the caller wipes and frees them right after. */
json_t *tenant_summary(struct daemon *d, struct tenant *t)
{
	char bp[PT_BP_NAME_MAX + PT_BP_VERSION_MAX + 2];
	uint64_t now = now_real_ms();
	json_t *o;

	(void)d;
	snprintf(bp, sizeof(bp), "%s@%s", t->spec.blueprint_name, t->spec.blueprint_version);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}",
		      "slug", t->spec.slug, "blueprint", bp,
		      "state", tenant_state_name(t),
		      "pid", (json_int_t)t->st.pid,
		      "host_uid", (json_int_t)t->st.host_uid,
		      "restarts", (json_int_t)t->st.restarts);
	if (t->phase == PHASE_RUNNING && t->st.started_at && now >= t->st.started_at)
		json_object_set_new(o, "uptime_ms", json_integer((json_int_t)(now - t->st.started_at)));
	if (t->st.last_exit != PT_EXIT_NONE)
		json_object_set_new(o, "last_exit", json_pack("{s:s, s:i, s:I}",
			"reason", pt_exit_reason_name(t->st.last_exit),
			"code", t->st.last_code, "at", (json_int_t)t->st.last_exit_at));
	if (t->phase == PHASE_RUNNING && health_status_name(t))
		json_object_set_new(o, "health", json_string(health_status_name(t)));
	if (t->last_error[0])
		json_object_set_new(o, "error", json_string(t->last_error));
	if (t->state_unsaved)
		json_object_set_new(o, "state_error", json_string(t->state_error));
	return o;
}

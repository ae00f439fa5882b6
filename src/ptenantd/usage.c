/* The usage ledger (issue 14): how long each tenant was active, frozen,
 * asleep, stopped or crash-looping, its CPU and memory (with budgets),
 * its restarts and incidents, by UTC day, for billing.
 *
 *   usage/open.json     the open day, every tenant's counters so far, and
 *                       how far they are accounted; rewritten (atomically)
 *                       every CHECKPOINT_MS: a crash loses at most that
 *                       much of the CPU, memory and counts; state time is
 *                       not lost: a new ptenantd accounts the gap from the
 *                       checkpoint to its start in the state it recorded.
 *   usage/YYYY-MM.jsonl one line per tenant per closed day, appended when
 *                       the day closes, then fsync'd, then the checkpoint
 *                       moves to the next day. A crash in between is
 *                       found by the next close of that day (it skips the
 *                       tenants whose line is there): nothing counted
 *                       twice. A torn last line is ended with a newline
 *                       before the next append and skipped when read.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cgroup.h"
#include "cleanup.h"
#include "daemon.h"
#include "fsutil.h"
#include "usage.h"

#define CHECKPOINT_MS 10000
#define OPEN_FILE "open.json"
#define OPEN_MAX (64 * 1024 * 1024)
#define MONTH_MAX (512 * 1024 * 1024)
#define LINE_MAX_LEN 1024
#define SKIPPED_SHOWN 5

/* A removed tenant's open day, kept until the day closes: it is billed. */
struct usage_gone {
	char slug[PT_SLUG_MAX + 1];
	struct pt_usage open;
	struct usage_gone *next;
};

struct usage_ledger {
	char dir[400];
	uint64_t day;                    /* the open day */
	uint64_t checkpoint_at;          /* monotonic ms: the next checkpoint */
	bool check_dupes;                /* the first close after a restart */
	struct usage_gone *gone;
};

static enum pt_usage_state state_of(const struct tenant *t)
{
	switch (t->phase) {
	case PHASE_RUNNING:
	case PHASE_STOPPING:
		return t->st.idle == PT_IDLE_FROZEN ? PT_US_FROZEN : PT_US_ACTIVE;
	case PHASE_BACKOFF:
	case PHASE_CRASHLOOP:
		return PT_US_CRASHLOOP;
	case PHASE_STARTING:
		return t->st.idle == PT_IDLE_ASLEEP ? PT_US_ASLEEP : PT_US_ACTIVE;
	case PHASE_STOPPED:
	case PHASE_FAILED:
	default:
		return t->st.idle == PT_IDLE_ASLEEP ? PT_US_ASLEEP : PT_US_STOPPED;
	}
}

/* ---- accounting ------------------------------------------------------ */

/* CPU and memory from its cgroup, while it runs with budgets: the memory
 * read now stands for the time until the next accrual. */
static void sample(struct daemon *d, struct tenant *t)
{
	struct tenant_usage *u = &t->usage;
	struct pt_cg_stats s;

	if (!d->cg || t->phase != PHASE_RUNNING || t->broken ||
	    d->cg->ops->stats(d->cg, t->spec.slug, &s, NULL) < 0) {
		u->mem_last = 0;
		return;
	}
	u->open.metered = true;
	if (s.cpu_usec != UINT64_MAX) {
		if (u->cpu_valid && s.cpu_usec >= u->cpu_seen)
			u->open.cpu_us += s.cpu_usec - u->cpu_seen;
		u->cpu_seen = s.cpu_usec;
		u->cpu_valid = true;
	}
	u->mem_last = s.memory_current;
	if (s.memory_current > u->open.mem_peak)
		u->open.mem_peak = s.memory_current;
}

/* Bytes through its link since the last read: the host side's rx is what
 * the tenant sent, its tx what the tenant received. */
static void sample_net(struct tenant *t, const char *netdev, size_t len)
{
	struct tenant_usage *u = &t->usage;
	uint64_t rx, tx;
	char veth[16];

	if (!netdev || !t->net.addr || t->phase != PHASE_RUNNING)
		return;
	net_veth_name(t, t->st.veth_slot, veth);
	if (pt_netdev_bytes(netdev, len, veth, &rx, &tx) < 0)
		return;
	u->open.net_metered = true;
	if (u->net_valid && u->net_slot == t->st.veth_slot && rx >= u->net_rx_seen &&
	    tx >= u->net_tx_seen) {
		u->open.net_out += rx - u->net_rx_seen;
		u->open.net_in += tx - u->net_tx_seen;
		u->net_out_total += rx - u->net_rx_seen;
		u->net_in_total += tx - u->net_tx_seen;
	}
	u->net_rx_seen = rx;
	u->net_tx_seen = tx;
	u->net_valid = true;
	u->net_slot = t->st.veth_slot;
}

/* The daemon's network namespace's links, or NULL without networking. */
static char *read_netdev(struct daemon *d, size_t *len)
{
	char *text = NULL;

	if (!d->cfg.net.enabled || pt_read_file(AT_FDCWD, "/proc/self/net/dev", 4 << 20, &text,
						len, NULL) < 0)
		return NULL;
	return text;
}

/* Its time up to `to` (within the open day) in the state it was in. */
static void accrue(struct tenant *t, uint64_t to)
{
	struct tenant_usage *u = &t->usage;

	if (u->last_at == 0) { /* a tenant made since: from now on */
		u->last_at = to;
		u->state = state_of(t);
	}
	if (to > u->last_at) {
		u->open.state_ms[u->state] += to - u->last_at;
		u->total_ms[u->state] += to - u->last_at;
		if (u->mem_last)
			u->open.mem_byte_ms += u->mem_last * (to - u->last_at);
		u->last_at = to;
	}
}

static int month_fd(struct usage_ledger *l, uint64_t day, pt_err *err)
{
	char month[8], path[440];
	int fd;

	pt_month_of_day(day, month);
	snprintf(path, sizeof(path), "%s/%s.jsonl", l->dir, month);
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return pt_err_set(err, -errno, "open %s", path);
	return fd;
}

/* The slugs that already have a line for that day (a close a crash cut
 * short), as a JSON object used as a set. */
/* Calls fn for each non-empty line of a month's file (lineno from 1):
 * with the line parsed, or with l NULL and why it is no ledger line (a
 * line a crash tore, or damage). */
typedef void (*line_fn)(void *ctx, size_t lineno, const struct pt_usage_line *l,
			const pt_err *why);

static void for_each_line(const char *text, size_t len, line_fn fn, void *ctx)
{
	size_t lineno = 0;

	for (const char *p = text, *nl; p < text + len; p = nl + 1) {
		struct pt_usage_line l;
		pt_err err = { 0 };

		lineno++;
		nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl)
			nl = text + len;
		if (nl == p)
			continue;
		if (pt_usage_line_parse(p, (size_t)(nl - p), &l, &err) < 0)
			fn(ctx, lineno, NULL, &err);
		else
			fn(ctx, lineno, &l, NULL);
	}
}

struct day_lines {
	json_t *set;
	uint64_t day;
};

static void note_day_line(void *ctx, size_t lineno, const struct pt_usage_line *l,
			  const pt_err *why)
{
	struct day_lines *dl = ctx;

	(void)lineno;
	(void)why;
	if (l && l->day == dl->day)
		json_object_set_new(dl->set, l->slug, json_true());
}

/* The slugs whose line for `day` is in the file already. */
static json_t *lines_of_day(int fd, uint64_t day)
{
	_cleanup_free_ char *text = NULL;
	struct day_lines dl = { .set = json_object(), .day = day };
	size_t len = 0;

	if (dl.set && pt_read_fd(fd, MONTH_MAX, &text, &len) == 0)
		for_each_line(text, len, note_day_line, &dl);
	return dl.set;
}

static int append_line(int fd, uint64_t day, const char *slug, const struct pt_usage *u,
		       json_t *done)
{
	struct pt_usage_line l = { .day = day, .u = *u };
	char buf[LINE_MAX_LEN];
	int n;

	if (done && json_object_get(done, slug))
		return 0;
	snprintf(l.slug, sizeof(l.slug), "%s", slug);
	n = pt_usage_line_format(&l, buf, sizeof(buf) - 1);
	if (n < 0)
		return n;
	buf[n++] = '\n';
	return pt_fs_write_all(fd, buf, (size_t)n);
}

/* A line a crash tore is ended, so the next one starts on a line of its
 * own (the fragment is skipped when read). */
static int end_torn_line(int fd)
{
	struct stat st;
	char last;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return 0;
	if (pread(fd, &last, 1, st.st_size - 1) != 1 || last == '\n')
		return 0;
	return pt_fs_write_all(fd, "\n", 1);
}

static int checkpoint(struct daemon *d, pt_err *err);

/* The open day's lines go to its month's file; the next day opens. */
static void close_day(struct daemon *d)
{
	struct usage_ledger *l = d->usage;
	_cleanup_close_ int fd = -1;
	json_t *done = NULL;
	pt_err err = { 0 };
	int r;

	fd = month_fd(l, l->day, &err);
	r = fd < 0 ? fd : end_torn_line(fd);
	if (r == 0 && l->check_dupes)
		done = lines_of_day(fd, l->day);
	for (size_t i = 0; r == 0 && i < d->n_tenants; i++)
		r = append_line(fd, l->day, d->tenants[i]->spec.slug, &d->tenants[i]->usage.open, done);
	for (struct usage_gone *g = l->gone; r == 0 && g; g = g->next)
		r = append_line(fd, l->day, g->slug, &g->open, done);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	json_decref(done);
	if (r < 0) {
		/* The day stays open and in the checkpoint: tried again at the
		 * next tick, skipping what did get written. */
		if (!err.msg[0])
			pt_err_set(&err, r, "append to the usage ledger");
		tenant_record(d, NULL, "usage-write-failed", NULL, -1, err.msg);
		l->check_dupes = true;
		return;
	}
	for (size_t i = 0; i < d->n_tenants; i++)
		memset(&d->tenants[i]->usage.open, 0, sizeof(d->tenants[i]->usage.open));
	while (l->gone) {
		struct usage_gone *g = l->gone;

		l->gone = g->next;
		free(g);
	}
	l->day++;
	l->check_dupes = false;
	if (checkpoint(d, &err) < 0)
		tenant_record(d, NULL, "usage-write-failed", NULL, -1, err.msg);
}

/* Every tenant accounted up to now, the days that ended closed. */
static void account_all(struct daemon *d, uint64_t now)
{
	struct usage_ledger *l = d->usage;
	_cleanup_free_ char *netdev = NULL;
	size_t netdev_len = 0;

	while (pt_day_of_ms(now) > l->day) {
		uint64_t boundary = (l->day + 1) * PT_DAY_MS;
		uint64_t day = l->day;

		for (size_t i = 0; i < d->n_tenants; i++)
			accrue(d->tenants[i], boundary);
		close_day(d);
		if (l->day == day)
			return; /* could not be written: tried again later */
	}
	netdev = read_netdev(d, &netdev_len);
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];

		accrue(t, now);
		sample(d, t);
		sample_net(t, netdev, netdev_len);
		t->usage.state = state_of(t);
	}
}

void usage_event(struct daemon *d, struct tenant *t, const char *event, const char *reason)
{
	uint64_t now = now_real_ms();
	int inc;

	if (!d->usage || !t)
		return;
	if (pt_day_of_ms(now) > d->usage->day) {
		account_all(d, now);
	} else {
		accrue(t, now);
		sample(d, t);
	}
	if (strcmp(event, "respawn") == 0)
		t->usage.open.restarts++;
	/* In the checkpoint at once: a crash soon after must not lose it. */
	if (strcmp(event, "create") == 0)
		d->usage->checkpoint_at = 0;
	inc = pt_usage_incident_from_reason(reason);
	if (inc >= 0 && (strcmp(event, "exit") == 0 || strcmp(event, "start-failed") == 0)) {
		t->usage.open.incidents[inc]++;
		t->usage.incidents_total[inc]++;
	}
	t->usage.state = state_of(t);
	/* Its leaf goes after the exit: what it used is in. */
	if (strcmp(event, "exit") == 0 || strcmp(event, "stopped") == 0 ||
	    strcmp(event, "asleep") == 0) {
		t->usage.cpu_valid = false;
		t->usage.mem_last = 0;
	}
}

void usage_served(struct daemon *d, const char *slug, unsigned n)
{
	struct tenant *t = tenant_find(d, slug);

	if (!t || !d->usage)
		return;
	t->usage.open.requests += n;
	t->usage.open.requests_metered = true;
	t->usage.requests_total += n;
}

void usage_run_begun(struct tenant *t)
{
	t->usage.cpu_seen = 0;
	t->usage.cpu_valid = true;
	/* Its link is new too. */
	t->usage.net_rx_seen = t->usage.net_tx_seen = 0;
	t->usage.net_valid = true;
	t->usage.net_slot = t->st.veth_slot;
}

void usage_tenant_gone(struct daemon *d, struct tenant *t)
{
	struct usage_gone *g;

	if (!d->usage)
		return;
	usage_event(d, t, "removed", NULL);
	g = calloc(1, sizeof(*g));
	if (!g)
		return;
	snprintf(g->slug, sizeof(g->slug), "%s", t->spec.slug);
	g->open = t->usage.open;
	g->next = d->usage->gone;
	d->usage->gone = g;
}

/* ---- the checkpoint -------------------------------------------------- */

static json_t *usage_json(const struct pt_usage *u)
{
	json_t *o = json_object(), *inc = json_object();

	for (int i = 0; i < PT_US_N; i++)
		json_object_set_new(o, pt_usage_state_name(i), json_integer((json_int_t)u->state_ms[i]));
	for (int i = 0; i < PT_UI_N; i++)
		if (u->incidents[i])
			json_object_set_new(inc, pt_usage_incident_name(i),
					    json_integer((json_int_t)u->incidents[i]));
	json_object_set_new(o, "incidents", inc);
	json_object_set_new(o, "restarts", json_integer((json_int_t)u->restarts));
	json_object_set_new(o, "metered", json_boolean(u->metered));
	json_object_set_new(o, "cpu_us", json_integer((json_int_t)u->cpu_us));
	json_object_set_new(o, "mem_byte_ms", json_integer((json_int_t)u->mem_byte_ms));
	json_object_set_new(o, "mem_peak", json_integer((json_int_t)u->mem_peak));
	json_object_set_new(o, "net_metered", json_boolean(u->net_metered));
	json_object_set_new(o, "net_in", json_integer((json_int_t)u->net_in));
	json_object_set_new(o, "net_out", json_integer((json_int_t)u->net_out));
	json_object_set_new(o, "requests_metered", json_boolean(u->requests_metered));
	json_object_set_new(o, "requests", json_integer((json_int_t)u->requests));
	return o;
}

static int checkpoint(struct daemon *d, pt_err *err)
{
	struct usage_ledger *l = d->usage;
	_cleanup_close_ int dfd = open(l->dir, O_DIRECTORY | O_CLOEXEC);
	json_t *o, *tenants = json_object(), *gone = json_object();
	char day[11], *text;
	int r;

	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", l->dir);
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant_usage *u = &d->tenants[i]->usage;
		json_t *t = usage_json(&u->open);

		json_object_set_new(t, "state", json_integer(u->state));
		json_object_set_new(t, "at", json_integer((json_int_t)u->last_at));
		json_object_set_new(t, "cpu_seen", json_integer((json_int_t)u->cpu_seen));
		json_object_set_new(t, "cpu_valid", json_boolean(u->cpu_valid));
		json_object_set_new(t, "mem_last", json_integer((json_int_t)u->mem_last));
		json_object_set_new(t, "net_rx_seen", json_integer((json_int_t)u->net_rx_seen));
		json_object_set_new(t, "net_tx_seen", json_integer((json_int_t)u->net_tx_seen));
		json_object_set_new(t, "net_valid", json_boolean(u->net_valid));
		json_object_set_new(t, "net_slot", json_integer(u->net_slot));
		json_object_set_new(tenants, d->tenants[i]->spec.slug, t);
	}
	for (struct usage_gone *g = l->gone; g; g = g->next)
		json_object_set_new(gone, g->slug, usage_json(&g->open));
	pt_day_format(l->day, day);
	o = json_pack("{s:i, s:s, s:o, s:o}", "version", 1, "day", day, "tenants", tenants,
		      "gone", gone);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return pt_err_set(err, -ENOMEM, "format %s/%s", l->dir, OPEN_FILE);
	r = pt_write_file_atomic(dfd, OPEN_FILE, text, strlen(text), 0600, err);
	free(text);
	return r;
}

static int get_u64(json_t *o, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EBADMSG;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int usage_from_json(json_t *o, struct pt_usage *u)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o) || !json_is_object(json_object_get(o, "incidents")))
		return -EBADMSG;
	for (int i = 0; i < PT_US_N; i++)
		if (get_u64(o, pt_usage_state_name(i), &u->state_ms[i]) < 0)
			return -EBADMSG;
	json_object_foreach(json_object_get(o, "incidents"), key, v) {
		int i = pt_usage_incident_from_reason(key);

		if (i < 0 || !json_is_integer(v) || json_integer_value(v) < 0)
			return -EBADMSG;
		u->incidents[i] = (uint64_t)json_integer_value(v);
	}
	u->metered = json_is_true(json_object_get(o, "metered"));
	u->net_metered = json_is_true(json_object_get(o, "net_metered"));
	/* Absent in a checkpoint of an older ptenantd: none. */
	get_u64(o, "net_in", &u->net_in);
	get_u64(o, "net_out", &u->net_out);
	u->requests_metered = json_is_true(json_object_get(o, "requests_metered"));
	get_u64(o, "requests", &u->requests);
	if (get_u64(o, "restarts", &u->restarts) < 0 || get_u64(o, "cpu_us", &u->cpu_us) < 0 ||
	    get_u64(o, "mem_byte_ms", &u->mem_byte_ms) < 0 || get_u64(o, "mem_peak", &u->mem_peak) < 0)
		return -EBADMSG;
	return 0;
}

/* The tenant's own record in the checkpoint; false when absent or bad
 * (it starts from now). */
static bool restore_tenant(struct tenant *t, json_t *o, uint64_t now)
{
	struct tenant_usage u = { 0 };
	uint64_t state = 0;

	if (!o || usage_from_json(o, &u.open) < 0 || get_u64(o, "state", &state) < 0 ||
	    state >= PT_US_N || get_u64(o, "at", &u.last_at) < 0 || u.last_at > now ||
	    get_u64(o, "cpu_seen", &u.cpu_seen) < 0 || get_u64(o, "mem_last", &u.mem_last) < 0)
		return false;
	u.state = (enum pt_usage_state)state;
	u.cpu_valid = json_is_true(json_object_get(o, "cpu_valid"));
	{
		uint64_t slot = 0;

		get_u64(o, "net_rx_seen", &u.net_rx_seen);
		get_u64(o, "net_tx_seen", &u.net_tx_seen);
		get_u64(o, "net_slot", &slot);
		u.net_slot = (uint32_t)(slot ? 1 : 0);
		u.net_valid = json_is_true(json_object_get(o, "net_valid"));
	}
	memcpy(u.total_ms, t->usage.total_ms, sizeof(u.total_ms));
	memcpy(u.incidents_total, t->usage.incidents_total, sizeof(u.incidents_total));
	u.net_in_total = t->usage.net_in_total;
	u.net_out_total = t->usage.net_out_total;
	u.requests_total = t->usage.requests_total;
	t->usage = u;
	return true;
}

static int load_checkpoint(struct daemon *d, uint64_t now, pt_err *err)
{
	struct usage_ledger *l = d->usage;
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *o = NULL;
	json_t *tenants, *gone, *v;
	char path[440];
	const char *key;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", l->dir, OPEN_FILE);
	r = pt_read_file(AT_FDCWD, path, OPEN_MAX, &text, &len, err);
	if (r < 0)
		return r;
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	tenants = json_object_get(o, "tenants");
	gone = json_object_get(o, "gone");
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "version")) ||
	    json_integer_value(json_object_get(o, "version")) != 1 ||
	    pt_day_parse(json_string_value(json_object_get(o, "day")), &l->day) < 0 ||
	    l->day > pt_day_of_ms(now) || !json_is_object(tenants) || !json_is_object(gone))
		return pt_err_set(err, -EBADMSG, "%s: not a usage checkpoint (damaged?)", path);
	for (size_t i = 0; i < d->n_tenants; i++)
		restore_tenant(d->tenants[i], json_object_get(tenants, d->tenants[i]->spec.slug), now);
	json_object_foreach(gone, key, v) {
		struct usage_gone *g = calloc(1, sizeof(*g));

		if (!g || pt_slug_validate(key, "slug", NULL) < 0 || usage_from_json(v, &g->open) < 0) {
			free(g);
			continue;
		}
		snprintf(g->slug, sizeof(g->slug), "%s", key);
		g->next = l->gone;
		l->gone = g;
	}
	/* Removed while no ptenantd ran: their open day is billed too. */
	json_object_foreach(tenants, key, v) {
		struct usage_gone *g;

		if (tenant_find(d, key) || pt_slug_validate(key, "slug", NULL) < 0 ||
		    !(g = calloc(1, sizeof(*g))))
			continue;
		if (usage_from_json(v, &g->open) < 0) {
			free(g);
			continue;
		}
		snprintf(g->slug, sizeof(g->slug), "%s", key);
		g->next = l->gone;
		l->gone = g;
	}
	l->check_dupes = true;
	return 0;
}

int usage_init(struct daemon *d, pt_err *err)
{
	uint64_t now = now_real_ms();
	struct usage_ledger *l = calloc(1, sizeof(*l));
	pt_err lerr = { 0 };
	int r;

	if (!l)
		return pt_err_set(err, -ENOMEM, "allocate the usage ledger");
	d->usage = l;
	snprintf(l->dir, sizeof(l->dir), "%s/usage", d->cfg.state_dir);
	if (mkdir(l->dir, 0700) < 0 && errno != EEXIST)
		return pt_err_set(err, -errno, "mkdir %s", l->dir);
	pt_sweep_temp_files(AT_FDCWD, l->dir);
	l->day = pt_day_of_ms(now);
	for (size_t i = 0; i < d->n_tenants; i++) {
		d->tenants[i]->usage.last_at = now;
		d->tenants[i]->usage.state = state_of(d->tenants[i]);
	}
	r = load_checkpoint(d, now, &lerr);
	if (r < 0 && r != -ENOENT) {
		char path[440], aside[460];

		snprintf(path, sizeof(path), "%s/%s", l->dir, OPEN_FILE);
		snprintf(aside, sizeof(aside), "%s.damaged", path);
		rename(path, aside);
		tenant_record(d, NULL, "usage-state-damaged", NULL, -1, lerr.msg);
		fprintf(stderr, "ptenantd: usage: %s; set aside as %s, the open day starts "
			"from now\n", lerr.msg, aside);
		l->day = pt_day_of_ms(now);
		for (size_t i = 0; i < d->n_tenants; i++) {
			memset(&d->tenants[i]->usage, 0, sizeof(d->tenants[i]->usage));
			d->tenants[i]->usage.last_at = now;
			d->tenants[i]->usage.state = state_of(d->tenants[i]);
		}
	}
	account_all(d, now);
	r = checkpoint(d, &lerr);
	if (r < 0)
		tenant_record(d, NULL, "usage-write-failed", NULL, -1, lerr.msg);
	l->checkpoint_at = now_mono_ms() + CHECKPOINT_MS;
	return 0;
}

/* Once a loop round: a tenant whose state changed (whether or not an
 * event said so) is accounted up to now in the state it had. Arithmetic
 * only: the cgroups are read at the checkpoints. */
static void settle(struct daemon *d)
{
	uint64_t now = 0;

	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		enum pt_usage_state s = state_of(t);

		if (s == t->usage.state)
			continue;
		if (!now)
			now = now_real_ms();
		if (pt_day_of_ms(now) > d->usage->day)
			return; /* the next checkpoint closes the day first */
		accrue(t, now);
		t->usage.state = s;
	}
}

void usage_tick(struct daemon *d, uint64_t now_mono)
{
	pt_err err = { 0 };

	if (!d->usage)
		return;
	settle(d);
	if (now_mono < d->usage->checkpoint_at)
		return;
	account_all(d, now_real_ms());
	if (checkpoint(d, &err) < 0)
		fprintf(stderr, "ptenantd: usage checkpoint: %s\n", err.msg);
	d->usage->checkpoint_at = now_mono + CHECKPOINT_MS;
}

uint64_t usage_next_deadline(const struct daemon *d)
{
	return d->usage ? d->usage->checkpoint_at : 0;
}

void usage_shutdown(struct daemon *d)
{
	pt_err err = { 0 };

	if (!d->usage)
		return;
	account_all(d, now_real_ms());
	if (checkpoint(d, &err) < 0)
		fprintf(stderr, "ptenantd: usage checkpoint: %s\n", err.msg);
	while (d->usage->gone) {
		struct usage_gone *g = d->usage->gone;

		d->usage->gone = g->next;
		free(g);
	}
	free(d->usage);
	d->usage = NULL;
}

/* ---- ptenant usage --------------------------------------------------- */

struct query {
	uint64_t from, to;               /* days, [from, to) */
	const char *slug;                /* NULL: every tenant */
	struct pt_usage *acc;
	char (*slugs)[PT_SLUG_MAX + 1];
	size_t n, cap;
	uint64_t skipped;
	json_t *skipped_shown;
};

static struct pt_usage *acc_of(struct query *q, const char *slug)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->slugs[i], slug) == 0)
			return &q->acc[i];
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		void *a = realloc(q->acc, cap * sizeof(*q->acc));
		void *s = a ? realloc(q->slugs, cap * sizeof(*q->slugs)) : NULL;

		if (a)
			q->acc = a;
		if (!s)
			return NULL;
		q->slugs = s;
		q->cap = cap;
	}
	memset(&q->acc[q->n], 0, sizeof(q->acc[q->n]));
	snprintf(q->slugs[q->n], sizeof(q->slugs[q->n]), "%s", slug);
	return &q->acc[q->n++];
}

static void add(struct query *q, const char *slug, const struct pt_usage *u)
{
	struct pt_usage *a;

	if (q->slug && strcmp(q->slug, slug) != 0)
		return;
	a = acc_of(q, slug);
	if (a)
		pt_usage_add(a, u);
}

struct month_read {
	struct query *q;
	const char *path;
};

static void add_month_line(void *ctx, size_t lineno, const struct pt_usage_line *l,
			   const pt_err *why)
{
	struct month_read *m = ctx;
	struct query *q = m->q;

	if (!l) {
		if (q->skipped++ < SKIPPED_SHOWN)
			json_array_append_new(q->skipped_shown, json_pack(
				"{s:s, s:I, s:s}", "file", m->path, "line", (json_int_t)lineno,
				"why", why->msg));
		return;
	}
	if (l->day >= q->from && l->day < q->to)
		add(q, l->slug, &l->u);
}

static void read_month(struct query *q, const char *dir, uint64_t day)
{
	_cleanup_free_ char *text = NULL;
	char month[8], path[440];
	struct month_read m = { .q = q, .path = path };
	size_t len = 0;

	pt_month_of_day(day, month);
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, month);
	if (pt_read_file(AT_FDCWD, path, MONTH_MAX, &text, &len, NULL) == 0)
		for_each_line(text, len, add_month_line, &m);
}

static int parse_range(json_t *req, struct query *q, pt_err *err)
{
	const char *month = json_string_value(json_object_get(req, "month"));
	const char *from = json_string_value(json_object_get(req, "from"));
	const char *to = json_string_value(json_object_get(req, "to"));
	char cur[8];

	if (month && (from || to))
		return pt_err_field(err, -EINVAL, "month", "give --month or --from/--to, not both");
	if ((from && !to) || (to && !from))
		return pt_err_field(err, -EINVAL, from ? "to" : "from", "--from and --to go together");
	if (from) {
		if (pt_day_parse(from, &q->from) < 0)
			return pt_err_field(err, -EINVAL, "from", "from: \"%.32s\" is not a date "
					    "YYYY-MM-DD", from);
		if (pt_day_parse(to, &q->to) < 0)
			return pt_err_field(err, -EINVAL, "to", "to: \"%.32s\" is not a date "
					    "YYYY-MM-DD", to);
		if (q->to <= q->from)
			return pt_err_field(err, -EINVAL, "to", "to: must be after from (the range "
					    "is from the start of FROM to the start of TO, UTC)");
		return 0;
	}
	if (!month) {
		pt_month_of_day(pt_day_of_ms(now_real_ms()), cur);
		month = cur;
	}
	if (pt_month_parse(month, &q->from, &q->to) < 0)
		return pt_err_field(err, -EINVAL, "month", "month: \"%.32s\" is not a month "
				    "YYYY-MM", month);
	return 0;
}

void usage_op(struct daemon *d, struct conn *c, json_t *req)
{
	struct query q = { 0 };
	pt_err err = { 0 };
	json_t *resp, *arr;
	char from[11], to[11];

	q.slug = json_string_value(json_object_get(req, "slug"));
	if (!d->usage) {
		pt_err_set(&err, -ENOTSUP, "the usage ledger is not open");
	} else if (q.slug && pt_slug_validate(q.slug, "slug", &err) < 0) {
		;
	} else if (parse_range(req, &q, &err) == 0) {
		q.skipped_shown = json_array();
		account_all(d, now_real_ms());
		for (uint64_t day = q.from; day < q.to && day <= d->usage->day;) {
			uint64_t first, end;
			char month[8];

			read_month(&q, d->usage->dir, day);
			pt_month_of_day(day, month);
			pt_month_parse(month, &first, &end);
			day = end;
		}
		if (d->usage->day >= q.from && d->usage->day < q.to) {
			for (size_t i = 0; i < d->n_tenants; i++)
				add(&q, d->tenants[i]->spec.slug, &d->tenants[i]->usage.open);
			for (struct usage_gone *g = d->usage->gone; g; g = g->next)
				add(&q, g->slug, &g->open);
		}
		if (q.slug && q.n == 0 && !tenant_find(d, q.slug))
			pt_err_set(&err, -ENOENT, "no tenant %s, and no usage of one by that name in "
				   "that range", q.slug);
	}
	if (err.msg[0]) {
		json_decref(q.skipped_shown);
		free(q.acc);
		free(q.slugs);
		conn_reply_error(d, c, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < q.n; i++) {
		json_t *o = usage_json(&q.acc[i]);

		json_object_set_new(o, "slug", json_string(q.slugs[i]));
		json_array_append_new(arr, o);
	}
	pt_day_format(q.from, from);
	pt_day_format(q.to, to);
	resp = pt_api_ok_response();
	json_object_set_new(resp, "from", json_string(from));
	json_object_set_new(resp, "to", json_string(to));
	json_object_set_new(resp, "hours", json_integer((json_int_t)((q.to - q.from) * 24)));
	json_object_set_new(resp, "tenants", arr);
	json_object_set_new(resp, "skipped_lines", json_integer((json_int_t)q.skipped));
	json_object_set_new(resp, "skipped", q.skipped_shown);
	free(q.acc);
	free(q.slugs);
	conn_reply(d, c, resp);
}

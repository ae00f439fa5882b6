#include "config.h"
#include "listen-addr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "ptenant/spec.h"

#define CONFIG_FILE_MAX (64 * 1024)
#define VALUE_MAX 512
#define WHY_MAX 160
#define UID_RANGE 65536ULL
#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)

enum key_kind {
	KEY_PATH,
	KEY_GROUP,
	KEY_U32,
	KEY_U64,
	KEY_SIZE,
	KEY_CPU,
	KEY_NET,     /* validated by netconf.c */
	KEY_CGMODE,
	KEY_CGPATH,
	KEY_BOOL,    /* on | off */
	KEY_DURATION, /* "30s", "10m"; "off" = 0 when min is 0 */
	KEY_LISTEN,  /* "127.0.0.1:9464", "[::1]:9464", "unix:/PATH"; "off" = "" */
	KEY_NICE,    /* -20..19 */
};

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t offset;
	size_t size;       /* buffer size for strings, field width for numbers */
	uint64_t min, max;
};

#define FIELD(f) offsetof(struct pt_config, f), sizeof(((struct pt_config *)0)->f)

static const struct key_def keys[] = {
	{ "state_dir", KEY_PATH, FIELD(state_dir), 0, 0 },
	{ "runtime_dir", KEY_PATH, FIELD(runtime_dir), 0, 0 },
	{ "api_group", KEY_GROUP, FIELD(api_group), 0, 0 },
	{ "ingress_user", KEY_GROUP, FIELD(ingress_user), 0, 0 },
	{ "uid_base", KEY_U32, FIELD(uid_base), UID_RANGE, UINT32_MAX },
	{ "uid_ranges", KEY_U32, FIELD(uid_ranges), 1, 65535 },
	{ "log_max_bytes", KEY_SIZE, FIELD(log_max_bytes), 4 * KIB, GIB },
	{ "log_keep", KEY_U32, FIELD(log_keep), 1, 100 },
	{ "stop_grace_ms", KEY_U32, FIELD(stop_grace_ms), 0, 600000 },
	{ "spawn_timeout_ms", KEY_U32, FIELD(spawn_timeout_ms), 100, 600000 },
	{ "spawn_concurrency", KEY_U32, FIELD(spawn_concurrency), 0, 4096 },
	{ "daemon_nice", KEY_NICE, FIELD(daemon_nice), 0, 0 },
	{ "restart_initial_ms", KEY_U32, FIELD(backoff.initial_ms), 0, 3600000 },
	{ "restart_max_ms", KEY_U32, FIELD(backoff.max_ms), 0, 3600000 },
	/* The backoff ring remembers PT_BACKOFF_HISTORY crashes, so a larger
	 * burst could never be reached. */
	{ "crashloop_burst", KEY_U32, FIELD(backoff.burst), 1, PT_BACKOFF_HISTORY },
	{ "crashloop_window_ms", KEY_U32, FIELD(backoff.window_ms), 1, 86400000 },
	{ "crashloop_delay_ms", KEY_U32, FIELD(backoff.crashloop_ms), 0, 86400000 },
	{ "default_memory_max", KEY_SIZE, FIELD(default_memory_max), MIB, 1024 * TIB },
	{ "default_cpu", KEY_CPU, FIELD(default_cpu_millis), 1, 1024000 },
	{ "default_pids_max", KEY_U64, FIELD(default_pids_max), 1, 4194304 },
	{ "default_log_rate", KEY_SIZE, FIELD(default_log_rate), 0, GIB },
	{ "default_log_burst", KEY_SIZE, FIELD(default_log_burst), 4 * KIB, GIB },
	{ "network", KEY_NET, 0, 0, 0, 0 },
	{ "subnet", KEY_NET, 0, 0, 0, 0 },
	{ "resolvers", KEY_NET, 0, 0, 0, 0 },
	{ "masquerade", KEY_NET, 0, 0, 0, 0 },
	{ "host_allow", KEY_NET, 0, 0, 0, 0 },
	{ "firewall_remove_on_exit", KEY_NET, 0, 0, 0, 0 },
	{ "cgroup_mode", KEY_CGMODE, FIELD(cgroup_mode), 0, 0 },
	{ "cgroup_parent", KEY_CGPATH, FIELD(cgroup_parent), 0, 0 },
	{ "respawn_standby", KEY_BOOL, FIELD(respawn_standby), 0, 1 },
	{ "idle_freeze_after", KEY_DURATION, FIELD(idle_freeze_after_ms), 0, PT_IDLE_MAX_MS },
	{ "idle_stop_after", KEY_DURATION, FIELD(idle_stop_after_ms), 0, PT_IDLE_MAX_MS },
	{ "idle_wake_timeout", KEY_DURATION, FIELD(idle_wake_timeout_ms), 100, 3600000 },
	{ "metrics_listen", KEY_LISTEN, FIELD(metrics_listen), 0, 0 },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void pt_config_defaults(struct pt_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/ptenant");
	snprintf(c->runtime_dir, sizeof(c->runtime_dir), "/run/ptenant");
	snprintf(c->api_group, sizeof(c->api_group), "ptenant");
	c->uid_base = 1000000000;
	c->uid_ranges = 4096;
	c->log_max_bytes = MIB;
	c->log_keep = 3;
	c->stop_grace_ms = 10000;
	c->spawn_timeout_ms = 30000;
	c->daemon_nice = -10;
	c->idle_wake_timeout_ms = 30000;
	pt_backoff_policy_default(&c->backoff);
	c->default_memory_max = 512 * MIB;
	c->default_cpu_millis = 1000;
	c->default_pids_max = 512;
	c->default_log_rate = 64 * KIB;
	c->default_log_burst = MIB;
	pt_netconf_defaults(&c->net);
}

/* ---- value parsers: each returns false and says why in `why` ---- */

static bool parse_digits(const char **s, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*s = p;
	*ret = v;
	return true;
}

static uint64_t size_multiplier(const char **s)
{
	uint64_t m;

	switch (**s) {
	case 'K': case 'k': m = KIB; break;
	case 'M': case 'm': m = MIB; break;
	case 'G': case 'g': m = GIB; break;
	case 'T': case 't': m = TIB; break;
	default: return 1;
	}
	(*s)++;
	return m;
}

/* "512", "512K", "512KB", "512KiB", "4096B". Powers of 1024 throughout:
 * a memory limit in powers of 1000 is never what anyone means. */
static bool parse_size(const char *s, uint64_t *ret)
{
	uint64_t v, m;

	if (!parse_digits(&s, &v))
		return false;
	m = size_multiplier(&s);
	if (m > 1 && s[0] == 'i' && s[1] == 'B')
		s += 2;
	else if (s[0] == 'B')
		s++;
	if (*s != '\0' || v > UINT64_MAX / m)
		return false;
	*ret = v * m;
	return true;
}

/* Cores as a decimal ("0.5", "2", "1.125") to millicores. */
static bool parse_cpu(const char *s, uint64_t *ret)
{
	uint64_t whole, frac = 0;
	int digits = 0;

	if (!parse_digits(&s, &whole) || whole > UINT64_MAX / 1000 - 1)
		return false;
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
			frac = frac * 10 + (uint64_t)(*s - '0');
		if (digits == 0)
			return false;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (*s != '\0')
		return false;
	*ret = whole * 1000 + frac;
	return true;
}

static bool path_ok(const char *v, size_t size, char *why)
{
	const char *p;

	if (v[0] != '/') {
		snprintf(why, WHY_MAX, "must be an absolute path");
		return false;
	}
	if (strlen(v) >= size) {
		snprintf(why, WHY_MAX, "path longer than %zu bytes", size - 1);
		return false;
	}
	/* A ".." component would let the directory escape wherever the
	 * admin thinks it points; spell the real path instead. */
	for (p = v; (p = strstr(p, "..")) != NULL; p += 2) {
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0')) {
			snprintf(why, WHY_MAX, "must not contain '..'");
			return false;
		}
	}
	return true;
}

/* A cgroup path as the hierarchy shows it: "/a/b", made of plain names.
 * Not "/" itself: tenants straight in the host's root cgroup would share
 * it with everything else on the machine. */
static bool cgpath_ok(const char *v, size_t size, char *why)
{
	if (!v[0])
		return true; /* the daemon's own cgroup */
	if (!path_ok(v, size, why))
		return false;
	if (strcmp(v, "/") == 0 || v[strlen(v) - 1] == '/' || strstr(v, "//") ||
	    strstr(v, "/.")) {
		snprintf(why, WHY_MAX, "must be a cgroup path like /ptenant "
			 "(not /, no empty or dot-led components)");
		return false;
	}
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/-_.@:", *p))) {
			snprintf(why, WHY_MAX, "character '%c' not allowed in a cgroup path", *p);
			return false;
		}
	return true;
}

static bool cgmode_ok(const char *v, uint32_t *ret, char *why)
{
	enum pt_cg_mode m;

	if (pt_cg_mode_parse(v, &m) < 0) {
		snprintf(why, WHY_MAX, "'%.32s' is not one of auto, v2, v1, off", v);
		return false;
	}
	*ret = (uint32_t)m;
	return true;
}

static bool group_ok(const char *v, size_t size, const char *what, char *why)
{
	size_t len = strlen(v);

	if (len >= size) {
		snprintf(why, WHY_MAX, "group name longer than %zu bytes", size - 1);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = v[i];
		bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' ||
			  (i > 0 && ((ch >= '0' && ch <= '9') || ch == '-'));

		if (!ok) {
			snprintf(why, WHY_MAX, "not a valid %s name", what);
			return false;
		}
	}
	return true;
}

static bool number_ok(const struct key_def *k, const char *v, uint64_t *ret,
		      char *why)
{
	const char *s = v;
	bool ok;

	switch (k->kind) {
	case KEY_SIZE:
		ok = parse_size(v, ret);
		break;
	case KEY_CPU:
		ok = parse_cpu(v, ret);
		break;
	case KEY_U32:
	case KEY_U64:
	case KEY_PATH:
	case KEY_GROUP:
	case KEY_NET:
	case KEY_CGMODE:
	case KEY_CGPATH:
	case KEY_BOOL:
	case KEY_DURATION:
	case KEY_LISTEN:
	case KEY_NICE:
	default:
		ok = parse_digits(&s, ret) && *s == '\0';
		break;
	}
	if (!ok) {
		snprintf(why, WHY_MAX, "'%.64s' is not a valid %s", v,
			 k->kind == KEY_SIZE ? "size" :
			 k->kind == KEY_CPU ? "cpu value" : "number");
		return false;
	}
	if (*ret < k->min || *ret > k->max) {
		snprintf(why, WHY_MAX, "%llu out of range %llu..%llu",
			 (unsigned long long)*ret, (unsigned long long)k->min,
			 (unsigned long long)k->max);
		return false;
	}
	return true;
}

static void store_number(struct pt_config *c, const struct key_def *k,
			 uint64_t n)
{
	char *field = (char *)c + k->offset;

	if (k->size == sizeof(uint32_t)) {
		uint32_t n32 = (uint32_t)n; /* range-checked by number_ok */

		memcpy(field, &n32, sizeof(n32));
	} else {
		memcpy(field, &n, sizeof(n));
	}
}

/* A nice value, -20..19 as setpriority(2) takes it. */
static bool nice_ok(const char *v, int32_t *ret, char *why)
{
	const char *s = v + (*v == '-');
	uint64_t n;

	if (!parse_digits(&s, &n) || *s != '\0') {
		snprintf(why, WHY_MAX, "'%.64s' is not a nice value (-20 to 19)", v);
		return false;
	}
	if ((*v == '-' && n > 20) || (*v != '-' && n > 19)) {
		snprintf(why, WHY_MAX, "%.64s out of range -20..19", v);
		return false;
	}
	*ret = *v == '-' ? -(int32_t)n : (int32_t)n;
	return true;
}

/* Validates v for key k and stores it in c. */
static bool apply(struct pt_config *c, const struct key_def *k, const char *v,
		  char *why)
{
	uint64_t n;
	uint32_t mode;

	switch (k->kind) {
	case KEY_NICE: {
		int32_t nice;

		if (!nice_ok(v, &nice, why))
			return false;
		memcpy((char *)c + k->offset, &nice, sizeof(nice));
		return true;
	}
	case KEY_BOOL:
		if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
			snprintf(why, WHY_MAX, "'%.64s' is not on or off", v);
			return false;
		}
		store_number(c, k, strcmp(v, "on") == 0);
		return true;
	case KEY_DURATION:
		if (k->min == 0 && strcmp(v, "off") == 0)
			n = 0;
		else if (pt_duration_parse(v, &n) < 0) {
			snprintf(why, WHY_MAX, "'%.64s' is not a duration like 30s, 10m or 2h%s", v,
				 k->min == 0 ? ", or off" : "");
			return false;
		} else if (n < k->min || n > k->max) {
			snprintf(why, WHY_MAX, "%.64s out of range (%llu ms..%llu ms)", v,
				 (unsigned long long)k->min, (unsigned long long)k->max);
			return false;
		}
		store_number(c, k, n);
		return true;
	case KEY_CGMODE:
		if (!cgmode_ok(v, &mode, why))
			return false;
		memcpy((char *)c + k->offset, &mode, sizeof(mode));
		return true;
	case KEY_CGPATH:
		if (!cgpath_ok(v, k->size, why))
			return false;
		break;
	case KEY_PATH:
		if (!path_ok(v, k->size, why))
			return false;
		break;
	case KEY_GROUP:
		if (!group_ok(v, k->size, strstr(k->name, "user") ? "user" : "group", why))
			return false;
		break;
	case KEY_NET:
		return pt_netconf_apply(&c->net, k->name, v, why);
	case KEY_LISTEN: {
		struct pt_listen_addr a;

		if (strcmp(v, "off") == 0) {
			v = "";
		} else if (strlen(v) >= k->size) {
			snprintf(why, WHY_MAX, "longer than %zu bytes", k->size - 1);
			return false;
		} else if (pt_listen_addr_parse(v, &a, why, WHY_MAX) < 0) {
			return false;
		}
		break;
	}
	case KEY_U32:
	case KEY_U64:
	case KEY_SIZE:
	case KEY_CPU:
	default:
		if (!number_ok(k, v, &n, why))
			return false;
		store_number(c, k, n);
		return true;
	}
	memcpy((char *)c + k->offset, v, strlen(v) + 1);
	return true;
}

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Cross-field check, after all keys so their order does not matter. */
static bool uids_ok(const struct pt_config *c, char *why)
{
	if ((uint64_t)c->uid_base + (uint64_t)c->uid_ranges * UID_RANGE >
	    UINT32_MAX) {
		snprintf(why, WHY_MAX,
			 "uid_base %u + uid_ranges %u * 65536 passes 4294967295",
			 c->uid_base, c->uid_ranges);
		return false;
	}
	return true;
}

/* ---- line parsing ---- */

struct line_ctx {
	const char *origin;
	unsigned line;
	pt_err *err;
};

static int line_error(const struct line_ctx *ctx, const char *key,
		      const char *why)
{
	return pt_err_field(ctx->err, -EINVAL, key, "%s:%u: key '%.64s': %s",
			    ctx->origin, ctx->line, key, why);
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Copies the slice [s, s+len) into buf as a string, or fails if too long. */
static bool copy_slice(char *buf, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

/* Extracts the value after '=': quoted (no escapes, the quote ends it) or
 * bare up to a '#' preceded by whitespace. */
static bool split_value(const char *s, const char *end, char *value,
			const char **why)
{
	const char *v, *ve;

	while (s < end && is_space(*s))
		s++;
	if (s < end && *s == '"') {
		v = s + 1;
		ve = memchr(v, '"', (size_t)(end - v));
		if (!ve) {
			*why = "unterminated quoted value";
			return false;
		}
		for (s = ve + 1; s < end && is_space(*s); s++)
			;
		if (s < end && *s != '#') {
			*why = "text after the quoted value";
			return false;
		}
	} else {
		v = s;
		/* ve[-1] is always readable: at worst it is the '='. */
		for (ve = v; ve < end && !(*ve == '#' && is_space(ve[-1])); ve++)
			;
		while (ve > v && is_space(ve[-1]))
			ve--;
	}
	if (!copy_slice(value, VALUE_MAX, v, (size_t)(ve - v))) {
		*why = "value too long";
		return false;
	}
	return true;
}

/* The key is what precedes '=' (trimmed) or, on a line without '=', the
 * first word, so even that error can name what the admin wrote. */
static size_t key_length(const char *s, const char *end, const char *eq)
{
	const char *ke = s;

	if (eq) {
		ke = eq;
		while (ke > s && is_space(ke[-1]))
			ke--;
	} else {
		while (ke < end && !is_space(*ke))
			ke++;
	}
	return (size_t)(ke - s);
}

/* Parses one line; *ret_key is the key index or -1 for blank/comment. */
static int parse_line(struct pt_config *c, const struct line_ctx *ctx,
		      const char *s, const char *end, int *ret_key)
{
	char key[PT_ERR_FIELD_MAX], value[VALUE_MAX], why[WHY_MAX];
	const struct key_def *k = NULL;
	const char *eq, *msg = NULL;
	size_t klen;

	*ret_key = -1;
	while (s < end && is_space(*s))
		s++;
	if (s >= end || *s == '#')
		return 0;
	eq = memchr(s, '=', (size_t)(end - s));
	klen = key_length(s, end, eq);
	/* A key too long for the buffer is unknown anyway; show its start. */
	if (copy_slice(key, sizeof(key), s, klen))
		k = find_key(key);
	else
		snprintf(key, sizeof(key), "%.*s", (int)sizeof(key) - 1, s);
	if (memchr(s, '\0', (size_t)(end - s)))
		return line_error(ctx, key, "NUL byte in line");
	if (!eq)
		return line_error(ctx, key, "missing '='");
	if (klen == 0)
		return line_error(ctx, key, "empty key");
	if (!k)
		return line_error(ctx, key, "unknown key");
	if (!split_value(eq + 1, end, value, &msg))
		return line_error(ctx, key, msg);
	if (!apply(c, k, value, why))
		return line_error(ctx, key, why);
	*ret_key = (int)(k - keys);
	return 0;
}

/* Reports a uid overflow at whichever uid key came last in the file. */
static int check_uids(const struct pt_config *c, struct line_ctx *ctx,
		      const unsigned *seen_line)
{
	const struct key_def *kb = find_key("uid_base");
	const struct key_def *kr = find_key("uid_ranges");
	unsigned base = seen_line[kb - keys], ranges = seen_line[kr - keys];
	char why[WHY_MAX];

	if (uids_ok(c, why))
		return 0;
	ctx->line = base > ranges ? base : ranges;
	return line_error(ctx, base > ranges ? kb->name : kr->name, why);
}

int pt_config_parse(struct pt_config *c, const char *text, size_t len,
		    const char *origin, pt_err *err)
{
	struct line_ctx ctx = { origin ? origin : "config", 0, err };
	unsigned seen_line[N_KEYS] = { 0 };
	struct pt_config tmp = *c;
	const char *p = text, *end = text + len;
	int r, key;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		ctx.line++;
		r = parse_line(&tmp, &ctx, p, le, &key);
		if (r < 0)
			return r;
		if (key >= 0 && seen_line[key])
			return line_error(&ctx, keys[key].name, "duplicate key");
		if (key >= 0)
			seen_line[key] = ctx.line;
		p = nl ? nl + 1 : end;
	}
	r = check_uids(&tmp, &ctx, seen_line);
	if (r < 0)
		return r;
	*c = tmp;
	return 0;
}

int pt_config_load(struct pt_config *c, const char *path, int optional,
		   pt_err *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && optional)
			return 0;
		return pt_err_set(err, -errno, "open config %s", path);
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf)
		return pt_err_set(err, -ENOMEM, "read config %s", path);
	/* Read one byte past the limit to tell "exactly 64 KiB" from more. */
	while (len <= CONFIG_FILE_MAX) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pt_err_set(err, -errno, "read config %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_FILE_MAX)
		return pt_err_set(err, -EFBIG, "read config %s", path);
	return pt_config_parse(c, buf, len, path, err);
}

int pt_config_set(struct pt_config *c, const char *key, const char *value,
		  pt_err *err)
{
	struct pt_config tmp = *c;
	const struct key_def *k;
	char why[WHY_MAX];

	if (!key || !value)
		return pt_err_set(err, -EINVAL, "set config: missing key or value");
	k = find_key(key);
	if (!k)
		return pt_err_field(err, -EINVAL, key, "key '%.64s': unknown key", key);
	if (!apply(&tmp, k, value, why) || !uids_ok(&tmp, why))
		return pt_err_field(err, -EINVAL, key, "key '%s': %s", key, why);
	*c = tmp;
	return 0;
}

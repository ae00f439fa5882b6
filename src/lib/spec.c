/* Tenant spec parsing and validation.
 *
 * Everything a tenant asks for passes through here before the daemon acts
 * on it, so every check errs on the side of rejecting: unknown fields, NUL
 * bytes, out-of-range numbers. Messages quote names but never values (env
 * values and secrets may be credentials), and escape whatever they quote
 * because they end up in logs and API responses. */
#include "ptenant/spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"
#include "spec-confine.h"
#include "spec-idle.h"
#include "spec-health.h"

/* Memory limits must survive a JSON round trip, and jansson integers are
 * signed 64-bit. */
#define SPEC_SIZE_MAX ((uint64_t)INT64_MAX)
#define CPU_MILLIS_MAX 1024000u
#define QUOTE_MAX 96
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))


struct quoted {
	char s[QUOTE_MAX];
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Untrusted bytes, made printable and bounded; truncation is marked. */
static void escape(char *out, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[5];
		size_t n;

		if (c == '"' || c == '\\')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			n = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		else
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		if (o + n + 4 > size) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
}

static struct quoted quote(const char *s, size_t len)
{
	struct quoted q;
	size_t n;

	q.s[0] = '"';
	escape(q.s + 1, sizeof(q.s) - 2, s, len);
	n = strlen(q.s);
	q.s[n] = '"';
	q.s[n + 1] = '\0';
	return q;
}

static struct quoted describe_byte(unsigned char c)
{
	struct quoted q;

	if (c >= 0x20 && c < 0x7f)
		snprintf(q.s, sizeof(q.s), "character '%c'", c);
	else
		snprintf(q.s, sizeof(q.s), "byte 0x%02x", c);
	return q;
}

static const char *type_desc(const json_t *v)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string", [JSON_INTEGER] = "an integer",
		[JSON_REAL] = "a real number", [JSON_TRUE] = "true",
		[JSON_FALSE] = "false", [JSON_NULL] = "null",
	};

	return v ? names[json_typeof(v)] : "nothing";
}


static int oom(pt_err *err, const char *field)
{
	return pt_err_field(err, -ENOMEM, field, "%s: out of memory", field);
}

/* The checks every string in a spec needs. Jansson keeps \u0000 under
 * JSON_ALLOW_NUL (and API bodies may have been parsed with it), so the
 * C string can be shorter than the JSON one. */
static int get_string(const json_t *v, const char *field, size_t max,
		      const char **ret, size_t *ret_len, pt_err *err)
{
	size_t len;

	if (!json_is_string(v))
		return pt_err_invalid(err, field, "%s: must be a string, not %s", field, type_desc(v));
	len = json_string_length(v);
	if (memchr(json_string_value(v), '\0', len))
		return pt_err_invalid(err, field, "%s: NUL bytes are not allowed", field);
	if (len > max)
		return pt_err_invalid(err, field, "%s: is %zu bytes long; at most %zu are allowed",
			       field, len, max);
	*ret = json_string_value(v);
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* The name grammars share a shape: an alphabet, a length, a rule about
 * the first character and, for DNS labels, about the last. */
struct grammar {
	const char *noun;
	const char *alphabet;   /* for the message */
	const char *chars;
	size_t max;
	const char *not_first;
	const char *first_rule;
	bool label;
};

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* The slug becomes a hostname and a path component; versions and secret
 * names become path components too, hence no leading '.' (which also
 * rules out "." and ".."). */
static const struct grammar slug_grammar = {
	"slug", "a-z, 0-9 and '-'", LOWER_DIGITS "-", PT_SLUG_MAX,
	"-", "must start with a letter or digit", true,
};
static const struct grammar bp_name_grammar = {
	"blueprint name", "a-z, 0-9 and '-'", LOWER_DIGITS "-", PT_BP_NAME_MAX,
	"-", "must start with a letter or digit", true,
};
static const struct grammar bp_version_grammar = {
	"blueprint version", "A-Z, a-z, 0-9, '.', '_' and '-'", ALNUM "._-",
	PT_BP_VERSION_MAX, ".-", "must start with a letter or digit", false,
};
static const struct grammar env_grammar = {
	"env key", "A-Z, a-z, 0-9 and '_'", ALNUM "_", PT_ENV_KEY_MAX,
	"0123456789", "must start with a letter or '_'", false,
};
static const struct grammar secret_grammar = {
	"secret name", "A-Z, a-z, 0-9, '.', '_' and '-'", ALNUM "._-",
	PT_SECRET_NAME_MAX, ".", "must not start with '.'", false,
};

static int name_error(pt_err *err, const char *field, const struct grammar *g,
		      const char *s, size_t len, const char *what)
{
	return pt_err_invalid(err, field, "%s %s: %s", g->noun, quote(s, len).s, what);
}

/* The alphabet is checked before the length so that "characters" in the
 * length message is accurate. */
static int check_name(const struct grammar *g, const char *s, size_t len,
		      const char *field, pt_err *err)
{
	char what[128];

	if (len == 0)
		return name_error(err, field, g, s, len, "must not be empty");
	for (size_t i = 0; i < len; i++) {
		/* strchr() would match a NUL against the terminator. */
		if (s[i] && strchr(g->chars, s[i]))
			continue;
		if (s[i] >= 'A' && s[i] <= 'Z')
			snprintf(what, sizeof(what),
				 "upper-case letters are not allowed; use %s", g->alphabet);
		else
			snprintf(what, sizeof(what), "%s is not allowed; use %s",
				 describe_byte((unsigned char)s[i]).s, g->alphabet);
		return name_error(err, field, g, s, len, what);
	}
	if (len > g->max) {
		snprintf(what, sizeof(what), "is %zu characters long; at most %zu are allowed",
			 len, g->max);
		return name_error(err, field, g, s, len, what);
	}
	if (strchr(g->not_first, s[0]))
		return name_error(err, field, g, s, len, g->first_rule);
	if (g->label && s[len - 1] == '-')
		return name_error(err, field, g, s, len, "must end with a letter or digit");
	return 0;
}

static int env_key_check(const char *s, size_t len, const char *field, pt_err *err)
{
	int r = check_name(&env_grammar, s, len, field, err);

	/* Rejected rather than silently overridden, so the tenant learns why
	 * its value never shows up. */
	if (r == 0 && len == 8 && memcmp(s, "HOSTNAME", 8) == 0)
		return name_error(err, field, &env_grammar, s, len,
				  "is reserved; the daemon sets it to the slug");
	return r;
}

static int secret_name_check(const char *s, size_t len, const char *field, pt_err *err)
{
	return check_name(&secret_grammar, s, len, field, err);
}

int pt_slug_validate(const char *slug, const char *field, pt_err *err)
{
	field = field ? field : "slug";
	if (!slug)
		return pt_err_invalid(err, field, "slug: is missing");
	return check_name(&slug_grammar, slug, strlen(slug), field, err);
}

int pt_env_key_validate(const char *key, const char *field, pt_err *err)
{
	field = field ? field : "env";
	if (!key)
		return pt_err_invalid(err, field, "env key: is missing");
	return env_key_check(key, strlen(key), field, err);
}

int pt_secret_name_validate(const char *name, const char *field, pt_err *err)
{
	field = field ? field : "secrets";
	if (!name)
		return pt_err_invalid(err, field, "secret name: is missing");
	return secret_name_check(name, strlen(name), field, err);
}

int pt_blueprint_ref_parse(const char *ref, char name[PT_BP_NAME_MAX + 1],
			   char version[PT_BP_VERSION_MAX + 1], const char *field,
			   pt_err *err)
{
	const char *at;
	size_t len, name_len;
	int r;

	field = field ? field : "blueprint";
	if (!ref)
		return pt_err_invalid(err, field, "blueprint: is missing");
	len = strlen(ref);
	at = strchr(ref, '@');
	if (!at)
		return pt_err_invalid(err, field,
			       "blueprint %s: expected name@version, e.g. \"python@3.12\"",
			       quote(ref, len).s);
	if (strchr(at + 1, '@'))
		return pt_err_invalid(err, field, "blueprint %s: exactly one '@' is allowed",
			       quote(ref, len).s);
	name_len = (size_t)(at - ref);
	r = check_name(&bp_name_grammar, ref, name_len, field, err);
	if (r < 0)
		return r;
	r = check_name(&bp_version_grammar, at + 1, len - name_len - 1, field, err);
	if (r < 0)
		return r;
	memcpy(name, ref, name_len);
	name[name_len] = '\0';
	memcpy(version, at + 1, len - name_len); /* with the NUL */
	return 0;
}

/* Strict: digits, then an optional K/M/G/T with optional 'i' and/or 'B'
 * (or a lone 'B'). No sign, no spaces, no fractions. */
int pt_size_parse(const char *text, uint64_t *ret_bytes)
{
	static const char units[] = "KMGTkmgt";
	const char *p = text, *u;
	uint64_t n = 0;
	bool overflow = false;
	unsigned shift = 0;

	if (!text || !is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			n = n * 10 + d;
	}
	if (*p && (u = strchr(units, *p))) {
		shift = 10 * ((unsigned)(u - units) % 4 + 1);
		if (*++p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	if (overflow || (shift && n > (UINT64_MAX >> shift)))
		return -ERANGE;
	if (n == 0)
		return -ERANGE;
	*ret_bytes = n << shift;
	return 0;
}

int pt_cpu_parse(const char *text, uint32_t *ret_millis)
{
	const char *p = text;
	uint64_t millis = 0;
	unsigned scale = 1000;

	if (!text || !is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		/* Saturate: anything past the cap is out of range anyway. */
		millis = millis * 10 + (uint64_t)(*p - '0') * 1000;
		if (millis > CPU_MILLIS_MAX)
			millis = CPU_MILLIS_MAX + 1;
	}
	if (*p == '.') {
		if (!is_digit(*++p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			if (scale == 1)
				return -EINVAL;
			scale /= 10;
			millis += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p)
		return -EINVAL;
	if (millis < 1 || millis > CPU_MILLIS_MAX)
		return -ERANGE;
	*ret_millis = (uint32_t)millis;
	return 0;
}

static const char *const restart_names[] = {
	[PT_RESTART_ALWAYS] = "always",
	[PT_RESTART_ON_FAILURE] = "on-failure",
	[PT_RESTART_NEVER] = "never",
};

const char *pt_restart_policy_name(enum pt_restart_policy p)
{
	if ((unsigned)p >= ELEMENTSOF(restart_names))
		return NULL;
	return restart_names[p];
}

int pt_restart_policy_parse(const char *text, enum pt_restart_policy *ret)
{
	for (size_t i = 0; text && i < ELEMENTSOF(restart_names); i++) {
		if (strcmp(text, restart_names[i]) == 0) {
			*ret = (enum pt_restart_policy)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void strv_free(char **strv)
{
	for (size_t i = 0; strv && strv[i]; i++)
		free(strv[i]);
	free(strv);
}

static void kv_free(struct pt_kv *kv, size_t n, bool wipe)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		if (wipe && kv[i].value)
			explicit_bzero(kv[i].value, strlen(kv[i].value));
		free(kv[i].value);
	}
	free(kv);
}

void pt_spec_free(struct pt_spec *spec)
{
	if (!spec)
		return;
	strv_free(spec->entrypoint);
	strv_free(spec->args);
	kv_free(spec->env, spec->n_env, false);
	kv_free(spec->secrets, spec->n_secrets, true);
	pt_spec_confine_free(spec);
	pt_spec_health_free(&spec->health);
	memset(spec, 0, sizeof(*spec));
}

/* The parsers below fill a scratch spec in place, even on failure; it is
 * freed then, so a half-filled array is never leaked and the caller's spec
 * never touched. */
static int parse_strv(json_t *v, const char *name, char ***ret, pt_err *err)
{
	bool entrypoint = strcmp(name, "entrypoint") == 0;
	size_t i, n;
	json_t *e;

	if (!json_is_array(v))
		return pt_err_invalid(err, name, "%s: must be an array of strings, not %s", name,
			       type_desc(v));
	n = json_array_size(v);
	if (entrypoint && n == 0)
		return pt_err_invalid(err, name,
			       "entrypoint: must not be empty; omit it to use the blueprint's");
	if (n > PT_ARGV_MAX)
		return pt_err_invalid(err, name, "%s: has %zu entries; at most %d are allowed", name,
			       n, PT_ARGV_MAX);
	*ret = calloc(n + 1, sizeof(char *));
	if (!*ret)
		return oom(err, name);
	json_array_foreach(v, i, e) {
		char field[32];
		const char *str;
		size_t len;
		int r;

		snprintf(field, sizeof(field), "%s[%zu]", name, i);
		r = get_string(e, field, PT_ARG_LEN_MAX, &str, &len, err);
		if (r < 0)
			return r;
		/* Later entries may be empty: "" is a legitimate argument. */
		if (entrypoint && i == 0 && str[0] != '/')
			return pt_err_invalid(err, field, "%s %s: must be an absolute path", field,
				       quote(str, len).s);
		(*ret)[i] = strdup(str);
		if (!(*ret)[i])
			return oom(err, field);
	}
	return 0;
}

struct kv_rules {
	const char *name;
	size_t max_entries;
	size_t max_value;
	bool allow_null;  /* stored specs carry secret names without values */
	int (*check_key)(const char *key, size_t len, const char *field, pt_err *err);
};

static const struct kv_rules env_rules = {
	"env", PT_ENV_MAX, PT_ENV_VALUE_MAX, false, env_key_check,
};
static const struct kv_rules secret_rules = {
	"secrets", PT_SECRETS_MAX, PT_SECRET_VALUE_MAX, true, secret_name_check,
};

static int parse_kv_entry(const struct kv_rules *rules, const char *key, size_t key_len,
			  json_t *val, struct pt_kv *kv, pt_err *err)
{
	char field[PT_ERR_FIELD_MAX];
	size_t n = strlen(rules->name);
	const char *str = NULL;
	int r;

	memcpy(field, rules->name, n);
	field[n] = '.';
	escape(field + n + 1, sizeof(field) - n - 1, key, key_len);
	r = rules->check_key(key, key_len, field, err);
	if (r < 0)
		return r;
	if (!rules->allow_null || !json_is_null(val)) {
		r = get_string(val, field, rules->max_value, &str, NULL, err);
		if (r < 0)
			return r;
	}
	/* The key has passed its grammar, so it holds no NUL. */
	kv->key = strdup(key);
	kv->value = str ? strdup(str) : NULL;
	if (!kv->key || (str && !kv->value)) {
		free(kv->key);
		free(kv->value);
		return oom(err, field);
	}
	return 0;
}

static int parse_kv(json_t *v, const struct kv_rules *rules, struct pt_kv **ret,
		    size_t *ret_n, pt_err *err)
{
	const char *key;
	size_t key_len, n;
	json_t *val;

	if (!json_is_object(v))
		return pt_err_invalid(err, rules->name, "%s: must be an object of strings, not %s",
			       rules->name, type_desc(v));
	n = json_object_size(v);
	if (n > rules->max_entries)
		return pt_err_invalid(err, rules->name, "%s: has %zu entries; at most %zu are allowed",
			       rules->name, n, rules->max_entries);
	if (n == 0)
		return 0;
	*ret = calloc(n, sizeof(**ret));
	if (!*ret)
		return oom(err, rules->name);
	json_object_keylen_foreach(v, key, key_len, val) {
		int r = parse_kv_entry(rules, key, key_len, val, &(*ret)[*ret_n], err);

		if (r < 0)
			return r;
		(*ret_n)++;
	}
	return 0;
}

static int parse_int(const json_t *v, const char *field, json_int_t min, json_int_t max,
		     json_int_t *ret, pt_err *err)
{
	json_int_t i;

	if (!json_is_integer(v))
		return pt_err_invalid(err, field, "%s: must be an integer %lld..%lld, not %s", field,
			       (long long)min, (long long)max, type_desc(v));
	i = json_integer_value(v);
	if (i < min || i > max)
		return pt_err_invalid(err, field, "%s %lld is out of range; use %lld..%lld", field,
			       (long long)i, (long long)min, (long long)max);
	*ret = i;
	return 0;
}

static int parse_size(const json_t *v, const char *field, uint64_t *ret, pt_err *err)
{
	const char *str;
	size_t len;
	json_int_t i = 0;
	int r;

	if (json_is_integer(v)) {
		r = parse_int(v, field, 1, INT64_MAX, &i, err);
		*ret = (uint64_t)i;
		return r;
	}
	if (!json_is_string(v))
		return pt_err_invalid(err, field,
			       "%s: must be a size like \"256M\" or a number of bytes, not %s",
			       field, type_desc(v));
	r = get_string(v, field, SIZE_MAX, &str, &len, err);
	if (r < 0)
		return r;
	r = pt_size_parse(str, ret);
	if (r == -ERANGE || (r == 0 && *ret > SPEC_SIZE_MAX))
		return pt_err_invalid(err, field, "%s %s: is out of range; use 1 byte up to 8E", field,
			       quote(str, len).s);
	if (r < 0)
		return pt_err_invalid(err, field,
			       "%s %s: not a size; use a number of bytes, optionally with K, M, G or T (e.g. \"256M\")",
			       field, quote(str, len).s);
	return 0;
}

static int cpu_range_error(pt_err *err, const char *shown)
{
	return pt_err_invalid(err, "resources.cpu",
		       "resources.cpu %s: must be between 0.001 and 1024 cores", shown);
}

/* Numbers are accepted because "cpu": 0.5 is what people write; they must
 * still denote whole millicores, like the string form. */
static int parse_cpu_number(const json_t *v, uint32_t *ret, pt_err *err)
{
	double x = json_number_value(v) * 1000.0, r;
	char shown[32];

	snprintf(shown, sizeof(shown), "%g", json_number_value(v));
	if (!(x >= 0.5 && x <= CPU_MILLIS_MAX + 0.5))
		return cpu_range_error(err, shown);
	r = (double)(uint64_t)(x + 0.5);
	if (x - r > 1e-6 || r - x > 1e-6)
		return pt_err_invalid(err, "resources.cpu",
			       "resources.cpu %s: at most 3 decimals are allowed", shown);
	*ret = (uint32_t)r;
	return 0;
}

static int parse_cpu(const json_t *v, uint32_t *ret, pt_err *err)
{
	const char *str;
	size_t len;
	int r;

	if (json_is_number(v))
		return parse_cpu_number(v, ret, err);
	if (!json_is_string(v))
		return pt_err_invalid(err, "resources.cpu",
			       "resources.cpu: must be a number of cores like 0.5 or \"0.5\", not %s",
			       type_desc(v));
	r = get_string(v, "resources.cpu", SIZE_MAX, &str, &len, err);
	if (r < 0)
		return r;
	r = pt_cpu_parse(str, ret);
	if (r == -ERANGE)
		return cpu_range_error(err, quote(str, len).s);
	if (r < 0)
		return pt_err_invalid(err, "resources.cpu",
			       "resources.cpu %s: not a number of cores; use e.g. \"0.5\" or \"2\" (at most 3 decimals)",
			       quote(str, len).s);
	return 0;
}

/* Returned by the field parsers for a key they do not know. */
#define UNKNOWN_FIELD 1

static int parse_resource(const char *key, json_t *v, struct pt_spec *s, pt_err *err)
{
	struct pt_resources *res = &s->resources;
	json_int_t i = 0;
	int r;

	if (strcmp(key, "memory") == 0)
		return parse_size(v, "resources.memory", &res->memory_max, err);
	if (strcmp(key, "memory_high") == 0)
		return parse_size(v, "resources.memory_high", &res->memory_high, err);
	if (strcmp(key, "cpu") == 0)
		return parse_cpu(v, &res->cpu_millis, err);
	if (strcmp(key, "cpu_weight") == 0) {
		r = parse_int(v, "resources.cpu_weight", 1, 10000, &i, err);
		res->cpu_weight = (uint32_t)i;
		return r;
	}
	if (strcmp(key, "pids") == 0) {
		r = parse_int(v, "resources.pids", 1, 4194304, &i, err);
		res->pids_max = (uint64_t)i;
		return r;
	}
	if (strcmp(key, "log_rate") == 0)
		return parse_size(v, "resources.log_rate", &res->log_rate, err);
	if (strcmp(key, "log_burst") == 0)
		return parse_size(v, "resources.log_burst", &res->log_burst, err);
	return UNKNOWN_FIELD;
}

static int parse_restart(json_t *v, enum pt_restart_policy *ret, pt_err *err)
{
	const char *str;
	size_t len;
	int r;

	r = get_string(v, "restart", SIZE_MAX, &str, &len, err);
	if (r == 0 && pt_restart_policy_parse(str, ret) < 0)
		return pt_err_invalid(err, "restart",
			       "restart %s: must be \"always\", \"on-failure\" or \"never\"",
			       quote(str, len).s);
	return r;
}

static int parse_slug(json_t *v, char slug[PT_SLUG_MAX + 1], pt_err *err)
{
	const char *str;
	size_t len;
	int r;

	r = get_string(v, "slug", SIZE_MAX, &str, &len, err);
	if (r == 0)
		r = check_name(&slug_grammar, str, len, "slug", err);
	if (r == 0)
		memcpy(slug, str, len + 1);
	return r;
}

typedef int (*field_parser)(const char *key, json_t *v, struct pt_spec *s, pt_err *err);

/* Unknown keys are errors, not ignored: a typo like "memroy" would
 * otherwise silently run the tenant without its limit. */
static int parse_object(json_t *obj, field_parser parse, const char *prefix,
			const char *known, struct pt_spec *s, pt_err *err)
{
	const char *key;
	size_t key_len;
	json_t *v;

	json_object_keylen_foreach(obj, key, key_len, v) {
		char field[PT_ERR_FIELD_MAX];
		size_t n = strlen(prefix);
		int r = UNKNOWN_FIELD;

		/* A key with a NUL in it is never a known one. */
		if (strlen(key) == key_len)
			r = parse(key, v, s, err);
		if (r < 0)
			return r;
		if (r == UNKNOWN_FIELD) {
			memcpy(field, prefix, n);
			escape(field + n, sizeof(field) - n, key, key_len);
			return pt_err_invalid(err, field, "unknown field \"%s\"; known fields are %s",
				       field, known);
		}
	}
	return 0;
}

static int parse_spec_field(const char *key, json_t *v, struct pt_spec *s, pt_err *err)
{
	json_int_t i = 0;
	const char *str;
	int r;

	if (strcmp(key, "slug") == 0)
		return parse_slug(v, s->slug, err);
	if (strcmp(key, "blueprint") == 0) {
		r = get_string(v, "blueprint", SIZE_MAX, &str, NULL, err);
		return r < 0 ? r : pt_blueprint_ref_parse(str, s->blueprint_name,
							  s->blueprint_version, "blueprint", err);
	}
	if (strcmp(key, "entrypoint") == 0 || strcmp(key, "args") == 0)
		return parse_strv(v, key, key[0] == 'e' ? &s->entrypoint : &s->args, err);
	if (strcmp(key, "env") == 0)
		return parse_kv(v, &env_rules, &s->env, &s->n_env, err);
	if (strcmp(key, "secrets") == 0)
		return parse_kv(v, &secret_rules, &s->secrets, &s->n_secrets, err);
	if (strcmp(key, "port") == 0) {
		r = parse_int(v, "port", 1, 65535, &i, err);
		s->port = (uint16_t)i;
		return r;
	}
	if (strcmp(key, "resources") == 0) {
		if (!json_is_object(v))
			return pt_err_invalid(err, "resources", "resources: must be an object, not %s",
				       type_desc(v));
		return parse_object(v, parse_resource, "resources.",
				    "memory, memory_high, cpu, cpu_weight, pids, log_rate and log_burst", s, err);
	}
	if (strcmp(key, "restart") == 0)
		return parse_restart(v, &s->restart, err);
	if (strcmp(key, "idle") == 0)
		return pt_spec_idle_parse(v, &s->idle, err);
	if (strcmp(key, "health") == 0)
		return pt_spec_health_parse(v, &s->health, err);
	/* user, rlimits, seccomp_profile; UNKNOWN_FIELD for anything else */
	return pt_spec_confine_field(key, v, s, err);
}

static size_t strv_length(char **strv)
{
	size_t n = 0;

	while (strv && strv[n])
		n++;
	return n;
}

/* Rules that span fields, checked once every field has been seen. */
static int check_spec(const struct pt_spec *s, pt_err *err)
{
	size_t argc = strv_length(s->entrypoint) + strv_length(s->args);

	if (!s->slug[0])
		return pt_err_invalid(err, "slug", "slug: is required");
	if (!s->blueprint_name[0])
		return pt_err_invalid(err, "blueprint", "blueprint: is required, e.g. \"python@3.12\"");
	if (argc > PT_ARGV_MAX)
		return pt_err_invalid(err, "args",
			       "args: entrypoint and args have %zu entries together; at most %d are allowed",
			       argc, PT_ARGV_MAX);
	if (s->resources.memory_max && s->resources.memory_high > s->resources.memory_max)
		return pt_err_invalid(err, "resources.memory_high",
			       "resources.memory_high: must not exceed resources.memory");
	return pt_spec_idle_check(&s->idle, err);
}

int pt_spec_from_json(json_t *obj, struct pt_spec *ret, pt_err *err)
{
	_cleanup_(pt_spec_free) struct pt_spec s = { 0 };
	int r;

	if (!json_is_object(obj))
		return pt_err_invalid(err, "", "spec: must be a JSON object, not %s", type_desc(obj));
	r = parse_object(obj, parse_spec_field, "",
			 "slug, blueprint, entrypoint, args, env, secrets, port, resources, restart, "
			 "idle, health, user, rlimits and seccomp_profile",
			 &s, err);
	if (r == 0)
		r = check_spec(&s, err);
	if (r < 0)
		return r;
	*ret = s;
	memset(&s, 0, sizeof(s));
	return 0;
}

int pt_spec_parse(const char *text, size_t len, struct pt_spec *ret, pt_err *err)
{
	_cleanup_json_ json_t *root = NULL;
	json_error_t jerr;
	char msg[PT_ERR_MSG_MAX / 2];

	/* Duplicate keys are rejected: which one wins is parser-specific, and
	 * a proxy and the daemon must not disagree on what was asked for. */
	root = json_loadb(text ? text : "", text ? len : 0,
			  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return oom(err, "");
		escape(msg, sizeof(msg), jerr.text, strnlen(jerr.text, sizeof(jerr.text)));
		return pt_err_invalid(err, "", "invalid JSON at line %d, column %d: %s", jerr.line,
			       jerr.column, msg);
	}
	return pt_spec_from_json(root, ret, err);
}

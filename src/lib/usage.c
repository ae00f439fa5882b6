/* The usage ledger's lines: see usage.h. */
#include "usage.h"

#include "cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[PT_US_N] = {
	[PT_US_ACTIVE] = "active_ms", [PT_US_FROZEN] = "frozen_ms", [PT_US_ASLEEP] = "asleep_ms",
	[PT_US_STOPPED] = "stopped_ms", [PT_US_CRASHLOOP] = "crashloop_ms",
};

static const char *const incident_names[PT_UI_N] = {
	[PT_UI_EXIT] = "exit", [PT_UI_SIGNAL] = "signal", [PT_UI_OOM] = "oom-killed",
	[PT_UI_UNHEALTHY] = "unhealthy", [PT_UI_SPAWN_FAILED] = "spawn-failed",
	[PT_UI_UNKNOWN] = "unknown",
};

const char *pt_usage_state_name(enum pt_usage_state s)
{
	return (unsigned)s < PT_US_N ? state_names[s] : NULL;
}

const char *pt_usage_incident_name(enum pt_usage_incident i)
{
	return (unsigned)i < PT_UI_N ? incident_names[i] : NULL;
}

int pt_usage_incident_from_reason(const char *reason)
{
	for (int i = 0; reason && i < PT_UI_N; i++)
		if (strcmp(reason, incident_names[i]) == 0)
			return i;
	return -1;
}

void pt_usage_add(struct pt_usage *sum, const struct pt_usage *u)
{
	for (int i = 0; i < PT_US_N; i++)
		sum->state_ms[i] += u->state_ms[i];
	for (int i = 0; i < PT_UI_N; i++)
		sum->incidents[i] += u->incidents[i];
	sum->cpu_us += u->cpu_us;
	sum->mem_byte_ms += u->mem_byte_ms;
	if (u->mem_peak > sum->mem_peak)
		sum->mem_peak = u->mem_peak;
	sum->restarts += u->restarts;
	sum->metered |= u->metered;
	sum->net_in += u->net_in;
	sum->net_out += u->net_out;
	sum->net_metered |= u->net_metered;
	sum->requests += u->requests;
	sum->requests_metered |= u->requests_metered;
}

int pt_netdev_bytes(const char *text, size_t len, const char *ifname, uint64_t *rx,
		    uint64_t *tx)
{
	size_t n = strlen(ifname);

	for (const char *p = text, *end = text + len, *nl; p < end; p = nl + 1) {
		unsigned long long v[9];
		const char *colon;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		while (p < nl && *p == ' ')
			p++;
		colon = memchr(p, ':', (size_t)(nl - p));
		if (!colon || (size_t)(colon - p) != n || memcmp(p, ifname, n) != 0)
			continue;
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 9)
			return -ENOENT;
		*rx = v[0];
		*tx = v[8];
		return 0;
	}
	return -ENOENT;
}

/* ---- one line -------------------------------------------------------- */

int pt_usage_line_format(const struct pt_usage_line *l, char *buf, size_t size)
{
	const struct pt_usage *u = &l->u;
	char day[11];
	size_t n;
	int w;

	pt_day_format(l->day, day);
	w = snprintf(buf, size, "{\"day\":\"%s\",\"slug\":\"%s\"", day, l->slug);
	for (int i = 0; w > 0 && (size_t)w < size && i < PT_US_N; i++)
		w += snprintf(buf + w, size - (size_t)w, ",\"%s\":%llu", state_names[i],
			      (unsigned long long)u->state_ms[i]);
	if (w > 0 && (size_t)w < size)
		w += snprintf(buf + w, size - (size_t)w, ",\"restarts\":%llu,\"incidents\":{",
			      (unsigned long long)u->restarts);
	for (int i = 0, first = 1; w > 0 && (size_t)w < size && i < PT_UI_N; i++)
		if (u->incidents[i]) {
			w += snprintf(buf + w, size - (size_t)w, "%s\"%s\":%llu", first ? "" : ",",
				      incident_names[i], (unsigned long long)u->incidents[i]);
			first = 0;
		}
	if (w > 0 && (size_t)w < size)
		w += snprintf(buf + w, size - (size_t)w, "}");
	if (w > 0 && (size_t)w < size && u->metered)
		w += snprintf(buf + w, size - (size_t)w, ",\"cpu_us\":%llu,\"mem_byte_ms\":%llu,"
			      "\"mem_peak\":%llu", (unsigned long long)u->cpu_us,
			      (unsigned long long)u->mem_byte_ms, (unsigned long long)u->mem_peak);
	if (w > 0 && (size_t)w < size && u->net_metered)
		w += snprintf(buf + w, size - (size_t)w, ",\"net_in\":%llu,\"net_out\":%llu",
			      (unsigned long long)u->net_in, (unsigned long long)u->net_out);
	if (w > 0 && (size_t)w < size && u->requests_metered)
		w += snprintf(buf + w, size - (size_t)w, ",\"requests\":%llu",
			      (unsigned long long)u->requests);
	if (w > 0 && (size_t)w < size)
		w += snprintf(buf + w, size - (size_t)w, "}");
	n = w > 0 ? (size_t)w : 0;
	return w > 0 && n < size ? (int)n : -ENOBUFS;
}

static int bad(pt_err *err, const char *field, const char *what)
{
	return pt_err_field(err, -EBADMSG, field, "field %s: %s", field, what);
}

static int get_u64(json_t *o, const char *key, bool required, uint64_t *ret, pt_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, key, v ? "expected a non-negative integer" : "missing");
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_incidents(json_t *o, struct pt_usage *u, pt_err *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return bad(err, "incidents", "expected an object");
	json_object_foreach(o, key, v) {
		int i = pt_usage_incident_from_reason(key);

		if (i < 0)
			return bad(err, "incidents", "an unknown reason");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return bad(err, "incidents", "expected non-negative counts");
		u->incidents[i] = (uint64_t)json_integer_value(v);
	}
	return 0;
}

int pt_usage_line_parse(const char *text, size_t len, struct pt_usage_line *ret, pt_err *err)
{
	_cleanup_json_ json_t *o = NULL;
	struct pt_usage_line l = { 0 };
	json_error_t jerr;
	const char *day, *slug;
	int r = 0;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return pt_err_field(err, -EBADMSG, "", "not a JSON line (torn or damaged): %s",
				    jerr.text);
	if (!json_is_object(o))
		return bad(err, "", "expected an object");
	day = json_string_value(json_object_get(o, "day"));
	slug = json_string_value(json_object_get(o, "slug"));
	if (!day || pt_day_parse(day, &l.day) < 0)
		return bad(err, "day", "expected a date YYYY-MM-DD");
	if (!slug || pt_slug_validate(slug, "slug", NULL) < 0)
		return bad(err, "slug", "expected a tenant's slug");
	snprintf(l.slug, sizeof(l.slug), "%s", slug);
	for (int i = 0; r == 0 && i < PT_US_N; i++)
		r = get_u64(o, state_names[i], true, &l.u.state_ms[i], err);
	if (r == 0)
		r = get_u64(o, "restarts", true, &l.u.restarts, err);
	if (r == 0)
		r = parse_incidents(json_object_get(o, "incidents"), &l.u, err);
	l.u.metered = json_object_get(o, "cpu_us") != NULL;
	if (r == 0 && l.u.metered)
		r = get_u64(o, "cpu_us", true, &l.u.cpu_us, err);
	if (r == 0 && l.u.metered)
		r = get_u64(o, "mem_byte_ms", true, &l.u.mem_byte_ms, err);
	if (r == 0 && l.u.metered)
		r = get_u64(o, "mem_peak", true, &l.u.mem_peak, err);
	l.u.net_metered = json_object_get(o, "net_in") != NULL;
	if (r == 0 && l.u.net_metered)
		r = get_u64(o, "net_in", true, &l.u.net_in, err);
	if (r == 0 && l.u.net_metered)
		r = get_u64(o, "net_out", true, &l.u.net_out, err);
	l.u.requests_metered = json_object_get(o, "requests") != NULL;
	if (r == 0 && l.u.requests_metered)
		r = get_u64(o, "requests", true, &l.u.requests, err);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

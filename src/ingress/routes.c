/* The ingress's view of routes.json, re-read when the file changes. The
 * daemon replaces the file by rename, so a changed inode, mtime or size
 * is a new table; a file that cannot be used leaves no table at all (503
 * for everyone) rather than a stale one that may route to an address a
 * removed tenant no longer holds. Addresses come from here only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fsutil.h"
#include "ingress.h"

#define ROUTES_MAX (8 * 1024 * 1024)

static bool same_file(const struct route_table *rt, const struct stat *st)
{
	return rt->seen && rt->dev == st->st_dev && rt->ino == st->st_ino &&
	       rt->size == st->st_size && rt->mtime.tv_sec == st->st_mtim.tv_sec &&
	       rt->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void set_problem(struct route_table *rt, const char *fmt, const char *what)
{
	char problem[sizeof(rt->problem)];

	snprintf(problem, sizeof(problem), fmt, rt->name, what);
	/* One log line per change of problem, not one per request. */
	if (strcmp(problem, rt->problem) != 0)
		fprintf(stderr, "ptenant-ingress: %s: answering 503 until it is fixed\n", problem);
	snprintf(rt->problem, sizeof(rt->problem), "%s", problem);
	json_decref(rt->routes);
	rt->routes = NULL;
}

static void load(struct route_table *rt)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	json_t *doc, *routes;
	pt_err err = { 0 };
	size_t len;

	if (pt_read_file(rt->dirfd, rt->name, ROUTES_MAX, &text, &len, &err) < 0) {
		set_problem(rt, "routes file %s: %s", err.msg);
		return;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	routes = json_object_get(doc, "routes");
	if (!doc || json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_object(routes)) {
		set_problem(rt, "routes file %s: %s", doc ? "not a version 1 routes file" : jerr.text);
		json_decref(doc);
		return;
	}
	json_decref(rt->routes);
	rt->routes = json_incref(routes);
	json_decref(doc);
	if (rt->problem[0])
		fprintf(stderr, "ptenant-ingress: routes file %s: usable again, %zu route(s)\n",
			rt->name, json_object_size(rt->routes));
	rt->problem[0] = '\0';
}

void routes_refresh(struct route_table *rt)
{
	struct stat st;

	if (fstatat(rt->dirfd, rt->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rt->seen = false;
		set_problem(rt, "routes file %s: %s", strerror(errno));
		return;
	}
	if (same_file(rt, &st))
		return;
	rt->seen = true;
	rt->dev = st.st_dev;
	rt->ino = st.st_ino;
	rt->size = st.st_size;
	rt->mtime = st.st_mtim;
	load(rt);
}

int routes_lookup(struct route_table *rt, const char *slug, struct route *ret)
{
	json_t *r, *addr, *port, *state, *wt;
	struct route out = { .addr.sin_family = AF_INET };

	/* One stat per loop round, however many requests it routes: a
	 * rewrite is still seen by the next round's first request. */
	if (rt->checked_round != rt->round || !rt->seen) {
		rt->checked_round = rt->round;
		routes_refresh(rt);
	}
	if (!rt->routes)
		return -EIO;
	r = json_object_get(rt->routes, slug);
	if (!r)
		return -ENOENT;
	addr = json_object_get(r, "address");
	port = json_object_get(r, "port");
	state = json_object_get(r, "state");
	if (!json_is_string(addr) || !json_is_integer(port) || !json_is_string(state) ||
	    inet_pton(AF_INET, json_string_value(addr), &out.addr.sin_addr) != 1 ||
	    json_integer_value(port) < 1 || json_integer_value(port) > 65535)
		return -EBADMSG;
	out.addr.sin_port = htons((uint16_t)json_integer_value(port));
	snprintf(out.state, sizeof(out.state), "%s", json_string_value(state));
	out.running = strcmp(out.state, "running") == 0;
	/* Frozen or asleep: a request wakes it (wake.c). */
	out.sleeping = strcmp(out.state, "frozen") == 0 || strcmp(out.state, "freezing") == 0 ||
		       strcmp(out.state, "asleep") == 0;
	out.wake_timeout_ms = DEFAULT_WAKE_TIMEOUT_MS;
	wt = json_object_get(r, "wake_timeout_ms");
	if (json_is_integer(wt) && json_integer_value(wt) >= 100 &&
	    json_integer_value(wt) <= 3600000)
		out.wake_timeout_ms = (uint64_t)json_integer_value(wt);
	*ret = out;
	return 0;
}

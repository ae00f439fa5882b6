#include "security-info.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"

static const char *const ns_names[] = {
	"user", "mnt", "pid", "net", "uts", "ipc", "cgroup", "time",
};

static json_t *namespaces(pid_t pid)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < sizeof(ns_names) / sizeof(ns_names[0]); i++) {
		char path[64], mine[64], theirs[64] = "", host[64] = "";
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_names[i]);
		snprintf(mine, sizeof(mine), "/proc/self/ns/%s", ns_names[i]);
		if ((n = readlink(path, theirs, sizeof(theirs) - 1)) > 0)
			theirs[n] = '\0';
		if ((n = readlink(mine, host, sizeof(host) - 1)) > 0)
			host[n] = '\0';
		json_object_set_new(o, ns_names[i],
				    json_pack("{s:s, s:s, s:b}", "tenant", theirs, "host", host,
					      "own", theirs[0] && strcmp(theirs, host) != 0));
	}
	return o;
}

static char *read_proc(pid_t pid, const char *name)
{
	char path[64], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	if (pt_read_file(AT_FDCWD, path, 1 << 20, &text, &len, NULL) < 0)
		return NULL;
	return text;
}

/* "0000000000000400" -> ["cap_net_bind_service", ...] */
static json_t *cap_names(const char *hex)
{
	uint64_t mask = strtoull(hex, NULL, 16);
	json_t *a = json_array();

	for (int cap = 0; a && cap < 64; cap++)
		if (mask & (1ULL << cap)) {
			char *name = cap_to_name(cap);

			json_array_append_new(a, json_string(name ? name : "?"));
			cap_free(name);
		}
	return a;
}

static json_t *status_fields(pid_t pid)
{
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	static const char *const plain[] = { "Uid", "Gid", "NoNewPrivs", "Seccomp",
					     "Seccomp_filters", "Groups" };
	_cleanup_free_ char *text = read_proc(pid, "status");
	json_t *o = json_object();
	char *save = NULL;

	if (!text || !o)
		return o;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *val;

		if (!colon)
			continue;
		*colon = '\0';
		val = colon + 1 + strspn(colon + 1, " \t");
		for (size_t i = 0; i < 5; i++)
			if (strcmp(line, caps[i]) == 0)
				json_object_set_new(o, line, json_pack("{s:s, s:o}", "mask", val,
								       "names", cap_names(val)));
		for (size_t i = 0; i < 6; i++)
			if (strcmp(line, plain[i]) == 0)
				json_object_set_new(o, line, json_string(val));
		if (strcmp(line, "Name") == 0)
			json_object_set_new(o, "name", json_string(val));
	}
	return o;
}

/* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
static json_t *mount_entry(char *line, json_t *masked, json_t *readonly)
{
	char *f[6], *save = NULL, *dash = strstr(line, " - "), *fstype, *source;
	size_t i = 0;

	if (!dash)
		return NULL;
	*dash = '\0';
	for (char *t = strtok_r(line, " ", &save); t && i < 6; t = strtok_r(NULL, " ", &save))
		f[i++] = t;
	fstype = strtok_r(dash + 3, " ", &save);
	source = fstype ? strtok_r(NULL, " ", &save) : NULL;
	if (i < 6 || !fstype)
		return NULL;
	if ((strncmp(f[4], "/proc/", 6) == 0 || strncmp(f[4], "/sys/", 5) == 0)) {
		/* A mask is an empty tmpfs or a /dev/null bind on top. */
		if (strcmp(fstype, "tmpfs") == 0 || strcmp(f[3], "/null") == 0)
			json_array_append_new(masked, json_string(f[4]));
		else if (strncmp(f[5], "ro", 2) == 0)
			json_array_append_new(readonly, json_string(f[4]));
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "target", f[4], "fstype", fstype,
			 "source", source ? source : "", "options", f[5]);
}

static int add_mounts(pid_t pid, json_t *o)
{
	_cleanup_free_ char *text = read_proc(pid, "mountinfo");
	json_t *mounts = json_array(), *masked = json_array(), *ro = json_array();
	char *save = NULL;

	if (!text) {
		json_decref(mounts);
		json_decref(masked);
		json_decref(ro);
		return -errno;
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *m = mount_entry(line, masked, ro);

		if (m)
			json_array_append_new(mounts, m);
	}
	json_object_set_new(o, "mounts", mounts);
	json_object_set_new(o, "masked_paths", masked);
	json_object_set_new(o, "readonly_paths", ro);
	return 0;
}

/* init's direct children: the entrypoint and whatever `exec` started. */
static json_t *children(pid_t pid)
{
	char name[64];
	_cleanup_free_ char *text = NULL;
	json_t *a = json_array();
	char *save = NULL;

	snprintf(name, sizeof(name), "task/%d/children", (int)pid);
	text = read_proc(pid, name);
	for (char *t = text ? strtok_r(text, " \n", &save) : NULL; t && a;
	     t = strtok_r(NULL, " \n", &save)) {
		json_t *st = status_fields((pid_t)atoi(t));

		json_object_set_new(st, "host_pid", json_integer(atoi(t)));
		json_array_append_new(a, st);
	}
	return a;
}

int pt_security_info(pid_t pid, int pidfd, json_t **ret, pt_err *err)
{
	json_t *o = json_object();
	char *uid_map = read_proc(pid, "uid_map"), *gid_map = read_proc(pid, "gid_map");
	int r;

	json_object_set_new(o, "source", json_string("host /proc of the tenant's processes"));
	json_object_set_new(o, "namespaces", namespaces(pid));
	json_object_set_new(o, "uid_map", json_string(uid_map ? uid_map : ""));
	json_object_set_new(o, "gid_map", json_string(gid_map ? gid_map : ""));
	free(uid_map);
	free(gid_map);
	json_object_set_new(o, "init", status_fields(pid));
	json_object_set_new(o, "processes", children(pid));
	r = add_mounts(pid, o);
	/* Still the same process: everything above was read from it. */
	if (r == 0 && pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
		r = -errno;
	if (r < 0) {
		json_decref(o);
		return pt_err_set(err, r, "read /proc/%d of the tenant", (int)pid);
	}
	*ret = o;
	return 0;
}

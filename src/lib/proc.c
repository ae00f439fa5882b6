#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"

int pt_proc_starttime(pid_t pid, uint64_t *ret, pt_err *err)
{
	char path[64], buf[1024], *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = pt_read_small_at(AT_FDCWD, path, buf, sizeof(buf));
	if (r < 0)
		return pt_err_set(err, r, "read %s", path);
	/* comm (field 2) may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return pt_err_set(err, -EBADMSG, "parse %s", path);
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return pt_err_set(err, -EBADMSG, "parse %s", path);
	*ret = strtoull(p + 1, NULL, 10);
	return 0;
}


int pt_proc_alive(pid_t pid)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pt_read_small_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* "Uid: r e s f" and "NSpid: ... 1" of /proc/PID/status. */
static int is_ns_init_of(const char *status, uid_t uid)
{
	const char *u = strstr(status, "\nUid:\t"), *ns = strstr(status, "\nNSpid:\t");
	const char *end;

	unsigned long id;

	if (!u || !ns)
		return 0;
	/* Any uid of the tenant's range: its init runs as its `user`, if set. */
	id = strtoul(u + 6, NULL, 10);
	if (id < uid || id - uid >= 65536)
		return 0;
	end = strchr(ns + 1, '\n');
	if (!end)
		return 0;
	/* The last field is the pid in the innermost namespace. */
	while (end > ns && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end - ns >= 2 && end[-1] == '1' && (end[-2] == '\t' || end[-2] == ' ') &&
	       strchr(ns + 8, '\t') && strchr(ns + 8, '\t') < end - 1;
}

/* mountinfo: "id parent maj:min ROOT MOUNTPOINT ... - FSTYPE ...". A
 * tenant started by this version has an overlay on /data, which names no
 * host path (the tenant's uid range, checked by the caller, says whose
 * it is); one started before has the bind of its data directory. */
static int has_data_mount(pid_t pid, const char *suffix)
{
	char path[64], line[4096];
	_cleanup_fclose_ FILE *f = NULL;
	size_t n = strlen(suffix);

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char root[2048], mnt[2048];
		const char *fstype = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %2047s %2047s", root, mnt) != 2 ||
		    strcmp(mnt, "/data") != 0)
			continue;
		if (fstype && strncmp(fstype, " - overlay ", 11) == 0)
			return 1;
		if (strlen(root) >= n && strcmp(root + strlen(root) - n, suffix) == 0)
			return 1;
	}
	return 0;
}

pid_t pt_proc_find_ns_init(uid_t uid, const char *data_suffix)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[64], buf[4096];
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
		if (pt_read_small_at(AT_FDCWD, path, buf, sizeof(buf)) == 0 && is_ns_init_of(buf, uid) &&
		    has_data_mount((pid_t)pid, data_suffix))
			return (pid_t)pid;
	}
	return 0;
}

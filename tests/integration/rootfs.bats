#!/usr/bin/env bats
# The tenant's writable layer over the blueprint: what a package manager or
# an app that replaces files does must work inside a tenant. The overlay is
# mounted in the tenant's user namespace, where whiteouts, opaque
# directories and renames over blueprint paths need overlay's `userxattr`
# (without it each of these answers EIO). Everything is checked from inside
# the tenant, by result: the kernel log may be unreadable here.

load helpers

setup_file() {
	setup_daemon || return 1
	create_tenant rf
}

teardown_file() {
	cleanup_daemon
}

# in_rf SCRIPT: runs SCRIPT with sh inside the tenant, prints its output.
in_rf() {
	pt exec rf -- sh -c "$1" 2>&1
}

@test "rootfs: a blueprint directory is replaced (rmdir + mkdir, rm -rf + mkdir) and shows only the new content" {
	run in_rf 'rmdir /home && mkdir /home && echo new >/home/f && ls -A /home'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = f ]

	run in_rf 'rm -rf /etc && mkdir /etc && echo fresh >/etc/only && ls -A /etc'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = only ]
	# The blueprint's files under it stay hidden in later calls too.
	run in_rf 'ls -A /etc; test -e /etc/passwd'
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = only ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "rootfs: a removed blueprint file stays gone (ls does not show it, open fails)" {
	run in_rf 'rm /bot/httpd.conf && ls -A /bot'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ " $(echo $output) " != *" httpd.conf "* ]]
	[[ " $(echo $output) " == *" start "* ]]
	run in_rf 'cat /bot/httpd.conf'
	[ "$status" -ne 0 ]
	[[ $output == *"No such file"* ]]
	# The blueprint itself is untouched.
	[ -f "$PT_STATE/blueprints/echo-bot/1/rootfs/bot/httpd.conf" ]
}

@test "rootfs: mv of a new file over a blueprint file, and of a directory over a blueprint directory" {
	run in_rf 'echo mine >/bot/new && mv /bot/new /bot/start && cat /bot/start'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = mine ]

	# A directory made in the layer renamed over an (empty) blueprint one.
	run in_rf 'mkdir /newdir && echo in >/newdir/a && mv -T /newdir /root && ls -A /root && cat /root/a'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = a ]
	[ "${lines[1]}" = in ]
	# A blueprint directory with content moved away and back.
	run in_rf 'mv /bot/www /bot/www.old && test ! -e /bot/www && mv /bot/www.old /bot/www && ls -A /bot/www'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *healthz* ]]
}

@test "rootfs: ptenantd refuses a state dir whose filesystem has no user xattrs, naming it" {
	local mnt
	mnt=$(mktemp -d /tmp/ptenant-ramfs.XXXXXX)
	mount -t ramfs ramfs "$mnt"
	# timeout: a daemon that wrongly accepts the dir would run on.
	run timeout 10 "$PTENANTD_BIN" -c /dev/null --api-group "" --cgroup-mode off \
		--state-dir "$mnt/state" --runtime-dir "$mnt/run"
	umount "$mnt"
	rmdir "$mnt"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$mnt/state/tenants is on ramfs, which does not store user.* xattrs"* ]]
}

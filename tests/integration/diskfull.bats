#!/usr/bin/env bats
# The state directory's filesystem full (issue 10): a tmpfs of a few MiB
# under the daemon's state dir, filled to the last block by a file of the
# test's. Every write then fails with a clear error, no state file is
# torn or emptied, running tenants are not harmed, and once the filler is
# gone the daemon writes what it could not and serves as before.

load helpers

FS_MIB=24

setup() {
	check_prereqs || return 1
	ensure_blueprint || return 1
	new_daemon_dir || return 1
	FS=$(mktemp -d /tmp/ptenant-full.XXXXXX)
	echo "$FS" >"$PT_DIR/fs"
	mount -t tmpfs -o size=${FS_MIB}m,mode=0755 ptenant-full "$FS" || return 1
	export PT_STATE=$FS/state
	start_daemon || return 1
	import_blueprint
}

teardown() {
	local fs
	fs=$(cat "$PT_DIR/fs")
	rm -f "$fs/filler"
	cleanup_daemon
	umount "$fs" && rmdir "$fs"
}

fill() {
	dd if=/dev/zero of="$FS/filler" bs=64k status=none 2>/dev/null || true
	# tmpfs full: not even a small file fits.
	! printf x >"$FS/probe" 2>/dev/null
}
unfill() {
	rm -f "$FS/filler" "$FS/probe"
}

# state.json parses and is a whole state (not empty, not cut).
state_whole() {
	jq -e '.desired and .host_uid' "$PT_STATE/tenants/$1/state.json" >/dev/null
}
desired_on_disk() {
	jq -r .desired "$PT_STATE/tenants/$1/state.json"
}

@test "disk full: stop still stops; state.json stays whole, ls shows why, and it is written once space returns" {
	create_tenant df-stop
	fill
	run -0 pt stop df-stop
	state_is df-stop stopped
	run -0 tenant_field df-stop .state_error
	[[ $output == *"state.json"*"No space left on device"* ]]
	run -0 pt inspect df-stop
	[[ $output == *"state not saved"* ]] || pt ls
	state_whole df-stop
	[ "$(desired_on_disk df-stop)" = running ]
	grep -q "df-stop: state-save-failed: .*No space left on device" "$PT_LOG"

	unfill
	wait_for -t 5 bash -c '[[ $(jq -r .desired "$1") == stopped ]]' _ "$PT_STATE/tenants/df-stop/state.json"
	[ -z "$(tenant_field df-stop .state_error)" ]
	has_event df-stop state-saved
	# Persisted: a new daemon keeps it stopped.
	stop_daemon
	start_daemon
	state_is df-stop stopped
}

@test "disk full: create fails naming the cause and leaves no half tenant; it works once space returns" {
	fill
	run -1 pt create df-new --blueprint "$BLUEPRINT_REF"
	[[ $output == *"create tenant df-new"*"No space left on device"* ]]
	run -0 pt --json ls
	[ "$(jq -r '.[].slug' <<<"$output" | grep -c df-new)" -eq 0 ]
	[ -z "$(ls -A "$PT_STATE/tenants")" ]
	unfill
	create_tenant df-new
	state_whole df-new
}

@test "disk full: a crashed tenant is respawned, neighbours keep running, and no file is torn" {
	create_tenant df-crash
	create_tenant df-calm
	local calm crash
	calm=$(tenant_pid df-calm)
	crash=$(tenant_pid df-crash)
	fill
	kill -KILL "$crash"
	wait_for -t 5 running_with_new_pid df-crash "$crash"
	# Short of space, the old layer is removed before the new run writes
	# its /etc files, not left to the trash's helper (src/ptenantd/trash.c).
	grep -q "tenant df-crash: under 64 MiB or 4096 inodes free on its file system: its old upper/ is removed at once" "$PT_LOG"
	[ -z "$(ls -A "$PT_STATE/tenants/df-crash/trash" 2>/dev/null)" ]
	[ "$(tenant_pid df-calm)" = "$calm" ]
	state_whole df-crash
	state_whole df-calm
	unfill
	wait_for -t 5 bash -c '[[ $(jq -r .pid "$1") == "$2" ]]' _ \
		"$PT_STATE/tenants/df-crash/state.json" "$(tenant_pid df-crash)"
	[ -z "$(tenant_field df-crash .state_error)" ]
}

#!/usr/bin/env bats
# Blueprint versions (issue 13, item 2): `blueprint ls` names the tenants
# on each version; `blueprint rm` is refused while a tenant uses the
# version and removes it otherwise; `update SLUG --blueprint` moves one
# tenant: restarted on the new version, /data kept; bad refs and unknown
# versions are clear errors that change nothing.

load helpers

setup_file() {
	setup_daemon || return 1
	# A second version of the test blueprint that says which it is.
	local v2=$BATS_FILE_TMPDIR/v2
	cp -a "$PT_BLUEPRINT" "$v2"
	echo two >"$v2/rootfs/version"
	pt blueprint import echo-bot@2 "$v2" >/dev/null
	create_tenant mv1
	pt exec mv1 -- sh -c 'echo kept >/data/mark'
}

teardown_file() {
	cleanup_daemon
}

bp_tenants() { # NAME VERSION: its tenants, comma-separated
	pt --json blueprint ls | jq -r --arg n "$1" --arg v "$2" \
		'.[] | select(.name == $n and .version == $v) | .tenants | join(",")'
}

@test "blueprint versions: ls names each version's tenants" {
	[ "$(bp_tenants echo-bot 1)" = mv1 ]
	[ "$(bp_tenants echo-bot 2)" = "" ]
	run pt blueprint ls
	echo "$output"
	[[ $output == *TENANTS* ]]
	[[ $output == *SIZE-MiB* ]]
}

@test "blueprint versions: ls gives each version's disk use, as du measures it" {
	local size du
	size=$(pt --json blueprint ls | jq -r '.[] | select(.name == "echo-bot" and .version == "2") | .size_bytes')
	du=$(du -s --block-size=1 "$PT_STATE/blueprints/echo-bot/2/rootfs" | cut -f1)
	echo "ls: $size du: $du"
	# busybox and the bot: more than a few KiB, and within one block
	# per directory of what du counts.
	[ "$size" -gt 100000 ]
	[ $((size > du ? size - du : du - size)) -le 65536 ]
}

@test "blueprint versions: rm of a version in use is refused and names the tenants" {
	run pt blueprint rm echo-bot@1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"blueprint echo-bot@1 is used by 1 tenant(s): mv1"* ]]
	[ -n "$(pt --json blueprint ls | jq -r '.[] | select(.version == "1") | .name')" ]
}

@test "blueprint versions: update --blueprint moves a running tenant, restarted, /data kept" {
	local before
	before=$(tenant_pid mv1)
	run pt update mv1 --blueprint echo-bot@2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "mv1: on blueprint echo-bot@2, running" ]]
	[ "$(tenant_pid mv1)" != "$before" ]
	[ "$(pt exec mv1 -- cat /version)" = two ]
	[ "$(pt exec mv1 -- cat /data/mark)" = kept ]
	[ "$(bp_tenants echo-bot 2)" = mv1 ]
	run pt events mv1
	[[ $output == *"blueprint echo-bot@1 -> echo-bot@2"* ]]
}

@test "blueprint versions: a stopped tenant moves without starting" {
	pt stop mv1
	run pt update mv1 --blueprint echo-bot@1
	[ "$status" -eq 0 ]
	[ "$(tenant_state mv1)" = stopped ]
	pt start mv1
	[ "$(pt exec mv1 -- sh -c 'cat /version 2>/dev/null || echo one')" = one ]
}

@test "blueprint versions: bad refs and unknown versions are clear errors that change nothing" {
	run pt update mv1 --blueprint echo-bot@9
	echo "$output"
	[ "$status" -eq 1 ] && [[ $output == *"blueprint echo-bot@9 is not imported"* ]]
	run pt update mv1 --blueprint 'not a ref'
	[ "$status" -eq 1 ] && [[ $output == *blueprint* ]]
	run pt update mv1 --blueprint echo-bot@2 --memory 64M
	[ "$status" -eq 2 ] && [[ $output == *"--blueprint goes alone"* ]]
	run pt update nosuch --blueprint echo-bot@2
	[ "$status" -eq 1 ] && [[ $output == *"no tenant nosuch"* ]]
	[ "$(bp_tenants echo-bot 1)" = mv1 ]
	run pt blueprint rm echo-bot@9
	[ "$status" -eq 1 ] && [[ $output == *"blueprint echo-bot@9 is not imported"* ]]
}

@test "blueprint versions: rm of a version no tenant uses removes it" {
	run pt blueprint rm echo-bot@2
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(pt --json blueprint ls | jq -r '.[] | select(.name == "echo-bot" and .version == "2") | .name')" ]
	run pt blueprint import echo-bot@2 "$BATS_FILE_TMPDIR/v2"
	[ "$status" -eq 0 ]
}

#!/usr/bin/env bats
# Tenant lifecycle on one daemon: respawn after kills, stop/start/restart,
# rm, restart policies, crash loop, logs. A fresh tenant per test.

load helpers

setup_file() {
	setup_daemon
}

teardown_file() {
	cleanup_daemon
}

# The journal of SLUG has an "exit" with reason signal, code 9, and a
# "respawn" after it (later in the journal).
exit_then_respawn() {
	pt --json events "$1" | jq -e '
		(map(.event == "exit" and .reason == "signal" and .code == 9) | index(true)) as $e
		| (map(.event == "respawn") | rindex(true)) as $r
		| $e != null and $r != null and $r > $e' >/dev/null
}

@test "lifecycle: kill -9 of the entrypoint: respawned within 1 s, journal has exit(signal 9) then respawn" {
	create_tenant lc-kill-ep
	local init child
	init=$(tenant_pid lc-kill-ep)
	child=$(init_children "$init")
	[[ $child =~ ^[0-9]+$ ]] # exactly one: the entrypoint (httpd)
	[[ $(tr '\0' ' ' <"/proc/$child/cmdline") == httpd* ]]

	kill -KILL "$child"
	wait_for -t 1 running_with_new_pid lc-kill-ep "$init"
	tenant_pid lc-kill-ep >/dev/null
	wait_for -t 1 pid_dead "$init"
	wait_for -t 1 exit_then_respawn lc-kill-ep
	[ "$(tenant_field lc-kill-ep .last_exit.reason)" = signal ]
	[ "$(tenant_field lc-kill-ep .last_exit.code)" = 9 ]
	[ "$(tenant_field lc-kill-ep .restarts)" = 1 ]
	wait_bot lc-kill-ep
}

@test "lifecycle: kill -9 of the tenant's init: respawned within 1 s, journal has exit(signal 9) then respawn" {
	create_tenant lc-kill-init
	local init
	init=$(tenant_pid lc-kill-init)

	kill -KILL "$init"
	wait_for -t 1 running_with_new_pid lc-kill-init "$init"
	tenant_pid lc-kill-init >/dev/null
	wait_for -t 1 exit_then_respawn lc-kill-init
	pid_dead "$init"
	[ "$(tenant_field lc-kill-init .last_exit.reason)" = signal ]
	[ "$(tenant_field lc-kill-init .last_exit.code)" = 9 ]
	wait_bot lc-kill-init
}

@test "lifecycle: stop: state stopped, processes gone, not respawned" {
	create_tenant lc-stop
	local init child
	init=$(tenant_pid lc-stop)
	child=$(init_children "$init")

	run pt stop lc-stop
	[ "$status" -eq 0 ]
	[ "$output" = "lc-stop: stopped" ]
	[ "$(tenant_state lc-stop)" = stopped ]
	[ "$(tenant_field lc-stop .pid)" = 0 ]
	pid_dead "$init"
	pid_dead "$child"
	# Nothing to poll for: the point is that nothing happens.
	sleep 1.5
	[ "$(tenant_state lc-stop)" = stopped ]
	[ "$(tenant_field lc-stop .pid)" = 0 ]
	[ "$(tenant_field lc-stop .restarts)" = 0 ]
	pid_dead "$init"
	has_event lc-stop stopped
	run has_event lc-stop respawn
	[ "$status" -ne 0 ]
	run pt exec lc-stop -- true
	[ "$status" -eq 1 ]
	[[ $output == *"not running"* ]]
}

@test "lifecycle: start after stop brings the tenant back with a new pid" {
	create_tenant lc-start
	local pid1 pid2
	pid1=$(tenant_pid lc-start)
	run pt stop lc-start
	[ "$status" -eq 0 ]

	run pt start lc-start
	[ "$status" -eq 0 ]
	[ "$output" = "lc-start: running" ]
	wait_bot lc-start
	pid2=$(tenant_pid lc-start)
	[ "$pid2" -ne "$pid1" ]
	pid_dead "$pid1"
	has_event lc-start start
	run pt exec lc-start -- hostname
	[ "$output" = lc-start ]
}

@test "lifecycle: start of a running tenant is refused and changes nothing" {
	create_tenant lc-start2
	local pid1
	pid1=$(tenant_pid lc-start2)
	run pt start lc-start2
	[ "$status" -eq 1 ]
	[[ $output == *"running"* ]]
	[ "$(tenant_pid lc-start2)" = "$pid1" ]
	pid_alive "$pid1"
}

@test "lifecycle: restart gives a new pid and the old one is gone" {
	create_tenant lc-restart
	local pid1 pid2
	pid1=$(tenant_pid lc-restart)
	run pt restart lc-restart
	[ "$status" -eq 0 ]
	[ "$output" = "lc-restart: running" ]
	[ "$(tenant_state lc-restart)" = running ]
	pid2=$(tenant_pid lc-restart)
	[ "$pid2" -gt 0 ]
	[ "$pid2" -ne "$pid1" ]
	pid_dead "$pid1"
	pid_alive "$pid2"
	wait_bot lc-restart
}

@test "lifecycle: rm removes the tenant dir (upper, data, logs, secrets), its processes and its ls entry" {
	create_tenant lc-rm --secret api_key=rm-me
	local init child dir=$PT_STATE/tenants/lc-rm
	init=$(tenant_pid lc-rm)
	child=$(init_children "$init")
	run pt exec lc-rm -- sh -c 'echo d >/data/f && echo u >/etc/f'
	bot_page lc-rm >/dev/null
	[ -f "$dir/data/f" ]
	[ -f "$dir/upper/etc/f" ]
	[ -f "$dir/secrets/api_key" ]
	[ -s "$dir/log/current.log" ]

	run pt rm lc-rm
	[ "$status" -eq 0 ]
	[ "$output" = "lc-rm: removed" ]
	# (That the dir is already gone when rm answers is the next test.)
	wait_for -t 2 test ! -e "$dir"
	[ ! -e "$dir/upper" ]
	[ ! -e "$dir/data" ]
	[ ! -e "$dir/log" ]
	run ls -A "$PT_STATE/tenants"
	[[ $output != *lc-rm* ]]
	run pt --json ls
	[ "$status" -eq 0 ]
	[ "$(jq '[.[] | select(.slug == "lc-rm")] | length' <<<"$output")" = 0 ]
	run pt ls
	[[ $output != *lc-rm* ]]
	pid_dead "$init"
	pid_dead "$child"
	run pt inspect lc-rm
	[ "$status" -eq 1 ]
	[[ $output == *"no tenant lc-rm"* ]]
	has_event lc-rm removed
}

@test "lifecycle: rm of a running tenant answers only once its dir is gone" {
	create_tenant lc-rm2
	local dir=$PT_STATE/tenants/lc-rm2
	# Enough files that deleting them takes a while.
	run pt exec lc-rm2 -- sh -c 'mkdir /data/many && cd /data/many && seq 1 300 | xargs touch'
	[ "$status" -eq 0 ]
	[ -e "$dir/data/many/300" ]
	run pt rm lc-rm2
	[ "$status" -eq 0 ]
	[ "$output" = "lc-rm2: removed" ]
	# "removed" must mean removed: a caller may re-create the slug or
	# reuse the space right away.
	[ ! -e "$dir" ]
}

@test "lifecycle: restart policy never: entrypoint exiting 3 stays stopped with last_exit code 3" {
	cat >"$BATS_TEST_TMPDIR/spec.json" <<-EOF
	{"slug":"lc-never","blueprint":"$BLUEPRINT_REF",
	 "entrypoint":["/bin/sh","-c","exit 3"],"restart":"never"}
	EOF
	run pt create -f "$BATS_TEST_TMPDIR/spec.json"
	[ "$status" -eq 0 ]
	wait_for state_is lc-never stopped
	[ "$(tenant_field lc-never .last_exit.reason)" = exit ]
	[ "$(tenant_field lc-never .last_exit.code)" = 3 ]
	[ "$(tenant_field lc-never .pid)" = 0 ]
	# A respawn would follow at once (the first backoff step is 0 ms).
	sleep 0.5
	[ "$(tenant_state lc-never)" = stopped ]
	[ "$(tenant_field lc-never .restarts)" = 0 ]
	has_event lc-never exit exit 3
	run has_event lc-never respawn
	[ "$status" -ne 0 ]
}

@test "lifecycle: restart policy on-failure: exit 0 stays stopped, exit 1 is restarted" {
	run pt create lc-onf-ok --blueprint "$BLUEPRINT_REF" --restart on-failure --entrypoint /bin/true
	[ "$status" -eq 0 ]
	run pt create lc-onf-bad --blueprint "$BLUEPRINT_REF" --restart on-failure --entrypoint /bin/false
	[ "$status" -eq 0 ]
	wait_for state_is lc-onf-ok stopped
	wait_for has_event lc-onf-bad respawn
	sleep 0.3
	[ "$(tenant_state lc-onf-ok)" = stopped ]
	[ "$(tenant_field lc-onf-ok .last_exit.code)" = 0 ]
	[ "$(tenant_field lc-onf-ok .restarts)" = 0 ]
	[ "$(tenant_field lc-onf-bad .restarts)" -ge 1 ]
	run pt rm lc-onf-bad
	[ "$status" -eq 0 ]
}

@test "lifecycle: an entrypoint that exits at once reaches crash-loop, journaled" {
	run pt create lc-crash --blueprint "$BLUEPRINT_REF" --entrypoint /bin/false
	[ "$status" -eq 0 ]
	wait_for -t 5 state_is lc-crash crash-loop
	has_event lc-crash crash-loop
	[ "$(tenant_field lc-crash .last_exit.reason)" = exit ]
	[ "$(tenant_field lc-crash .last_exit.code)" = 1 ]
	[ "$(tenant_field lc-crash .restarts)" -ge 2 ]
	# Several exits before it, every one with code 1.
	local n
	n=$(pt --json events lc-crash | jq '[.[] | select(.event == "exit")] | length')
	[ "$n" -ge 3 ]
	[ "$(pt --json events lc-crash | jq '[.[] | select(.event == "exit" and .code != 1)] | length')" = 0 ]
	# In crash-loop, not running: stop works and makes it stopped.
	run pt stop lc-crash
	[ "$status" -eq 0 ]
	[ "$(tenant_state lc-crash)" = stopped ]
}

@test "lifecycle: the bot's stdout and stderr appear in ptenant logs" {
	create_tenant lc-logs
	run bot_page lc-logs
	[ "$status" -eq 0 ]
	local n
	n=$(awk '/^requests:/ { print $2 }' <<<"$output")
	# stdout: the startup line; stderr: one line per page request.
	wait_for eval 'pt logs lc-logs | grep -qx "echo-bot lc-logs listening on :8080"'
	wait_for eval 'pt logs lc-logs | grep -q "GET / 200 requests=$n\$"'
	run pt logs lc-logs
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "echo-bot lc-logs listening on :8080" ]
	[ -s "$PT_STATE/tenants/lc-logs/log/current.log" ]
}

@test "lifecycle: exec passes stdin/stdout and exits with the command's status" {
	create_tenant lc-exec
	run pt exec lc-exec -- sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run bash -c 'echo piped | "$0" --socket "$1" exec lc-exec -- cat' "$PTENANT_BIN" "$PT_SOCK"
	[ "$status" -eq 0 ]
	[ "$output" = piped ]
	run -127 pt exec lc-exec -- /no/such/cmd
}

# Offset of the 4th column (REASON) of each line of `ptenant events`.
reason_offsets() {
	pt events | awk 'match($0, /^[^ ]+ +[^ ]+ +[^ ]+ +/) { print RLENGTH }' | sort -u
}

@test "lifecycle: the create record names the blueprint and budget; the events table stays aligned" {
	pt create lc-created --blueprint "$BLUEPRINT_REF" --no-start --memory 64M --cpu 0.5 \
		--pids 100 --restart never >/dev/null
	local uid msg
	uid=$(tenant_field lc-created .host_uid)
	msg=$(pt --json events lc-created | jq -r '.[] | select(.event == "create") | .message')
	[ "$msg" = "blueprint $BLUEPRINT_REF, memory 64.0M, cpu 0.5, pids 100 (not enforced: budgets off), restart never, host uids $uid-$((uid + 65535))" ]
	# blueprint-import (16 characters) is in the journal of this daemon:
	# every row's REASON starts under the header's.
	pt events | grep -q ' blueprint-import '
	[ "$(reason_offsets)" = "$(pt events | head -1 | awk '{ print index($0, "REASON") - 1 }')" ]
}

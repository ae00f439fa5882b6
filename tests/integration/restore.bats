#!/usr/bin/env bats
# Daemon restarts: tenants outlive ptenantd and the next daemon on the same
# state dir adopts them, records what died meanwhile, and survives a
# corrupt state file. Every test stops and starts daemons, so each has its
# own daemon and state dir.

load helpers

setup() {
	setup_daemon
}

teardown() {
	cleanup_daemon
	if [[ -n ${REAPER_PID:-} ]]; then
		kill_tracked TERM "$REAPER_PID" "$REAPER_START"
		wait_for -t 2 pid_dead "$REAPER_PID" || true
	fi
}

# The tenant's journal from record N on (0-based), as a JSON array.
events_since() {
	pt --json events "$1" | jq -c --argjson n "$2" '.[$n:]'
}

event_count() {
	pt --json events "$1" | jq length
}

@test "restore: SIGTERM to the daemon leaves the tenant running and serving" {
	create_tenant rs-keep
	local pid st child dpid
	pid=$(tenant_pid rs-keep)
	st=$(pid_starttime "$pid")
	child=$(init_children "$pid")
	dpid=$(daemon_pid)

	stop_daemon
	pid_dead "$dpid"
	[ ! -e "$PT_SOCK" ]
	run pt ls
	[ "$status" -eq 1 ]

	pid_alive "$pid"
	[ "$(pid_starttime "$pid")" = "$st" ]
	pid_alive "$child"
	# No daemon, so no exec: ask the bot from inside the tenant's network
	# namespace with the host's curl.
	run nsenter --target "$pid" --net curl -sS --max-time 5 http://127.0.0.1:8080/
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hostname: rs-keep" ]
}

@test "restore: a daemon stopped during an exec session restarts (the exec helper does not keep its lock)" {
	create_tenant rs-exec
	# An exec session that outlasts the daemon: its helper joined the
	# tenant's namespaces and changed credentials, which cleared its
	# parent-death signal; it then kept the daemon's fds, the state-dir
	# lock among them, and no new ptenantd could start.
	pt exec rs-exec -- sleep 30 </dev/null >/dev/null 2>&1 3>&- &
	local execpid=$!
	wait_for -t 5 bash -c "pgrep -f '^sleep 30' >/dev/null"

	stop_daemon
	run start_daemon
	[ "$status" -eq 0 ]
	wait_for -t 5 daemon_answers
	state_is rs-exec running
	kill "$execpid" 2>/dev/null || true
	wait "$execpid" 2>/dev/null || true
}

@test "restore: a new daemon adopts the running tenant (same pid, 'adopted'); exec, logs, respawn and stop work" {
	create_tenant rs-adopt
	local pid n before
	pid=$(tenant_pid rs-adopt)
	before=$(event_count rs-adopt)

	stop_daemon
	start_daemon
	[ "$(tenant_state rs-adopt)" = running ]
	[ "$(tenant_pid rs-adopt)" = "$pid" ]
	[ "$(tenant_field rs-adopt .restarts)" = 0 ]
	run events_since rs-adopt "$before"
	[ "$(jq -r '.[0].event' <<<"$output")" = adopted ]
	[ "$(jq '[.[] | select(.event == "adopted")] | length' <<<"$output")" = 1 ]

	run pt exec rs-adopt -- hostname
	[ "$status" -eq 0 ]
	[ "$output" = rs-adopt ]
	# The log pipe is picked up again: a new request is logged.
	run bot_page rs-adopt
	[ "$status" -eq 0 ]
	n=$(awk '/^requests:/ { print $2 }' <<<"$output")
	wait_for eval 'pt logs rs-adopt | grep -q "GET / 200 requests=$n\$"'

	# Supervised again: a killed entrypoint is respawned...
	kill -KILL "$(init_children "$pid")"
	wait_for -t 1 running_with_new_pid rs-adopt "$pid"
	wait_bot rs-adopt
	pid=$(tenant_pid rs-adopt)
	# ...and stop stops it.
	run pt stop rs-adopt
	[ "$status" -eq 0 ]
	[ "$output" = "rs-adopt: stopped" ]
	pid_dead "$pid"
}

@test "restore: a tenant killed while the daemon is down gets an exit(unknown) record and is respawned" {
	create_tenant rs-dead
	local pid before
	pid=$(tenant_pid rs-dead)

	stop_daemon
	kill -KILL "$pid"
	wait_for -t 2 pid_dead "$pid"
	# Reaped by whoever inherited it (the host's init, normally).
	wait_for -t 5 test ! -e "/proc/$pid" || true
	before=$(wc -l <"$PT_STATE/events.jsonl")

	start_daemon
	wait_for -t 2 running_with_new_pid rs-dead "$pid"
	wait_bot rs-dead
	[ "$(tenant_field rs-dead .last_exit.reason)" = unknown ]
	# No code was seen, and ls shows none (not "unknown:-1").
	run pt ls
	echo "$output"
	grep -Eq '^rs-dead .* unknown$' <<<"$output"
	# The journal since the new daemon started.
	run bash -c "tail -n +$((before + 1)) '$PT_STATE/events.jsonl' | jq -sc '[.[] | select(.tenant == \"rs-dead\")]'"
	echo "$output"
	[ "$(jq '[.[] | select(.event == "exit" and .reason == "unknown")] | length' <<<"$output")" = 1 ]
	[ "$(jq '[.[] | select(.event == "adopted")] | length' <<<"$output")" = 0 ]
	run pt exec rs-dead -- hostname
	[ "$output" = rs-dead ]
}

# Starts ptenantd under a child subreaper that never reaps: what the
# daemon's tenants become when it exits is then up to us (zombies).
start_daemon_under_lazy_subreaper() {
	echo "=== ptenantd start under subreaper $(date +%T.%N)" >>"$PT_LOG"
	set_daemon_args
	python3 -c '
import ctypes, os, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % pid)
while True:
    time.sleep(60)  # and never wait(): orphans stay zombies
' "$PT_DIR/subreaped.pid" "$PTENANTD_BIN" "${DAEMON_ARGS[@]}" \
		</dev/null >>"$PT_LOG" 2>&1 3>&- &
	REAPER_PID=$!
	REAPER_START=$(pid_starttime "$REAPER_PID")
	wait_for test -s "$PT_DIR/subreaped.pid"
	local pid
	pid=$(cat "$PT_DIR/subreaped.pid")
	echo "$pid $(pid_starttime "$pid")" >"$PT_DIR/daemon.pid"
	wait_for daemon_answers
}

@test "restore: a tenant that died while the daemon was down is not 'adopted', even as an unreaped zombie" {
	# Replace the setup's daemon by one whose orphans nobody reaps.
	stop_daemon
	start_daemon_under_lazy_subreaper
	create_tenant rs-zombie
	local pid before
	pid=$(tenant_pid rs-zombie)

	stop_daemon
	kill -KILL "$pid"
	wait_for pid_dead "$pid"
	[ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status")" = Z ]
	before=$(wc -l <"$PT_STATE/events.jsonl")

	start_daemon
	wait_for -t 2 running_with_new_pid rs-zombie "$pid"
	run bash -c "tail -n +$((before + 1)) '$PT_STATE/events.jsonl' | jq -sc '[.[] | select(.tenant == \"rs-zombie\")]'"
	echo "journal since the restart: $output"
	[ "$(jq '[.[] | select(.event == "exit" and .reason == "unknown")] | length' <<<"$output")" = 1 ]
	[ "$(jq '[.[] | select(.event == "adopted")] | length' <<<"$output")" = 0 ]
}

@test "restore: a truncated state.json fails that tenant alone, with an error naming state.json" {
	create_tenant rs-good
	create_tenant rs-bad
	local gpid
	gpid=$(tenant_pid rs-good)
	tenant_pid rs-bad >/dev/null

	stop_daemon
	: >"$PT_STATE/tenants/rs-bad/state.json"
	start_daemon

	# The other tenant: adopted, fine.
	[ "$(tenant_state rs-good)" = running ]
	[ "$(tenant_pid rs-good)" = "$gpid" ]
	run pt exec rs-good -- hostname
	[ "$output" = rs-good ]

	[ "$(tenant_state rs-bad)" = failed ]
	[[ $(tenant_field rs-bad .error) == *"tenants/rs-bad/state.json"* ]]
	run pt ls
	[ "$status" -eq 0 ]
	echo "$output"
	grep -Eq '^rs-bad +failed ' <<<"$output"
	grep -Eq '^rs-good +running ' <<<"$output"
	grep -Eq '^ +error: .*rs-bad/state\.json' <<<"$output"
	# It cannot be started, and says why.
	run pt start rs-bad
	[ "$status" -eq 1 ]
	[[ $output == *state.json* ]]
}

@test "restore: rm of a tenant whose state.json is corrupt does not leave its container running" {
	create_tenant rs-orphan
	local pid
	pid=$(tenant_pid rs-orphan)

	stop_daemon
	: >"$PT_STATE/tenants/rs-orphan/state.json"
	start_daemon
	[ "$(tenant_state rs-orphan)" = failed ]
	pid_alive "$pid" # it did keep running meanwhile

	run pt rm rs-orphan
	[ "$status" -eq 0 ]
	[ ! -e "$PT_STATE/tenants/rs-orphan" ]
	# "removed" with its container still running, unsupervised and with
	# its files deleted, would be an orphan nobody can see any more.
	wait_for -t 2 pid_dead "$pid"
}

@test "restore: stop of a tenant whose state.json is corrupt ends its container, journals it, and leaves the file as it was" {
	create_tenant rs-lost
	local pid
	pid=$(tenant_pid rs-lost)

	stop_daemon
	: >"$PT_STATE/tenants/rs-lost/state.json"
	start_daemon
	[ "$(tenant_state rs-lost)" = failed ]
	pid_alive "$pid"

	run pt stop rs-lost
	echo "$output"
	[ "$status" -eq 0 ]
	# Still failed (its files are still unreadable), but not running.
	[ "$output" = "rs-lost: failed" ]
	wait_for -t 2 pid_dead "$pid"
	[ "$(tenant_field rs-lost .pid)" = 0 ]
	has_event rs-lost stopped signal 9
	pt events rs-lost | grep -q "container of a tenant whose files could not be loaded.*init pid $pid"
	# The evidence stays for the operator to repair: no state was made up.
	[ ! -s "$PT_STATE/tenants/rs-lost/state.json" ]
	# A second stop finds nothing to end, and says so in the journal only once.
	run pt stop rs-lost
	[ "$status" -eq 0 ]
	[ "$(pt --json events rs-lost | jq '[.[] | select(.event == "stopped")] | length')" = 1 ]
}

@test "restore: ls shows the blueprint of a tenant whose spec.json is intact but state.json is corrupt" {
	create_tenant rs-spec
	tenant_pid rs-spec >/dev/null
	stop_daemon
	echo '{"desired": ' >"$PT_STATE/tenants/rs-spec/state.json"
	start_daemon
	[ "$(tenant_state rs-spec)" = failed ]
	[ "$(tenant_field rs-spec .blueprint)" = "$BLUEPRINT_REF" ]
	run pt ls
	echo "$output"
	grep -Eq "^rs-spec +failed +$BLUEPRINT_REF " <<<"$output"
	# Its spec.json is the operator's to repair: update does not rewrite it.
	local before
	before=$(sha256sum <"$PT_STATE/tenants/rs-spec/spec.json")
	run pt update rs-spec --memory 64M
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"cannot be loaded"*state.json* ]]
	[ "$(sha256sum <"$PT_STATE/tenants/rs-spec/spec.json")" = "$before" ]
}

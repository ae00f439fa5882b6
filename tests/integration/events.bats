#!/usr/bin/env bats
# The event journal, live (issue 14, item 4): `events -f` shows a crash
# within 100 ms of it; filters by tenant, kind and --since; JSON lines for
# scripts; an exit carries the last lines of the tenant's log; bad
# filters are clear errors.

load helpers

setup_file() {
	setup_daemon || return 1
	create_tenant ev1
	create_tenant ev2
}

teardown_file() {
	[[ -n ${FOLLOW_PID:-} ]] && kill "$FOLLOW_PID" 2>/dev/null
	cleanup_daemon
}

@test "events -f: a crash is shown within 100 ms, as a JSON line with the log's last lines" {
	local out=$BATS_TEST_TMPDIR/follow pid seen=0 ts line
	"$PTENANT_BIN" --socket "$PT_SOCK" --json events -f ev1 --kind exit >"$out" 2>&1 3>&- &
	FOLLOW_PID=$!
	sleep 0.5
	pid=$(tenant_pid ev1)
	kill -KILL "$(init_children "$pid" | head -1)"
	for _ in $(seq 400); do
		if [ -s "$out" ]; then
			seen=$(now_ms)
			break
		fi
		sleep 0.005
	done
	kill "$FOLLOW_PID"
	wait "$FOLLOW_PID" 2>/dev/null || true
	FOLLOW_PID=
	cat "$out"
	line=$(head -1 "$out")
	[ "$(jq -r .event <<<"$line")" = exit ]
	[ "$(jq -r .reason <<<"$line")" = signal ]
	[[ $(jq -r .log_tail <<<"$line") == *"echo-bot ev1 listening on :8080"* ]]
	ts=$(jq -r .ts <<<"$line")
	echo "recorded at $ts, seen at $seen: $((seen - ts)) ms"
	[ $((seen - ts)) -le 100 ]
	# Only ev1's exits: nothing else was printed.
	[ "$(wc -l <"$out")" = 1 ]
	wait_for running_with_new_pid ev1 "$pid"
}

@test "events: --kind, --since and a slug filter; the table shows an exit's log lines" {
	run pt events --kind respawn
	echo "$output"
	[[ $output == *respawn* ]]
	[[ $output != *" create "* ]]
	run pt events ev2 --since 1d
	[[ $output == *"ev2"*create* ]]
	[[ $output != *ev1* ]]
	sleep 1.1
	run pt --json events --since 1s
	[ "$(jq length <<<"$output")" = 0 ]
	run pt events ev1 --kind exit
	[[ $output == *"log| echo-bot ev1 listening on :8080"* ]]
}

@test "events: bad filters are clear errors" {
	run pt events --since yesterday
	[ "$status" -eq 2 ]
	[[ $output == *"--since wants a duration"* ]]
	run pt events --kind 'Exit!'
	[ "$status" -eq 1 ]
	[[ $output == *"kind: expected an event kind"* ]]
	run pt events ../x
	[ "$status" -eq 1 ]
	run pt events a b
	[ "$status" -eq 2 ]
}

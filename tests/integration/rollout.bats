#!/usr/bin/env bats
# Rollouts (issue 13, item 4): a healthy version reaches every tenant,
# canary first, `parallel` at a time, each health-gated; a bad version
# (crashes, or never healthy) halts at max-failures and every moved tenant
# goes back, healthy; a failing canary touches no other tenant; pause,
# resume, abort and undo; one rollout at a time; a daemon killed in the
# middle of a rollout or of its rollback finishes it after a restart, each
# tenant on exactly one version; bad requests change nothing.

load helpers

N=50 # tenants with health checks; plus one stopped
# The slower tests (one at a time, kills) move ten of them.
SUB=t01,t02,t03,t04,t05,t06,t07,t08,t09,t10

setup_file() {
	setup_daemon || return 1
	local bp=$BATS_FILE_TMPDIR/bp
	# v2: healthy; v3: its bot exits at once; v4: serves, never healthy.
	for v in 2 3 4; do
		cp -a "$PT_BLUEPRINT" "$bp$v"
		echo "$v" >"$bp$v/rootfs/version"
	done
	printf '#!/bin/sh\necho "v3 cannot start" >&2\nexit 3\n' >"${bp}3/rootfs/bot/start"
	rm -f "${bp}4/rootfs/bot/www/healthz"
	for v in 2 3 4; do pt blueprint import echo-bot@$v "$bp$v" >/dev/null || return 1; done
	local i pids=()
	# At once (not `wait` alone: the daemon is a job of this shell too).
	for i in $(seq -w 1 $N); do
		pt create "t$i" --blueprint echo-bot@1 --health-http /healthz --health-interval 1s \
			--health-retries 2 >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq -w 1 $N); do [ -n "$(tenant_json "t$i")" ] || return 1; done
	pt create stopped1 --blueprint echo-bot@1 --no-start >/dev/null
	for i in $(seq -w 1 $N); do wait_for -t 20 health_ok "t$i" || return 1; done
}

teardown_file() {
	cleanup_daemon
}

health_ok() {
	[[ $(tenant_field "$1" .health) == healthy ]]
}

# Every tenant's blueprint, "slug=ref" sorted, one line.
versions() {
	pt --json ls | jq -r '[.[] | "\(.slug)=\(.blueprint)"] | sort | join(" ")'
}

all_on() { # REF [SLUGS]: every tenant (the stopped one too), or those named, is on it
	[ -z "$(pt --json ls | jq -r --arg r "$1" --arg s "${2:-}" '.[] | select(.blueprint != $r and
		($s == "" or (.slug | IN($s | split(",")[])))) | .slug')" ]
}

all_healthy() { # those that run
	[ -z "$(pt --json ls | jq -r '.[] | select(.state == "running" and .health != "healthy") | .slug')" ]
}

# The whole journal (events shows the last 100): has an event of that kind.
journal_has() {
	jq -se --arg e "$1" 'any(.[]; .event == $e)' "$PT_STATE/events.jsonl" >/dev/null
}

ro() { # JQ path into rollout status
	pt --json rollout status | jq -r "$1"
}

@test "rollout: a healthy version reaches every tenant, canary first, health-gated" {
	# One asleep: moved without waking it.
	pt pause "t$N" --sleep >/dev/null
	[ "$(tenant_state "t$N")" = asleep ]
	run pt rollout echo-bot@2 --parallel 8 --canary 1 --wait
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"done"*"$((N + 1)) tenant(s): $((N + 1)) moved, 0 failed"* ]]
	all_on echo-bot@2
	all_healthy
	[ "$(pt exec t01 -- cat /version)" = 2 ]
	[ "$(pt exec t49 -- cat /version)" = 2 ]
	# The stopped and the asleep tenant moved without a start.
	[ "$(tenant_state stopped1)" = stopped ]
	[ "$(tenant_state "t$N")" = asleep ]
	[ "$(tenant_field "t$N" .blueprint)" = echo-bot@2 ]
	# The canary (the first running tenant: a stopped one proves nothing)
	# was moved and healthy before any other tenant was touched.
	[ "$(ro '.tenants[] | select(.canary) | .slug')" = t01 ]
	local canary_done first_other
	canary_done=$(pt --json events t01 | jq '[.[] | select(.event == "rollout-tenant-moved")][0].ts')
	# The next wave (slug order, 8 at a time) is t02..t09.
	first_other=$(for s in t02 t03 t04 t05 t06 t07 t08 t09; do pt --json events "$s"; done |
		jq -s '[.[][] | select(.event == "update" and (.message | contains("echo-bot@2"))) | .ts] | min')
	echo "canary moved at $canary_done, first other update at $first_other"
	[ "$canary_done" -le "$first_other" ]
	[ "$(ro .counts.done)" = $((N + 1)) ]
	[ "$(ro .phase)" = done ]
	journal_has rollout-started
	journal_has rollout-tenant-moved
	journal_has rollout-finished
}

@test "rollout: a version that crashes halts at max-failures; every moved tenant goes back, healthy" {
	local before
	before=$(versions)
	run pt rollout echo-bot@3 --from echo-bot@2 --parallel 3 --max-failures 2 --canary 0 \
		--health-timeout 20s --wait
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(ro .phase)" = rolled-back ]
	[[ $(ro .halt_reason) == *"tenant(s) failed (max 2)"* ]]
	[ "$(ro .counts.failed)" -ge 2 ]
	[[ $output == *"failed: "*" on echo-bot@3: it exited"* ]]
	[ "$(versions)" = "$before" ]
	wait_for -t 20 all_healthy
	[ "$(pt exec t01 -- cat /version)" = 2 ]
	journal_has rollout-tenant-failed
	journal_has rollout-halted
	journal_has rollout-tenant-reverted
	journal_has rollout-rolled-back
}

@test "rollout: a failing canary touches no other tenant" {
	local pids_before pids_after
	pids_before=$(pt --json ls | jq -r '[.[] | select(.slug != "t01" and .slug != "stopped1") | .pid] | join(" ")')
	run pt rollout echo-bot@3 --tenants t01,t02,t03 --canary 1 --max-failures 3 --wait
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $(ro .halt_reason) == "canary t01 failed: "* ]]
	[ "$(ro '.tenants[] | select(.slug == "t02") | .step')" = pending ]
	pids_after=$(pt --json ls | jq -r '[.[] | select(.slug != "t01" and .slug != "stopped1") | .pid] | join(" ")')
	[ "$pids_before" = "$pids_after" ]
	all_on echo-bot@2
	wait_for -t 20 all_healthy
}

@test "rollout: a version that never gets healthy is cut at the health timeout and put back" {
	run pt rollout echo-bot@4 --tenants t04 --canary 0 --health-timeout 3s --wait
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"failed: t04 on echo-bot@4: "* ]]
	[[ $output == *"not healthy within 3s"* || $output == *"unhealthy: HTTP/1."*"404"* ]]
	[ "$(tenant_field t04 .blueprint)" = echo-bot@2 ]
	wait_for -t 20 health_ok t04
}

@test "rollout: bad requests are clear errors that change nothing" {
	local id
	id=$(ro .id)
	run pt rollout echo-bot@9
	[ "$status" -eq 1 ]
	[[ $output == *"blueprint echo-bot@9 is not imported"* ]]
	run pt rollout echo-bot@1 --from other@1
	[ "$status" -eq 1 ]
	[[ $output == *"not a version of echo-bot"* ]]
	run pt rollout echo-bot@1 --tenants t01,nosuch
	[ "$status" -eq 1 ]
	[[ $output == *"no tenant nosuch"* ]]
	run pt rollout echo-bot@1 --tenants t01,t01
	[[ $output == *"named twice"* ]]
	run pt rollout echo-bot@1 --parallel 0
	[[ $output == *"parallel: at least 1"* ]]
	run pt rollout echo-bot@1 --health-timeout 5
	[[ $output == *"health_timeout"* ]]
	run pt rollout echo-bot@1 --from echo-bot@2 --tenants t01
	[[ $output == *"not both"* ]]
	run pt rollout echo-bot@2
	[ "$status" -eq 1 ]
	[[ $output == *"no tenant to move to echo-bot@2"* ]]
	run pt rollout undo
	[ "$status" -eq 1 ]
	[[ $output == *"only a finished rollout can be undone"* ]]
	run pt rollout pause
	[[ $output == *"no rollout is under way"* ]]
	run pt rollout echo-bot@1 --parallel x
	[ "$status" -eq 2 ]
	[ "$(ro .id)" = "$id" ]
	all_on echo-bot@2
}

@test "rollout: pause holds new moves, one at a time, resume finishes; undo puts them back" {
	pt rollout echo-bot@1 --tenants "$SUB" --parallel 1 --canary 0 >/dev/null
	pt rollout pause >/dev/null
	run pt rollout echo-bot@1
	[ "$status" -eq 1 ]
	[[ $output == *"one at a time"* ]]
	# The move under way when it paused finishes; no other begins.
	local done
	wait_for -t 20 eval '[ "$(ro .counts.moving)" = 0 ]'
	done=$(ro .counts.done)
	sleep 2
	[ "$(ro .counts.done)" = "$done" ]
	[ "$(ro .counts.moving)" = 0 ]
	[ "$(ro .counts.pending)" -gt 0 ]
	[ "$(ro .phase)" = paused ]
	pt rollout resume >/dev/null
	run pt rollout status --wait
	echo "$output"
	[ "$status" -eq 0 ]
	all_on echo-bot@1 "$SUB"
	run pt rollout undo
	[ "$status" -eq 0 ]
	run pt rollout status --wait
	[ "$status" -eq 0 ]
	[ "$(ro .target)" = undo ]
	all_on echo-bot@2
	wait_for -t 20 all_healthy
}

@test "rollout: abort puts back what it moved" {
	pt rollout echo-bot@1 --tenants "$SUB" --parallel 1 --canary 0 >/dev/null
	wait_for -t 20 eval '[ "$(ro .counts.done)" -ge 2 ]'
	pt rollout abort >/dev/null
	run pt rollout status --wait
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(ro .phase)" = rolled-back ]
	[ "$(ro .halt_reason)" = "aborted by ptenant rollout abort" ]
	all_on echo-bot@2
	wait_for -t 20 all_healthy
}

@test "rollout: ptenantd killed mid-rollout finishes it after a restart, each tenant on one version" {
	pt rollout echo-bot@1 --tenants "$SUB" --parallel 2 --canary 0 >/dev/null
	wait_for -t 20 eval '[ "$(ro .counts.done)" -ge 3 ]'
	kill -KILL "$(daemon_pid)"
	wait_for pid_dead "$(daemon_pid)"
	start_daemon
	run pt rollout status --wait
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for -t 20 all_healthy
	journal_has rollout-resumed-after-restart
	all_on echo-bot@1 "$SUB"
	pt rollout echo-bot@1 --parallel 8 --wait >/dev/null
}

@test "rollout: ptenantd killed during a rollback finishes the rollback after a restart" {
	# A rollback with work in it: moved tenants, then an abort.
	pt rollout echo-bot@2 --tenants "$SUB" --parallel 2 --canary 0 >/dev/null
	wait_for -t 30 eval '[ "$(ro .counts.done)" -ge 6 ]'
	pt rollout abort >/dev/null
	wait_for -t 10 eval '[ "$(ro .counts.reverted)" -ge 1 ]'
	[ "$(ro .phase)" = rolling-back ]
	kill -KILL "$(daemon_pid)"
	wait_for pid_dead "$(daemon_pid)"
	start_daemon
	run pt rollout status --wait
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(ro .phase)" = rolled-back ]
	[ "$(ro .counts.done)" = 0 ]
	all_on echo-bot@1
	wait_for -t 30 all_healthy
}

@test "rollout: a corrupt rollout.json is named and set aside; the tenants are untouched" {
	local before
	before=$(versions)
	stop_daemon
	echo '{"version": 1, "id": "r1", "phase": "running"' >"$PT_STATE/rollout.json"
	start_daemon
	[ "$(versions)" = "$before" ]
	[ -f "$PT_STATE/rollout.json.corrupt" ]
	jq -se 'any(.[]; .event == "rollout-state-corrupt" and (.message | contains("rollout.json")))' \
		"$PT_STATE/events.jsonl" >/dev/null
	run pt rollout status
	[ "$status" -eq 1 ]
	[[ $output == *"no rollout has run"* ]]
}

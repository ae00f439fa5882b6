#!/usr/bin/env bats
# Health checks (issue 13, item 3): each kind passes and fails as it
# should; a tenant that fails `retries` checks in a row is restarted with
# an exit whose reason is "unhealthy" and whose message has the last
# check's output; failures in the start period do not count; a check that
# hangs is cut at its timeout and its process does not stay behind; a
# new ptenantd keeps the verdict (pausing while frozen: tests/fault/idle.sh);
# ls and inspect show health; bad health flags change nothing.

load helpers

setup_file() {
	setup_daemon || return 1
}

teardown_file() {
	cleanup_daemon
}

health_of() {
	tenant_field "$1" .health
}

health_is() {
	[[ $(health_of "$1") == "$2" ]]
}

# The tenant's "health" object from inspect, field $2.
inspect_health() {
	pt --json inspect "$1" | jq -r ".health.$2 // empty"
}

# The message of the tenant's first event of kind $2 (and reason $3).
event_message() {
	pt --json events "$1" | jq -r --arg e "$2" --arg r "${3:-}" \
		'[.[] | select(.event == $e and ($r == "" or .reason == $r))][0].message // empty'
}

unhealthy_exit() {
	has_event "$1" exit unhealthy
}

@test "health: an http check that passes makes the tenant healthy, shown by ls and inspect" {
	create_tenant hh --health-http /healthz --health-interval 1s
	wait_for health_is hh healthy
	run pt ls
	echo "$output"
	[[ $output == *HEALTH* ]]
	[[ $(grep '^hh ' <<<"$output") == *" healthy "* ]]
	[ "$(inspect_health hh kind)" = http ]
	[ "$(inspect_health hh status)" = healthy ]
	[[ $(inspect_health hh last_output) == "HTTP/1."*" 200 "* ]]
	[ -n "$(inspect_health hh healthy_at)" ]
	has_event hh healthy
	[[ $(event_message hh healthy) == "first health check passed "*" ms after start: HTTP/1."* ]]
	# A tenant without checks shows none.
	create_tenant nocheck
	[ -z "$(health_of nocheck)" ]
	[ -z "$(pt --json inspect nocheck | jq -r '.health // empty')" ]
}

@test "health: an http check that fails is restarted as unhealthy, with the check's output" {
	local before
	pt create hf --blueprint "$BLUEPRINT_REF" --health-http /missing --health-interval 1s \
		--health-retries 2 >/dev/null
	wait_running hf
	before=$(tenant_pid hf)
	wait_for -t 20 unhealthy_exit hf
	has_event hf unhealthy unhealthy
	[[ $(event_message hf unhealthy) == "2 health checks failed in a row; last: HTTP/1."*" 404 "* ]]
	[[ $(event_message hf exit unhealthy) == "unhealthy: 2 health checks failed in a row; last: HTTP/1."*"404"* ]]
	# Its restart policy (always) brings it back: a new run, still checked.
	wait_for running_with_new_pid hf "$before"
	[ "$(tenant_field hf .restarts)" -ge 1 ]
	[ "$(tenant_field hf .last_exit.reason)" = unhealthy ]
	pt rm hf >/dev/null
}

@test "health: tcp passes on a listening port and fails, refused, on a closed one" {
	create_tenant tp --health-tcp 8080 --health-interval 1s
	wait_for health_is tp healthy
	[ "$(inspect_health tp last_output)" = "port 8080 accepts connections" ]
	# (Not create_tenant: it may well be ended before the bot is seen up.)
	pt create tc --blueprint "$BLUEPRINT_REF" --health-tcp 9 --health-interval 1s --health-retries 1 \
		--restart never >/dev/null
	wait_for -t 20 unhealthy_exit tc
	[[ $(event_message tc unhealthy) == *"connect to port 9: Connection refused"* ]]
	# restart never: it stays stopped, and says why.
	wait_for state_is tc stopped
	[ "$(tenant_field tc .last_exit.reason)" = unhealthy ]
	pt rm tp >/dev/null
	pt rm tc >/dev/null
}

@test "health: exec runs in the tenant (its files, its user) and fails with its output" {
	create_tenant ep --health-exec 'test -x /bot/start && test "$(id -u)" = 0' --health-interval 1s
	wait_for health_is ep healthy
	[ "$(inspect_health ep last_output)" = "exit 0" ]
	pt create ef --blueprint "$BLUEPRINT_REF" --health-exec 'echo "db down" >&2; exit 3' --health-interval 1s \
		--health-retries 1 >/dev/null
	wait_for -t 20 unhealthy_exit ef
	[[ $(event_message ef unhealthy) == *"last: exit 3: db down"* ]]
	pt rm ep >/dev/null
	pt rm ef >/dev/null
}

@test "health: a check that hangs is cut at its timeout, and its process does not stay" {
	local uid
	pt create eh --blueprint "$BLUEPRINT_REF" --health-exec 'sleep 30' --health-interval 5s \
		--health-timeout 500ms --health-retries 2 >/dev/null
	wait_running eh
	uid=$(tenant_field eh .host_uid)
	wait_for -t 10 eval '[ "$(inspect_health eh failed)" -ge 1 ]'
	[ "$(inspect_health eh last_output)" = "no answer within 500ms" ]
	# Its run goes on (one failure of two), but the command and its helper
	# (both the tenant's root: its first host uid) are gone until the next
	# check, 5 s later.
	sleep_gone() { ! pgrep -u "$uid" -f 'sleep 30' >/dev/null; }
	wait_for -t 2 sleep_gone
	[ "$(tenant_state eh)" = running ]
	pt rm eh >/dev/null
}

@test "health: notify passes once the tenant says READY=1" {
	local pid
	create_tenant nt --health-notify --health-interval 1s --health-retries 100
	[ "$(health_of nt)" = starting ]
	pid=$(tenant_pid nt)
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"READY=1", sys.argv[1])' \
		"/proc/$pid/root/run/ptenant/notify"
	wait_for health_is nt healthy
	[ "$(inspect_health nt last_output)" = "READY=1" ]
	pt rm nt >/dev/null
}

@test "health: failures in the start period do not count" {
	local started unhealthy
	pt create sp --blueprint "$BLUEPRINT_REF" --health-http /missing --health-interval 1s \
		--health-retries 1 --health-start-period 4s --restart never >/dev/null
	wait_for -t 20 unhealthy_exit sp
	# Checked every second from the start: only the period held it back.
	[ "$(inspect_health sp failed)" -ge 4 ]
	started=$(pt --json events sp | jq '[.[] | select(.event == "create")][0].ts')
	unhealthy=$(pt --json events sp | jq '[.[] | select(.event == "unhealthy")][0].ts')
	echo "create at $started, unhealthy at $unhealthy"
	[ $((unhealthy - started)) -ge 4000 ]
	pt rm sp >/dev/null
}

@test "health: a new ptenantd keeps the verdict of a run it adopts" {
	local pid
	create_tenant ad --health-notify --health-interval 1s --health-retries 2
	pid=$(tenant_pid ad)
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"READY=1", sys.argv[1])' \
		"/proc/$pid/root/run/ptenant/notify"
	wait_for health_is ad healthy
	stop_daemon
	start_daemon
	[ "$(tenant_pid ad)" = "$pid" ]
	[ "$(health_of ad)" = healthy ]
	# READY=1 was said to the old daemon: the new one does not end the run
	# for not hearing it again.
	sleep 3
	[ "$(tenant_pid ad)" = "$pid" ]
	[ "$(health_of ad)" = healthy ]
	pt rm ad >/dev/null
}

@test "health: bad health flags and specs are clear errors that create nothing" {
	run pt create bad1 --blueprint "$BLUEPRINT_REF" --health-http healthz
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"health.http.path"*"starting with '/'"* ]]
	run pt create bad2 --blueprint "$BLUEPRINT_REF" --health-tcp 8080 --health-interval 5
	[ "$status" -ne 0 ]
	[[ $output == *"health.interval"* ]]
	run pt create bad3 --blueprint "$BLUEPRINT_REF" --health-tcp x
	[ "$status" -ne 0 ]
	[[ $output == *"--health-tcp wants a number"* ]]
	run pt create bad4 --blueprint "$BLUEPRINT_REF" --health-tcp 8080 --health-notify
	[ "$status" -ne 0 ]
	[[ $output == *"names both"* ]]
	[ -z "$(tenant_json bad1)$(tenant_json bad2)$(tenant_json bad3)$(tenant_json bad4)" ]
	[ ! -e "$PT_STATE/tenants/bad1" ]
}

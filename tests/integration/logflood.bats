#!/usr/bin/env bats
# Log floods (issue 17): a tenant that writes more than its log budget
# loses the excess, marked in its log and counted, and costs the daemon
# little CPU; one at its budget loses nothing; the budget changes live;
# a neighbour is respawned during a flood. The output is the entrypoint's
# own (a shell script as entrypoint), started by a file the test makes
# in the tenant, so that the test knows exactly how much was written.

load helpers

setup_file() {
	setup_daemon
}

teardown_file() {
	cleanup_daemon
}

log_field() { pt --json stats "$1" | jq -r ".tenants[0].log.$2"; }
# utime + stime of the daemon, in clock ticks.
daemon_ticks() { awk '{ print $14 + $15 }' "/proc/$(daemon_pid)/stat"; }
logged() { cat "$PT_STATE/tenants/$1/log/"current.log* 2>/dev/null; }
# writer SLUG SCRIPT [CREATE-OPTION]...: a tenant whose entrypoint waits
# for /tmp/go, runs SCRIPT (its stdout: the log), then idles.
writer() {
	local slug=$1 script=$2 spec
	shift 2
	spec=$PT_DIR/$slug.json
	jq -n --arg s "$slug" --arg b "$BLUEPRINT_REF" --arg c "$script" \
		'{slug: $s, blueprint: $b, entrypoint: ["/bin/sh", "-c",
		  "while [ ! -e /tmp/go ]; do sleep 0.05; done; " + $c + "; exec sleep 100000"]}' >"$spec"
	pt create -f "$spec" "$@" >/dev/null
	wait_running "$slug"
}
go() { pt exec "$1" -- touch /tmp/go; }
# Bytes of output seen (written or dropped) reach N.
seen_reaches() { (( $(log_field "$1" bytes) + $(log_field "$1" suppressed) >= $2 )); }

@test "log flood: the budget caps what is written, every byte is counted, and the drop is marked in the log" {
	writer fl-count 'head -c 2097152 /dev/zero | tr "\0" a' --log-rate 64K --log-burst 256K
	local b0 s0 b1 s1 t0 t1
	b0=$(log_field fl-count bytes) s0=$(log_field fl-count suppressed)
	t0=$(now_ms)
	go fl-count
	wait_for -t 30 seen_reaches fl-count $((b0 + s0 + 2097152)) || true
	b1=$(log_field fl-count bytes) s1=$(log_field fl-count suppressed)
	t1=$(now_ms)
	echo "written $((b1 - b0)), dropped $((s1 - s0)) in $((t1 - t0)) ms" >&3
	# Every byte the tenant wrote is either in its log or counted.
	[ $((b1 - b0 + s1 - s0)) -eq 2097152 ]
	# At most the burst and the rate for the time it took (+1 s of slack
	# for the pause granularity).
	[ $((b1 - b0)) -le $((262144 + 65536 * ((t1 - t0) / 1000 + 1))) ]
	[ $((s1 - s0)) -gt 0 ]
	logged fl-count | grep -q '^ptenant: log budget (64.0K/s, burst 256.0K) spent: output over it is dropped$'
	has_event fl-count log-limited
	# The episode ends after a quiet second, with its count.
	wait_for -t 5 has_event fl-count log-resumed
	pt --json events fl-count | jq -r '.[] | select(.event == "log-resumed") | .message' |
		grep -q "^$((s1 - s0)) bytes of output dropped over the log budget"
	logged fl-count | grep -q "^ptenant: $((s1 - s0)) bytes of output dropped over the log budget"
	[ "$(log_field fl-count limited)" = false ]
}

@test "log flood: a tenant writing at its budget loses nothing" {
	# 32 KiB every half second: 64 KiB/s, the budget.
	writer fl-steady 'for i in 1 2 3 4 5 6 7 8; do head -c 32768 /dev/zero | tr "\0" b; sleep 0.5; done' \
		--log-rate 64K --log-burst 128K
	local b0 s0
	b0=$(log_field fl-steady bytes) s0=$(log_field fl-steady suppressed)
	go fl-steady
	sleep 4
	wait_for -t 5 seen_reaches fl-steady $((b0 + s0 + 262144)) || true
	[ "$(( $(log_field fl-steady bytes) - b0 ))" -eq 262144 ]
	[ "$(log_field fl-steady suppressed)" -eq "$s0" ]
	! has_event fl-steady log-limited
}

@test "log flood: update changes the budget live" {
	writer fl-live 'head -c 1048576 /dev/zero | tr "\0" c' --log-rate 16K --log-burst 16K
	run -0 pt update fl-live --log-rate 2M --log-burst 4M
	[ "$(log_field fl-live rate)" -eq 2097152 ]
	[ "$(log_field fl-live burst)" -eq 4194304 ]
	local b0
	b0=$(log_field fl-live bytes)
	go fl-live
	wait_for -t 5 seen_reaches fl-live $((b0 + 1048576)) || true
	[ "$(( $(log_field fl-live bytes) - b0 ))" -eq 1048576 ]
	[ "$(log_field fl-live suppressed)" -eq 0 ]
	run -0 pt inspect fl-live
	[[ $output == *'"log_rate": 2097152'* ]]
	run -1 pt update fl-live --log-rate nope
	[[ $output == *"log_rate wants bytes per second"* ]]
}

@test "log flood: two flooders cost the daemon under 10% of a core each, and a neighbour is respawned meanwhile" {
	local flood='yes "a line of a bot stuck in a print loop, long enough to be a realistic log line"'
	writer fl-a "$flood" --log-rate 64K
	writer fl-b "$flood" --log-rate 64K
	create_tenant fl-calm
	go fl-a
	go fl-b
	sleep 1
	local c0 c1 pid
	c0=$(daemon_ticks)
	sleep 5
	c1=$(daemon_ticks)
	echo "daemon CPU over 5 s with two flooders: $((c1 - c0)) ticks of $(getconf CLK_TCK)/s" >&3
	# 10% of a core per flooding tenant: 2 x 0.1 x 5 s.
	[ $(( (c1 - c0) * 100 / $(getconf CLK_TCK) )) -le 100 ]
	[ "$(log_field fl-a limited)" = true ]
	pid=$(tenant_pid fl-calm)
	kill -KILL "$pid"
	wait_for -t 10 running_with_new_pid fl-calm "$pid"
	# The log on disk stays within its cap (log_max_bytes 1M, 3 kept).
	[ "$(du -sb "$PT_STATE/tenants/fl-a/log" | cut -f1)" -le $((4 * 1048576 + 65536)) ]
}

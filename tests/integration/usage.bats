#!/usr/bin/env bats
# The usage ledger (issue 14, items 1 and 2): time in each state against
# the test's own clock; a daemon killed with -9 and restarted: no gap, no
# double count; across a month boundary (a checkpoint from the last
# seconds of last month); a removed tenant stays billed; a damaged ledger
# line or checkpoint is named and skipped, the rest kept; the CSV read
# back by Python's csv module with its totals; bad requests are clear
# errors.

load helpers

setup_file() {
	setup_daemon || return 1
}

teardown_file() {
	cleanup_daemon
}

# usage_of SLUG FIELD [ARGS...]: a field of the tenant's row, in ms etc.
usage_of() {
	local slug=$1 field=$2
	shift 2
	pt --json usage "$slug" "$@" | jq -r --arg s "$slug" ".tenants[] | select(.slug == \$s) | .$field"
}

# within ACTUAL EXPECTED PERCENT SLACK_MS
within() {
	local d=$(($1 - $2))
	d=${d#-}
	echo "actual $1, expected $2, off by $d ms"
	[ "$d" -le $(($2 * $3 / 100 + $4)) ]
}

@test "usage: active and asleep time match the test's clock" {
	local t0 t1 t2 t3
	t0=$(now_ms)
	create_tenant u1
	sleep 3
	t1=$(now_ms)
	pt pause u1 --sleep >/dev/null
	sleep 2
	t2=$(now_ms)
	pt resume u1 >/dev/null
	wait_running u1
	sleep 1
	t3=$(now_ms)
	within "$(usage_of u1 active_ms)" $(((t1 - t0) + (t3 - t2))) 3 300
	within "$(usage_of u1 asleep_ms)" $((t2 - t1)) 3 300
	[ "$(usage_of u1 restarts)" = 0 ]
}

@test "usage: a crash is a restart and an incident by its reason" {
	local pid
	create_tenant u2
	pid=$(tenant_pid u2)
	kill -KILL "$(init_children "$pid" | head -1)"
	wait_for running_with_new_pid u2 "$pid"
	[ "$(usage_of u2 restarts)" = 1 ]
	[ "$(usage_of u2 incidents.signal)" = 1 ]
}

@test "usage: ptenantd killed -9 and restarted: no gap, no double count" {
	local t0 t1
	t0=$(now_ms)
	create_tenant u3
	sleep 2
	kill -KILL "$(daemon_pid)"
	wait_for pid_dead "$(daemon_pid)"
	sleep 2 # the tenant runs on without a daemon
	start_daemon
	sleep 1
	t1=$(now_ms)
	within "$(usage_of u3 active_ms)" $((t1 - t0)) 3 400
}

@test "usage: a removed tenant stays billed" {
	create_tenant u4
	sleep 1
	pt rm u4 >/dev/null
	[ "$(usage_of u4 active_ms)" -ge 900 ]
	# ... across a restart of the daemon too.
	stop_daemon
	start_daemon
	[ "$(usage_of u4 active_ms)" -ge 900 ]
}

@test "usage: the CSV opens as it is: Python's csv module reads it and the totals add up" {
	pt usage --csv >"$BATS_TEST_TMPDIR/u.csv"
	cat "$BATS_TEST_TMPDIR/u.csv"
	python3 - "$BATS_TEST_TMPDIR/u.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert rows[-1]["slug"] == "TOTAL", rows[-1]
tenants = rows[:-1]
assert {r["slug"] for r in tenants} >= {"u1", "u2", "u3", "u4"}, tenants
for col in ("active_hours", "frozen_hours", "asleep_hours", "restarts", "incidents"):
    total = sum(float(r[col]) for r in tenants)
    assert abs(total - float(rows[-1][col])) < 1e-3, (col, total, rows[-1][col])
assert float(rows[-1]["active_runtime_months"]) > 0
EOF
}

@test "usage: across a month boundary, from a checkpoint in last month's last seconds" {
	local last first today open
	first=$(date -u +%Y-%m-01)
	last=$(date -u -d "$first -1 day" +%F)
	today=$(date -u +%F)
	create_tenant u5
	stop_daemon
	open=$PT_STATE/usage/open.json
	# Back to 10 s before last month ended: u5 was running then.
	at=$(($(date -u -d "$first" +%s) * 1000 - 10000))
	jq --arg d "$last" --argjson at "$at" '.day = $d | .tenants |= with_entries(
		.value.at = $at | .value.active_ms = 0 | .value.state = 0)' "$open" >"$open.new"
	mv "$open.new" "$open"
	start_daemon
	# Last month: its 10 s; this month: every day since, whole.
	[ "$(usage_of u5 active_ms --month "${last:0:7}")" = 10000 ]
	days=$((($(date -u -d "$today" +%s) - $(date -u -d "$first" +%s)) / 86400))
	if ((days > 0)); then
		[ "$(usage_of u5 active_ms --from "$first" --to "$today")" = $((days * 86400000)) ]
	fi
	grep -q "\"day\":\"$last\",\"slug\":\"u5\"" "$PT_STATE/usage/${last:0:7}.jsonl"
	# Restarted again: the closed days are not written twice.
	stop_daemon
	start_daemon
	[ "$(grep -c "\"day\":\"$last\",\"slug\":\"u5\"" "$PT_STATE/usage/${last:0:7}.jsonl")" = 1 ]
	[ "$(usage_of u5 active_ms --month "${last:0:7}")" = 10000 ]
}

@test "usage: a damaged ledger line is skipped and named; a damaged checkpoint is set aside" {
	local month
	month=$(date -u +%Y-%m)
	printf '{"day":"%s-01","slug":"ghost","active_ms":3600000,"frozen_ms":0,"asleep_ms":0,"stopped_ms":0,"crashloop_ms":0,"restarts":0,"incidents":{}}\n{"day":"%s-01","slug":"torn","act\nnot json at all\n' \
		"$month" "$month" >>"$PT_STATE/usage/$month.jsonl"
	run pt --json usage ghost
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.tenants[0].active_ms' <<<"$output")" = 3600000 ]
	[ "$(jq -r .skipped_lines <<<"$output")" = 2 ]
	[[ $(jq -r '.skipped[0].why' <<<"$output") == *"torn or damaged"* ]]
	run pt usage
	[ "$status" -eq 0 ]
	[[ $output == *ghost* ]]
	stop_daemon
	echo '{"version": 1, "day": "20' >"$PT_STATE/usage/open.json"
	start_daemon
	[ -f "$PT_STATE/usage/open.json.damaged" ]
	jq -se 'any(.[]; .event == "usage-state-damaged")' "$PT_STATE/events.jsonl" >/dev/null
	run pt usage u1
	[ "$status" -eq 0 ]
}

@test "usage: bad requests are clear errors" {
	run pt usage --month 2026-13
	[ "$status" -eq 1 ]
	[[ $output == *'month: "2026-13" is not a month YYYY-MM'* ]]
	run pt usage --from 2026-12-01
	[[ $output == *"--from and --to go together"* ]]
	run pt usage --from 2026-12-05 --to 2026-12-01
	[[ $output == *"must be after from"* ]]
	run pt usage --from 2026-02-30 --to 2026-03-01
	[[ $output == *'"2026-02-30" is not a date'* ]]
	run pt usage nosuch
	[ "$status" -eq 1 ]
	[[ $output == *"no tenant nosuch"* ]]
	run pt usage --month 2026-12 --from 2026-12-01 --to 2026-12-02
	[[ $output == *"not both"* ]]
	run pt --json usage --csv
	[ "$status" -eq 2 ]
	run pt usage a b
	[ "$status" -eq 2 ]
}

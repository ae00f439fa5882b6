#!/usr/bin/env bats
# The control API and the CLI on bad input: clear errors, exit codes, and
# nothing changed. Also: secret values never come back out.

load helpers

setup_file() {
	# --trace-spawn: the plan it prints must not leak secret values either.
	setup_daemon --trace-spawn
}

teardown_file() {
	cleanup_daemon
}

# A test that failed half-way must not leave its connections held open
# for the next test (or for the daemon's exit, where they read as leaks).
teardown() {
	if [[ -n ${HOLD_PID:-} ]]; then
		kill "$HOLD_PID" 2>/dev/null || true
		wait "$HOLD_PID" 2>/dev/null || true
	fi
}

# Built with ASan: its allocator keeps freed memory in quarantine, so
# VmRSS says nothing of what the daemon holds.
daemon_has_asan() {
	ldd "$PTENANTD_BIN" 2>/dev/null | grep -q libasan
}

# Everything under tenants/ (dot entries included: a half-done create
# would show as .create-SLUG).
tenants_listing() {
	ls -A "$PT_STATE/tenants"
}

tenant_count() {
	pt --json ls | jq length
}

@test "api: create with a hostile slug fails (exit 1, message names slug) and creates nothing" {
	local before n s
	before=$(tenants_listing)
	n=$(tenant_count)
	local -a slugs=(".." "." "a/b" "../x" "Acme" "$(printf 'a%.0s' {1..64})" "" "a b" "acme;id" "ac"$'\n'"me" ".hidden")
	for s in "${slugs[@]}"; do
		run pt create "$s" --blueprint "$BLUEPRINT_REF"
		echo "slug '$s': status $status: $output"
		[ "$status" -eq 1 ]
		[[ $output == *slug* ]]
	done
	[ "$(tenants_listing)" = "$before" ]
	[ "$(tenant_count)" = "$n" ]
	[ ! -e "$PT_STATE/x" ]
	[ ! -e "$PT_STATE/tenants/a" ]
}

@test "api: a hostile slug in a raw create request is refused and writes nothing outside tenants/" {
	local before
	before=$(tenants_listing)
	run raw_request '{"op":"create","spec":{"slug":"../../evil","blueprint":"echo-bot@1"}}'
	echo "$output"
	[ "$(jq -r .ok <<<"$output")" = false ]
	[ "$(jq -r .error.field <<<"$output")" = slug ]
	[ "$(tenants_listing)" = "$before" ]
	[ ! -e "$PT_STATE/evil" ]
	[ ! -e "$PT_DIR/evil" ]
}

@test "api: rm/inspect/stop with a hostile slug fail and remove nothing" {
	create_tenant api-victim
	local s
	for s in ".." "." "" "../tenants" "api-victim/.."; do
		run pt rm "$s"
		echo "rm '$s': $status $output"
		[ "$status" -eq 1 ]
		[[ $output == *slug* ]]
		run pt inspect "$s"
		[ "$status" -eq 1 ]
		run pt stop "$s"
		[ "$status" -eq 1 ]
	done
	[ -d "$PT_STATE/tenants/api-victim" ]
	[ "$(tenant_state api-victim)" = running ]
	run pt rm api-victim
	[ "$status" -eq 0 ]
}

@test "api: create with an unknown blueprint fails (exit 1, about the blueprint) and creates nothing" {
	local before
	before=$(tenants_listing)
	run pt create api-nobp --blueprint nope@1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *blueprint* ]]
	run pt create api-nobp --blueprint nope
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *'blueprint "nope"'* ]]
	[ "$(tenants_listing)" = "$before" ]
	run pt inspect api-nobp
	[ "$status" -eq 1 ]
}

@test "api: the unknown-blueprint error names the blueprint that is missing" {
	run pt create api-nobp2 --blueprint nope@1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *nope@1* ]]
}

@test "api: duplicate create fails with 'exists' and leaves the first tenant untouched" {
	create_tenant api-dup --env GREETING=first
	local pid sum
	pid=$(tenant_pid api-dup)
	sum=$(md5sum <"$PT_STATE/tenants/api-dup/spec.json")

	run pt create api-dup --blueprint "$BLUEPRINT_REF" --env GREETING=second
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *exists* ]]
	[ "$(tenant_pid api-dup)" = "$pid" ]
	[ "$(tenant_state api-dup)" = running ]
	[ "$(md5sum <"$PT_STATE/tenants/api-dup/spec.json")" = "$sum" ]
	[ "$(pt inspect api-dup | jq -r .spec.env.GREETING)" = first ]
	[ "$(bot_page api-dup | sed -n 's/^GREETING: //p')" = first ]
}

@test "api: invalid create options fail with the field named and create nothing" {
	local before
	before=$(tenants_listing)
	run pt create api-bad --blueprint "$BLUEPRINT_REF" --memory 5x
	[ "$status" -eq 1 ]
	[[ $output == *resources.memory* ]]
	run pt create api-bad --blueprint "$BLUEPRINT_REF" --restart sometimes
	[ "$status" -eq 1 ]
	[[ $output == *restart* ]]
	run pt create api-bad --blueprint "$BLUEPRINT_REF" --entrypoint relative/path
	[ "$status" -eq 1 ]
	[[ $output == *entrypoint* ]]
	run pt create api-bad --blueprint "$BLUEPRINT_REF" --port abc
	[ "$status" -eq 2 ]
	[ "$(tenants_listing)" = "$before" ]
}

@test "api: unknown subcommands, unknown options and missing arguments exit 2" {
	local -a cases=(
		"frob"
		"start" "stop" "restart" "rm" "inspect"
		"start a b" "inspect a b" "ls extra"
		"logs" "events a b"
		"exec" "exec api-x" "exec api-x --"
		"create" "create --bogus api-x" "create api-x extra --blueprint echo-bot@1"
		"blueprint" "blueprint import echo-bot@9" "blueprint frob"
		"--bogus ls"
	)
	local c
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086
		run pt $c
		echo "ptenant $c: status $status: $output"
		[ "$status" -eq 2 ]
		[ -n "$output" ]
	done
	# No command at all: usage, exit 2.
	run pt
	[ "$status" -eq 2 ]
	[[ $output == *Usage:* ]]
	[[ $(tenants_listing) != *api-x* ]]
}

@test "api: '--' ends the options: a SLUG starting with '-' after it reaches the daemon, which names the slug" {
	local -a cmds=("stop -- -x" "start -- -x" "restart -- -x" "rm -- -x" "inspect -- -x"
		"inspect --security -- -x" "logs -- -x" "logs -f -- -x" "events -- -x" "stats -- -x"
		"exec -- -x -- true" "update --memory 64M -- -x" "create --blueprint $BLUEPRINT_REF -- -x")
	local c
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2086
		run pt $c
		echo "ptenant $c: $status: $output"
		[ "$status" -eq 1 ]
		[[ $output == *'slug "-x"'* || $output == *"slug -x"* ]]
	done
	[ ! -e "$PT_STATE/tenants/-x" ]
}

@test "api: raw requests that are not JSON, not objects, without or with a bad op get a JSON error line" {
	local req expect
	local -a cases=(
		'this is not json'$'\t''not valid JSON'
		'[1,2,3]'$'\t''must be a JSON object'
		'"ls"'$'\t''JSON'
		'{"slug":"x"}'$'\t''"op"'
		'{"op":42}'$'\t''"op"'
		'{"op":"frobnicate"}'$'\t''unknown op "frobnicate"'
		'{"op":"ls","op":"ping"}'$'\t''not valid JSON'
	)
	local c
	for c in "${cases[@]}"; do
		req=${c%%$'\t'*}
		expect=${c#*$'\t'}
		run raw_request "$req"
		echo "request $req -> $output"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 1 ]
		[ "$(jq -r .ok <<<"$output")" = false ]
		[ "$(jq -r .error.kind <<<"$output")" = invalid ]
		[[ $(jq -r .error.message <<<"$output") == *"$expect"* ]]
	done
	daemon_alive
	run pt ls
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == SLUG* ]]
	# And a good raw request still works.
	run raw_request '{"op":"ping"}'
	[ "$(jq -r .ok <<<"$output")" = true ]
}

@test "api: a request over the 16 MiB cap without newline gets a JSON error line and the daemon keeps answering" {
	run raw_request --big $((17 * 1024 * 1024))
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .ok <<<"$output")" = false ]
	[[ $(jq -r .error.message <<<"$output") == *"longer than"* ]]
	daemon_alive
	run pt ls
	[ "$status" -eq 0 ]
	run raw_request '{"op":"ping"}'
	[ "$(jq -r .ok <<<"$output")" = true ]
}

@test "api: a request naming a field badly (integer >= 2^63, duplicate key, NUL in a string) gets that field named" {
	local req field expect
	local -a cases=(
		'{"op":"create","spec":{"slug":"api-n","port":9223372036854775808}}'$'\t''spec.port'$'\t''integer out of range'
		'{"op":"create","spec":{"slug":"api-n","env":{"A":"1","A":"2"}}}'$'\t''spec.env.A'$'\t''appears twice'
		'{"op":"create","spec":{"slug":"api-n","env":{"A":"x\u0000y"}}}'$'\t''spec.env.A'$'\t''a string holds a NUL byte'
		'{"op":"exec","slug":"x","argv":["sh","-c\u0000"]}'$'\t''argv[1]'$'\t''a string holds a NUL byte'
	)
	local c
	for c in "${cases[@]}"; do
		IFS=$'\t' read -r req field expect <<<"$c"
		run raw_request "$req"
		echo "request $req -> $output"
		[ "$(jq -r .error.kind <<<"$output")" = invalid ]
		[ "$(jq -r .error.field <<<"$output")" = "$field" ]
		[[ $(jq -r .error.message <<<"$output") == *"$expect"* ]]
		# The JSON library's own words (its flag names) stay inside.
		[[ $output != *JSON_* ]]
	done
	[ ! -e "$PT_STATE/tenants/api-n" ]
}

@test "api: exec without the caller's file descriptors is invalid, not an I/O error" {
	create_tenant api-ex
	run raw_request '{"op":"exec","slug":"api-ex","argv":["true"]}'
	echo "$output"
	[ "$(jq -r .error.kind <<<"$output")" = invalid ]
	[[ $(jq -r .error.message <<<"$output") == *"3 file descriptors"* ]]
	pt rm api-ex >/dev/null
}

# A user that is neither root nor in api_group, with the socket's mode
# (the first barrier) opened to it, so that the daemon's own check (the
# second) is what refuses it; removed by the test.
@test "api: a refused non-root user sees the daemon's permission error, not 'Broken pipe'" {
	local user=pt-api-$$ uid i dir_mode
	useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
	uid=$(id -u "$user")
	dir_mode=$(stat -c %a "$PT_DIR")
	chmod 0711 "$PT_DIR"
	chmod 0666 "$PT_SOCK"
	# The refusal races the CLI's send: try a few times.
	local good=0
	for i in 1 2 3 4 5; do
		run setpriv --reuid="$uid" --regid="$uid" --clear-groups "$PTENANT_BIN" --socket "$PT_SOCK" ls
		echo "try $i: $output"
		[[ $status -eq 1 && $output == "ptenant: uid $uid may not use ptenantd: its API is root-only (api_group is empty)" ]] &&
			good=$((good + 1))
	done
	run setpriv --reuid="$uid" --regid="$uid" --clear-groups "$PTENANT_BIN" --socket "$PT_SOCK" --json ls
	local json=$output
	chmod 0600 "$PT_SOCK"
	chmod "$dir_mode" "$PT_DIR"
	userdel "$user"
	[ "$good" -eq 5 ]
	[[ $json == *'"kind": "permission"'* ]]
	[[ $json != *"Broken pipe"* ]]
}

# vm_rss_kib PID: the process's resident set, in KiB.
vm_rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# hold_partial N BYTES SECONDS: N connections each send BYTES of a request
# without its newline, then stay open SECONDS. Prints, per connection,
# "open" or the error line the daemon answered with. Runs in the
# background (exec: so $! is python's pid, for kill): the caller
# measures meanwhile and waits for it.
hold_partial() {
	exec python3 - "$PT_SOCK" "$@" <<'PY'
import socket, sys, threading, time
path, n, size, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
conns, out = [], [None] * n
def one(i):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    conns.append(s)
    try:
        s.sendall(b"a" * size)
    except OSError:
        pass  # refused: the daemon closed it
    s.settimeout(0.5)
    try:
        line = s.recv(65536).split(b"\n", 1)[0].decode()
        out[i] = line if line else "closed"
    except socket.timeout:
        out[i] = "open"
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print("\n".join(out), flush=True)
time.sleep(secs)
PY
}

@test "api: connections holding unfinished requests cannot grow the daemon past a bound, and it answers meanwhile" {
	local pid before after
	pid=$(daemon_pid)
	before=$(vm_rss_kib "$pid")
	# 12 x 15 MiB = 180 MiB asked for; the daemon holds at most 32 MiB of
	# unfinished requests beyond 64 KiB per connection.
	hold_partial 12 $((15 * 1024 * 1024)) 8 >"$BATS_TEST_TMPDIR/held" &
	HOLD_PID=$!
	wait_for -t 60 test -s "$BATS_TEST_TMPDIR/held"
	after=$(vm_rss_kib "$pid")
	echo "VmRSS $before -> $after KiB"
	cat "$BATS_TEST_TMPDIR/held"
	if daemon_has_asan; then
		echo "# ASan build: VmRSS counts the allocator's quarantine; its bound not checked" >&3
	else
		[ $((after - before)) -lt $((64 * 1024)) ]
	fi
	# The ones turned away were told why, in one JSON line each.
	grep -q '"kind":"busy"' "$BATS_TEST_TMPDIR/held"
	grep '"kind":"busy"' "$BATS_TEST_TMPDIR/held" | head -1 | grep -q 'unfinished requests'
	[ "$(grep -c '^open$' "$BATS_TEST_TMPDIR/held")" -ge 2 ]
	# And a normal request is answered while they hold what they have.
	run pt ls
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == SLUG* ]]
	daemon_alive
}

@test "api: connections over the cap of 128 get one busy error line at once; the daemon serves again when they close" {
	hold_partial 131 10 5 >"$BATS_TEST_TMPDIR/conns" &
	HOLD_PID=$!
	wait_for -t 30 test -s "$BATS_TEST_TMPDIR/conns"
	[ "$(grep -c '^open$' "$BATS_TEST_TMPDIR/conns")" -eq 128 ]
	[ "$(grep -c '"kind":"busy"' "$BATS_TEST_TMPDIR/conns")" -eq 3 ]
	grep -m1 '"kind":"busy"' "$BATS_TEST_TMPDIR/conns" | grep -q 'at most 128 API connections'
	run pt ls
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"at most 128 API connections"* ]]
	kill "$HOLD_PID"
	wait "$HOLD_PID" || true
	wait_for -t 5 daemon_answers
}

@test "api: a create with 1.25 MiB of secrets (20 of 64 KiB) fits in a request" {
	local i args=()
	for i in $(seq 20); do
		head -c 49152 /dev/urandom | base64 -w0 >"$BATS_TEST_TMPDIR/s$i"
		args+=(--secret "k$i=@$BATS_TEST_TMPDIR/s$i")
	done
	run pt create api-big --blueprint "$BLUEPRINT_REF" --no-start "${args[@]}"
	echo "${output:0:300}"
	[ "$status" -eq 0 ]
	[ "$(wc -c <"$PT_STATE/tenants/api-big/secrets/k20")" -eq 65536 ]
	pt rm api-big >/dev/null
}

@test "api: secret values never appear in inspect, ls, events, logs, spec.json or the daemon log" {
	local val fval
	val=v4lue-$RANDOM$RANDOM-zq
	fval=f1le-$RANDOM$RANDOM-zq
	printf '%s\n' "$fval" >"$BATS_TEST_TMPDIR/token"
	create_tenant api-sec --secret "api_key=$val" --secret "token=@$BATS_TEST_TMPDIR/token"
	# The values are real: the tenant has them.
	[ "$(pt exec api-sec -- cat /run/secrets/api_key)" = "$val" ]
	[ "$(pt exec api-sec -- cat /run/secrets/token)" = "$fval" ]

	run pt inspect api-sec
	[ "$status" -eq 0 ]
	echo "$output"
	[[ $output != *"$val"* ]]
	[[ $output != *"$fval"* ]]
	[[ $output == *api_key* ]]
	[[ $output == *token* ]]
	[ "$(jq -c '.spec.secrets | keys' <<<"$output")" = '["api_key","token"]' ]
	[ "$(jq -c '[.spec.secrets[]] | unique' <<<"$output")" = '[null]' ]

	local where
	for where in "pt --json inspect api-sec" "pt --json ls" "pt ls" "pt --json events" "pt logs api-sec"; do
		run $where
		[ "$status" -eq 0 ]
		[[ $output != *"$val"* && $output != *"$fval"* ]]
	done
	run grep -rlF -e "$val" -e "$fval" "$PT_STATE/tenants/api-sec/spec.json" \
		"$PT_STATE/tenants/api-sec/state.json" "$PT_STATE/events.jsonl" "$PT_LOG"
	[ "$status" -eq 1 ]
	# On the host, only in the tenant's secrets dir, readable by root alone.
	[ "$(stat -c '%a %u' "$PT_STATE/tenants/api-sec/secrets/api_key")" = "400 0" ]
	[ "$(stat -c '%a %u' "$PT_STATE/tenants/api-sec/secrets")" = "700 0" ]
}

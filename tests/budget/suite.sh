#!/bin/bash
# The budget suite: the same tests on either cgroup backend, TAP on stdout.
#   tests/budget/suite.sh v1|v2 BUILD_DIR BLUEPRINT_DIR
# Runs a private ptenantd (own state dir, socket, and a throwaway cgroup
# subtree /ptenant-test-$$ that it creates and removes; nothing else in
# the cgroup trees is touched). Waits are bounded polls, not timed
# assertions; the one measured budget is the issue's CPU accuracy check
# (usage over 2 s within 20% of cpu.max).
set -uo pipefail

MODE=${1:?v1 or v2}
BUILD=${2:?build dir}
BLUEPRINT=${3:?blueprint dir}
CGFS=${CGFS:-/sys/fs/cgroup}
SUB=ptenant-test-$$
T=$(mktemp -d "${TMPDIR:-/tmp}/ptenant-budget.XXXXXX")
SOCK=$T/run/ptenantd.sock
n=0 failed=0 dpid=
# shellcheck source=../lib/tenant-procs.sh
. "$(dirname "$0")/../lib/tenant-procs.sh"
UID_BASE=$(pt_test_uid_base)

if [[ $MODE == v1 ]]; then
	CTRLS=(memory cpu pids freezer)
	[[ -d $CGFS/cpuacct ]] && CTRLS+=(cpuacct)
	mem_dir() { echo "$CGFS/memory/$SUB/tenant-$1"; }
	cpu_dir() { echo "$CGFS/cpu/$SUB/tenant-$1"; }
	pids_dir() { echo "$CGFS/pids/$SUB/tenant-$1"; }
	all_dirs() { for c in "${CTRLS[@]}"; do echo "$CGFS/$c/$SUB/tenant-$1"; done; }
else
	mem_dir() { echo "$CGFS/$SUB/tenant-$1"; }
	cpu_dir() { mem_dir "$1"; }
	pids_dir() { mem_dir "$1"; }
	all_dirs() { mem_dir "$1"; }
fi

ok() { n=$((n + 1)); echo "ok $n - $MODE: $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $MODE: $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d" "failed: $*"; fi; }
note() { echo "# $MODE: $*"; }

pt() { "$BUILD/src/ptenant/ptenant" --socket "$SOCK" "$@"; }
# The first "key": value of a --json reply (keys are sorted, one a line).
jget() { grep -m1 "\"$1\":" | sed -E 's/.*": "?([^",]*)"?,?$/\1/'; }
field() { pt --json stats "$1" | jget "$2"; }
wait_for() { # seconds, command...: polls until the command succeeds
	local limit=$(($1 * 5)); shift
	for ((i = 0; i < limit; i++)); do "$@" >/dev/null && return 0; sleep 0.2; done
	return 1
}
state_is() { [[ $(field "$1" state) == "$2" ]]; }
# "event reason ts" per journal entry of a tenant.
journal() {
	pt --json events "$1" | awk -F': ' '
		/"event":/ { e = $2 } /"reason":/ { r = $2 } /"ts":/ { t = $2; print e, r, t; r = "-" }' |
		tr -d '",'
}

# Tenants through the daemon, then whatever is left in our uid slot (by
# pid, after checking its uid; a leftover fails the run), then the cgroups.
cleanup() {
	local rc=$? left
	for s in nb hog fb cpu hold crash iso lost fz cpuz idl nt; do pt rm "$s" >/dev/null 2>&1; done
	[[ -n $dpid ]] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	if ! left=$(kill_uid_range "$UID_BASE" $((UID_BASE + PT_TEST_UID_SPAN))); then
		echo "Bail out! tenant processes were left running (now killed): $(echo $left)"
		rc=1
	fi
	if [[ $MODE == v1 ]]; then
		for c in "${CTRLS[@]}"; do rmdir "$CGFS/$c/$SUB"/* "$CGFS/$c/$SUB" 2>/dev/null; done
	else
		rmdir "$CGFS/$SUB"/* "$CGFS/$SUB" 2>/dev/null
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

start_daemon() {
	mkdir -p "$T/state" "$T/run"
	cat >"$T/ptenantd.conf" <<-EOF
	cgroup_mode = $MODE
	cgroup_parent = /$SUB
	api_group = ""
	uid_base = $UID_BASE
	restart_initial_ms = 100
	crashloop_burst = 3
	crashloop_window_ms = 60000
	crashloop_delay_ms = 60000
	stop_grace_ms = 2000
	EOF
	"$BUILD/src/ptenantd/ptenantd" -c "$T/ptenantd.conf" --state-dir "$T/state" \
		--runtime-dir "$T/run" --init "$BUILD/src/init/ptenant-init" 2>"$T/daemon.log" &
	dpid=$!
	wait_for 20 test -S "$SOCK"
}

if ! start_daemon; then
	not_ok "ptenantd starts with cgroup_mode = $MODE" "$(cat "$T/daemon.log")"
	echo "1..$n"
	exit 1
fi
check "ptenantd logs the backend it chose (cgroup $MODE)" grep -q "budgets: cgroup $MODE under" "$T/daemon.log"
pt blueprint import budget@1 "$BLUEPRINT" >/dev/null || not_ok "blueprint import"

# ---- limits exist before the tenant does --------------------------------
pt create nb --blueprint budget@1 >/dev/null
wait_for 30 state_is nb running
nb_pid=$(field nb pid)
pt create hold --blueprint budget@1 --env MODE=hold --env HOLD_MIB=24 \
	--memory 64M --cpu 0.5 --pids 40 >/dev/null
wait_for 30 state_is hold running
hold_pid=$(field hold pid)
if [[ $MODE == v2 ]]; then
	lim_ok() {
		[[ $(cat "$(mem_dir hold)/memory.max") == 67108864 &&
		   $(cat "$(mem_dir hold)/memory.swap.max") == 0 &&
		   $(cat "$(mem_dir hold)/cpu.max") == "50000 100000" &&
		   $(cat "$(mem_dir hold)/pids.max") == 40 ]]
	}
else
	lim_ok() {
		[[ $(cat "$(mem_dir hold)/memory.limit_in_bytes") == 67108864 &&
		   $(cat "$(cpu_dir hold)/cpu.cfs_quota_us") == 50000 &&
		   $(cat "$(pids_dir hold)/pids.max") == 40 ]]
	}
fi
check "the leaf carries memory 64M, cpu 0.5, pids 40" lim_ok
in_all() { local d; for d in $(all_dirs "$1"); do grep -qx "$2" "$d/cgroup.procs" || return 1; done; }
check "the tenant's init (pid $hold_pid) is in its leaf in every hierarchy" in_all hold "$hold_pid"

# ---- one start, counted ----------------------------------------------------
# What a start costs in cgroup work, as counts (the v2 run is a TCG VM,
# whose times mean nothing): the leaf's directories, the files written in
# it, the migrations (writes to cgroup.procs: each waits for an RCU grace
# period), and whether clone3 put the child in its leaf itself
# (CLONE_INTO_CGROUP). strace follows the daemon and its spawned child.
if command -v strace >/dev/null; then
	strace -f -qq -y -e trace=mkdir,mkdirat,write,clone3 -o "$T/strace.log" -p "$dpid" 2>/dev/null &
	spid=$!
	traced() { [[ $(awk '/^TracerPid:/ { print $2 }' "/proc/$dpid/status") != 0 ]]; }
	wait_for 10 traced
	pt create counted --blueprint budget@1 >/dev/null
	wait_for 60 state_is counted running
	kill -INT "$spid"
	wait "$spid" 2>/dev/null
	leaf="tenant-counted"
	n_mkdir=$(grep -cE "mkdir(at)?\(.*\"$CGFS/[^\"]*/$leaf\"" "$T/strace.log")
	n_write=$(grep -cE "write\([0-9]+<$CGFS/[^>]*/$leaf/" "$T/strace.log")
	n_move=$(grep -cE "write\([0-9]+<$CGFS/[^>]*/$leaf/cgroup\.procs>" "$T/strace.log")
	n_move_daemon=$(grep -E "write\([0-9]+<$CGFS/[^>]*/$leaf/cgroup\.procs>" "$T/strace.log" | grep -c "^$dpid ")
	n_into=$(grep -c 'clone3(.*CLONE_INTO_CGROUP' "$T/strace.log")
	note "one start: $n_mkdir leaf directories, $n_write files written in them" \
		"(limits and moves), $n_move migrations ($n_move_daemon by the daemon)," \
		"$n_into clone3 into the leaf"
	if [[ $MODE == v2 ]]; then
		check "a start on v2: born in its leaf by clone3 (1), no migration (0 writes to cgroup.procs)" \
			test "$n_into:$n_move" = 1:0
	else
		check "a start on v1: one migration a hierarchy (${#CTRLS[@]}), by the child, none by the daemon" \
			test "$n_move:$n_move_daemon" = "${#CTRLS[@]}:0"
	fi
	pt rm counted >/dev/null
else
	not_ok "a start's cgroup work counted" "strace is missing (tools/deps: budget, vm)"
fi

# ---- live update ----------------------------------------------------------
hold_ready() { pt logs hold 2>/dev/null | grep -q holding; }
wait_for 60 hold_ready || note "the hold tenant never said it holds its memory"
out=$(pt update hold --memory 8M 2>&1)
rc=$?
if [[ $rc != 0 && $out == *"more than the new memory budget"* ]] && lim_ok; then
	ok "update below current usage is refused (EBUSY) and changes nothing"
else
	not_ok "update below current usage is refused (EBUSY) and changes nothing" "rc=$rc $out"
fi
pt update hold --memory 96M --cpu 0.25 --pids 30 >/dev/null
if [[ $MODE == v2 ]]; then
	upd_ok() {
		[[ $(cat "$(mem_dir hold)/memory.max") == 100663296 &&
		   $(cat "$(mem_dir hold)/cpu.max") == "25000 100000" &&
		   $(cat "$(mem_dir hold)/pids.max") == 30 ]]
	}
else
	upd_ok() {
		[[ $(cat "$(mem_dir hold)/memory.limit_in_bytes") == 100663296 &&
		   $(cat "$(cpu_dir hold)/cpu.cfs_quota_us") == 25000 &&
		   $(cat "$(pids_dir hold)/pids.max") == 30 ]]
	}
fi
check "update --memory 96M --cpu 0.25 --pids 30 takes effect live" upd_ok
check "the update kept the tenant running (same pid)" test "$(field hold pid)" = "$hold_pid"
check "the update is in spec.json for the next start" grep -q '"pids": 30' "$T/state/tenants/hold/spec.json"

# ---- OOM ------------------------------------------------------------------
nb_count0=$(cat "$T/state/tenants/nb/data/counter" 2>/dev/null || echo 0)
pt create hog --blueprint budget@1 --env MODE=mem --memory 32M >/dev/null
oom_seen() { journal hog | grep -q '^exit oom-killed'; }
respawned() { journal hog | awk '/^exit oom-killed/ { o = 1 } o && /^respawn/ { f = 1 } END { exit !f }'; }
if wait_for 120 oom_seen && wait_for 60 respawned; then
	ok "the memory hog is OOM-killed with an oom-killed incident and respawned"
	read -r t_oom t_resp < <(journal hog | awk '/^exit oom-killed/ && !o { o = $3 } o && /^respawn/ { print o, $3; exit }')
	note "OOM-to-respawn $((t_resp - t_oom)) ms (journal: oom-killed exit to respawn)"
else
	not_ok "the memory hog is OOM-killed with an oom-killed incident and respawned" "$(journal hog)" "$(tail -5 "$T/daemon.log")"
fi
msg=$(pt events hog | grep -m1 oom-killed)
check "the incident names the memory peak" grep -q "memory peak" <<<"$msg"
# stats: PEAK-MiB is the respawned run's; the incident's own stays shown.
oom_peak() { pt --json stats hog | grep -A4 '"last_oom":' | jget memory_peak; }
check "stats keeps the OOM incident's peak after the respawn ($(oom_peak) bytes)" \
	test "$(oom_peak)" -ge $((16 * 1048576))
check "stats shows the last OOM in words" \
	eval 'pt stats hog | grep -q "^hog: last OOM: [0-9.]* MiB peak (of 32.0 MiB) at 20"'
# The usage ledger (issue 14): the OOM kill is an incident of its own, and
# the tenant's CPU and memory are metered from its cgroup.
usage_oom() { pt --json usage hog | grep -m1 '"oom-killed":' | sed -E 's/.*: *([0-9]+).*/\1/'; }
check "the usage ledger counts the OOM kill as an incident ($(usage_oom))" test "$(usage_oom)" -ge 1
check "the usage ledger meters its CPU and memory" \
	eval 'pt --json usage hog | grep -q "\"metered\": true"'
check "the neighbour kept its pid and 0 restarts" test "$(field nb pid)/$(field nb restarts)" = "$nb_pid/0"
counting() { [[ $(cat "$T/state/tenants/nb/data/counter" 2>/dev/null || echo 0) -gt $nb_count0 ]]; }
check "the neighbour's counter goes on from $nb_count0 (never reset)" wait_for 30 counting
pt rm hog >/dev/null

# ---- fork bomb ------------------------------------------------------------
pt create fb --blueprint budget@1 --env MODE=fork --pids 40 >/dev/null
fb_log() { pt logs fb 2>/dev/null | grep -m1 'fork failed after'; }
if wait_for 60 fb_log; then
	kids=$(fb_log | sed -E 's/.*after ([0-9]+) children.*/\1/')
	# init + the bot + its children make pids.current; the bomb stops below 40.
	check "the fork bomb stops at pids.max 40 ($kids children)" test "$kids" -gt 0 -a "$kids" -le 38
	check "pids.current stays at most pids.max" test "$(field fb pids_current)" -le 40
else
	not_ok "the fork bomb stops at pids.max" "$(pt logs fb 2>&1 | tail -3)"
fi
quiet() { "$@" >/dev/null 2>&1; }
check "the daemon still answers during the fork bomb" quiet pt ls
check "the neighbour is untouched by the fork bomb" test "$(field nb pid)/$(field nb restarts)" = "$nb_pid/0"
pt rm fb >/dev/null

# ---- CPU budget -----------------------------------------------------------
cpu_share() { # slug: CPU used over 2 s, in cores
	local u0 u1 t0 t1
	# bash's clock in microseconds: busybox date has no %N.
	u0=$(field "$1" cpu_usec); t0=${EPOCHREALTIME/./}
	sleep 2
	u1=$(field "$1" cpu_usec); t1=${EPOCHREALTIME/./}
	awk -v du=$((u1 - u0)) -v dt=$((t1 - t0)) 'BEGIN { printf "%.3f", du / dt }'
}
within() { awk -v got="$1" -v want="$2" 'BEGIN { d = got / want - 1; exit !(d <= 0.2 && d >= -0.2) }'; }
pt create cpu --blueprint budget@1 --env MODE=cpu --cpu 0.5 >/dev/null
wait_for 30 state_is cpu running
sleep 1 # past the start-up, into the steady state
got=$(cpu_share cpu)
note "CPU budget 0.5: used $got cores over 2 s"
check "a CPU hog is held to cpu.max 0.5 within 20% (used $got)" within "$got" 0.5
pt update cpu --cpu 0.2 >/dev/null
sleep 0.5
got=$(cpu_share cpu)
note "CPU budget 0.2 after a live update: used $got cores over 2 s"
check "after update --cpu 0.2 the hog uses 0.2 within 20% (used $got)" within "$got" 0.2
pt rm cpu >/dev/null

# ---- a tenant cannot touch budgets ----------------------------------------
pt create iso --blueprint budget@1 >/dev/null
wait_for 30 state_is iso running
cg=$(pt exec iso -- cat /proc/self/cgroup)
check "the tenant's /proc/self/cgroup shows only its own root" bash -c '! grep -qv ":/$" <<<"$1" && ! grep -q tenant- <<<"$1"' _ "$cg"
leak=$(pt exec iso -- sh -c 'ls /sys/fs/cgroup 2>/dev/null; mkdir -p /tmp/cg; for t in cgroup2 "cgroup -o memory"; do mount -t $t none /tmp/cg 2>/dev/null && { ls /tmp/cg; echo max > /tmp/cg/memory.max 2>/dev/null && echo RAISED; echo 99999 > /tmp/cg/pids.max 2>/dev/null && echo RAISED; umount /tmp/cg; }; done; echo done')
check "the tenant sees no other tenant's cgroup" bash -c '[[ $1 == *done* && $1 != *tenant-* ]]' _ "$leak"
check "the tenant cannot raise its own limits" bash -c '[[ $1 != *RAISED* ]]' _ "$leak"
check "its limit files stayed as written" test "$(cat "$(pids_dir iso)/pids.max")" = 512
pt exec iso -- /bot/hog hold 1 >/dev/null 2>&1 </dev/null &
exec_hog() { for p in $(cat "$(mem_dir iso)/cgroup.procs"); do [[ $(cat /proc/$p/comm 2>/dev/null) == hog ]] && return 0; done; return 1; }
check "an exec'd command runs inside the tenant's cgroup" wait_for 30 exec_hog

# ---- crash loop -----------------------------------------------------------
pt create crash --blueprint budget@1 --env MODE=crash >/dev/null
check "a crash loop backs off and reaches crash-loop" wait_for 60 state_is crash crash-loop
check "the crash loop left the neighbour alone" test "$(field nb pid)/$(field nb restarts)" = "$nb_pid/0"

# ---- a tenant whose state.json is corrupt ---------------------------------
# Its container keeps running unsupervised; rm must end it and remove its
# leaf in every hierarchy (v1 used to keep them).
pt create lost --blueprint budget@1 >/dev/null
wait_for 30 state_is lost running
lost_pid=$(field lost pid)
kill "$dpid" && wait "$dpid"
: >"$T/state/tenants/lost/state.json"
start_daemon || not_ok "ptenantd restarts on a corrupt state.json" "$(tail -3 "$T/daemon.log")"
lost_failed() { pt ls | grep -Eq '^lost +failed +budget@1 '; }
check "the tenant with a corrupt state.json is listed failed, with its blueprint" lost_failed
pt rm lost >/dev/null
lost_gone() { local d; for d in $(all_dirs lost); do [[ -e $d ]] && return 1; done; return 0; }
# Gone or a zombie (its parent was the daemon killed above).
pid_dead() { local s; s=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null); [[ -z $s || $s == Z || $s == X ]]; }
check "its rm ends its container (pid $lost_pid)" pid_dead "$lost_pid"
check "its rm leaves no cgroup behind" lost_gone

# ---- idle: frozen, asleep, woken (issue 12) --------------------------------
counter() { cat "$T/state/tenants/$1/data/counter" 2>/dev/null || echo 0; }
counts() { local c0; c0=$(counter "$1"); sleep 1.3; [[ $(counter "$1") -gt $c0 ]]; }
still() { local c0; c0=$(counter "$1"); sleep 2.2; [[ $(counter "$1") == "$c0" ]]; }
if [[ $MODE == v1 ]]; then
	cg_frozen() { grep -qx FROZEN "$CGFS/freezer/$SUB/tenant-$1/freezer.state"; }
else
	cg_frozen() { grep -qx "frozen 1" "$(mem_dir "$1")/cgroup.events"; }
fi
pt create fz --blueprint budget@1 >/dev/null
wait_for 30 state_is fz running
fz_pid=$(field fz pid)
check "idle: the tenant counts before its pause" wait_for 10 counts fz
out=$(pt pause fz 2>&1)
check "pause: answered once frozen ($out)" test "$out" = "fz: frozen"
check "pause: ls shows it frozen" state_is fz frozen
check "pause: its cgroup is frozen" cg_frozen fz
check "pause: its counter stands still" still fz
out=$(pt pause fz 2>&1)
check "pause of a frozen tenant is refused, naming its state ($out)" \
	bash -c '[[ $1 == *"fz is frozen"* ]]' _ "$out"
# From inside a neighbour: whatever cgroup fs it can mount, every freeze
# file it finds is written "thawed"; fz must stay frozen.
pt exec nb -- sh -c 'mkdir -p /tmp/cg; for t in cgroup2 "cgroup -o freezer"; do
	mount -t $t none /tmp/cg 2>/dev/null || continue
	find /tmp/cg -name freezer.state -exec sh -c "echo THAWED > {}" \; 2>/dev/null
	find /tmp/cg -name cgroup.freeze -exec sh -c "echo 0 > {}" \; 2>/dev/null
	umount /tmp/cg; done; true' >/dev/null 2>&1
check "a neighbour cannot thaw it (cgroup still frozen)" cg_frozen fz
check "a neighbour cannot thaw it (counter still)" still fz
kill "$dpid" && wait "$dpid"
start_daemon || not_ok "ptenantd restarts with a frozen tenant" "$(tail -3 "$T/daemon.log")"
check "daemon restart: still frozen" state_is fz frozen
check "daemon restart: its init (pid $fz_pid) kept" test "$(field fz pid)" = "$fz_pid"
check "daemon restart: its cgroup still frozen" cg_frozen fz
out=$(pt resume fz 2>&1)
check "resume: answered running ($out)" test "$out" = "fz: running"
check "resume: counting again, same init, no restart" \
	bash -c '[[ $1/$2 == "$3/0" ]]' _ "$(field fz pid)" "$(field fz restarts)" "$fz_pid"
check "resume: the counter moves" wait_for 10 counts fz
check "journal: frozen and thawed recorded" \
	bash -c 'grep -q "^frozen " <<<"$1" && grep -q "^thawed " <<<"$1"' _ "$(journal fz)"
# exec into a frozen tenant thaws it first (its helper joins the cgroup).
pt pause fz >/dev/null
check "exec into a frozen tenant runs (it is thawed first)" \
	bash -c '[[ $("$@") == hi ]]' _ "$BUILD/src/ptenant/ptenant" --socket "$SOCK" exec fz -- echo hi
check "after the exec it is running" state_is fz running
# A frozen CPU hog uses no CPU; stopping a frozen tenant is a stop.
pt create cpuz --blueprint budget@1 --env MODE=cpu --cpu 0.2 >/dev/null
wait_for 30 state_is cpuz running
burnt() { (($(field cpuz cpu_usec) > 100000)); }
wait_for 20 burnt
pt pause cpuz >/dev/null
u0=$(field cpuz cpu_usec); sleep 2; u1=$(field cpuz cpu_usec)
check "a frozen CPU hog used no CPU over 2 s ($u0 -> $u1 usec)" test "$u0" = "$u1"
pt stop cpuz >/dev/null
check "stop of a frozen tenant: stopped" state_is cpuz stopped
check "stop of a frozen tenant: recorded as a stop, not a crash" \
	bash -c 'j=$1; grep -q "^stopped " <<<"$j" && ! grep -q "^exit " <<<"$j"' _ "$(journal cpuz)"
pt rm cpuz >/dev/null
# The idle stages from the spec: frozen after 1 s, asleep after 4 s.
pt create idl --blueprint budget@1 --freeze-after 1s --stop-after 4s >/dev/null
wait_for 30 state_is idl running
idl_pid=$(field idl pid)
check "idle: frozen after freeze_after" wait_for 10 state_is idl frozen
check "idle: asleep after stop_after" wait_for 15 state_is idl asleep
check "asleep: its init (pid $idl_pid) is gone" bash -c '! kill -0 "$1" 2>/dev/null' _ "$idl_pid"
check "asleep: its cgroup is gone" bash -c '! test -e "$1"' _ "$(mem_dir idl)"
check "asleep: /data kept" test -s "$T/state/tenants/idl/data/counter"
check "asleep: still wanted running in state.json" \
	grep -q '"desired": "running"' "$T/state/tenants/idl/state.json"
check "asleep: not counted as a crash (journal: sleep, asleep; no exit)" \
	bash -c 'j=$1; grep -q "^sleep " <<<"$j" && grep -q "^asleep " <<<"$j" && ! grep -q "^exit " <<<"$j"' _ "$(journal idl)"
check "asleep: restarts 0" test "$(field idl restarts)" = 0
kill "$dpid" && wait "$dpid"
start_daemon || not_ok "ptenantd restarts with an asleep tenant" "$(tail -3 "$T/daemon.log")"
sleep 1
check "daemon restart: still asleep (not started)" state_is idl asleep
out=$(pt resume idl 2>&1)
check "resume of an asleep tenant: started ($out)" test "$out" = "idl: running"
check "woken: a new init" bash -c '[[ $1 -gt 0 && $1 != "$2" ]]' _ "$(field idl pid)" "$idl_pid"
check "woken: journal has wake and woken" \
	bash -c 'grep -q "^wake " <<<"$1" && grep -q "^woken " <<<"$1"' _ "$(journal idl)"
pt rm idl >/dev/null
# By hand: pause --sleep, then start wakes it; stop of an asleep one stops it.
pt pause fz --sleep >/dev/null
check "pause --sleep: asleep" state_is fz asleep
pt start fz >/dev/null
check "start of an asleep tenant: running" state_is fz running
pt pause fz --sleep >/dev/null
pt stop fz >/dev/null
check "stop of an asleep tenant: stopped (by the operator)" state_is fz stopped
check "stop of an asleep tenant: state.json says stopped, not asleep" \
	bash -c '! grep -q "\"idle\"" "$1" && grep -q "\"desired\": \"stopped\"" "$1"' _ "$T/state/tenants/fz/state.json"
pt rm fz >/dev/null
# The notify socket (NOTIFY_SOCKET, sd_notify): READY=1 recorded; BUSY=1
# holds a tenant awake past freeze_after, BUSY=0 lets it freeze; a flood
# is counted and paused, the daemon unharmed.
pt create nt --blueprint budget@1 --freeze-after 2s >/dev/null
wait_for 30 state_is nt running
nfield() { pt --json inspect nt | grep -A6 '"notify":' | jget "$1"; }
check "notify: NOTIFY_SOCKET in the tenant's environment" \
	bash -c '[[ $("$@") == *NOTIFY_SOCKET=/run/ptenant/notify* ]]' _ "$BUILD/src/ptenant/ptenant" --socket "$SOCK" exec nt -- env
pt exec nt -- /bot/hog notify READY=1 >/dev/null
ready_seen() { [[ $(nfield ready) == true ]]; }
check "notify: READY=1 is seen (inspect)" wait_for 5 ready_seen
check "notify: READY=1 is in the journal" bash -c 'grep -q "^ready " <<<"$1"' _ "$(journal nt)"
pt exec nt -- /bot/hog notify BUSY=1 >/dev/null
sleep 3.5
check "notify: BUSY=1 holds it awake past freeze_after (2 s; 3.5 s later)" state_is nt running
pt exec nt -- /bot/hog notify BUSY=0 >/dev/null
check "notify: after BUSY=0 it freezes" wait_for 10 state_is nt frozen
pt resume nt >/dev/null
out=$(pt exec nt -- /bot/hog notify-flood 20000 2>&1)
check "notify: a flood of datagrams ($out) is counted as ignored" \
	bash -c '(( $1 > 0 ))' _ "$(pt --json inspect nt | grep -A6 '"notify":' | jget ignored)"
check "notify: the flood is in the journal" bash -c 'grep -q "^notify-flood " <<<"$1"' _ "$(journal nt)"
daemon_answers() { pt ls >/dev/null; }
check "notify: the daemon still answers" daemon_answers
out=$(pt exec nb -- ls -A /run/ptenant 2>&1)
check "notify: a neighbour sees only its own socket in /run/ptenant ($out)" test "$out" = notify
pt rm nt >/dev/null

# ---- rm leaves no cgroup --------------------------------------------------
for s in crash iso hold nb; do pt rm "$s" >/dev/null; done
gone() { local s d; for s in crash iso hold nb hog fb cpu lost counted fz cpuz idl nt; do for d in $(all_dirs "$s"); do [[ -e $d ]] && return 1; done; done; return 0; }
check "rm leaves no tenant cgroup behind" gone

echo "1..$n"
((failed == 0))

#!/bin/bash
# The fault walk (issue 10): a daemon built with -Dfault_injection=true
# fails or dies once at a named step (PTENANT_FAULT, src/lib/fault.h)
# while it creates, starts, stops, respawns, re-budgets and removes
# tenants with networking and budgets on; then it is restarted without
# the fault, and everything must be whole:
#   - the API answers;
#   - every tenant settles running or stopped (none failed or broken: no
#     torn state file), each stopped one with its reason (last exit or
#     error), each running one with its own address;
#   - no process, veth, cgroup, mount or temporary file is left that no
#     tenant owns; and after removing every tenant, nothing at all.
# The points are not listed here: the errno points are what
# `ptenantd --fault-points` prints, the kill points are every step of the
# spawn trace of a real start (`--trace-spawn`), daemon and child side, at
# a first start and at a respawn. A step added to the code joins the walk.
#   PTENANT_BUILD=build-fault tests/fault/walk.sh [SHARD/SHARDS]
# With SHARD/SHARDS (0/2, 1/2) it runs every SHARDS-th case from the
# SHARD-th, so that tools/test runs the walk on both cores at once; each
# shard has its own netns, state dir and cgroup parent, and its own uid
# slot when FAULT_UID_BASE gives one (else a slot as every test daemon).
# Runs in a network namespace of its own (tests/net/lib.sh); budgets on
# this host's cgroup v1 (or v2) under a throwaway parent.
. "$(dirname "$0")/../net/lib.sh"

command -v jq >/dev/null || { echo "Bail out! jq missing"; exit 1; }
"$PTENANTD" --fault-points >/dev/null 2>&1 ||
  { echo "Bail out! $PTENANTD has no fault injection (meson -Dfault_injection=true)"; exit 1; }
shard=${1:-0/1}
[[ $shard =~ ^([0-9]+)/([1-9][0-9]*)$ ]] && ((BASH_REMATCH[1] < BASH_REMATCH[2])) ||
  { echo "Bail out! shard '$shard' is not SHARD/SHARDS"; exit 1; }
SHARD=${BASH_REMATCH[1]} SHARDS=${BASH_REMATCH[2]}
net_setup fault
UID_BASE=${FAULT_UID_BASE:-$UID_BASE}
SUB=ptenant-fault-$$
if [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/pids ]]; then
  CGMODE=v1 CGDIRS=(/sys/fs/cgroup/{memory,cpu,pids,freezer}/$SUB)
else
  CGMODE=v2 CGDIRS=(/sys/fs/cgroup/$SUB)
fi
cg_cleanup() { local d; for d in "${CGDIRS[@]}"; do rmdir "$d"/* "$d" 2>/dev/null; done; }
# net_teardown (tests/net/lib.sh) ends with exit: run it in a subshell
# with our status, then remove the cgroups its tenants were in.
teardown() {
  local rc=$?
  (exit "$rc")
  (net_teardown)
  rc=$?
  cg_cleanup
  exit "$rc"
}
trap teardown EXIT

cat >"$W/conf" <<CONF
network = on
subnet = 10.213.0.0/24
cgroup_mode = $CGMODE
cgroup_parent = /$SUB
api_group = ""
uid_base = $UID_BASE
restart_initial_ms = 50
stop_grace_ms = 1000
spawn_timeout_ms = 1500
CONF

# fault_daemon SPEC [FLAG]...: ptenantd in $NS with PTENANT_FAULT=SPEC ("" for none).
fault_daemon() {
  local spec=$1; shift
  # nsenter, not ip netns exec: that remounts /sys, and with it the
  # cgroup v1 hierarchies the budgets need (ptenantd(8)).
  PTENANT_FAULT=$spec nsenter --net="/run/netns/$NS" "$PTENANTD" -c "$W/conf" --state-dir "$W/state" \
    --runtime-dir "$W/run" --init "$INIT" "$@" >>"$W/daemon.log" 2>&1 &
  DAEMON_PID=$!
  # One daemon at a time, and only the live one is ever signalled.
  DAEMON_PIDS=("$DAEMON_PID")
  for _ in $(seq 200); do
    [[ -S $W/run/ptenantd.sock ]] && pt ls >/dev/null 2>&1 && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || return 1
    sleep 0.025
  done
  return 1
}
daemon_down() {
  kill -0 "$DAEMON_PID" 2>/dev/null && kill -TERM "$DAEMON_PID"
  # (braces: the shell's own "Killed" notice of a faulted daemon, too)
  { wait "$DAEMON_PID"; } 2>/dev/null
  DAEMON_PIDS=()
  rm -f "$W/run/ptenantd.sock"
}
# Each call bounded: a daemon that hangs must fail the case, not the run.
tpt() { timeout 15 "$PTENANT" --socket "$W/run/ptenantd.sock" "$@"; }

# A state dir with the blueprint, copied for every case.
mkdir -p "$W/run"
fault_daemon "" || { echo "Bail out! ptenantd does not start"; cat "$W/daemon.log"; exit 1; }
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null || { echo "Bail out! blueprint import"; exit 1; }
daemon_down
cp -a "$W/state" "$W/template"

# The spawn trace's steps, from a real start.
rm -rf "$W/state"; cp -a "$W/template" "$W/state"
: >"$W/daemon.log"
fault_daemon "" --trace-spawn || { echo "Bail out! traced ptenantd"; exit 1; }
pt create probe --blueprint echo-bot@1 >/dev/null || { echo "Bail out! traced create"; cat "$W/daemon.log"; exit 1; }
pt rm probe >/dev/null
daemon_down
mapfile -t STEPS < <(awk '$1 == "trace-spawn" && $2 == "probe" { print $3 }' "$W/daemon.log" | sort -u)
mapfile -t POINTS < <("$PTENANTD" --fault-points)
diag "${#STEPS[@]} spawn trace steps, ${#POINTS[@]} errno points (cgroup $CGMODE)"
((${#STEPS[@]} > 20 && ${#POINTS[@]} > 15)) || { echo "Bail out! too few steps (${STEPS[*]}) or points (${POINTS[*]})"; exit 1; }

addr_of() { tpt --json inspect "$1" 2>/dev/null | jq -r '.network.address // empty'; }
pid_of() { tpt --json ls 2>/dev/null | jq -r --arg s "$1" '.[] | select(.slug == $s) | .pid'; }

# The operations every case walks through; failures are expected (the fault).
scenario() {
  local pid
  tpt create a --blueprint echo-bot@1 --memory 64M --pids 64
  tpt create b --blueprint echo-bot@1 --memory 64M
  tpt stop a
  tpt start a
  pid=$(pid_of a)
  if [[ $pid =~ ^[1-9][0-9]*$ ]]; then
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 60); do
      [[ $(pid_of a) =~ ^[1-9][0-9]*$ && $(pid_of a) != "$pid" ]] && break
      kill -0 "$DAEMON_PID" 2>/dev/null || break
      sleep 0.05
    done
  fi
  tpt update b --memory 96M
  tpt rm b
}

# Every tenant running or stopped, none on another's address.
settled() {
  tpt --json ls 2>/dev/null | jq -e 'all(.[]; .state == "running" or .state == "stopped")' >/dev/null
}

# What a tenant does not own: printed, one line each.
leftovers() {
  local running=() s pid addrs ns p want
  mapfile -t running < <(tpt --json ls | jq -r '.[] | select(.state == "running") | .slug')
  # Processes of our uid slot outside every running tenant's pid namespace.
  want=" "
  for s in "${running[@]}"; do
    pid=$(pid_of "$s")
    want+="$(readlink "/proc/$pid/ns/pid" 2>/dev/null) "
  done
  while read -r p _ name; do
    ns=$(readlink "/proc/$p/ns/pid" 2>/dev/null) || continue
    [[ $want == *" $ns "* ]] || echo "process $p ($name) in no running tenant"
  done < <(uid_range_procs "$UID_BASE" $((UID_BASE + PT_TEST_UID_SPAN)))
  # Host veths: exactly one per running tenant.
  while read -r alias; do
    s=${alias#ptenant }
    [[ " ${running[*]} " == *" $s "* ]] || echo "veth of $s, which is not running"
  done < <(in_ns ip -d -j link show type veth | jq -r '.[].ifalias // empty')
  for s in "${running[@]}"; do
    [[ $(in_ns ip -j link show type veth | jq --arg a "ptenant $s" '[.[] | select(.ifalias == $a)] | length') == 1 ]] ||
      echo "running tenant $s has no single veth"
  done
  # Addresses: each running tenant has one, none shared.
  addrs=$(for s in "${running[@]}"; do addr_of "$s"; done)
  [[ $(sort <<<"$addrs" | uniq -d) == "" ]] || echo "shared address: $(sort <<<"$addrs" | uniq -d)"
  # cgroups: a leaf only for a running tenant.
  for p in "${CGDIRS[@]}"; do
    for s in "$p"/tenant-*; do
      [[ -d $s ]] || continue
      s=${s##*/tenant-}
      [[ " ${running[*]} " == *" $s "* ]] || echo "cgroup $p/tenant-$s of a tenant not running"
    done
  done
  # Mounts of ours in this (the daemon's) mount namespace.
  grep -F " $W/" /proc/self/mountinfo | sed 's/^/mount /'
  # Temporary files and half-made tenants in the state dir.
  find "$W/state" -name '.*.tmp.*' -o -name '.create-*' | sed 's/^/temporary /'
}

run_case() { # SPEC
  local spec=$1 out why=""
  rm -rf "$W/state"; cp -a "$W/template" "$W/state"
  : >"$W/daemon.log"
  # Traced, as the run the steps were read from: some steps are marked
  # only then (p4-child-setup, p4-exec).
  if fault_daemon "$spec" --trace-spawn; then
    scenario >"$W/scenario.log" 2>&1
  fi
  grep -qF "PTENANT_FAULT: fired at ${spec%:*} (" "$W/daemon.log" || why="the fault never fired; "
  daemon_down
  if ! fault_daemon ""; then
    not_ok "$spec: ptenantd does not start again after the fault"
    sed 's/^/#   /' "$W/daemon.log" | tail -n 8
    return
  fi
  for _ in $(seq 100); do settled && break; sleep 0.1; done
  settled || why+="not settled: $(tpt --json ls | jq -c '[.[] | {slug, state, error}]'); "
  # A stopped tenant says why: its last exit (a stop, a crash), the error
  # of its last start, or, that error being gone with the daemon that saw
  # it, the journal's start-failed.
  for s in $(tpt --json ls | jq -r '.[] | select(.state == "stopped" and .last_exit == null and .error == null) | .slug'); do
    tpt --json events "$s" | jq -e 'any(.[]; .event == "start-failed")' >/dev/null ||
      why+="$s stopped without a recorded reason; "
  done
  out=$(leftovers)
  [[ -z $out ]] || why+="$(tr '\n' ';' <<<"$out")"
  # Everything can be removed, and then nothing is left.
  for s in $(tpt --json ls | jq -r '.[].slug'); do tpt rm "$s" >/dev/null 2>&1 || why+="rm $s failed; "; done
  out=$(leftovers)
  [[ -z $out ]] || why+="after rm: $(tr '\n' ';' <<<"$out")"
  daemon_down
  if [[ -z $why ]]; then
    ok "$spec: recovered, nothing leaked"
  else
    not_ok "$spec: $why"
    sed 's/^/#   /' "$W/daemon.log" | tail -n 12
  fi
}

# Every case, in order; this shard runs its share.
CASES=()
for p in "${POINTS[@]}"; do
  CASES+=("$p:EIO" "$p:kill")
done
for s in "${STEPS[@]}"; do
  CASES+=("$s:kill")
done
# At a respawn: a's start after its kill is the fourth start, and the
# exit that leads to it the second.
for s in "${STEPS[@]}"; do
  case $s in
  d-exit-handling) CASES+=("$s:kill@2") ;;
  d-* | p*) CASES+=("$s:kill@4") ;;
  esac
done
# A child stuck in its setup: spawn_timeout_ms ends it and the start fails.
CASES+=(c1-open-host-paths:hang c4-overlay:hang c5-confine:hang)
t0=$SECONDS
for ((i = SHARD; i < ${#CASES[@]}; i += SHARDS)); do
  run_case "${CASES[i]}"
done
diag "fault walk, shard $SHARD/$SHARDS: $n_test of ${#CASES[@]} cases in $((SECONDS - t0)) s"
done_testing

# Shared by the fault-injection scripts (walk.sh, burst.sh): a network
# namespace, a state dir and a cgroup parent of their own, a daemon that
# may carry a fault, and the finder of what no tenant owns.
#   fault_setup NAME [SPAWN_TIMEOUT_MS]
# FAULT_UID_BASE: the uid slot to use (else one as every test daemon's);
# FAULT_UID_SLOTS: how many slots from it its tenants may take (64
# tenants a slot; default 1).
. "$(dirname "$0")/../net/lib.sh"

fault_setup() {
  command -v jq >/dev/null || { echo "Bail out! jq missing"; exit 1; }
  "$PTENANTD" --fault-points >/dev/null 2>&1 ||
    { echo "Bail out! $PTENANTD has no fault injection (meson -Dfault_injection=true)"; exit 1; }
  net_setup "$1"
  UID_BASE=${FAULT_UID_BASE:-$UID_BASE}
  SUB=ptenant-$1-$$
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
spawn_timeout_ms = ${2:-1500}
CONF
  mkdir -p "$W/run"
}

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

addr_of() { tpt --json inspect "$1" 2>/dev/null | jq -r '.network.address // empty'; }
pid_of() { tpt --json ls 2>/dev/null | jq -r --arg s "$1" '.[] | select(.slug == $s) | .pid'; }
# wait_new_pid SLUG OLD [TRIES]: running with an init other than OLD,
# polled every 0.05 s (default 100 times); prints its pid.
wait_new_pid() {
  local p
  for _ in $(seq "${3:-100}"); do
    p=$(pid_of "$1")
    [[ $p =~ ^[1-9][0-9]*$ && $p != "$2" && $(tpt --json inspect "$1" | jq -r .state) == running ]] &&
      { echo "$p"; return 0; }
    sleep 0.05
  done
  return 1
}

# Every tenant running or stopped, none on another's address.
settled() {
  tpt --json ls 2>/dev/null | jq -e 'all(.[]; .state == "running" or .state == "stopped" or .state == "frozen")' >/dev/null
}

# What a tenant does not own: printed, one line each.
leftovers() {
  local running=() s pid addrs ns p want n
  mapfile -t running < <(tpt --json ls | jq -r '.[] | select(.state == "running" or .state == "frozen") | .slug')
  # Processes of our uid slot outside every running tenant's pid namespace.
  want=" "
  local -A standby=()
  for s in "${running[@]}"; do
    pid=$(pid_of "$s")
    want+="$(readlink "/proc/$pid/ns/pid" 2>/dev/null) "
    # Its next run, parked (respawn_standby = on), is the tenant's too.
    pid=$(tpt --json inspect "$s" 2>/dev/null | jq -r '.standby.pid // empty')
    [[ -n $pid ]] && standby[$s]=1 && want+="$(readlink "/proc/$pid/ns/pid" 2>/dev/null) "
  done
  while read -r p _ name; do
    ns=$(readlink "/proc/$p/ns/pid" 2>/dev/null) || continue
    [[ $want == *" $ns "* ]] || echo "process $p ($name) in no running tenant"
  done < <(uid_range_procs "$UID_BASE" $((UID_BASE + ${FAULT_UID_SLOTS:-1} * PT_TEST_UID_SPAN)))
  # Host veths: exactly one per running tenant (and one of its standby).
  while read -r alias; do
    s=${alias#ptenant }
    [[ " ${running[*]} " == *" $s "* ]] || echo "veth of $s, which is not running"
  done < <(in_ns ip -d -j link show type veth | jq -r '.[].ifalias // empty')
  for s in "${running[@]}"; do
    n=$(in_ns ip -j link show type veth | jq --arg a "ptenant $s" '[.[] | select(.ifalias == $a)] | length')
    [[ $n == 1 || ($n == 2 && -n ${standby[$s]:-}) ]] ||
      echo "running tenant $s has $n veths"
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


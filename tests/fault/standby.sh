#!/bin/bash
# The respawn standby (issue 11, item 2; respawn_standby = on), against the
# fault-injection build, with networking and budgets on:
#   1. a running tenant gets its next run parked: its own pid, user and
#      net namespaces, its own veth (the other slot, not routed), in the
#      tenant's cgroup leaf, not dumpable, a small PSS;
#   2. nothing of the tenant reaches it: not from inside (no pid to name),
#      not with the tenant's own uids from outside (not dumpable: no
#      /proc/PID/environ, no ptrace), while its running init is readable
#      that way (the control);
#   3. a SIGKILL of the entrypoint: the standby takes over (its pid is the
#      tenant's init), fresh pid/mount namespaces and writable layer,
#      /data kept, same address now routed to the standby's link, traffic
#      answered, same budget; per-run counters restart; a new standby is
#      parked on the first slot;
#   4. a restart policy of never: no standby; stop: the standby goes too;
#   5. the daemon stopped: the tenant runs on, its standby is gone; the next
#      daemon adopts it, parks a new one on the right slot, and a respawn
#      takes it over; the daemon SIGKILLed: the standby ends by itself
#      (EOF on its pipe), the tenant runs on;
#   6. faults: a standby that cannot be set up, and a take-over that fails,
#      fall back to a cold respawn; rm leaves nothing.
#   PTENANT_BUILD=build-fault tests/fault/standby.sh
. "$(dirname "$0")/lib.sh"
fault_setup standby 3000
echo "respawn_standby = on" >>"$W/conf"

fault_daemon "" || { echo "Bail out! ptenantd does not start"; cat "$W/daemon.log"; exit 1; }
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null || { echo "Bail out! blueprint import"; exit 1; }

sb_field() { tpt --json inspect "$1" 2>/dev/null | jq -r ".standby.$2 // empty"; }
# wait_standby SLUG: its next run parked; prints its pid.
wait_standby() {
  for _ in $(seq 200); do
    [[ $(sb_field "$1" state) == ready ]] && { sb_field "$1" pid; return 0; }
    sleep 0.02
  done
  return 1
}
leaf_mem() {
  if [[ $CGMODE == v1 ]]; then cat "${CGDIRS[0]}/tenant-$1/memory.limit_in_bytes"
  else cat "${CGDIRS[0]}/tenant-$1/memory.max"; fi
}
in_leaf() { grep -qx "$2" "${CGDIRS[0]}/tenant-$1/cgroup.procs"; }
route_dev() { in_ns ip -j route show "$1/32" | jq -r '.[0].dev // empty'; }
# as_uid UID CMD...: CMD as that host uid, in the host's namespaces.
as_uid() { setpriv --reuid="$1" --regid="$1" --clear-groups "${@:2}"; }

# ---- 1. parked ------------------------------------------------------------------
tpt create s1 --blueprint echo-bot@1 --memory 48M >/dev/null || { echo "Bail out! create s1"; exit 1; }
pid0=$(pid_of s1) addr=$(addr_of s1) mem0=$(leaf_mem s1)
veth0=$(tpt --json inspect s1 | jq -r .network.veth)
sb=$(wait_standby s1)
check "parked: s1 has a standby ready ($sb)" test -n "$sb"
check "parked: its own pid namespace" test "$(readlink "/proc/$sb/ns/pid")" != "$(readlink "/proc/$pid0/ns/pid")"
check "parked: its own user namespace" test "$(readlink "/proc/$sb/ns/user")" != "$(readlink "/proc/$pid0/ns/user")"
check "parked: its own network namespace" test "$(readlink "/proc/$sb/ns/net")" != "$(readlink "/proc/$pid0/ns/net")"
check "parked: in the tenant's cgroup leaf" in_leaf s1 "$sb"
check "parked: its veth is ${veth0}s, the run's stays $veth0" test "$(sb_field s1 veth)" = "${veth0}s"
check "parked: the address still routes to the run's link" test "$(route_dev "$addr")" = "$veth0"
check "parked: ptenant-init waits as the standby" grep -q -- "--standby" "/proc/$sb/cmdline"
# What it adds: its own pages. The rest of its PSS is ptenant-init's
# text, one sealed memfd mapped by every tenant's init and standby, so
# its share shrinks with the number of tenants (2 here).
pss=$(awk '/^Pss:/ {print $2}' "/proc/$sb/smaps_rollup")
own=$(awk '/^Private_(Clean|Dirty):/ {n += $2} END {print n}' "/proc/$sb/smaps_rollup")
diag "standby: PSS $pss KiB with 2 inits sharing ptenant-init's pages; its own pages $own KiB"
check "parked: adds at most 256 KiB of its own pages ($own KiB)" test "$own" -le 256

# ---- 2. unreachable -----------------------------------------------------------
uid=$(awk '/^Uid:/ {print $2}' "/proc/$sb/status")
check "unreachable: it runs as the tenant's uid $uid" test "$uid" = "$(awk '/^Uid:/ {print $2}' "/proc/$pid0/status")"
# The control: the same uid reads the environ of a plain process of its
# own (so a refusal below is the standby's doing, not the method's).
setpriv --reuid="$uid" --regid="$uid" --clear-groups sleep 30 &
victim=$!
HELPER_PIDS+=("$victim")
sleep 0.1
check "unreachable: the control: the tenant's uid reads a plain process's environ" \
  as_uid "$uid" cat "/proc/$victim/environ"
check "unreachable: the control: the tenant's uid ptraces a plain process of its own" \
  as_uid "$uid" /usr/bin/python3 -c "
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.ptrace(16, $victim, 0, 0) == 0 else 1)"
kill -KILL "$victim"; wait "$victim" 2>/dev/null
check_not "unreachable: the tenant's uid cannot read the standby's environ (another user namespace, not dumpable)" \
  as_uid "$uid" cat "/proc/$sb/environ"
check_not "unreachable: the tenant's uid cannot ptrace the standby" \
  as_uid "$uid" /usr/bin/python3 -c "
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.ptrace(16, $sb, 0, 0) == 0 else 1)"   # PTRACE_ATTACH
check_not "unreachable: from inside, its host pid names nothing" \
  tpt exec s1 -- kill -0 "$sb"
cmds=$(tpt exec s1 -- sh -c 'for f in /proc/[0-9]*/cmdline; do tr "\0" " " <"$f"; echo; done' 2>/dev/null)
check "unreachable: the run sees its processes ($(grep -c . <<<"$cmds"))" grep -q "^ptenant-init -- " <<<"$cmds"
check_not "unreachable: none of them is the standby" grep -q "^ptenant-init --standby" <<<"$cmds"

# ---- 3. take-over ---------------------------------------------------------------
tpt exec s1 -- sh -c 'echo planted >/etc/marker && echo kept >/data/marker' >/dev/null
pidns0=$(readlink "/proc/$pid0/ns/pid") mntns0=$(readlink "/proc/$pid0/ns/mnt")
kill -KILL "$(pgrep -P "$pid0" | head -1)"
pid1=$(wait_new_pid s1 "$pid0")
check "take-over: the standby is the tenant's init ($pid1 = $sb)" test "$pid1" = "$sb"
by_standby() { tpt --json events "$1" | jq -e 'any(.[]; .event == "respawn" and (.message // "" | test("standby")))'; }
check "take-over: recorded as a respawn by the standby" by_standby s1
check "take-over: a pid namespace not the dead run's" test "$(readlink "/proc/$pid1/ns/pid")" != "$pidns0"
check "take-over: a mount namespace not the dead run's" test "$(readlink "/proc/$pid1/ns/mnt")" != "$mntns0"
out=$(tpt exec s1 -- sh -c 'cat /etc/marker 2>/dev/null; cat /data/marker' 2>&1)
check "take-over: a fresh writable layer (/etc/marker gone), /data kept ($out)" test "$out" = kept
check "take-over: same address ($addr)" test "$(addr_of s1)" = "$addr"
check "take-over: the address routes to ${veth0}s now" test "$(route_dev "$addr")" = "${veth0}s"
check "take-over: inspect names ${veth0}s" test "$(tpt --json inspect s1 | jq -r .network.veth)" = "${veth0}s"
check "take-over: the tenant answers on its address" \
  in_ns curl -sf --max-time 5 -o /dev/null "http://$addr:8080/"
check "take-over: same memory budget ($mem0)" test "$(leaf_mem s1)" = "$mem0"
check "take-over: state.json records the standby's pid and slot 1" \
  jq -e --argjson p "$pid1" '.pid == $p and .veth_slot == 1' "$W/state/tenants/s1/state.json"
check "take-over: per-run counters start again (oom_kills 0)" \
  test "$(tpt --json stats s1 | jq -r '.tenants[0].oom_kills')" = 0
sb2=$(wait_standby s1)
check "take-over: a new standby is parked ($sb2)" test -n "$sb2" -a "$sb2" != "$sb"
check "take-over: on the first slot again ($veth0)" test "$(sb_field s1 veth)" = "$veth0"
trash_gone() {
  for _ in $(seq 200); do
    [[ -z $(ls -A "$W/state/tenants/s1/trash" 2>/dev/null) ]] && return 0
    sleep 0.05
  done
  return 1
}
check "take-over: the old writable layer leaves the trash (trash.c)" trash_gone

# ---- 4. no standby when not wanted; stop ends it ------------------------------------
tpt create n1 --blueprint echo-bot@1 --restart never >/dev/null
sleep 0.3
check "restart never: no standby" test "$(sb_field n1 state)" = none
tpt rm n1 >/dev/null
tpt stop s1 >/dev/null
check_not "stop: the standby is gone too" kill -0 "$sb2"
check "stop: inspect says none" test "$(sb_field s1 state)" = none
tpt start s1 >/dev/null
pid2=$(pid_of s1)
sb3=$(wait_standby s1)
check "start: a standby again ($sb3)" test -n "$sb3"

# ---- 5. daemon restarts -----------------------------------------------------------
daemon_down
check "daemon stopped: the tenant runs on" kill -0 "$pid2"
check_not "daemon stopped: its standby is gone" kill -0 "$sb3"
fault_daemon "" || { echo "Bail out! ptenantd again"; exit 1; }
check "daemon back: s1 adopted, same init" test "$(pid_of s1)" = "$pid2"
sb4=$(wait_standby s1)
slot=$(jq -r '.veth_slot // 0' "$W/state/tenants/s1/state.json")
want=$veth0; [[ $slot == 0 ]] && want=${veth0}s
check "daemon back: a new standby on the free slot ($want)" test "$(sb_field s1 veth)" = "$want"
kill -KILL "$(pgrep -P "$pid2" | head -1)"
pid3=$(wait_new_pid s1 "$pid2")
check "daemon back: a respawn is its standby's ($pid3 = $sb4)" test "$pid3" = "$sb4"
check "daemon back: the tenant answers on its address" \
  in_ns curl -sf --max-time 5 -o /dev/null "http://$addr:8080/"
sb5=$(wait_standby s1)
kill -KILL "$DAEMON_PID"; { wait "$DAEMON_PID"; } 2>/dev/null
# It exits; a zombie until whoever inherited it reaps it.
ended() { [[ ! -e /proc/$1 ]] || grep -q '^State:.*Z' "/proc/$1/status"; }
for _ in $(seq 50); do ended "$sb5" && break; sleep 0.02; done
check "daemon SIGKILLed: the standby ($sb5) ended by itself" ended "$sb5"
check "daemon SIGKILLed: the tenant runs on" kill -0 "$pid3"
fault_daemon "" || { echo "Bail out! ptenantd after SIGKILL"; exit 1; }
check "daemon back after SIGKILL: same init" test "$(pid_of s1)" = "$pid3"
tpt rm s1 >/dev/null
daemon_down

# ---- 6. faults fall back to a cold respawn ------------------------------------------
fault_daemon "standby.take-over:EIO" || { echo "Bail out! faulted ptenantd"; exit 1; }
tpt create f1 --blueprint echo-bot@1 >/dev/null
p=$(pid_of f1) sb=$(wait_standby f1)
kill -KILL "$(pgrep -P "$p" | head -1)"
p1=$(wait_new_pid f1 "$p")
check "take-over fails: a cold respawn ($p1, not $sb)" test -n "$p1" -a "$p1" != "$sb"
check_not "take-over fails: that standby is gone" kill -0 "$sb"
check "take-over fails: the tenant answers" in_ns curl -sf --max-time 5 -o /dev/null "http://$(addr_of f1):8080/"
tpt rm f1 >/dev/null
daemon_down
fault_daemon "standby.begin:EIO" || { echo "Bail out! faulted ptenantd"; exit 1; }
tpt create f2 --blueprint echo-bot@1 >/dev/null
sleep 0.5
check "setup fails: f2 runs without a standby" test "$(sb_field f2 state)" = none
check "setup fails: logged" grep -q "tenant f2: standby: .*standby.begin" "$W/daemon.log"
p=$(pid_of f2)
kill -KILL "$(pgrep -P "$p" | head -1)"
check "setup fails: a cold respawn all the same" wait_new_pid f2 "$p"
tpt rm f2 >/dev/null
out=$(leftovers)
check "nothing left after rm ($out)" test -z "$out"
daemon_down
done_testing

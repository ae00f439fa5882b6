#!/bin/bash
# Many starts at once (issue 11), against the fault-injection build, with
# networking and budgets on:
#   1. every child stuck in its setup (PTENANT_FAULT=c4-overlay:hang): the
#      API still answers and lists them all as starting; a stop cancels
#      one at once; the others fail at spawn_timeout_ms, each naming where
#      its child waited; nothing is left.
#      With spawn_concurrency = 1, three stuck children are made 250 ms
#      apart (a stuck child holds its slot that long, not until its timeout).
#   2. 100 starts at once, a mix of good tenants and tenants whose start
#      fails at different steps (the daemon's: blueprint gone; the
#      parent's: veth name taken; the child's: no directory for /proc):
#      each caller gets its own answer, naming its own step.
#   3. the daemon SIGKILLed in the middle of 60 starts (at the 30th
#      start's p2b step): the next daemon brings every tenant to running,
#      with no second init, cgroup, veth, mount or process left over.
#   4. the same with the daemon SIGKILLed at the 15th of 30 starts'
#      "recorded" (p3b: their state saves written by the state writer's
#      thread, some still queued): the same verdicts.
#   5. stops of 30 starting tenants while their starts go through the
#      daemon's three steps: each start answered running or cancelled,
#      cancels after the prepare step and after the clone seen, nothing left.
#   0. first, a respawn: same address and budget, and a fresh pid and
#      mount namespace and writable layer; then a start whose state save
#      fails on the state writer (syncer.write:EIO): it runs, the failure
#      is recorded, and the save is made again.
#   PTENANT_BUILD=build-fault tests/fault/burst.sh
. "$(dirname "$0")/lib.sh"
fault_setup burst 3000

fault_daemon "" || { echo "Bail out! ptenantd does not start"; cat "$W/daemon.log"; exit 1; }
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null || { echo "Bail out! blueprint import"; exit 1; }
# A blueprint with a file where the tenant's /proc is mounted.
cp -a "$BP_CACHE" "$W/bp-noproc"
rm -rf "$W/bp-noproc/rootfs/proc" && : >"$W/bp-noproc/rootfs/proc"
sed -i 's/"echo-bot"/"noproc"/' "$W/bp-noproc/manifest.json"
pt blueprint import noproc@1 "$W/bp-noproc" >/dev/null || { echo "Bail out! import noproc"; exit 1; }
cp -a "$BP_CACHE" "$W/bp-gone"
sed -i 's/"echo-bot"/"gone"/' "$W/bp-gone/manifest.json"
pt blueprint import gone@1 "$W/bp-gone" >/dev/null || { echo "Bail out! import gone"; exit 1; }
daemon_down
cp -a "$W/state" "$W/template"
fresh_state() { rm -rf "$W/state"; cp -a "$W/template" "$W/state"; : >"$W/daemon.log"; }

# start_all OUTDIR SLUG...: one `ptenant start` per slug, all at once;
# each one's output in OUTDIR/SLUG.out, its status in OUTDIR/SLUG.rc.
start_all() {
  local out=$1 s pids=()
  shift
  mkdir -p "$out"
  for s in "$@"; do
    { tpt start "$s" >"$out/$s.out" 2>&1; echo $? >"$out/$s.rc"; } &
    pids+=($!)
  done
  START_PIDS=("${pids[@]}")
}
wait_all() { local p; for p in "${START_PIDS[@]}"; do wait "$p"; done; }
n_state() { tpt --json ls 2>/dev/null | jq --arg st "$1" '[.[] | select(.state == $st)] | length'; }

# ---- 0. a respawn keeps what is the tenant's, and nothing else ----------------
fresh_state
fault_daemon "" || { echo "Bail out! ptenantd"; exit 1; }
leaf_mem() { # the memory limit in the tenant's leaf, as the kernel has it
  if [[ $CGMODE == v1 ]]; then cat "${CGDIRS[0]}/tenant-$1/memory.limit_in_bytes"
  else cat "${CGDIRS[0]}/tenant-$1/memory.max"; fi
}
tpt create r1 --blueprint echo-bot@1 --memory 48M >/dev/null || { echo "Bail out! create r1"; exit 1; }
pid0=$(pid_of r1) addr0=$(addr_of r1) mem0=$(leaf_mem r1)
pidns0=$(readlink "/proc/$pid0/ns/pid") mntns0=$(readlink "/proc/$pid0/ns/mnt")
tpt exec r1 -- sh -c 'echo planted >/etc/marker && echo kept >/data/marker' >/dev/null
kill -KILL "$pid0"
for _ in $(seq 100); do
  pid1=$(pid_of r1)
  [[ $pid1 =~ ^[1-9][0-9]*$ && $pid1 != "$pid0" && $(tpt --json ls | jq -r '.[0].state') == running ]] && break
  sleep 0.05
done
check "respawn: a new init" test "$pid1" != "$pid0"
check "respawn: same address ($addr0)" test "$(addr_of r1)" = "$addr0"
check "respawn: same memory budget in its cgroup ($mem0)" test "$(leaf_mem r1)" = "$mem0"
check "respawn: a fresh pid namespace" test "$(readlink "/proc/$pid1/ns/pid")" != "$pidns0"
check "respawn: a fresh mount namespace" test "$(readlink "/proc/$pid1/ns/mnt")" != "$mntns0"
out=$(tpt exec r1 -- sh -c 'cat /etc/marker 2>/dev/null; cat /data/marker' 2>&1)
check "respawn: a fresh writable layer (/etc/marker gone), /data kept" test "$out" = kept
tpt rm r1 >/dev/null
daemon_down

fresh_state
fault_daemon "syncer.write:EIO" || { echo "Bail out! faulted ptenantd"; exit 1; }
tpt create w1 --blueprint echo-bot@1 --memory 48M >/dev/null
check "state writer fails: the start is answered and the tenant runs" \
  test "$(tpt --json ls | jq -r '.[] | select(.slug == "w1") | .state')" = running
for _ in $(seq 50); do
  tpt --json events w1 | jq -e 'any(.[]; .event == "state-saved")' >/dev/null && break
  sleep 0.1
done
check "state writer fails: event state-save-failed names the write" \
  tpt --json events w1 | jq -e 'any(.[]; .event == "state-save-failed"
    and (.message // "" | test("syncer.write: injected fault")))'
check "state writer fails: saved again (event state-saved)" \
  tpt --json events w1 | jq -e 'any(.[]; .event == "state-saved")'
check "state writer fails: state.json names the running init" \
  test "$(jq -r .pid "$W/state/tenants/w1/state.json")" = "$(pid_of w1)"
tpt rm w1 >/dev/null
daemon_down

# ---- 1. every child stuck ---------------------------------------------------
fresh_state
fault_daemon "c4-overlay:hang" || { echo "Bail out! faulted ptenantd"; exit 1; }
slugs=()
for i in $(seq -w 1 20); do
  tpt create "h$i" --blueprint echo-bot@1 --memory 64M --no-start >/dev/null && slugs+=("h$i")
done
((${#slugs[@]} == 20)) || { echo "Bail out! created ${#slugs[@]} of 20"; exit 1; }
start_all "$W/hang" "${slugs[@]}"
seen=0
for _ in $(seq 100); do
  seen=$(n_state starting)
  ((seen == 20)) && break
  sleep 0.05
done
if ((seen == 20)); then ok "hang: 20 children stuck in setup, and ls answers listing all 20 as starting"
else not_ok "hang: ls showed $seen of 20 starting"; fi
out=$(tpt stop h01 2>&1)
check "hang: stop of a starting tenant answers at once: stopped" grep -q 'h01: stopped' <<<"$out"
wait_all
grep -q cancelled "$W/hang/h01.out" && [[ $(cat "$W/hang/h01.rc") != 0 ]]
check "hang: the stopped tenant's start is answered: cancelled" test $? = 0
bad=()
for s in "${slugs[@]:1}"; do
  [[ $(cat "$W/hang/$s.rc") != 0 ]] && grep -q 'did not reach exec in 3000 ms' "$W/hang/$s.out" &&
    grep -q wchan "$W/hang/$s.out" || bad+=("$s: $(cat "$W/hang/$s.out")")
done
if ((${#bad[@]} == 0)); then ok "hang: the 19 others fail at spawn_timeout_ms, each saying where its child waited"
else not_ok "hang: ${bad[*]}"; fi
check "hang: none runs, all stopped or failed" \
  jq -e 'all(.[]; .state == "stopped" or .state == "failed")' <<<"$(tpt --json ls)"
out=$(leftovers)
if [[ -z $out ]]; then ok "hang: nothing left (process, veth, cgroup, mount, temp file)"
else not_ok "hang: left: $(tr '\n' ';' <<<"$out")"; fi
daemon_down

# spawn_concurrency = 1: one child sets up at a time, and one stuck in its
# setup holds its slot 250 ms, not until its timeout. Each of three stuck
# children was made 250 ms or more after the one before (each fails 3 s
# after its own start): without the limit, all three within milliseconds.
fresh_state
cp "$W/conf" "$W/conf.all"
echo "spawn_concurrency = 1" >>"$W/conf"
fault_daemon "c4-overlay:hang" || { echo "Bail out! faulted ptenantd"; exit 1; }
cp "$W/conf.all" "$W/conf"
for s in c1 c2 c3; do tpt create "$s" --blueprint echo-bot@1 --no-start >/dev/null; done
start_all "$W/conc" c1 c2 c3
wait_all
mapfile -t fails < <(jq -r 'select(.event == "start-failed") | .ts' "$W/state/events.jsonl" | sort -n)
gaps=$( ((${#fails[@]} == 3)) && echo "$((fails[1] - fails[0])) $((fails[2] - fails[1]))")
diag "spawn_concurrency 1: the three timed out ${gaps:-?} ms apart"
check "spawn_concurrency 1: three stuck children made at least 240 ms apart (${gaps:-no 3 failures})" \
  test -n "$gaps" -a "${gaps% *}" -ge 240 -a "${gaps#* }" -ge 240
check "spawn_concurrency 1: each start fails at its own timeout, naming where its child waited" \
  test "$(grep -l 'did not reach exec in 3000 ms' "$W/conc"/*.out | wc -l)" = 3
daemon_down

# ---- 2. 100 at once, some failing at different steps ------------------------
fresh_state
fault_daemon "" || { echo "Bail out! ptenantd"; exit 1; }
good=() gone=() noproc=() clash=()
for i in $(seq -w 1 70); do tpt create "g$i" --blueprint echo-bot@1 --memory 64M --no-start >/dev/null && good+=("g$i"); done
for i in $(seq -w 1 10); do tpt create "b$i" --blueprint gone@1 --no-start >/dev/null && gone+=("b$i"); done
for i in $(seq -w 1 10); do tpt create "p$i" --blueprint noproc@1 --no-start >/dev/null && noproc+=("p$i"); done
for i in $(seq -w 1 10); do
  tpt create "v$i" --blueprint echo-bot@1 --no-start >/dev/null || continue
  veth=$(tpt --json inspect "v$i" | jq -r '.network.veth')
  # (a veth pair of ours: there may be no dummy driver)
  in_ns ip link add "$veth" type veth peer name "${veth}x" && clash+=("v$i")
done
((${#good[@]} + ${#gone[@]} + ${#noproc[@]} + ${#clash[@]} == 100)) || { echo "Bail out! set-up of the 100"; exit 1; }
rm -rf "$W/state/blueprints/gone"
start_all "$W/mix" "${good[@]}" "${gone[@]}" "${noproc[@]}" "${clash[@]}"
wait_all
answers() { # GROUP-NAME RC-WANTED PATTERN SLUG...: each answer as expected
  local name=$1 want=$2 pat=$3 s bad=()
  shift 3
  for s in "$@"; do
    rc=$(cat "$W/mix/$s.rc")
    if [[ $want == 0 ]]; then [[ $rc == 0 ]] && grep -q "$pat" "$W/mix/$s.out" || bad+=("$s")
    else [[ $rc != 0 ]] && grep -q "$pat" "$W/mix/$s.out" || bad+=("$s"); fi
  done
  if ((${#bad[@]} == 0)); then ok "100 at once: $name"
  else not_ok "100 at once: $name; not: ${bad[*]}: $(cat "$W/mix/${bad[0]}.out")"; fi
}
for f in "$W/mix/b01.out" "$W/mix/v01.out" "$W/mix/p01.out"; do diag "$(cat "$f")"; done
answers "70 good tenants: each answered running" 0 ': running' "${good[@]}"
answers "blueprint gone (the daemon's step): each error names the blueprint" 1 'gone@1 is not imported' "${gone[@]}"
answers "veth name taken (the parent's step): each error names its veth" 1 'ptv' "${clash[@]}"
answers "a file at /proc (the child's step): each error names /proc" 1 '/proc' "${noproc[@]}"
check "100 at once: 70 running, 30 failed, none starting" \
  jq -e '([.[] | select(.state == "running")] | length) == 70 and ([.[] | select(.state == "failed")] | length) == 30' \
  <<<"$(tpt --json ls)"
out=$(leftovers)
if [[ -z $out ]]; then ok "100 at once: each running tenant has its own veth, address, cgroup; nothing else is left"
else not_ok "100 at once: $(tr '\n' ';' <<<"$out")"; fi
for s in "${clash[@]}"; do in_ns ip link del "$(tpt --json inspect "$s" | jq -r '.network.veth')"; done
daemon_down
# The 70 keep running (live restore); the next case starts from its own state.
fault_daemon "" && for s in $(tpt --json ls | jq -r '.[].slug'); do tpt rm "$s" >/dev/null; done
daemon_down

# ---- 5. stops that land on starts at each of their daemon-side steps --------
# A start's daemon side is three loop rounds (tenant-start.c: prepare,
# clone, release). 30 starts and, meanwhile, a stop of each: repeated
# until stops have cancelled starts after their prepare step (the trace
# a cancelled start prints ends at d-cgroup: no child yet) and after
# their clone (it ends at p1-idmap: a child waiting for its release),
# at most 12 times. Each start is answered running or cancelled, every
# tenant ends stopped, and nothing is left.
fresh_state
fault_daemon "" --trace-spawn || { echo "Bail out! traced ptenantd"; exit 1; }
slugs=()
for i in $(seq -w 1 30); do
  tpt create "s$i" --blueprint echo-bot@1 --memory 64M --no-start >/dev/null && slugs+=("s$i")
done
((${#slugs[@]} == 30)) || { echo "Bail out! created ${#slugs[@]} of 30"; exit 1; }
# cancelled_after STEP NEXT: starts whose trace ends at STEP (no NEXT after it).
cancelled_after() {
  awk -v step="$1" -v next_="$2" '$1 == "trace-spawn" {
      if (pend != "" && !($2 == pend && $3 == next_)) n++
      pend = ($3 == step) ? $2 : "" }
    END { if (pend != "") n++; print n + 0 }' "$W/daemon.log"
}
bad=() rounds=0 at_prep=0 at_clone=0
for round in $(seq 12); do
  rounds=$round
  start_all "$W/storm$round" "${slugs[@]}"
  stop_pids=()
  for s in "${slugs[@]}"; do
    { tpt stop "$s" >/dev/null 2>&1; } &
    stop_pids+=($!)
  done
  wait_all
  for p in "${stop_pids[@]}"; do wait "$p"; done
  for s in "${slugs[@]}"; do
    rc=$(cat "$W/storm$round/$s.rc")
    { [[ $rc == 0 ]] && grep -q ': running' "$W/storm$round/$s.out"; } ||
      { [[ $rc != 0 ]] && grep -q 'cancelled' "$W/storm$round/$s.out"; } ||
      bad+=("round $round $s: rc $rc $(cat "$W/storm$round/$s.out")")
  done
  # A start answered running before its stop was read is stopped now.
  for s in "${slugs[@]}"; do tpt stop "$s" >/dev/null 2>&1; done
  at_prep=$(cancelled_after d-cgroup d-round-to-clone)
  at_clone=$(cancelled_after p1-idmap d-round-to-release)
  ((at_prep > 0 && at_clone > 0)) && break
done
diag "stops: $rounds round(s) of 30; cancelled after prepare: $at_prep, after clone: $at_clone"
if ((${#bad[@]} == 0)); then ok "stops: each start answered running or cancelled ($rounds round(s) of 30)"
else not_ok "stops: ${bad[*]:0:3}"; fi
check "stops: some landed after a start's prepare step, and some after its clone" \
  test "$at_prep" -gt 0 -a "$at_clone" -gt 0
check "stops: every tenant stopped" jq -e 'all(.[]; .state == "stopped")' <<<"$(tpt --json ls)"
out=$(leftovers)
if [[ -z $out ]]; then ok "stops: nothing left (process, veth, cgroup, mount, temp file)"
else not_ok "stops: left: $(tr '\n' ';' <<<"$out")"; fi
for s in "${slugs[@]}"; do tpt rm "$s" >/dev/null; done
daemon_down

# ---- 3 and 4. the daemon killed in the middle of many starts ---------------
# kill_burst NAME N POINT AT WHAT: N starts at once, the daemon killed at
# the AT-th start's step POINT; then a daemon without the fault.
kill_burst() {
  local name=$1 n=$2 point=$3 at=$4 what=$5 i s st rc pid inits adopted out running_before
  local slugs=() bad=() running=()
  fresh_state
  fault_daemon "$point:kill@$at" || { echo "Bail out! faulted ptenantd"; exit 1; }
  for i in $(seq -w 1 "$n"); do
    tpt create "$name$i" --blueprint echo-bot@1 --memory 64M --pids 64 --no-start >/dev/null && slugs+=("$name$i")
  done
  ((${#slugs[@]} == n)) || { echo "Bail out! created ${#slugs[@]} of $n"; exit 1; }
  start_all "$W/$name" "${slugs[@]}"
  wait_all
  if grep -qF "PTENANT_FAULT: fired at $point" "$W/daemon.log"; then
    ok "$name: the daemon died at $what"
  else
    not_ok "$name: the daemon died at $what"
    sed 's/^/#   /' "$W/daemon.log" | tail -n 20
  fi
  running_before=$(grep -l ': running' "$W/$name"/*.out 2>/dev/null | wc -l)
  diag "$name: $running_before starts were answered before the daemon died"
  daemon_down
  fault_daemon "" || { echo "Bail out! ptenantd does not start again"; exit 1; }
  for _ in $(seq 150); do settled && [[ $(n_state starting) == 0 ]] && break; sleep 0.1; done
  # Running: its start was answered, or its child was made (state.json said
  # so from the clone on) and it was adopted or started again. Stopped: its
  # start never began, and its caller was told (the daemon died under it).
  while read -r s st; do
    rc=$(cat "$W/$name/$s.rc")
    if [[ $st == running ]]; then running+=("$s")
    elif [[ $st != stopped || $rc == 0 ]]; then bad+=("$s $st (start answered $rc)"); fi
  done < <(tpt --json ls | jq -r '.[] | "\(.slug) \(.state)"')
  if ((${#bad[@]} == 0)); then ok "$name: each tenant running, or stopped with its start call failed"
  else not_ok "$name: ${bad[*]}"; fi
  check "$name: every start answered 'running' before the kill is running" \
    test "$(comm -23 <(grep -l ': running' "$W/$name"/*.out | xargs -rn1 basename | sed 's/\.out$//' | sort) \
      <(printf '%s\n' "${running[@]}" | sort))" = ""
  # One init per tenant: no second one for a tenant whose child had exec'd.
  inits=$(for s in "${running[@]}"; do pid=$(pid_of "$s"); readlink "/proc/$pid/ns/pid"; done | sort -u | wc -l)
  check "$name: one distinct init per running tenant (${#running[@]})" test "$inits" = "${#running[@]}"
  adopted=$(tpt --json events | jq '[.[] | select(.event == "adopted")] | length')
  diag "$name: ${#running[@]} running: $adopted adopted, the others started again; $((n - ${#running[@]})) stopped"
  out=$(leftovers)
  if [[ -z $out ]]; then ok "$name: nothing left that no tenant owns"
  else not_ok "$name: $(tr '\n' ';' <<<"$out")"; fi
  for s in "${slugs[@]}"; do tpt rm "$s" >/dev/null 2>&1; done
  out=$(leftovers)
  if [[ -z $out ]]; then ok "$name: after rm of all, nothing at all"
  else not_ok "$name: after rm: $(tr '\n' ';' <<<"$out")"; fi
  daemon_down
}
kill_burst kill 60 p2b-net-host-side 30 "the 30th start's p2b step"
# p3b is where a start's state save, written on the state writer's thread,
# is done and the child told: others are queued behind it.
kill_burst killrec 30 p3b-recorded 15 "the 15th start's p3b step (recorded)"
done_testing

#!/bin/bash
# The trash (src/ptenantd/trash.c): a start renames the tenant's previous
# writable layer into its trash/ and a helper process, the reaper, removes
# it off the daemon's thread. Against the fault-injection build:
#   1. a restart: the old layer (with what the tenant wrote in it) is gone
#      from trash/ soon after, the new layer is empty, no upper.old;
#   2. a hostile layer (a symlink to a host file, a deep tree, many files,
#      a chain deeper than pt_rmtree_at walks) is removed without touching
#      what the symlink names;
#   3. the reaper held (trash.remove:hang): it runs at nice 19 in the idle
#      I/O class, with no file of the daemon's but its stdio, as a child of
#      the daemon; `rm` of a tenant meanwhile succeeds (the reaper is ended
#      first and the next one goes on); SIGKILL of the daemon ends it too
#      (parent-death signal), and the next daemon empties what is left;
#   4. a reaper that cannot remove (trash.remove:EIO) or cannot be made
#      (trash.fork:EIO): the starts go on, the log says why and when it is
#      tried again, the trash stays until then;
#   5. what a daemon before the trash left (upper.old, work.old) is removed
#      at start.
#   PTENANT_BUILD=build-fault tests/fault/trash.sh
. "$(dirname "$0")/lib.sh"
fault_setup trash 3000

fault_daemon "" || { echo "Bail out! ptenantd does not start"; cat "$W/daemon.log"; exit 1; }
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null || { echo "Bail out! blueprint import"; exit 1; }

T=$W/state/tenants
trash_count() { find "$T/$1/trash" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# wait_trash_empty SLUG [TRIES]: every 0.05 s.
wait_trash_empty() {
  for _ in $(seq "${2:-200}"); do
    [[ $(trash_count "$1") == 0 ]] && return 0
    sleep 0.05
  done
  return 1
}
# The reaper: the daemon's child named ptenantd-trash (empty if none).
reaper_pid() {
  local p
  for p in $(pgrep -P "$DAEMON_PID" 2>/dev/null); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == ptenantd-trash ]] && { echo "$p"; return; }
  done
}
wait_reaper() {
  local p
  for _ in $(seq 200); do
    p=$(reaper_pid)
    [[ -n $p ]] && { echo "$p"; return 0; }
    sleep 0.025
  done
  return 1
}

# ---- 1. a restart --------------------------------------------------------------------
tpt create a1 --blueprint echo-bot@1 >/dev/null || { echo "Bail out! create a1"; exit 1; }
tpt exec a1 -- sh -c 'echo planted >/etc/marker; mkdir -p /var/x/y; echo z >/var/x/y/z' >/dev/null
check "restart: the run wrote into its writable layer" test -f "$T/a1/upper/etc/marker"
p0=$(pid_of a1)
tpt restart a1 >/dev/null
check "restart: a1 runs again" wait_new_pid a1 "$p0" 200
check "restart: the new layer has no /etc/marker" test ! -e "$T/a1/upper/etc/marker"
check "restart: the old layer left the trash soon after" wait_trash_empty a1
check "restart: nothing of the old layer is left anywhere in a1's directory" \
  bash -c "! grep -rqs planted '$T/a1' --exclude-dir=data"
check "restart: no upper.old or work.old" test ! -e "$T/a1/upper.old" -a ! -e "$T/a1/work.old"
out=$(tpt exec a1 -- sh -c 'cat /etc/marker 2>/dev/null || echo absent')
check "restart: the tenant sees a fresh layer ($out)" test "$out" = absent

# ---- 2. a hostile layer ---------------------------------------------------------------
echo canary >"$W/canary"
mkdir -p "$W/canary-dir" && echo keep >"$W/canary-dir/f"
# A symlink to a host file and to a host directory, 2000 files, a tree
# 300 levels deep: all in the tenant's own layer.
tpt exec a1 -- sh -c "ln -s '$W/canary' /etc/evil; ln -s '$W/canary-dir' /etc/evil-dir;
  mkdir -p /var/many && cd /var/many && i=0; while [ \$i -lt 2000 ]; do : >f\$i; i=\$((i+1)); done;
  cd /var && i=0; while [ \$i -lt 300 ]; do mkdir d && cd d; i=\$((i+1)); done; echo deep >leaf" >/dev/null 2>&1
check "hostile: the layer has the symlinks, the files and the deep tree" \
  bash -c "test -L '$T/a1/upper/etc/evil' && test \$(ls '$T/a1/upper/var/many' | wc -l) = 2000 && test -d '$T/a1/upper/var/d/d/d'"
p0=$(pid_of a1)
tpt restart a1 >/dev/null
wait_new_pid a1 "$p0" 200 >/dev/null
check "hostile: the trash is emptied" wait_trash_empty a1 400
check "hostile: the host file the symlink named is untouched" test "$(cat "$W/canary")" = canary
check "hostile: the host directory the symlink named is untouched" test "$(cat "$W/canary-dir/f")" = keep
# Deeper than pt_rmtree_at walks (4096 levels): the reaper cuts the chain.
# A shell's cd stops short of PATH_MAX (about 2000 levels of "/e"), so
# three chains of 2000 are stacked by moving each under the next's bottom.
tpt exec a1 -- sh -c 'mk() { cd /var && mkdir "$1" && cd "$1" && i=1;
    while [ $i -lt 2000 ]; do mkdir e && cd e || exit 1; i=$((i+1)); done; }
  mk A && mk B && mv /var/A . && mk C && mv /var/B .' >/dev/null 2>&1
depth=$(find "$T/a1/upper/var/C" -type d 2>/dev/null | wc -l)
check "hostile: the layer holds a chain of 6000 directories ($depth)" test "$depth" -ge 6000
p0=$(pid_of a1)
tpt restart a1 >/dev/null
wait_new_pid a1 "$p0" 200 >/dev/null
check "hostile: the trash is emptied of the chain too" wait_trash_empty a1 600
check "hostile: the reaper said nothing failed" bash -c "! grep -q 'trash: tenant a1' '$W/daemon.log'"

# ---- 3. the reaper held ---------------------------------------------------------------
daemon_down
fault_daemon "trash.remove:hang" || { echo "Bail out! daemon with trash.remove:hang"; exit 1; }
wait_until_running() { for _ in $(seq 200); do [[ $(tpt --json inspect "$1" 2>/dev/null | jq -r .state) == running ]] && return 0; sleep 0.05; done; return 1; }
wait_until_running a1
tpt create a2 --blueprint echo-bot@1 >/dev/null
p0=$(pid_of a1)
tpt restart a1 >/dev/null
wait_new_pid a1 "$p0" 200 >/dev/null
rp=$(wait_reaper)
check "held: a reaper runs ($rp), a child of the daemon" test -n "$rp"
if [[ -n $rp ]]; then
  check "held: at nice 19" test "$(ps -o ni= -p "$rp" | tr -d ' ')" = 19
  check "held: in the idle I/O class" bash -c "ionice -p $rp | grep -q '^idle'"
  fds=$(ls "/proc/$rp/fd" | sort -n | tr '\n' ' ')
  # 0-2, and the directories it walks (tenants/, a1/, a1/trash/)
  n_sock=$(find "/proc/$rp/fd" -lname 'socket:*' 2>/dev/null | wc -l)
  check "held: it holds no socket of the daemon's (fds: $fds)" test "$n_sock" = 0
  # (and, in this fault build, the copy of stderr faults are announced on)
  check "held: it holds nothing but stdio and directories" \
    bash -c "for f in /proc/$rp/fd/*; do n=\${f##*/}; [ \$n -le 2 ] && continue; [ -d \"\$f\" ] || [ \"\$f\" -ef /proc/$rp/fd/2 ] || exit 1; done"
fi
check "held: the old layer waits in a1's trash" test "$(trash_count a1)" -ge 1
check "held: a start goes on meanwhile (a2 runs)" wait_until_running a2
check "held: rm of a1 while the reaper is in its trash succeeds" tpt rm a1
check "held: a1's directory is gone" test ! -e "$T/a1"
check "held: that reaper was ended" bash -c "! kill -0 $rp 2>/dev/null || [ \"\$(cat /proc/$rp/comm 2>/dev/null)\" != ptenantd-trash ]"
p0=$(pid_of a2)
tpt restart a2 >/dev/null
wait_new_pid a2 "$p0" 200 >/dev/null
rp2=$(wait_reaper)
check "held: the next reaper runs ($rp2)" test -n "$rp2" -a "$rp2" != "$rp"
kill -KILL "$DAEMON_PID"
{ wait "$DAEMON_PID"; } 2>/dev/null
gone=0
for _ in $(seq 100); do kill -0 "$rp2" 2>/dev/null || { gone=1; break; }; sleep 0.02; done
check "held: SIGKILL of the daemon ends its reaper too" test "$gone" = 1
DAEMON_PIDS=(); rm -f "$W/run/ptenantd.sock"
check "held: a2's trash still holds the old layer" test "$(trash_count a2)" -ge 1
fault_daemon "" || { echo "Bail out! daemon after SIGKILL"; exit 1; }
check "held: the next daemon empties it" wait_trash_empty a2
wait_until_running a2

# ---- 4. a reaper that fails -----------------------------------------------------------
daemon_down
fault_daemon "trash.remove:EIO" || { echo "Bail out! daemon with trash.remove:EIO"; exit 1; }
wait_until_running a2
p0=$(pid_of a2)
tpt restart a2 >/dev/null
check "EIO: a2 restarts all the same" wait_new_pid a2 "$p0" 200
ok=0
for _ in $(seq 200); do grep -q "trash: the reaper exited with 1; what is left is tried again in 60 s" "$W/daemon.log" && { ok=1; break; }; sleep 0.05; done
check "EIO: the log names the failed removal and when it is tried again" \
  bash -c "[ $ok = 1 ] && grep -Eq 'trash: tenant a2: trash/(upper|work)\..*trash.remove: injected fault' '$W/daemon.log'"
check "EIO: the old layer stays in the trash meanwhile" test "$(trash_count a2)" -ge 1
p0=$(pid_of a2)
tpt restart a2 >/dev/null
check "EIO: a second restart within the minute works" wait_new_pid a2 "$p0" 200
daemon_down
fault_daemon "trash.fork:EIO" || { echo "Bail out! daemon with trash.fork:EIO"; exit 1; }
wait_until_running a2
check "fork EIO: the log says so" \
  bash -c "grep -q 'trash: trash.fork: injected fault: Input/output error; tried again in 60 s' '$W/daemon.log'"
p0=$(pid_of a2)
tpt restart a2 >/dev/null
check "fork EIO: a2 restarts all the same" wait_new_pid a2 "$p0" 200
check "fork EIO: no reaper runs" test -z "$(reaper_pid)"
daemon_down
fault_daemon "" || { echo "Bail out! daemon"; exit 1; }
check "the next daemon, faultless, empties the trash" wait_trash_empty a2

# ---- 5. what an older daemon left -------------------------------------------------------
daemon_down
mkdir -p "$T/a2/upper.old/etc" "$T/a2/work.old/root/work"
echo old >"$T/a2/upper.old/etc/f"
fault_daemon "" || { echo "Bail out! daemon"; exit 1; }
gone=0
for _ in $(seq 200); do [[ ! -e $T/a2/upper.old && ! -e $T/a2/work.old ]] && { gone=1; break; }; sleep 0.05; done
check "legacy: upper.old and work.old of an older daemon are removed at start" test "$gone" = 1
check "legacy: a2 still runs" wait_until_running a2

tpt rm a2 >/dev/null
[[ -z $(leftovers) ]] && ok "nothing left over" || { not_ok "leftovers"; leftovers | sed 's/^/# /'; }
daemon_down
done_testing

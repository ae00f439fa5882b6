#!/usr/bin/env bash
# The security tier: a hostile tenant attacks its cage from the inside.
# Starts its own ptenantd on a throwaway state dir, three tenants (alpha
# attacks; beta is the neighbour with a secret, a marker process, a tcp
# port and an abstract socket; gamma runs as uid 1000), runs each named
# attack inside alpha as its root through `ptenant exec`, and checks the
# host side of the rest. TAP on stdout; exits non-zero when any attack
# succeeded. Controls (the same probes run where they must succeed) prove
# the probes can see a breach at all.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${PTENANT_BUILD:-$top/build}
W=$(mktemp -d /tmp/ptenant-security.XXXXXX)
STATE=$W/state RUN=$W/run
MARK="PTSEC_DAEMON_ENV_$$"
n=0 tried=0 blocked=0 failed=0
. "$top/tests/lib/tenant-procs.sh"
UID_BASE=$(pt_test_uid_base)
pt() { "$build/src/ptenant/ptenant" --socket "$RUN/ptenantd.sock" "$@"; }
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# Tenants through the daemon, then whatever is left in our uid slot (by
# pid, after checking its uid): a leftover fails the run.
cleanup() {
  local rc=$? left
  for s in alpha beta gamma delta hstream hsilent hquiet hflood hfork; do pt rm "$s" >/dev/null 2>&1; done
  [[ -n ${dpid:-} ]] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
  if ! left=$(kill_uid_range "$UID_BASE" $((UID_BASE + PT_TEST_UID_SPAN))); then
    echo "Bail out! tenant processes were left running (now killed): $(echo $left)"
    rc=1
  fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT

# attack NAME PROBE-ARGS...: must exit 0 (blocked) inside alpha.
attack_in() {
  local slug=$1 name=$2; shift 2
  local out rc
  tried=$((tried + 1))
  out=$(timeout 20 "$build/src/ptenant/ptenant" --socket "$RUN/ptenantd.sock" exec "$slug" -- /usr/bin/probe "$@" 2>&1)
  rc=$?
  if ((rc == 0)); then blocked=$((blocked + 1)); ok "attack $name: ${out//$'\n'/ | }"
  else notok "attack $name (exit $rc): ${out//$'\n'/ | }"; fi
}
attack() { attack_in alpha "$@"; }
# A host-side attack: the command must succeed (= the attack failed).
attack_host() {
  local name=$1 why=$2; shift 2
  tried=$((tried + 1))
  if "$@"; then blocked=$((blocked + 1)); ok "attack $name: $why"; else notok "attack $name: $why"; fi
}
# control SLUG PROBE-ARGS: the probe must report a breach where access is legitimate.
control() {
  local slug=$1; shift
  if timeout 20 "$build/src/ptenant/ptenant" --socket "$RUN/ptenantd.sock" exec "$slug" -- /usr/bin/probe "$@" >/dev/null 2>&1; then
    notok "control: probe $* in $slug does not see what is really there"
  else ok "control: probe $* in $slug sees it (the probe can fail)"; fi
}

# ---- set up ---------------------------------------------------------------
# PTENANT_PROBE: a probe built elsewhere (the systemd tier's guest has no gcc).
if [[ -n ${PTENANT_PROBE:-} ]]; then
  cp "$PTENANT_PROBE" "$W/probe" || { echo "Bail out! no probe at $PTENANT_PROBE"; exit 1; }
else
  gcc -static -O1 -Wall -Wextra -Werror -o "$W/probe" "$top/tests/security/probe.c" || { echo "Bail out! cannot build the probe"; exit 1; }
fi
"$top/rootfs-tools/ptenant-mkblueprint" "$W/bp" >/dev/null || { echo "Bail out! mkblueprint failed"; exit 1; }
install -m 0755 "$W/probe" "$W/bp/rootfs/usr/bin/probe"
install -m 4755 "$W/probe" "$W/bp/rootfs/usr/bin/probe-suid"
have_setcap=0
if command -v setcap >/dev/null; then
  install -m 0755 "$W/probe" "$W/bp/rootfs/usr/bin/probe-fcaps"
  setcap cap_setuid,cap_sys_admin+ep "$W/bp/rootfs/usr/bin/probe-fcaps" && have_setcap=1
fi
echo canary >"$W/canary"; chmod 0600 "$W/canary"
# Every tenant has its next run parked (issue 11): the attacks below run
# with standbys present, and some aim at them.
echo "respawn_standby = on" >"$W/ptenantd.conf"
env "$MARK=1" "$build/src/ptenantd/ptenantd" -c "$W/ptenantd.conf" --state-dir "$STATE" --runtime-dir "$RUN" \
  --uid-base "$UID_BASE" --cgroup-mode off --init "$build/src/init/ptenant-init" >"$W/ptenantd.log" 2>&1 &
dpid=$!
for _ in $(seq 100); do [[ -S $RUN/ptenantd.sock ]] && break; sleep 0.05; done
pt blueprint import sec@1 "$W/bp" >/dev/null || { cat "$W/ptenantd.log"; echo "Bail out! import"; exit 1; }
pt create alpha --blueprint sec@1 >/dev/null || { echo "Bail out! create alpha"; exit 1; }
pt create -f /dev/stdin --secret beta_token=BETA-SECRET-VALUE >/dev/null <<'J' || { echo "Bail out! create beta"; exit 1; }
{"slug": "beta", "blueprint": "sec@1", "entrypoint": ["/bin/sh", "-c",
 "/usr/bin/probe listen @beta-abstract-sock & exec /usr/bin/probe listen 9999 beta-marker-proc"]}
J
pt create gamma --blueprint sec@1 --user 1000:1000 >/dev/null || { echo "Bail out! create gamma"; exit 1; }
sleep 0.5
pt exec beta -- sh -c 'echo beta-private >/data/beta-data-file' || { echo "Bail out! beta exec"; exit 1; }
ls_field() { pt --json ls | jq -r --arg s "$1" ".[] | select(.slug == \$s) | .$2"; }
pid_of() { ls_field "$1" pid; }
beta_pid=$(pid_of beta)

# ---- controls -------------------------------------------------------------
control beta connect-tcp 9999
control beta connect-unix @beta-abstract-sock
control beta scan-cmdline beta-marker-proc
control beta no-path /data/beta-data-file

# ---- attacks from inside alpha, as its root ------------------------------
for a in mount mount-proc fsopen open-tree umount-mask pivot-root userns-unshare \
         userns-clone userns-clone3 netns-unshare setns mknod-block mknod-mem init-module \
         finit-module delete-module kexec keyctl add-key request-key bpf perf-event-open \
         userfaultfd io-uring read-kcore read-keys write-sysrq write-proc-sys \
         write-core-pattern write-sys write-uevent-helper open-by-handle raw-socket \
         packet-socket vsock netlink-audit netlink-uevent socket-highbits netconf-ioctl \
         netconf-netlink tiocsti tiocsti-highbits tioclinux overwrite-init inherited-fd \
         i386-abi x32-abi caps capset chroot-escape raise-rlimit syslog settime reboot host-dev; do
  attack "$a" "$a"
done
for f in interrupts timer_list sched_debug kallsyms softirqs iomem; do
  attack "read-/proc/$f" read-masked "/proc/$f"
done
for dir in /sys/firmware /sys/class/thermal /sys/devices/virtual/thermal /sys/devices/virtual/powercap /proc/acpi; do
  attack "list-$dir" masked-dir "$dir"
done
attack ptrace-neighbour-init ptrace-pid "$beta_pid"
# The standbys: a tenant's next run, parked, and its neighbour's.
standby_of() {
  local p
  for _ in $(seq 100); do
    p=$(pt --json inspect "$1" | jq -r 'select(.standby.state == "ready") | .standby.pid')
    [[ -n $p ]] && { echo "$p"; return; }
    sleep 0.05
  done
}
alpha_sb=$(standby_of alpha) beta_sb=$(standby_of beta)
if [[ -n $alpha_sb && -n $beta_sb ]]; then
  ok "standbys parked for alpha ($alpha_sb) and beta ($beta_sb)"
  attack ptrace-own-standby ptrace-pid "$alpha_sb"
  attack ptrace-neighbour-standby ptrace-pid "$beta_sb"
  attack see-own-standby scan-cmdline "ptenant-init --standby"
  attack see-own-standby-layer no-path "$STATE/tenants/alpha/upper.next"
  sb_uid=$(awk '/^Uid:/ {print $2}' "/proc/$alpha_sb/status")
  # From the host with alpha's own uids (as if it had escaped its pid
  # namespace): another user namespace, not dumpable. The control is a
  # plain process of that uid, which the same reads can reach.
  setpriv --reuid="$sb_uid" --regid="$sb_uid" --clear-groups sleep 30 &
  victim=$!
  sleep 0.1
  as_sb_uid() { setpriv --reuid="$sb_uid" --regid="$sb_uid" --clear-groups "$@"; }
  attach_py='import ctypes, sys; sys.exit(ctypes.CDLL(None).ptrace(16, int(sys.argv[1]), 0, 0))'
  if as_sb_uid cat "/proc/$victim/environ" >/dev/null 2>&1; then
    ok "control: alpha's uid reads a plain process's environ (the read can succeed)"
  else notok "control: alpha's uid cannot read its own plain process's environ"; fi
  # The ptrace pair needs python3 (the systemd tier's minbase guest has none).
  have_py=0
  if [[ ! -x /usr/bin/python3 ]]; then
    ok "control: ptrace as alpha's uid # SKIP no /usr/bin/python3 here"
  elif as_sb_uid /usr/bin/python3 -c "$attach_py" "$victim" >/dev/null 2>&1; then
    have_py=1
    ok "control: alpha's uid ptraces a plain process of its own (the attach can succeed)"
  else notok "control: alpha's uid cannot ptrace its own plain process"; fi
  kill -KILL "$victim"; wait "$victim" 2>/dev/null
  attack_host read-standby-environ-as-tenant-uid "alpha's uid cannot read its standby's environ" \
    eval "! as_sb_uid cat /proc/$alpha_sb/environ >/dev/null 2>&1"
  if ((have_py)); then
    attack_host ptrace-standby-as-tenant-uid "alpha's uid cannot ptrace its standby" \
      eval "! as_sb_uid /usr/bin/python3 -c \"\$attach_py\" $alpha_sb >/dev/null 2>&1"
  fi
else
  notok "standbys parked for alpha (${alpha_sb:-none}) and beta (${beta_sb:-none})"
fi
attack ptrace-daemon ptrace-pid "$dpid"
# The daemon runs at daemon_nice (-10 by default), its tenants at the
# nice it was started with (0 here), their setup included.
attack raise-priority raise-priority
attack_host tenant-priority "alpha's init runs at nice 0 while the daemon runs at -10" \
  eval '[[ $(ps -o ni= -p "$dpid" | tr -d " ") == -10 && $(ps -o ni= -p "$(pid_of alpha)" | tr -d " ") == 0 ]]'
attack see-neighbour-processes scan-cmdline beta-marker-proc
attack see-neighbour-data no-path "$STATE/tenants/beta/data/beta-data-file"
attack see-neighbour-secrets no-path "$STATE/tenants/beta/secrets/beta_token"
attack see-neighbour-secret-mount scan-environ BETA-SECRET-VALUE
attack see-neighbour-tcp connect-tcp 9999
attack see-neighbour-abstract-socket connect-unix @beta-abstract-sock
attack see-daemon-environment scan-environ "$MARK"
attack reach-daemon-api-socket connect-unix "$RUN/ptenantd.sock"
attack see-host-state-dir no-path "$STATE"
attack setuid-binary-as-root-in-tenant euid-is 0
attack_in gamma setuid-binary-as-uid-1000 euid-is 1000
tried=$((tried + 1))
out=$(pt exec gamma -- /usr/bin/probe-suid euid-is 1000 2>&1)
rc=$?; out=${out//$'\n'/ | }
if [[ $rc == 0 ]]; then blocked=$((blocked + 1)); ok "attack setuid-root-binary-from-uid-1000: $out"
else notok "attack setuid-root-binary-from-uid-1000: $out"; fi
if ((have_setcap)); then
  tried=$((tried + 1))
  out=$(pt exec gamma -- /usr/bin/probe-fcaps capset 2>&1)
  if [[ $? == 0 ]]; then blocked=$((blocked + 1)); ok "attack file-caps-binary: $out"
  else notok "attack file-caps-binary: $out"; fi
fi
attack_in gamma caps-of-uid-1000 caps

# ---- the daemon's channels: notify (the tenant's own) and ingress (not its) --
attack connect-ingress-channel connect-seqpacket "$RUN/ingress.sock"
if command -v python3 >/dev/null; then
  attack_host control-ingress-channel "the host (root) reaches that very socket, so the path is real" \
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])' "$RUN/ingress.sock"
else
  ok "control-ingress-channel # SKIP no python3 here to connect from the host"
fi
notify_of() { pt --json inspect "$1" | jq -r ".notify.$2"; }
beta_ignored=$(notify_of beta ignored)
attack notify-flood notify-flood
t0=$(date +%s%N)
pt ls >/dev/null
t1=$(date +%s%N)
attack_host notify-flood-daemon "the daemon answers at once after alpha's flood ($(( (t1 - t0) / 1000000 )) ms)" \
  test $(( (t1 - t0) / 1000000 )) -lt 2000
attack_host notify-flood-counted "alpha's flood was counted as ignored ($(notify_of alpha ignored))" \
  test "$(notify_of alpha ignored)" -gt 0
attack_host notify-flood-neighbour "beta's notify counters did not move" \
  test "$(notify_of beta ignored)" = "$beta_ignored"
attack_host notify-flood-alive "alpha still runs" test "$(ls_field alpha state)" = running

# ---- the ingress's TLS key: nowhere a tenant can reach -------------------
ingress=$build/src/ingress/ptenant-ingress
if command -v openssl >/dev/null && [[ -x $ingress ]]; then
  mkdir -p "$W/tls"; chmod 700 "$W/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/tls/key.pem" \
    -out "$W/tls/cert.pem" -days 2 -subj "/CN=*.sec.test" -addext "subjectAltName=DNS:*.sec.test" 2>/dev/null
  chmod 600 "$W/tls/key.pem"
  # Key bytes (line 2 starts with the same ASN.1 header for every P-256
  # key): in no file or environment a tenant sees.
  key_marker=$(sed -n 3p "$W/tls/key.pem" | cut -c1-40)
  printf '[sec.test]\ncert = %s\nkey = %s\n' "$W/tls/cert.pem" "$W/tls/key.pem" >"$W/ingress.conf"
  echo '{"version": 1, "routes": {}}' >"$RUN/routes.json"
  "$ingress" --config "$W/ingress.conf" --listen 127.0.0.1:18571 --https-listen 127.0.0.1:18572 \
    --routes "$RUN/routes.json" --wake-socket "" 2>"$W/ingress.log" &
  ipid=$!
  kpid=
  for _ in $(seq 50); do
    kpid=$(cut -d' ' -f1 "/proc/$ipid/task/$ipid/children" 2>/dev/null)
    grep -q "uid 65534" "$W/ingress.log" && [[ -n $kpid ]] && break; sleep 0.1
  done
  if [[ -n $kpid ]]; then
    ok "ptenant-ingress with a TLS key runs (pid $ipid, key helper $kpid)"
    pt exec beta -- sh -c "echo '$key_marker' >/data/beta-key-marker" >/dev/null
    control beta scan-files "$key_marker"
    pt exec beta -- rm -f /data/beta-key-marker >/dev/null
    attack read-ingress-key no-path "$W/tls/key.pem"
    attack find-ingress-key-in-files scan-files "$key_marker"
    attack find-ingress-key-in-environ scan-environ "$key_marker"
    attack ptrace-ingress ptrace-pid "$ipid"
    attack ptrace-ingress-key-helper ptrace-pid "$kpid"
    a_uid=$(awk '/^Uid:/ {print $2}' "/proc/$(pid_of alpha)/status")
    as_alpha_uid() { setpriv --reuid="$a_uid" --regid="$a_uid" --clear-groups "$@"; }
    attack_host read-ingress-key-as-tenant-uid "alpha's host uid $a_uid cannot read the key file" \
      eval "! as_alpha_uid cat '$W/tls/key.pem' >/dev/null 2>&1"
    attack_host read-key-helper-memory-as-tenant-uid "alpha's host uid cannot read the key helper's memory" \
      eval "! as_alpha_uid dd if=/proc/$kpid/mem bs=1 count=1 skip=4096 >/dev/null 2>&1"
    attack_host read-ingress-environ-as-tenant-uid "alpha's host uid cannot read the ingress's environ" \
      eval "! as_alpha_uid cat /proc/$ipid/environ >/dev/null 2>&1"
  else
    notok "ptenant-ingress with a TLS key did not start: $(cat "$W/ingress.log")"
  fi
  kill "$ipid" 2>/dev/null; wait "$ipid" 2>/dev/null
else
  ok "the ingress's TLS key # SKIP no openssl or no ptenant-ingress here"
fi

# ---- image import: a hostile OCI image aims at the host ------------------
importer=$build/src/import/ptenant-import
if [[ -x $importer && -x /usr/bin/python3 ]]; then
  craft_img() { /usr/bin/python3 "$top/tests/integration/oci-craft.py" "$1"; }
  # hostile_image NAME WHY-PATTERN LAYER2-ENTRIES: layer 1 plants a link
  # to the host's state dir and to the canary's directory.
  hostile_image() {
    local img=$W/img-$1 out rc
    craft_img "$img" <<J
{"config": {"Cmd": ["/x"]}, "layers": [{"entries": [{"name": "up", "type": "symlink", "target": "$W"},
  {"name": "st", "type": "symlink", "target": "$STATE"}]}, {"entries": $3}]}
J
    out=$("$importer" "oci:$img" "$W/out-$1" 2>&1); rc=$?
    tried=$((tried + 1))
    if [[ $rc != 0 && $out == *"$2"* && ! -e $W/out-$1 && $(cat "$W/canary") == canary &&
          ! -e $STATE/evil && ! -e $W/evil ]]; then
      blocked=$((blocked + 1)); ok "attack image-$1: refused ($2); host canary and state dir untouched"
    else notok "attack image-$1: $out"; fi
  }
  hostile_image write-through-planted-link "a path through a symlink" '[{"name": "up/canary", "data": "pwned"}]'
  hostile_image write-into-state-dir "a path through a symlink" '[{"name": "st/evil", "data": "pwned"}]'
  hostile_image dotdot "a \"..\" component" '[{"name": "../../../../../../evil", "data": "pwned"}]'
  hostile_image hardlink-host-file "a hard link to ../../../../etc/shadow" \
    '[{"name": "shadow", "type": "hardlink", "target": "../../../../etc/shadow"}]'
  hostile_image whiteout-through-link "its directory is not a directory inside the root" \
    '[{"name": "up/.wh.canary"}]'
  hostile_image device-node "a device node" '[{"name": "kmem", "type": "char"}]'
else
  ok "hostile images # SKIP no ptenant-import or no python3 here"
fi

# ---- health checks: hostile answers to the daemon's own checks ------------
# The checks read what a tenant sends (http) and what its command prints
# (exec): an endless answer, no answer, an endless output, a command that
# leaves a child holding its output. Each check ends with a verdict, the
# daemon keeps answering, and its memory and open files stay where they were.
fds_of() { ls "/proc/$dpid/fd" | wc -l; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$dpid/status"; }
health_of() { pt --json inspect "$1" | jq -r ".health.$2 // empty"; }
fd0=$(fds_of) rss0=$(rss_of)
hostile_health() { # slug, entrypoint shell, health json
  printf '{"slug": "%s", "blueprint": "sec@1", "entrypoint": ["/bin/sh", "-c", %s], "health": %s}\n' \
    "$1" "$(jq -Rn --arg s "$2" '$s')" "$3" | pt create -f /dev/stdin >/dev/null ||
    notok "create $1 for the health attacks"
}
hostile_health hstream "while :; do yes | tr -d '\\n' | nc -l -p 8080; done" \
  '{"http": {"path": "/", "port": 8080}, "interval": "1s", "timeout": "900ms", "retries": 100}'
hostile_health hsilent "sleep 100000 | nc -l -p 8080" \
  '{"tcp": {"port": 8081}, "interval": "1s", "timeout": "900ms", "retries": 100}'
hostile_health hquiet "while :; do sleep 100000 | nc -l -p 8080; done" \
  '{"http": {"port": 8080}, "interval": "1s", "timeout": "900ms", "retries": 100}'
hostile_health hflood "exec sleep 100000" \
  '{"exec": ["yes", "flood"], "interval": "2s", "timeout": "1500ms", "retries": 100}'
hostile_health hfork "exec sleep 100000" \
  '{"exec": ["/bin/sh", "-c", "sleep 100000 & echo forked"], "interval": "1s", "retries": 100}'
said() { # slug, pattern: the last check said so
  local i
  for i in $(seq 100); do [[ $(health_of "$1" last_output) == $2 ]] && return 0; sleep 0.1; done
  echo "# $1 said: $(health_of "$1" last_output)"; return 1
}
attack_host health-endless-answer "an endless answer is cut at the status line limit, not at the timeout ($(said hstream '*not an HTTP response: yyyy*'; health_of hstream last_check_ms) ms)" \
  bash -c "[[ \$($build/src/ptenant/ptenant --socket $RUN/ptenantd.sock --json inspect hstream | jq -r .health.last_check_ms) -lt 900 ]]"
attack_host health-no-answer "an answer that never comes is cut at the timeout" said hquiet 'no answer within 900ms'
attack_host health-refused "a port nobody listens on fails at once" said hsilent 'connect to port 8081: Connection refused'
attack_host health-output-flood "an endless output is cut at the timeout" said hflood 'no answer within 1500ms'
attack_host health-held-pipe "a child holding the output pipe does not hold the verdict" said hfork 'exit 0: forked'
t0=$(date +%s%N); pt ls >/dev/null; t1=$(date +%s%N)
attack_host health-daemon-answers "the daemon answers at once meanwhile ($(( (t1 - t0) / 1000000 )) ms)" \
  test $(( (t1 - t0) / 1000000 )) -lt 2000
sleep 3 # more checks of each kind
rss1=$(rss_of)
attack_host health-daemon-memory "the daemon's memory did not grow with the floods (${rss0} -> ${rss1} KiB)" \
  test $((rss1 - rss0)) -lt 2048
for s in hstream hsilent hquiet hflood hfork; do pt rm "$s" >/dev/null 2>&1; done
sleep 0.5
attack_host health-daemon-fds "the daemon holds no more files than before the checks ($fd0 -> $(fds_of))" \
  test "$(fds_of)" -le "$fd0"

# ---- host-side checks -------------------------------------------------------
bp_sum=$(sha256sum "$STATE"/blueprints/sec/1/rootfs/etc/passwd 2>/dev/null | cut -d' ' -f1)
pt exec alpha -- sh -c 'echo "evil::0:0::/:/bin/sh" >>/etc/passwd' >/dev/null 2>&1
attack_host modify-shared-blueprint "the blueprint and beta's /etc/passwd are unchanged" \
  bash -c "[[ \$(sha256sum '$STATE'/blueprints/sec/1/rootfs/etc/passwd | cut -d' ' -f1) == '$bp_sum' ]] && ! $build/src/ptenant/ptenant --socket $RUN/ptenantd.sock exec beta -- grep -q evil /etc/passwd"

# Plant symlinks and fifos where the daemon works on the next spawn and exec.
pt exec alpha -- sh -c "ln -s '$W/canary' /data/canary-link; mkfifo /data/fifo; ln -s / /data/root-link;
  rm -f /etc/hostname /etc/hosts; mkfifo /etc/hostname; ln -s '$W/canary' /etc/hosts;
  mkdir -p /run/secrets 2>/dev/null; ln -s '$W/canary' /tmp/x; ln -s '$W/canary' /root/.profile" >/dev/null 2>&1
before=$(pid_of alpha)
kill -KILL "$(pgrep -P "$before" | head -1)"
respawned=0
for _ in $(seq 100); do
  p=$(pid_of alpha 2>/dev/null); st=$(ls_field alpha state)
  [[ $st == running && $p != "$before" ]] && { respawned=1; break; }
  sleep 0.1
done
attack_host respawn-with-planted-fifos-and-symlinks "alpha respawned (no hang on a fifo)" test "$respawned" = 1
if [[ $p == "${alpha_sb:-}" ]]; then ok "alpha's respawn was its standby's ($p)"
else notok "alpha's respawn was not its standby's (pid $p, standby ${alpha_sb:-none})"; fi
attack_host planted-symlink-followed "host canary unchanged, still root-owned 0600" \
  bash -c "[[ \$(cat '$W/canary') == canary && \$(stat -c %u:%a '$W/canary') == 0:600 ]]"
attack_host exec-after-planting "exec works and sees a fresh /etc/hostname" \
  bash -c "[[ \$($build/src/ptenant/ptenant --socket $RUN/ptenantd.sock exec alpha -- cat /etc/hostname) == alpha ]]"
attack_host upper-layer-reset "the writable layer is fresh (planted /etc/hosts symlink gone)" \
  bash -c "! $build/src/ptenant/ptenant --socket $RUN/ptenantd.sock exec alpha -- test -L /etc/hosts"

# ---- create-time validation: bad input never runs unfiltered --------------
bad_create() { # name, expected field, spec json
  local name=$1 field=$2 json=$3 out
  out=$(pt --json create -f /dev/stdin <<<"$json" 2>&1)
  if [[ $? != 0 && $out == *"$field"* ]] && ! pt ls | grep -q "^delta "; then ok "create refuses $name ($field)"
  else notok "create accepted or misreported $name: $out"; pt rm delta >/dev/null 2>&1; fi
}
bad_create "an unknown syscall" "seccomp_profile.allow[0]" '{"slug":"delta","blueprint":"sec@1","seccomp_profile":{"allow":["no_such_call"]}}'
bad_create "allowing mount" "seccomp_profile.allow[0]" '{"slug":"delta","blueprint":"sec@1","seccomp_profile":{"allow":["mount"]}}'
bad_create "a profile field typo" "seccomp_profile.alow" '{"slug":"delta","blueprint":"sec@1","seccomp_profile":{"alow":["read"]}}'
bad_create "an unknown rlimit" "rlimits.nofiles" '{"slug":"delta","blueprint":"sec@1","rlimits":{"nofiles":10}}'
bad_create "soft above hard" "rlimits.nofile" '{"slug":"delta","blueprint":"sec@1","rlimits":{"nofile":{"soft":10,"hard":5}}}'
bad_create "a non-numeric user" "user" '{"slug":"delta","blueprint":"sec@1","user":"nobody"}'
bad_create "a health path that adds a header to the daemon's request" "health.http.path" '{"slug":"delta","blueprint":"sec@1","health":{"http":{"path":"/a\r\nX-Evil: 1"}}}'
# A profile that tightens: mkdir denied in delta, allowed in alpha.
if pt create -f /dev/stdin >/dev/null <<<'{"slug":"delta","blueprint":"sec@1","seccomp_profile":{"deny":["mkdir","mkdirat"]},"rlimits":{"nofile":{"soft":64,"hard":128}}}'; then
  sleep 0.3
  if ! pt exec delta -- mkdir /tmp/d 2>/dev/null && pt exec alpha -- mkdir /tmp/d; then ok "profile deny [mkdir] takes effect in delta only"
  else notok "profile deny [mkdir] has no effect"; fi
  [[ $(pt exec delta -- sh -c 'ulimit -n') == 64 ]] && ok "rlimits.nofile 64:128 applies in delta (exec too)" || notok "rlimits.nofile not applied"
  [[ $(pt exec alpha -- sh -c 'ulimit -c') == 0 ]] && ok "core dumps off by default (rlimit core 0)" || notok "rlimit core is not 0"
else notok "create delta with a valid profile"; fi

# ---- inspect --security ----------------------------------------------------
sec=$(pt --json inspect --security alpha)
if jq -e '
  ([.init] + .processes) as $procs
  | all($procs[]; .NoNewPrivs == "1" and .Seccomp == "2" and .Seccomp_filters == "2")
  and all($procs[]; .CapInh.mask == "0000000000000000" and .CapAmb.mask == "0000000000000000")
  and (.init.CapBnd.names | index("cap_sys_admin") | not)
  and ([.namespaces[("user", "mnt", "pid", "net", "uts", "ipc", "cgroup")].own] | all)
  and (.masked_paths | index("/proc/interrupts")) and (.readonly_paths | index("/proc/sys"))
' <<<"$sec" >/dev/null; then ok "inspect --security alpha: own namespaces, NoNewPrivs 1, 2 seccomp filters on every process, masks listed"
else notok "inspect --security alpha: $sec"; fi

echo "# security: $tried attacks tried, $blocked blocked, $((tried - blocked)) succeeded"
echo "1..$n"
((failed == 0))

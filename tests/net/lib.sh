# Shared by the network tests: a network namespace of the test's own, a
# daemon inside it, TAP output. Nothing here touches the host's netns:
# every link, address, route and nft table lives in $NS (or in tenant
# netns whose peers are in $NS), and all traffic goes to 10.213.0.0/16
# or 10.214.0.0/16 inside them.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${PTENANT_BUILD:-$top/build}
PTENANTD=$BUILD/src/ptenantd/ptenantd
PTENANT=$BUILD/src/ptenant/ptenant
INIT=$BUILD/src/init/ptenant-init
BP_CACHE=${PTENANT_BP_CACHE:-/tmp/ptenant-net-blueprint}
# Debian's python3: the one tools/deps installs modules for (websockets),
# whatever else comes first on PATH.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
# shellcheck source=../lib/tenant-procs.sh
. "$top/tests/lib/tenant-procs.sh"
UID_BASE=$(pt_test_uid_base)

n_test=0 n_fail=0
ok() { n_test=$((n_test + 1)); echo "ok $n_test - $*"; }
not_ok() { n_test=$((n_test + 1)); n_fail=$((n_fail + 1)); echo "not ok $n_test - $*"; }
check() { # description, command...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi
}
check_not() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then not_ok "$what"; else ok "$what"; fi
}
done_testing() { echo "1..$n_test"; ((n_fail == 0)); }
diag() { echo "# $*"; }

# net_setup NAME: a fresh netns with lo up, a work dir, a blueprint.
net_setup() {
  NS=ptenant-test-$$-$1
  W=$(mktemp -d /tmp/ptenant-net.XXXXXX)
  ip netns add "$NS" || { echo "Bail out! ip netns add $NS"; exit 1; }
  in_ns ip link set lo up
  if [[ ! -f $BP_CACHE/manifest.json ]]; then
    rm -rf "$BP_CACHE"
    "$top/rootfs-tools/ptenant-mkblueprint" "$BP_CACHE" >"$W/mkbp.log" 2>&1 ||
      { echo "Bail out! ptenant-mkblueprint"; cat "$W/mkbp.log"; exit 1; }
  fi
  DAEMON_PIDS=()
  HELPER_PIDS=()
  trap net_teardown EXIT
}

in_ns() { ip netns exec "$NS" "$@"; }
pt() { "$PTENANT" --socket "$W/run/ptenantd.sock" "$@"; }

# daemon_start CONFIG-TEXT (written to $W/conf on the first call)
daemon_start() {
  [[ -n ${1:-} ]] && printf '%s\n' "$1" >"$W/conf"
  ip netns exec "$NS" "$PTENANTD" -c "$W/conf" --state-dir "$W/state" --runtime-dir "$W/run" \
    --init "$INIT" --api-group "" --cgroup-mode off --uid-base "$UID_BASE" ${PTENANTD_TRACE:+--trace-spawn} >>"$W/daemon.log" 2>&1 &
  DAEMON_PID=$!
  DAEMON_PIDS+=("$DAEMON_PID")
  for _ in $(seq 100); do
    [[ -S $W/run/ptenantd.sock ]] && pt ls >/dev/null 2>&1 && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "Bail out! ptenantd did not start"; cat "$W/daemon.log"; exit 1
}

daemon_stop() {
  kill -TERM "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null
  rm -f "$W/run/ptenantd.sock"
}

# Background helpers (listeners) we started, ended by pid.
spawn_helper() { "$@" & HELPER_PIDS+=($!); }

tenant_field() { # slug key: a top-level number or a network string
  pt inspect "$1" 2>/dev/null | sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -1
}
tenant_pid() { tenant_field "$1" pid; }
tenant_addr() { tenant_field "$1" address; }
# Runs a host binary inside a tenant's netns with full privileges: the
# strongest attacker a tenant can be is root of its own netns.
in_tenant_net() { local pid; pid=$(tenant_pid "$1"); shift; nsenter --net=/proc/$pid/ns/net "$@"; }
# The same as a command prefix, for background helpers (a function run in
# the background is a subshell, and its pid is not the helper's).
tenant_net_cmd() { echo nsenter --net=/proc/$(tenant_pid "$1")/ns/net; }
ns_cmd() { echo ip netns exec "$NS"; }
eth0_mac() { in_tenant_net "$1" ip -br link show eth0 | awk '{print $3}'; }

net_teardown() {
  local rc=$? st=$W/state/tenants left
  # Tenants outlive the daemon by design: stop them through it, then end
  # any still there by uid (our daemon's slot, see tests/lib): a leftover
  # fails the script.
  if [[ -S $W/run/ptenantd.sock ]]; then
    for s in $(ls "$st" 2>/dev/null); do pt rm "$s" >/dev/null 2>&1; done
  fi
  for p in "${DAEMON_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for p in "${HELPER_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if ! left=$(kill_uid_range "$UID_BASE" $((UID_BASE + PT_TEST_UID_SPAN))); then
    echo "Bail out! tenant processes were left running (now killed): $(echo $left)"
    rc=1
  fi
  ip netns del "$NS" 2>/dev/null
  [[ -n ${KEEP_W:-} ]] && echo "# kept $W" || rm -rf "$W"
  exit "$rc"
}

# A listener that appends one line per TCP connection or UDP datagram.
LISTEN_PY='
import socket, sys, os
proto, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
open(out + ".ready", "w").close()
if proto == "tcp":
    s.listen(16)
while True:
    if proto == "tcp":
        c, peer = s.accept(); c.sendall(b"ok\n"); c.close()
    else:
        data, peer = s.recvfrom(2048)
    with open(out, "a") as f:
        f.write("%s %s\n" % (proto, peer[0]))
'
# listen PROTO PORT OUTFILE ns_cmd|tenant_net_cmd SLUG
listen() {
  local proto=$1 port=$2 out=$3; shift 3
  rm -f "$out" "$out.ready"
  spawn_helper $("$@") "$PY" -c "$LISTEN_PY" "$proto" "$port" "$out"
  for _ in $(seq 100); do [[ -f $out.ready ]] && return 0; sleep 0.02; done
  return 1
}

# send_udp SRC DST PORT: one datagram from SRC (run inside some netns).
SEND_PY='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[1] != "-": s.bind((sys.argv[1], 0))
s.sendto(b"x", (sys.argv[2], int(sys.argv[3])))
'
TCP_PY='
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
sys.exit(0 if s.recv(3) == b"ok\n" else 1)
'
lines() { [[ -f $1 ]] && wc -l <"$1" || echo 0; }

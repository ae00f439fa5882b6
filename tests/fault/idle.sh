#!/bin/bash
# Idle tenants woken by requests through ptenant-ingress (issue 12), with
# networking and budgets on, against the fault-injection build:
#   1. frozen after freeze_after; a request through the ingress thaws it
#      and is answered; requests keep a tenant awake;
#   2. asleep after stop_after; a request starts it and is answered; 100
#      requests at once for an asleep tenant: one wake, 100 answers;
#   3. a wake that fails (its port never accepts): 503 with Retry-After
#      within its wake_timeout, and a wake-failed incident;
#   4. a daemon restart keeps frozen frozen and asleep asleep, both still
#      wake; an ingress restart loses nothing;
#   5. the ingress channel: only root and ingress_user may connect;
#      garbage, unknown commands, oversized and flooding messages are
#      dropped and counted, the daemon and the tenants unharmed;
#   6. a freeze that fails rolls back: the tenant runs on, an incident.
#   PTENANT_BUILD=build-fault tests/fault/idle.sh
. "$(dirname "$0")/lib.sh"
fault_setup idle 3000
INGRESS=$BUILD/src/ingress/ptenant-ingress
IPORT=18500
echo "ingress_user = nobody" >>"$W/conf"
# Metrics too (issue 14): the wakes' histograms, checked by promtool.
echo "metrics_listen = 127.0.0.1:18502" >>"$W/conf"
# The ingress (as nobody) must reach the channel's socket in $W/run.
chmod 711 "$W" "$W/run"

fault_daemon "" || { echo "Bail out! ptenantd does not start"; cat "$W/daemon.log"; exit 1; }
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null || { echo "Bail out! blueprint import"; exit 1; }

ingress_up() {
  nsenter --net="/run/netns/$NS" "$INGRESS" --listen 127.0.0.1:$IPORT --domain demo.test \
    --routes "$W/run/routes.json" --user nobody >>"$W/ingress.log" 2>&1 &
  INGRESS_PID=$!
  HELPER_PIDS+=("$INGRESS_PID")
  for _ in $(seq 100); do
    grep -q "wake channel .*: connected" "$W/ingress.log" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
ingress_down() { kill -TERM "$INGRESS_PID"; wait "$INGRESS_PID" 2>/dev/null; }
# get SLUG: "STATUS BODY-FIRST-LINE" through the ingress
get() {
  in_ns curl -s -m 20 -o "$W/body" -D "$W/head" -w '%{http_code}' -H "Host: $1.demo.test" \
    "http://127.0.0.1:$IPORT/" >"$W/code" 2>/dev/null
  echo "$(cat "$W/code") $(head -1 "$W/body" 2>/dev/null)"
}
state_of() { tpt --json ls | jq -r --arg s "$1" '.[] | select(.slug == $s) | .state'; }
wait_state() { for _ in $(seq "${3:-100}"); do [[ $(state_of "$1") == "$2" ]] && return 0; sleep 0.1; done; return 1; }
events() { tpt --json events "$1" | jq -r '.[].event'; }
count_event() { events "$1" | grep -cx "$2"; }

ingress_up || { echo "Bail out! the ingress did not connect to the wake channel"; cat "$W/ingress.log"; exit 1; }
ok "the ingress connected to the channel as nobody"
check "the channel's socket is nobody's, mode 0600" \
  test "$(stat -c '%U %a' "$W/run/ingress.sock")" = "nobody 600"

# ---- 1. frozen, thawed by a request ----------------------------------------
tpt create fr --blueprint echo-bot@1 --freeze-after 2s >/dev/null
check "fr: frozen after freeze_after" wait_state fr frozen
fr_pid=$(pid_of fr)
out=$(get fr)
check "fr: a request to the frozen tenant is answered ($out)" test "$out" = "200 hostname: fr"
check "fr: running again, same init" test "$(state_of fr)/$(pid_of fr)" = "running/$fr_pid"
thawed=$(tpt --json events fr | jq -r '[.[] | select(.event == "thawed")][-1].message')
check "fr: journal: thawed by \"$thawed\"" test "$thawed" = "a request through the ingress"
check "fr: the access log says wake=yes" \
  grep -qE '^ptenant-ingress: access 127\.0\.0\.1 fr "GET /" 200 [0-9]+ [0-9]+ wake=yes$' "$W/ingress.log"
# Requests every 0.5 s for 4 s (twice freeze_after): it never freezes.
f0=$(count_event fr frozen)
for _ in $(seq 8); do get fr >/dev/null; sleep 0.5; done
check "fr: requests keep it awake (no freeze in 4 s of traffic)" \
  test "$(count_event fr frozen)/$(state_of fr)" = "$f0/running"

# ---- 2. asleep, started by a request; 100 at once: one wake ------------------
tpt create sl --blueprint echo-bot@1 --freeze-after 1s --stop-after 2s >/dev/null
sl_pid=$(pid_of sl)
check "sl: asleep after stop_after" wait_state sl asleep 100
check "sl: its init is gone" bash -c "! kill -0 $sl_pid 2>/dev/null"
out=$(get sl)
check "sl: a request to the asleep tenant starts it and is answered ($out)" \
  test "$out" = "200 hostname: sl"
check "sl: running, a new init" bash -c "[[ \$1 == running && \$2 -gt 0 && \$2 != $sl_pid ]]" _ \
  "$(state_of sl)" "$(pid_of sl)"
check "sl: not a restart (restarts 0)" \
  test "$(tpt --json ls | jq -r '.[] | select(.slug == "sl") | .restarts')" = 0
wait_state sl asleep 100
w0=$(count_event sl wake)
in_ns "$PY" - $IPORT >"$W/hundred" 2>&1 <<'PY'
import http.client, sys, threading
port, codes = int(sys.argv[1]), []
def one():
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/", headers={"Host": "sl.demo.test"})
        r = c.getresponse()
        codes.append((r.status, r.read().split(b"\n")[0]))
    except Exception as e:
        codes.append((0, repr(e).encode()))
ts = [threading.Thread(target=one) for _ in range(100)]
[t.start() for t in ts]
[t.join() for t in ts]
print(sum(1 for c in codes if c == (200, b"hostname: sl")), set(c for c in codes if c[0] != 200))
PY
check "100 requests at once for an asleep tenant: all 100 answered ($(cat "$W/hundred"))" \
  bash -c "[[ \$(cut -d' ' -f1 <<<\"\$1\") == 100 ]]" _ "$(cat "$W/hundred")"
check "... and one wake ($((${w0:-0})) -> $(count_event sl wake))" test "$(count_event sl wake)" = $((w0 + 1))

# ---- 3. a wake that fails ---------------------------------------------------------
# An entrypoint that never listens on the blueprint's port.
cat >"$W/nl.json" <<'JSON'
{"slug": "nl", "blueprint": "echo-bot@1", "entrypoint": ["/bin/sleep", "3600"],
 "idle": {"freeze_after": "1s", "stop_after": "2s", "wake_timeout": "2s"}}
JSON
tpt create -f "$W/nl.json" >/dev/null
wait_state nl asleep 100
t0=$SECONDS
out=$(get nl)
took=$((SECONDS - t0))
check "nl: a wake that fails answers 503 ($out, in ${took} s)" \
  bash -c "[[ \$1 == 503* && $took -le 6 ]]" _ "$out"
check "nl: ... with Retry-After" grep -qi '^Retry-After: 5' "$W/head"
check "nl: ... naming the wake_timeout ($(cat "$W/body"))" grep -q "wake_timeout 2s" "$W/body"
check "nl: journal has wake-failed" test "$(count_event nl wake-failed)" -ge 1
tpt rm nl >/dev/null

# ---- 4. restarts keep the picture -------------------------------------------------
wait_state fr frozen 100
wait_state sl asleep 100
fr_pid=$(pid_of fr)
daemon_down
fault_daemon "" || { echo "Bail out! ptenantd does not start again"; exit 1; }
check "daemon restart: fr still frozen, same init" test "$(state_of fr)/$(pid_of fr)" = "frozen/$fr_pid"
check "daemon restart: sl still asleep" test "$(state_of sl)" = asleep
for _ in $(seq 60); do grep -c "wake channel .*: connected" "$W/ingress.log" | grep -qx 2 && break; sleep 0.05; done
check "the ingress reconnected to the new daemon's channel" \
  test "$(grep -c 'wake channel .*: connected' "$W/ingress.log")" = 2
check "daemon restart: a request wakes frozen fr" test "$(get fr)" = "200 hostname: fr"
# The notify socket died with the old daemon; the new one bound another in
# the running tenant (sent to here from the host, through its root).
notify_ready() {
  for _ in $(seq 50); do
    [[ $(tpt --json inspect fr | jq -r .notify.ready) == true ]] && return 0
    sleep 0.05
  done
  return 1
}
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"READY=1", sys.argv[1])' \
  "/proc/$(pid_of fr)/root/run/ptenant/notify" 2>"$W/notify.err"
check "daemon restart: fr's notify socket works again ($(cat "$W/notify.err"))" \
  notify_ready
check "daemon restart: a request wakes asleep sl" test "$(get sl)" = "200 hostname: sl"
wait_state fr frozen 100
ingress_down
ingress_up || { echo "Bail out! ingress restart"; exit 1; }
check "ingress restart: fr still frozen" test "$(state_of fr)" = frozen
check "ingress restart: a request wakes it" test "$(get fr)" = "200 hostname: fr"

# ---- 5. the channel as an attack surface -----------------------------------------
refused() { tpt --json status 2>/dev/null | jq -r '.ingress_channel.refused'; }
r0=$(refused)
check_not "another uid cannot connect to the channel" setpriv --reuid=12345 --regid=12345 \
  --clear-groups "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])' \
  "$W/run/ingress.sock"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" - "$W/run/ingress.sock" >"$W/attack" 2>&1 <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
for m in [b"stop fr", b"rm sl", b"wake", b"wake ", b"wake FR", b"wake fr extra", b"wake ../x",
          b"wake fr\x00x", b"active " + b"a" * 64, b"\xff\xfe", b"x" * 10000, b"ready fr", b"fail fr no"]:
    s.send(m)
for i in range(30000):
    try:
        s.send(b"active fr", socket.MSG_DONTWAIT)
    except BlockingIOError:
        pass
s.close()
print("sent")
PY
check "as the ingress's uid: 13 bad messages and a flood sent ($(cat "$W/attack"))" grep -qx sent "$W/attack"
sleep 0.5
r1=$(refused)
check "the daemon refused and counted them ($r0 -> $r1)" test "$((r1 - r0))" -ge 13
check "the daemon still answers" tpt ls
check "fr and sl were not stopped or removed" \
  test "$(tpt --json ls | jq -r '[.[] | select(.slug == "fr" or .slug == "sl") | .state] | map(select(. != "stopped")) | length')" = 2
check "the ingress still serves" test "$(get sl)" = "200 hostname: sl"
check "the daemon logged the refusals (at most once a minute)" \
  test "$(grep -c 'ingress channel: .* dropped' "$W/daemon.log")" -le 3

# ---- 6b. a bot that says READY=1 (its blueprint declares "notify") ------------------
# Its port accepts at once; READY=1 comes READY_AFTER seconds later (or
# never): a wake is over when it says so, not when the port accepts.
rb=$W/ready-bot
mkdir -p "$rb/www"
echo hello >"$rb/www/index.html"
gcc -static -O2 -o "$rb/hog" "$top/tests/budget/hog.c" || { echo "Bail out! gcc"; exit 1; }
cat >"$rb/start" <<'SH'
#!/bin/sh
httpd -f -p 8080 -h /bot/www &
if [ "$READY_AFTER" != never ]; then sleep "$READY_AFTER"; /bot/hog notify READY=1; fi
wait
SH
chmod +x "$rb/start"
"$top/rootfs-tools/ptenant-mkblueprint" --bot "$rb" --name ready --version 1 "$W/ready-bp" >/dev/null
jq '.notify = true' "$W/ready-bp/manifest.json" >"$W/m.json" && mv "$W/m.json" "$W/ready-bp/manifest.json"
tpt blueprint import ready@1 "$W/ready-bp" >/dev/null || { echo "Bail out! import ready@1"; exit 1; }
for s in rd:2 nr:never; do
  printf '{"slug": "%s", "blueprint": "ready@1", "env": {"READY_AFTER": "%s"}, "idle": {"freeze_after": "1s", "stop_after": "3s", "wake_timeout": "%s"}}\n' \
    "${s%%:*}" "${s#*:}" "$([[ ${s#*:} == never ]] && echo 2s || echo 10s)" >"$W/$s.json"
  tpt create -f "$W/$s.json" >/dev/null
done
wait_state rd asleep 150
t0=$(date +%s%N)
out=$(get rd)
took=$(( ($(date +%s%N) - t0) / 1000000 ))
check "notify bot: a request wakes it and is answered ($out)" test "$out" = "200 hello"
check "notify bot: the wake waited for READY=1, not the port (${took} ms >= 2000)" test "$took" -ge 2000
# (Its first run may have been frozen before it said it: the wake's run did.)
ready_after_wake() { tpt --json events rd | jq -e '[.[].event] | (rindex("wake") // -1) as $w | $w >= 0 and (.[$w:] | index("ready")) != null' >/dev/null; }
check "notify bot: its READY=1 after the wake is in the journal" ready_after_wake
wait_state nr asleep 150
out=$(get nr)
check "notify bot that never says READY=1: 503 ($out)" bash -c '[[ $1 == 503* ]]' _ "$out"
check "... naming READY=1 ($(cat "$W/body"))" grep -q "say READY=1" "$W/body"
tpt rm rd >/dev/null
tpt rm nr >/dev/null

# ---- 6a. health checks and idle: checks are not activity, and pause while frozen --
passed_of() { tpt --json inspect "$1" | jq -r '.health.passed // 0'; }
tpt create hz --blueprint echo-bot@1 --freeze-after 3s --health-http /healthz --health-interval 1s >/dev/null
hz_healthy() {
  for _ in $(seq 100); do
    [[ $(tpt --json ls | jq -r '.[] | select(.slug == "hz") | .health') == healthy ]] && return 0
    sleep 0.1
  done
  return 1
}
passed_above() { for _ in $(seq 50); do (($(passed_of "$1") > $2)) && return 0; sleep 0.1; done; return 1; }
check "health: hz becomes healthy" hz_healthy
check "health: checks every second do not keep hz awake: frozen after freeze_after" wait_state hz frozen 100
n1=$(passed_of hz)
sleep 2.5
check "health: no check while frozen ($n1 passed before, $(passed_of hz) after 2.5 s)" test "$(passed_of hz)" = "$n1"
out=$(get hz)
check "health: a request wakes hz ($out)" bash -c '[[ $1 == 200* ]]' _ "$out"
check "health: checks go on once it is thawed" passed_above hz "$n1"
# Wakes in the metrics (issue 14): hz's own histogram, valid exposition.
in_ns curl -s --max-time 5 "http://127.0.0.1:18502/metrics" >"$W/scrape"
check "metrics: hz's wakes have a histogram of their own" \
  grep -qE '^ptenant_tenant_wake_duration_seconds_count\{slug="hz"\} [1-9]' "$W/scrape"
check "metrics: promtool accepts the exposition with wake histograms" \
  bash -c "promtool check metrics <'$W/scrape'"
# Requests served, as the ingress reports them (issue 14): 1 + 4 more.
for _ in 1 2 3 4; do get hz >/dev/null; done
requests_of() { tpt --json usage hz | jq -r '.tenants[0].requests // 0'; }
served_counted() { for _ in $(seq 50); do (($(requests_of) >= 5)) && return 0; sleep 0.1; done; return 1; }
check "usage: the ingress's requests to hz are counted ($(requests_of))" served_counted
check "health: hz was never ended as unhealthy" test "$(count_event hz unhealthy)" = 0
tpt rm hz >/dev/null

# ---- 6. a freeze that fails rolls back ---------------------------------------------
ingress_down
tpt rm fr >/dev/null
tpt rm sl >/dev/null
daemon_down
fault_daemon "idle.freeze:EIO" || { echo "Bail out! faulted ptenantd"; exit 1; }
tpt create ff --blueprint echo-bot@1 >/dev/null
ff_pid=$(pid_of ff)
out=$(tpt pause ff 2>&1)
check "freeze fails: pause says why ($out)" grep -q "idle.freeze" <<<"$out"
check "freeze fails: ff runs on, same init" test "$(state_of ff)/$(pid_of ff)" = "running/$ff_pid"
check "freeze fails: the incident is in the journal" test "$(count_event ff freeze-failed)" = 1
check "freeze fails: its cgroup is not frozen" bash -c \
  "[[ $CGMODE == v1 ]] && grep -qx THAWED ${CGDIRS[3]}/tenant-ff/freezer.state || grep -qx 'frozen 0' ${CGDIRS[0]}/tenant-ff/cgroup.events"
check "freeze fails: the tenant answers" in_ns curl -sf --max-time 5 -o /dev/null "http://$(addr_of ff):8080/"
tpt rm ff >/dev/null
out=$(leftovers)
check "nothing left after rm ($out)" test -z "$out"
daemon_down
done_testing

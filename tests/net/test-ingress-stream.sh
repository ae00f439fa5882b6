#!/usr/bin/env bash
# ptenant-ingress with real bot traffic (issue 12, item 5): keep-alive on
# the client side, streamed responses (chunked, SSE, close-delimited)
# without buffering, WebSocket relayed both ways, pipelined requests and
# bodies counted exactly, a tenant's bad or overlong response contained,
# header and keep-alive timeouts, connection caps in total and per
# tenant, routes reloaded under an open stream, the access log.
# The tenants are stand-ins (tests/net/ingress-backend.py on the test
# netns's loopback) named in a routes.json the test writes: what is under
# test is the ingress alone. Everything runs inside this test's netns.
source "$(dirname "$0")/lib.sh"
INGRESS=$BUILD/src/ingress/ptenant-ingress
here=$(cd "$(dirname "$0")" && pwd)
net_setup stream
mkdir -p "$W/run"
ROUTES=$W/run/routes.json
write_routes() { "$PY" - "$ROUTES" "$@" <<'PY'
import json, os, sys
path, routes = sys.argv[1], {}
for kv in sys.argv[2:]:
    slug, rest = kv.split("=")
    port, state = rest.split(":")
    routes[slug] = {"address": "127.0.0.1", "port": int(port), "state": state}
with open(path + ".tmp", "w") as f:
    json.dump({"version": 1, "routes": routes}, f)
os.rename(path + ".tmp", path)
PY
}
HP=18301 WP=18302
write_routes be=$HP:running be2=$HP:running ws=$WP:running sleepy=$HP:asleep
spawn_helper ip netns exec "$NS" "$PY" "$here/ingress-backend.py" $HP $WP "$W/backend.log"
for _ in $(seq 100); do [[ -f $W/backend.log.ready ]] && break; sleep 0.05; done
[[ -f $W/backend.log.ready ]] || { echo "Bail out! the stand-in tenant did not start"; exit 1; }

# ingress NAME PORT [OPTION]...: one ingress in the netns, waited for.
ingress() {
  local name=$1 port=$2; shift 2
  spawn_helper ip netns exec "$NS" "$INGRESS" --listen 127.0.0.1:$port --domain demo.test \
    --routes "$ROUTES" --wake-socket "$W/run/no-such.sock" "$@" 2>"$W/$name.log"
  for _ in $(seq 100); do in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0; sleep 0.05; done
  echo "Bail out! ingress $name did not listen"; cat "$W/$name.log"; exit 1
}
# client CHECK PORT: the python checks, as TAP lines of ours.
client() {
  local line
  while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) not_ok "${line#not ok - }" ;;
    *) diag "$line" ;;
    esac
  done < <(in_ns "$PY" "$here/ingress-client.py" "$1" "$2" "$W/backend.log" 2>&1)
}

ingress main 18300 --head-timeout 1000 --keepalive-timeout 2000
client keepalive 18300
client sse 18300
client pipelining 18300
client bad 18300
client websocket 18300
client slow 18300
client asleep 18300

# Routes rewritten while a stream is open: it carries on; the new route works.
in_ns "$PY" "$here/ingress-client.py" sse-count 18300 "$W/backend.log" >"$W/stream.out" 2>&1 &
sp=$!
sleep 0.5
write_routes be=$HP:running be2=$HP:running ws=$WP:running sleepy=$HP:asleep be3=$HP:running
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'Host: be3.demo.test' http://127.0.0.1:18300/len)
wait "$sp"
[[ $(cat "$W/stream.out") == 5 ]] && ok "routes reloaded under an open stream: it ends whole" ||
  not_ok "routes reloaded under an open stream: $(cat "$W/stream.out")"
[[ $code == 200 ]] && ok "the new route is served at once" || not_ok "new route: $code"

ingress caps 18310 --max-conns 4 --max-per-tenant 1
client caps 18310

# The access log: one line per request, in the documented format.
line=$(grep -m1 -E '^ptenant-ingress: access 127\.0\.0\.1 be "GET /len" 200 [0-9]+ [0-9]+ wake=no$' "$W/main.log")
[[ -n $line ]] && ok "access log: $line" || not_ok "access log: $(grep -m3 access "$W/main.log")"
grep -qE '^ptenant-ingress: access 127\.0\.0\.1 ws "GET /chat" 101 [0-9]+ [0-9]+ wake=no$' "$W/main.log" &&
  ok "access log: the WebSocket's line, status 101" || not_ok "no 101 access line: $(grep -c access "$W/main.log") lines"
grep -q '^ptenant-ingress: access .* 408 ' "$W/main.log" && ok "access log: the 408" || not_ok "no 408 access line"
kill -0 "${HELPER_PIDS[1]}" && ok "the ingress is still running" || not_ok "the ingress died: $(tail -3 "$W/main.log")"
done_testing

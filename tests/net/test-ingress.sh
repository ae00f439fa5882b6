#!/usr/bin/env bash
# ptenant-ingress: Host: <slug>.demo.test reaches that tenant and no
# other; hostile heads get their exact status; the process runs as nobody
# with no capabilities; routes follow stop, rm, respawn and a damaged
# routes.json. Everything (daemon, tenants, ingress, clients) is inside
# this test's netns; the ingress listens on its loopback only.
source "$(dirname "$0")/lib.sh"
INGRESS=$BUILD/src/ingress/ptenant-ingress
PORT=18080
net_setup ingress

daemon_start "$(printf '%s\n' "network = on" "subnet = 10.213.0.0/16")"
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null
check "create acme" pt create acme --blueprint echo-bot@1
check "create globex" pt create globex --blueprint echo-bot@1
ROUTES=$W/run/routes.json

route_field() { # slug key
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["routes"][sys.argv[2]][sys.argv[3]])' \
    "$ROUTES" "$1" "$2" 2>/dev/null
}
[[ $(route_field acme address) == "$(tenant_addr acme)" && $(route_field acme port) == 8080 &&
   $(route_field acme state) == running ]] &&
  ok "routes.json: acme's address, port and state" || not_ok "routes.json: $(cat "$ROUTES" 2>&1)"
[[ $(stat -c %a "$ROUTES") == 644 ]] && ok "routes.json is mode 0644" || not_ok "routes.json mode $(stat -c %a "$ROUTES")"
# The daemon formats the file itself (routes.c): every field, and
# nothing else, for exactly the tenants that have a route.
shape=$("$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(d["version"], " ".join(sorted(d["routes"])),
      " ".join(sorted(",".join(sorted(r)) for r in d["routes"].values())),
      d["routes"]["acme"]["wake_timeout_ms"])' "$ROUTES" 2>&1)
[[ $shape == "1 acme globex address,port,state,wake_timeout_ms address,port,state,wake_timeout_ms 30000" ]] &&
  ok "routes.json: version, both tenants, their four fields, the default wake timeout" ||
  not_ok "routes.json's shape: $shape"

spawn_helper ip netns exec "$NS" "$INGRESS" --listen 127.0.0.1:$PORT --domain demo.test \
  --routes "$ROUTES" --user nobody 2>"$W/ingress.log"
IPID=$!
for _ in $(seq 100); do in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && break; sleep 0.05; done

status_line() { grep "^$1:" "/proc/$IPID/status" | awk '{print $2}'; }
[[ $(status_line Uid) == 65534 && $(status_line Gid) == 65534 ]] &&
  ok "ingress runs as nobody" || not_ok "ingress uid $(status_line Uid) gid $(status_line Gid)"
[[ $(status_line CapEff) == 0000000000000000 && $(status_line CapPrm) == 0000000000000000 ]] &&
  ok "ingress has no capabilities" || not_ok "ingress CapEff $(status_line CapEff)"
[[ $(status_line NoNewPrivs) == 1 ]] && ok "ingress has no_new_privs" || not_ok "NoNewPrivs $(status_line NoNewPrivs)"
[[ -z $(grep '^Groups:' "/proc/$IPID/status" | cut -f2 | tr -d ' ') ]] &&
  ok "ingress has no supplementary groups" || not_ok "$(grep '^Groups:' "/proc/$IPID/status")"

# get HOST [curl args...]: "<status> <body>" for a request with that Host
get() {
  local host=$1; shift
  in_ns curl -s -m 5 -o "$W/body" -w '%{http_code}' -H "Host: $host" "$@" "http://127.0.0.1:$PORT/" >"$W/code" 2>/dev/null
  echo "$(cat "$W/code") $(tr '\n' ' ' <"$W/body" 2>/dev/null)"
}
expect() { # what, want-glob, got
  if [[ $3 == $2 ]]; then ok "$1"; else not_ok "$1: got '$3'"; fi
}

expect "acme.demo.test reaches acme" "200 hostname: acme *" "$(get acme.demo.test)"
expect "globex.demo.test reaches globex" "200 hostname: globex *" "$(get globex.demo.test)"
expect "host is case-insensitive, port ignored" "200 hostname: acme *" "$(get ACME.Demo.Test:$PORT)"
expect "unknown slug: 404 naming it" "404 no tenant nosuch at demo.test " "$(get nosuch.demo.test)"
expect "another domain: 404" "404 *" "$(get acme.example.com)"
expect "suffix trick: 404" "404 *" "$(get acme.demo.test.evil.com)"
expect "no Host: 400" "400 no Host header*" "$(in_ns curl -s -m 5 -o "$W/body" -w '%{http_code}' -H 'Host:' http://127.0.0.1:$PORT/; echo " $(cat "$W/body")")"
expect "a 20 KiB header: 431" "431 *" "$(get acme.demo.test -H "X-Big: $(head -c 20480 /dev/zero | tr '\0' a)")"

# raw BYTES: the status line the ingress answers to exactly these bytes
RAW_PY='
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
print(s.makefile("rb").readline().decode().strip())
'
raw() { in_ns "$PY" -c "$RAW_PY" "$PORT" "$1" 2>&1; }
expect "smuggling (Content-Length and Transfer-Encoding): 400" "HTTP/1.1 400 Bad Request" \
  "$(raw 'POST / HTTP/1.1\r\nHost: acme.demo.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')"
expect "obs-fold: 400" "HTTP/1.1 400 Bad Request" "$(raw 'GET / HTTP/1.1\r\nHost: acme.demo.test\r\nX: a\r\n b\r\n\r\n')"
expect "HTTP/2.0 request line: 505" "HTTP/1.1 505 HTTP Version Not Supported" "$(raw 'GET / HTTP/2.0\r\nHost: acme.demo.test\r\n\r\n')"
expect "HTTP/1.0 with Host reaches acme" "HTTP/1.1 200 OK" "$(raw 'GET / HTTP/1.0\r\nHost: acme.demo.test\r\n\r\n')"

pt stop acme >/dev/null
expect "stopped tenant: 503 naming its state" "503 tenant acme is stopped " "$(get acme.demo.test)"
expect "the other tenant is unaffected" "200 hostname: globex *" "$(get globex.demo.test)"
pt start acme >/dev/null
# "running" comes before the bot listens: a 502 (refused) then is right.
for _ in $(seq 50); do [[ $(get acme.demo.test) == "200 "* ]] && break; sleep 0.1; done
expect "started again: routed again" "200 hostname: acme *" "$(get acme.demo.test)"

# respawn: kill acme's init; the daemon restarts it and rewrites routes.json
old=$(tenant_pid acme)
kill -KILL "$old"
for _ in $(seq 100); do
  p=$(tenant_pid acme)
  [[ -n $p && $p != 0 && $p != "$old" && $(tenant_field acme state) == running ]] && break
  sleep 0.1
done
for _ in $(seq 50); do [[ $(get acme.demo.test) == "200 "* ]] && break; sleep 0.1; done
expect "after a respawn the route works" "200 hostname: acme *" "$(get acme.demo.test)"

# a damaged routes.json: 503 for everyone, no crash; back when rewritten
: >"$ROUTES"
expect "empty routes.json: 503" "503 no routes available*" "$(get acme.demo.test)"
echo '{"version":1,"routes":{"acme":' >"$ROUTES"
expect "truncated routes.json: 503" "503 no routes available*" "$(get globex.demo.test)"
check "the ingress logged why" grep -q "routes file routes.json: .*answering 503" "$W/ingress.log"
check "create initech (the daemon rewrites routes.json)" pt create initech --blueprint echo-bot@1
expect "recovered: acme routed again" "200 hostname: acme *" "$(get acme.demo.test)"
expect "recovered: the new tenant is routed" "200 hostname: initech *" "$(get initech.demo.test)"

pt rm globex >/dev/null
expect "removed tenant: 404" "404 no tenant globex at demo.test " "$(get globex.demo.test)"
[[ -z $(route_field globex address) ]] && ok "removed tenant gone from routes.json" || not_ok "globex still in routes.json"

# Each rewrite replaces the file; the replaced one is closed on the
# state writer's thread (its blocks freed off the loop), not kept.
held=$(find "/proc/$DAEMON_PID/fd" -lname '*routes.json*' 2>/dev/null | wc -l)
[[ $held == 0 ]] && ok "the daemon holds no replaced routes.json open" ||
  not_ok "the daemon holds $held routes.json file(s) open: $(ls -l "/proc/$DAEMON_PID/fd" | grep routes)"
check "the ingress is still running" kill -0 "$IPID"
n=$(grep -cE '^ptenant-ingress: access 127\.0\.0\.1 [a-z]+ "GET /" 200 [0-9]+ [0-9]+ wake=no$' "$W/ingress.log")
[[ $n -ge 7 ]] && ok "one access log line per proxied request ($n)" || not_ok "$n access log lines: $(grep access "$W/ingress.log" | head -3)"
grep -q "127.0.0.1 nosuch 404 no tenant nosuch at demo.test" "$W/ingress.log" &&
  ok "refusals are logged with client, slug and status" || not_ok "no log line for the 404"
done_testing

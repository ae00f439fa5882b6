#!/usr/bin/env bash
# ptenant-ingress over HTTPS (issue 15): a test CA and wildcard
# certificates made here with the openssl CLI; curl and Python's ssl reach
# tenants by name under two domains; keep-alive, SSE, pipelining and a
# WebSocket over TLS (the stream checks of test-ingress-stream.sh, again
# through the TLS listener); the tenant sees X-Forwarded-Proto: https;
# 308 to HTTPS and HSTS per domain; SNI: none, unknown, another domain's
# Host (421); TLS 1.0/1.1 refused; session resumption; reload on SIGHUP
# with a stream open; expired, mismatched and foreign certificates refused
# at reload, the old one kept; plain HTTP, garbage and a stalled handshake
# on the HTTPS port; the key helper's confinement; startup refusals.
# The tenants are stand-ins (ingress-backend.py) in this test's netns.
source "$(dirname "$0")/lib.sh"
INGRESS=$BUILD/src/ingress/ptenant-ingress
here=$(cd "$(dirname "$0")" && pwd)
net_setup tls
mkdir -p "$W/run" "$W/pki/ca"
ROUTES=$W/run/routes.json
HP=18401 WP=18402 PORT=18400 TPORT=18443
"$PY" - "$ROUTES" <<PY
import json, sys
r = {s: {"address": "127.0.0.1", "port": $HP, "state": "running"} for s in ("be", "be2")}
r["ws"] = {"address": "127.0.0.1", "port": $WP, "state": "running"}
json.dump({"version": 1, "routes": r}, open(sys.argv[1], "w"))
PY
spawn_helper ip netns exec "$NS" "$PY" "$here/ingress-backend.py" $HP $WP "$W/backend.log"
for _ in $(seq 100); do [[ -f $W/backend.log.ready ]] && break; sleep 0.05; done
[[ -f $W/backend.log.ready ]] || { echo "Bail out! the stand-in tenant did not start"; exit 1; }

# --- The PKI: a CA, and leaf certificates it signs (openssl ca, so that
# validity dates can be set, expired ones included).
P=$W/pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/ca.key" \
  -out "$P/ca.pem" -days 30 -subj "/CN=ptenant test CA" 2>/dev/null
touch "$P/ca/index.txt"; echo 01 >"$P/ca/serial"
cat >"$P/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $P/ca/index.txt
new_certs_dir = $P/ca
serial = $P/ca/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
# leaf NAME CN SANS [START END]: NAME.pem and NAME.key, signed by the CA.
leaf() {
  local name=$1 cn=$2 sans=$3 dates=(-days 10)
  [[ -n ${4:-} ]] && dates=(-startdate "$4" -enddate "$5")
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$name.key" \
    -out "$P/$name.csr" -subj "/CN=$cn" -addext "subjectAltName=$sans" 2>/dev/null
  openssl ca -batch -config "$P/ca.cnf" -cert "$P/ca.pem" -keyfile "$P/ca.key" -in "$P/$name.csr" \
    -out "$P/$name.pem" "${dates[@]}" >/dev/null 2>&1
  chmod 600 "$P/$name.key"
}
leaf demo '*.demo.test' 'DNS:*.demo.test,DNS:demo.test'
leaf demo2 '*.demo.test' 'DNS:*.demo.test,DNS:demo.test'
leaf bots '*.bots.test' 'DNS:*.bots.test'
leaf expired '*.demo.test' 'DNS:*.demo.test' 20200101000000Z 20200201000000Z
leaf other '*.other.test' 'DNS:*.other.test'
[[ -s $P/demo.pem && -s $P/expired.pem ]] || { echo "Bail out! the test PKI was not made"; exit 1; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# The live files the ingress reads, as certbot's deploy hook would update them.
mkdir -p "$P/live"; chmod 700 "$P/live"
cp "$P/demo.pem" "$P/live/demo.pem"; cp "$P/demo.key" "$P/live/demo.key"; chmod 600 "$P/live/demo.key"

cat >"$W/ingress.conf" <<CONF
# As an operator writes it (ptenant-ingress(8), CONFIGURATION).
listen = 127.0.0.1:$PORT
https_listen = 127.0.0.1:$TPORT
routes = $ROUTES
wake_socket = $W/run/no-such.sock
head_timeout = 1500
keepalive_timeout = 2000

[demo.test]
cert = $P/live/demo.pem
key = $P/live/demo.key
hsts = 300

[bots.test]
cert = $P/bots.pem
key = $P/bots.key
http = redirect
CONF
spawn_helper ip netns exec "$NS" "$INGRESS" --config "$W/ingress.conf" 2>"$W/ingress.log"
IPID=${HELPER_PIDS[-1]}
for _ in $(seq 100); do in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$TPORT" 2>/dev/null && break; sleep 0.05; done
in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$TPORT" 2>/dev/null ||
  { echo "Bail out! the ingress did not listen on HTTPS"; cat "$W/ingress.log"; exit 1; }

# curl over HTTPS to a name: TLS verified against the test CA.
scurl() { local name=$1; shift
  in_ns curl -sS -m 5 --cacert "$P/ca.pem" --resolve "$name:$TPORT:127.0.0.1" "$@" "https://$name:$TPORT${PATH_:-/len}"; }
# s_client NAME [OPTION]...: the handshake's text (no HTTP).
s_client() { local name=$1; shift
  in_ns openssl s_client -connect 127.0.0.1:$TPORT -CAfile "$P/ca.pem" ${name:+-servername "$name"} "$@" </dev/null 2>&1; }
served_fp() { s_client "$1" "${@:2}" | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }

# --- Two tenants under one domain, one under another; the key helper.
[[ $(scurl be.demo.test) == hello ]] && ok "curl reaches be.demo.test over HTTPS (certificate verified)" ||
  not_ok "curl be.demo.test: $(scurl be.demo.test 2>&1)"
[[ $(scurl be2.demo.test) == hello ]] && ok "... and be2.demo.test" || not_ok "be2.demo.test"
[[ $(scurl be.bots.test) == hello ]] && ok "... and be.bots.test, the second domain's certificate" ||
  not_ok "be.bots.test: $(scurl be.bots.test 2>&1)"
py_https() { in_ns "$PY" - "$P/ca.pem" "$1" $TPORT <<'PY'
import http.client, json, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
class C(http.client.HTTPSConnection):
    def connect(self):
        s = socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=5)
        self.sock = ctx.wrap_socket(s, server_hostname=sys.argv[2])
c = C(sys.argv[2], int(sys.argv[3]), context=ctx, timeout=5)
c.request("GET", "/headers", headers={"Host": sys.argv[2], "X-Forwarded-Proto": "http"})
r = c.getresponse()
h = json.loads(r.read())
print(r.status, c.sock.version(), c.sock.selected_alpn_protocol(), h.get("x-forwarded-proto"),
      r.getheader("Strict-Transport-Security"))
PY
}
out=$(py_https be2.demo.test)
[[ $out == "200 TLSv1.3 None https max-age=300" ]] &&
  ok "Python's ssl: TLS 1.3; the tenant sees X-Forwarded-Proto: https (the client's own dropped); HSTS sent" ||
  not_ok "python https: $out"
out=$(py_https be.bots.test)
[[ $out == "200 TLSv1.3 None https None" ]] && ok "no HSTS header for a domain without hsts" || not_ok "bots: $out"
hs=$(in_ns curl -sS -m 5 -D - -o /dev/null -H 'Host: be.demo.test' "http://127.0.0.1:$PORT/len")
[[ $hs == "HTTP/1.1 200 "* && $hs != *Strict-Transport* ]] && ok "plain HTTP for demo.test is served, without HSTS" ||
  not_ok "plain demo.test: $hs"
hs=$(in_ns curl -sS -m 5 -D - -o /dev/null -H 'Host: be.bots.test' "http://127.0.0.1:$PORT/hook?id=7" --data x)
[[ $hs == *"308 Permanent Redirect"* && $hs == *"Location: https://be.bots.test:$TPORT/hook?id=7"* ]] &&
  ok "http = redirect: 308 to the same URL over HTTPS (a post keeps its method)" || not_ok "redirect: $hs"
out=$(in_ns curl -sS -m 5 -L --cacert "$P/ca.pem" --resolve "be.bots.test:$TPORT:127.0.0.1" \
  --resolve "be.bots.test:$PORT:127.0.0.1" "http://be.bots.test:$PORT/echo" -d ping)
[[ $out == ping ]] && ok "curl -L follows the redirect and its POST body arrives" || not_ok "follow: $out"

kpid=$(cut -d" " -f1 "/proc/$IPID/task/$IPID/children")
[[ $(awk '/^Uid:/ {print $2}' "/proc/$IPID/status") == 65534 ]] && ok "the ingress runs as nobody" ||
  not_ok "ingress uid: $(grep Uid "/proc/$IPID/status")"
if [[ -n $kpid ]]; then
  st=$(grep -E '^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs):' "/proc/$kpid/status" | awk '{print $2}' | tr '\n' ' ')
  [[ $st == "0 0000000000000004 0000000000000004 0000000000000004 1 " ]] &&
    ok "the key helper: root with CAP_DAC_READ_SEARCH only (bounding set too), no_new_privs" ||
    not_ok "key helper status: $st"
  [[ $(cat "/proc/$kpid/comm") == ingress-keys ]] && ok "the key helper is named ingress-keys" ||
    not_ok "helper comm: $(cat "/proc/$kpid/comm")"
  n=$(ls "/proc/$kpid/fd" | wc -l)
  ((n <= 4)) && ok "the key helper holds $n fds (stdio and its socket)" || not_ok "helper fds: $(ls -l /proc/$kpid/fd)"
else
  not_ok "no key helper process under the ingress"; not_ok "helper name"; not_ok "helper fds"
fi
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$P/live/demo.key" 2>&1)
[[ $out != *PRIVATE* ]] && ok "the key file is unreadable by the ingress's user" || not_ok "key readable by nobody"

# --- The stream checks, over TLS.
client() {
  local line
  while IFS= read -r line; do
    case $line in
    "ok - "*) ok "TLS: ${line#ok - }" ;;
    "not ok - "*) not_ok "TLS: ${line#not ok - }" ;;
    *) diag "$line" ;;
    esac
  done < <(in_ns env INGRESS_TLS_CA="$P/ca.pem" "$PY" "$here/ingress-client.py" "$1" $TPORT "$W/backend.log" 2>&1)
}
client keepalive
client sse
client pipelining
client bad
client websocket
client slow

# --- SNI and protocol versions.
[[ $(served_fp "") == "$(fp "$P/demo.pem")" ]] && ok "no SNI: the first domain's certificate" ||
  not_ok "no SNI: $(s_client "" -noservername | head -5)"
out=$(s_client x.other.test)
[[ $out == *"unrecognized name"* ]] && ok "SNI for no domain of ours: unrecognized_name alert" ||
  not_ok "unknown SNI: $(echo "$out" | grep -m2 -i error)"
out=$(s_client a.b.demo.test)
[[ $out == *"unrecognized name"* ]] && ok "SNI two labels under a domain: refused too" || not_ok "a.b SNI"
for v in tls1 tls1_1; do
  out=$(s_client a.demo.test -$v)
  [[ $out == *"alert protocol version"* || $out == *"no protocols available"* ]] &&
    ok "openssl s_client -$v: refused" || not_ok "-$v: $(echo "$out" | grep -m3 -iE 'error|protocol')"
done
out=$(s_client a.demo.test -tls1_2)
[[ $out == *"Protocol  : TLSv1.2"* && $out == *"Verify return code: 0 (ok)"* ]] && ok "TLS 1.2: accepted" ||
  not_ok "tls1_2: $(echo "$out" | grep -m3 -iE 'error|protocol')"
out=$(s_client a.demo.test -tls1_2 -cipher AES128-SHA)
[[ $out == *"handshake failure"* || $out == *"no shared cipher"* || $out == *"alert"* ]] &&
  ok "TLS 1.2 with a non-ECDHE, non-AEAD suite (AES128-SHA): refused" || not_ok "weak cipher accepted"
out=$(s_client a.demo.test -alpn h2,http/1.1)
[[ $out == *"ALPN protocol: http/1.1"* ]] && ok "ALPN: h2,http/1.1 offered, http/1.1 chosen" || not_ok "alpn: $(echo "$out" | grep -i alpn)"
out=$(s_client a.demo.test -alpn h2)
[[ $out == *"No ALPN negotiated"* ]] && ok "ALPN: h2 alone, no ALPN answer (HTTP/1.1 is what is spoken)" || not_ok "alpn h2"
for v in tls1_2 tls1_3; do
  # Kept open a moment: TLS 1.3's tickets come after the handshake.
  sleep 0.5 | in_ns openssl s_client -connect 127.0.0.1:$TPORT -CAfile "$P/ca.pem" -servername a.demo.test \
    -$v -sess_out "$W/sess-$v" >/dev/null 2>&1
  out=$(s_client a.demo.test -$v -sess_in "$W/sess-$v")
  [[ $out == *"Reused, TLSv1."* ]] && ok "session resumption (-$v)" || not_ok "resumption -$v: $(echo "$out" | grep -E 'New|Reused')"
done
code=$(PATH_=/len scurl be.bots.test -H 'Host: be.demo.test' -o /dev/null -w '%{http_code}')
[[ $code == 421 ]] && ok "a Host under another domain than the SNI's: 421" || not_ok "misdirected: $code"

# --- Bad input on the HTTPS port; the ingress keeps serving.
out=$(in_ns curl -sS -m 5 -H 'Host: be.demo.test' "http://127.0.0.1:$TPORT/len" 2>&1)
[[ $out == *"this is the HTTPS port"* ]] && ok "plain HTTP on the HTTPS port: 400 saying so" || not_ok "http on tls: $out"
out=$(in_ns "$PY" - $TPORT <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"\x00\x01\x02 not tls at all")
try:
    print("closed" if s.recv(100) == b"" else "answered")
except ConnectionResetError:
    print("closed")
# A hello that never completes: cut at the head timeout (1.5 s here).
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
t = time.monotonic()
try:
    s.recv(100)
except (ConnectionResetError, socket.timeout):
    pass
print("%.1f" % (time.monotonic() - t))
PY
)
[[ $(sed -n 1p <<<"$out") == closed ]] && ok "garbage on the HTTPS port: closed" || not_ok "garbage: $out"
took=$(sed -n 2p <<<"$out")
awk -v t="$took" 'BEGIN { exit !(t >= 1.0 && t < 5) }' && ok "a handshake that never completes: cut at the head timeout (${took} s)" ||
  not_ok "stalled handshake cut after $took s"
[[ $(scurl be.demo.test) == hello ]] && ok "served as before after all that" || not_ok "not serving after bad input"

# --- Reload: new certificate under an open stream; bad ones refused.
in_ns env INGRESS_TLS_CA="$P/ca.pem" "$PY" "$here/ingress-client.py" sse-count $TPORT "$W/backend.log" >"$W/stream.out" 2>&1 &
sp=$!
sleep 0.5
old=$(served_fp a.demo.test)
cp "$P/demo2.pem" "$P/live/demo.pem"; cp "$P/demo2.key" "$P/live/demo.key"
kill -HUP "$IPID"; sleep 0.5
new=$(served_fp a.demo.test)
[[ $old == "$(fp "$P/demo.pem")" && $new == "$(fp "$P/demo2.pem")" ]] &&
  ok "SIGHUP: new handshakes get the new certificate" || not_ok "reload: old $old new $new"
wait "$sp"
[[ $(cat "$W/stream.out") == 5 ]] && ok "a stream open across the reload ends whole" || not_ok "stream: $(cat "$W/stream.out")"
grep -q "\[demo.test\] certificate $P/live/demo.pem reloaded, valid until" "$W/ingress.log" &&
  grep -q "reload: 2 certificate(s) loaded, 0 kept" "$W/ingress.log" && ok "the reload is logged" ||
  not_ok "reload not logged: $(grep reload "$W/ingress.log")"
# bad NAME WHY-PATTERN: install bad files, SIGHUP, the old one still served.
bad() {
  local name=$1 why=$2 keyfrom=${3:-$1}
  cp "$P/$name.pem" "$P/live/demo.pem"; cp "$P/$keyfrom.key" "$P/live/demo.key"
  kill -HUP "$IPID"; sleep 0.5
  if grep -q "reload: \[demo.test\].*$why.*still using" "$W/ingress.log" &&
     [[ $(served_fp a.demo.test) == "$(fp "$P/demo2.pem")" ]]; then
    ok "reload with $name: refused ($why), logged, the old certificate kept"
  else
    not_ok "reload $name: $(tail -2 "$W/ingress.log")"
  fi
}
bad expired "expired at 2020-02-01"
bad demo "does not match" demo2
bad other "does not cover \*.demo.test"
printf 'not a pem\n' >"$P/live/demo.pem"; kill -HUP "$IPID"; sleep 0.5
grep -q "not a PEM certificate.*still using" "$W/ingress.log" && ok "reload with garbage in the certificate file: refused" ||
  not_ok "garbage cert: $(tail -1 "$W/ingress.log")"
rm "$P/live/demo.pem"; kill -HUP "$IPID"; sleep 0.5
grep -q "read $P/live/demo.pem: No such file.*still using" "$W/ingress.log" &&
  ok "reload with the certificate file gone: refused, naming it" || not_ok "missing: $(tail -1 "$W/ingress.log")"
[[ $(scurl be.demo.test) == hello ]] && ok "still serving with the kept certificate" || not_ok "not serving"
kill -0 "$IPID" && ok "the ingress is still running" || not_ok "the ingress died: $(tail -3 "$W/ingress.log")"
grep -qE 'handshake failed: no certificate for SNI name x\.other\.test' "$W/ingress.log" &&
  ok "a refused handshake is logged with why" || not_ok "no handshake log"

# --- Startup refusals: exit status and a message naming what is wrong.
start_fails() { # want-status pattern what args...
  local want=$1 pat=$2 what=$3 rc; shift 3
  out=$(in_ns timeout 5 "$INGRESS" --listen 127.0.0.1:18490 --routes "$ROUTES" "$@" 2>&1); rc=$?
  [[ $rc == "$want" && $out == *$pat* ]] && ok "startup refused ($rc): $what" || not_ok "$what: rc $rc: $out"
}
printf '[demo.test]\ncert = %s\nkey = %s\n' "$P/expired.pem" "$P/expired.key" >"$W/c1.conf"
start_fails 1 "expired" "an expired certificate" --config "$W/c1.conf" --https-listen 127.0.0.1:18491
printf '[demo.test]\ncert = %s\nkey = %s/nope.key\n' "$P/demo.pem" "$P" >"$W/c2.conf"
start_fails 1 "read $P/nope.key: No such file" "a missing key file" --config "$W/c2.conf" --https-listen 127.0.0.1:18491
start_fails 1 "no --https-listen" "a certificate without an HTTPS listener" --config "$W/c1.conf"
start_fails 1 "needs a domain with a certificate" "an HTTPS listener without a certificate" --domain demo.test --https-listen 127.0.0.1:18491
printf '[demo.test]\nhttp = redirect\n' >"$W/c3.conf"
start_fails 2 "c3.conf" "a redirect without a certificate" --config "$W/c3.conf"
printf 'listen = 1.2.3.4:1\nnonsense = 1\n' >"$W/c4.conf"
start_fails 2 "c4.conf:2: unknown key nonsense" "an unknown key, with its line" --config "$W/c4.conf"
start_fails 2 "--tls-min-version 1.1: want 1.2 or 1.3" "TLS 1.1 as the minimum" --config "$W/c1.conf" --https-listen 127.0.0.1:18491 --tls-min-version 1.1
start_fails 2 "No such file" "a config file that is not there" --config "$W/none.conf"
start_fails 1 "read /etc/letsencrypt/live/bots.example.com/fullchain.pem" \
  "examples/ingress.conf parses (its certificate is not on this machine)" --config "$here/../../examples/ingress.conf"
done_testing

#!/bin/bash
# Prometheus metrics (issue 14, item 3), with networking and budgets on,
# in the test's own network namespace:
#   1. promtool accepts the exposition with 0, 1 and 500 tenants, and no
#      label value comes from anything but a slug;
#   2. a real Prometheus server, started here on loopback and pointed at
#      ptenantd, scrapes it; its HTTP API shows a tenant's CPU counter
#      rising while the tenant works;
#   3. the port: other methods and paths, an oversized head, too many
#      connections, a silent client: each answered or cut, the daemon
#      unharmed.
#   PTENANT_BUILD=build-fault tests/fault/metrics.sh
. "$(dirname "$0")/lib.sh"
fault_setup metrics
MPORT=18700 PPORT=18701
echo "metrics_listen = 127.0.0.1:$MPORT" >>"$W/conf"
# Room for 501 tenants' addresses.
sed -i 's|^subnet = .*|subnet = 10.213.0.0/22|' "$W/conf"
fault_daemon "" || { echo "Bail out! ptenantd does not start"; cat "$W/daemon.log"; exit 1; }
tpt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null || { echo "Bail out! blueprint import"; exit 1; }

scrape() { in_ns curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
promtool_ok() { scrape >"$W/scrape" && promtool check metrics <"$W/scrape" >"$W/promtool" 2>&1; }
# Every label value is a slug, a state, a reason, or a bucket bound.
labels_bounded() {
  ! grep -v '^#' "$W/scrape" | grep -oE '[a-z]+="[^"]*"' | grep -vE \
    '^(slug="[a-z0-9][a-z0-9-]*"|state="[a-z-]+"|reason="[a-z-]+"|le="[0-9.e+Inf-]+")$'
}

# ---- 1. the exposition ------------------------------------------------------
check "0 tenants: promtool check metrics accepts it ($(cat "$W/promtool" 2>/dev/null))" promtool_ok
check "0 tenants: no tenant series" bash -c "! grep -q 'slug=' '$W/scrape'"
tpt create m1 --blueprint echo-bot@1 >/dev/null
for _ in $(seq 100); do [[ $(pid_of m1) -gt 0 ]] && break; sleep 0.05; done
check "1 tenant: promtool accepts it" promtool_ok
check "1 tenant: m1 is running" grep -qx 'ptenant_tenant_state{slug="m1",state="running"} 1' "$W/scrape"
check "1 tenant: its CPU, memory and limits are there" bash -c \
  "grep -q '^ptenant_tenant_cpu_seconds_total{slug=\"m1\"} ' '$W/scrape' &&
   grep -q '^ptenant_tenant_memory_bytes{slug=\"m1\"} [1-9]' '$W/scrape' &&
   grep -q '^ptenant_tenant_memory_limit_bytes{slug=\"m1\"} [1-9]' '$W/scrape' &&
   grep -q '^ptenant_tenant_pids_limit{slug=\"m1\"} [1-9]' '$W/scrape'"
check "1 tenant: the spawn and API histograms counted" bash -c \
  "grep -q '^ptenant_spawn_duration_seconds_count [1-9]' '$W/scrape' &&
   grep -q '^ptenant_api_request_duration_seconds_count [1-9]' '$W/scrape'"
for i in $(seq -w 1 500); do echo "many$i"; done | xargs -P 16 -I{} \
  timeout 30 "$PTENANT" --socket "$W/run/ptenantd.sock" create {} --blueprint echo-bot@1 --no-start >/dev/null
check "501 tenants: promtool accepts it" promtool_ok
check "501 tenants: one state series set per tenant ($(grep -c '^ptenant_tenant_state{.*} 1$' "$W/scrape"))" \
  test "$(grep -c '^ptenant_tenant_state{.*} 1$' "$W/scrape")" = 501
check "501 tenants: 500 stopped" grep -qx 'ptenant_tenants{state="stopped"} 500' "$W/scrape"
check "label values are slugs and fixed names only" labels_bounded
t0=$(date +%s%N); scrape >/dev/null; t1=$(date +%s%N)
ok "a scrape of 501 tenants took $(( (t1 - t0) / 1000000 )) ms end to end"

# ---- 2. a real Prometheus --------------------------------------------------
cat >"$W/prom.yml" <<YML
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: ptenantd
    static_configs: [ { targets: ["127.0.0.1:$MPORT"] } ]
YML
in_ns prometheus --config.file="$W/prom.yml" --storage.tsdb.path="$W/tsdb" \
  --web.listen-address="127.0.0.1:$PPORT" >"$W/prometheus.log" 2>&1 &
HELPER_PIDS+=($!)
prom_ready() { in_ns curl -sf --max-time 2 "http://127.0.0.1:$PPORT/-/ready" >/dev/null; }
cpu_in_prom() { # the latest CPU seconds of m1 that Prometheus holds, or nothing
  in_ns curl -s --max-time 2 "http://127.0.0.1:$PPORT/api/v1/query" \
    --data-urlencode 'query=ptenant_tenant_cpu_seconds_total{slug="m1"}' |
    jq -r '.data.result[0].value[1] // empty'
}
for _ in $(seq 100); do prom_ready && break; sleep 0.2; done
check "Prometheus started on loopback" prom_ready
for _ in $(seq 50); do [[ -n $(cpu_in_prom) ]] && break; sleep 0.2; done
c0=$(cpu_in_prom)
check "Prometheus scraped m1's CPU counter ($c0)" test -n "$c0"
tpt exec m1 -- sh -c 'i=0; while [ $i -lt 400000 ]; do i=$((i + 1)); done' >/dev/null
rising() { [[ -n $(cpu_in_prom) ]] && awk -v a="$c0" -v b="$(cpu_in_prom)" 'BEGIN { exit !(b > a) }'; }
for _ in $(seq 50); do rising && break; sleep 0.2; done
check "Prometheus shows m1's CPU counter rising after it worked ($c0 -> $(cpu_in_prom))" rising
up=$(in_ns curl -s --max-time 2 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=up{job="ptenantd"}' |
  jq -r '.data.result[0].value[1] // empty')
check "Prometheus says the target is up ($up)" test "$up" = 1

# ---- network bytes: the ledger and the metrics ----------------------------
addr=$(addr_of m1)
for _ in $(seq 20); do in_ns curl -s --max-time 5 -o /dev/null "http://$addr:8080/"; done
# grep reads the whole scrape, never -q: under pipefail, a grep that quits
# at its match while curl still writes fails the pipe (curl: EPIPE), and
# the check with it (seen here once in five runs).
net_counted() { # the metrics show m1 received bytes (after the ledger's next read, <= 10 s)
  scrape | grep -E '^ptenant_tenant_network_receive_bytes_total\{slug="m1"\} [1-9]' >/dev/null
}
for _ in $(seq 150); do net_counted && break; sleep 0.1; done
check "m1's network bytes reach the metrics after traffic" net_counted
usage_net() { tpt --json usage m1 | jq -e '.tenants[0] | .net_metered and .net_in > 0 and .net_out > 0' >/dev/null; }
check "... and the usage ledger ($(tpt --json usage m1 | jq -c '.tenants[0] | {net_in, net_out}'))" usage_net

# ---- 3. the port -------------------------------------------------------------
code() { in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "POST: 405" test "$(code -X POST "http://127.0.0.1:$MPORT/metrics")" = 405
check "another path: 404" test "$(code "http://127.0.0.1:$MPORT/tenants")" = 404
check "an oversized head: 431" test "$(code -H "X-Big: $(head -c 5000 /dev/zero | tr '\0' a)" \
  "http://127.0.0.1:$MPORT/metrics")" = 431
in_ns "$PY" - "$MPORT" >"$W/conns" 2>&1 <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
held = []
t_first = time.time()
for _ in range(8):   # the cap: 8 at once
    s = socket.create_connection(("127.0.0.1", port)); held.append(s)
time.sleep(0.2)
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(2)
print("ninth", "closed" if extra.recv(1) == b"" else "open")
held[0].settimeout(10)
print("silent", "closed" if held[0].recv(1) == b"" else "open", round(time.time() - t_first, 1))
PYEOF
check "a ninth connection at once is closed ($(head -1 "$W/conns"))" grep -qx 'ninth closed' "$W/conns"
check "a silent client is cut at the head timeout ($(tail -1 "$W/conns") s)" grep -q '^silent closed [45]\.' "$W/conns"
scrapes_counted() { scrape | grep '^ptenant_metrics_scrapes_total [1-9]' >/dev/null; }
check "metrics still answer" scrapes_counted
check "the daemon still answers" tpt ls

# ---- done ------------------------------------------------------------------
for i in $(seq -w 1 500); do echo "many$i"; done | xargs -P 16 -I{} \
  timeout 30 "$PTENANT" --socket "$W/run/ptenantd.sock" rm {} >/dev/null 2>&1
tpt rm m1 >/dev/null
daemon_down
done_testing

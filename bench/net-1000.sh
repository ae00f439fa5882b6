#!/usr/bin/env bash
# Benchmark, not a test: N (default 1000) tenants' networks at once, in a
# netns of our own. Creates them all, checks every one answers on :8080
# from the host side, reports timings and the network part of a start
# (the P2b "net-host-side" step of --trace-spawn), then removes them and
# checks nothing is left. Usage: bench/net-1000.sh [N]
source "$(dirname "$0")/../tests/net/lib.sh"
N=${1:-1000}
net_setup bench
export PTENANTD_TRACE=1
daemon_start "network = on
subnet = 10.213.0.0/16
uid_ranges = 4096"
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null
t0=$(date +%s%N)
for i in $(seq "$N"); do pt create "b$i" --blueprint echo-bot@1 >/dev/null || echo "# create b$i failed"; done
t1=$(date +%s%N)
bad=0
for i in $(seq "$N"); do
  in_ns curl -s -m 5 -o /dev/null "http://$(tenant_addr "b$i"):8080/" || bad=$((bad + 1))
done
t2=$(date +%s%N)
echo "tenants: $N, unreachable: $bad"
echo "create+start all: $(( (t1 - t0) / 1000000 )) ms; reach all: $(( (t2 - t1) / 1000000 )) ms"
echo "veths: $(in_ns ip -o link show | grep -c ptv), routes: $(in_ns ip route | grep -c ptv)"
grep 'net-host-side' "$W/daemon.log" | awk '{s += $4; n++; if ($4 > m) m = $4} END {
  if (n) printf "net-host-side (parent, per start): mean %.2f ms, max %.2f ms over %d starts\n", s / n, m, n }'
grep 'child-setup+exec' "$W/daemon.log" | awk '{s += $4; n++} END {
  if (n) printf "child-setup+exec (includes eth0 config): mean %.2f ms\n", s / n }'
for i in $(seq "$N"); do pt rm "b$i" >/dev/null; done
sleep 1
echo "after rm: veths $(in_ns ip -o link show | grep -c ptv), set elements $(in_ns nft list set inet ptenant tenant_ip | grep -c '"ptv')"
((bad == 0))

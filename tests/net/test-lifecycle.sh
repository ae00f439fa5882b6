#!/usr/bin/env bash
# Cleanup and failure paths: 200 tenants created and removed leave no
# link, address, route or rule; a name clash and an exhausted subnet give
# clear errors; network = off (the default) touches nothing; the table is
# removed at exit only when configured.
source "$(dirname "$0")/lib.sh"
N=${PTENANT_NET_N:-200}
net_setup life

snapshot() { # links, addresses, routes, neighbours, set elements of the test netns
  in_ns ip -o link show | sed 's/^[0-9]*: //; s/ link\/.*//' | sort
  in_ns ip -o addr show | awk '{print $2, $4}' | sort
  in_ns ip route show table all | sort
  in_ns ip neigh show | sort
  in_ns nft list set inet ptenant tenant_ip 2>/dev/null | grep -o '"ptv[0-9a-f]*"'
  in_ns nft list set inet ptenant tenant_mac 2>/dev/null | grep -o '"ptv[0-9a-f]*"'
}

# ---- network = off: nothing is created
daemon_start "uid_ranges = 4096"
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null
check "network off: a tenant starts" pt create off1 --blueprint echo-bot@1
check_not "network off: no nft table" in_ns nft list table inet ptenant
[[ -z $(in_ns ip -o link show | grep ptv) ]] && ok "network off: no veth" || not_ok "network off: a veth exists"
check_not "network off: inspect shows no network" bash -c "\"$PTENANT\" --socket \"$W/run/ptenantd.sock\" inspect off1 | grep -q '\"network\"'"
check_not "network off: no net.json" test -e "$W/state/tenants/off1/net.json"
pt rm off1 >/dev/null
daemon_stop

# ---- network = on, 200 created and removed
printf '%s\n' "network = on" "subnet = 10.213.0.0/16" >"$W/conf"
daemon_start
before=$(snapshot)
t0=$(date +%s%N)
fails=0
for i in $(seq "$N"); do pt create "t$i" --blueprint echo-bot@1 >/dev/null 2>&1 || fails=$((fails + 1)); done
t1=$(date +%s%N)
diag "$N creates in $(( (t1 - t0) / 1000000 )) ms"
((fails == 0)) && ok "$N tenants created" || not_ok "$fails of $N creates failed"
n=$(in_ns ip -o link show | grep -c ptv)
[[ $n == "$N" ]] && ok "$N host veths" || not_ok "$n host veths, want $N"
bad=0
for i in 1 $((N / 2)) "$N"; do
  a=$(tenant_addr "t$i")
  [[ $(in_ns curl -s -m 5 "http://$a:8080/") == *"hostname: t$i"* ]] || bad=$((bad + 1))
done
((bad == 0)) && ok "first, middle and last tenant reachable" || not_ok "$bad tenants unreachable"
for i in $(seq "$N"); do pt rm "t$i" >/dev/null 2>&1; done
sleep 0.5
after=$(snapshot)
if [[ $before == "$after" ]]; then ok "zero leftover links, addresses, routes, neighbours and rules after $N rm"
else not_ok "leftovers after $N rm"; diff <(echo "$before") <(echo "$after") | head -20 | sed 's/^/# /'; fi

# ---- crash: a tenant whose init is killed with the daemon down
pt create crash --blueprint echo-bot@1 >/dev/null
pid=$(tenant_pid crash); daemon_stop
kill -KILL "$pid"; sleep 0.5
n=$(in_ns ip -o link show | grep -c ptv)
[[ $n == 0 ]] && ok "a dead tenant's veth goes with its netns" || not_ok "$n veths after the tenant died"
daemon_start
[[ $(tenant_field crash state) == running ]] && ok "respawned at daemon start" || not_ok "crash: state $(tenant_field crash state)"
n=$(in_ns ip -o link show | grep -c ptv)
[[ $n == 1 ]] && ok "exactly one veth for it again" || not_ok "$n veths after the respawn"
pt rm crash >/dev/null

# ---- name clash
next=ptv000002
in_ns ip link add "$next" type veth peer name clashpeer
out=$(pt create clash --blueprint echo-bot@1 2>&1)
[[ $out == *"netlink: create veth $next for tenant clash: an interface of that name exists and is not ptenant's"* ]] &&
  ok "name clash: a clear error" || not_ok "name clash error: $out"
check "name clash: the operator's interface is left alone" in_ns ip link show "$next"
in_ns ip link del "$next"
check "after the clash is gone the tenant starts" pt start clash
pt rm clash >/dev/null
daemon_stop

# ---- subnet exhausted, and the table removed at exit when configured
printf '%s\n' "network = on" "subnet = 10.214.0.0/30" "firewall_remove_on_exit = on" >"$W/conf"
rm -rf "$W/state/tenants"/*
daemon_start
check "a /30 holds one tenant" pt create one --blueprint echo-bot@1
out=$(pt create two --blueprint echo-bot@1 2>&1)
[[ $out == *"subnet 10.214.0.0/30 is full: all 1 tenant addresses are in use"* ]] &&
  ok "subnet exhausted: a clear error" || not_ok "subnet exhausted error: $out"
check_not "the refused tenant left no directory" test -e "$W/state/tenants/two"
pt rm one >/dev/null
daemon_stop
check_not "firewall_remove_on_exit: no table after the daemon stops" in_ns nft list table inet ptenant
check_not "firewall_remove_on_exit: no arp table either" in_ns nft list table arp ptenant
done_testing

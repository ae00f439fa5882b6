#!/usr/bin/env bash
# A tenant whose state.json is corrupt keeps what it holds: after a daemon
# restart it is listed failed while its container runs on, and the next
# tenant gets another address, veth and uid range; no start deletes an
# interface that belongs to another slug (issue 10, defect 2).
source "$(dirname "$0")/lib.sh"
net_setup broken

printf '%s\n' "network = on" "subnet = 10.213.0.0/16" >"$W/conf"
daemon_start
pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null
check "the first tenant starts" pt create first --blueprint echo-bot@1
addr1=$(tenant_addr first) veth1=$(tenant_field first veth)
uid1=$(tenant_field first host_uid) pid1=$(tenant_pid first)
diag "first: $addr1 $veth1 uid $uid1 pid $pid1"

daemon_stop
: >"$W/state/tenants/first/state.json"
daemon_start
[[ $(tenant_field first state) == failed ]] && ok "a truncated state.json: listed failed" ||
  not_ok "first is $(tenant_field first state), want failed"
check "its container keeps running" kill -0 "$pid1"

check "the next tenant starts" pt create second --blueprint echo-bot@1
addr2=$(tenant_addr second) veth2=$(tenant_field second veth) uid2=$(tenant_field second host_uid)
diag "second: $addr2 $veth2 uid $uid2"
[[ -n $addr2 && $addr2 != "$addr1" ]] && ok "another address" || not_ok "second got address '$addr2' (first has $addr1)"
[[ -n $veth2 && $veth2 != "$veth1" ]] && ok "another veth" || not_ok "second got veth '$veth2' (first has $veth1)"
[[ -n $uid2 && $uid2 != "$uid1" ]] && ok "another uid range" || not_ok "second got host_uid '$uid2' (first has $uid1)"
link_alias() { in_ns ip -o -d link show "$1" 2>/dev/null | grep -o 'alias ptenant [^ \\]*' | sed 's/^alias //'; }
[[ $(link_alias "$veth1") == "ptenant first" ]] && ok "the first tenant's host veth still exists" ||
  not_ok "$veth1 has alias '$(link_alias "$veth1")', want 'ptenant first'"
check "the first tenant's container still runs" kill -0 "$pid1"
dups=$(jq -r '.routes[].address' "$W/run/routes.json" | sort | uniq -d)
[[ -z $dups ]] && ok "routes.json maps no address twice" || not_ok "routes.json maps $dups twice"

# A link named as a tenant's veth but with another slug's alias is not
# that tenant's to delete: its start refuses.
pt stop second >/dev/null
for _ in $(seq 100); do in_ns ip link show "$veth2" >/dev/null 2>&1 || break; sleep 0.05; done
in_ns ip link add "$veth2" type veth peer name otherpeer
in_ns ip link set "$veth2" alias "ptenant someone-else"
out=$(pt start second 2>&1)
[[ $out == *"belongs to tenant someone-else"* ]] && ok "another slug's link: a clear error" ||
  not_ok "start over another slug's link: $out"
[[ $(link_alias "$veth2") == "ptenant someone-else" ]] && ok "another slug's link is left alone" ||
  not_ok "$veth2 has alias '$(link_alias "$veth2")', want 'ptenant someone-else'"
in_ns ip link del "$veth2"

# ---- net.json lost as well: the host side of the running container's
# veth (its alias names the tenant) says its address.
check "a third tenant starts" pt create third --blueprint echo-bot@1
addr3=$(tenant_addr third) veth3=$(tenant_field third veth)
daemon_stop
: >"$W/state/tenants/third/state.json"
rm -f "$W/state/tenants/third/net.json"
daemon_start
check "the fourth tenant starts" pt create fourth --blueprint echo-bot@1
addr4=$(tenant_addr fourth) veth4=$(tenant_field fourth veth)
diag "third: $addr3 $veth3, fourth: $addr4 $veth4"
[[ -n $addr4 && $addr4 != "$addr3" && $addr4 != "$addr1" ]] &&
  ok "net.json lost: another address" || not_ok "fourth got '$addr4' (third $addr3, first $addr1)"
[[ $(link_alias "$veth3") == "ptenant third" ]] && ok "net.json lost: the third tenant's veth is left alone" ||
  not_ok "$veth3 has alias '$(link_alias "$veth3")', want 'ptenant third'"

for s in fourth third second first; do pt rm "$s" >/dev/null; done
done_testing

#!/usr/bin/env bash
# Reachability and isolation of two tenants, A and B, in a netns of our
# own: the host reaches A; B reaches A by no path (TCP, UDP, ICMP, ARP);
# B reaches no host service outside the allow-list; B cannot send with
# A's address or MAC; everything holds across a respawn and a daemon
# restart. Each "cannot" has a positive control that shows the same probe
# works where it should, so a broken probe cannot pass as isolation.
source "$(dirname "$0")/lib.sh"
net_setup iso

daemon_start "network = on
subnet = 10.213.0.0/16
resolvers = 10.213.0.1
host_allow = tcp:9053 udp:9053"

pt blueprint import echo-bot@1 "$BP_CACHE" >/dev/null
check "create tenant a" pt create a --blueprint echo-bot@1
check "create tenant b" pt create b --blueprint echo-bot@1
A=$(tenant_addr a); B=$(tenant_addr b); GW=10.213.0.1
diag "a=$A b=$B"
[[ $A == 10.213.0.2 && $B == 10.213.0.3 ]] && ok "addresses are the first two of the subnet" ||
  not_ok "addresses are the first two of the subnet (a=$A b=$B)"

# ---- reachability and identity
out=$(in_ns curl -s -m 5 "http://$A:8080/")
[[ $out == *"hostname: a"* ]] && ok "host reaches a:8080" || not_ok "host reaches a:8080 (got '$out')"
veth=$(tenant_field a veth); mac=$(tenant_field a mac)
check "inspect names the veth and it exists in the test netns" in_ns ip link show "$veth"
# One queue each way, asked at creation: a veth made with the kernel's
# per-CPU default is cut down after registering, an expedited RCU grace
# period per start (src/lib/netlink.c).
check "the host veth was made with one tx and one rx queue" \
  bash -c "ip netns exec $NS ip -d link show $veth | grep -q 'numtxqueues 1 numrxqueues 1 '"
check "eth0 in the tenant was made with one tx and one rx queue" \
  bash -c "nsenter --net=/proc/$(tenant_pid a)/ns/net ip -d link show eth0 | grep -q 'numtxqueues 1 numrxqueues 1 '"
got=$(eth0_mac a)
[[ $got == "$mac" ]] && ok "eth0 of a has the MAC inspect shows ($mac)" || not_ok "eth0 MAC $got != $mac"
check "/etc/hosts names a at its address" bash -c "pt() { \"$PTENANT\" --socket \"$W/run/ptenantd.sock\" \"\$@\"; }; pt exec a -- cat /etc/hosts | grep -q '^$A	a\$'"
check "/etc/resolv.conf has the configured resolver" bash -c "\"$PTENANT\" --socket \"$W/run/ptenantd.sock\" exec a -- cat /etc/resolv.conf | grep -qx 'nameserver 10.213.0.1'"
check "no host veth has an address" bash -c "! ip netns exec $NS ip -o -4 addr show | grep -q ptv"

# ---- TCP
check "control: b reaches the allow-listed host service tcp:9053" \
  listen tcp 9053 "$W/tcp9053" ns_cmd
check "control: tcp from b to gw:9053 connects" in_tenant_net b "$PY" -c "$TCP_PY" "$GW" 9053
# busybox nc, not wget -T: that one dies of SIGSEGV on any failed connect
# (busybox 1.35), which would pass a check_not for the wrong reason. The
# firewall drops, so the tenant's own attempt must time out.
nc_times_out() { [[ $(pt exec "$1" -- sh -c "echo | nc -w 2 $2 $3" 2>&1) == *'timed out'* ]]; }
check "b cannot reach a:8080 by TCP (tenant's own nc: dropped, times out)" nc_times_out b "$A" 8080
check_not "b cannot reach a:8080 by TCP (root of b's netns)" in_tenant_net b "$PY" -c "$TCP_PY" "$A" 8080

# ---- UDP
listen udp 9999 "$W/udp-a" tenant_net_cmd a
in_ns "$PY" -c "$SEND_PY" - "$A" 9999; sleep 0.3
[[ $(lines "$W/udp-a") == 1 ]] && ok "control: host reaches a by UDP" || not_ok "control: host reaches a by UDP"
in_tenant_net b "$PY" -c "$SEND_PY" - "$A" 9999; sleep 0.3
[[ $(lines "$W/udp-a") == 1 ]] && ok "b cannot reach a by UDP" || not_ok "b cannot reach a by UDP"

# ---- ICMP
check "control: host pings a" in_ns busybox ping -c 1 -W 2 "$A"
check "control: b pings its own address" in_tenant_net b busybox ping -c 1 -W 2 "$B"
check_not "b cannot ping a" in_tenant_net b busybox ping -c 1 -W 2 "$A"
check_not "b cannot ping the gateway (a host service)" in_tenant_net b busybox ping -c 1 -W 2 "$GW"

# ---- ARP
arp_drops() { in_ns nft list chain arp ptenant input | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }
before=$(arp_drops)
check_not "b gets no ARP reply for a" in_tenant_net b busybox arping -c 2 -w 2 -I eth0 "$A"
check_not "b gets no ARP reply for the gateway" in_tenant_net b busybox arping -c 1 -w 1 -I eth0 "$GW"
after=$(arp_drops)
((after > before)) && ok "b's ARP reached the host and was dropped ($before -> $after)" ||
  not_ok "b's ARP was not counted as dropped ($before -> $after)"
in_tenant_net b busybox arping -U -c 2 -w 2 -I eth0 -s "$A" "$A" >/dev/null 2>&1 # gratuitous: "I am a"
check_not "host learned nothing from b's gratuitous ARP for a" bash -c "ip netns exec $NS ip neigh show $A | grep -v ptv000002 | grep -q ."
out=$(in_ns curl -s -m 5 "http://$A:8080/")
[[ $out == *"hostname: a"* ]] && ok "host still reaches a after b's ARP spoofing" || not_ok "host reaches a after ARP spoofing"

# ---- host services
listen tcp 9999 "$W/tcp9999" ns_cmd
in_ns ip addr add 10.214.9.9/32 dev lo
check "control: the host itself reaches its own service on 9999" in_ns "$PY" -c "$TCP_PY" 127.0.0.1 9999
check_not "b cannot reach a host service on 0.0.0.0:9999 via the gateway" in_tenant_net b "$PY" -c "$TCP_PY" "$GW" 9999
check_not "b cannot reach it on another host address either" in_tenant_net b "$PY" -c "$TCP_PY" 10.214.9.9 9999
check "tenant's own nc cannot reach it (dropped, times out)" nc_times_out b "$GW" 9999

# ---- spoofing
listen udp 9053 "$W/udp9053" ns_cmd
in_tenant_net b "$PY" -c "$SEND_PY" "$B" "$GW" 9053; sleep 0.3
[[ $(lines "$W/udp9053") == 1 ]] && ok "control: b's own datagram reaches the allowed udp:9053" ||
  not_ok "control: b's own datagram reaches udp:9053"
drops() { in_ns nft list chain inet ptenant prerouting | grep "$1" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }
before=$(drops "address spoofing")
in_tenant_net b ip addr add "$A/32" dev eth0
in_tenant_net b "$PY" -c "$SEND_PY" "$A" "$GW" 9053; sleep 0.3
[[ $(lines "$W/udp9053") == 1 ]] && ok "b cannot send with a's address" || not_ok "b sent with a's address"
(( $(drops "address spoofing") > before )) && ok "the address-spoofing rule dropped it" || not_ok "the address-spoofing rule did not count it"
in_tenant_net b ip addr del "$A/32" dev eth0
# A MAC change flushes eth0's neighbours, the permanent gateway entry
# too: an attacker puts it back, so the MAC rule is what must stop it.
gw_mac=$(printf '06:70:%02x:%02x:%02x:%02x' ${B//./ })
readd_gw() { in_tenant_net b ip neigh replace "$GW" lladdr "$gw_mac" dev eth0 nud permanent; }
orig=$(eth0_mac b)
before=$(drops "MAC spoofing")
in_tenant_net b ip link set eth0 address "$mac"; readd_gw
in_tenant_net b "$PY" -c "$SEND_PY" "$B" "$GW" 9053; sleep 0.3
[[ $(lines "$W/udp9053") == 1 ]] && ok "b cannot send with a's MAC" || not_ok "b sent with a's MAC"
(( $(drops "MAC spoofing") > before )) && ok "the MAC-spoofing rule dropped it" || not_ok "the MAC-spoofing rule did not count it"
in_tenant_net b ip link set eth0 address "$orig"; readd_gw
in_tenant_net b "$PY" -c "$SEND_PY" "$B" "$GW" 9053; sleep 0.3
[[ $(lines "$W/udp9053") == 2 ]] && ok "control: with its own MAC again b gets through" || not_ok "control: b's own MAC"

# ---- respawn
pid=$(tenant_pid a)
kill -KILL "$pid"
for _ in $(seq 100); do
  [[ $(tenant_field a restarts) == 1 && $(tenant_field a state) == running ]] && break; sleep 0.05
done
[[ $(tenant_addr a) == "$A" ]] && ok "a keeps its address across a respawn" || not_ok "address after respawn: $(tenant_addr a)"
out=$(in_ns curl -s -m 5 "http://$A:8080/")
[[ $out == *"hostname: a"* ]] && ok "host reaches a after the respawn" || not_ok "host reaches a after respawn ('$out')"
n=$(in_ns ip -o link show | grep -c ptv)
[[ $n == 2 ]] && ok "exactly two host veths after the respawn" || not_ok "$n host veths after the respawn"

# ---- daemon restart (live restore)
pid_a=$(tenant_pid a)
daemon_stop
out=$(in_ns curl -s -m 5 "http://$A:8080/")
[[ $out == *"hostname: a"* ]] && ok "a serves while the daemon is down" || not_ok "a serves while daemon down"
check "the firewall stays while the daemon is down" in_ns nft list table inet ptenant
daemon_start
[[ $(tenant_pid a) == "$pid_a" && $(tenant_addr a) == "$A" ]] && ok "a adopted with the same pid and address" ||
  not_ok "a after restart: pid $(tenant_pid a) addr $(tenant_addr a)"
out=$(in_ns curl -s -m 5 "http://$A:8080/")
[[ $out == *"hostname: a"* ]] && ok "host reaches a after the daemon restart" || not_ok "host reaches a after restart"
check_not "b still cannot reach a after the daemon restart" in_tenant_net b "$PY" -c "$TCP_PY" "$A" 8080
n=$(in_ns nft list set inet ptenant tenant_ip | grep -o '"ptv[0-9a-f]*"' | wc -l)
[[ $n == 2 ]] && ok "the rebuilt table lists both tenants" || not_ok "the rebuilt table lists $n tenants"

# ---- rm leaves nothing
pt rm a >/dev/null; pt rm b >/dev/null
sleep 0.2
n=$(in_ns ip -o link show | grep -c ptv)
[[ $n == 0 ]] && ok "no veth after rm" || { not_ok "$n veths after rm"; in_ns ip -o link show | sed 's/^/# /'; tail -5 "$W/daemon.log" | sed 's/^/# /'; }
[[ -z $(in_ns ip route show 10.213.0.0/16 root 10.213.0.0/16) ]] && ok "no route after rm" || not_ok "routes after rm"
n=$(in_ns nft list table inet ptenant | grep -c '"ptv0')
[[ $n == 0 ]] && ok "no set element after rm" || not_ok "$n set elements after rm"
done_testing

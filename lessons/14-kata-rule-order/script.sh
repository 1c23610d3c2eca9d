#!/usr/bin/env bash
# Kata 14 (debugging): this script makes the host a router and firewall between a LAN (lan, where red is 10.0.1.2)
# and a DMZ (dmz, where the web server web is 10.0.2.2). The policy: from the LAN, only http (tcp port 80) may go
# to the DMZ; replies come back. The report says: "nobody on the LAN can open the web site".
# 1. In assert.mjs, write the netspec assertion that exposes the fault: the course checks that it fails on the lab
#    as this script builds it, and passes on a repaired one.
# 2. Then fix this script.
# Check with: npm run lessons -- 14
set -e
i=1
for pair in lan:red dmz:web; do
  dev=${pair%%:*} ns=${pair##*:}
  ip netns add $ns
  ip link add $dev type veth peer name eth0 netns $ns
  ip addr add 10.0.$i.1/24 dev $dev
  ip link set $dev up
  ip netns exec $ns ip addr add 10.0.$i.2/24 dev eth0
  ip netns exec $ns ip link set eth0 up
  ip netns exec $ns ip route add default via 10.0.$i.1
  i=$((i + 1))
done
sysctl -w net.ipv4.ip_forward=1
iptables -P FORWARD DROP
iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -i lan -o dmz -j DROP
iptables -A FORWARD -i lan -o dmz -p tcp --dport 80 -j ACCEPT

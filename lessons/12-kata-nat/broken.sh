#!/usr/bin/env bash
# Kata 12 (debugging): this script is the tutorial's network: red (192.168.15.1) and blue (192.168.15.2) on the
# bridge v-net-0, the host 192.168.15.3 as their gateway to the Internet (the lab's wan, where 203.0.113.8 answers).
# The report says: "red and blue cannot reach the Internet, though everything is there".
# 1. In assert.mjs, write the netspec assertion that exposes the fault: the course checks that it fails on the lab
#    as this script builds it, and passes on a repaired one.
# 2. Then fix this script.
# Check with: npm run lessons -- 12
set -e
ip netns add red
ip netns add blue
ip link add v-net-0 type bridge
ip link set dev v-net-0 up
ip addr add 192.168.15.3/24 dev v-net-0
for ns in red blue; do
  ip link add veth-$ns type veth peer name veth-$ns-brdg
  ip link set veth-$ns netns $ns
  ip link set veth-$ns-brdg master v-net-0 up
done
ip netns exec red ip addr add 192.168.15.1/24 dev veth-red
ip netns exec blue ip addr add 192.168.15.2/24 dev veth-blue
for ns in red blue; do
  ip netns exec $ns ip link set veth-$ns up
  ip netns exec $ns ip route add default via 192.168.15.3
done
sysctl -w net.ipv4.ip_forward=1
iptables --policy FORWARD ACCEPT
iptables -t nat -A POSTROUTING -s 192.168.16.0/24 -j MASQUERADE

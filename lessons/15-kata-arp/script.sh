#!/usr/bin/env bash
# Kata 15 (debugging): the tutorial's network again (red 192.168.15.1 and blue 192.168.15.2 on v-net-0, the host
# 192.168.15.3 as their gateway), this time with a hardening step: red's gateway is pinned in its neighbor table,
# so that nobody can impersonate it. The report says: "red cannot reach the host any more; blue can".
# 1. In assert.mjs, write the netspec assertion that exposes the fault: the course checks that it fails on the lab
#    as this script builds it, and passes on a repaired one.
# 2. Then fix this script (keep the pinning if you like, but right).
# Check with: npm run lessons -- 15
set -e
ip netns add red
ip netns add blue
ip link add v-net-0 type bridge
ip link set dev v-net-0 address 02:00:00:0f:00:03
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
# pin the gateway (the MAC of the old router, copied from the wiki)
ip netns exec red ip neigh replace 192.168.15.3 lladdr 02:00:00:0f:00:30 dev veth-red nud permanent

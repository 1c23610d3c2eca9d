#!/usr/bin/env bash
# Kata 13 (debugging): this script makes the host a router between two networks: red (10.0.1.2) behind lan1
# (10.0.1.1) and blue (10.0.2.2) behind lan2 (10.0.2.1), one cable each, a default route via the host in each.
# The report says: "red and blue cannot reach each other; each can reach the host".
# 1. In assert.mjs, write the netspec assertion that exposes the fault: the course checks that it fails on the lab
#    as this script builds it, and passes on a repaired one.
# 2. Then fix this script.
# Check with: npm run lessons -- 13
set -e
i=1
for ns in red blue; do
  ip netns add $ns
  ip link add lan$i type veth peer name eth0 netns $ns
  ip addr add 10.0.$i.1/24 dev lan$i
  ip link set lan$i up
  ip netns exec $ns ip addr add 10.0.$i.2/24 dev eth0
  ip netns exec $ns ip link set eth0 up
  ip netns exec $ns ip route add default via 10.0.$i.1
  ip netns exec $ns sysctl -w net.ipv4.ip_forward=1
  i=$((i + 1))
done

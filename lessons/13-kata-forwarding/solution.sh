#!/usr/bin/env bash
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
  i=$((i + 1))
done
sysctl -w net.ipv4.ip_forward=1

#!/usr/bin/env bash
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
ip netns exec red ip neigh replace 192.168.15.3 lladdr 02:00:00:0f:00:03 dev veth-red nud permanent

#!/usr/bin/env bash
ip link add v-net-0 type bridge
ip link set dev v-net-0 up
ip link add veth-red type veth peer name veth-red-brdg
ip link add veth-blue type veth peer name veth-blue-brdg
ip link set veth-red netns red
ip link set veth-red-brdg master v-net-0
ip link set veth-blue netns blue
ip link set veth-blue-brdg master v-net-0
ip netns exec red ip addr add 192.168.15.1/24 dev veth-red
ip netns exec blue ip addr add 192.168.15.2/24 dev veth-blue
ip link set veth-red-brdg up
ip link set veth-blue-brdg up
ip netns exec red ip link set veth-red up
ip netns exec blue ip link set veth-blue up
iptables --policy FORWARD ACCEPT

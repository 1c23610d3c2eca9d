#!/bin/sh
# The tutorial's topology as an expert writes it: one `ip -batch` for the host and one per namespace, the probes with
# one fping, no teardown (the namespaces die with the private namespace this runs in; see bench/run.ts). The baseline
# that netspec's tutorial case must beat by 2× (issue: performance, round two). Never on the machine's own network.
set -e
mount -t tmpfs -o mode=755 bench /run && mkdir -p /run/netns
ip -batch - <<'IP'
link set lo up
netns add wan
netns add red
netns add blue
link add uplink type veth peer name wan0 netns wan
addr add 198.51.100.2/24 dev uplink
link set uplink up
route add default via 198.51.100.1
link add v-net-0 type bridge
link set v-net-0 up
addr add 192.168.15.3/24 dev v-net-0
link add veth-red type veth peer name veth-red-brdg
link add veth-blue type veth peer name veth-blue-brdg
link set veth-red netns red
link set veth-blue netns blue
link set veth-red-brdg master v-net-0 up
link set veth-blue-brdg master v-net-0 up
IP
ip -n wan -batch - <<'IP'
link set lo up
addr add 198.51.100.1/24 dev wan0
addr add 203.0.113.8/24 dev lo
link set wan0 up
IP
ip -n red -batch - <<'IP'
link set lo up
addr add 192.168.15.1/24 dev veth-red
link set veth-red up
route add default via 192.168.15.3
IP
ip -n blue -batch - <<'IP'
link set lo up
addr add 192.168.15.2/24 dev veth-blue
link set veth-blue up
route add default via 192.168.15.3
IP
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE
# the three assertions: red reaches blue, red reaches the Internet, red routes it via the gateway
ip netns exec red fping -q -r 10 -t 100 192.168.15.2 203.0.113.8
ip -n red route get 203.0.113.8 | grep -q 'via 192.168.15.3'

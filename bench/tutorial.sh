#!/bin/sh
# The tutorial's topology as a plain shell script: the baseline that `npm run bench` measures netspec against.
# It runs inside a private network + mount namespace (see bench/run), never on the machine's own network.
set -e
mount -t tmpfs -o mode=755 bench /run && mkdir -p /run/netns
ip link set lo up

# the Internet stand-in: a wan namespace on documentation addresses
ip netns add wan
ip link add uplink type veth peer name wan0 netns wan
ip addr add 198.51.100.2/24 dev uplink
ip link set uplink up
ip -n wan addr add 198.51.100.1/24 dev wan0
ip -n wan addr add 203.0.113.8/24 dev lo
ip -n wan link set wan0 up
ip -n wan link set lo up
ip route add default via 198.51.100.1

# the tutorial: red and blue on the bridge v-net-0, host as gateway, NAT
ip netns add red
ip netns add blue
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
ip netns exec red ip link set lo up
ip netns exec blue ip link set lo up
ip addr add 192.168.15.3/24 dev v-net-0
ip netns exec red ip route add default via 192.168.15.3
ip netns exec blue ip route add default via 192.168.15.3
sysctl -qw net.ipv4.ip_forward=1
iptables --policy FORWARD ACCEPT
iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE

# three checks: red reaches blue, red reaches the Internet stand-in, red routes via the gateway
ip netns exec red ping -c1 -W1 192.168.15.2 >/dev/null
ip netns exec red ping -c1 -W1 203.0.113.8 >/dev/null
ip -n red route get 203.0.113.8 | grep -q 'via 192.168.15.3'

# tear down
ip netns del red
ip netns del blue
ip netns del wan
ip link del v-net-0
iptables -t nat -F POSTROUTING

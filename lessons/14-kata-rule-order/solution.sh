#!/usr/bin/env bash
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
iptables -A FORWARD -i lan -o dmz -p tcp --dport 80 -j ACCEPT

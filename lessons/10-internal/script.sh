#!/usr/bin/env bash
# Lesson 10: this host runs Docker (c1 is 172.17.0.2 on docker0). The script below builds a second network, backend,
# the way `docker network create backend` does: a bridge br-backend (172.18.0.1/16), two containers db1 (172.18.0.2)
# and db2 (172.18.0.3), and Docker's rules for it. Make backend what `docker network create --internal backend`
# makes: db1 and db2 reach each other, but nothing leaves backend (not to the Internet, 203.0.113.8, nor to c1) and
# nothing enters it (c1 must not reach db1). Change the rules below, or add Docker's isolation rules.
# Check with: npm run lessons -- 10
set -e
ip link add br-backend type bridge
ip addr add 172.18.0.1/16 dev br-backend
ip link set br-backend up
for i in 1 2; do
  ip netns add db$i
  ip link add veth-db$i type veth peer name eth0 netns db$i
  ip link set veth-db$i master br-backend up
  ip netns exec db$i ip addr add 172.18.0.$((i + 1))/16 dev eth0
  ip netns exec db$i ip link set eth0 up
  ip netns exec db$i ip link set lo up
  ip netns exec db$i ip route add default via 172.18.0.1
done
# Docker's rules for a network that is not internal:
iptables -I FORWARD -o br-backend -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -I FORWARD -i br-backend ! -o br-backend -j ACCEPT
iptables -I FORWARD -i br-backend -o br-backend -j ACCEPT
iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o br-backend -j MASQUERADE

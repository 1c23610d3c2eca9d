#!/usr/bin/env bash
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
# Docker's rules for an internal network: inside only, and isolated both ways
iptables -I FORWARD -i br-backend -o br-backend -j ACCEPT
iptables -I DOCKER-ISOLATION-STAGE-1 ! -d 172.18.0.0/16 -i br-backend -j DROP
iptables -I DOCKER-ISOLATION-STAGE-1 ! -s 172.18.0.0/16 -o br-backend -j DROP

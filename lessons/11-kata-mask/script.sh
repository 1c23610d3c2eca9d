#!/usr/bin/env bash
# Kata 11 (debugging): this script builds a small service network on the bridge br0: the host is 10.1.0.1, web is
# 10.1.0.10 and db is 10.1.0.200, all in 10.1.0.0/24. The report says: "web cannot talk to db".
# 1. In assert.mjs, write the netspec assertion that exposes the fault: the course checks that it fails on the lab
#    as this script builds it, and passes on a repaired one.
# 2. Then fix this script.
# Check with: npm run lessons -- 11
set -e
ip link add br0 type bridge
ip addr add 10.1.0.1/24 dev br0
ip link set br0 up
ip netns add web
ip netns add db
ip link add veth-web type veth peer name eth0 netns web
ip link add veth-db type veth peer name eth0 netns db
ip link set veth-web master br0 up
ip link set veth-db master br0 up
ip netns exec web ip addr add 10.1.0.10/24 dev eth0
ip netns exec db ip addr add 10.1.0.200/25 dev eth0
ip netns exec web ip link set eth0 up
ip netns exec db ip link set eth0 up

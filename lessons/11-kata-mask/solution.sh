#!/usr/bin/env bash
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
ip netns exec db ip addr add 10.1.0.200/24 dev eth0
ip netns exec web ip link set eth0 up
ip netns exec db ip link set eth0 up

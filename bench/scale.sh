#!/bin/sh
# Baseline for the scale case: N namespaces on one bridge with plain `ip` commands (N from $1, default 100), then
# tear down. Runs inside a private network + mount namespace (see bench/run.ts), never on the machine's network.
set -e
n=${1:-100}
mount -t tmpfs -o mode=755 bench /run && mkdir -p /run/netns
ip link add br0 type bridge
ip link set dev br0 up
i=1
while [ "$i" -le "$n" ]; do
  ip netns add "n$i"
  ip link add "v$i" type veth peer name eth0 netns "n$i"
  ip link set "v$i" master br0 up
  ip -n "n$i" addr add "10.0.$((i / 250)).$((i % 250 + 1))/16" dev eth0
  ip -n "n$i" link set eth0 up
  ip -n "n$i" link set lo up
  i=$((i + 1))
done
i=1
while [ "$i" -le "$n" ]; do ip netns del "n$i"; i=$((i + 1)); done
ip link del br0

#!/usr/bin/env bash
sysctl -w net.ipv4.ip_forward=1
ip netns exec red ip route add default via 192.168.15.3
ip netns exec blue ip route add default via 192.168.15.3
iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE

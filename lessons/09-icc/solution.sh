#!/usr/bin/env bash
# what Docker writes with icc=false: no ACCEPT for docker0 to docker0, a DROP instead
iptables -D FORWARD -i docker0 -o docker0 -j ACCEPT
iptables -A FORWARD -i docker0 -o docker0 -j DROP

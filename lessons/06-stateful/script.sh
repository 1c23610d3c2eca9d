#!/usr/bin/env bash
# Lesson 6: the host is the router and firewall between a LAN (lan0, 10.0.0.0/24, where red is 10.0.0.2) and the
# Internet (its uplink uplink0; the Internet routes 10.0.0.0/24 to it, so there is no NAT). The firewall below lets
# red's packets out, and drops everything else. Make it stateful: red opens connections to the Internet (ping and tcp
# to 203.0.113.8) and their replies come back, ICMP errors about them too (a closed UDP port answers "port
# unreachable"); the Internet opens no connection to red.
# Check with: npm run lessons -- 06
iptables -P FORWARD DROP
iptables -A FORWARD -i lan0 -o uplink0 -j ACCEPT

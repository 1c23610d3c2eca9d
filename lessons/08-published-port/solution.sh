#!/usr/bin/env bash
# before Docker's `-A DOCKER -i docker0 -j RETURN`, and without `! -i docker0`: containers get the DNAT too (hairpin)
iptables -t nat -I DOCKER -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
iptables -A DOCKER -d 172.17.0.2/32 -o docker0 -p tcp --dport 80 -j ACCEPT

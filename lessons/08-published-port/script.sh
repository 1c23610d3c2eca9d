#!/usr/bin/env bash
# Lesson 8: this host runs Docker (docker0 is 172.17.0.0/16; the FORWARD policy is DROP) with two containers:
# web (172.17.0.2, a server on tcp port 80) and client (172.17.0.3). The host's address on the Internet is
# 198.51.100.2. Publish web's port 80 as the host's port 8080, as `docker run -p 8080:80` does with Docker's
# userland proxy off (iptables only): the Internet (the lab's wan) must reach 198.51.100.2:8080, and so must the
# container client, through the same public address (that is "hairpin" NAT).
# Docker's own chains are there to use: `iptables -t nat -S` and `iptables -S`.
# Check with: npm run lessons -- 08

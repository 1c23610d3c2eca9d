#!/usr/bin/env bash
# Lesson 9: this host runs Docker with two containers on docker0: c1 (172.17.0.2) and c2 (172.17.0.3). Make docker0
# behave as with `dockerd --icc=false` (or a network made with -o com.docker.network.bridge.enable_icc=false): the
# firewall drops the traffic between containers, while each container still reaches the Internet (203.0.113.8).
# Check with: npm run lessons -- 09

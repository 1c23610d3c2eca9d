#!/usr/bin/env bash
# Lesson 5: red and blue are on v-net-0, the host is 192.168.15.3 there, and its uplink leads to the Internet
# (the lab's wan, where 203.0.113.8 plays the tutorial's public DNS server). Make red and blue reach 203.0.113.8: the host
# must become their router.
# Check with: npm run lessons -- 05

#!/usr/bin/env bash
# Lesson 7: red (192.168.15.1) and blue (192.168.15.2) are on the bridge v-net-0 of lessons 1-4, and they reached
# each other, until Docker was installed on this host: Docker set the FORWARD policy to DROP, and bridged traffic
# crosses FORWARD. Make red and blue reach each other again, the way Docker's documentation asks: with a rule in the
# DOCKER-USER chain (Docker jumps to it first and never rewrites it). Docker's containers (c1 is 172.17.0.2 on
# docker0) must stay closed to v-net-0: keep the FORWARD policy DROP.
# Check with: npm run lessons -- 07

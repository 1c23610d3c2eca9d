#!/usr/bin/env bash
# Lesson 3: red and blue exist, and the host's FORWARD policy is DROP (as Docker leaves it).
# Create a bridge v-net-0 and cable each namespace to it: veth-red (in red) <-> veth-red-brdg (on the bridge),
# veth-blue (in blue) <-> veth-blue-brdg. Give red 192.168.15.1/24 and blue 192.168.15.2/24. Make red reach blue.
# Check with: npm run lessons -- 03

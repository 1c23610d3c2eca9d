#!/usr/bin/env bash
# Lesson 4: red (192.168.15.1) and blue (192.168.15.2) are on the bridge v-net-0.
# Make the host and blue reach each other; the host's address on that network is 192.168.15.3.
# Check with: npm run lessons -- 04

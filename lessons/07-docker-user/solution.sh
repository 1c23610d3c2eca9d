#!/usr/bin/env bash
iptables -I DOCKER-USER -i v-net-0 -o v-net-0 -j ACCEPT

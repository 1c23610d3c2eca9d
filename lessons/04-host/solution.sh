#!/usr/bin/env bash
ip addr add 192.168.15.3/24 dev v-net-0

#!/usr/bin/env bash
# The machine's own network state: CI takes it before and after the suite and fails if anything differs.
set -u
echo '## ip netns list'; ip netns list
echo '## links'; ip -j link show | node -e 'for (const l of JSON.parse(require("fs").readFileSync(0,"utf8"))) console.log(l.ifname, l.flags.join(","), l.operstate, l.master ?? "")'
echo '## addresses'; ip -br addr show
echo '## routes'; ip route show table all; ip -6 route show table all
echo '## iptables-save'; iptables-save 2>&1 | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//g'
echo '## ip6tables-save'; ip6tables-save 2>&1 | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//g'
echo '## nft list ruleset'; nft list ruleset 2>&1
echo '## forwarding'; sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
echo '## /run/netns'; ls -la /run/netns 2>&1 | sed 1d | awk '{print $NF}'
# what attach mode could write on the machine (a legacy iptables run in an attached namespace creates the lock)
echo '## /run/xtables.lock'; if [ -e /run/xtables.lock ]; then echo present; else echo absent; fi
# cgroup folders a container engine in a lab could leave (the kernel never removes a cgroup folder): dockerd's own
# parent and netspec's per-engine parents, in every hierarchy
echo '## cgroups'; for h in /sys/fs/cgroup /sys/fs/cgroup/*; do for d in "$h"/docker "$h"/netspec-*; do [ -d "$d" ] && echo "$d $(find "$d" -mindepth 1 -type d 2>/dev/null | wc -l)"; done; done; true

import { writeFileSync } from 'node:fs';
import { createLab } from '../../src/index.js';
import { dockerHost } from '../../fixtures/index.js';

const dir = new URL('./captured', import.meta.url).pathname;
await using lab = await createLab();
const docker = await dockerHost(lab);
const web = await docker.createNetwork('web');
await docker.run('c1', { network: 'web', publish: ['8080:80', '5353:53/udp'] });
// a mangle FORWARD chain (ACCEPT) printed before filter's FORWARD DROP, a negated match, a comment with spaces
await lab.host.iptables(['-t', 'mangle', '-A', 'FORWARD', '-p', 'icmp', '-j', 'ACCEPT']);
await lab.host.iptables(['-t', 'nat', '-A', 'POSTROUTING', '!', '-s', '10.99.0.0/16', '-o', 'uplink0', '-m', 'comment', '--comment', 'not the lab', '-j', 'MASQUERADE']);
// native nft: a dnat, a forward chain with policy drop and counters
await lab.host.exec('nft', ['-f', '-'], { input: `table inet site {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 198.51.100.2 tcp dport 9090 counter dnat ip to 172.18.0.2:80
  }
  chain guard {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "uplink0" ip saddr != 10.0.0.0/8 tcp dport { 80, 443 } counter accept
    meta l4proto icmp reject
  }
}
table ip6 six {
  chain out {
    type filter hook output priority 0; policy accept;
    ip6 daddr fd00::/8 udp dport 53 drop
  }
}
` });
// a multipath route in another table, and a policy rule
const c1 = docker.containers[0]!;
await lab.host.exec('ip', ['route', 'add', '10.77.0.0/16', 'table', '100', 'nexthop', 'via', '172.18.0.2', 'dev', web.bridge, 'weight', '1', 'nexthop', 'via', '172.17.0.1', 'dev', 'docker0', 'weight', '2'], { reject: false }).then((r) => console.log('mp', r.exitCode, r.stderr));
await lab.host.exec('ip', ['rule', 'add', 'from', '10.77.0.0/16', 'lookup', '100', 'priority', '1000']);
await lab.host.exec('ip', ['route', 'add', 'blackhole', '10.66.0.0/16']);
await c1.ns.exec('ping', ['-c', '1', '-W', '1', web.gateway], { reject: false });
const out = async (name: string, argv: string[]) => {
  const r = await lab.host.exec(argv[0]!, argv.slice(1), { reject: false });
  writeFileSync(`${dir}/${name}`, r.stdout);
  console.log(name, r.exitCode, r.stdout.length, r.stderr.slice(0, 200));
};
await out('host.iptables-save', ['iptables-save', '-c']);
await out('host.ip6tables-save', ['ip6tables-save', '-c']);
await out('host.nft.json', ['nft', '-j', 'list', 'ruleset']);
await out('host.nft.txt', ['nft', 'list', 'ruleset']);
await out('host.links.json', ['ip', '-j', '-d', 'link', 'show']);
await out('host.addr.json', ['ip', '-j', 'addr', 'show']);
await out('host.routes.json', ['ip', '-j', 'route', 'show', 'table', 'all']);
await out('host.routes6.json', ['ip', '-6', '-j', 'route', 'show']);
await out('host.rules.json', ['ip', '-j', 'rule', 'show']);
await out('host.neigh.json', ['ip', '-j', 'neigh', 'show']);
const r = await c1.ns.exec('ip', ['-j', '-d', 'link', 'show']);
writeFileSync(`${dir}/c1.links.json`, r.stdout);

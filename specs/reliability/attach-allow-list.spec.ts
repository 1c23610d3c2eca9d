// Issue 23: attach mode is read-only by construction. Every program it knows × every verb that would change something
// is refused before a process starts; programs run by their absolute path from a fixed list of folders (a program
// called `ip` elsewhere is not ip); legacy iptables, which registers tables even when it lists, is refused. No lab and
// no process: the allow-list is a function of the argv.
import { describe, expect, test } from 'vitest';
import { InvalidInputError } from '../../src/index.js';
import { checkReadOnly, READ_ONLY_DIRS, readOnlyArgv } from '../../src/readonly.js';

const IP_OBJECTS = ['link', 'addr', 'address', 'route', 'neigh', 'rule', 'maddr', 'mroute', 'ntable', 'netconf', 'nexthop', 'netns'];
const IP_VERBS = ['add', 'del', 'delete', 'set', 'change', 'replace', 'flush', 'append', 'prepend', 'exec', 'attach', 'restore', 'save', 'identify', 'monitor'];
const IPTABLES = ['iptables', 'ip6tables', 'iptables-nft', 'ip6tables-nft'];
const IPTABLES_VERBS = [['-A', 'INPUT', '-j', 'DROP'], ['-D', 'INPUT', '1'], ['-I', 'INPUT', '-j', 'DROP'], ['-R', 'INPUT', '1', '-j', 'DROP'], ['-F'], ['-Z'], ['-N', 'x'], ['-X'], ['-P', 'FORWARD', 'DROP'], ['-E', 'a', 'b'], ['--append', 'INPUT', '-j', 'DROP'], ['--flush'], ['-L', '-Z'], ['-t', 'nat', '-F'], ['-S', '-F']];
const NFT_VERBS = [['add', 'table', 'ip', 't'], ['delete', 'table', 'ip', 't'], ['flush', 'ruleset'], ['insert', 'rule', 'ip', 't', 'c', 'drop'], ['replace', 'rule'], ['create', 'table', 'ip', 't'], ['destroy', 'table', 'ip', 't'], ['reset', 'counters'], ['rename', 'chain'], ['-f', '/dev/stdin'], ['monitor'], ['list', 'ruleset;', 'flush', 'ruleset'], ['list', 'ruleset\nflush ruleset']];
const SYSCTL_VERBS = [['-w', 'net.ipv4.ip_forward=1'], ['net.ipv4.ip_forward=1'], ['-p'], ['--system'], ['--load=/etc/sysctl.conf'], ['-f', '/etc/sysctl.conf']];
const SS_VERBS = [['-K', 'dst', '10.0.0.1'], ['-D', '/tmp/x'], ['-N', 'other'], ['-F', '/tmp/filter'], ['--kill']];
const BRIDGE_VERBS = [['link', 'set', 'dev', 'v0', 'learning', 'off'], ['fdb', 'add', '00:11:22:33:44:55', 'dev', 'v0'], ['fdb', 'del', '00:11:22:33:44:55', 'dev', 'v0'], ['fdb', 'replace'], ['fdb', 'flush', 'dev', 'v0'], ['vlan', 'add', 'vid', '5', 'dev', 'v0'], ['vlan', 'del', 'vid', '5', 'dev', 'v0'], ['mdb', 'add'], ['mdb', 'del'], ['-n', 'other', 'link', 'show'], ['monitor']];
const BRCTL_VERBS = [['addbr', 'b'], ['delbr', 'b'], ['addif', 'b', 'v0'], ['delif', 'b', 'v0'], ['setageing', 'b', '0'], ['stp', 'b', 'on'], ['setbridgeprio', 'b', '0'], ['setfd', 'b', '0'], ['sethello', 'b', '1'], ['setmaxage', 'b', '1'], ['setpathcost', 'b', 'v0', '1'], ['setportprio', 'b', 'v0', '1'], ['hairpin', 'b', 'v0', 'on']];
const OTHER_PROGRAMS = [['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem'], ['iptables-restore'], ['ip6tables-restore'], ['nsenter', '--net=/proc/1/ns/net', 'ip', 'link'], ['sh', '-c', 'true'], ['bash', '-c', 'true'], ['mount', '-t', 'tmpfs', 'x', '/run'], ['ethtool', '-s', 'lo'], ['conntrack', '-F'], ['arp', '-d', '10.0.0.1'], ['route', 'add', 'default'], ['ifconfig', 'lo', 'down'], ['modprobe', 'dummy'], ['touch', '/run/xtables.lock']];
// the rule dumpers write files or load modules with some flags; the probes attach mode runs may not start programs,
// listen, flood, or reach another namespace; ip and nft may not be pointed elsewhere or read commands interactively
const SAVE_VERBS = ['iptables-save', 'ip6tables-save', 'iptables-nft-save', 'ip6tables-nft-save'].flatMap((p) => [[p, '-f', '/tmp/rules'], [p, '--file=/tmp/rules'], [p, '-M', '/tmp/modprobe'], [p, '--modprobe=/tmp/modprobe']]);
const PROBE_VERBS = [['socat', '-', 'EXEC:sh'], ['socat', '-', 'SYSTEM:true'], ['socat', 'TCP-LISTEN:80', '-'], ['socat', 'UDP-RECV:53', '-'], ['socat', '-', 'OPEN:/run/x,creat'], ['ping', '-f', '10.0.0.1'], ['fping', '-i', '0', '10.0.0.1'], ['ip', '-n', 'other', 'link', 'show'], ['ip', '-netns', 'other', 'link', 'show'], ['nft', '-i'], ['nft', '--interactive']];
const LEGACY = [['iptables-legacy', '-L'], ['iptables-legacy', '-S', '-t', 'nat'], ['ip6tables-legacy', '-L', '-t', 'nat'], ['iptables-legacy-save'], ['iptables-legacy-save', '-t', 'nat'], ['ip6tables-legacy-save'], ['/usr/sbin/iptables-legacy', '-L']];

const table: [string, string[], string?][] = [
  ...IP_OBJECTS.flatMap((o) => IP_VERBS.map((v): [string, string[]] => [`ip ${o} ${v}`, ['ip', o, v, 'dev', 'lo']])),
  ...IP_OBJECTS.flatMap((o) => IP_VERBS.map((v): [string, string[], string] => [`ip -batch - with ${o} ${v}`, ['ip', '-batch', '-'], `${o} ${v} dev lo\n`])),
  ...IPTABLES.flatMap((p) => IPTABLES_VERBS.map((v): [string, string[]] => [`${p} ${v.join(' ')}`, [p, ...v]])),
  ...NFT_VERBS.map((v): [string, string[]] => [`nft ${v.join(' ')}`, ['nft', ...v]]),
  ...SYSCTL_VERBS.map((v): [string, string[]] => [`sysctl ${v.join(' ')}`, ['sysctl', ...v]]),
  ...SS_VERBS.map((v): [string, string[]] => [`ss ${v.join(' ')}`, ['ss', ...v]]),
  ...BRIDGE_VERBS.map((v): [string, string[]] => [`bridge ${v.join(' ')}`, ['bridge', ...v]]),
  ...BRCTL_VERBS.map((v): [string, string[]] => [`brctl ${v.join(' ')}`, ['brctl', ...v]]),
  ...OTHER_PROGRAMS.map((v): [string, string[]] => [v.join(' '), v]),
  ...LEGACY.map((v): [string, string[]] => [`${v.join(' ')} (legacy)`, v]),
  ...SAVE_VERBS.map((v): [string, string[]] => [v.join(' '), v]),
  ...PROBE_VERBS.map((v): [string, string[]] => [v.join(' '), v]),
];

describe('every program × every mutating verb is refused in attach mode, also through `timeout`', () => {
  test('the table is whole', () => {
    expect(table.length).toBeGreaterThan(400);
  });
  test.each(table)('%s', (_name, argv, input) => {
    expect(() => readOnlyArgv(argv, input)).toThrow(InvalidInputError);
    expect(() => readOnlyArgv(['timeout', '5', ...argv], input)).toThrow(InvalidInputError);
  });
});

test('a program is the one in the fixed folders, by its absolute path: the same name elsewhere is refused', () => {
  for (const path of ['/tmp/ip', './ip', 'bin/ip', '/usr/local/bin/ip', '/usr/sbin/../sbin/ip', '/run/netns/ip']) {
    expect(() => readOnlyArgv([path, '-j', 'link', 'show'], undefined), path).toThrow(/is not .*attach mode runs programs only from \/usr\/sbin, \/usr\/bin, \/sbin, \/bin/);
  }
  expect(() => checkReadOnly(['/tmp/iptables-save'], undefined)).toThrow(InvalidInputError);
  expect(() => readOnlyArgv(['timeout', '5', '/tmp/ping', '-c', '1', '10.0.0.1'], undefined)).toThrow(InvalidInputError);
});

test('what reads still runs, resolved to the absolute path it will run as', () => {
  const reads: string[][] = [
    ['ip', '-j', 'link', 'show'],
    ['ip', '-j', 'route', 'get', '10.0.0.1'],
    ['iptables-save', '-c'],
    ['iptables', '-S', '-t', 'nat'],
    ['ip6tables', '-L', '-n'],
    ['nft', '-j', 'list', 'ruleset'],
    ['sysctl', '-n', 'net.ipv4.ip_forward'],
    ['ss', '-tln'],
    ['bridge', '-j', 'fdb', 'show'],
    ['brctl', 'show'],
    ['ping', '-c', '1', '10.0.0.1'],
  ];
  for (const argv of reads) {
    const out = readOnlyArgv(argv, undefined);
    expect(READ_ONLY_DIRS.some((d) => out[0] === `${d}/${argv[0]}`), `${argv[0]} → ${out[0]}`).toBe(true);
    expect(out.slice(1)).toEqual(argv.slice(1));
  }
  const wrapped = readOnlyArgv(['timeout', '-s', 'INT', '3', 'ping', '-c', '1', '10.0.0.1'], undefined);
  expect(wrapped[0]).toMatch(/^\/(usr\/)?s?bin\/timeout$/);
  expect(wrapped[4]).toMatch(/^\/(usr\/)?s?bin\/ping$/);
  // a path that is the program itself is accepted as given
  const ip = readOnlyArgv(['ip', 'link', 'show'], undefined)[0]!;
  expect(readOnlyArgv([ip, 'link', 'show'], undefined)[0]).toBe(ip);
});

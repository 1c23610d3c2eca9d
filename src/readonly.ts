/**
 * What may run in an attached namespace without { allowChanges: true }: an allow-list of argv shapes that only read
 * (not a deny-list of ones that write), and netspec's own probes, whose destinations are returned for the route guard.
 * Anything else is refused with an InvalidInputError before a process starts.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { InvalidInputError } from './errors.js';
import { parseAddress } from './address.js';

/** The only folders attach mode runs programs from (never $PATH: a folder on it could hold any program called `ip`). */
export const READ_ONLY_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

const resolved = new Map<string, string | undefined>();
/** The absolute path of `name` in READ_ONLY_DIRS (the first executable one), or undefined. */
function programPath(name: string): string | undefined {
  if (!resolved.has(name)) {
    let found: string | undefined;
    for (const dir of READ_ONLY_DIRS) {
      try {
        accessSync(`${dir}/${name}`, constants.X_OK);
        found = `${dir}/${name}`;
        break;
      } catch {
        /* next folder */
      }
    }
    resolved.set(name, found);
  }
  return resolved.get(name);
}

const READ_ONLY_HELP =
  'attach mode is read-only: in an attached namespace netspec runs only commands that read (ip [-j] OBJECT show/list/get, ip -batch - of those, iptables-save, iptables -S/-L, nft list …, sysctl -n KEY, ss, bridge … show, brctl show) and its own probes (ping, fping, socat to an address); attach with { allowChanges: true } to run anything else';

function refuse(argv: readonly string[], why: string): never {
  throw new InvalidInputError('command in attach mode', argv.join(' '), `${why}; ${READ_ONLY_HELP}`);
}

const NUMBER = /^\d+(\.\d+)?$/;
const DURATION = /^\d+(\.\d+)?[smhd]?$/;

// --- ip -------------------------------------------------------------------------------------------------------------

const IP_FLAGS = new Set(['j', 'json', 'd', 'details', '4', '6', 's', 'stats', 'statistics', 'o', 'oneline', 'br', 'brief', 'p', 'pretty', 'c', 'color', 'h', 'human', 't', 'timestamp', 'N', 'numeric']);
const IP_OBJECTS = new Set(['link', 'l', 'addr', 'address', 'a', 'route', 'r', 'ro', 'neigh', 'neighbor', 'neighbor', 'n', 'rule', 'ru', 'maddr', 'maddress', 'mroute', 'ntable', 'netconf', 'nexthop', 'nh', 'netns']);
const IP_VERBS = new Set(['show', 'sh', 'list', 'lst', 'ls', 'get', 'list-id']);

function checkIpWords(words: readonly string[], argv: readonly string[]): void {
  const [object, verb] = words;
  if (object === undefined || !IP_OBJECTS.has(object)) refuse(argv, `\`ip ${object ?? ''}\` is not an object netspec reads`);
  if (verb !== undefined && !IP_VERBS.has(verb)) refuse(argv, `\`ip ${object} ${verb}\` is not a show, list or get`);
}

function checkIp(argv: readonly string[], input: string | undefined): void {
  let i = 1;
  let batch = false;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const flag = argv[i]!.replace(/^--?/, '');
    if (flag === 'batch' || flag === 'b') {
      if (argv[i + 1] !== '-') refuse(argv, '`ip -batch` reads its commands from stdin only (`-batch -`) in attach mode');
      batch = true;
      i++;
    } else if (!IP_FLAGS.has(flag)) {
      refuse(argv, `the ip option ${argv[i]} is not one that only formats output`);
    }
  }
  if (batch) {
    if (i !== argv.length) refuse(argv, '`ip -batch -` takes its commands from stdin only');
    for (const line of (input ?? '').split('\n')) {
      const words = line.trim().split(/\s+/).filter(Boolean);
      if (words.length) checkIpWords(words, ['ip', ...words]);
    }
    return;
  }
  checkIpWords(argv.slice(i), argv);
}

// --- iptables, nft, sysctl, ss, bridge, brctl ---------------------------------------------------------------------------

function checkIptablesSave(argv: readonly string[]): void {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-c' || a === '--counters') continue;
    if ((a === '-t' || a === '--table') && /^[a-z]+$/.test(argv[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^--table=[a-z]+$/.test(a)) continue;
    refuse(argv, `the ${argv[0]} option ${a} is not allowed`);
  }
}

function checkIptables(argv: readonly string[]): void {
  let lists = false;
  let chains = 0;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-t' || a === '--table') && /^[a-z]+$/.test(argv[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^--table=[a-z]+$/.test(a) || ['--numeric', '--verbose', '--exact', '--line-numbers'].includes(a)) continue;
    if (a === '--list' || a === '--list-rules' || /^-[nvxLS]+$/.test(a)) {
      lists ||= a.startsWith('--') || /[LS]/.test(a);
      continue;
    }
    if (!a.startsWith('-') && /^[A-Za-z0-9_.-]+$/.test(a) && ++chains === 1) continue;
    refuse(argv, `\`${argv[0]} ${a}\` does not only list rules`);
  }
  if (!lists) refuse(argv, `${argv[0]} without -S or -L changes rules`);
}

function checkNft(argv: readonly string[]): void {
  let i = 1;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const a = argv[i]!;
    if (/^-[jansNty]+$/.test(a) || ['--json', '--handle', '--numeric', '--stateless', '--terse'].includes(a)) continue;
    refuse(argv, `the nft option ${a} is not one that only formats output`);
  }
  if (argv[i] !== 'list') refuse(argv, `\`nft ${argv[i] ?? ''}\` is not \`nft list …\``);
  // nft joins its arguments into one command line, where `;` or a newline would start another command
  for (const a of argv.slice(i + 1)) if (!/^[A-Za-z0-9_.:/-]+$/.test(a)) refuse(argv, `the nft word ${JSON.stringify(a)} is not a plain name`);
}

function checkSysctl(argv: readonly string[]): void {
  let keys = 0;
  for (const a of argv.slice(1)) {
    if (/^-[neNqbA]+$/.test(a) || ['--values', '--names', '--quiet', '--binary', '--all', '--ignore'].includes(a)) continue;
    if (a === '-a') continue;
    if (!a.startsWith('-') && /^[A-Za-z0-9_./*-]+$/.test(a)) {
      keys++;
      continue;
    }
    refuse(argv, `\`sysctl ${a}\` does not only read a key`);
  }
  if (!keys && !argv.includes('-a') && !argv.includes('--all')) refuse(argv, 'sysctl without a key');
}

const SS_LONG = new Set(['--tcp', '--udp', '--raw', '--unix', '--listening', '--all', '--numeric', '--resolve', '--processes', '--extended', '--info', '--memory', '--options', '--summary', '--no-header', '--oneline', '--ipv4', '--ipv6']);

function checkSs(argv: readonly string[]): void {
  for (const a of argv.slice(1)) {
    // -K kills sockets, -D writes a file, -N switches namespace, -F reads a filter file: none of them
    if (/^-[HOaltunpreimosxw46]+$/.test(a) || SS_LONG.has(a)) continue;
    if (!a.startsWith('-') && /^[A-Za-z0-9_.:[\]/=*()!<>&| -]+$/.test(a)) continue;
    refuse(argv, `the ss argument ${JSON.stringify(a)} is not allowed`);
  }
}

function checkBridge(argv: readonly string[]): void {
  let i = 1;
  for (; i < argv.length && /^-(j|json|d|details|s|stats|c|color|p|pretty|n|N)$/.test(argv[i]!.replace(/^--/, '-')); i++) {
    if (argv[i] === '-n' || argv[i] === '-N') refuse(argv, 'bridge -n/-netns switches to another namespace');
  }
  if (!['link', 'fdb', 'vlan', 'mdb'].includes(argv[i] ?? '')) refuse(argv, `\`bridge ${argv[i] ?? ''}\` is not an object netspec reads`);
  if (argv[i + 1] !== undefined && !['show', 'list', 'lst'].includes(argv[i + 1]!)) refuse(argv, `\`bridge ${argv[i]} ${argv[i + 1]}\` is not a show`);
}

function checkBrctl(argv: readonly string[]): void {
  if (!['show', 'showmacs', 'showstp'].includes(argv[1] ?? '')) refuse(argv, `\`brctl ${argv[1] ?? ''}\` is not a show`);
}

// --- netspec's probes ---------------------------------------------------------------------------------------------------

function address(argv: readonly string[], text: string | undefined): string {
  if (text === undefined) refuse(argv, 'a probe needs a destination');
  try {
    return parseAddress(text, 'probe destination').address;
  } catch {
    // a name would be resolved through DNS: packets to a server nobody attached
    return refuse(argv, `the probe destination ${JSON.stringify(text)} is not an IP address`);
  }
}

function pingDestinations(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (['-n', '-q', '-4', '-6', '-O', '-D'].includes(a)) continue;
    if (['-c', '-w', '-W'].includes(a) && NUMBER.test(argv[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (a === '-i' && NUMBER.test(argv[i + 1] ?? '') && Number(argv[i + 1]) >= 0.05) {
      i++;
      continue;
    }
    if (a === '-I' && /^[A-Za-z0-9_.:@-]+$/.test(argv[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (a.startsWith('-')) refuse(argv, `the ping option ${a} is not one of netspec's probe`);
    out.push(address(argv, a));
  }
  if (out.length !== 1) refuse(argv, 'ping takes exactly one destination');
  return out;
}

function fpingDestinations(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (['-e', '-a', '-u', '-q', '-s', '-A', '-4', '-6'].includes(a) || /^-B\d+(\.\d+)?$/.test(a)) continue;
    if (['-t', '-r', '-c', '-C', '-B', '-p', '-i'].includes(a) && NUMBER.test(argv[i + 1] ?? '')) {
      if (a === '-i' && Number(argv[i + 1]) < 1) refuse(argv, 'fping -i below 1 ms floods');
      i++;
      continue;
    }
    if (a.startsWith('-')) refuse(argv, `the fping option ${a} is not one of netspec's probe`);
    out.push(address(argv, a));
  }
  if (!out.length) refuse(argv, 'fping without a destination');
  return out;
}

const SOCAT_SPEC = /^(?:TCP|UDP)[46]?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}((?:,connect-timeout=[\d.]+|,null-eof|,bind=(?:\[[0-9a-fA-F:.]+\]|[0-9.]+)|,so-bindtodevice=[A-Za-z0-9_.@-]+)*)$/;

function socatDestinations(argv: readonly string[]): string[] {
  let i = 1;
  while ((argv[i] === '-T' || argv[i] === '-t') && NUMBER.test(argv[i + 1] ?? '')) i += 2;
  const spec = SOCAT_SPEC.exec(argv[i + 1] ?? '');
  if (argv[i] !== '-' || !spec || i + 2 !== argv.length) refuse(argv, "socat runs only as netspec's client probe: `socat [-T s] [-t s] - TCP4:ADDRESS:PORT[,…]`");
  return [address(argv, spec[1]!.replace(/^\[|\]$/g, ''))];
}

/** `timeout [options] DURATION COMMAND…` → the index of COMMAND. */
function unwrapTimeout(argv: readonly string[]): number {
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--preserve-status' || a === '--foreground' || a === '-v' || a === '--verbose') continue;
    if ((a === '-s' || a === '-k') && /^[A-Za-z0-9.]+$/.test(argv[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^--(signal|kill-after)=[A-Za-z0-9.]+$/.test(a)) continue;
    break;
  }
  if (!DURATION.test(argv[i] ?? '')) refuse(argv, 'timeout without a duration');
  return i + 1;
}

const PROBES: Record<string, (argv: readonly string[]) => string[]> = { ping: pingDestinations, fping: fpingDestinations, socat: socatDestinations };
const READERS: Record<string, (argv: readonly string[], input: string | undefined) => void> = {
  ip: checkIp,
  sysctl: checkSysctl,
  nft: checkNft,
  ss: checkSs,
  bridge: checkBridge,
  brctl: checkBrctl,
};

function tool(argv: readonly string[]): string {
  return (argv[0] ?? '').replace(/^.*\//, '');
}

/**
 * The program argv[0] names, as an absolute path from READ_ONLY_DIRS: a bare name is looked up there, a path must be
 * that very file (`/any/dir/ip` is not `ip`). Legacy iptables (iptables-legacy*, or an iptables that is
 * xtables-legacy-multi) is refused: even listing registers its tables, with conntrack hooks, in the namespace, and
 * creates /run/xtables.lock on the machine (attach mode enters only the network namespace).
 */
function program(argv: readonly string[]): string {
  const given = argv[0] ?? '';
  const name = tool(argv);
  if (/legacy/.test(name)) refuse(argv, `legacy iptables (${name}) registers tables in the namespace it lists, and writes /run/xtables.lock on the machine`);
  const path = programPath(name);
  if (path === undefined) refuse(argv, `\`${name}\` is not in ${READ_ONLY_DIRS.join(', ')}`);
  if (given.includes('/') && given !== path) refuse(argv, `${given} is not ${path}: attach mode runs programs only from ${READ_ONLY_DIRS.join(', ')}`);
  if (/^ip6?tables/.test(name)) {
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      /* as named */
    }
    if (/legacy/.test(real)) refuse(argv, `${path} is legacy iptables (${real}): it registers tables in the namespace it lists, and writes /run/xtables.lock on the machine`);
  }
  return path;
}

/**
 * `argv` checked (checkReadOnly) with each program it runs (argv[0], and the one after `timeout`) replaced by its
 * absolute path from READ_ONLY_DIRS: what attach mode runs.
 */
export function readOnlyArgv(argv: readonly string[], input: string | undefined): string[] {
  checkReadOnly(argv, input);
  const out = [program(argv), ...argv.slice(1)];
  if (tool(argv) === 'timeout') {
    const i = unwrapTimeout(argv);
    out[i] = program(argv.slice(i));
  }
  return out;
}

/** Throws unless `argv` (with `input` on stdin) only reads, or is one of netspec's probes. */
export function checkReadOnly(argv: readonly string[], input: string | undefined): void {
  program(argv);
  const name = tool(argv);
  if (name === 'timeout') return checkReadOnly(argv.slice(unwrapTimeout(argv)), input);
  if (/^ip6?tables(-nft)?-save$/.test(name)) return checkIptablesSave(argv);
  if (/^ip6?tables(-nft)?$/.test(name)) return checkIptables(argv);
  const reader = READERS[name];
  if (reader) return reader(argv, input);
  const probe = PROBES[name];
  if (probe) return void probe(argv);
  refuse(argv, `\`${name}\` is not a command netspec knows to only read`);
}

/** The destinations of a probe argv (ping, fping, socat; through `timeout`): [] for anything else. */
export function probeDestinations(argv: readonly string[]): string[] {
  const name = tool(argv);
  try {
    if (name === 'timeout') return probeDestinations(argv.slice(unwrapTimeout(argv)));
    return PROBES[name]?.(argv) ?? [];
  } catch (error) {
    // with { allowChanges: true } any argv may run; a probe of another shape is not netspec's: its destination unknown
    if (error instanceof InvalidInputError) return [];
    throw error;
  }
}

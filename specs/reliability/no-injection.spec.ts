// Issue 7: no injection, ever. Arbitrary strings go into every name and address parameter; every process netspec
// starts is watched: argv only (never a shell, except the lifeline's fixed script), each input at most one whole
// argument, and nothing outside the lab changes.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createLab, NetspecError, parseAddress, parseCidr, parsePrefix, serve, type Lab } from '../../src/index.js';
import { toHaveAddress, toHaveArpEntry, toHaveLink, toHaveRouteEntry, toReach, toRouteVia } from '../../src/matchers/index.js';
import { dockerHost, parsePublish, validateTopology } from '../../fixtures/index.js';
import { machineState, type MachineState } from '../helpers/machine.js';
import { labDir } from '../helpers/temp.js';

const spawned = vi.hoisted(() => [] as { file: string; args: string[]; shell: unknown }[]);
vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  const spawn = (file: string, args: string[] = [], options: { shell?: unknown } = {}) => {
    spawned.push({ file, args: [...args], shell: options?.shell });
    return real.spawn(file, args, options as never);
  };
  return { ...real, default: { ...real, spawn }, spawn };
});
// netspec runs its commands with execa (a dependency, so not reached by the mock above): watch it too
vi.mock('execa', async (importOriginal) => {
  const real = await importOriginal<typeof import('execa')>();
  const execa = (file: string, args: string[] = [], options: { shell?: unknown } = {}) => {
    spawned.push({ file, args: [...args], shell: options?.shell });
    return (real.execa as (f: string, a: string[], o: object) => unknown)(file, args, options);
  };
  return { ...real, execa };
});
// …and the spawner (src/spawner.ts), which starts netspec's short commands from a small process of its own: every argv
// it is handed is recorded as if spawned here
vi.mock('../../src/spawner.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/spawner.js')>();
  const watched = new WeakSet<object>();
  const spawner: typeof real.spawner = () => {
    const via = real.spawner();
    if (via && !watched.has(via)) {
      watched.add(via);
      const start = via.start.bind(via);
      via.start = (request, events) => {
        const [file = '', ...args] = request.argv;
        spawned.push({ file, args, shell: undefined });
        return start(request, events);
      };
    }
    return via;
  };
  // a lab's short commands go through its lab runner (a fork of the spawner, started with a fixed request): recorded
  // as "lab-runner NAMESPACE -- ARGV"
  const startLabRunner: typeof real.startLabRunner = async (config) => {
    const runner = await real.startLabRunner(config);
    if (runner && !watched.has(runner)) {
      watched.add(runner);
      const start = runner.start.bind(runner);
      runner.start = (request, events) => {
        spawned.push({ file: 'lab-runner', args: [request.ns ?? 'host', '--', ...request.argv], shell: undefined });
        return start(request, events);
      };
    }
    return runner;
  };
  return { ...real, spawner, startLabRunner };
});

// the canary: every hostile string that could run a command (in the syntax of bash, socat, ip -batch, iptables-restore,
// or as an option of bash) would create a file named like this, in a folder of the machine every lab may write to (a
// lab's /tmp keeps its writes to itself, and its root is an ordinary user to the machine)
const CANARY_DIR = labDir('netspec-pwned-');
const PWNED = `${CANARY_DIR}/pwned-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
afterAll(() => rmSync(CANARY_DIR, { recursive: true, force: true }));
const canaries = () => readdirSync(CANARY_DIR).filter((f) => `${CANARY_DIR}/${f}`.startsWith(PWNED)).map((f) => `${CANARY_DIR}/${f}`);
const HOSTILE = [
    `;touch ${PWNED}`,
    `$(touch ${PWNED})`,
    `\`touch ${PWNED}\``,
    `x\nnetns add pwned`,
    `10.0.0.1/24\nlink del dev lo`,
    `192.168.1.1/24; touch ${PWNED}`,
    `touch ${PWNED}`,
    `!!SYSTEM:touch ${PWNED}`,
    `7001!!SYSTEM:touch ${PWNED} #{`,
    `7002,reuseaddr!!SYSTEM:touch ${PWNED}`,
    `0.0.0.0!!EXEC:touch ${PWNED}`,
    `|touch ${PWNED}`,
    `\n-A INPUT -j DROP\nCOMMIT`,
    `x; add table inet pwned`,
    '-c',
    '--rcfile',
    '-n',
    '--help',
    'dev',
    'help',
    'a b',
    '../../etc',
    'fe80::1%lo',
    "'",
    '"',
    '\\',
    '*',
    // well-formed values too, so that the paths that do start processes (a server, a script, a container) are taken
    'tcp',
    '7010',
    '192.168.15.1',
    'x1',
];
const hostile = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom(...HOSTILE));

let lab: Lab;
let dockerLab: Lab;
let before: MachineState;
beforeAll(async () => {
  before = await machineState();
  [lab, dockerLab] = await Promise.all([createLab(), createLab()]);
});
afterAll(async () => {
  await Promise.all([lab?.dispose(), dockerLab?.dispose()]);
});

// what netspec may start: the lifeline, nsenter in front of a known tool, and the tools themselves
const TOOLS = new Set(['ip', 'tc', 'sysctl', 'iptables', 'iptables-restore', 'ip6tables-restore', 'iptables-save', 'ip6tables-save', 'fping', 'ping', 'socat', 'ss', 'timeout', 'bash', 'nft', 'kill', 'cat']);

let observed = 0;

/** `whole`: the input is data that must arrive as one whole argument (a script's argument), never spliced into one. */
function checkSpawns(input: string, whole = false): void {
  for (const spawn of spawned.splice(0)) {
    observed++;
    const { shell } = spawn;
    let { file, args } = spawn;
    // a user-namespace lab's commands start under prlimit (the lab's process bound), with a fixed argv in front
    if (file === 'prlimit') {
      expect(args.slice(0, 2)).toEqual([expect.stringMatching(/^--nproc=\d+$/), '--']);
      [file, ...args] = args.slice(2) as [string, ...string[]];
    }
    expect(shell, `${file} started with a shell`).toBeFalsy();
    if (/(^|\/)python3$/.test(file) && args[0] === '-I') {
      // the spawner itself: a fixed program, no input in it
      expect(args.slice(0, 3)).toEqual(['-I', '-S', '-c']);
      expect(args.at(-1)).not.toContain(input || '\0');
      continue;
    }
    if (file === 'unshare') {
      expect(args.slice(-3, -1)).toEqual(['sh', '-c']);
      expect(args.at(-1)).not.toContain(input || '\0'); // the lifeline's script is fixed
      continue;
    }
    if (file === 'netspec-lab-runner') {
      // the lab runner's fork: no argv, its request is the lab's pid and bounds
      expect(args).toEqual([]);
      continue;
    }
    if (file === 'lab-runner') expect(args[0], 'a lab runner\'s namespace').toMatch(/^[\w.-]+$/);
    else expect(file).toBe('nsenter');
    const after = args.slice(args.indexOf('--') + 1);
    // a namespace of a user-namespace lab is entered by a second nsenter, from inside the lab: the tool comes after it
    const tool = after[0] === 'nsenter' ? after.slice(after.indexOf('--') + 1) : after;
    if (tool[0] === 'sh') {
      // serve's fixed script (its values come after it, as positional parameters)
      expect(tool[1]).toBe('-c');
      expect(tool[2]).not.toContain(input || '\0');
    } else {
      expect(TOOLS.has(tool[0]!), `unexpected command ${tool[0]}`).toBe(true);
    }
    // input with white space, quotes or shell syntax never gets through validation into any argument
    if (/[\s'"`$;|&<>\\*]/.test(input)) {
      for (const a of after) if (a.includes(input) && !(whole && a === input)) expect.fail(`input ${JSON.stringify(input)} reached argument ${JSON.stringify(a)}`);
    }
  }
}

async function attempt(call: () => Promise<unknown>, input: string, whole = false): Promise<void> {
  try {
    await call();
  } catch (error) {
    // every refusal is one of netspec's typed errors, never a TypeError or a raw failure
    if (!(error instanceof NetspecError)) throw error;
  }
  checkSpawns(input, whole);
}

describe('arbitrary strings into every name and address parameter', () => {
  test('argv only, typed errors, nothing outside the lab changes', async () => {
    const red = await lab.netns('red');
    const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
    await bridge.attach(red, { address: '192.168.15.1/24' });
    // a Docker host for the Docker fixtures' names, networks and published ports
    const docker = await dockerHost(dockerLab);
    // scripts named like options of bash (`-c`, `--rcfile`), in a folder of their own: lab.script runs them as scripts
    const scripts = labDir('netspec-no-injection-');
    for (const name of ['-c', '--rcfile', 'ok.sh']) writeFileSync(join(scripts, name), 'exit 0\n');
    const home = process.cwd();
    const inScripts = async (call: () => Promise<unknown>) => {
      process.chdir(scripts);
      try {
        return await call();
      } finally {
        process.chdir(home);
      }
    };
    // the canary can fire: a command run in a lab creates a file the test sees
    await lab.sh`touch ${PWNED}-self-check`;
    expect(canaries()).toEqual([`${PWNED}-self-check`]);
    rmSync(`${PWNED}-self-check`);
    spawned.splice(0);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (s) => {
        n++;
        const calls: (() => Promise<unknown>)[] = [
          () => lab.netns(s),
          async () => lab.get(s),
          () => lab.bridge(s),
          () => lab.bridge(`b${n}`, { address: s }),
          () => bridge.attach(red, { ifname: s }),
          () => bridge.attach(red, { ifname: `i${n}`, peer: s }),
          () => bridge.attach(red, { ifname: `j${n}`, address: s }),
          () => lab.veth({ ns: red, name: s }, { ns: lab.host, name: `h${n}` }),
          () => red.addAddress(s, 'lo'),
          () => red.addAddress('10.9.0.1/32', s),
          () => red.addRoute(s, { dev: 'lo' }),
          () => red.addRoute('10.8.0.0/16', { via: s }),
          () => red.up(s),
          () => red.sysctl(s, 1),
          () => red.sysctl('net.ipv4.ip_forward', s),
          () => lab.host.masquerade(s),
          () => lab.wan({ name: s }),
          () => lab.wan({ internet: [s] }),
          () => toReach.call({ isNot: true }, red, s, { window: 50 }),
          () => toReach.call({ isNot: true }, red, { address: '192.168.15.1', port: 7 }, { from: s, window: 50, responder: false }),
          () => toHaveArpEntry.call({ isNot: true }, red, s),
          () => toRouteVia.call({ isNot: false }, red, s, '192.168.15.3'),
          () => toHaveAddress.call({ isNot: false }, red, s),
          () => toHaveAddress.call({ isNot: false }, red, '192.168.15.1/24', { dev: s }),
          () => toHaveLink.call({ isNot: false }, red, s),
          () => toHaveLink.call({ isNot: false }, lab.host, 'v-net-0', { master: s } as never),
          () => toHaveRouteEntry.call({ isNot: false }, red, { destination: s }),
          () => toHaveRouteEntry.call({ isNot: false }, red, { destination: 'default', dev: s }),
          () => toHaveRouteEntry.call({ isNot: false }, red, { destination: 'default', table: s }),
          () => red.down(s),
          () => red.setLink(s, { up: true }),
          () => red.setLink('lo', { mac: s }),
          () => bridge.addPort(s),
          () => bridge.setPort(s, { hairpin: true }),
          () => lab.macvlan({ ns: red, name: `m${n}`, parent: s }),
          () => lab.vxlan({ ns: red, name: `x${n}`, id: 1, remote: s }),
          () => lab.link({ ns: red, name: `k${n}`, kind: s as never }),
          () => toHaveLink.call({ isNot: false }, red, 'lo', { mac: s, kind: s }),
          () => red.policy(s as never, 'ACCEPT'),
          () => red.policy('FORWARD', s as never),
          () => red.routeGet(s),
          () => red.routeGet('192.168.15.3', { from: s }),
          () => red.routeGet('192.168.15.3', { iif: s }),
          () => lab.host.masquerade('192.168.15.0/24', { out: s }),
          // shaping: every value is rewritten in netspec's own units before `tc -batch` reads it
          () => red.shape(s, { rate: '1mbit' }),
          () => red.shape('nodev0', { rate: s }),
          () => red.shape('nodev0', { rate: '1mbit', burst: s, latency: s }),
          () => red.netem('nodev0', { delay: s, jitter: s }),
          () => red.netem('nodev0', { loss: s }),
          () => red.clearShaping(s),
          // serve: the port and the address go into socat's address syntax, where `!!` and `,` are syntax
          () => serve(lab.enter('red'), { port: s as never, lifetimeMs: 2000 }),
          () => serve(lab.enter('red'), { port: 7000 + (n % 500), address: s, lifetimeMs: 2000 }),
          () => serve(lab.enter('red'), { port: 7500 + (n % 500), protocol: s as never, lifetimeMs: 2000 }),
          // lab.script: the path is never an option of bash, the arguments are the script's
          () => inScripts(() => lab.script(s, [`touch ${PWNED}`])),
          Object.assign(() => inScripts(() => lab.script('ok.sh', [s])), { whole: true }),
          async () => parseAddress(s),
          async () => parseCidr(s),
          async () => parsePrefix(s),
          async () => parsePublish(s),
          async () => validateTopology({ namespaces: [s] }),
          async () => validateTopology({ namespaces: ['a'], bridges: { [s]: { address: '10.0.0.1/24', attach: { a: s } } } }),
          () => docker.createNetwork(s),
          () => docker.run(s),
          () => docker.run(`p${n}`, { publish: [s] }),
          () => docker.run(`q${n}`, { network: s }),
        ];
        for (const call of calls) await attempt(call, s, 'whole' in call);
        // (removed when found, so that fast-check's shrinking names the input that fired it, not the ones after it)
        const fired = canaries();
        for (const f of fired) rmSync(f, { force: true });
        expect(fired, `a hostile string ran a command: ${JSON.stringify(s)}`).toEqual([]);
      }),
      // every constant above first, then random strings
      { numRuns: 60, examples: HOSTILE.map((h) => [h] as [string]) },
    );
    expect(observed, 'the spawn observer saw the processes netspec started').toBeGreaterThan(10);
    expect(await machineState()).toEqual(before);
  }, 300_000); // some 50 entry points × 60 strings, each a few processes: minutes on a busy 2-core machine
});

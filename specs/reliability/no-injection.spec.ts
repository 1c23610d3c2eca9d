// Issue 7: no injection, ever. Arbitrary strings go into every name and address parameter; every process netspec
// starts is watched: argv only (never a shell, except the lifeline's fixed script), each input at most one whole
// argument, and nothing outside the lab changes.
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createLab, NetspecError, type Lab } from '../../src/index.js';
import { toHaveArpEntry, toReach, toRouteVia } from '../../src/matchers/index.js';
import { machineState, type MachineState } from '../helpers/machine.js';

const spawned = vi.hoisted(() => [] as { file: string; args: string[]; shell: unknown }[]);
vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  const spawn = (file: string, args: string[] = [], options: { shell?: unknown } = {}) => {
    spawned.push({ file, args: [...args], shell: options?.shell });
    return real.spawn(file, args, options as never);
  };
  return { ...real, default: { ...real, spawn }, spawn };
});

const PWNED = `/tmp/netspec-pwned-${process.pid}`;
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    `;touch ${PWNED}`,
    `$(touch ${PWNED})`,
    `\`touch ${PWNED}\``,
    `x\nnetns add pwned`,
    `10.0.0.1/24\nlink del dev lo`,
    `192.168.1.1/24; touch ${PWNED}`,
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
  ),
);

let lab: Lab;
let before: MachineState;
beforeAll(async () => {
  before = await machineState();
  lab = await createLab();
});
afterAll(async () => {
  await lab.dispose();
});

// what netspec may start: the lifeline, nsenter in front of a known tool, and the tools themselves
const TOOLS = new Set(['ip', 'sysctl', 'iptables', 'iptables-restore', 'ip6tables-restore', 'iptables-save', 'fping', 'socat', 'ss', 'timeout', 'bash']);

let observed = 0;

function checkSpawns(input: string): void {
  for (const { file, args, shell } of spawned.splice(0)) {
    observed++;
    expect(shell, `${file} started with a shell`).toBeFalsy();
    if (file === 'unshare') {
      expect(args.slice(-3, -1)).toEqual(['sh', '-c']);
      expect(args.at(-1)).not.toContain(input || '\0'); // the lifeline's script is fixed
      continue;
    }
    expect(file).toBe('nsenter');
    const inner = args.slice(args.indexOf('--') + 1);
    expect(TOOLS.has(inner[0]!), `unexpected command ${inner[0]}`).toBe(true);
    // input with white space, quotes or shell syntax never gets through validation into any argument
    if (/[\s'"`$;|&<>\\*]/.test(input)) {
      for (const a of inner) if (a.includes(input)) expect.fail(`input ${JSON.stringify(input)} reached argument ${JSON.stringify(a)}`);
    }
  }
}

async function attempt(call: () => Promise<unknown>, input: string): Promise<void> {
  try {
    await call();
  } catch (error) {
    // every refusal is one of netspec's typed errors, never a TypeError or a raw failure
    if (!(error instanceof NetspecError)) throw error;
  }
  checkSpawns(input);
}

describe('arbitrary strings into every name and address parameter', () => {
  test('argv only, typed errors, nothing outside the lab changes', async () => {
    const red = await lab.netns('red');
    const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
    await bridge.attach(red, { address: '192.168.15.1/24' });
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
        ];
        for (const call of calls) await attempt(call, s);
        expect(existsSync(PWNED)).toBe(false);
      }),
      { numRuns: 60 },
    );
    expect(observed, 'the spawn observer saw the processes netspec started').toBeGreaterThan(10);
    expect(await machineState()).toEqual(before);
  });
});

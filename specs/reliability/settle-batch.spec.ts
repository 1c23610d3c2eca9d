// Every call settles: a step that fails rejects every call that depended on its batch (the ones whose steps did not run
// get a SkippedStepError whose cause is the failure), nothing waits forever, and what the kernel refuses is refused.
import { describe, expect, test, vi } from '../../src/vitest.js';
import { DuplicateNameError, InvalidInputError, SkippedStepError } from '../../src/index.js';
import type { Lab } from '../../src/index.js';
import { within } from '../helpers/watchdog.js';

vi.setConfig({ testTimeout: 60_000 });


async function hostLinks(lab: Lab): Promise<string[]> {
  return (await lab.host.links()).map((l) => l.ifname).sort();
}

function reason(r: PromiseSettledResult<unknown>): unknown {
  expect(r.status).toBe('rejected');
  return (r as PromiseRejectedResult).reason;
}

describe('a failed step settles every call of its batch', () => {
  test('two attaches in one tick, the second one\'s name taken by a script: both settle, the script\'s link stays', async ({ lab }) => {
    await lab.sh`ip link add name veth-b-brdg type veth peer name script-end`;
    const [a, b] = await Promise.all([lab.netns('a'), lab.netns('b')]);
    const br = await lab.bridge('br0', { address: '10.9.0.254/24' });
    const before = await hostLinks(lab);
    const [ra, rb] = await within(Promise.allSettled([br.attach(a, { address: '10.9.0.1/24' }), br.attach(b, { address: '10.9.0.2/24' })]), 10_000, 'existingNamespaces(a), existingNamespaces(b)');

    const eb = reason(rb);
    expect(eb).toBeInstanceOf(DuplicateNameError);
    expect((eb as Error).message).toMatch(/veth-b-brdg/);
    const ea = reason(ra);
    expect(ea).toBeInstanceOf(SkippedStepError);
    expect((ea as Error).cause).toBe(eb);
    expect((ea as Error).message).toMatch(/not run, because an earlier step of the same batch failed: .*veth-b-brdg/);

    // nothing half-built, and the script's own link was not "undone"
    expect(await hostLinks(lab)).toEqual(before);
    expect(before).toContain('veth-b-brdg');
    expect((await a.links()).map((l) => l.ifname)).toEqual(['lo']);
    expect((await b.links()).map((l) => l.ifname)).toEqual(['lo']);
    expect(br.attachments).toEqual([]);

    // the names were given back: a retry of a alone builds it
    await within(br.attach(a, { address: '10.9.0.1/24' }), 10_000, 'existingNamespaces(a) again');
    await expect(a).toReach('10.9.0.254');
  });

  test('a host step that fails settles the steps queued for every namespace in the same flush', async ({ lab }) => {
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const calls = [
      red.addAddress('10.1.0.1/24', 'lo'), // a namespace step
      lab.host.up('no-such-link'), // the host step that fails
      blue.addAddress('10.1.0.2/24', 'lo'), // another namespace's step
      lab.host.forwarding(true), // a later host run
    ];
    const results = await within(Promise.allSettled(calls), 10_000, 'four calls in one tick');
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    const cause = reason(results[1]!);
    expect((cause as Error).name).toBe('NotFoundError');
    for (const i of [0, 2, 3]) {
      const e = reason(results[i]!);
      expect(e).toBeInstanceOf(SkippedStepError);
      expect((e as Error).cause).toBe(cause);
    }
    // they did not run
    expect((await red.addresses()).flatMap((l) => l.addr_info.map((a) => a.local))).not.toContain('10.1.0.1');
    // and the next batch runs as usual
    await within(Promise.all([red.addAddress('10.1.0.1/24', 'lo'), blue.addAddress('10.1.0.2/24', 'lo')]), 10_000, 'next batch');
    await expect(red).toHaveAddress('10.1.0.1/24');
  });
});

describe('bridge ports: the kernel\'s limit', () => {
  test('1,030 attaches to one bridge: 1,023 are built, 7 are refused with InvalidInputError before anything runs', async ({ lab }) => {
    const br = await lab.bridge('br0');
    const nss = await Promise.all([0, 1, 2, 3].map((i) => lab.netns(`n${i}`)));
    const calls = Array.from({ length: 1030 }, (_, i) => br.attach(nss[i % 4]!, { ifname: `p${i}` }));
    const results = await within(Promise.allSettled(calls), 45_000, '1,030 attaches');
    const refused = results.map((r, i) => [r, i] as const).filter(([r]) => r.status === 'rejected');
    expect(refused.map(([, i]) => i)).toEqual([1023, 1024, 1025, 1026, 1027, 1028, 1029]);
    for (const [r] of refused) {
      expect(reason(r)).toBeInstanceOf(InvalidInputError);
      expect((reason(r) as Error).message).toMatch(/at most 1023 per bridge \(BR_MAX_PORTS\)/);
    }
    const ports = await lab.host.exec('ip', ['-j', 'link', 'show', 'master', 'br0']);
    expect((JSON.parse(ports.stdout) as unknown[]).length).toBe(1023);
  });

  test('a port the kernel refuses (bridge full through a script) rejects the call, and its batch settles', async ({ lab }) => {
    const br = await lab.bridge('br0');
    // 1,023 ports made behind netspec's back: it cannot count them, the kernel refuses the next one
    const input = Array.from({ length: 1023 }, (_, i) => `link add name d${i} type veth peer name e${i}\nlink set dev d${i} master br0\n`).join('');
    await lab.host.exec('ip', ['-batch', '-'], { input });
    const red = await lab.netns('red');
    const [attach, other] = await within(Promise.allSettled([br.attach(red), lab.netns('blue')]), 10_000, 'attach to a full bridge');
    const e = reason(attach);
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as Error).message).toMatch(/br0 .*already has the most ports Linux allows \(1023.*Exchange full/);
    expect(reason(other)).toBeInstanceOf(SkippedStepError);
    expect((await lab.host.links()).map((l) => l.ifname)).not.toContain('veth-red-brdg');
    expect((await red.links()).map((l) => l.ifname)).toEqual(['lo']);
  });
});

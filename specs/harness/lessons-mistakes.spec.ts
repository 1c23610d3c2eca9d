// A learner's usual mistakes, replayed (issue 29, "wrong lessons from wrong explanations"): each learner script is a
// lesson's reference solution with one mistake applied, run as the course runs a lesson (`runLesson`). Each must fail
// with a message that names the wrong fact (computed from the learner's lab), with no netspec API name and no command
// that is the answer; the wrong fix a misleading message once suggested ("add a route") must not pass either.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '../../src/vitest.js';
import { createLab } from '../../src/index.js';
import { courseDir, LessonFailure, limit, referenceAttempt, referenceFile, runLesson } from '../../lessons/course.js';
import { lessons } from '../../lessons/lessons.js';
import { forwardingIn, networkOf, onNetwork } from '../../lessons/facts.js';
import { routedPair } from '../helpers/routed.js';

const TIMEOUT = 120_000;
const gated = limit(3);
const newLab = () => createLab();
const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
const lesson = (id: string) => lessons.find((l) => l.id === id)!;

/** netspec's API (a spec author's words) and the answer (a command of the reference solution the starter lacks). */
const API = [/\bserve\(/, /\blab\.\w/, /\bns\.\w+\(/, /\.routes\(/, /\.rules\(/, /\.links\(\)/, /\bexpect\(\w+\)/, /sysctl -w/];
function leaks(message: string, id: string): string[] {
  const lines = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  const starter = new Set(lines(join(courseDir, id, 'script.sh')));
  const answer = lines(referenceFile(id, 'solution.sh')).filter((l) => !starter.has(l) && /\S\s+\S/.test(l));
  return [...API.filter((re) => re.test(message)).map(String), ...answer.filter((command) => message.includes(command))];
}

const scratch = mkdtempSync(join(tmpdir(), 'netspec-lessons-mistakes-'));
// the lab's root is an ordinary user to the machine: the scripts must be readable by others
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The reference solution of `id` with `edit` applied to its lines (the mistake), as a learner's script. */
function mistake(id: string, name: string, edit: (lines: string[]) => string[]): string {
  const dir = join(scratch, `${id}-${name}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const before = readFileSync(referenceFile(id, 'solution.sh'), 'utf8').split('\n');
  const after = edit(before);
  if (after.join('\n') === before.join('\n')) throw new Error(`the mistake ${name} changes nothing in ${id}'s solution`);
  writeFileSync(join(dir, 'script.sh'), after.join('\n'), { mode: 0o644 });
  return join(dir, 'script.sh');
}
const without = (re: RegExp) => (lines: string[]) => lines.filter((l) => !re.test(l));
const replace = (re: RegExp, by: string) => (lines: string[]) => lines.map((l) => l.replace(re, by));
const plus = (...extra: string[]) => (lines: string[]) => [...lines, ...extra];

/** Run the lesson on the learner's script (a kata with its reference assertion, step 1 done) and return its failure. */
async function failure(id: string, script: string): Promise<LessonFailure> {
  const l = lesson(id);
  const attempt = l.kind === 'kata' ? { script, assertion: referenceAttempt(l).assertion, assertionChecked: true } : { script };
  const error = await failureOf(runLesson(l, attempt, newLab));
  if (!(error instanceof LessonFailure)) throw new Error(`lesson ${id} did not fail as a lesson with ${script}: ${String(error)}`);
  return error;
}

describe.concurrent('a link left down is named as DOWN, not explained as a missing route', () => {
  test('03: veth-blue not set up', () => gated(async () => {
    const e = await failure('03-bridge', mistake('03-bridge', 'veth-blue-down', without(/ip link set veth-blue up/)));
    expect(e.step).toBe('up');
    expect(e.message).toMatch(/^veth-blue \(in blue\) is DOWN/);
    expect(e.message).not.toMatch(/route/i);
    expect(leaks(e.message, '03-bridge')).toEqual([]);
  }), TIMEOUT);

  test('03: the bridge v-net-0 not set up', () => gated(async () => {
    const e = await failure('03-bridge', mistake('03-bridge', 'bridge-down', without(/ip link set dev v-net-0 up/)));
    expect(e.step).toBe('up');
    expect(e.message).toMatch(/^the bridge v-net-0 \(in the host\) is DOWN/);
    expect(e.message).not.toMatch(/there is no bridge|route/i);
    expect(leaks(e.message, '03-bridge')).toEqual([]);
  }), TIMEOUT);

  test('02: blue\'s end of the cable not set up', () => gated(async () => {
    const e = await failure('02-veth-pair', mistake('02-veth-pair', 'blue-end-down', without(/netns exec blue ip link set .* up|ip -n blue link set .* up/)));
    expect(e.step).toBe('up');
    expect(e.message).toMatch(/^veth-blue \(in blue\) is DOWN/);
    expect(e.message).not.toMatch(/route/i);
    expect(leaks(e.message, '02-veth-pair')).toEqual([]);
  }), TIMEOUT);
});

describe.concurrent('04: the host on v-net-0 with a /32 instead of the /24 its title asks for', () => {
  test('a /32 alone: the message says the bridge\'s address is a /32, so the namespaces\' subnet is not on it', () => gated(async () => {
    const e = await failure('04-host', mistake('04-host', 'slash32', replace(/192\.168\.15\.3\/24/, '192.168.15.3/32')));
    expect(e.step).toBe('host-prefix');
    expect(e.message).toMatch(/^the bridge's address is a \/32 \(192\.168\.15\.3\/32 on v-net-0\)/);
    expect(e.message).toMatch(/192\.168\.15\.0\/24 is not on it/);
    expect(e.message).not.toMatch(/add a route/i);
    expect(leaks(e.message, '04-host')).toEqual([]);
  }), TIMEOUT);

  test('a /32 plus a route to the subnet (the old advice) does not pass', () => gated(async () => {
    const e = await failure('04-host', mistake('04-host', 'slash32-route', (l) => plus('ip route add 192.168.15.0/24 dev v-net-0')(replace(/192\.168\.15\.3\/24/, '192.168.15.3/32')(l))));
    expect(e.step).toBe('host-prefix');
    expect(e.message).toMatch(/^the bridge's address is a \/32/);
    expect(leaks(e.message, '04-host')).toEqual([]);
  }), TIMEOUT);
});

test('04: a /16 is named as wider than the namespaces\' /24, and does not pass either', () => gated(async () => {
  const e = await failure('04-host', mistake('04-host', 'slash16', replace(/192\.168\.15\.3\/24/, '192.168.15.3/16')));
  expect(e.step).toBe('host-prefix');
  expect(e.message).toMatch(/^the bridge's address is a \/16 \(192\.168\.15\.3\/16 on v-net-0\): its network 192\.168\.0\.0\/16 is wider than the namespaces' subnet 192\.168\.15\.0\/24/);
  expect(leaks(e.message, '04-host')).toEqual([]);
}), TIMEOUT);

test('the networks the messages name are computed right', () => {
  expect(networkOf('10.1.0.200', 25)).toBe('10.1.0.128/25');
  expect(networkOf('192.168.15.3', 32)).toBe('192.168.15.3/32');
  expect(networkOf('192.168.15.3', 16)).toBe('192.168.0.0/16');
  expect(networkOf('255.255.255.255', 0)).toBe('0.0.0.0/0');
  expect(onNetwork('10.1.0.10', '10.1.0.128/25')).toBe(false);
  expect(onNetwork('10.1.0.200', '10.1.0.128/25')).toBe(true);
});

describe.concurrent('kata 11: the wrong mask', () => {
  test('left in place, plus a route around it, does not pass: the message names the /25', () => gated(async () => {
    const e = await failure('11-kata-mask', mistake('11-kata-mask', 'mask-route', (l) => plus('ip netns exec db ip route add 10.1.0.0/24 dev eth0')(replace(/10\.1\.0\.200\/24/, '10.1.0.200/25')(l))));
    expect(e.step).toBe('mask');
    expect(e.message).toMatch(/db's address is still 10\.1\.0\.200\/25 \(on eth0\): its network is 10\.1\.0\.128\/25/);
    expect(leaks(e.message, '11-kata-mask')).toEqual([]);
  }), TIMEOUT);
});

describe.concurrent('05: MASQUERADE on the wrong outgoing interface', () => {
  test('-o v-net-0: the message names the rule\'s -o and the interface the packets leave by', () => gated(async () => {
    const e = await failure('05-internet', mistake('05-internet', 'masq-wrong-o', replace(/-j MASQUERADE/, '-o v-net-0 -j MASQUERADE')));
    expect(e.step).toBe('nat');
    expect(e.message).toMatch(/^your MASQUERADE rule matches -o v-net-0, but these packets leave by uplink0/);
    expect(leaks(e.message, '05-internet')).toEqual([]);
  }), TIMEOUT);
});

describe.concurrent('07: the DOCKER-USER rule appended after the chain\'s RETURN', () => {
  test('-A instead of -I: the message names the rule no packet reaches and the RETURN before it', () => gated(async () => {
    const e = await failure('07-docker-user', mistake('07-docker-user', 'append', replace(/iptables -I DOCKER-USER/, 'iptables -A DOCKER-USER')));
    expect(e.step).toBe('bridged');
    expect(e.message).toMatch(/`-A DOCKER-USER -i v-net-0 -o v-net-0 -j ACCEPT` comes after `-A DOCKER-USER -j RETURN`, which every packet matches and which ends the chain: no packet reaches it/);
    expect(leaks(e.message, '07-docker-user')).toEqual([]);
  }), TIMEOUT);
});

describe.concurrent('kata 13: forwarding set in the hosts at the ends, not in the router', () => {
  test('the starter as it is: the message names ip_forward 0 in the host and 1 in red and blue', () => gated(async () => {
    const e = await failure('13-kata-forwarding', join(courseDir, '13-kata-forwarding', 'script.sh'));
    expect(e.step).toBe('forward');
    expect(e.message).toMatch(/net\.ipv4\.ip_forward is 0 in the host, the router between red and blue: .* It is 1 in red and blue, which changes nothing there/);
    expect(leaks(e.message, '13-kata-forwarding')).toEqual([]);
  }), TIMEOUT);
});

// (an adversarial review: IPv4 forwards by the setting of the interface a packet comes in on; with ip_forward 0 and
// forwarding on in lan1 and lan2 the host routes between red and blue, and the message said it passed no packet)
test('kata 13\'s message is never said of a router that forwards by its interfaces\' own setting', async ({ lab }) => {
  const { red, blue } = await routedPair(lab);
  await lab.host.exec('sysctl', ['-w', 'net.ipv4.ip_forward=0', 'net.ipv4.conf.lan1.forwarding=1', 'net.ipv4.conf.lan2.forwarding=1']);
  await expect(red).toReach('10.0.2.2');
  await expect(lab.host).toForward(); // (the matcher reads the interfaces' own setting too)
  await expect(forwardingIn(lab, lab.host, [red, blue])).resolves.toBeUndefined();
  // and with every interface's forwarding off too, it is said
  await lab.host.exec('sysctl', ['-w', 'net.ipv4.conf.lan1.forwarding=0', 'net.ipv4.conf.lan2.forwarding=0']);
  await expect(forwardingIn(lab, lab.host, [red, blue])).rejects.toThrow(/net\.ipv4\.ip_forward is 0 in the host, the router between red and blue/);
}, TIMEOUT);

describe.concurrent('the solutions still pass', () => {
  for (const id of ['02-veth-pair', '03-bridge', '04-host', '05-internet', '11-kata-mask']) {
    test(id, () => gated(() => runLesson(lesson(id), { ...referenceAttempt(lesson(id)), assertionChecked: true }, newLab)), TIMEOUT);
  }
});

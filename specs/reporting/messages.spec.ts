// Issue 16: failure messages kind to humans — a probe's repeated log lines are one line with a count.
import { expect, test } from '../../src/vitest.js';
import { collapse } from '../../src/matchers/format.js';
import { failureOf, tutorial } from '../matchers/helpers.js';

test('collapse: runs of the same line become one with its count; the order and lone lines stay', () => {
  expect(collapse(['a', 'a', 'a', 'b', 'a', 'c', 'c'])).toEqual(['a (× 3)', 'b', 'a', 'c (× 2)']);
  expect(collapse([])).toEqual([]);
  // a retry with a shrinking timeout is the same command; a different address is not
  expect(collapse(['red$ socat -T 1.00 → exit 1', 'red$ socat -T 0.96 → exit 1', 'red$ socat -T 0.87 → exit 1'], 'vary')).toEqual(['red$ socat -T 1.00 → exit 1 (× 3, the numbers varying)']);
  expect(collapse(['red$ ping 10.0.0.1', 'red$ ping 10.0.0.2'])).toEqual(['red$ ping 10.0.0.1', 'red$ ping 10.0.0.2']);
});

test('a TCP probe retried against a closed port: its log is one line with a count, not dozens', async ({ lab }) => {
  const net = await tutorial(lab);
  const msg = await failureOf(expect(net.nodes[0]!).toReach({ address: '192.168.15.2', port: 9 }, { responder: false, timeout: 1500 }));
  const commands = msg.slice(msg.indexOf('\ncommands:\n')).split('\n').slice(2);
  expect(commands.length).toBeGreaterThan(0);
  // no line twice in a row, and the retried connection is counted
  expect(commands.filter((l, i) => l === commands[i - 1])).toEqual([]);
  const socat = commands.filter((l) => l.includes('socat'));
  expect(socat).toHaveLength(1);
  expect(socat[0]).toMatch(/red\$ socat .*TCP4:192\.168\.15\.2:9.* → exit 1: .*Connection refused \(× (\d+), the numbers varying\)$/);
  expect(Number(/\(× (\d+)/.exec(socat[0]!)![1])).toBeGreaterThan(3);
});

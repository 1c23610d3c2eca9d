// A silent TCP server of the user's own (it accepts, reads, and closes or holds the connection without writing a byte)
// against a userland proxy in front of nothing: both look the same from the client (a handshake, then nothing). The
// kernel tells them apart: a proxy opens a connection onward from the namespace where the probe landed, which netspec's
// landing watch records (its output hook); a server's own socket opens none. Found by the oracle (seed 20261207, cases
// 64:13 and 91:17:1 of bench/oracle/regressions.json): a silent reader was "not reached", so `.not.toReach` passed.
import { expect, test } from '../../src/vitest.js';
import { serve, type Lab, type Netns } from '../../src/index.js';
import { failureOf } from '../matchers/helpers.js';
import { outcomeOf } from './helpers.js';

/** Three namespaces on one bridge, no NAT anywhere: a 10.1.0.1, b 10.1.0.2, c 10.1.0.3. */
async function trio(lab: Lab): Promise<{ a: Netns; b: Netns; c: Netns }> {
  const [a, b, c] = await Promise.all([lab.netns('a'), lab.netns('b'), lab.netns('c')]);
  const bridge = await lab.bridge('v-silent');
  await Promise.all([bridge.attach(a, { address: '10.1.0.1/24' }), bridge.attach(b, { address: '10.1.0.2/24' }), bridge.attach(c, { address: '10.1.0.3/24' })]);
  return { a, b, c };
}

/** Run `argv` in `ns` (for at most 30 s, ended with the lab) and wait until something listens on TCP `port` there. */
async function listening(ns: Netns, port: number, argv: string[]): Promise<void> {
  void ns.exec('timeout', ['30', ...argv], { reject: false }).catch(() => undefined);
  for (let i = 0; i < 50; i++) {
    const ss = await ns.exec('ss', ['-H', '-ltn', `sport = :${port}`]);
    if (ss.stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${ns.name} port ${port} after 5 s`);
}

test('a silent reader that closes at EOF (the oracle\'s socat -u … OPEN:file) received the probe: reached, and .not fails', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await listening(b, 9001, ['socat', '-u', 'TCP4-LISTEN:9001,fork,reuseaddr', 'OPEN:/tmp/silent-reader.log,creat,append']);
  const target = { address: '10.1.0.2', port: 9001 };
  await expect(a).toReach(target, { responder: false });
  const msg = await failureOf(expect(a).not.toReach(target, { responder: false }));
  expect(msg).toMatch(/the listener in b accepted the probe's connection \(its own socket: no onward connection\) and closed without answering/);
  // it did receive the probe's bytes (what the oracle checks)
  expect((await b.exec('cat', ['/tmp/silent-reader.log'])).stdout).toMatch(/netspec/);
});

test('a silent holder that never closes (reads, writes nothing, keeps the connection open) was reached too', async ({ lab }) => {
  const { a, b } = await trio(lab);
  // after the probe's EOF, socat waits 30 s for the silent command's output before it closes
  await listening(b, 9002, ['socat', '-t', '30', 'TCP4-LISTEN:9002,fork,reuseaddr', 'SYSTEM:sleep 30']);
  const target = { address: '10.1.0.2', port: 9002 };
  await expect(a).toReach(target, { responder: false });
  const msg = await failureOf(expect(a).not.toReach(target, { responder: false }));
  expect(msg).toMatch(/the listener in b accepted the probe's connection \(its own socket: no onward connection\) and kept it open without answering/);
});

test('a userland proxy in front of a closed upstream is not the end meant: not reached, .not passes, the onward address named', async ({ lab }) => {
  const { a, b } = await trio(lab);
  // nothing listens on c:9001: the proxy's onward connection is refused, and it hangs up on the probe without a word
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  const target = { address: '10.1.0.2', port: 9000 };
  const msg = await failureOf(expect(a).toReach(target, { responder: false, timeout: 1000 }));
  expect(msg).toMatch(/opened a connection onward to 10\.1\.0\.3:9001 while the probe ran .*a proxy/);
  await expect(a).not.toReach(target, { responder: false });
});

test('a userland proxy in front of an upstream that drops its SYNs is never reached (a ProbeError while it waits)', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await c.exec('nft', ['-f', '-'], { input: 'table inet quiet {\n chain in { type filter hook input priority 0; policy accept; tcp dport 80 drop; }\n}\n' });
  await listening(b, 8080, ['socat', 'TCP4-LISTEN:8080,fork,reuseaddr', 'TCP4:10.1.0.3:80,connect-timeout=20']);
  const target = { address: '10.1.0.2', port: 8080 };
  const positive = await outcomeOf(expect(a).toReach(target, { responder: false, timeout: 1500 }));
  expect(positive).toMatchObject({ threw: { message: expect.stringMatching(/onward to 10\.1\.0\.3:80 .*no verdict/) } });
  const negative = await outcomeOf(expect(a).not.toReach(target, { responder: false }));
  expect(negative).toMatchObject({ threw: { message: expect.stringMatching(/onward to 10\.1\.0\.3:80 .*no verdict/) } });
});

test('serve() behind a userland proxy answers through it with netspec\'s marker: reached', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  const server = await serve(lab.enter(c.name), { port: 80 });
  try {
    await listening(b, 8081, ['socat', 'TCP4-LISTEN:8081,fork,reuseaddr', 'TCP4:10.1.0.3:80']);
    await expect(a).toReach({ address: '10.1.0.2', port: 8081 }, { responder: false });
    expect(await failureOf(expect(a).not.toReach({ address: '10.1.0.2', port: 8081 }, { responder: false }))).toMatch(/reached|answered/);
  } finally {
    await server.stop();
  }
});

// Found by the oracle (seed 20261208, case 1545): a proxy whose upstream is a silent reader hangs up once the reader
// closes at the probe's EOF, exactly as a proxy in front of nothing does; only the onward handshake tells them apart
// (a SYN-ACK came back to the proxy's own port, and its SYN landed where a listener opens nothing further).
test('a userland proxy in front of a silent reader carried the probe to it: reached, and .not fails naming the reader', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await listening(c, 9001, ['socat', '-u', 'TCP4-LISTEN:9001,fork,reuseaddr', 'OPEN:/tmp/behind-proxy.log,creat,append']);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001,connect-timeout=1']);
  const target = { address: '10.1.0.2', port: 9000 };
  await expect(a).toReach(target, { responder: false });
  const msg = await failureOf(expect(a).not.toReach(target, { responder: false }));
  expect(msg).toMatch(/onward to 10\.1\.0\.3:9001 .*a proxy; its connection landed in c on 10\.1\.0\.3:9001 .*where a listener accepted it/);
  expect((await c.exec('cat', ['/tmp/behind-proxy.log'])).stdout).toMatch(/netspec/);
});

test('two proxies in a row: in front of nothing, not reached; in front of a silent reader, reached', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  // b:9000 → c:9000 → a:7000 (nothing listens there yet)
  await listening(c, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.1:7000,connect-timeout=1']);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9000,connect-timeout=2']);
  const target = { address: '10.1.0.2', port: 9000 };
  const msg = await failureOf(expect(a).toReach(target, { responder: false, timeout: 1000 }));
  expect(msg).toMatch(/a proxy, and its connection landed in c on 10\.1\.0\.3:9000 .*that one is a proxy too: c's onward connection to 10\.1\.0\.1:7000 was never accepted/);
  await expect(a).not.toReach(target, { responder: false });
  // now a silent reader at the end of the chain
  await listening(a, 7000, ['socat', '-u', 'TCP4-LISTEN:7000,fork,reuseaddr', 'OPEN:/tmp/end-of-chain.log,creat,append']);
  await expect(a).toReach(target, { responder: false });
  expect(await failureOf(expect(a).not.toReach(target, { responder: false }))).toMatch(/that one is a proxy too: its connection landed in a on 10\.1\.0\.1:7000/);
});

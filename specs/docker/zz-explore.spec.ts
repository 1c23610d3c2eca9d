import { appendFileSync } from 'node:fs';
import { test, vi, expect } from '../../src/vitest.js';
import { dockerEngine, realEngines } from './engines.js';
import { failureOf } from '../matchers/helpers.js';
vi.setConfig({ testTimeout: 180_000 });
const { available } = realEngines();
const log = (r: string, s: string) => appendFileSync(`/tmp/x-${r}.txt`, s + '\n');
test.for(available)('probe %s', async (eng) => {
  const e = await dockerEngine({ engine: eng });
  const r = eng.release;
  try {
    const q = await e.createNetwork('quiet', { internal: true, icc: false });
    const [a, b] = [await e.run('ca', { network: 'quiet' }), await e.run('cb', { network: 'quiet' })];
    log(r, 'internal+icc=false a->b: ' + ((await failureOf(expect(a.ns).toReach(b.address, { timeout: 800 }))) ?? 'REACHED').split('\n')[0]);
    await e.createNetwork('vault', { internal: true });
    const p = await e.run('cp', { network: 'vault', publish: ['8080:80'] });
    await p.serveEcho(80);
    log(r, 'internal publish outside: ' + ((await failureOf(expect(e.outside).toReach({ address: e.hostAddress, port: 8080 }, { responder: false, timeout: 800 }))) ?? 'REACHED').split('\n')[0]);
    log(r, 'internal publish localhost: ' + ((await failureOf(expect(e.lab.host).toReach({ address: '127.0.0.1', port: 8080 }, { responder: false, timeout: 800 }))) ?? 'REACHED').split('\n')[0]);
    log(r, 'ss: ' + (await e.lab.sh`ss -Htlnp`).stdout);
    await e.createNetwork('web');
    await e.createNetwork('other');
    const w = await e.run('cw', { network: 'web', publish: ['9090:90'] });
    await e.connect('other', 'cw');
    log(r, 'before disconnect ss: ' + (await e.lab.sh`ss -Htlnp`).stdout);
    await e.disconnect('web', 'cw');
    log(r, 'after disconnect ss: ' + (await e.lab.sh`ss -Htlnp`).stdout);
    log(r, (await e.rules()));
    const six = await e.createNetwork('six', { subnet6: 'fd00:a::/64' });
    await e.run('s6', { network: 'six', publish: ['7070:70'] });
    log(r, '=== ip6\n' + (await e.lab.run('host', ['ip6tables-save'], { intent: 'x' })).stdout);
    log(r, 'routes s6: ' + (await e.lab.sh`ip -6 route`).stdout + ' sysctl ' + (await e.lab.sh`sysctl net.bridge.bridge-nf-call-iptables net.ipv6.conf.all.forwarding 2>&1 || true`).stdout);
  } finally {
    await e.dispose();
  }
});

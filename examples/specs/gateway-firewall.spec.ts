// A firewall regression spec: the gateway's real rules (firewall/gateway.rules, as `iptables-save` printed them) are
// loaded, unchanged, into a lab whose host plays the gateway. Change the rules file and this spec says what broke.
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'netspec/vitest';
import type { Lab } from 'netspec';

const rules = fileURLToPath(new URL('../firewall/gateway.rules', import.meta.url));

/** The gateway as it is wired on the real machine: eth0 to the LAN (a laptop), eth1 to the uplink (the lab's wan). */
async function gateway(lab: Lab) {
  const wan = await lab.wan({ hostIfname: 'eth1' }); // "the Internet": 203.0.113.8, reached over 198.51.100.0/24
  const laptop = await lab.netns('laptop');
  await lab.veth({ ns: lab.host, name: 'eth0', address: '10.10.0.1/24' }, { ns: laptop, name: 'eth0', address: '10.10.0.2/24' });
  await laptop.addRoute('default', { via: '10.10.0.1' });
  await lab.host.forwarding(true);
  await lab.host.exec('iptables-restore', [rules]); // the file under test, as the gateway loads it at boot
  return { wan, laptop };
}

describe('the gateway firewall', () => {
  test('the LAN browses the web, NATed to the uplink address', async ({ lab }) => {
    const { wan, laptop } = await gateway(lab);
    await expect(laptop).toReach({ address: '203.0.113.8', port: 443 }, { seenAs: wan.hostAddress });
    await expect(laptop).toReach({ address: '203.0.113.8', port: 80 });
    await expect(laptop).toReach('203.0.113.8'); // ping is allowed out
  });

  test('nothing else leaves the LAN: ssh out is filtered by the FORWARD policy', async ({ lab }) => {
    const { laptop } = await gateway(lab);
    await expect(laptop).not.toReach({ address: '203.0.113.8', port: 22 }, { because: 'FILTERED' });
  });

  test('the Internet cannot open a connection to the gateway itself', async ({ lab }) => {
    const { wan } = await gateway(lab);
    await expect(wan.ns).not.toReach({ address: wan.hostAddress, port: 22 }, { because: 'FILTERED' });
    await expect(wan.ns).not.toReach(wan.hostAddress, { because: 'FILTERED' }); // no ping from outside either
  });
});

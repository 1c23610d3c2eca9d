/**
 * Debugging katas: a script builds a lab broken on purpose (broken.sh; the learner's script.sh starts as a copy).
 * The learner first writes the netspec assertion that exposes the fault (assert.mjs: it must fail on the lab as
 * built and pass on the repaired one, solution.sh), then fixes the script; the kata's own checks and the learner's
 * assertion must then pass on the learner's lab. solution.mjs is the reference assertion.
 */
import type { Wan } from '../src/index.js';
import { expect, fail, need, type Lesson } from './course.js';
import { forwardingIn, networkOf, prefixesOf } from './facts.js';

const assertionHints = (matcher: string, what: string): string[] => [
  `Start from what the report says should work, and assert it with netspec: ${matcher}.`,
  `Which namespace and which target: ${what}.`,
];

export const katas: Lesson<any>[] = [
  {
    id: '11-kata-mask',
    kind: 'kata',
    title: 'Kata: web cannot talk to db',
    assertionHints: assertionHints('`await expect(lab.get(…)).toReach(…)`', "from web, db's address (10.1.0.200)"),
    exposes: /web cannot reach 10\.1\.0\.200 \(icmp\) \(NO_REPLY\)/,
    async check(lab) {
      const [web, db] = [lab.get('web'), lab.get('db')];
      await need(() => expect(db).toReach('10.1.0.10'), {
        step: 'mask',
        says: 'db cannot reach web (10.1.0.10).',
        hints: ['Read the diagnosis: which route does db have for 10.1.0.10? Addresses and their prefixes: `ip addr`.', "db's address has the wrong prefix length: its network must be 10.1.0.0/24 like the others'."],
      });
      await need(() => expect(web).toReach('10.1.0.200'), { step: 'back', says: 'web cannot reach db (10.1.0.200).', hints: ['`ip netns exec db ip route`.', "db's prefix length."] });
      // the pings pass, but the fault may still be there under a route around it: the mask is what was wrong
      const [dbs, webs] = await Promise.all([prefixesOf(db, '10.1.0.200'), web.globalAddresses(4)]);
      const wrong = dbs.find((a) => a.prefixLength !== 24);
      if (wrong) {
        const others = webs.map((a) => `${a.address}/${a.prefixLength}`).join(', ') || 'none';
        fail({
          step: 'mask',
          says:
            `db and web reach each other now, but db's address is still 10.1.0.200/${wrong.prefixLength} (on ${wrong.dev}): its network is ${networkOf('10.1.0.200', wrong.prefixLength)}, ` +
            `not the 10.1.0.0/24 of web (${others}) and the host; a route around a wrong prefix length hides the fault, it does not repair it.`,
          hints: ['Compare the prefix lengths: `ip netns exec db ip addr` and `ip netns exec web ip addr`.', "db's address needs the network's prefix length, /24, like the others'; a route added around it is not needed then."],
        });
      }
    },
    starterFails: /db cannot reach web \(10\.1\.0\.10\)[\s\S]*NO_ROUTE/,
  },
  {
    id: '12-kata-nat',
    kind: 'kata',
    title: 'Kata: red and blue cannot reach the Internet, though everything is there',
    setup: (lab) => lab.wan(),
    assertionHints: assertionHints('`toReach`', 'from red (or blue), the Internet: 203.0.113.8'),
    exposes: /red cannot reach 203\.0\.113\.8 \(icmp\) \(NO_REPLY\)/,
    async check(lab, wan: Wan) {
      for (const name of ['red', 'blue']) {
        await need(() => expect(lab.get(name)).toReach('203.0.113.8', { seenAs: wan.hostAddress }), {
          step: 'nat',
          says: `${name} cannot reach the Internet as the host (${wan.hostAddress}).`,
          hints: ['Read the diagnosis: which hop has no way back? Address translation: `iptables -t nat -S`.', 'The MASQUERADE rule does not match the network red and blue are on.'],
        });
      }
    },
    starterFails: /red cannot reach the Internet as the host[\s\S]*NO_REPLY/,
  },
  {
    id: '13-kata-forwarding',
    kind: 'kata',
    title: 'Kata: red and blue cannot reach each other through the host',
    assertionHints: assertionHints('`toReach` (or, once you know, `toForward` on `lab.host`)', "from red, blue's address (10.0.2.2)"),
    exposes: /red cannot reach 10\.0\.2\.2 \(icmp\) \(FORWARDING_DISABLED\)/,
    async check(lab) {
      // the usual mistake, named from the lab: ip_forward set in red and blue instead of the host
      await forwardingIn(lab, lab.host, [lab.get('red'), lab.get('blue')]);
      await need(() => expect(lab.host).toForward(), {
        step: 'forward',
        says: 'the host does not forward IPv4 packets.',
        hints: ['Forwarding is a sysctl: `sysctl net.ipv4.ip_forward`. In which namespace does your script set it?', 'The router is the host: set net.ipv4.ip_forward=1 there, not in red and blue.'],
      });
      await need(() => expect(lab.get('red')).toReach('10.0.2.2'), { step: 'reach', says: 'red cannot reach blue (10.0.2.2).', hints: ['Read the diagnosis.', 'Routes in red and blue, forwarding in the host.'] });
      await need(() => expect(lab.get('blue')).toReach('10.0.1.2'), { step: 'reach', says: 'blue cannot reach red (10.0.1.2).', hints: ['Read the diagnosis.', 'Routes in red and blue, forwarding in the host.'] });
    },
    starterFails: /net\.ipv4\.ip_forward is 0 in the host, the router between red and blue: it passes no packet from one of its interfaces to another\. It is 1 in red and blue/,
  },
  {
    id: '14-kata-rule-order',
    kind: 'kata',
    title: 'Kata: nobody on the LAN can open the web site',
    assertionHints: assertionHints('`toReach` with a port: `toReach({ address, port })` is TCP', "from red, web's http: 10.0.2.2 port 80"),
    exposes: /red cannot reach 10\.0\.2\.2:80 \(tcp\) \(FILTERED\)[\s\S]*-A FORWARD -i lan -o dmz -j DROP/,
    async check(lab) {
      const red = lab.get('red');
      await need(() => expect(red).toReach({ address: '10.0.2.2', port: 80 }), {
        step: 'http',
        says: 'red cannot open http (tcp port 80) on web (10.0.2.2).',
        hints: ['Read the diagnosis: the kernel trace names the rule that drops it. Rules are read in order: `iptables -S FORWARD`.', 'The ACCEPT for http comes after the DROP that catches everything from lan to dmz.'],
      });
      await need(() => expect(red).not.toReach({ address: '10.0.2.2', port: 22 }, { because: 'FILTERED' }), {
        step: 'policy',
        says: 'red reaches web on port 22: from the LAN, only http may go to the DMZ.',
        hints: ['Read "what let it through" below.', 'Keep the DROP for the rest of lan to dmz; only put the http ACCEPT before it.'],
      });
    },
    starterFails: /red cannot open http \(tcp port 80\) on web[\s\S]*FILTERED/,
  },
  {
    id: '15-kata-arp',
    kind: 'kata',
    title: 'Kata: red cannot reach the host any more; blue can',
    assertionHints: assertionHints('`toReach`', "from red, the host's address on v-net-0 (192.168.15.3)"),
    exposes: /red cannot reach 192\.168\.15\.3 \(icmp\)[\s\S]*02:00:00:0f:00:30/,
    async check(lab) {
      const red = lab.get('red');
      await need(() => expect(red).toReach('192.168.15.3'), {
        step: 'neighbor',
        says: 'red cannot reach its gateway, the host (192.168.15.3).',
        hints: [
          "Read the diagnosis: which MAC address does red send to for 192.168.15.3? Neighbor (ARP) tables: `ip neigh`, and a link's own MAC: `ip link show v-net-0`.",
          "red's pinned entry for 192.168.15.3 has a MAC that is not v-net-0's.",
        ],
      });
      await need(() => expect(lab.get('blue')).toReach('192.168.15.1'), { step: 'blue', says: 'blue cannot reach red.', hints: ['Read the diagnosis.', 'Fix only the pinned entry.'] });
    },
    starterFails: /red cannot reach its gateway, the host \(192\.168\.15\.3\)/,
  },
];

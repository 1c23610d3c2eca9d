/**
 * Docker's bridge behaviours (fixtures/reference/docker-bridge.md, "Behaviours worth a spec"), written once and run
 * against both engines: the same expectations must hold for the emulation and for a real Docker engine.
 */
import { expect } from '../../src/vitest.js';
import type { Engine } from './engines.js';
import { failureOf } from '../matchers/helpers.js';
import { layoutOf } from '../../fixtures/index.js';

export interface Behaviour {
  id: number;
  title: string;
  /**
   * It publishes a port. Only these depend on the userland proxy (docker-proxy, or hairpin NAT and route_localnet in
   * its place), so only these run with both settings; the others run with the default (the proxy on). `withPublishWatch`
   * keeps the flag honest: a behaviour that publishes without it fails.
   */
  publishes?: true;
  run(engine: Engine): Promise<void>;
}

/**
 * The engine as a behaviour sees it, noting whether it published a port: a behaviour that does must say
 * `publishes: true`, or it would be checked with one proxy setting only.
 */
export function withPublishWatch(engine: Engine, behaviour: Behaviour): Engine {
  const watched: Engine = Object.create(engine) as Engine;
  watched.run = (name, options) => {
    if (options?.publish?.length && !behaviour.publishes) throw new Error(`behaviour ${behaviour.id} publishes a port: mark it \`publishes: true\` so that it runs with and without the userland proxy`);
    return engine.run(name, options);
  };
  return watched;
}

/** The engine settings a behaviour is checked with: both proxy settings where it publishes a port, the default otherwise. */
export function proxySettings(behaviour: Behaviour): boolean[] {
  return behaviour.publishes ? [true, false] : [true];
}

const INTERNET = '203.0.113.8';

export const behaviours: Behaviour[] = [
  {
    id: 1,
    title: 'containers on one network reach each other on a listening port; a closed port is refused',
    async run(e) {
      const net = await e.createNetwork('app');
      const [c1, c2] = [await e.run('c1', { network: net.name }), await e.run('c2', { network: net.name })];
      await c2.serveEcho(80);
      await expect(c1.ns).toReach(c2.address);
      await expect(c1.ns).toReach({ address: c2.address, port: 80 }, { responder: false, seenAs: c1.address });
      const refused = await failureOf(expect(c1.ns).toReach({ address: c2.address, port: 81 }, { responder: false, timeout: 500 }));
      expect(refused).toMatch(/\(REFUSED\)/);
    },
  },
  {
    id: 2,
    title: 'enable_icc=false: same-network traffic is dropped, the gateway and the outside still work',
    async run(e) {
      const net = await e.createNetwork('quiet', { icc: false });
      const [c1, c2] = [await e.run('c1', { network: net.name }), await e.run('c2', { network: net.name })];
      await expect(c1.ns).not.toReach(c2.address);
      await expect(c1.ns).toReach(net.gateway);
      await expect(c1.ns).toReach(INTERNET);
    },
  },
  {
    id: 3,
    title: 'two user-defined networks cannot reach each other\'s containers',
    async run(e) {
      const [a, b] = [await e.createNetwork('front'), await e.createNetwork('back')];
      const [c1, c2] = [await e.run('c1', { network: a.name }), await e.run('c2', { network: b.name })];
      await expect(c1.ns).not.toReach(c2.address);
      await expect(c2.ns).not.toReach(c1.address);
      await expect(c1.ns).toReach(INTERNET);
    },
  },
  {
    id: 4,
    title: 'an --internal network: members reach each other and the gateway, nothing outside',
    async run(e) {
      const net = await e.createNetwork('vault', { internal: true });
      const [c1, c2] = [await e.run('c1', { network: net.name }), await e.run('c2', { network: net.name })];
      await expect(c1.ns).toReach(c2.address);
      await expect(c1.ns).toReach(net.gateway);
      await expect(c1.ns).not.toReach(INTERNET);
      const why = await failureOf(expect(c1.ns).toReach(INTERNET, { timeout: 500 }));
      if (layoutOf(e.version)!.internalDefaultRoute) {
        // Docker 20.10 still routes via the gateway; its isolation rule is what drops the packet
        expect(why).toMatch(/\(FILTERED\)/);
        expect(why).toMatch(/host: dropped by rule `-A DOCKER-ISOLATION-STAGE-1 ! -d 172\.\d+\.0\.0\/16 -i br-[0-9a-f]{12} -j DROP`/);
      } else {
        expect(why).toMatch(/\(NO_ROUTE\)/); // 25 on: no default route on an internal network (TestInternalNwConnectivity)
      }
    },
  },
  {
    id: 5,
    title: 'outbound traffic is MASQUERADEd: the outside sees the host\'s address, not 172.x',
    async run(e) {
      const c1 = await e.run('c1');
      await expect(c1.ns).toReach(INTERNET);
      // a server on the outside that answers with the address it saw
      const { serve } = await import('../../src/index.js');
      await serve(e.lab.enter(e.outside.name), { port: 7000, address: INTERNET });
      await expect(c1.ns).toReach({ address: INTERNET, port: 7000 }, { responder: false, seenAs: e.hostAddress });
    },
  },
  {
    id: 6,
    title: 'a published port (-p 8080:80) on the host\'s address reaches the container, which sees the real client',
    publishes: true,
    async run(e) {
      const net = await e.createNetwork('web');
      const c1 = await e.run('c1', { network: net.name, publish: ['8080:80'] });
      await c1.serveEcho(80);
      await expect(e.outside).toReach({ address: e.hostAddress, port: 8080 }, { responder: false, seenAs: e.outsideAddress });
      await expect(e.outside).not.toReach({ address: e.hostAddress, port: 8081 }, { responder: false });
    },
  },
  {
    id: 7,
    title: 'with ip_forward enabled by Docker the FORWARD policy is DROP: a bridge that is not Docker\'s stops forwarding',
    async run(e) {
      await e.run('c1'); // the engine is up and has set its policy
      const [red, blue] = await Promise.all([e.lab.netns('red'), e.lab.netns('blue')]);
      const bridge = await e.lab.bridge('v-net-0', { address: '192.168.15.3/24' });
      await Promise.all([bridge.attach(red, { address: '192.168.15.1/24' }), bridge.attach(blue, { address: '192.168.15.2/24' })]);
      await expect(e.lab.host).toForward();
      const filtered = await failureOf(expect(red).toReach('192.168.15.2', { timeout: 500 }));
      expect(filtered).toMatch(/\(FILTERED\)/);
      expect(filtered).toMatch(/host: dropped by the FORWARD policy DROP/);
      await e.lab.host.policy('FORWARD', 'ACCEPT'); // the tutorial's fix
      await expect(red).toReach('192.168.15.2');
    },
  },
  {
    id: 8,
    title: 'DOCKER-USER rules run first, and Docker never flushes them',
    publishes: true,
    async run(e) {
      const net = await e.createNetwork('app');
      const [c1, c2] = [await e.run('c1', { network: net.name }), await e.run('c2', { network: net.name })];
      await expect(c1.ns).toReach(INTERNET);
      await e.userRule(['-s', c1.address, '-j', 'DROP']);
      await expect(c1.ns).not.toReach(INTERNET);
      await e.createNetwork('later'); // Docker rewrites its rules
      await e.run('c3', { network: 'later', publish: ['9090:90'] });
      expect(await e.rules()).toContain(`-A DOCKER-USER -s ${c1.address}/32 -j DROP`);
      await expect(c1.ns).not.toReach(INTERNET);
      await expect(c2.ns).toReach(INTERNET);
    },
  },
  {
    id: 9,
    title: 'a published port reached from another network\'s container through the host\'s address (hairpin)',
    publishes: true,
    // moby TestPortMappedHairpin (integration/networking/bridge_test.go): with the default daemon (docker-proxy on) a
    // client on clientnet reaches servernet's published port at the host's address, on every version that has the test
    async run(e) {
      const [server, client] = [await e.createNetwork('servernet'), await e.createNetwork('clientnet')];
      const c1 = await e.run('c1', { network: server.name, publish: ['8080:80'] });
      const c2 = await e.run('c2', { network: client.name });
      await c1.serveEcho(80);
      const target = { address: e.hostAddress, port: 8080 };
      if (e.userlandProxy || e.version === '29') {
        // the proxy (or, on 29, the DNAT and a MASQUERADE out of servernet) connects from servernet's gateway
        await expect(c2.ns).toReach(target, { responder: false, seenAs: server.gateway });
      } else {
        // no proxy, up to 28: DNAT to c1, and the inter-network isolation drops the forwarded packet
        const why = await failureOf(expect(c2.ns).toReach(target, { responder: false, timeout: 1000 }));
        expect(why).toMatch(/\(FILTERED\)/);
        expect(why).toMatch(/DOCKER-ISOLATION-STAGE-2 -o br-[0-9a-f]{12} -j DROP/);
      }
    },
  },
  {
    id: 10,
    title: 'the host reaches a published port on 127.0.0.1 and on its own address; -p 127.0.0.1:… is closed to the outside',
    publishes: true,
    async run(e) {
      const net = await e.createNetwork('web');
      const c1 = await e.run('c1', { network: net.name, publish: ['8080:80', '127.0.0.1:8081:80'] });
      await c1.serveEcho(80);
      // docker-proxy (OUTPUT skips 127.0.0.0/8), or without it the DNAT, route_localnet and a MASQUERADE of local sources
      await expect(e.lab.host).toReach({ address: '127.0.0.1', port: 8080 }, { responder: false, seenAs: net.gateway });
      await expect(e.lab.host).toReach({ address: '127.0.0.1', port: 8081 }, { responder: false, seenAs: net.gateway });
      await expect(e.outside).toReach({ address: e.hostAddress, port: 8080 }, { responder: false, seenAs: e.outsideAddress });
      await expect(e.outside).not.toReach({ address: e.hostAddress, port: 8081 }, { responder: false });
    },
  },
  {
    id: 11,
    title: 'docker network connect puts a container on a second network (it reaches that network\'s containers), disconnect takes it off',
    async run(e) {
      const [front, back] = [await e.createNetwork('front'), await e.createNetwork('back')];
      const c1 = await e.run('c1', { network: front.name });
      const c2 = await e.run('c2', { network: back.name });
      await expect(c1.ns).not.toReach(c2.address);
      const second = await e.connect(back.name, 'c1');
      expect(second).not.toBe(c1.address);
      await expect(c1.ns).toReach(c2.address);
      await expect(c2.ns).toReach(second);
      await expect(c1.ns).toReach(INTERNET); // its default route is still front's
      await e.disconnect(back.name, 'c1');
      await expect(c1.ns).not.toReach(c2.address);
      await expect(c1.ns).toReach(INTERNET);
    },
  },
  {
    id: 12,
    title: '--subnet, --gateway and --ip: the container has the address asked for and routes via that gateway',
    async run(e) {
      const net = await e.createNetwork('custom', { subnet: '10.99.0.0/24', gateway: '10.99.0.254' });
      expect([net.subnet, net.gateway]).toEqual(['10.99.0.0/24', '10.99.0.254']);
      const c1 = await e.run('c1', { network: net.name, ip: '10.99.0.10' });
      const c2 = await e.run('c2', { network: net.name });
      expect(c1.address).toBe('10.99.0.10');
      expect(c2.address).toBe('10.99.0.1'); // the lowest free address
      await expect(c1.ns).toHaveRouteEntry({ destination: 'default', gateway: '10.99.0.254' });
      await expect(c2.ns).toReach(c1.address);
      await expect(c1.ns).toReach(INTERNET);
    },
  },
  {
    id: 13,
    title: '--network none: only lo, nothing is reachable',
    async run(e) {
      const c1 = await e.run('c1', { network: 'none' });
      await expect(c1.ns).not.toReach(INTERNET, { because: 'NO_ROUTE' });
      // lo is up with its address (a probe to 127.0.0.1 would never leave c1: refused, issue 22)
      await expect(c1.ns).toHaveAddress('127.0.0.1/8', { dev: 'lo' });
    },
  },
  {
    id: 14,
    title: 'container names resolve on a user-defined network, to the address on that network',
    async run(e) {
      const net = await e.createNetwork('app');
      const [, c2] = [await e.run('c1', { network: net.name }), await e.run('c2', { network: net.name })];
      const address = await e.resolve('c1', 'c2');
      expect(address).toBe(c2.address);
      await expect((await e.run('c3', { network: net.name })).ns).toReach(address);
    },
  },
  {
    id: 15,
    title: 'an --ipv6 network: containers reach each other over IPv6; another network reaches them unless ip6tables rules isolate it (27.0 on)',
    async run(e) {
      const [a, b] = [await e.createNetwork('six-a', { subnet6: 'fd00:a::/64' }), await e.createNetwork('six-b', { subnet6: 'fd00:b::/64' })];
      const [c1, c2] = [await e.run('c1', { network: a.name }), await e.run('c2', { network: a.name })];
      const c3 = await e.run('c3', { network: b.name });
      expect(c1.address6).toMatch(/^fd00:a::/);
      await expect(c1.ns).toReach(c2.address6);
      await expect(c1.ns).not.toReach(c3.address); // IPv4 stays isolated
      if (layoutOf(e.version)!.ip6tables) {
        if (e.kind === 'emulation') await expect(c3.ns).not.toReach(c1.address6, { because: 'FILTERED' });
        else {
          // attach mode explains from iptables counters only (no trace table, no ip6tables counters): the real engine's
          // verdict is NO_REPLY, so the drop is shown by a counter: 28.5.2 drops it in the raw table (c1's address
          // arriving on another bridge), before the isolation chains
          await expect(c3.ns).not.toReach(c1.address6);
          const counted = (await e.lab.run('host', ['ip6tables-save', '-c'], { intent: 'read ip6tables counters' })).stdout;
          const drops = counted.split('\n').filter((l) => /^\[[1-9]\d*:\d+\] /.test(l) && l.endsWith('-j DROP'));
          expect(drops.join('\n')).toMatch(new RegExp(`-A PREROUTING -d ${c1.address6}/128 ! -i br-[0-9a-f]{12} -j DROP|-A DOCKER-ISOLATION-STAGE-2 -o br-[0-9a-f]{12} -j DROP`));
        }
      }
      else await expect(c3.ns).toReach(c1.address6); // no ip6tables rules: IPv6 is routed between the networks
    },
  },
  // issue 24: where the emulation disagreed with moby's source; each checked on the real engines here
  {
    id: 16,
    title: 'an --internal network with enable_icc=false: its containers do not reach each other (only the ICC DROP is written)',
    async run(e) {
      const net = await e.createNetwork('sealed', { internal: true, icc: false });
      const [c1, c2] = [await e.run('c1', { network: net.name }), await e.run('c2', { network: net.name })];
      await expect(c1.ns).not.toReach(c2.address);
      await expect(c2.ns).not.toReach(c1.address);
      expect(await e.rules()).not.toMatch(/-i br-<[^>]+> -o br-<[^>]+> -j ACCEPT/);
    },
  },
  {
    id: 17,
    title: 'a port published on an --internal network is never programmed: no DNAT, no docker-proxy, the outside is not let in',
    publishes: true,
    async run(e) {
      const net = await e.createNetwork('vault', { internal: true });
      const c1 = await e.run('c1', { network: net.name, publish: ['8080:80'] });
      const c2 = await e.run('c2', { network: net.name });
      await c1.serveEcho(80);
      await expect(c2.ns).toReach({ address: c1.address, port: 80 }, { responder: false, seenAs: c2.address }); // it serves
      await expect(e.outside).not.toReach({ address: e.hostAddress, port: 8080 }, { responder: false });
      expect(await e.rules()).not.toMatch(/--dport 8080 /);
      const listening = await e.lab.run('host', ['ss', '-Htuln', 'sport = :8080'], { intent: 'is anything listening on 8080' });
      expect(listening.stdout.trim()).toBe('');
    },
  },
  {
    id: 18,
    title: 'disconnect from the network a port is published on: the port follows the container to its next network, and goes with its last one',
    publishes: true,
    async run(e) {
      // a subnet of the user's: Docker takes --ip only there (the c2 below)
      const [web, other] = [await e.createNetwork('web', { subnet: '10.98.0.0/24' }), await e.createNetwork('other')];
      const c1 = await e.run('c1', { network: web.name, publish: ['9090:90'] });
      const second = await e.connect(other.name, 'c1');
      await c1.serveEcho(90);
      await e.disconnect(web.name, 'c1');
      expect(await e.rules()).toContain(`--dport 9090 -j DNAT --to-destination ${second}:90`);
      await expect(e.outside).toReach({ address: e.hostAddress, port: 9090 }, { responder: false, seenAs: e.outsideAddress });
      // the address c1 had on web goes to another container, which serves the same port: it must not get 9090
      const c2 = await e.run('c2', { network: web.name, ip: c1.address });
      await c2.serveEcho(90);
      await e.disconnect(other.name, 'c1');
      expect(await e.rules()).not.toMatch(/--dport 9090 /);
      await expect(e.outside).not.toReach({ address: e.hostAddress, port: 9090 }, { responder: false, timeout: 1000 });
    },
  },
  {
    id: 19,
    title: 'a DOCKER-USER ACCEPT lets the outside route to a container without published ports up to 27.x; from 28.0 the raw table still drops it',
    async run(e) {
      const net = await e.createNetwork('app');
      const c1 = await e.run('c1', { network: net.name });
      // the outside routes the network's subnet to the Docker host, as a router in front of it would
      await e.lab.run(e.outside.name, ['ip', 'route', 'add', net.subnet, 'via', e.hostAddress], { intent: 'route the subnet to the Docker host' });
      await expect(e.outside).not.toReach(c1.address); // FORWARD: no ACCEPT for it in Docker's chains
      await e.userRule(['-d', c1.address, '-j', 'ACCEPT']);
      if (layoutOf(e.version)!.rawDirectAccessDrop) {
        await expect(e.outside).not.toReach(c1.address);
        expect(await e.rules()).toContain(`-A PREROUTING -d ${c1.address}/32 ! -i br-<${net.subnet}> -j DROP`);
      } else {
        await expect(e.outside).toReach(c1.address);
      }
    },
  },
];

/** The four rule-set scenarios of the reference, built the same way on both engines. */
export const ruleScenarios: { title: string; build(e: Engine): Promise<void> }[] = [
  { title: 'the default bridge', build: async (e) => void (await e.run('c0')) },
  {
    title: 'a user network with -p 8080:80',
    build: async (e) => {
      await e.createNetwork('web');
      await e.run('c1', { network: 'web', publish: ['8080:80'] });
    },
  },
  { title: 'an --internal network', build: async (e) => void (await e.createNetwork('vault', { internal: true })) },
  { title: 'an enable_icc=false network', build: async (e) => void (await e.createNetwork('quiet', { icc: false })) },
  {
    title: 'a host-IP publish and a custom subnet, gateway and --ip',
    build: async (e) => {
      await e.createNetwork('custom', { subnet: '10.99.0.0/24', gateway: '10.99.0.254' });
      // dockerd orders a container's bindings by host port, then container port, both descending (go-connections'
      // SortPortMap); here both put the udp binding first, so the order does not depend on Go's map order
      await e.run('c1', { network: 'custom', publish: ['127.0.0.1:8081:80', '8082:82/udp'], ip: '10.99.0.10' });
    },
  },
  {
    title: 'all of them, in the reference\'s order',
    build: async (e) => {
      await e.createNetwork('web');
      await e.run('c1', { network: 'web', publish: ['8080:80'] });
      await e.createNetwork('vault', { internal: true });
      await e.createNetwork('quiet', { icc: false });
    },
  },
];

/**
 * Every scenario above on one engine, plus a container without published ports on the default bridge: the rule text
 * of a version compared once per proxy setting (the newer real engines; 20.10 compares each scenario alone).
 */
export const everyScenario: { title: string; build(e: Engine): Promise<void> } = {
  title: 'every scenario at once',
  build: async (e) => {
    await ruleScenarios.at(-1)!.build(e); // web with c1 -p 8080:80, vault (internal), quiet (icc=false)
    await e.createNetwork('custom', { subnet: '10.99.0.0/24', gateway: '10.99.0.254' });
    await e.run('c2', { network: 'custom', publish: ['127.0.0.1:8081:80', '8082:82/udp'], ip: '10.99.0.10' });
    await e.run('c0'); // the default bridge, no published port
  },
};

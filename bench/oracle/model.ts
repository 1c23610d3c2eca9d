/**
 * The oracle's lab model (bench/oracle.ts): plain data that fast-check generates and shrinks, that the builder turns
 * into a lab through netspec's public API, and that regressions.json stores as it is.
 *
 * The topology: clients c1..cN on LAN A (10.0.1.0/24, bridge `bra`), a router r (10.0.1.1 on LAN A, 10.0.2.1 on LAN B),
 * servers s1..sM on LAN B (10.0.2.0/24, bridge `brb`), and optionally a stray namespace z that holds a duplicate of a
 * server's address on a link of its own. "The Internet" VIP 203.0.113.10 is owned by nobody: only a DNAT makes it
 * answer.
 */
import fc from 'fast-check';

export type Proto = 'icmp' | 'tcp' | 'udp';
export type Backend = 'iptables' | 'nft';

export const PORTS = [80, 443, 8080, 53] as const;
export const VIP = '203.0.113.10';
export const clientAddr = (i: number) => `10.0.1.${11 + i}`;
export const serverAddr = (i: number) => `10.0.2.${11 + i}`;
export const R_A = '10.0.1.1';
export const R_B = '10.0.2.1';
/** A second gateway on LAN A that no namespace owns (a policy table's route through it leads nowhere). */
export const ALT_GW = '10.0.1.99';
/** Ports of the lab's own services (never an oracle listener's); 9002 is never served. */
export const SERVICE_PORTS = [9000, 9001] as const;
export const DEAD_PORT = 9002;

/** A filter rule that drops forwarded packets on r. */
export interface Drop {
  backend: Backend;
  /** nft only: the table's name (iptables-nft's own names included: `filter`). */
  table: string;
  proto?: Proto;
  /** Only with tcp/udp; several ports are an nft set or iptables multiport. */
  ports?: number[];
  /** Index of a client: `-s` (or `! -s` when negated). */
  src?: number;
  negateSrc?: boolean;
  /** Only packets arriving on LAN A's interface. */
  iifA?: boolean;
}

/** A DNAT: on the router (PREROUTING) or in a client's own OUTPUT (source-side). */
export interface Dnat {
  where: 'router' | { client: number };
  backend: Backend;
  /** nft: the table's name; iptables: unused. */
  table: string;
  /** iptables: jump to a chain of this name from PREROUTING/OUTPUT instead of writing the rule there. */
  chain?: string;
  /** The address the client sends to: the VIP, or r's LAN A address (a port published on the router). */
  to: 'vip' | 'router';
  proto: 'tcp' | 'udp';
  port: number;
  server: number;
  toPort: number;
  /** nft: `dnat to tcp dport map { … }` instead of a plain rule. */
  map?: boolean;
  /** Limited to one client's source (negated: every other). */
  src?: number;
  negateSrc?: boolean;
}

export interface ReachClaim {
  kind: 'reach';
  from: number;
  target: { kind: 'server'; i: number } | { kind: 'vip' } | { kind: 'router'; side: 'A' | 'B' } | { kind: 'client'; i: number };
  proto: Proto;
  port: number;
  /** true: `.not.toReach`. */
  not: boolean;
  /** Positive claims only: the source the target must see. */
  seenAs?: { kind: 'client' } | { kind: 'router' };
}

/** Policy routing in a client: `ip rule add [not] fwmark M | from ADDR table T`, `ip route add default via GW table T`. */
export interface Policy {
  client: number;
  mark: number;
  table: number;
  via: 'router' | 'alt';
  /** Select by the client's own source address instead of the mark. */
  byFrom: boolean;
  not: boolean;
  /** Mark the client's TCP packets to this port in mangle OUTPUT (iptables) so the rule applies to real packets. */
  markPort?: number;
}

/** A server of the lab's own (its TCP/UDP probes use `responder: false`). */
export interface Service {
  where: { server: number } | 'router';
  kind: 'echo' | 'silent' | 'proxy';
  proto: 'tcp' | 'udp';
  port: number;
  /** proxy: where it connects (a service port, or DEAD_PORT where nothing listens). */
  upstream?: { server: number; port: number };
}

export interface ServiceClaim {
  kind: 'service';
  from: number;
  service: number;
  not: boolean;
}

export interface RouteClaim {
  kind: 'route';
  client: number;
  dest: { kind: 'vip' } | { kind: 'server'; i: number };
  gw: 'router' | 'alt';
  mark?: number;
  not: boolean;
}

export interface RuleClaim {
  kind: 'rule';
  client: number;
  /** `{ fwmark }` or `{ from: the client's address }`, with `table`. */
  byFrom: boolean;
  mark: number;
  table: number;
  not: boolean;
}

/** `expect(lab).toHaveReachability({ cN: { ADDR: bool } })` over every client and every server address and R_A, with
 *  the oracle's own matrix as the expectation, one pair flipped when `flip` is given (the claim is then false). */
export interface MeshClaim {
  kind: 'mesh';
  flip?: number;
}

/**
 * An input firewall in a server or the router (what exposure claims are mostly about): `policy drop` on input (or a
 * final reject), loopback and `ct state established,related` accepted, and these ports of one protocol accepted.
 */
export interface Guard {
  where: { server: number } | 'router';
  backend: Backend;
  proto: 'tcp' | 'udp';
  /** Single ports accepted. */
  ports: number[];
  /** An inclusive range accepted too (`tcp dport 1000-1010`, `--dports 1000:1010`). */
  range?: [number, number];
  /** End with a reject (a TCP reset / ICMP port unreachable) instead of the drop policy. */
  reject?: boolean;
}

/**
 * `expect(cN).toReachOnly(target, allow, { protocol, listening })`, or with no `allow`, `expect(cN).not.toReachAny(target,
 * { protocol })`: every port of the target swept (issue 30). The oracle decides on a sample of ports (bench/oracle/case.ts).
 */
export interface ExposureClaim {
  kind: 'exposure';
  from: number;
  target: { kind: 'server'; i: number } | { kind: 'vip' } | { kind: 'router'; side: 'A' };
  proto: 'tcp' | 'udp';
  /** Allowed ports: single ports and inclusive ranges (written `{ port: 'lo-hi' }`); absent: `.not.toReachAny`. */
  allow?: (number | [number, number])[];
  /** `{ listening: true }` (toReachOnly only): a port counts only where something of the lab's own listens where it lands. */
  listening?: boolean;
  /** The oracle's random ports (besides the ports that matter in the lab), generated so that a case replays. */
  sample: number[];
}

export type Claim = ReachClaim | ServiceClaim | RouteClaim | RuleClaim | MeshClaim | ExposureClaim;

export interface LabModel {
  clients: number;
  servers: number;
  forwarding: boolean;
  /** Per server: a default route via r (without one, only MASQUERADE brings replies back). */
  serverRoutes: boolean[];
  masquerade?: Backend;
  drops: Drop[];
  dnats: Dnat[];
  /** A stray namespace z holding a duplicate of this server's address (on a link of its own, reachable by nobody). */
  duplicateOf?: number;
  policies: Policy[];
  services: Service[];
  /** Input firewalls (absent in labs stored before exposure claims existed). */
  guards?: Guard[];
  /** r pings this server all the time (other traffic to a target, from an address a seenAs claim may name). */
  noise?: number;
  claims: Claim[];
}

const tableName = fc.constantFrom('filter', 'nat', 'fw', 'mangle', 'x_1');
const chainName = fc.constantFrom('PORTS', 'DNAT-A', 'fwd');

export function labModel(): fc.Arbitrary<LabModel> {
  return fc
    .record({ clients: fc.integer({ min: 1, max: 2 }), servers: fc.integer({ min: 1, max: 3 }) })
    .chain(({ clients, servers }) => {
      const client = fc.integer({ min: 0, max: clients - 1 });
      const server = fc.integer({ min: 0, max: servers - 1 });
      const port = fc.constantFrom(...PORTS);
      const drop: fc.Arbitrary<Drop> = fc
        .record(
          {
            backend: fc.constantFrom<Backend>('iptables', 'nft'),
            table: tableName,
            proto: fc.constantFrom<Proto>('icmp', 'tcp', 'udp'),
            ports: fc.uniqueArray(port, { minLength: 1, maxLength: 2 }),
            src: client,
            negateSrc: fc.boolean(),
            iifA: fc.boolean(),
          },
          { requiredKeys: ['backend', 'table'] },
        )
        .map((d) => {
          const out: Drop = { ...d };
          if (out.proto !== 'tcp' && out.proto !== 'udp') delete out.ports;
          if (out.src === undefined) delete out.negateSrc;
          return out;
        });
      const dnat: fc.Arbitrary<Dnat> = fc
        .record(
          {
            where: fc.oneof(fc.constant<'router'>('router'), client.map((c) => ({ client: c }))),
            backend: fc.constantFrom<Backend>('iptables', 'nft'),
            table: tableName,
            chain: chainName,
            to: fc.constantFrom<'vip' | 'router'>('vip', 'router'),
            proto: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
            port,
            server,
            toPort: port,
            map: fc.boolean(),
            src: client,
            negateSrc: fc.boolean(),
          },
          { requiredKeys: ['where', 'backend', 'table', 'to', 'proto', 'port', 'server', 'toPort'] },
        )
        .map((d) => {
          const out: Dnat = { ...d };
          if (out.backend === 'iptables') delete out.map;
          if (out.backend === 'nft') delete out.chain;
          if (out.src === undefined) delete out.negateSrc;
          return out;
        });
      const target: fc.Arbitrary<ReachClaim['target']> = fc.oneof(
        { weight: 3, arbitrary: server.map((i) => ({ kind: 'server' as const, i })) },
        { weight: 3, arbitrary: fc.constant({ kind: 'vip' as const }) },
        { weight: 2, arbitrary: fc.constantFrom('A' as const, 'B' as const).map((side) => ({ kind: 'router' as const, side })) },
        { weight: 1, arbitrary: client.map((i) => ({ kind: 'client' as const, i })) },
      );
      const claim: fc.Arbitrary<Claim> = fc
        .record({
          kind: fc.constant('reach' as const),
          from: client,
          target,
          proto: fc.constantFrom<Proto>('icmp', 'tcp', 'tcp', 'udp'),
          port,
          not: fc.boolean(),
          seenAs: fc.option(fc.constantFrom({ kind: 'client' as const }, { kind: 'router' as const }), { nil: undefined }),
        })
        .filter((c) => !(c.target.kind === 'client' && c.target.i === c.from))
        .map((c) => {
          const out: ReachClaim = { ...c };
          if (out.not || out.seenAs === undefined) delete out.seenAs;
          return out;
        });
      const mark = fc.constantFrom(1, 2);
      const table = fc.constantFrom(100, 200);
      const policy: fc.Arbitrary<Policy> = fc.record(
        { client, mark, table, via: fc.constantFrom<'router' | 'alt'>('router', 'alt'), byFrom: fc.boolean(), not: fc.boolean(), markPort: port },
        { requiredKeys: ['client', 'mark', 'table', 'via', 'byFrom', 'not'] },
      );
      const service: fc.Arbitrary<Service> = fc
        .record({
          where: fc.oneof(server.map((i) => ({ server: i })), fc.constant<'router'>('router')),
          kind: fc.constantFrom<Service['kind']>('echo', 'silent', 'proxy'),
          proto: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
          port: fc.constantFrom(...SERVICE_PORTS),
          upstream: fc.record({ server, port: fc.constantFrom(...SERVICE_PORTS, DEAD_PORT) }),
        })
        .map((v) => {
          const out: Service = { ...v };
          if (out.kind === 'proxy') {
            out.proto = 'tcp';
            // a proxy to itself would connect to itself forever
            if (out.where !== 'router' && out.where.server === out.upstream!.server && out.port === out.upstream!.port) out.upstream = { ...out.upstream!, port: DEAD_PORT };
          } else delete out.upstream;
          return out;
        });
      const routeClaim: fc.Arbitrary<RouteClaim> = fc.record(
        {
          kind: fc.constant('route' as const),
          client,
          dest: fc.oneof(fc.constant({ kind: 'vip' as const }), server.map((i) => ({ kind: 'server' as const, i }))),
          gw: fc.constantFrom<'router' | 'alt'>('router', 'alt'),
          mark,
          not: fc.boolean(),
        },
        { requiredKeys: ['kind', 'client', 'dest', 'gw', 'not'] },
      );
      const ruleClaim: fc.Arbitrary<RuleClaim> = fc.record({ kind: fc.constant('rule' as const), client, byFrom: fc.boolean(), mark, table, not: fc.boolean() });
      const guard: fc.Arbitrary<Guard> = fc
        .record(
          {
            where: fc.oneof(server.map((i) => ({ server: i })), fc.constant<'router'>('router')),
            backend: fc.constantFrom<Backend>('iptables', 'nft'),
            proto: fc.constantFrom<'tcp' | 'udp'>('tcp', 'tcp', 'udp'),
            ports: fc.uniqueArray(fc.constantFrom(...PORTS, ...SERVICE_PORTS), { maxLength: 2 }),
            range: fc.constantFrom(...RANGE_STARTS).chain((lo) => fc.integer({ min: lo, max: lo + 10 }).map((hi): [number, number] => [lo, hi])),
            reject: fc.boolean(),
          },
          { requiredKeys: ['where', 'backend', 'proto', 'ports'] },
        )
        .map((g) => {
          const out: Guard = { ...g };
          if (!out.reject) delete out.reject;
          return out;
        });
      const serviceClaim = (n: number): fc.Arbitrary<ServiceClaim> =>
        fc.record({ kind: fc.constant('service' as const), from: client, service: fc.integer({ min: 0, max: Math.max(0, n - 1) }), not: fc.boolean() });
      return fc.record(
        {
          clients: fc.constant(clients),
          servers: fc.constant(servers),
          forwarding: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
          serverRoutes: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), {
            minLength: servers,
            maxLength: servers,
          }),
          masquerade: fc.option(fc.constantFrom<Backend>('iptables', 'nft'), { nil: undefined, freq: 2 }),
          drops: fc.array(drop, { maxLength: 2 }),
          dnats: fc.array(dnat, { maxLength: 2 }),
          duplicateOf: fc.option(server, { nil: undefined, freq: 4 }),
          noise: fc.option(server, { nil: undefined, freq: 4 }),
          policies: fc.uniqueArray(policy, { maxLength: 2, selector: (p) => `${p.client}` }),
          services: fc.uniqueArray(service, { maxLength: 2, selector: (v) => `${JSON.stringify(v.where)}/${v.proto}/${v.port}` }),
          // most labs have one: an exposure claim's target is a guarded namespace more often than not (and a sweep of a
          // target open on every port reads 65,535 observations: seconds)
          guards: fc.oneof(
            { weight: 1, arbitrary: fc.constant<Guard[]>([]) },
            { weight: 3, arbitrary: fc.uniqueArray(guard, { minLength: 1, maxLength: 2, selector: (g) => JSON.stringify(g.where) }) },
          ),
        },
        { requiredKeys: ['clients', 'servers', 'forwarding', 'serverRoutes', 'masquerade', 'drops', 'dnats', 'duplicateOf', 'noise', 'policies', 'services', 'guards'] },
      ).chain((lab) => {
        const mesh: fc.Arbitrary<MeshClaim> = fc.record({ kind: fc.constant('mesh' as const), flip: fc.nat(20) }, { requiredKeys: ['kind'] });
        const kinds: fc.Arbitrary<Claim>[] = [claim, claim, claim, routeClaim, ruleClaim, mesh];
        if (lab.services.length) kinds.push(serviceClaim(lab.services.length), serviceClaim(lab.services.length));
        // a claim aimed at a DNAT's own address, protocol and port (a random claim rarely hits one)
        if (lab.dnats.length) {
          const dnatClaim = fc
            .record({ d: fc.integer({ min: 0, max: lab.dnats.length - 1 }), from: client, not: fc.boolean(), seenAs: fc.option(fc.constantFrom({ kind: 'client' as const }, { kind: 'router' as const }), { nil: undefined, freq: 3 }) })
            .map(({ d, from, not, seenAs }): Claim => {
              const x = lab.dnats[d]!;
              const c: ReachClaim = { kind: 'reach', from, target: x.to === 'vip' ? { kind: 'vip' } : { kind: 'router', side: 'A' }, proto: x.proto, port: x.port, not };
              if (!not && seenAs) c.seenAs = seenAs;
              return c;
            });
          kinds.push(dnatClaim, dnatClaim, dnatClaim);
        }
        // exposure claims at half the weight of the others: a sweep of every port costs seconds (README, The oracle)
        const weighted = [...kinds.map((arbitrary) => ({ arbitrary, weight: 2 })), { arbitrary: exposureClaim(lab, client), weight: 1 }];
        return fc.array(fc.oneof(...weighted), { minLength: 1, maxLength: 2 }).map((claims) => ({ ...lab, claims: claims.map((c) => fixClaim(c, lab.services)) }));
      });
    });
}

/** Where guard ranges start: below, inside and across ports the lab uses (8079-8089 holds 8080). */
export const RANGE_STARTS = [1000, 8079, 440] as const;
/** How many random ports an exposure claim's oracle samples, besides the ports that matter in the lab. */
export const RANDOM_SAMPLE = 20;

const guardOf = (lab: Pick<LabModel, 'guards'>, where: Guard['where']): Guard | undefined => (lab.guards ?? []).find((g) => JSON.stringify(g.where) === JSON.stringify(where));

/**
 * An exposure claim aimed at the lab: a guarded namespace or a DNAT's address as the target more often than not, and
 * an allow list that is what the lab's rules seem to open there (a guard's ports and range, the DNATs to that address),
 * often changed by one port (one dropped, a wrong one added), or a subset of the ports that matter; sometimes
 * `.not.toReachAny`. The generator only aims: whether the claim holds is the oracle's to observe.
 */
function exposureClaim(lab: Omit<LabModel, 'claims'>, client: fc.Arbitrary<number>): fc.Arbitrary<Claim> {
  type Target = ExposureClaim['target'];
  const targets: Target[] = [];
  // weights by repetition: a guarded namespace 6; the VIP 2 (nothing exposed there but what a DNAT publishes); a DNAT's
  // address 2 more; the router 1 and one unguarded server 1 (a target open on every port: the slow path of a sweep,
  // tens of seconds with four labs at once, so a fifth of the claims or so)
  const rep = (n: number, t: Target) => Array.from({ length: n }, () => t);
  for (const g of lab.guards ?? []) targets.push(...rep(6, g.where === 'router' ? { kind: 'router', side: 'A' } : { kind: 'server', i: g.where.server }));
  targets.push(...rep(2, { kind: 'vip' }));
  for (const d of lab.dnats) targets.push(...rep(2, d.to === 'vip' ? { kind: 'vip' } : { kind: 'router', side: 'A' }));
  targets.push({ kind: 'router', side: 'A' });
  const open = Array.from({ length: lab.servers }, (_, i) => i).filter((i) => !guardOf(lab, { server: i }));
  if (open.length) targets.push({ kind: 'server', i: open[0]! });
  const matter = [...new Set([...PORTS, ...SERVICE_PORTS, ...lab.dnats.flatMap((d) => [d.port, d.toPort]), ...lab.drops.flatMap((d) => d.ports ?? []), ...(lab.guards ?? []).flatMap((g) => g.ports)])];
  const sample = fc.uniqueArray(
    fc.integer({ min: 1, max: 65535 }).filter((p) => p < SERVICE_PORTS[0] || p > DEAD_PORT),
    { minLength: RANDOM_SAMPLE, maxLength: RANDOM_SAMPLE },
  );
  return fc
    .record({
      from: client,
      target: fc.constantFrom(...targets),
      proto: fc.constantFrom<'tcp' | 'udp'>('tcp', 'tcp', 'udp'),
      mode: fc.constantFrom('aimed', 'aimed', 'aimed', 'drop-one', 'add-one', 'subset', 'none'),
      listening: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 5, arbitrary: fc.constant(false) }),
      wrong: fc.constantFrom(...matter, 22, 8443),
      subset: fc.subarray(matter, { maxLength: 3 }),
      k: fc.nat(),
      sample,
    })
    .map(({ from, target, proto, mode, listening, wrong, subset, k, sample }): Claim => {
      if (mode === 'none') return { kind: 'exposure', from, target, proto, sample };
      const where: Guard['where'] = target.kind === 'server' ? { server: target.i } : 'router';
      const g = target.kind === 'vip' ? undefined : guardOf(lab, where);
      const to = target.kind === 'vip' ? 'vip' : target.kind === 'router' ? 'router' : undefined;
      let allow: (number | [number, number])[] = [];
      if (g && g.proto === proto) {
        allow.push(...g.ports);
        if (g.range) allow.push(g.range[0] === g.range[1] ? g.range[0] : g.range);
      }
      for (const d of lab.dnats) if (d.to === to && d.proto === proto && d.where === 'router') allow.push(d.port);
      if (mode === 'subset') allow = [...subset];
      if (mode === 'drop-one' && allow.length) allow.splice(k % allow.length, 1);
      if (mode === 'add-one') allow.push(wrong);
      const c: ExposureClaim = { kind: 'exposure', from, target, proto, allow: [...new Map(allow.map((a) => [JSON.stringify(a), a])).values()], sample };
      if (listening) c.listening = true;
      return c;
    });
}

/** A silent UDP server never answers: only `.not` is asked of it (a positive claim has no answer to wait for). */
function fixClaim(c: Claim, services: readonly Service[]): Claim {
  if (c.kind === 'service') {
    const v = services[c.service]!;
    if (v.kind === 'silent' && v.proto === 'udp') return { ...c, not: true };
  }
  return c;
}

/** Where a claim's target is (an address), and the source it may have to be seen as. */
export function targetAddress(c: Pick<ReachClaim, 'target'> | Pick<ExposureClaim, 'target'>): string {
  switch (c.target.kind) {
    case 'server':
      return serverAddr(c.target.i);
    case 'vip':
      return VIP;
    case 'router':
      return c.target.side === 'A' ? R_A : R_B;
    case 'client':
      return clientAddr(c.target.i);
  }
}

export function seenAsAddress(c: Claim): string | undefined {
  if (c.kind !== 'reach' || !c.seenAs) return undefined;
  return c.seenAs.kind === 'client' ? clientAddr(c.from) : R_B;
}

export const serviceAddress = (v: Service): string => (v.where === 'router' ? R_A : serverAddr(v.where.server));
export const gwAddress = (g: 'router' | 'alt'): string => (g === 'router' ? R_A : ALT_GW);
export const routeDest = (c: RouteClaim): string => (c.dest.kind === 'vip' ? VIP : serverAddr(c.dest.i));

export function describeClaim(c: Claim, m: LabModel): string {
  const not = 'not' in c && c.not ? '.not' : '';
  switch (c.kind) {
    case 'mesh':
      return `expect(lab).toHaveReachability(the oracle's ICMP matrix of every client to every server address and ${R_A}${c.flip !== undefined ? `, pair ${c.flip} flipped` : ''})`;
    case 'reach': {
      const t = targetAddress(c);
      const target = c.proto === 'icmp' ? `'${t}'` : `{ address: '${t}', port: ${c.port} }`;
      const opts = [c.proto === 'udp' ? `protocol: 'udp'` : '', c.seenAs ? `seenAs: '${seenAsAddress(c)}'` : ''].filter(Boolean).join(', ');
      return `expect(c${c.from + 1})${not}.toReach(${target}${opts ? `, { ${opts} }` : ''})`;
    }
    case 'service': {
      const v = m.services[c.service]!;
      return `expect(c${c.from + 1})${not}.toReach({ address: '${serviceAddress(v)}', port: ${v.port} }, { ${v.proto === 'udp' ? `protocol: 'udp', ` : ''}responder: false }) — a ${v.kind} ${v.proto} server${v.upstream ? ` to ${serverAddr(v.upstream.server)}:${v.upstream.port}` : ''}`;
    }
    case 'route':
      return `expect(c${c.client + 1})${not}.toRouteVia('${routeDest(c)}', '${gwAddress(c.gw)}'${c.mark !== undefined ? `, { mark: ${c.mark} }` : ''})`;
    case 'exposure': {
      const t = targetAddress(c);
      if (!c.allow) return `expect(c${c.from + 1}).not.toReachAny('${t}'${c.proto === 'udp' ? `, { protocol: 'udp' }` : ''})`;
      const allow = c.allow.map((a) => (typeof a === 'number' ? String(a) : `{ port: '${a[0]}-${a[1]}' }`)).join(', ');
      const opts = [c.proto === 'udp' ? `protocol: 'udp'` : '', c.listening ? 'listening: true' : ''].filter(Boolean).join(', ');
      return `expect(c${c.from + 1}).toReachOnly('${t}', [${allow}]${opts ? `, { ${opts} }` : ''})`;
    }
    case 'rule':
      return `expect(c${c.client + 1})${not}.toHaveRule({ ${c.byFrom ? `from: '${clientAddr(c.client)}'` : `fwmark: ${c.mark}`}, table: ${c.table} })`;
  }
}

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

export type Claim = ReachClaim;

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
          claims: fc.array(claim, { minLength: 1, maxLength: 2 }),
        },
        { requiredKeys: ['clients', 'servers', 'forwarding', 'serverRoutes', 'masquerade', 'drops', 'dnats', 'duplicateOf', 'claims'] },
      );
    });
}

/** Where a claim's target is (an address), and the source it may have to be seen as. */
export function targetAddress(c: ReachClaim): string {
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

export function seenAsAddress(c: ReachClaim): string | undefined {
  if (!c.seenAs) return undefined;
  return c.seenAs.kind === 'client' ? clientAddr(c.from) : R_B;
}

export function describeClaim(c: Claim): string {
  const t = targetAddress(c);
  const target = c.proto === 'icmp' ? `'${t}'` : `{ address: '${t}', port: ${c.port}${c.proto === 'udp' ? '' : ''} }`;
  const opts = [c.proto === 'udp' ? `protocol: 'udp'` : '', c.seenAs ? `seenAs: '${seenAsAddress(c)}'` : ''].filter(Boolean).join(', ');
  return `expect(c${c.from + 1})${c.not ? '.not' : ''}.toReach(${target}${opts ? `, { ${opts} }` : ''})`;
}

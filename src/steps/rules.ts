/** Packet filter and NAT steps (`iptables …`), built from netspec's own words around checked input. */
import { InvalidInputError } from '../errors.js';
import { parsePrefix } from '../address.js';
import { checkIfname } from '../names.js';
import type { StepIn } from './step.js';

export type Chain = 'INPUT' | 'FORWARD' | 'OUTPUT';

/** `iptables --policy CHAIN TARGET` (filter table; ip6tables with `ipv6`). */
export function policyStep(chain: Chain, target: 'ACCEPT' | 'DROP', ipv6 = false): StepIn {
  if (!['INPUT', 'FORWARD', 'OUTPUT'].includes(chain)) throw new InvalidInputError('chain', chain, 'expected "INPUT", "FORWARD" or "OUTPUT"');
  if (!['ACCEPT', 'DROP'].includes(target)) throw new InvalidInputError('policy', target, 'expected "ACCEPT" or "DROP"');
  return { kind: ipv6 ? 'ip6tables' : 'iptables', words: ['-P', chain, target], intent: `set the ${chain} policy to ${target}` };
}

/** `iptables -t nat -A POSTROUTING -s SOURCE [-o OUT] -j MASQUERADE` (IPv4). */
export function masqueradeStep(source: string, out?: string): StepIn {
  const prefix = parsePrefix(source, 'source prefix');
  if (prefix.family !== 4) throw new InvalidInputError('source prefix', source, 'MASQUERADE here is IPv4 only; give an IPv4 prefix such as "192.168.15.0/24"');
  const words = ['-t', 'nat', '-A', 'POSTROUTING', '-s', prefix.text];
  if (out !== undefined) words.push('-o', checkIfname(out, 'out interface'));
  words.push('-j', 'MASQUERADE');
  return { kind: 'iptables', words, intent: `masquerade ${prefix.text}` };
}

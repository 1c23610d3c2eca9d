/** The namespace builder: `lab.netns(name)`. */
import { readFileSync } from 'node:fs';
import { NotFoundError } from '../errors.js';
import { checkNetnsName } from '../names.js';
import { Netns } from '../netns.js';
import { linkUpStep } from '../steps/link.js';
import { netnsAddStep, netnsDelArgv } from '../steps/netns.js';
import { at } from '../steps/step.js';
import { sysctlStep } from '../steps/sysctl.js';
import type { BuildContext } from './context.js';
import { transact } from './transaction.js';

let forwards: boolean | undefined;
/** Does the machine forward IPv4 (new namespaces inherit it)? Read once. */
function machineForwards(): boolean {
  if (forwards === undefined) {
    try {
      forwards = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
    } catch {
      forwards = false;
    }
  }
  return forwards;
}

/** Create a network namespace in the lab (`ip netns add NAME`, then `lo` up, forwarding off). */
export async function createNetns(ctx: BuildContext, name: string): Promise<Netns> {
  ctx.assertAlive();
  checkNetnsName(name);
  const ns = new Netns(ctx.world, name);
  await transact(ctx, {
    claims: [() => ctx.inventory.claimNamespace(ns, ctx.hasNetns(name))],
    steps: [
      at('host', netnsAddStep(name)),
      at(name, linkUpStep('lo', `set lo up in ${name}`)),
      // a new namespace copies net.ipv4.ip_forward from the machine's (Docker sets it to 1): start from the kernel's 0
      ...(machineForwards() ? [at(name, sysctlStep('net.ipv4.ip_forward', 0, `start ${name} with forwarding off`))] : []),
    ],
    undo: [{ step: 0, target: 'host', argv: netnsDelArgv(name), intent: `undo namespace ${name}` }],
  });
  ns.identity = ctx.identityOf(name);
  return ns;
}

/** A handle to a namespace that already exists in the lab (made by lab.netns, or by a script with `ip netns add`). */
export function getNetns(ctx: BuildContext, name: string): Netns {
  ctx.assertAlive();
  if (name === 'host') return ctx.host;
  checkNetnsName(name);
  const known = ctx.inventory.namespace(name);
  const now = ctx.identityOf(name);
  // a known handle, unless its namespace was deleted and made again since (then a fresh handle for the new one)
  if (known && (known.identity === undefined || now === undefined || known.identity === now)) return known;
  if (!ctx.hasNetns(name)) {
    throw new NotFoundError('network namespace', name, `create it first (lab.netns or \`ip netns add\`); namespaces now: ${ctx.listNetns().join(', ') || 'none'}`);
  }
  const ns = new Netns(ctx.world, name);
  ns.identity = now;
  ctx.inventory.remember(ns);
  return ns;
}

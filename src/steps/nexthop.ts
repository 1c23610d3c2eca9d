/** Nexthop object steps (`ip nexthop …`): a gateway, a blackhole or a weighted group that routes share by id (`nhid`). */
import { InvalidInputError } from '../errors.js';
import { parseAddress } from '../address.js';
import { checkIfname } from '../names.js';
import { wholeNumber } from './route.js';
import { type StepIn, checkStepOptions } from './step.js';

export interface NexthopOptions {
  /** The object's id (1 … 2³²−1): routes name it with `nhid`, groups with `group: [{ id }]`. */
  id: number;
  via?: string;
  dev?: string;
  onlink?: boolean;
  /** A nexthop that drops what is sent to it (no via, dev nor group). */
  blackhole?: boolean;
  /** A multipath group of other nexthop objects, each with a weight (1 … 256, default 1). */
  group?: { id: number; weight?: number }[];
}

/** `ip nexthop add id N (via GW [dev DEV] [onlink] | dev DEV | blackhole | group A[,W]/B[,W])`, every input checked. */
export function nexthopStep(options: NexthopOptions): StepIn {
  checkStepOptions(options, 'nexthop', ['id', 'via', 'dev', 'onlink', 'blackhole', 'group'], 'a nexthop', 'expected an object such as { id: 1, via: "10.1.0.1", dev: "eth0" }');
  const id = wholeNumber(options.id, 'nexthop id', 1, 0xffffffff);
  const words = ['nexthop', 'add', 'id', String(id)];
  const kinds = [options.via !== undefined || options.dev !== undefined, options.blackhole === true, options.group !== undefined].filter(Boolean).length;
  if (kinds !== 1) throw new InvalidInputError('nexthop options', options, 'give exactly one of: a gateway and/or device (`via`, `dev`), `blackhole: true`, or a `group` of other nexthop ids');
  if (options.blackhole !== undefined && typeof options.blackhole !== 'boolean') throw new InvalidInputError('nexthop blackhole', options.blackhole, 'expected true or false');
  if (options.blackhole) words.push('blackhole');
  else if (options.group !== undefined) {
    if (!Array.isArray(options.group) || options.group.length === 0) throw new InvalidInputError('nexthop group', options.group, 'expected a non-empty array such as [{ id: 1, weight: 3 }, { id: 2 }]');
    if (options.onlink) throw new InvalidInputError('nexthop options', options, 'a group takes `onlink` from its members: drop it');
    const members = options.group.map((m: unknown, i) => {
      if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new InvalidInputError(`nexthop group[${i}]`, m, 'expected { id, weight? }');
      const { id: memberId, weight, ...rest } = m as { id?: unknown; weight?: unknown };
      if (Object.keys(rest).length) throw new InvalidInputError(`nexthop group[${i}] option`, Object.keys(rest)[0], 'unknown option; a member takes id, weight');
      const mid = wholeNumber(memberId, `nexthop group[${i}].id`, 1, 0xffffffff);
      return weight === undefined ? String(mid) : `${mid},${wholeNumber(weight, `nexthop group[${i}].weight`, 1, 256)}`;
    });
    words.push('group', members.join('/'));
  } else {
    if (options.via !== undefined) words.push('via', parseAddress(options.via, 'nexthop gateway (via)').address);
    if (options.dev !== undefined) words.push('dev', checkIfname(options.dev, 'nexthop device'));
    if (options.onlink !== undefined && typeof options.onlink !== 'boolean') throw new InvalidInputError('nexthop onlink', options.onlink, 'expected true or false');
    if (options.onlink) words.push('onlink');
  }
  const what = options.blackhole ? 'blackhole' : options.group ? `group of ${options.group.length}` : [options.via && `via ${options.via}`, options.dev && `dev ${options.dev}`].filter(Boolean).join(' ');
  return { kind: 'ip', words, intent: `add nexthop ${id} (${what})` };
}

/** `ip nexthop del id N` */
export function nexthopDelStep(id: number): StepIn {
  return { kind: 'ip', words: ['nexthop', 'del', 'id', String(wholeNumber(id, 'nexthop id', 1, 0xffffffff))], intent: `delete nexthop ${id}` };
}

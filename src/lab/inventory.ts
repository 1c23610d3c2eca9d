/**
 * The names a lab has handed out, per namespace: interface names in each namespace (the host included) and namespace
 * names with their handles. Builders claim names here before anything runs, so a duplicate is a precise
 * DuplicateNameError naming the input, not a kernel error halfway through a batch; a failed build gives them back.
 */
import { DuplicateNameError } from '../errors.js';
import { IFNAME_MAX } from '../names.js';
import type { Netns } from '../netns.js';

/** Something a build took (a name, a port): given back when the build fails. */
export interface Claim {
  release(): void;
}

/** What planning a build needs of a lab's host names (also given to buildTopology). */
export interface HostNames {
  /** The lab's id, for generated names. */
  readonly id: number;
  /** Interface names the lab made (or is making) in its host. */
  readonly hostLinks: ReadonlySet<string>;
  /** The first of `candidates` not taken in the host (at most 15 bytes), else a generated one. */
  freeHostName(candidates: readonly string[]): string;
}

export class Inventory implements HostNames {
  /** Interface names per namespace ("host" for the lab host). */
  readonly #links = new Map<string, Set<string>>([['host', new Set()]]);
  /** Namespace handles by name: made through the lab, or looked up with lab.get(). */
  readonly #namespaces = new Map<string, Netns>();

  constructor(
    readonly id: number,
    /** The lab, as messages name it ("lab 3"). */
    private readonly label: string,
  ) {}

  get hostLinks(): ReadonlySet<string> {
    return this.#links.get('host')!;
  }

  /** Claim an interface name in `ns`; a DuplicateNameError naming `input` if this lab made one there already. */
  claimLink(ns: Netns, name: string, input = 'interface name'): Claim {
    const set = this.#links.get(ns.name) ?? new Set<string>();
    if (set.has(name)) throw new DuplicateNameError(input, name, `${ns} already has an interface called ${JSON.stringify(name)}; choose another name`);
    set.add(name);
    this.#links.set(ns.name, set);
    return { release: () => void this.#links.get(ns.name)?.delete(name) };
  }

  freeHostName(candidates: readonly string[]): string {
    return this.freeName('host', candidates);
  }

  /** The first of `candidates` not taken in namespace `ns` ("host" for the lab host), else a generated one. */
  freeName(ns: string, candidates: readonly string[]): string {
    const taken = this.#links.get(ns) ?? new Set<string>();
    for (const c of candidates) if (c.length <= IFNAME_MAX && !taken.has(c)) return c;
    for (let i = 0; ; i++) {
      const c = `nsv${this.id % 1000}x${i}`;
      if (!taken.has(c)) return c;
    }
  }

  namespace(name: string): Netns | undefined {
    return this.#namespaces.get(name);
  }

  /** Remember the handle of a namespace that exists already (lab.get). */
  remember(ns: Netns): void {
    this.#namespaces.set(ns.name, ns);
  }

  /**
   * Claim a namespace name for a new namespace (`exists`: the lab has one of that name, made by a script, say); a
   * DuplicateNameError if it is taken.
   */
  claimNamespace(ns: Netns, exists: boolean): Claim {
    const name = ns.name;
    if (this.#namespaces.has(name) || exists) {
      throw new DuplicateNameError('namespace name', name, `${this.label} already has a namespace called ${JSON.stringify(name)}; use lab.get(${JSON.stringify(name)}) for it, or choose another name`);
    }
    this.#namespaces.set(name, ns);
    return { release: () => void (this.#namespaces.get(name) === ns && this.#namespaces.delete(name)) };
  }
}

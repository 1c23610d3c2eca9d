/** createLab's options, checked before anything starts (ARCHITECTURE.md, "A lab"). */
import { readFileSync } from 'node:fs';
import { InvalidInputError, PrerequisiteError } from '../errors.js';
import { checkTimeoutMs, requireTools } from '../exec.js';
import { hasBridgeNetfilter } from './lifeline-argv.js';
import type { LifelineOptions } from './lifeline.js';

export interface LabOptions {
  /**
   * Build the lab inside a user namespace: the default, as root too. As root, the lab's ids are mapped to the machine's
   * 0x77000000… (an unprivileged range: the machine's files and sysfs knobs see an ordinary user, and `uidrange` rules
   * have 65536 ids), and the lab cannot leave its namespaces (no entering the machine's network through /proc/1/ns/net),
   * cannot write sysctls outside `net.*` (`vm.swappiness`, `kernel.*`: /proc/sys is read-only in the lab, its own
   * `net` excepted) and cannot remount /proc or /run. As a non-root user this is the only way, and it needs
   * unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1` on Debian/Ubuntu kernels).
   * `userns: false` (root only) is the same as `privileged: true`.
   */
  userns?: boolean;
  /**
   * A full-privilege lab (root only): no user namespace, so the lab's root is the machine's root. Needed to run a
   * container engine (dockerd) inside a lab. The lab still has its own network, mount, PID, UTS and IPC namespaces,
   * but a script in it can reach the machine (`umount /proc; nsenter --net=/proc/1/ns/net`) and change non-network
   * sysctls: use it only for code you trust to stay inside. Default false.
   */
  privileged?: boolean;
  /** Deadline for one command inside the lab, in ms (default 30 000). */
  commandTimeoutMs?: number;
  /** Deadline for the lab to come up, in ms (default 30 000: a kernel busy freeing many namespaces can be slow). */
  startTimeoutMs?: number;
  /**
   * Make the machine's cgroup hierarchy visible in the lab's /sys, for running a container engine (dockerd) inside it.
   * Requires `privileged: true` (an engine needs the machine's root, and a user-namespace lab cannot have it):
   * `createLab({ privileged: true, cgroups: true })`.
   */
  cgroups?: boolean;
  /**
   * `net.bridge.bridge-nf-call-{iptables,ip6tables,arptables}` in the lab host, set explicitly so that the same spec
   * gives the same verdict on every machine (a new network namespace otherwise gets whatever br_netfilter's state on
   * the machine gives it). true (the default, as on a machine running Docker): bridged traffic goes through iptables,
   * so a FORWARD DROP also stops traffic between two ports of one bridge. false: bridged traffic bypasses iptables.
   * Where the kernel has no br_netfilter, true given explicitly is a PrerequisiteError, and the default is false.
   * The lab host's `net.ipv4.ip_forward` likewise starts at 0, and so do the namespaces made by `lab.netns()`.
   */
  bridgeNetfilter?: boolean;
  /**
   * Size of the lab's own /run (a tmpfs: /run/netns, lock files, what a script writes there), in MiB (default 64).
   * Filling it is a `LabLimitError` for the command that hit it; the machine and other labs go on.
   */
  runSizeMb?: number;
  /**
   * Size of the lab's own /tmp, and separately of its /dev/shm (tmpfs; /var/tmp is its /tmp), in MiB (default 256).
   * A user-namespace lab only: a full-privilege lab keeps the machine's /tmp (a container engine's data root may be there).
   */
  tmpSizeMb?: number;
  /**
   * The most processes the lab may run at once (RLIMIT_NPROC of the lab's root, counted per lab; default 4096). A fork
   * loop ends in a `LabLimitError` for the command that hit it. A user-namespace lab only: the machine's root, which
   * a full-privilege lab's processes are, is exempt from RLIMIT_NPROC.
   */
  maxProcesses?: number;
}

/** The bounds a lab gets unless its options say otherwise (LabOptions). */
export const DEFAULT_BOUNDS = { runSizeMb: 64, tmpSizeMb: 256, maxProcesses: 4096 } as const;

const BOUND_RANGE: Record<keyof typeof DEFAULT_BOUNDS, [min: number, max: number]> = {
  runSizeMb: [1, 1 << 20],
  tmpSizeMb: [1, 1 << 20],
  maxProcesses: [8, 1 << 22],
};

/** This process's hard RLIMIT_NPROC (Infinity when unlimited or unreadable). */
function hardProcessLimit(): number {
  try {
    const hard = /^Max processes\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
  } catch {
    return Infinity;
  }
}

/**
 * Check createLab's options (InvalidInputError naming the option and the fix), and the machine (PrerequisiteError), and
 * resolve them for the lifeline.
 */
export function checkLabOptions(options: LabOptions): LifelineOptions & { commandTimeoutMs: number } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidInputError('lab options', options, 'expected an object such as { userns: true }');
  for (const [key, value] of Object.entries(options)) {
    if (key === 'userns' || key === 'cgroups' || key === 'privileged' || key === 'bridgeNetfilter') {
      if (value !== undefined && typeof value !== 'boolean') throw new InvalidInputError(`lab option ${key}`, value, 'expected true or false');
    } else if (key === 'runSizeMb' || key === 'tmpSizeMb' || key === 'maxProcesses') {
      const [min, max] = BOUND_RANGE[key];
      if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min && (value as number) <= max)) {
        throw new InvalidInputError(`lab option ${key}`, value, `expected a whole number from ${min} to ${max}${key === 'maxProcesses' ? ' (the lab itself needs a few)' : ' (MiB)'}`);
      }
    } else if (key === 'commandTimeoutMs' || key === 'startTimeoutMs') {
      // finite, > 0 and at most 2^31-1 (a longer Node timer silently becomes 1 ms)
      if (value !== undefined) checkTimeoutMs(value, `lab option ${key}`);
    } else {
      throw new InvalidInputError('lab option', key, 'unknown; createLab takes userns, privileged, cgroups, bridgeNetfilter, commandTimeoutMs, startTimeoutMs, runSizeMb, tmpSizeMb, maxProcesses');
    }
  }
  const root = process.getuid?.() === 0;
  if (options.privileged === true && options.userns === true) {
    throw new InvalidInputError('lab options', options, 'privileged: true means no user namespace, so it cannot go with userns: true; choose one');
  }
  const privileged = options.privileged === true || options.userns === false;
  if (privileged && !root) {
    throw new InvalidInputError(`lab option ${options.privileged === true ? 'privileged' : 'userns'}`, options.privileged === true ? true : false, 'a full-privilege lab (no user namespace) needs root; as this user a lab always runs in a user namespace');
  }
  if (options.cgroups === true && !privileged) {
    throw new InvalidInputError('lab option cgroups', true, "the machine's cgroups are given only to a full-privilege lab, for a container engine: createLab({ privileged: true, cgroups: true })");
  }
  if (process.platform !== 'linux') throw new PrerequisiteError('Linux network namespaces', 'netspec needs a Linux kernel; run it on Linux (or in a Linux VM/container)');
  requireTools(privileged ? ['unshare', 'nsenter', 'ip'] : ['unshare', 'nsenter', 'ip', 'prlimit']);
  const userns = !privileged;
  const hasBridgeNf = hasBridgeNetfilter();
  if (options.bridgeNetfilter === true && !hasBridgeNf) {
    throw new PrerequisiteError('br_netfilter (bridged traffic through iptables)', 'this kernel has no br_netfilter loaded: `modprobe br_netfilter` as root, or create the lab with { bridgeNetfilter: false }');
  }
  return {
    userns,
    root,
    cgroups: options.cgroups === true,
    bridgeNetfilter: options.bridgeNetfilter ?? hasBridgeNf,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    commandTimeoutMs: options.commandTimeoutMs ?? 30_000,
    bounds: {
      runSizeMb: options.runSizeMb ?? DEFAULT_BOUNDS.runSizeMb,
      tmpSizeMb: options.tmpSizeMb ?? DEFAULT_BOUNDS.tmpSizeMb,
      // a non-root user cannot raise its hard limit: the bound is at most that
      maxProcesses: Math.min(options.maxProcesses ?? DEFAULT_BOUNDS.maxProcesses, root ? Infinity : hardProcessLimit()),
    },
  };
}

/**
 * What the lab's lifeline runs (ARCHITECTURE.md, "A lab"): the `unshare` argv and the script its PID 1 runs, with no
 * input from the caller.
 */
import { existsSync } from 'node:fs';
import { which } from '../exec.js';

export const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

/** The lab host's explicit defaults (no caller input: `on` is netspec's own 0 or 1). */
const defaults = (on: boolean) =>
  `for f in ${BRIDGE_NF} /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do [ ! -e "$f" ] || echo ${on ? 1 : 0} > "$f" || exit; done && ` +
  'echo 0 > /proc/sys/net/ipv4/ip_forward && ';

// The lifeline's commands run in one shell, started once per lab: with busybox's shell (Debian: busybox-static) the
// mounts, `unshare` and `ip link set lo up` run as its own statically linked applets (about 1 ms each, forked and
// exec'd, instead of about 2 ms for util-linux's and iproute2's), which is most of a lab's start-up; without busybox, `sh` runs the same
// script with the machine's tools. The first `unshare` is always util-linux's (busybox's has no --kill-child). Which
// `unshare` and `ip` the script runs comes in as arguments ($1, $2 below), from this process, never from the caller.

// Runs once, as the lab's PID 1, with no input from the caller: private /run (so /run/netns and iptables' lock
// are the lab's own), a sysfs of the lab's network namespace (for `brctl show`), lo up; then wait for stdin to close
// (the shell's own `read`, so the wait costs no process). Used for full-privilege labs and for labs of a non-root user
// (one `unshare`, user namespace included). $0 is `ip`.
const lifelineScript = (cgroups: boolean, prelude: string) =>
  'mount -t tmpfs -o mode=0755 netspec /run && mkdir /run/netns && ' +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // with { cgroups: true } the machine's cgroup mounts are carried over the new sysfs, for a container engine in the lab
  (cgroups ? '{ ! [ -d /sys/fs/cgroup ] || { mkdir /run/.cgroup && mount --rbind /sys/fs/cgroup /run/.cgroup; }; } && ' : '') +
  'mount -t sysfs sysfs /sys && ' +
  (cgroups ? '{ ! [ -d /run/.cgroup ] || { mount --rbind /run/.cgroup /sys/fs/cgroup && umount -l /run/.cgroup && rmdir /run/.cgroup; }; } && ' : '') +
  `${prelude}"$0" link set lo up && echo ready && ${WAIT}`;

/** PID 1 waits for the test process's end of the pipe to close (any input is read and dropped). */
const WAIT = 'while read -r _; do :; done';

// A root lab in a user namespace, in two stages, so that the lab's root cannot undo its confinement.
// Stage 1 runs as the machine's root, as PID 1 of the lab's new PID namespace, in a mount namespace of the machine's
// user namespace: it reports its pid (as the machine sees it), mounts the lab's /proc and /run, makes /proc/sys (but
// /proc/sys/net) and the other kernel knobs under /proc read-only, then becomes stage 2 (same process) in a new user
// namespace (root mapped to root) with new network, UTS, IPC and mount namespaces. Copying the mounts into a mount
// namespace of a less privileged user namespace locks them (the kernel's MNT_LOCKED): the lab cannot unmount /proc to
// reach the machine's, remount /proc/sys writable, nor mount a proc of its own (its PID namespace belongs to the
// machine's user namespace). The network namespace belongs to the lab's user namespace, so the lab configures it fully.
// Stage 1's $0 is stage 2's script, $1 `unshare`, $2 `ip`, $3 the shell (and $4 `sh` when the shell is busybox).
const lifelineStage2 = (prelude: string) => `mount -t sysfs sysfs /sys && ${prelude}"$0" link set lo up && echo ready && ${WAIT}`;
const lifelineStage1 = (reportPid: boolean) =>
  // the pid as the machine sees it, read before the lab's own /proc hides it (else the test process reads it from
  // /proc/UNSHARE/task/UNSHARE/children: see pidFromChildren)
  (reportPid ? 'read -r pid _ </proc/self/stat && echo "pid $pid" && ' : '') +
  'mount -t proc proc /proc && ' +
  'mount -t tmpfs -o mode=0755 netspec /run && mkdir /run/netns && ' +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // a read-only recursive bind of $1 onto itself: a bind, then a read-only remount of it (util-linux's `-o rbind,ro`
  // does both, busybox's mount would silently leave it writable; two explicit calls are right with either mount)
  'ro() { mount --rbind "$1" "$1" && mount -o remount,bind,ro "$1"; } && ' +
  // /proc/sys read-only but its net (bound first, carried along by rbind); the kernel's other writable knobs too
  'mount --bind /proc/sys/net /proc/sys/net && ro /proc/sys && ' +
  '{ [ ! -e /proc/sysrq-trigger ] || ro /proc/sysrq-trigger; } && ' +
  // /proc/irq (IRQ affinities, the machine's): covered by an empty read-only tmpfs, one mount instead of two
  '{ [ ! -d /proc/irq ] || mount -t tmpfs -o ro,mode=0555 netspec-none /proc/irq; } && ' +
  'exec "$1" --user --map-root-user --net --uts --ipc --mount --propagation private -- "$3" ${4:+"$4"} -c "$0" "$2"';

/**
 * The shell that runs the lifeline and the `unshare` and `ip` it runs: busybox's shell with its own applets (their
 * names: a busybox without them runs the machine's), else `sh` with the machine's tools by absolute path.
 * `NETSPEC_LIFELINE_SHELL=sh` chooses the plain shell (the specs run labs both ways).
 */
export function lifelineTools(): { shell: string[]; unshare: string; ip: string } {
  const busybox = process.env.NETSPEC_LIFELINE_SHELL === 'sh' ? undefined : which('busybox');
  if (busybox) return { shell: [busybox, 'sh'], unshare: 'unshare', ip: 'ip' };
  return { shell: [which('sh') ?? 'sh'], unshare: which('unshare') ?? 'unshare', ip: which('ip') ?? 'ip' };
}

let children: boolean | undefined;
/**
 * Does this kernel list a process's children (`/proc/PID/task/PID/children`, CONFIG_PROC_CHILDREN)? Then a staged lab's
 * PID 1, the only child of its `unshare`, is found there, and the lifeline need not read and print it.
 */
export function pidFromChildren(): boolean {
  children ??= existsSync(`/proc/${process.pid}/task/${process.pid}/children`);
  return children;
}

/** Does this kernel have br_netfilter (bridged traffic through iptables)? */
export function hasBridgeNetfilter(): boolean {
  return existsSync(BRIDGE_NF);
}

/** The lifeline's argv; `staged`: a root lab in a user namespace, whose PID 1 is found as unshare's child, or says its pid first (lifelineStage1). */
export function lifelineArgv(options: { userns: boolean; root: boolean; cgroups: boolean; bridgeNetfilter: boolean }): { argv: string[]; staged: boolean } {
  const { userns, root } = options;
  const prelude = defaults(options.bridgeNetfilter);
  const { shell, unshare, ip } = lifelineTools();
  // as root, a user-namespace lab is built in two stages (lifelineStage1): its confinement is locked by the kernel
  const staged = userns && root;
  const argv = staged
    ? ['unshare', '--kill-child', '--pid', '--mount', '--fork', '--propagation', 'private', '--', ...shell, '-c', lifelineStage1(!pidFromChildren()), lifelineStage2(prelude), unshare, ip, ...shell]
    : [
        'unshare',
        ...(userns ? ['--user', '--map-root-user'] : []),
        '--kill-child',
        '--net',
        '--mount',
        '--pid',
        '--uts',
        '--ipc',
        '--fork',
        '--mount-proc',
        '--propagation',
        'private',
        '--',
        ...shell,
        '-c',
        lifelineScript(options.cgroups, prelude),
        ip,
      ];
  return { argv, staged };
}

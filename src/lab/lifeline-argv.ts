/**
 * What the lab's lifeline runs (ARCHITECTURE.md, "A lab"): the `unshare` argv and the script its PID 1 runs, with no
 * input from the caller.
 */
import { existsSync } from 'node:fs';

export const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

/** The lab host's explicit defaults (no caller input: `on` is netspec's own 0 or 1). */
const defaults = (on: boolean) =>
  `for f in ${BRIDGE_NF} /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do [ ! -e "$f" ] || echo ${on ? 1 : 0} > "$f" || exit; done && ` +
  'echo 0 > /proc/sys/net/ipv4/ip_forward && ';

// Runs once, as the lab's PID 1, with no input from the caller: private /run (so /run/netns and iptables' lock
// are the lab's own), a sysfs of the lab's network namespace (for `brctl show`), lo up; then wait for stdin to close.
// Used for full-privilege labs and for labs of a non-root user (one `unshare`, user namespace included).
const lifelineScript = (cgroups: boolean, prelude: string) =>
  'mount -t tmpfs -o mode=0755 netspec /run && mkdir /run/netns && ' +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // with { cgroups: true } the machine's cgroup mounts are carried over the new sysfs, for a container engine in the lab
  (cgroups ? '{ ! [ -d /sys/fs/cgroup ] || { mkdir /run/.cgroup && mount --rbind /sys/fs/cgroup /run/.cgroup; }; } && ' : '') +
  'mount -t sysfs sysfs /sys && ' +
  (cgroups ? '{ ! [ -d /run/.cgroup ] || { mount --rbind /run/.cgroup /sys/fs/cgroup && umount -l /run/.cgroup && rmdir /run/.cgroup; }; } && ' : '') +
  `${prelude}ip link set dev lo up && echo ready && exec cat >/dev/null`;

// A root lab in a user namespace, in two stages, so that the lab's root cannot undo its confinement.
// Stage 1 runs as the machine's root, as PID 1 of the lab's new PID namespace, in a mount namespace of the machine's
// user namespace: it reports its pid (as the machine sees it), mounts the lab's /proc and /run, makes /proc/sys (but
// /proc/sys/net) and the other kernel knobs under /proc read-only, then becomes stage 2 (same process) in a new user
// namespace (root mapped to root) with new network, UTS, IPC and mount namespaces. Copying the mounts into a mount
// namespace of a less privileged user namespace locks them (the kernel's MNT_LOCKED): the lab cannot unmount /proc to
// reach the machine's, remount /proc/sys writable, nor mount a proc of its own (its PID namespace belongs to the
// machine's user namespace). The network namespace belongs to the lab's user namespace, so the lab configures it fully.
const lifelineStage2 = (prelude: string) => `mount -t sysfs sysfs /sys && ${prelude}ip link set dev lo up && echo ready && exec cat >/dev/null`;
const LIFELINE_STAGE1 =
  'read -r pid _ </proc/self/stat && echo "pid $pid" && ' +
  'mount -t proc proc /proc && ' +
  'mount -t tmpfs -o mode=0755 netspec /run && mkdir /run/netns && ' +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // /proc/sys read-only but its net (bound first, carried along by rbind); the kernel's other writable knobs too
  'mount --bind /proc/sys/net /proc/sys/net && mount -o rbind,ro /proc/sys /proc/sys && ' +
  'for d in sysrq-trigger irq; do [ ! -e /proc/$d ] || mount -o bind,ro /proc/$d /proc/$d || exit; done && ' +
  'exec unshare --user --map-root-user --net --uts --ipc --mount --propagation private -- sh -c "$0"';

/** Does this kernel have br_netfilter (bridged traffic through iptables)? */
export function hasBridgeNetfilter(): boolean {
  return existsSync(BRIDGE_NF);
}

/** The lifeline's argv; `staged`: a root lab in a user namespace, whose PID 1 says its pid first (LIFELINE_STAGE1). */
export function lifelineArgv(options: { userns: boolean; root: boolean; cgroups: boolean; bridgeNetfilter: boolean }): { argv: string[]; staged: boolean } {
  const { userns, root } = options;
  const prelude = defaults(options.bridgeNetfilter);
  // as root, a user-namespace lab is built in two stages (LIFELINE_STAGE1): its confinement is locked by the kernel
  const staged = userns && root;
  const argv = staged
    ? ['unshare', '--kill-child', '--pid', '--mount', '--fork', '--propagation', 'private', '--', 'sh', '-c', LIFELINE_STAGE1, lifelineStage2(prelude)]
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
        'sh',
        '-c',
        lifelineScript(options.cgroups, prelude),
      ];
  return { argv, staged };
}

/**
 * What the lab's lifeline runs (ARCHITECTURE.md, "A lab"): the `unshare` argv and the script its PID 1 runs, with no
 * input from the caller.
 */
import { existsSync, readFileSync } from 'node:fs';
import { which } from '../exec.js';

export const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

/**
 * The machine's ids a root lab's ids are mapped to (ARCHITECTURE.md, "A lab"): the lab's 0…65535 are the machine's
 * LAB_ID_BASE…LAB_ID_BASE+65535, a range no user of the machine owns (above systemd's container ranges, 0x80000…0x6FFFFFFF,
 * below its 'foreign' range, 0x7FFE0000), as a rootless engine's subordinate range. Every lab shares it safely: a lab's
 * processes are in a PID namespace of their own (no other lab's process can be seen, signalled or traced), the kernel
 * counts a lab's processes per user namespace (RLIMIT_NPROC binds each lab alone), and its /run and /tmp are its own.
 */
export const LAB_ID_BASE = 0x77000000;
export const LAB_ID_COUNT = 65536;

let rangeMapped: boolean | undefined;
/**
 * Are LAB_ID_BASE… ids of this process's user namespace (the machine's, or a container's that maps them)? Else a root
 * lab maps its root to this root, as before (this root is then a container's, not the machine's).
 */
export function labIdRangeMapped(): boolean {
  if (rangeMapped !== undefined) return rangeMapped;
  try {
    const covered = (file: string) =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .some((line) => {
          const [inner, , count] = line.trim().split(/\s+/).map(Number) as [number, number, number];
          return inner <= LAB_ID_BASE && LAB_ID_BASE + LAB_ID_COUNT <= inner + count;
        });
    rangeMapped = covered('/proc/self/uid_map') && covered('/proc/self/gid_map');
  } catch {
    rangeMapped = false;
  }
  return rangeMapped;
}

/** The bounds of a lab (LabOptions: runSizeMb, tmpSizeMb, maxProcesses), resolved. */
export interface LabBounds {
  runSizeMb: number;
  tmpSizeMb: number;
  maxProcesses: number;
}

/** RLIMIT_NPROC in the lifeline's shell: busybox's and bash's `ulimit -u`, dash's `ulimit -p`. */
const nproc = (n: number) => `{ ulimit -u ${n} 2>/dev/null || ulimit -p ${n}; } && `;

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
const lifelineScript = (cgroups: boolean, prelude: string, bounds: LabBounds, userns: boolean) =>
  `mount -t tmpfs -o mode=0755,size=${bounds.runSizeMb}m netspec /run && mkdir /run/netns && ` +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // a user-namespace lab's /tmp (and /dev/shm, /var/tmp) are its own, bounded; a full-privilege lab (trusted code, e.g.
  // a container engine whose data root is in the machine's /tmp) keeps the machine's
  (userns ? privateTmp(bounds, true) + nproc(bounds.maxProcesses) : '') +
  // with { cgroups: true } the machine's cgroup mounts are carried over the new sysfs, for a container engine in the lab
  (cgroups ? '{ ! [ -d /sys/fs/cgroup ] || { mkdir /run/.cgroup && mount --rbind /sys/fs/cgroup /run/.cgroup; }; } && ' : '') +
  (userns ? SYSFS_RO : 'mount -t sysfs sysfs /sys && ') +
  (cgroups ? '{ ! [ -d /run/.cgroup ] || { mount --rbind /run/.cgroup /sys/fs/cgroup && umount -l /run/.cgroup && rmdir /run/.cgroup; }; } && ' : '') +
  `${prelude}"$0" link set lo up && echo ready && ${WAIT}`;

/**
 * The lab's own /tmp, /dev/shm and /var/tmp, of a bounded size (so a filler fills the lab's, never the machine's).
 * A root lab's /tmp is an overlay: the machine's /tmp seen through it (files a test wrote there, readable by others, a
 * lab script reads as before), every write kept in the lab's own bounded tmpfs, whose layers stay under
 * /run/.netspec-tmp (0700, the machine's root's: a root lab's root cannot enter it; unmounting it would cost the lab
 * start an RCU grace period). In a non-root user's lab (mounted in its user namespace) the
 * overlay keeps its marks in user.* xattrs (userxattr). A kernel without overlayfs gives an empty private /tmp instead.
 */
const privateTmp = (bounds: LabBounds, userxattr: boolean) =>
  `mkdir -p ${TMP_LAYERS} && mount -t tmpfs -o mode=0700,size=${bounds.tmpSizeMb}m netspec-tmp ${TMP_LAYERS} && mkdir -m 1777 ${TMP_LAYERS}/u && mkdir ${TMP_LAYERS}/w && ` +
  // the working directory, when it is under /tmp (a checkout in /tmp/…), stays the machine's own: what the lab writes
  // there (a script's output, a server's log) is what the test reads; it is bound back over the overlay from a view of
  // the machine's /tmp taken first. $PWD is this shell's own working directory (the test process's), no caller input.
  `mkdir ${TMP_LAYERS}/m && mount --bind /tmp ${TMP_LAYERS}/m && ` +
  `{ mount -t overlay -o ${userxattr ? 'userxattr,' : ''}lowerdir=/tmp,upperdir=${TMP_LAYERS}/u,workdir=${TMP_LAYERS}/w netspec-tmp /tmp 2>/dev/null || mount --bind ${TMP_LAYERS}/u /tmp; } && ` +
  `{ case "$PWD" in /tmp/?*) [ ! -d "$PWD" ] || mount --rbind "${TMP_LAYERS}/m\${PWD#/tmp}" "$PWD";; esac; } && ` +
  `{ [ ! -d /dev/shm ] || [ -L /dev/shm ] || mount -t tmpfs -o mode=1777,size=${bounds.tmpSizeMb}m netspec-shm /dev/shm; } && ` +
  '{ [ ! -d /var/tmp ] || [ -L /var/tmp ] || mount --bind /tmp /var/tmp; } && ';
const TMP_LAYERS = '/run/.netspec-tmp';

// The lab's sysfs (of its network namespace: `brctl show`, bridge and port attributes) read-only, but for the lab's own
// network devices (/sys/devices/virtual/net, where /sys/class/net's links lead), bound writable over it. The machine's
// other knobs (/sys/kernel/mm/ksm/run, /sys/module/*/parameters, /sys/power/state) are refused twice: read-only here,
// and owned by a uid the lab's root is not (its ids are mapped to LAB_ID_BASE…; the lab's own devices belong to it).
const SYSFS_RO =
  'mount -t sysfs sysfs /sys && { [ ! -d /sys/devices/virtual/net ] || mount --bind /sys/devices/virtual/net /sys/devices/virtual/net; } && ' +
  'mount -o remount,bind,ro /sys && ';

/** PID 1 waits for the test process's end of the pipe to close (any input is read and dropped). */
const WAIT = 'while read -r _; do :; done';

// A root lab in a user namespace, in two stages, so that the lab's root cannot undo its confinement.
// Stage 1 runs as the machine's root, as PID 1 of the lab's new PID namespace, in a mount namespace of the machine's
// user namespace: it reports its pid (as the machine sees it), mounts the lab's /proc and /run, makes /proc/sys (but
// /proc/sys/net) and the other kernel knobs under /proc read-only, then becomes stage 2 (same process) in a new user
// namespace (its ids mapped to LAB_ID_BASE…, see lifelineStage2) with new network, UTS, IPC and mount namespaces. Copying the mounts into a mount
// namespace of a less privileged user namespace locks them (the kernel's MNT_LOCKED): the lab cannot unmount /proc to
// reach the machine's, remount /proc/sys writable, nor mount a proc of its own (its PID namespace belongs to the
// machine's user namespace). The network namespace belongs to the lab's user namespace, so the lab configures it fully.
// Stage 1's $0 is stage 2's script, $1 `unshare`, $2 `ip`, $3 the shell (and $4 `sh` when the shell is busybox).
// Stage 2 runs as the lab's root, which is the machine's LAB_ID_BASE (an ordinary uid to the machine's permission checks):
// unshare maps the lab's ids 0…LAB_ID_COUNT-1 to LAB_ID_BASE… (util-linux's --map-users runs `newuidmap PID INNER OUTER
// COUNT`, here two constant scripts of stage 1 that write /proc/PID/{u,g}id_map as the machine's root, as a rootless
// engine's setuid helpers would) and becomes that root (--setuid=0 --setgid=0). setgroups stays allowed (a privileged
// writer's maps), so `nsenter --user` turns a command into the lab's root too (Lifeline's prefix).
const lifelineStage2 = (prelude: string) => `PATH="\${PATH#${IDMAP}:}" && { [ -d /run/netns ] || mkdir /run/netns; } && ${SYSFS_RO}${prelude}"$0" link set lo up && echo ready && ${WAIT}`;
const IDMAP = '/run/.netspec-idmap';
const idmapHelpers =
  `mkdir -m 0700 ${IDMAP} && ` +
  `for m in uid gid; do printf '#!/bin/sh\necho "$2 $3 $4" > /proc/$1/%s_map\n' $m > ${IDMAP}/new\${m}map && chmod 0700 ${IDMAP}/new\${m}map || exit; done && `;
const lifelineStage1 = (reportPid: boolean, bounds: LabBounds, mapped: boolean) =>
  // the pid as the machine sees it, read before the lab's own /proc hides it (else the test process reads it from
  // /proc/UNSHARE/task/UNSHARE/children: see pidFromChildren)
  (reportPid ? 'read -r pid _ </proc/self/stat && echo "pid $pid" && ' : '') +
  'mount -t proc proc /proc && ' +
  // the lab's /run belongs to the lab's root (stage 2 makes /run/netns); its /tmp is its own (privateTmp); both bounded
  `mount -t tmpfs -o mode=0755,size=${bounds.runSizeMb}m${mapped ? `,uid=${LAB_ID_BASE},gid=${LAB_ID_BASE}` : ''} netspec /run && ` +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  privateTmp(bounds, false) +
  // a read-only recursive bind of $1 onto itself: a bind, then a read-only remount of it (util-linux's `-o rbind,ro`
  // does both, busybox's mount would silently leave it writable; two explicit calls are right with either mount)
  'ro() { mount --rbind "$1" "$1" && mount -o remount,bind,ro "$1"; } && ' +
  // /proc/sys read-only but its net (bound first, carried along by rbind); the kernel's other writable knobs too
  'mount --bind /proc/sys/net /proc/sys/net && ro /proc/sys && ' +
  '{ [ ! -e /proc/sysrq-trigger ] || ro /proc/sysrq-trigger; } && ' +
  // /proc/irq (IRQ affinities, the machine's): covered by an empty read-only tmpfs, one mount instead of two
  '{ [ ! -d /proc/irq ] || mount -t tmpfs -o ro,mode=0555 netspec-none /proc/irq; } && ' +
  (mapped ? idmapHelpers : '') +
  // RLIMIT_NPROC, set before the user namespace is made: it binds the lab's root (a uid of the lab's own namespace,
  // counted per namespace), never the machine's root here (exempt), and not the namespace's creator (root: unlimited)
  nproc(bounds.maxProcesses) +
  (mapped
    ? `PATH=${IDMAP}:$PATH exec "$1" --user --map-users=${LAB_ID_BASE},0,${LAB_ID_COUNT} --map-groups=${LAB_ID_BASE},0,${LAB_ID_COUNT} --setuid=0 --setgid=0 `
    : // this root is not the machine's (a container's, whose user namespace has no LAB_ID_BASE…): root mapped to root
      'exec "$1" --user --map-root-user ') +
  '--net --uts --ipc --mount --propagation private -- "$3" ${4:+"$4"} -c "$0" "$2"';

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
export function lifelineArgv(options: { userns: boolean; root: boolean; cgroups: boolean; bridgeNetfilter: boolean; bounds: LabBounds }): { argv: string[]; staged: boolean; mapped: boolean } {
  const { userns, root } = options;
  const prelude = defaults(options.bridgeNetfilter);
  const { shell, unshare, ip } = lifelineTools();
  // as root, a user-namespace lab is built in two stages (lifelineStage1): its confinement is locked by the kernel
  const staged = userns && root;
  const mapped = staged && labIdRangeMapped();
  const argv = staged
    ? // stage 2's unshare is util-linux's, by path (busybox's has no --map-users)
      ['unshare', '--kill-child', '--pid', '--mount', '--fork', '--propagation', 'private', '--', ...shell, '-c', lifelineStage1(!pidFromChildren(), options.bounds, mapped), lifelineStage2(prelude), which('unshare') ?? unshare, ip, ...shell]
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
        lifelineScript(options.cgroups, prelude, options.bounds, userns),
        ip,
      ];
  return { argv, staged, mapped };
}

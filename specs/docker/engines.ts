/**
 * The two engines the Docker behaviour specs run against, side by side: netspec's emulation (fixtures/docker.ts) and
 * a real Docker engine. The real dockerd runs inside a lab of its own (private network, mount and PID namespaces), so
 * its docker0, its iptables rules and its containers never touch the machine, and die with the lab; netspec reaches
 * its containers through attach mode, by sandbox path or by PID.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { existingNamespaces, createLab, serve, type Lab, type Netns } from '../../src/index.js';
import { run, which } from '../../src/exec.js';
import { dockerHost, type DockerHost, type EngineVersion } from '../../fixtures/index.js';
import { tempDir } from '../helpers/temp.js';

export interface EngineContainer {
  name: string;
  ns: Netns;
  address: string;
  /** its IPv6 address on an `--ipv6` network, '' otherwise */
  address6: string;
  /** A server in the container's namespace that answers with the source address it saw. */
  serveEcho(port: number, protocol?: 'tcp' | 'udp'): Promise<unknown>;
}

export interface EngineNetwork {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
}

export interface Engine {
  kind: 'emulation' | 'docker';
  /** The engine version (its layout): 20.10 for the machine's engine, 25 for 26.1.x, 28 for 28.5.x. */
  version: EngineVersion;
  /** the engine's release: a real engine's as `docker version` reports it ('20.10.24', '26.1.5', '28.5.2'); the emulation's layout */
  release: string;
  /** docker-proxy runs (dockerd's --userland-proxy, the default) */
  userlandProxy: boolean;
  lab: Lab;
  /** The outside world (the lab's wan namespace) and its address on the uplink. */
  outside: Netns;
  outsideAddress: string;
  /** The Docker host's address as the outside sees it. */
  hostAddress: string;
  networks: EngineNetwork[];
  createNetwork(name: string, options?: { internal?: boolean; icc?: boolean; subnet?: string; gateway?: string; subnet6?: string }): Promise<EngineNetwork>;
  run(name: string, options?: { network?: string; publish?: string[]; ip?: string }): Promise<EngineContainer>;
  /** `docker network connect [--ip IP] NET C`; the container's address on NET */
  connect(network: string, container: string, options?: { ip?: string }): Promise<string>;
  disconnect(network: string, container: string): Promise<void>;
  /** The address `name` resolves to inside container `from` (Docker's embedded DNS; the emulation's records) */
  resolve(from: string, name: string): Promise<string>;
  userRule(args: string[]): Promise<void>;
  /** The Docker host's raw, filter and nat tables, normalised: no counters, bridges named by subnet. */
  rules(): Promise<string>;
  /** The same of ip6tables */
  rules6(): Promise<string>;
  dispose(): Promise<void>;
}

export const dockerInstalled = Boolean(which('dockerd') && which('docker') && which('busybox'));

/**
 * A real engine to run: the machine's dockerd (Debian bookworm's docker.io, 20.10.24), or one that .ci/fetch-engines.sh
 * unpacked into the cache (trixie's 26.1.5, sid's 28.5.2), started from there; each with the machine's containerd
 * and runc (bookworm's), and the machine's docker client (the API is negotiated down).
 */
export interface RealEngine {
  /** the upstream version ('26.1.5'; '20.10' for the machine's until it runs and says which) */
  release: string;
  /** the emulation layout that release writes */
  layout: EngineVersion;
  /** the unpacked package's root (usr/sbin/dockerd, usr/sbin/docker-proxy); undefined: the machine's dockerd */
  dir?: string;
}

/** Where .ci/fetch-engines.sh unpacks engines. */
export const enginesDir = process.env.NETSPEC_ENGINES_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'netspec', 'engines');

/** The newer engines the specs want, by Debian suite, and the layout each writes (checked against the real engine). */
export const WANTED_ENGINES = [
  // 26.1 writes 25's rules: the classic chains, no default route on internal networks, 02:42 MACs (real-engine rule specs)
  { suite: 'trixie', major: '26', layout: '25' },
  { suite: 'sid', major: '28', layout: '28' },
] as const satisfies readonly { suite: string; major: string; layout: EngineVersion }[];

/** The real engines available here, and for each one wanted but missing, why (the specs report it as skipped). */
export function realEngines(): { available: RealEngine[]; missing: { release: string; reason: string }[] } {
  const available: RealEngine[] = [];
  const missing: { release: string; reason: string }[] = [];
  if (dockerInstalled) {
    available.push({ release: '20.10', layout: '20.10' });
  } else {
    missing.push({ release: '20.10', reason: 'dockerd, docker or busybox is not installed here (apt-get install docker.io busybox-static)' });
  }
  for (const w of WANTED_ENGINES) {
    const known = readSafe(join(enginesDir, `${w.suite}.version`)).trim();
    const dir = known && join(enginesDir, known);
    if (!known.startsWith(`${w.major}.`) || !dir || !existsSync(join(dir, 'usr/sbin/dockerd'))) {
      missing.push({ release: w.major, reason: `${w.suite}'s docker.io is not in ${enginesDir}: run .ci/fetch-engines.sh (it needs the Debian registry)` });
    } else if (!dockerInstalled) {
      missing.push({ release: known, reason: 'the machine\'s containerd, runc, docker client and busybox are needed beside it (apt-get install docker.io busybox-static)' });
    } else {
      available.push({ release: known, layout: w.layout, dir });
    }
  }
  return { available, missing };
}

function readSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function normalise(save: string, networks: EngineNetwork[]): string {
  let out = save
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'));
  const keep: string[] = [];
  let table = '';
  for (const l of out) {
    if (l.startsWith('*')) table = l.slice(1);
    if (table === 'filter' || table === 'nat' || table === 'raw') keep.push(l);
  }
  out = keep;
  let text = out.join('\n');
  for (const n of networks) text = text.replaceAll(n.bridge, n.bridge === 'docker0' ? 'docker0' : `br-<${n.subnet}>`);
  return text;
}

export interface EngineOptions {
  version?: EngineVersion;
  userlandProxy?: boolean;
  firewallBackend?: 'iptables' | 'nftables';
}

export async function emulationEngine(options: EngineOptions = {}): Promise<Engine> {
  const { version = '20.10', userlandProxy = true, firewallBackend = 'iptables' } = options;
  const lab = await createLab();
  const docker: DockerHost = await dockerHost(lab, { version, userlandProxy, firewallBackend });
  const networks = (): EngineNetwork[] => docker.networks.map((n) => ({ name: n.name, bridge: n.bridge, subnet: n.subnet, gateway: n.gateway }));
  return {
    kind: 'emulation',
    version,
    release: version,
    userlandProxy,
    lab,
    outside: docker.wan.ns,
    outsideAddress: docker.wan.address,
    hostAddress: docker.address,
    get networks() {
      return networks();
    },
    async createNetwork(name, options) {
      const n = await docker.createNetwork(name, options);
      return { name: n.name, bridge: n.bridge, subnet: n.subnet, gateway: n.gateway };
    },
    async run(name, options) {
      const c = await docker.run(name, options);
      return { name, ns: c.ns, address: c.address, address6: c.endpoints[0]?.address6 ?? '', serveEcho: (port, protocol) => serve(lab.enter(name), { port, protocol }) };
    },
    connect: async (network, container, opts) => (await docker.connect(network, container, opts)).address,
    disconnect: (network, container) => docker.disconnect(network, container),
    resolve: async (from, name) => docker.resolve(from, name),
    userRule: (args) => docker.userRule(args),
    async rules() {
      return normalise((await lab.run('host', ['iptables-save'], { intent: 'read rules' })).stdout, networks());
    },
    async rules6() {
      return normalise((await lab.run('host', ['ip6tables-save'], { intent: 'read IPv6 rules' })).stdout, networks());
    },
    dispose: () => lab.dispose(),
  };
}

/**
 * The host pid of a process that is `nsPid` in the lab's PID namespace (what dockerd, inside the lab, reports as
 * `.State.Pid`). NSpid lists a process's pid at each level, ours first: the lab's level is the second.
 */
function hostPid(lab: Lab, nsPid: number): number {
  const labPidns = readlinkSafe(`/proc/${lab.pid}/ns/pid_for_children`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ns = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]?.trim().split(/\s+/).map(Number);
      if (!ns || ns.length < 2 || ns[0] !== Number(d) || ns[1] !== nsPid) continue;
      // in the lab's PID namespace, or in one nested inside it (a container's own); a nested one may be another lab's
      // (labs run at once, and their containers' PIDs repeat), so it must descend from this lab's PID 1
      const own = readlinkSafe(`/proc/${d}/ns/pid`);
      if (own === labPidns || (ns.length > 2 && descendsFrom(Number(d), lab.pid))) return Number(d);
    } catch {
      /* gone */
    }
  }
  throw new Error(`no process ${nsPid} in ${lab}`);
}

/** Is `pid` a descendant of `ancestor` (its parent chain, as /proc tells it, reaches it)? */
function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    if (p === ancestor) return true;
    try {
      p = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return false;
    }
  }
  return false;
}

function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

/**
 * The cgroup folders a lab's dockerd makes for its containers, under a parent of its own in every hierarchy of the
 * machine (`--cgroup-parent`): a lab's processes die with it, but the kernel never removes a cgroup folder, so they are
 * removed here once the lab is gone (deepest first; a folder that still holds a task stays, rmdir refuses it). Folders
 * of engines whose test process is gone (SIGKILL) are swept by the next engine.
 */
const CGROUP_ROOT = '/sys/fs/cgroup';
let engines = 0;

function cgroupHierarchies(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  // cgroup v1: one folder per hierarchy (pids, memory, …; unified is v2's); v2 alone: the root itself
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) return [CGROUP_ROOT];
  return readdirSync(CGROUP_ROOT)
    .map((d) => join(CGROUP_ROOT, d))
    .filter((d) => existsSync(join(d, 'cgroup.procs')));
}

function removeCgroupTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) removeCgroupTree(join(dir, e));
  try {
    rmdirSync(dir);
  } catch {
    /* a task still in it, or gone already */
  }
}

export function removeEngineCgroups(parent: string): void {
  for (const h of cgroupHierarchies()) removeCgroupTree(join(h, parent));
}

function sweepStaleEngineCgroups(): void {
  for (const h of cgroupHierarchies()) {
    let names: string[] = [];
    try {
      names = readdirSync(h);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^netspec-docker-(\d+)-\d+$/.exec(name);
      if (m && !existsSync(`/proc/${m[1]}`)) removeCgroupTree(join(h, name));
    }
  }
}

/**
 * The containers' image: busybox and a link per applet (APPLETS), as a tar that `docker import` reads. Made once per
 * spec file (its folder goes with the file), not per engine: a shell loop of ~400 `ln`
 * per engine was half of an engine's start (0.95 of 1.5 s, measured alone).
 *
 * The applets: what the specs run in a container (`sleep`, `nslookup`) and a few to look around with. Not all ~400:
 * with the vfs storage driver dockerd copies the image, link by link, into every container's two layers, and those
 * copies were the largest part of dockerd's CPU time in the suite (perf record over a whole run, 2026-12-07).
 */
const APPLETS = ['sh', 'sleep', 'nslookup', 'cat', 'ls', 'ip', 'ping', 'wget', 'nc'];
let busyboxTar: { path: string; made: Promise<void>; settled: boolean } | undefined;

async function busyboxImage(): Promise<string> {
  if (!busyboxTar || (busyboxTar.settled && !existsSync(busyboxTar.path))) {
    // removed when the spec file ends (a Vitest worker is ended by a signal, so a folder left for its exit stayed in
    // /tmp: two a run); the next file in this worker finds the tar gone and builds it again (~20 ms)
    const folder = tempDir('netspec-busybox-');
    const path = join(folder, 'busybox.tar');
    const made = (async () => {
      const busybox = which('busybox');
      if (!busybox) throw new Error('busybox is not installed (apt-get install busybox-static)');
      const rootfs = join(folder, 'rootfs');
      mkdirSync(join(rootfs, 'bin'), { recursive: true });
      copyFileSync(busybox, join(rootfs, 'bin/busybox'));
      chmodSync(join(rootfs, 'bin/busybox'), 0o755);
      const have = new Set((await run([busybox, '--list'], { intent: 'list busybox applets' })).stdout.split('\n'));
      const lacking = ['sleep', 'nslookup'].filter((a) => !have.has(a));
      if (lacking.length) throw new Error(`${busybox} has no ${lacking.join(' or ')} applet, which the Docker specs run in containers (install busybox-static)`);
      for (const a of APPLETS) if (have.has(a)) symlinkSync('busybox', join(rootfs, 'bin', a));
      await run(['tar', '-C', rootfs, '-cf', path, '.'], { intent: 'pack the busybox image' });
    })();
    const entry: { path: string; made: Promise<void>; settled: boolean } = (busyboxTar = { path, made, settled: false });
    made.then(
      () => (entry.settled = true),
      () => {
        // a failed build is not kept: the next engine builds it again
        entry.settled = true;
        if (busyboxTar === entry) busyboxTar = undefined;
        rmSync(folder, { recursive: true, force: true });
      },
    );
  }
  await busyboxTar.made;
  return busyboxTar.path;
}

export async function dockerEngine(options: { attachBy?: 'path' | 'pid'; userlandProxy?: boolean; engine?: RealEngine } = {}): Promise<Engine> {
  const userlandProxy = options.userlandProxy ?? true;
  const engine = options.engine ?? { release: '20.10', layout: '20.10' };
  // a fetched engine runs from its folder, with its own docker-proxy (the machine's PATH has 20.10's)
  const dockerd = engine.dir ? [join(engine.dir, 'usr/sbin/dockerd'), `--userland-proxy-path=${join(engine.dir, 'usr/sbin/docker-proxy')}`] : ['dockerd'];
  // dockerd needs the machine's root (cgroups, mounts, its own namespaces): a full-privilege lab, the only kind that may run it
  sweepStaleEngineCgroups();
  const cgroupParent = `netspec-docker-${process.pid}-${++engines}`;
  const lab = await createLab({ privileged: true, cgroups: true });
  const wan = await lab.wan();
  const dataRoot = tempDir('netspec-docker-');
  const docker = (args: string[]) => lab.run('host', ['docker', '-H', 'unix:///run/docker.sock', ...args], { intent: `docker ${args[0]}`, timeoutMs: 60_000 });
  const disposeAll = async () => {
    await lab.dispose();
    rmSync(dataRoot, { recursive: true, force: true });
    // the lab's processes are gone with it; their tasks may take a moment to leave the cgroups
    for (let i = 0; i < 20; i++) {
      removeEngineCgroups(cgroupParent);
      if (!cgroupHierarchies().some((h) => existsSync(join(h, cgroupParent)))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  let release = engine.release;
  try {
    // containerd first, as Debian's docker.io runs it (its own service; dockerd --containerd=): a dockerd that starts
    // its own dialled it before it listened and waited a second for its next try (26.1.5: 1.35 s to come up instead of
    // 0.35 s). Its config is the lab's (the machine's /etc/containerd/config.toml names folders of the machine's /var).
    const config = join(dataRoot, 'containerd.toml');
    writeFileSync(
      config,
      [
        'version = 2',
        `root = ${JSON.stringify(join(dataRoot, 'containerd'))}`,
        'state = "/run/containerd"',
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        '  address = "/run/containerd/containerd.sock"',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = ${JSON.stringify(join(dataRoot, 'containerd-opt'))}`,
        '',
      ].join('\n'),
    );
    // (dockerd once containerd's socket is there: waited for in the lab's shell, without a round trip per look)
    await lab.sh`nohup containerd --config ${config} >/run/containerd.log 2>&1 & for i in $(seq 500); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.01; done; nohup ${dockerd} --containerd=/run/containerd/containerd.sock --data-root ${dataRoot} --exec-root /run/docker --pidfile /run/docker.pid -H unix:///run/docker.sock --storage-driver=vfs --cgroup-parent=/${cgroupParent} --userland-proxy=${String(userlandProxy)} >/run/dockerd.log 2>&1 &`;
    for (let i = 0; ; i++) {
      const r = await lab.run('host', ['docker', '-H', 'unix:///run/docker.sock', 'version', '-f', '{{.Server.Version}}'], { intent: 'wait for dockerd', reject: false });
      if (r.exitCode === 0) {
        release = r.stdout.trim().replace(/[+~-].*$/, ''); // 28.5.2+dfsg4 → 28.5.2
        break;
      }
      if (i > 150) throw new Error(`dockerd did not come up: ${(await lab.sh`tail -5 /run/dockerd.log /run/containerd.log`).stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await docker(['import', await busyboxImage(), 'netspec/busybox:local']);
  } catch (error) {
    await disposeAll();
    throw error;
  }
  const networks: EngineNetwork[] = [{ name: 'bridge', bridge: 'docker0', subnet: '172.17.0.0/16', gateway: '172.17.0.1' }];
  const inspect = async (args: string[]) => (await docker(['inspect', ...args])).stdout.trim();
  return {
    kind: 'docker',
    version: engine.layout,
    release,
    userlandProxy,
    lab,
    outside: wan.ns,
    outsideAddress: wan.address,
    hostAddress: wan.hostAddress,
    networks,
    async createNetwork(name, opts = {}) {
      const args = ['network', 'create'];
      if (opts.internal) args.push('--internal');
      if (opts.icc === false) args.push('-o', 'com.docker.network.bridge.enable_icc=false');
      if (opts.subnet) args.push('--subnet', opts.subnet);
      if (opts.gateway) args.push('--gateway', opts.gateway);
      if (opts.subnet6) args.push('--ipv6', '--subnet', opts.subnet6);
      const id = (await docker([...args, name])).stdout.trim();
      // the IPv4 pool (an --ipv6 network lists its IPv6 --subnet first, and its IPv4 one after)
      const pools = (await inspect(['-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}\n{{end}}', name])).split('\n').map((l) => l.trim().split(' '));
      const [subnet, gateway] = (pools.find(([cidr]) => cidr?.includes('.')) ?? pools[0]!) as [string, string];
      const n = { name, bridge: `br-${id.slice(0, 12)}`, subnet, gateway };
      networks.push(n);
      return n;
    },
    async run(name, opts = {}) {
      const args = ['run', '-d', '--name', name, '--network', opts.network ?? 'bridge'];
      for (const p of opts.publish ?? []) args.push('-p', p);
      if (opts.ip) args.push('--ip', opts.ip);
      await docker([...args, 'netspec/busybox:local', 'sleep', '3600']);
      const [pid, sandbox, address, address6 = ''] = (await inspect(['-f', '{{.State.Pid}} {{.NetworkSettings.SandboxKey}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{.GlobalIPv6Address}}{{end}}', name])).split(' ') as [string, string, string, string?];
      const path = `/proc/${lab.pid}/root${sandbox}`;
      const target = options.attachBy === 'pid' ? { pid: hostPid(lab, Number(pid)) } : { path };
      const world = await existingNamespaces({ [name]: target }, { host: { pid: lab.pid }, allowAnyTarget: true, allowResponder: true });
      // servers run in the container's network namespace but in the lab's PID namespace, so they die with it
      const enter = ['nsenter', `--mount=/proc/${lab.pid}/ns/mnt`, `--pid=/proc/${lab.pid}/ns/pid_for_children`, `--net=${path}`, '--'];
      return { name, ns: world.get(name), address, address6, serveEcho: (port, protocol) => serve(enter, { port, protocol }) };
    },
    async connect(network, container, opts = {}) {
      await docker(['network', 'connect', ...(opts.ip ? ['--ip', opts.ip] : []), network, container]);
      return inspect(['-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);
    },
    async disconnect(network, container) {
      await docker(['network', 'disconnect', network, container]);
    },
    async resolve(from, name) {
      // the embedded DNS at 127.0.0.11 answers names of the container's networks itself: no query leaves the lab
      const out = (await docker(['exec', from, 'nslookup', '-type=a', name])).stdout;
      const answer = out.slice(out.indexOf(`Name:`));
      return /Address:\s*(\S+)/.exec(answer)?.[1] ?? '';
    },
    async userRule(args) {
      await lab.host.iptables(['-I', 'DOCKER-USER', ...args]);
    },
    async rules() {
      return normalise((await lab.run('host', ['iptables-save'], { intent: 'read rules' })).stdout, networks);
    },
    async rules6() {
      return normalise((await lab.run('host', ['ip6tables-save'], { intent: 'read IPv6 rules' })).stdout, networks);
    },
    dispose: disposeAll,
  };
}

/**
 * netspec's errors. One base class; a subclass only where a caller branches on it.
 * Every message names the input or the command, and says what to do about it.
 */

export class NetspecError extends Error {
  override name = 'NetspecError';
  constructor(message: string, options?: { cause?: unknown }) {
    // a name, alias or comment read from the kernel may hold ESC and other control bytes: never raw in a message
    super(escapeControlInText(message), options);
  }
}

/** Bad input to a public function: thrown before anything is built, so the lab stays as it was. */
export class InvalidInputError extends NetspecError {
  override name = 'InvalidInputError';
  constructor(
    /** Which parameter, e.g. `interface name`. */
    readonly input: string,
    /** The value that was given. */
    readonly value: unknown,
    /** What is wrong and how to fix it. */
    readonly fix: string,
  ) {
    super(`invalid ${input} ${formatValue(value)}: ${fix}`);
  }
}

/**
 * The input asks for something that is there already: a route to the same destination, an address already on the
 * link (in the lab, or earlier in the same input). Thrown before anything is built where netspec can tell, else
 * translated from the kernel's "File exists".
 */
export class ConflictError extends InvalidInputError {
  override name = 'ConflictError';
}

/** A name that is already taken in the lab, or twice in one input (namespace, bridge, interface): a ConflictError. */
export class DuplicateNameError extends ConflictError {
  override name = 'DuplicateNameError';
}

/** A namespace (or other object) the lab does not have. */
export class NotFoundError extends NetspecError {
  override name = 'NotFoundError';
  constructor(
    readonly kind: string,
    readonly input: string,
    hint: string,
  ) {
    super(`no ${kind} named ${formatValue(input)} in this lab: ${hint}`);
  }
}

/** A system tool or kernel feature is missing; says which Debian package or setting provides it. */
export class PrerequisiteError extends NetspecError {
  override name = 'PrerequisiteError';
  constructor(
    readonly missing: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`${missing} is not available: ${fix}`, options);
  }
}

/** The lab was disposed, or its lifeline process died; its handles can no longer be used. */
export class LabGoneError extends NetspecError {
  override name = 'LabGoneError';
}

/**
 * A command in a lab hit one of the lab's bounds (createLab's `maxProcesses`, `runSizeMb`, `tmpSizeMb`): an error of
 * the test that hit it; the lab is still there (until disposed), and the machine and other labs go on. `bound` names
 * the option that raises it; `cause` is the command's own CommandError.
 */
export class LabLimitError extends NetspecError {
  override name = 'LabLimitError';
  constructor(
    readonly bound: 'maxProcesses' | 'runSizeMb' | 'tmpSizeMb',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * netspec's own probe machinery could not produce a verdict backed by evidence (the source namespace vanished, nsenter
 * failed, a responder did not start, the probe was starved of CPU): an error, never "reached" or "not reached".
 */
export class ProbeError extends NetspecError {
  override name = 'ProbeError';
}

/** An external command failed. Carries what we were doing, the exact argv, where it ran, the exit code and stderr. */
export class CommandError extends NetspecError {
  override name = 'CommandError';
  /** The whole command line as run (execa's escaped form, e.g. with the nsenter that entered the lab in front). */
  readonly commandLine?: string;
  readonly signal?: string;
  readonly timedOut: boolean;
  /** Set when the command was stopped for printing more than this many bytes on one stream. */
  readonly maxBuffer?: number;
  constructor(
    readonly intent: string,
    readonly argv: readonly string[],
    readonly where: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly stdout: string,
    options?: { cause?: unknown; signal?: string; timedOut?: boolean; timeoutMs?: number; maxBuffer?: number; commandLine?: string },
  ) {
    const how = options?.maxBuffer
      ? `printed more than ${formatBytes(options.maxBuffer)} on one stream (netspec's output cap) and was stopped`
      : options?.timedOut
        ? `timed out${options.timeoutMs === undefined ? '' : ` after ${options.timeoutMs} ms`} and was stopped, with everything it started in its process group`
        : options?.signal
          ? `was killed by ${options.signal}`
          : `exited with code ${exitCode}`;
    const err = stderr.trim();
    const shown = formatArgv(argv);
    const line = options?.commandLine && options.commandLine !== shown ? `\n  command line: ${options.commandLine}` : '';
    super(
      `${intent} failed in ${where}: \`${shown}\` ${how}${err ? `\n${indent(err)}` : ''}${line}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.commandLine = options?.commandLine;
    this.signal = options?.signal;
    this.timedOut = options?.timedOut ?? false;
    this.maxBuffer = options?.maxBuffer;
  }
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Quote an argv for display only (never executed through a shell). */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/**
 * What provides each kind of kernel object netspec (or a spec) may ask for, by the word `ip link add … type KIND` or
 * `tc qdisc … KIND` uses: the module, and the kernel option that builds it in. One table, for the typed error below and
 * for `netspec doctor`.
 */
export const KERNEL_MODULES: Readonly<Record<string, { module: string; config: string }>> = {
  veth: { module: 'veth', config: 'CONFIG_VETH' },
  bridge: { module: 'bridge', config: 'CONFIG_BRIDGE' },
  vxlan: { module: 'vxlan', config: 'CONFIG_VXLAN' },
  macvlan: { module: 'macvlan', config: 'CONFIG_MACVLAN' },
  vlan: { module: '8021q', config: 'CONFIG_VLAN_8021Q' },
  dummy: { module: 'dummy', config: 'CONFIG_DUMMY' },
  bond: { module: 'bonding', config: 'CONFIG_BONDING' },
  vrf: { module: 'vrf', config: 'CONFIG_NET_VRF' },
  gretap: { module: 'ip_gre', config: 'CONFIG_NET_IPGRE' },
  wireguard: { module: 'wireguard', config: 'CONFIG_WIREGUARD' },
  tbf: { module: 'sch_tbf', config: 'CONFIG_NET_SCH_TBF' },
  netem: { module: 'sch_netem', config: 'CONFIG_NET_SCH_NETEM' },
  ct: { module: 'nft_ct', config: 'CONFIG_NFT_CT' },
};

/**
 * The kernel refused a kind of object it does not have ("Specified qdisc kind is unknown", "Unknown device type"):
 * a PrerequisiteError that names the module and how to get it. A lab cannot load a module itself (it is root in its
 * own user namespace only), so the fix is the machine's: `modprobe` as root, or a kernel built with the option.
 * `what` says what was asked for (`the netem qdisc`), `kind` is the key of KERNEL_MODULES.
 */
export function missingKernelFeature(kind: string, what: string, kernelSaid: string, where: string, cause?: unknown): PrerequisiteError {
  const provider = KERNEL_MODULES[kind];
  const said = kernelSaid.trim().split('\n')[0];
  return new PrerequisiteError(
    `${what}${provider ? ` (kernel module ${provider.module})` : ''}`,
    `the kernel refused it in ${where}${said ? ` (${said})` : ''}; ${
      provider
        ? `load it as root on the machine (\`modprobe ${provider.module}\`: a lab cannot load modules), or use a kernel built with ${provider.config}`
        : `this kernel does not have ${kind}`
    }; \`netspec doctor\` lists the kernel features labs get`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Control characters (C0, DEL, C1: ESC among them) written `\xHH`, so a link name, alias or rule comment that holds
 * one can never drive a terminal, or corrupt a report or a JUnit file; every other character is kept.
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, hex);
}

/** escapeControl for a whole message or report: its own line breaks and tabs kept, every other control character escaped. */
export function escapeControlInText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, hex);
}

const hex = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Names of namespaces and interfaces: checked before anything runs, so iproute2 never sees a bad one. */
import { InvalidInputError } from './errors.js';

/** Linux's IFNAMSIZ is 16 bytes including the terminating NUL. */
export const IFNAME_MAX = 15;
const NAME_CHARS = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** Namespace names the lab keeps for itself. */
export const RESERVED_NETNS = new Set(['host']);

function checkChars(input: string, value: string): void {
  if (!NAME_CHARS.test(value)) {
    const bad = [...value].find((c) => !/[A-Za-z0-9_.-]/.test(c));
    const why =
      value.startsWith('-') || value.startsWith('.')
        ? 'it must not start with "-" or "."'
        : bad === undefined
          ? 'it has a character that is not allowed'
          : `it contains ${JSON.stringify(bad)}`;
    throw new InvalidInputError(input, value, `${why}; use letters, digits, "_", "." and "-" only (e.g. "veth-red")`);
  }
}

export function checkIfname(value: unknown, input = 'interface name'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(input, value, 'expected a non-empty string such as "veth-red"');
  }
  checkChars(input, value);
  if (Buffer.byteLength(value) > IFNAME_MAX) {
    throw new InvalidInputError(
      input,
      value,
      `it is ${Buffer.byteLength(value)} characters long; Linux allows at most ${IFNAME_MAX} (IFNAMSIZ), e.g. "${value.slice(0, IFNAME_MAX)}"`,
    );
  }
  return value;
}

export function checkNetnsName(value: unknown, input = 'namespace name'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(input, value, 'expected a non-empty string such as "red"');
  }
  checkChars(input, value);
  if (value.length > 64) throw new InvalidInputError(input, value, 'it is longer than 64 characters; use a shorter name');
  if (RESERVED_NETNS.has(value)) {
    throw new InvalidInputError(input, value, '"host" is the lab\'s own namespace (lab.host); choose another name');
  }
  return value;
}

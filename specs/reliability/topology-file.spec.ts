// Topology files (YAML or JSON, like containerlab's): checked whole before anything is built, every error naming the
// file and the line of the wrong value; scripts run after the build; the CLI's shell and graph take a file and --script.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from '../../src/vitest.js';
import { InvalidInputError } from '../../src/index.js';
import { buildTopologyFile, loadTopologyFile, TopologyFileError } from '../../fixtures/index.js';
import { runProcess } from '../helpers/process.js';
import { labDir, tempDir } from '../helpers/temp.js';
import { compiled } from '../helpers/compiled.js';

// some tests start the CLI (node + tsx, a few seconds of CPU each): give them room beside other files on 2 cores
vi.setConfig({ testTimeout: 90_000 });

const TUTORIAL = `# the tutorial's network
namespaces: [red, blue]
bridges:
  v-net-0:
    address: 192.168.15.3/24
    attach: { red: 192.168.15.1/24, blue: 192.168.15.2/24 }
routes:
  red: [{ destination: default, via: 192.168.15.3 }]
  blue: [{ destination: default, via: 192.168.15.3 }]
forwarding: true
masquerade: [192.168.15.0/24]
wan: true
scripts: [firewall.sh]
`;

function files(entries: Record<string, string>): string {
  const dir = labDir('netspec-topology-file-'); // the lab reads its scripts
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  return dir;
}

test('a YAML file builds the tutorial, then its script runs in the lab', async ({ lab }) => {
  const dir = files({ 'lab.yaml': TUTORIAL, 'firewall.sh': 'iptables -A FORWARD -s 192.168.15.2 -j DROP\n' });
  const t = await buildTopologyFile(lab, join(dir, 'lab.yaml'));
  expect(t.file.scripts).toEqual([join(dir, 'firewall.sh')]);
  await expect(t.ns.red).toReach('203.0.113.8', { seenAs: t.wan!.hostAddress });
  await expect(t.ns.blue).not.toReach('203.0.113.8', { because: 'FILTERED' }); // the script's rule
});

test('JSON is a topology file too', async ({ lab }) => {
  const dir = files({ 'lab.json': JSON.stringify({ namespaces: ['a', 'b'], veths: [{ a: { ns: 'a', name: 'e0', address: '10.9.0.1/30' }, b: { ns: 'b', name: 'e0', address: '10.9.0.2/30' } }] }) });
  const t = await buildTopologyFile(lab, join(dir, 'lab.json'));
  await expect(t.ns.a).toReach('10.9.0.2');
  await expect(t.ns.a).not.toReach('10.9.0.5', { because: 'NO_ROUTE' });
});

describe('a wrong file builds nothing, and the error names the file and the line', () => {
  const cases: { name: string; text: string; line: number; match: RegExp }[] = [
    { name: 'YAML syntax', text: 'namespaces: [red, blue\nbridges: {}\n', line: 2, match: /not valid YAML or JSON/ },
    { name: 'an unknown key', text: 'namespaces: [red]\nbirdges: {}\n', line: 2, match: /topology key "birdges": unknown/ },
    { name: 'a bad address', text: 'namespaces: [red]\nbridges:\n  br0:\n    address: 10.0.0.300/24\n', line: 4, match: /10\.0\.0\.300/ },
    { name: 'a namespace listed twice', text: 'namespaces:\n  - red\n  - blue\n  - red\n', line: 4, match: /listed twice/ },
    { name: 'a route via an unknown namespace', text: 'namespaces: [red]\nroutes:\n  green: [{ destination: default, via: 10.0.0.1 }]\n', line: 3, match: /green/ },
    { name: 'a missing script', text: 'namespaces: [red]\nscripts:\n  - nothere.sh\n', line: 3, match: /no such file/ },
    { name: 'a script that is a directory', text: 'namespaces: [red]\nscripts:\n  - .\n', line: 3, match: /topology script "\.": .* is not a regular file \(a directory\?\)/ },
    { name: 'a key twice', text: 'namespaces: [red]\nnamespaces: [blue]\n', line: 2, match: /not valid YAML or JSON/ },
    { name: 'not a mapping', text: '- red\n- blue\n', line: 1, match: /expected a mapping/ },
    // the line of the part that is wrong, not the first line holding the same text
    { name: 'a gateway written earlier where it is right', text: 'namespaces: [a, b]\nbridges:\n  br0:\n    address: 10.0.0.1/24\n    attach: { a: 10.0.0.2/24 }\nroutes:\n  a: [{ destination: 10.1.0.0/16, via: 10.0.0.1 }]\n  b: [{ destination: 10.1.0.0/16, via: 10.0.0.1 }]\n', line: 8, match: /gateway \(via\) of route 1 of b "10.0.0.1"/ },
    { name: 'an MTU written earlier where it is right', text: 'namespaces: [a, b]\nveths:\n  - a: { ns: a, name: e0, mtu: 1000, address: 10.0.0.1/24 }\n    b: { ns: b, name: e0 }\n  - a: { ns: a, name: e1, mtu: 1000, address: fd00::1/64 }\n    b: { ns: b, name: e1 }\n', line: 5, match: /end a of veth 2 mtu 1000/ },
    { name: 'too many namespaces on a bridge, at the bridge', text: `namespaces: [${Array.from({ length: 1024 }, (_, i) => `n${i}`).join(', ')}]\nbridges:\n  br0:\n    attach: { ${Array.from({ length: 1024 }, (_, i) => `n${i}: 10.${i >> 8}.${i & 255}.1/8`).join(', ')} }\n`, line: 3, match: /attach of bridge br0 "1024 namespaces"/ },
    // YAML that reads as other values than written: a name key that is a number or null, a tag dropped or obeyed
    { name: 'a bridge key YAML reads as a number', text: 'namespaces: ["16"]\nbridges:\n  0x10: { attach: { "16": 10.0.0.1/24 } }\n', line: 3, match: /key "0x10": YAML reads it as 16.*quote it/ },
    { name: 'an attachment key YAML reads as null', text: 'namespaces: [red]\nbridges:\n  br0:\n    attach:\n      null: 10.0.0.1/24\n', line: 5, match: /key "null": YAML reads it as null/ },
    { name: 'a key given as a number and as a string', text: 'namespaces: [red]\nbridges:\n  1: { address: 10.0.0.1/24 }\n  "1": { address: 10.0.1.1/24 }\n', line: 4, match: /key "1": it is given twice/ },
    { name: 'a name YAML reads as a number', text: 'namespaces:\n  - red\n  - 0755\n', line: 3, match: /invalid topology namespace 755: .*YAML reads 0755 as 755: quote it \("0755"\)/ },
    { name: 'an unknown tag', text: 'namespaces:\n  - !foo red\n', line: 2, match: /tag "!foo": .*remove the tag/ },
    { name: 'a !!js/function tag', text: 'namespaces: [red]\nwan: !!js/function "function () {}"\n', line: 2, match: /tag "!!js\/function"/ },
    { name: 'a !!binary tag', text: 'namespaces: [red]\nmasquerade: [!!binary MTAuMC4wLjAvOA==]\n', line: 2, match: /tag "!!binary"/ },
  ];
  test.for(cases)('$name', async (c, { lab }) => {
    const dir = files({ 'lab.yaml': c.text });
    const path = join(dir, 'lab.yaml');
    const error = await buildTopologyFile(lab, path).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TopologyFileError);
    expect(error).toBeInstanceOf(InvalidInputError);
    const e = error as TopologyFileError;
    expect(e.message).toMatch(c.match);
    expect(e.message.startsWith(`${path}:${c.line}: `), e.message).toBe(true);
    expect(e.line).toBe(c.line);
    expect(lab.namespaces()).toEqual([]);
  });

  test('aliases that expand without bound (a "billion laughs") are a TopologyFileError, not the yaml library\'s ReferenceError', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdef'.split('').map((l, i) => `${l}: &${l} [${Array(10).fill(`*${'abcdef'[i]}`).join(', ')}]`)];
    const dir = files({ 'lab.yaml': `${levels.join('\n')}\nnamespaces: *f\n` });
    expect(() => loadTopologyFile(join(dir, 'lab.yaml'))).toThrow(TopologyFileError);
    expect(() => loadTopologyFile(join(dir, 'lab.yaml'))).toThrow(/cannot be read: Excessive alias count.*write the values out/);
  });

  test('a file that is not there, or a directory', () => {
    expect(() => loadTopologyFile('/nonexistent/lab.yaml')).toThrow(/cannot read it/);
    expect(() => loadTopologyFile(tempDir('netspec-topology-dir-'))).toThrow(/not a regular file/);
    expect(() => loadTopologyFile('' as string)).toThrow(InvalidInputError);
  });
});

test('the CLI draws a topology file after its own --script', async () => {
  const dir = files({ 'lab.yaml': TUTORIAL, 'firewall.sh': 'true\n', 'extra.sh': 'ip netns add green\n' });
  const svg = join(dir, 'lab.svg');
  const { code, out } = await runProcess([process.execPath, compiled('src/cli.ts'), 'graph', join(dir, 'lab.yaml'), '--script', join(dir, 'extra.sh'), '--out', svg]);
  expect(code, out).toBe(0);
  expect(out).toMatch(/v-net-0<br\/>192\.168\.15\.3\/24/);
  expect(out).toMatch(/green\["green"\]/); // made by --script, after the file's own script
  expect(out).toMatch(/wrote .*lab\.svg/);
  const bad = await runProcess([process.execPath, compiled('src/cli.ts'), 'graph', join(dir, 'lab.yaml'), '--script']);
  expect(bad.code).toBe(2); // a usage error
  expect(bad.out).toMatch(/netspec graph: Option '--script <value>' argument missing\n\nusage: netspec graph/);
});

test('the CLI refuses a misspelt option and a second topology instead of ignoring them; a file named --x goes after --', async () => {
  const dir = files({ 'a.yaml': 'namespaces: [a]\n', 'b.yaml': 'namespaces: [b]\n', '--odd.yaml': 'namespaces: [odd]\n' });
  const cli = (...args: string[]) => runProcess([process.execPath, compiled('src/cli.ts'), 'graph', '--out', join(dir, 'g.svg'), ...args]);
  const misspelt = await cli(join(dir, 'a.yaml'), '--scirpt', join(dir, 'b.yaml'));
  expect(misspelt.code, misspelt.out).toBe(2);
  expect(misspelt.out).toMatch(/netspec graph: Unknown option '--scirpt'\n\nusage: netspec graph \[topology\] \[--script S\] \[--out F\]/);
  const two = await cli(join(dir, 'a.yaml'), join(dir, 'b.yaml'));
  expect(two.code, two.out).toBe(2);
  expect(two.out).toMatch(/give one topology \(a name or a file\), not 2: .*a\.yaml .*b\.yaml/);
  expect(`${misspelt.out}${two.out}`).not.toMatch(/wrote/);
  // in the file's folder (tsx by its path there), so that the name given starts with "--"
  const odd = await runProcess([process.execPath, compiled('src/cli.ts'), 'graph', '--out', 'g.svg', '--', '--odd.yaml'], { cwd: dir });
  expect(odd.code, odd.out).toBe(0);
  expect(odd.out).toMatch(/odd\["odd"\]/);
});

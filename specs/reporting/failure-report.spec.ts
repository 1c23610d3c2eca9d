// Issue 8: when a spec fails — the lab's state, a picture with the failing hop, a way in (NETSPEC_KEEP), the CLI.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { eventually, machineState, pidAlive } from '../helpers/machine.js';
import { childVitest, runProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';
import { compiled } from '../helpers/compiled.js';

// these tests start other processes (child test runs, engines): give them room on a busy 2-core machine
vi.setConfig({ testTimeout: 90_000 });


const run = (argv: string[], env: NodeJS.ProcessEnv = {}, input?: string) => runProcess(argv, { env, input });

const vitestChild = (env: NodeJS.ProcessEnv, ...args: string[]) => childVitest(['fails.child.ts'], { NETSPEC_CHILD_TIMEOUT: '20000', ...env }, args);

describe('a failing spec', () => {
  test('reports the state, the Mermaid text and an SVG, naming the failing hop; JUnit carries the annotations', async () => {
    const out = tempDir('netspec-report-');
    const junit = join(out, 'junit.xml');
    const { code, out: output } = await vitestChild({ NETSPEC_OUTPUT_DIR: out }, '--reporter=default', '--reporter=junit', `--outputFile.junit=${junit}`);
    expect(code).toBe(1);
    expect(output).toMatch(/red cannot reach 203\.0\.113\.8 \(icmp\) \(NO_REPLY\)/);
    expect(output).toMatch(/netspec: the lab of the failed test "red reaches the Internet":\n {2}state: .*red-reaches-the-Internet-\d+-\d+\.txt/);

    const files = readdirSync(out);
    const base = files.find((f) => /^red-reaches-the-Internet-\d+-\d+\.txt$/.test(f))!.replace(/\.txt$/, '');
    const dump = readFileSync(join(out, `${base}.txt`), 'utf8');
    expect(dump).toMatch(/^red → 203\.0\.113\.8: NO_REPLY, stopped at wan\n\nexpect\(red\)\.toReach\("203\.0\.113\.8", \{"timeout":500\}\)\n\nred cannot reach 203\.0\.113\.8 \(icmp\) \(NO_REPLY\)/);
    expect(dump).toMatch(/── lab host ── forwarding ipv4=1/);
    expect(dump).toMatch(/link {2}veth-red-brdg {3}veth {6}UP +master v-net-0/);
    expect(dump).toMatch(/── namespace red ──[^]*route default via 192\.168\.15\.3 dev veth-red/);
    expect(dump).toMatch(/── namespace wan ──[^]*203\.0\.113\.8\/32/);
    expect(dump).toMatch(/neigh 192\.168\.15\.3 dev veth-red lladdr/);

    const mermaid = readFileSync(join(out, `${base}.mmd`), 'utf8');
    expect(mermaid).toMatch(/^graph LR/);
    expect(mermaid).toMatch(/host_v_net_0 ---\|"veth-red-brdg — veth-red 192\.168\.15\.1\/24"\| red/);
    expect(mermaid).toMatch(/wan_stop\[\/"✗ NO_REPLY: red → 203\.0\.113\.8 stops here"\/\]/);
    expect(mermaid).toMatch(/linkStyle \d+ stroke:#c00/);

    const svg = readFileSync(join(out, `${base}.svg`), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('✗ red → 203.0.113.8: NO_REPLY, stopped at wan');
    expect(svg).toMatch(/stroke="#c00" stroke-width="4"\/>\n<text[^>]*>wan \(the Internet\)/); // the wan box is the marked hop
    expect(svg).toContain('stroke="#c00" stroke-width="3"'); // the path

    // the twelve-namespace lab failed outside any matcher: the fixture wrote its state and picture
    const twelve = files.find((f) => /^a-twelve-namespace-lab.*-state\.svg$/.test(f))!;
    const svg12 = readFileSync(join(out, twelve), 'utf8');
    for (let i = 1; i <= 12; i++) expect(svg12).toContain(`>c${i}</text>`);
    expect(output).toMatch(/netspec: the lab of the failed test "a twelve-namespace lab fails without a matcher":\n {2}state: .*-state\.txt\n {2}picture: .*-state\.svg/);

    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/netspec: the lab&apos;s state|netspec: the lab's state/);
    expect(xml).toMatch(/netspec:topology/);
  });

  test('NETSPEC_KEEP=1 keeps the lab; the printed command enters it, doctor lists it, the end command ends it', async () => {
    const before = await machineState();
    const { code, out } = await vitestChild({ NETSPEC_KEEP: '1', NETSPEC_OUTPUT_DIR: tempDir('netspec-keep-') }, '-t', 'red reaches');
    expect(code).toBe(1);
    const enter = /open a shell inside it: (.+)/.exec(out)![1]!;
    const end = /end it: +kill (\d+)/.exec(out)![1]!;
    const lifeline = Number(/--mount=\/proc\/(\d+)\/ns\/mnt/.exec(enter)![1]);
    expect(pidAlive(lifeline)).toBe(true); // the test process is gone; the lab is not

    const inside = await run(enter.split(' '), {}, 'ip netns; ip -br addr show dev v-net-0\n');
    expect(inside.out).toMatch(/^red \(id: \d+\)$/m);
    expect(inside.out).toMatch(/v-net-0\s+UP\s+192\.168\.15\.3\/24/);

    const doctor = await run([process.execPath, compiled('src/cli.ts'), 'doctor']);
    expect(doctor.out).toContain(`end:   kill ${end}`);

    // the CLI: list it, a shell in one of its namespaces, end it
    const id = /kept the lab of .* as (\S+)\n {2}a shell in it: +npx netspec kept shell \1 \[NAMESPACE\]\n {2}end it: +npx netspec kept end \1\n/.exec(out)![1]!;
    const listed = await run([process.execPath, compiled('src/cli.ts'), 'kept']);
    expect(listed.out).toContain(`  ${id}  `);
    expect(listed.out).toContain(`shell: netspec kept shell ${id} [NAMESPACE]`);
    const inRed = await run([process.execPath, compiled('src/cli.ts'), 'kept', 'shell', id, 'red'], {}, 'ip -br addr show dev veth-red; exit 3\n');
    expect(inRed.out).toMatch(/veth-red@\S+\s+UP\s+192\.168\.15\.1\/24/);
    expect(inRed.code).toBe(3); // the shell's own exit code
    const ended = await run([process.execPath, compiled('src/cli.ts'), 'kept', 'end', id]);
    expect(ended.out).toContain(`ended kept lab ${id}`);
    expect(await eventually(() => !pidAlive(lifeline))).toBe(true);
    expect(await machineState()).toEqual(before);
    const after = await run([process.execPath, compiled('src/cli.ts'), 'doctor']);
    expect(after.out).not.toContain(`kill ${end}`);
  });
});

describe('the netspec CLI', () => {
  test('netspec shell, driven through a pseudo-terminal, runs ip netns inside the lab and exits cleanly', async () => {
    const before = await machineState();
    // `script` gives the shell a real pseudo-terminal; the commands are typed into it
    const { code, out } = await run(['script', '-qec', `${process.execPath} ${compiled('src/cli.ts')} shell`, '/dev/null'], {}, 'ip netns\nbrctl show\nexit 7\n');
    expect(out).toContain('netspec: a private lab with the tutorial');
    expect(out).toMatch(/\[netspec lab\] [^#]*# ip netns/);
    expect(out).toMatch(/^red \(id: \d+\)/m);
    expect(out).toMatch(/v-net-0\s+\S+\s+no\s+veth-blue-brdg/);
    expect(code).toBe(7); // the shell's own exit code
    expect(await machineState()).toEqual(before);
  });

  test('netspec graph writes the SVG and prints Mermaid', async () => {
    const file = join(tempDir('netspec-graph-'), 'lab.svg');
    const { code, out } = await run([process.execPath, compiled('src/cli.ts'), 'graph', 'bridge:12', '--out', file]);
    expect(code).toBe(0);
    expect(out).toMatch(/^graph LR/m);
    expect(out).toContain('host_v_net_0 ---|"veth-ns12-brdg — veth-ns12 10.0.0.12/24"| ns12');
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('>ns12</text>');
  });
});

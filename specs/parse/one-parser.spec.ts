// One parser per format: outside src/parse/, no module of the library reads iptables-save text, nft output or
// iproute2's JSON itself. Two readers could disagree (they did: issue 12); this spec fails the day a third appears.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';

const src = new URL('../../src/', import.meta.url);

function files(dir: URL, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`) : e.name.endsWith('.ts') ? [`${prefix}${e.name}`] : [],
  );
}

/**
 * Where a JSON.parse is not a kernel tool's output: lab/keep.ts reads its own kept-lab files, cli.ts package.json,
 * spawner.ts the messages of netspec's own spawner.
 */
const JSON_ELSEWHERE = new Set(['lab/keep.ts', 'cli.ts', 'spawner.ts']);

/** Signs of reading a format by hand: iptables-save's lines, nft's text, the batch splitter. */
const HAND_PARSING: [RegExp, string][] = [
  [/\^:\(?\\S\+\)? |\^:FORWARD|\/\^:\(/, 'an iptables-save chain line (`:FORWARD DROP [0:0]`) matched by hand'],
  [/-j (DNAT|MASQUERADE)\/|\/-j \(|\/ -j /, 'an iptables-save rule matched with a regex'],
  [/\.startsWith\('\*'\)|startsWith\('-A '\)/, 'iptables-save tables or rules split by hand'],
  [/\^table \(/, '`nft list` text split by hand'],
  [/function splitJsonArrays/, 'a second `ip -json -batch` splitter'],
];

describe('no format is parsed twice', () => {
  const all = files(src).filter((f) => !f.startsWith('parse/'));

  test('kernel tools\' JSON is parsed in src/parse/ only', () => {
    expect(all.length).toBeGreaterThan(10);
    const offenders = all.filter((f) => !JSON_ELSEWHERE.has(f) && /JSON\.parse\(/.test(readFileSync(new URL(f, src), 'utf8')));
    expect(offenders).toEqual([]);
  });

  test('iptables-save and nft text are read in src/parse/ only', () => {
    const found: string[] = [];
    for (const f of all) {
      const text = readFileSync(new URL(f, src), 'utf8');
      for (const [re, what] of HAND_PARSING) if (re.test(text)) found.push(`${f}: ${what}`);
    }
    expect(found).toEqual([]);
  });

  test('the checks can fail: each sign is found in the code it describes', () => {
    const samples = ['/^:FORWARD (\\S+)/m', "/-j MASQUERADE/.test(l)", "line.startsWith('*')", '/^table (ip|ip6) /', 'export function splitJsonArrays('];
    HAND_PARSING.forEach(([re], i) => expect(re.test(samples[i]!), `${re}`).toBe(true));
  });
});

/**
 * `npm run oracle [-- --cases N] [--seed S] [--concurrency K] [--shrink-seconds T] [--no-shrink] [--no-regressions] [--kind exposure]`
 *
 * A differential oracle for netspec's verdicts (issue 22). fast-check generates labs (bench/oracle/model.ts: clients,
 * a router, servers, bridges, forwarding, MASQUERADE, FORWARD drops and DNATs in iptables-nft and native nft, source-side
 * DNAT, duplicate addresses) and claims about them; each lab is built through netspec's public API
 * (bench/oracle/build.ts), each claim observed by the oracle (bench/oracle/truth.ts: plain listeners everywhere, plain
 * senders with a nonce, the kernel's own `ip route get`; no code of src/probe.ts, src/landing.ts or src/parse/) and then
 * asked of netspec (its matchers as plain functions). Every disagreement is classified: false pass (netspec passed a
 * claim the oracle says is false), false fail, or refusal (netspec threw a typed error: counted, not a disagreement).
 *
 * The cases of bench/oracle/regressions.json (minimal labs found before) run first. A disagreement is shrunk with
 * fast-check to a minimal lab, printed with its seed and path, and added there. Exit code 1 on any false pass or false
 * fail (regressions included), 2 when the oracle itself failed.
 */
import fc from 'fast-check';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { runCase, type CaseResult, type ClaimResult, type Verdict } from './oracle/case.js';
import { labModel, type LabModel } from './oracle/model.js';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, dflt: number): number => {
  const v = opt(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`oracle: ${name} takes a whole number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
};
const cases = num('--cases', 200);
const seed = num('--seed', Date.now() % 1_000_000_007);
const concurrency = Math.max(1, num('--concurrency', 4));
const shrinkSeconds = num('--shrink-seconds', 240);
/** Shrinking replays a case many times: on by default, off in CI (CI=true) unless --shrink. */
const shrink = argv.includes('--shrink') || (!argv.includes('--no-shrink') && !process.env.CI);
const replay = !argv.includes('--no-regressions');
const verbose = argv.includes('--verbose') || opt('--case') !== undefined;
/** Run only this generated case (its fast-check path at --seed), verbosely. */
const only = opt('--case') === undefined ? undefined : num('--case', 0);
/** Run only the generated cases with a claim of this kind (`--kind exposure`), keeping their paths. */
const kind = opt('--kind');

const REGRESSIONS = new URL('./oracle/regressions.json', import.meta.url).pathname;

interface Regression {
  /** How it was found: the run's seed and the case's fast-check path (replayable with --seed while the generator is
   *  unchanged); seed 0 and path "hand: NAME" for a lab written by hand from issue 22's classes and confirmed by the oracle. */
  seed: number;
  path: string;
  class: Verdict;
  claim: string;
  /** netspec's verdict (its message) and the oracle's observation, when found. */
  netspec: string;
  oracle: string;
  model: LabModel;
}

const regressions: Regression[] = existsSync(REGRESSIONS) ? (JSON.parse(readFileSync(REGRESSIONS, 'utf8')) as Regression[]) : [];

interface Tally {
  cases: number;
  claims: number;
  agree: number;
  'false-pass': ClaimResult[];
  'false-fail': ClaimResult[];
  refusals: Map<string, number>;
  errors: string[];
  ms: number[];
  /** Exposure claims: how many, by verdict, and the time each took (oracle, netspec). */
  exposure: { claims: number; byVerdict: Map<string, number>; oracleMs: number[]; netspecMs: number[] };
  phases: { build: number; oracle: number; netspec: number };
}
const newTally = (): Tally => ({ cases: 0, claims: 0, agree: 0, 'false-pass': [], 'false-fail': [], refusals: new Map(), errors: [], ms: [], exposure: { claims: 0, byVerdict: new Map(), oracleMs: [], netspecMs: [] }, phases: { build: 0, oracle: 0, netspec: 0 } });

function count(t: Tally, r: CaseResult): void {
  t.cases++;
  t.ms.push(r.ms);
  if (r.phases) for (const k of ['build', 'oracle', 'netspec'] as const) t.phases[k] += r.phases[k];
  if (r.error) t.errors.push(r.error.split('\n')[0]!);
  for (const c of r.claims) {
    t.claims++;
    if (c.claim.kind === 'exposure') {
      t.exposure.claims++;
      t.exposure.byVerdict.set(c.verdict, (t.exposure.byVerdict.get(c.verdict) ?? 0) + 1);
      if (c.ms) {
        t.exposure.oracleMs.push(c.ms.oracle);
        if (c.verdict !== 'refusal') t.exposure.netspecMs.push(c.ms.netspec);
      }
    }
    if (c.verdict === 'agree') t.agree++;
    else if (c.verdict === 'refusal') {
      // explained by its message, with the lab-specific parts (addresses, counts) left in: they say which claim
      const key = c.detail.replace(/\d+ ms/g, 'N ms').slice(0, 200);
      t.refusals.set(key, (t.refusals.get(key) ?? 0) + 1);
    } else t[c.verdict].push(c);
  }
}

function printDisagreement(label: string, r: CaseResult, c: ClaimResult): void {
  console.log(`\n  ✗ ${c.verdict.toUpperCase()} ${label}: ${c.text}`);
  console.log(`    oracle: claim is ${c.truth ? 'TRUE' : 'FALSE'} — ${c.oracle}`);
  console.log(`    netspec: ${c.netspec ? 'passed' : 'failed'} — ${c.detail}`);
  console.log(`    lab:\n${r.script.map((l) => `      ${l.replace(/\n/g, '\n      ')}`).join('\n')}`);
}

async function pool<T, R>(items: readonly T[], k: number, f: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(k, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!, i);
      }
    }),
  );
  return out;
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const started = performance.now();

// ── --minimize: the greedy pass over every stored regression (each replaced by its smallest form), then exit ──
if (argv.includes('--minimize')) {
  await pool(regressions, concurrency, async (reg, i) => {
    const r = await runCase(reg.model);
    const c = r.claims.find((x) => x.verdict === reg.class);
    if (!c) return console.log(`  regression ${i + 1} (${reg.claim}): agrees now, left as it is`);
    const key = signature(reg.model, c);
    const g = await greedy(reg.model, reg.class, key);
    if (g.last) regressions[i] = { ...reg, model: g.model, claim: g.last.c.text, netspec: g.last.c.detail, oracle: g.last.c.oracle };
    console.log(`  regression ${i + 1} (${key}): ${g.runs} run(s)`);
    if (g.last) printDisagreement(`regression ${i + 1}, minimal`, g.last.r, g.last.c);
  });
  writeFileSync(REGRESSIONS, JSON.stringify(regressions, null, 2) + '\n');
  process.exit(0);
}

// ── 1. the regressions found before, replayed first ──
const regTally = newTally();
if (replay && regressions.length) {
  console.log(`oracle: replaying ${regressions.length} regression case(s) from bench/oracle/regressions.json`);
  await pool(regressions, concurrency, async (reg, i) => {
    const r = await runCase(reg.model);
    count(regTally, r);
    const bad = r.claims.filter((c) => c.verdict === 'false-pass' || c.verdict === 'false-fail');
    console.log(`  regression ${i + 1} (${reg.class}: ${reg.claim}): ${bad.length ? `still ${bad.map((c) => c.verdict).join(', ')}` : r.error ? `oracle error: ${r.error.split('\n')[0]}` : 'agrees now'} (${fmt(r.ms)})`);
    if (verbose) for (const c of bad) printDisagreement(`regression ${i + 1}`, r, c);
  });
}

// ── 2. generated cases ──
const arb = labModel();
const models: LabModel[] = [];
fc.check(
  fc.property(arb, (m) => {
    models.push(m);
    return true;
  }),
  { seed, numRuns: cases },
);
console.log(`oracle: ${cases} generated case(s), seed ${seed}, ${concurrency} lab(s) at once`);
const paths = models.map((_, i) => i).filter((i) => (only === undefined || i === only) && (kind === undefined || models[i]!.claims.some((c) => c.kind === kind)));
if (kind !== undefined) console.log(`oracle: ${paths.length} of them with a ${kind} claim`);
const tally = newTally();
const failing: { i: number; r: CaseResult }[] = [];
let done = 0;
await pool(paths, concurrency, async (i) => {
  const m = models[i]!;
  const r = await runCase(m);
  count(tally, r);
  done++;
  const bad = r.claims.filter((c) => c.verdict === 'false-pass' || c.verdict === 'false-fail');
  if (bad.length) failing.push({ i, r });
  const mark = r.error ? 'E' : bad.length ? '✗' : r.claims.some((c) => c.verdict === 'refusal') ? 'r' : '.';
  if (verbose || bad.length || r.error) {
    console.log(`  case ${i} [${done}/${paths.length}] ${fmt(r.ms)} ${mark} ${r.claims.map((c) => `${c.verdict}`).join(', ')}${r.error ? ` — ${r.error.split('\n')[0]}` : ''}`);
    for (const c of bad) printDisagreement(`case ${i} (seed ${seed}, path ${i})`, r, c);
    if (only !== undefined) for (const c of r.claims.filter((c) => !bad.includes(c))) console.log(`  ${c.verdict} ${c.text}\n    oracle: ${c.oracle}\n    netspec: ${c.detail}`);
  } else process.stdout.write(mark);
});
process.stdout.write('\n');

// ── 3. shrink each disagreement to a minimal lab, keep it as a regression case ──
const found: Regression[] = [];
if (shrink && failing.length && only === undefined) {
  // one case per kind of disagreement is shrunk (the others are most likely the same bug), each within its share of
  // the budget; the rest are kept as they are
  const groups = new Map<string, { i: number; r: CaseResult }>();
  for (const f of failing.sort((a, b) => a.i - b.i)) {
    const c = f.r.claims.find((x) => x.verdict === 'false-pass' || x.verdict === 'false-fail')!;
    const key = signature(models[f.i]!, c);
    if (!groups.has(key)) groups.set(key, f);
  }
  const share = (shrinkSeconds * 1000) / groups.size;
  for (const [key, { i, r }] of groups) {
    const deadline = performance.now() + share;
    const cls = r.claims.find((c) => c.verdict === 'false-pass' || c.verdict === 'false-fail')!.verdict;
    let last: { r: CaseResult; c: ClaimResult } | undefined;
    let steps = 0;
    const out = await fc.check(
      fc.asyncProperty(arb, async (m) => {
        if (performance.now() > deadline && last) return true; // out of time: keep the smallest found so far
        steps++;
        const rr = await runCase(m);
        const c = rr.claims.find((x) => x.verdict === cls && signature(m, x) === key);
        if (c) last = { r: rr, c };
        return !c;
      }),
      { seed, path: String(i), numRuns: 1 },
    );
    if (!out.failed || !last) {
      console.log(`\noracle: case ${i}'s ${cls} did not happen again on replay (flaky?); kept unshrunk`);
      const c = r.claims.find((x) => x.verdict === cls)!;
      found.push({ seed, path: String(i), class: cls, claim: c.text, netspec: c.detail, oracle: c.oracle, model: models[i]! });
      continue;
    }
    let minimal = out.counterexample![0] as LabModel;
    // then a greedy pass fast-check's shrinker does not make through the model's chained arbitraries
    const g = await greedy(minimal, cls, key);
    minimal = g.model;
    if (g.last) last = g.last;
    steps += g.runs;
    console.log(`\noracle: case ${i} (${key}) shrunk in ${steps} run(s) to (seed ${seed}, path ${out.counterexamplePath}, then the greedy pass):`);
    printDisagreement('minimal', last.r, last.c);
    console.log(`    model: ${JSON.stringify(minimal)}`);
    found.push({ seed, path: out.counterexamplePath ?? String(i), class: cls, claim: last.c.text, netspec: last.c.detail, oracle: last.c.oracle, model: minimal });
  }
} else if (failing.length && only === undefined) {
  // not shrunk (CI, --no-shrink): not written to regressions.json (this seed replays them); said how to shrink them
  console.log(`\noracle: ${failing.length} disagreeing case(s) not shrunk: npm run oracle -- --cases ${cases} --seed ${seed} --shrink`);
}
if (found.length) {
  const key = (g: Regression) => JSON.stringify(g.model);
  const known = new Set(regressions.map(key));
  const added = found.filter((g) => !known.has(key(g)));
  if (added.length) {
    writeFileSync(REGRESSIONS, JSON.stringify([...regressions, ...added], null, 2) + '\n');
    console.log(`\noracle: ${added.length} new regression case(s) written to bench/oracle/regressions.json`);
  }
}

/** The kind of a disagreement: one of each kind is shrunk (the others are most likely the same bug). */
function signature(m: LabModel, c: ClaimResult): string {
  const x = c.claim;
  const detail =
    x.kind === 'service'
      ? m.services[x.service]!.kind
      : x.kind === 'reach'
        ? `${x.proto}${x.seenAs ? ' seenAs' : ''}${m.duplicateOf !== undefined ? ' dup' : ''}`
        : x.kind === 'exposure'
          ? `${x.proto} ${x.target.kind}${x.allow ? '' : ' none'}${x.listening ? ' listening' : ''}`
          : '';
  return `${c.verdict} ${x.kind} ${detail}`;
}

/** The greedy pass: drop, one at a time, each part of the lab the disagreement does not need (one run each). */
async function greedy(model: LabModel, cls: Verdict, key: string): Promise<{ model: LabModel; last?: { r: CaseResult; c: ClaimResult }; runs: number }> {
  let minimal = model;
  let last: { r: CaseResult; c: ClaimResult } | undefined;
  let runs = 0;
  for (const smaller of simpler(minimal)) {
    const candidate = smaller(minimal);
    if (!candidate) continue;
    runs++;
    const rr = await runCase(candidate);
    const c = rr.claims.find((x) => x.verdict === cls && signature(candidate, x) === key);
    if (c) {
      minimal = candidate;
      last = { r: rr, c };
    }
  }
  return { model: minimal, last, runs };
}

/** Ways to make a lab simpler, each returning the smaller model or undefined when it does not apply. */
function simpler(m: LabModel): ((m: LabModel) => LabModel | undefined)[] {
  const out: ((m: LabModel) => LabModel | undefined)[] = [];
  for (let k = m.claims.length - 1; k >= 0; k--) out.push((x) => (x.claims.length > 1 && k < x.claims.length ? { ...x, claims: x.claims.filter((_, j) => j !== k) } : undefined));
  out.push((x) => (x.noise !== undefined ? { ...x, noise: undefined } : undefined));
  out.push((x) => (x.duplicateOf !== undefined ? { ...x, duplicateOf: undefined } : undefined));
  out.push((x) => (x.masquerade !== undefined ? { ...x, masquerade: undefined } : undefined));
  for (const part of ['drops', 'dnats', 'policies'] as const) {
    for (let k = m[part].length - 1; k >= 0; k--) out.push((x) => (k < x[part].length ? { ...x, [part]: (x[part] as unknown[]).filter((_, j) => j !== k) } : undefined));
  }
  for (let k = (m.guards ?? []).length - 1; k >= 0; k--) out.push((x) => (x.guards && k < x.guards.length ? { ...x, guards: x.guards.filter((_, j) => j !== k) } : undefined));
  // an exposure claim's random ports, when the disagreement is on a port that matters
  for (let k = m.claims.length - 1; k >= 0; k--) {
    out.push((x) => {
      const c = x.claims[k];
      return c?.kind === 'exposure' && c.sample.length ? { ...x, claims: x.claims.map((y, j) => (j === k ? { ...c, sample: [] } : y)) } : undefined;
    });
  }
  for (let k = m.services.length - 1; k >= 0; k--) {
    out.push((x) => {
      if (k >= x.services.length || x.claims.some((c) => c.kind === 'service' && c.service === k)) return undefined;
      const claims = x.claims.map((c) => (c.kind === 'service' && c.service > k ? { ...c, service: c.service - 1 } : c));
      return { ...x, services: x.services.filter((_, j) => j !== k), claims };
    });
  }
  // the last server, when nothing names it
  out.push((x) => {
    const last = x.servers - 1;
    if (last === 0) return undefined;
    const named = JSON.stringify({ ...x, servers: 0, serverRoutes: [] }).match(/"(server|i|duplicateOf|noise)":(\d+)/g) ?? [];
    if (named.some((n) => Number(n.split(':')[1]) === last)) return undefined;
    return { ...x, servers: last, serverRoutes: x.serverRoutes.slice(0, last) };
  });
  return out;
}

// ── 4. the report ──
function report(name: string, t: Tally): void {
  if (!t.cases) return;
  const sorted = [...t.ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const sum = t.ms.reduce((a, b) => a + b, 0);
  console.log(`\n${name}: ${t.cases} cases, ${t.claims} claims — ${t.agree} agree, ${t['false-pass'].length} false passes, ${t['false-fail'].length} false fails, ${[...t.refusals.values()].reduce((a, b) => a + b, 0)} refusals, ${t.errors.length} oracle errors`);
  console.log(`  time per case: median ${fmt(median)}, mean ${fmt(sum / t.cases)}, max ${fmt(sorted.at(-1) ?? 0)}; mean build ${fmt(t.phases.build / t.cases)}, oracle ${fmt(t.phases.oracle / t.cases)}, netspec ${fmt(t.phases.netspec / t.cases)}`);
  if (t.exposure.claims) {
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const label = { agree: 'agree', 'false-pass': 'false passes', 'false-fail': 'false fails', refusal: 'refusals' } as const;
    const by = (Object.keys(label) as (keyof typeof label)[]).map((v) => `${t.exposure.byVerdict.get(v) ?? 0} ${label[v]}`).join(', ');
    console.log(`  ${t.exposure.claims} exposure claims — ${by}; time per exposure claim: oracle median ${fmt(med(t.exposure.oracleMs))} (mean ${fmt(mean(t.exposure.oracleMs))}), netspec median ${fmt(med(t.exposure.netspecMs))} (mean ${fmt(mean(t.exposure.netspecMs))}, max ${fmt(Math.max(0, ...t.exposure.netspecMs))})`);
  }
  for (const cls of ['false-pass', 'false-fail'] as const) {
    const byText = new Map<string, number>();
    for (const c of t[cls]) byText.set(c.text, (byText.get(c.text) ?? 0) + 1);
    for (const [text, n] of byText) console.log(`  ${cls}: ${text}${n > 1 ? ` ×${n}` : ''}`);
  }
  for (const [msg, n] of t.refusals) console.log(`  refusal ×${n}: ${msg}`);
  for (const e of t.errors) console.log(`  oracle error: ${e}`);
}
report('regressions', regTally);
report(`generated (seed ${seed})`, tally);
console.log(`\noracle: total ${fmt(performance.now() - started)}`);
const disagreements = regTally['false-pass'].length + regTally['false-fail'].length + tally['false-pass'].length + tally['false-fail'].length;
process.exit(tally.errors.length + regTally.errors.length ? 2 : disagreements ? 1 : 0);

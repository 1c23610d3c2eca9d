/**
 * A learner's progress, per user and per workspace (the folder with their scripts): which lessons passed (with a hash
 * of the files that passed, so a watch can start at the first unfinished one) and how many hints of each step were
 * shown. Saved in $XDG_STATE_HOME/netspec/lessons.json (default ~/.local/state/netspec); when that cannot be written
 * (no home, a read-only one), progress lives for this run only and the learner is told once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

interface WorkspaceProgress {
  /** lesson id → hash of the learner's files when it passed */
  passed: Record<string, string>;
  /** `lesson id/step` → hints shown */
  hints: Record<string, number>;
  /** kata id → hash of the assertion shown to fail on the broken lab and pass on the repaired one */
  exposes?: Record<string, string>;
  /** lesson id → when it was first and last run, first passed (ISO times), and how many runs it took */
  times?: Record<string, LessonTime>;
}

export interface LessonTime {
  first: string;
  last: string;
  passed?: string;
  runs: number;
}

/** One lesson of a learner's report (`--report`): a teacher's view of where they are and where they got stuck. */
export interface ReportRow {
  id: string;
  title: string;
  passed: boolean;
  hints: number;
  runs: number;
  /** From the first run to the first pass (or to the last run, while not passed); absent when never run. */
  seconds?: number;
}

interface StateFile {
  version: 1;
  workspaces: Record<string, WorkspaceProgress>;
  /** The folder the learner last watched: `hint` and `list` default to it. */
  last?: string;
}

/** Where progress is saved: $XDG_STATE_HOME/netspec/lessons.json, or ~/.local/state/netspec/lessons.json. */
export function progressFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'netspec', 'lessons.json');
  let home = env.HOME;
  try {
    home ||= homedir();
  } catch {
    return undefined;
  }
  return home ? join(home, '.local', 'state', 'netspec', 'lessons.json') : undefined;
}

/** The hash of what the learner wrote for a lesson (script, and assertion for a kata). */
export function hashFiles(paths: readonly (string | undefined)[]): string {
  const h = createHash('sha256');
  for (const p of paths) if (p) h.update(existsSync(p) ? readFileSync(p) : '\0missing').update('\0');
  return h.digest('hex').slice(0, 16);
}

export class Progress {
  readonly #file: string | undefined;
  #key = '';
  #state: StateFile = { version: 1, workspaces: {} };
  #warned = false;
  /** Why progress is not saved, once it could not be. */
  unsaved?: string;
  readonly #warn: (message: string) => void;

  /**
   * `renamed`: lesson ids the course renamed (old → new); progress saved under an old id is read as the new one's (the
   * file keeps the new ids from the next save on).
   */
  constructor(options: { file?: string; warn?: (message: string) => void; renamed?: Readonly<Record<string, string>> } = {}) {
    this.#file = options.file ?? progressFile();
    this.#warn = options.warn ?? ((m) => console.error(m));
    if (!this.#file) this.#unsaved('no home directory to save it in (set XDG_STATE_HOME)');
    else {
      try {
        if (existsSync(this.#file)) {
          const parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as StateFile;
          if (parsed && parsed.version === 1 && typeof parsed.workspaces === 'object') this.#state = parsed;
          if (options.renamed) for (const w of Object.values(this.#state.workspaces)) migrate(w, options.renamed);
        }
      } catch (error) {
        this.#unsaved(`${this.#file} could not be read (${(error as Error).message})`);
      }
    }
  }

  /** The folder the learner last watched, if it still exists. */
  get last(): string | undefined {
    const last = this.#state.last;
    return last && existsSync(last) ? last : undefined;
  }

  /** Whose progress the calls below read and write; `watched` makes it the default of later runs. */
  use(workspace: string, watched = false): this {
    this.#key = resolve(workspace);
    if (watched && this.#state.last !== this.#key) {
      this.#state.last = this.#key;
      this.#save();
    }
    return this;
  }

  get #mine(): WorkspaceProgress {
    if (!this.#key) throw new Error('Progress.use(workspace) first');
    return (this.#state.workspaces[this.#key] ??= { passed: {}, hints: {} });
  }

  #unsaved(why: string): void {
    this.unsaved = why;
    if (!this.#warned) {
      this.#warned = true;
      this.#warn(`netspec lessons: progress is not saved: ${why}; it lasts for this run only.`);
    }
  }

  #save(): void {
    if (!this.#file || this.unsaved) return;
    try {
      mkdirSync(dirname(this.#file), { recursive: true, mode: 0o700 });
      const tmp = `${this.#file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(this.#state, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.#file);
    } catch (error) {
      this.#unsaved(`${this.#file} could not be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }

  /** Passed, with these very files (an edit since means: run it again). */
  passedWith(id: string, hash: string): boolean {
    return this.#mine.passed[id] === hash;
  }

  passedIds(): string[] {
    return Object.keys(this.#mine.passed);
  }

  record(id: string, passed: boolean, hash: string, now: Date = new Date()): void {
    const mine = this.#mine;
    if (passed) mine.passed[id] = hash;
    else delete mine.passed[id];
    const at = now.toISOString();
    const t = ((mine.times ??= {})[id] ??= { first: at, last: at, runs: 0 });
    t.last = at;
    t.runs++;
    if (passed) t.passed ??= at;
    this.#save();
  }

  /** Hints shown for a lesson, all its steps together. */
  hintsUsed(id: string): number {
    return Object.entries(this.#mine.hints)
      .filter(([key]) => key.startsWith(`${id}/`))
      .reduce((sum, [, n]) => sum + n, 0);
  }

  /** The learner's progress, lesson by lesson, in the course's order. */
  report(lessons: readonly { id: string; title: string }[]): ReportRow[] {
    const mine = this.#mine;
    return lessons.map(({ id, title }) => {
      const t = mine.times?.[id];
      const end = t ? (t.passed ?? t.last) : undefined;
      return {
        id,
        title,
        passed: id in mine.passed,
        hints: this.hintsUsed(id),
        runs: t?.runs ?? 0,
        ...(t && end ? { seconds: Math.max(0, Math.round((Date.parse(end) - Date.parse(t.first)) / 1000)) } : {}),
      };
    });
  }

  /** A kata's assertion with this hash exposes its fault (so it need not be shown again until it changes). */
  exposes(id: string, hash: string): boolean {
    return this.#mine.exposes?.[id] === hash;
  }

  recordExposes(id: string, hash: string): void {
    (this.#mine.exposes ??= {})[id] = hash;
    this.#save();
  }

  /** The next hint level of a step (0 = none shown yet), and count it as shown. */
  nextHint(id: string, step: string, available: number): number {
    const key = `${id}/${step}`;
    const shown = this.#mine.hints[key] ?? 0;
    const level = Math.min(shown, Math.max(available - 1, 0));
    this.#mine.hints[key] = Math.min(shown + 1, available);
    this.#save();
    return level;
  }
}

/** Progress saved under renamed lesson ids, read as the new ids' (a new id's own entry wins). */
function migrate(w: WorkspaceProgress, renamed: Readonly<Record<string, string>>): void {
  const move = <T>(table: Record<string, T> | undefined, key: (k: string) => string | undefined) => {
    if (!table) return;
    for (const k of Object.keys(table)) {
      const to = key(k);
      if (to === undefined || to in table) continue;
      table[to] = table[k]!;
      delete table[k];
    }
  };
  move(w.passed, (k) => renamed[k]);
  move(w.exposes, (k) => renamed[k]);
  move(w.times, (k) => renamed[k]);
  move(w.hints, (k) => {
    const slash = k.indexOf('/');
    const to = renamed[k.slice(0, slash)];
    return to && `${to}${k.slice(slash)}`;
  });
}

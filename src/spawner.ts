/**
 * The spawner: a small long-lived process (one per Node process) that starts netspec's short commands for it.
 *
 * Why: Node starts a child with fork(), which copies the page tables of the whole Node process, on its main thread. A
 * Vitest worker holds 150–300 MB, so each of the thousands of commands a suite runs cost it 10–40 ms of CPU and
 * stalled its event loop for as long (every concurrent test's timers and probe windows with it). Forking from a process
 * of a few MB costs about a millisecond. `npm run bench` measures both paths side by side (case `spawner`).
 *
 * What it is: Debian's python3 running the program below (a constant; nothing from input is ever code). It reads
 * requests as JSON lines on stdin (an argv array, cwd, the whole environment, the bytes for stdin), starts each with
 * `subprocess.Popen` (argv, never a shell; `start_new_session`, so each command leads a session and process group of its
 * own, as `detached` does in Node), and answers with JSON lines on stdout: the pid, output chunks, then the exit and
 * "done" once its pipes are drained (the rule of settleOnExit in exec.ts: after the exit, read on until the pipes are
 * quiet for 50 ms, at most 1 s). Deadlines, output caps and process-group kills stay in exec.ts: it has the pid.
 * The spawner exits when its stdin closes (this process ended); the commands it started are not its children to
 * kill, exactly as with Node's own spawn.
 *
 * `NETSPEC_SPAWNER=node` turns it off (every command through execa, as before); it is off by itself where no python3
 * runs, and a spawner that died is replaced for the next command.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';

const PROGRAM = String.raw`
import base64, errno, json, os, selectors, signal, subprocess, sys, time
IDLE, MAX = 0.05, 1.0
# Ctrl-C reaches the whole process group: the test process decides what ends, and this spawner ends with it (its stdin
# closes). A handler, not SIG_IGN: the commands it starts get the default disposition back at exec.
signal.signal(signal.SIGINT, lambda *_: None)
sel = selectors.DefaultSelector()
out = sys.stdout.buffer
procs = {}
def signame(n):
    # Signals knows SIGRTMIN and SIGRTMAX but none between: name those as kill -l does (a ValueError here ended the loop)
    try:
        return signal.Signals(n).name
    except ValueError:
        return "SIGRTMIN+%d" % (n - signal.SIGRTMIN) if signal.SIGRTMIN < n < signal.SIGRTMAX else "SIG%d" % n
def send(o):
    out.write(json.dumps(o, separators=(",", ":")).encode() + b"\n")
class Job:
    # every descriptor is closed through its file object (never os.close on a number a file object still owns: the
    # number is reused by the next command's pipe, which the object's later close would then cut)
    def __init__(s, rid, req):
        s.id = rid
        s.exit = None
        s.exited_at = None
        s.last = 0.0
        s.pipes = {}
        s.pidfd = None
        # a long-lived process ("long"): its stdin stays open for writes until asked to end, and it is done when it has
        # exited and its pipes have closed by themselves (no drain deadline)
        s.long = bool(req.get("long"))
        inp = req.get("input")
        io = req.get("stdio") or ["pipe" if inp is not None else "ignore", "pipe", "pipe"]
        mode = lambda m: subprocess.PIPE if m == "pipe" else subprocess.DEVNULL
        popen = lambda argv: subprocess.Popen(argv, cwd=req.get("cwd"), env=req["env"], start_new_session=req.get("session", True),
                                              stdin=mode(io[0]), stdout=mode(io[1]), stderr=mode(io[2]))
        try:
            s.p = popen(req["argv"])
        except OSError as e:
            # as execvp does (and so Node's spawn, nsenter, a shell): a file of no executable format (a script without
            # "#!") is run by /bin/sh; the file is argv[0] if it names a path, else the first executable one on PATH
            if e.errno != errno.ENOEXEC:
                raise
            name = req["argv"][0]
            if "/" not in name:
                name = next((p for p in (os.path.join(d or ".", name) for d in os.get_exec_path(req["env"]))
                             if os.path.isfile(p) and os.access(p, os.X_OK)), name)
            s.p = popen(["/bin/sh", name] + req["argv"][1:])
        send({"id": rid, "pid": s.p.pid})
        for n, f in ((1, s.p.stdout), (2, s.p.stderr)):
            if f is None:
                continue
            os.set_blocking(f.fileno(), False)
            s.pipes[f.fileno()] = (n, f)
            sel.register(f, selectors.EVENT_READ, (s, "out"))
        # a bytearray: the bytes written are cut from its front in O(1) (a bytes slice copied the whole rest each time)
        s.inp = bytearray() if inp is None else bytearray(base64.b64decode(inp))
        s.ending = not s.long
        if s.p.stdin is not None:
            os.set_blocking(s.p.stdin.fileno(), False)
            if s.inp:
                sel.register(s.p.stdin, selectors.EVENT_WRITE, (s, "in"))
            elif s.ending:
                s.p.stdin.close()
        s.pidfd = os.pidfd_open(s.p.pid)
        sel.register(s.pidfd, selectors.EVENT_READ, (s, "exit"))
    def close_pipe(s, fd):
        n, f = s.pipes.pop(fd)
        sel.unregister(f)
        f.close()
    def close_stdin(s):
        f = s.p.stdin
        if f is not None and not f.closed:
            try:
                sel.unregister(f)
            except (KeyError, ValueError):
                pass
            try:
                f.close()
            except OSError:
                pass
    def on_in(s):
        # a write event of this round can come after the exit event of the same round, which closed stdin (a background
        # process still reading it kept it writable): the closed file's fileno() raised ValueError and ended the loop
        if s.p.stdin is None or s.p.stdin.closed:
            return
        try:
            n = os.write(s.p.stdin.fileno(), s.inp[:1 << 16])
            del s.inp[:n]
        except BlockingIOError:
            return
        except OSError:
            s.inp = bytearray()
            s.ending = True
        if not s.inp:
            if s.ending:
                s.close_stdin()
            else:
                sel.unregister(s.p.stdin)
    def write(s, data, end):
        f = s.p.stdin
        if f is None or f.closed:
            return
        pending = bool(s.inp)
        s.inp += data
        s.ending = s.ending or end
        if s.inp and not pending:
            sel.register(f, selectors.EVENT_WRITE, (s, "in"))
        elif not s.inp and s.ending:
            s.close_stdin()
    def on_out(s, fd):
        n, f = s.pipes[fd]
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            s.last = time.monotonic()
            send({"id": s.id, "fd": n, "d": base64.b64encode(data).decode()})
        else:
            s.close_pipe(fd)
    def on_exit(s):
        sel.unregister(s.pidfd)
        os.close(s.pidfd)
        s.pidfd = None
        rc = s.p.wait()
        s.exit = rc
        s.exited_at = s.last = time.monotonic()
        s.close_stdin()
        send({"id": s.id, "exit": rc if rc >= 0 else None, "signal": signame(-rc) if rc < 0 else None})
    def finish_if_drained(s, now):
        if s.exit is None:
            return
        if s.pipes and (s.long or (now - s.last < IDLE and now - s.exited_at < MAX)):
            return
        for fd in list(s.pipes):
            s.close_pipe(fd)
        send({"id": s.id, "done": True})
        del procs[s.id]
def handle(line):
    req = json.loads(line)
    rid = req["id"]
    if "write" in req or "end" in req:
        job = procs.get(rid)
        if job is not None:
            job.write(base64.b64decode(req.get("write") or ""), bool(req.get("end")))
        return
    try:
        procs[rid] = Job(rid, req)
    except OSError as e:
        send({"id": rid, "error": e.strerror or str(e), "code": errno.errorcode.get(e.errno, "EIO")})
    except Exception as e:
        # what no process can be started with (a NUL byte in an argument or the environment): refused, never fatal
        send({"id": rid, "error": str(e), "code": "EINVAL"})
os.set_blocking(0, False)
sel.register(0, selectors.EVENT_READ, (None, "req"))
# a request line (several MB with a big stdin) arrives in many reads: keep the pieces and look for the newline in each new
# read only (joining and scanning the whole line on every read made big inputs quadratic)
parts = []
while True:
    timeout = IDLE / 2 if any(j.exit is not None and not j.long for j in procs.values()) else None
    for key, _ in sel.select(timeout):
        job, what = key.data
        if what == "req":
            try:
                data = os.read(0, 1 << 20)
            except BlockingIOError:
                continue
            if not data:
                sys.exit(0)
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl == -1:
                    parts.append(data[start:])
                    break
                parts.append(data[start:nl])
                line = b"".join(parts)
                parts = []
                start = nl + 1
                if line:
                    handle(line)
        elif job.id not in procs:
            continue
        elif what == "in":
            job.on_in()
        elif what == "out":
            if key.fd in job.pipes:
                job.on_out(key.fd)
        elif what == "exit":
            job.on_exit()
    now = time.monotonic()
    for job in list(procs.values()):
        job.finish_if_drained(now)
    out.flush()
`;

/** What the spawner says about one command. */
export interface SpawnedEvents {
  /** The command started: its pid (the leader of its own session and process group). */
  onPid(pid: number): void;
  onOutput(fd: 1 | 2, chunk: Buffer): void;
  /** It exited (code, or the signal that ended it). */
  onExit(code: number | undefined, signal: string | undefined): void;
  /** Its pipes are drained and closed: the call may settle. */
  onDone(): void;
  /** It could not start (errno code such as ENOENT), or the spawner went away. */
  onError(code: string, message: string): void;
}

interface Request {
  argv: readonly string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  input?: Buffer;
  /** A long-lived process: stdin stays open for write()s until end; no drain deadline after its exit. */
  long?: boolean;
  stdio?: readonly ('pipe' | 'ignore')[];
  /** A session (and process group) of its own; default true. */
  session?: boolean;
}

export class Spawner {
  readonly #child: ChildProcess;
  readonly #jobs = new Map<number, SpawnedEvents>();
  /** Jobs that keep this process alive (all but the unref()ed long-lived ones). */
  readonly #holding = new Set<number>();
  #next = 1;
  #buffer = '';
  dead = false;

  constructor(python: string) {
    this.#child = spawn(python, ['-I', '-S', '-c', PROGRAM], { stdio: ['pipe', 'pipe', 'inherit'], env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' } });
    // it must never keep this process alive by itself
    this.#child.unref();
    for (const s of [this.#child.stdin, this.#child.stdout]) (s as unknown as { unref?: () => void }).unref?.();
    this.#child.stdin!.on('error', () => this.#die('its input pipe failed'));
    this.#child.once('error', (e) => this.#die(e.message));
    this.#child.once('exit', (code, signal) => this.#die(`it exited (${signal ?? `code ${code}`})`));
    this.#child.stdout!.setEncoding('utf8').on('data', (d: string) => this.#read(d));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  start(request: Request, events: SpawnedEvents): number {
    const id = this.#next++;
    this.#jobs.set(id, events);
    this.hold(id, true);
    const line = JSON.stringify({
      id,
      argv: request.argv,
      cwd: request.cwd,
      env: Object.fromEntries(Object.entries(request.env).filter((e): e is [string, string] => typeof e[1] === 'string')),
      input: request.input === undefined ? undefined : request.input.toString('base64'),
      long: request.long,
      stdio: request.stdio,
      session: request.session,
    });
    this.#child.stdin!.write(`${line}\n`);
    return id;
  }

  /** Bytes for a long-lived job's stdin, and/or its end. */
  write(id: number, data: Buffer | undefined, end: boolean): void {
    if (this.dead || !this.#jobs.has(id)) return;
    this.#child.stdin!.write(`${JSON.stringify({ id, write: data?.toString('base64') ?? '', end })}\n`);
  }

  /** While a held job runs, the spawner's pipes keep the event loop alive (as a child's own pipes would). */
  hold(id: number, on: boolean): void {
    if (on && this.#jobs.has(id)) this.#holding.add(id);
    else this.#holding.delete(id);
    // the process handle too: if the spawner dies, its stdout closes before its 'exit' event, which fails the held jobs;
    // with only the pipe held, the event loop could end in between and the calls never settled
    const out = this.#child.stdout as unknown as { ref?: () => void; unref?: () => void };
    if (this.#holding.size > 0) {
      out.ref?.();
      this.#child.ref();
    } else {
      out.unref?.();
      this.#child.unref();
    }
  }

  #read(data: string): void {
    this.#buffer += data;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) !== -1) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!line) continue;
      const m = JSON.parse(line) as { id: number; pid?: number; fd?: 1 | 2; d?: string; exit?: number | null; signal?: string | null; done?: boolean; error?: string; code?: string };
      const job = this.#jobs.get(m.id);
      if (!job) continue;
      if (m.pid !== undefined) job.onPid(m.pid);
      else if (m.fd !== undefined) job.onOutput(m.fd, Buffer.from(m.d ?? '', 'base64'));
      else if (m.done) {
        this.#jobs.delete(m.id);
        this.hold(m.id, false);
        job.onDone();
      } else if (m.error !== undefined) {
        this.#jobs.delete(m.id);
        this.hold(m.id, false);
        job.onError(m.code ?? 'EUNKNOWN', m.error);
      } else if ('exit' in m) job.onExit(m.exit ?? undefined, m.signal ?? undefined);
    }
  }

  #die(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    if (current === this) current = undefined;
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    this.#holding.clear();
    for (const job of jobs) job.onError('ESPAWNER', `netspec's spawner went away: ${reason}`);
  }
}

let current: Spawner | undefined;
let python: string | null | undefined;

/** Debian's python3 (never a pyenv or virtualenv shim on PATH: a shell script that would cost more than it saves). */
function findPython(): string | null {
  for (const candidate of ['/usr/bin/python3', '/usr/local/bin/python3', '/bin/python3']) if (existsSync(candidate)) return candidate;
  return null;
}

/**
 * The python3 found, if it has what the spawner imports: Debian's python3-minimal alone lacks `json` (it is in
 * libpython3.X-stdlib), and a spawner that cannot start would fail every command. Asked once per process; without it,
 * commands start through execa (slower), and netspec says so once.
 */
function usable(found: string | null): string | null {
  if (found === null) return null;
  const check = spawnSync(found, ['-I', '-S', '-c', 'import base64, errno, json, os, selectors, signal, subprocess, sys, time'], { stdio: 'ignore', timeout: 10_000 });
  if (check.status === 0) return found;
  process.stderr.write(`netspec: ${found} cannot run netspec's spawner (its standard library is missing: install the python3 package); commands start through execa, which is slower\n`);
  return null;
}

/** The spawner of this process, started on first use; undefined where it cannot run (no python3, or turned off). */
export function spawner(): Spawner | undefined {
  if (process.env.NETSPEC_SPAWNER === 'node') return undefined;
  if (python === undefined) python = usable(findPython());
  if (python === null) return undefined;
  if (!current || current.dead) current = new Spawner(python);
  return current;
}

/** @internal The spawner's pid while one runs (specs end it to check what a command in flight then gets). */
export function spawnerPid(): number | undefined {
  return current && !current.dead ? current.pid : undefined;
}

/**
 * A long-lived process started by the spawner, as much of a `ChildProcess` as netspec's long-lived users need (the
 * lifeline, responders, trace monitors): pid, stdin/stdout/stderr streams, exitCode/signalCode, kill(), ref/unref and
 * the 'spawn', 'exit', 'close' and 'error' events. kill() signals the pid directly. If the spawner goes away, the
 * process loses its pipes (a lifeline or responder then ends by itself, as when this Node process dies): it is killed
 * and reported as killed by SIGKILL.
 */
export class SpawnedChild extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly #via: Spawner;
  readonly #id: number;
  #held = true;

  constructor(via: Spawner, request: Request & { stdio: readonly ('pipe' | 'ignore')[] }) {
    super();
    this.#via = via;
    const [i, o, e] = request.stdio;
    const readable = () => new Readable({ read() {} });
    this.stdout = o === 'pipe' ? readable() : null;
    this.stderr = e === 'pipe' ? readable() : null;
    let id = 0;
    this.stdin =
      i === 'pipe'
        ? new Writable({
            write: (chunk: Buffer, _enc, done) => {
              via.write(id, chunk, false);
              done();
            },
            final: (done) => {
              via.write(id, undefined, true);
              done();
            },
          })
        : null;
    const ended = (s: Readable | null) => (s && !s.readableEnded ? new Promise<void>((r) => s.once('end', () => r())) : Promise.resolve());
    id = via.start({ ...request, long: true }, {
      onPid: (pid) => {
        this.pid = pid;
        this.emit('spawn');
      },
      onOutput: (fd, chunk) => (fd === 1 ? this.stdout : this.stderr)?.push(chunk),
      onExit: (code, signal) => {
        this.exitCode = code ?? null;
        this.signalCode = (signal as NodeJS.Signals | undefined) ?? null;
        this.emit('exit', this.exitCode, this.signalCode);
      },
      onDone: () => {
        this.stdout?.push(null);
        this.stderr?.push(null);
        // 'close' after the streams' 'end', as Node's own
        void Promise.all([ended(this.stdout), ended(this.stderr)]).then(() => this.emit('close', this.exitCode, this.signalCode));
        this.stdout?.resume();
        this.stderr?.resume();
      },
      onError: (code, message) => {
        if (this.pid !== undefined && this.exitCode === null && this.signalCode === null) {
          // the spawner went away: the process lost its pipes; end it, and say so
          this.kill('SIGKILL');
          this.signalCode = 'SIGKILL';
          this.stdout?.push(null);
          this.stderr?.push(null);
          this.emit('exit', null, 'SIGKILL');
          this.emit('close', null, 'SIGKILL');
          return;
        }
        this.emit('error', Object.assign(new Error(`${message}: ${request.argv[0]}`), { code, errno: code, syscall: 'spawn', path: request.argv[0] }));
        this.emit('close', -2, null);
      },
    });
    this.#id = id;
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.pid === undefined || this.exitCode !== null || this.signalCode !== null) return false;
    try {
      process.kill(this.pid, signal);
      this.killed = true;
      return true;
    } catch {
      return false;
    }
  }

  ref(): void {
    this.#held = true;
    this.#via.hold(this.#id, true);
  }

  unref(): void {
    this.#held = false;
    this.#via.hold(this.#id, false);
  }
}

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
try:
    # the lab runner's setns and RLIMIT_NPROC (a python3 without them has no runner: labs enter by nsenter)
    import ctypes, resource
    libc = ctypes.CDLL(None, use_errno=True)
except Exception:
    libc = None
IDLE, MAX = 0.05, 1.0
# how long a lab runner that is let go waits for its commands still running (reap)
REAP_MAX = 2.0
# a lab runner's namespace of the lab host (a descriptor it keeps), None in the spawner
HOSTNET = None
CLONE = {"mnt": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "user": 0x10000000, "pid_for_children": 0x20000000, "net": 0x40000000}
def setns(fd, kind):
    if libc.setns(fd, CLONE[kind]) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns %s: %s" % (kind, os.strerror(e)))
class NoNamespace(Exception):
    pass
def enter_net(name):
    # /run/netns/NAME of the lab's own mount namespace, opened for each command (a name deleted and made again is
    # another namespace); entered as the lab's root, so only a namespace of the lab's own can be (as nsenter's was)
    if HOSTNET is None:
        # the spawner itself (the machine's mount namespace, the machine's root): never a namespace of its /run/netns
        raise NoNamespace("not a lab runner: no namespace of a lab to enter")
    if not isinstance(name, str) or not name or "/" in name or name in (".", "..") or "\0" in name:
        raise NoNamespace("not a namespace name: %r" % (name,))
    try:
        # O_NONBLOCK: a FIFO there (the lab's root may put anything in its /run/netns) blocked this open, and with it
        # every command of the lab, past their deadlines and the lab's end; setns refuses what it opens instead
        fd = os.open("/run/netns/" + name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise NoNamespace("cannot open /run/netns/%s: %s" % (name, e.strerror))
    try:
        setns(fd, "net")
    except OSError as e:
        raise NoNamespace("cannot enter /run/netns/%s: %s" % (name, os.strerror(e.errno)))
    finally:
        os.close(fd)
def leave_net():
    try:
        setns(HOSTNET, "net")
    except OSError:
        # never start the next command in the wrong namespace
        os._exit(71)
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
        def start(argv):
            try:
                return popen(argv)
            except OSError as e:
                # as execvp does (and so Node's spawn, nsenter, a shell): a file of no executable format (a script
                # without "#!") is run by /bin/sh; the file is argv[0] if it names a path, else the first executable
                # one on PATH
                if e.errno != errno.ENOEXEC:
                    raise
                name = argv[0]
                if "/" not in name:
                    name = next((p for p in (os.path.join(d or ".", name) for d in os.get_exec_path(req["env"]))
                                 if os.path.isfile(p) and os.access(p, os.X_OK)), name)
                return popen(["/bin/sh", name] + argv[1:])
        if req.get("runner") is not None:
            s.p = Forked(req["runner"])
        elif req.get("ns") is not None:
            # a lab runner's command in one of the lab's namespaces: this thread enters it, the command (started by
            # vfork) is born there, and the thread goes back to the lab host's
            enter_net(req["ns"])
            try:
                s.p = start(req["argv"])
            finally:
                leave_net()
        else:
            s.p = start(req["argv"])
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
    except NoNamespace as e:
        send({"id": rid, "error": str(e), "code": "ENETNS"})
    except OSError as e:
        send({"id": rid, "error": e.strerror or str(e), "code": errno.errorcode.get(e.errno, "EIO")})
    except Exception as e:
        # what no process can be started with (a NUL byte in an argument or the environment): refused, never fatal
        send({"id": rid, "error": str(e), "code": "EINVAL"})
class Forked:
    # a lab runner: this process forked (no exec: about a millisecond, against 25 ms for a new python3), with a pipe
    # for requests and one for answers; as much of a Popen as Job uses
    def __init__(s, cfg):
        if libc is None:
            raise OSError(errno.ENOSYS, "python3 has no ctypes or resource module")
        r0, w0 = os.pipe()
        r1, w1 = os.pipe()
        out.flush()
        try:
            pid = os.fork()
        except OSError:
            for fd in (r0, w0, r1, w1):
                os.close(fd)
            raise
        if pid == 0:
            code = 70
            try:
                os.dup2(r0, 0)
                os.dup2(w1, 1)
                for fd in (r0, w0, r1, w1):
                    os.close(fd)
                become_runner(cfg)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 0
                reap()
            except BaseException as e:
                try:
                    os.write(2, ("netspec: the lab runner could not start: %s\n" % (e,)).encode())
                except OSError:
                    pass
            os._exit(code)
        os.close(r0)
        os.close(w1)
        s.pid = pid
        s.returncode = None
        s.stdin = os.fdopen(w0, "wb", buffering=0)
        s.stdout = os.fdopen(r1, "rb", buffering=0)
        s.stderr = None
    def wait(s):
        if s.returncode is None:
            s.returncode = os.waitstatus_to_exitcode(os.waitpid(s.pid, 0)[1])
        return s.returncode
def become_runner(cfg):
    # A lab runner (ARCHITECTURE.md, "Commands are argument arrays"): what "prlimit --nproc=N nsenter --user --mount
    # --pid --uts --ipc --net" did for every command, done once. It stays in the machine's PID namespace (so the pids
    # it reports are the machine's, and exec.ts stops a command's process group by them) and makes its children in the
    # lab's (pid_for_children). It ends when its requests' pipe closes or when the lab's PID 1 exits, whichever is first:
    # it holds the lab's namespaces, and must never outlive the lab.
    global sel, procs, parts, HOSTNET, out
    # the spawner's own jobs are not this process's: every descriptor closed through the object that owns it
    for job in list(procs.values()):
        for fd in list(job.pipes):
            job.pipes.pop(fd)[1].close()
        if job.p.stdin is not None and not job.p.stdin.closed:
            job.p.stdin.close()
        if job.pidfd is not None:
            os.close(job.pidfd)
            job.pidfd = None
    procs = {}
    sel.close()
    sel = selectors.DefaultSelector()
    parts = []
    lab = int(cfg["pid"])
    life = os.pidfd_open(lab)
    fds = {k: os.open("/proc/%d/ns/%s" % (lab, k), os.O_RDONLY | os.O_CLOEXEC) for k in ("ipc", "uts", "net", "pid_for_children", "mnt")}
    user = os.open("/proc/%d/ns/user" % lab, os.O_RDONLY | os.O_CLOEXEC) if cfg.get("userns") else None
    wd = os.open(cfg["cwd"], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if cfg.get("nproc"):
        # the lab's process bound binds every command (and this runner's forks once it is the lab's root)
        resource.setrlimit(resource.RLIMIT_NPROC, (int(cfg["nproc"]), int(cfg["nproc"])))
    # as nsenter: every namespace but the user namespace first (what the machine's root may enter: a staged lab's PID
    # namespace is the machine's user namespace's), then the user namespace, then what could only be entered from it
    later = []
    for kind, fd in fds.items():
        try:
            setns(fd, kind)
        except PermissionError:
            later.append(kind)
    if user is not None:
        setns(user, "user")
        os.close(user)
    for kind in later:
        setns(fds[kind], kind)
    if user is not None and cfg.get("mapped"):
        # the lab's root: the machine's LAB_ID_BASE, an ordinary user to the machine (nsenter without
        # --preserve-credentials); a lab with root mapped to this user keeps its credentials
        os.setgroups([])
        os.setgid(0)
        os.setuid(0)
    os.fchdir(wd)
    os.close(wd)
    HOSTNET = fds.pop("net")
    for fd in fds.values():
        os.close(fd)
    sel.register(life, selectors.EVENT_READ, (None, "life"))
    send({"ready": True})
    out.flush()
    serve()
def reap():
    # A lab runner's commands still running are its children: reaped before it goes. An orphan goes to the machine's
    # init, which may reap it a second or two later, and the lab's PID 1 ends only once every pid of its PID namespace
    # is reaped: a dispose() whose SIGTERM and end of this pipe arrived together took 2 s instead of 7 ms. Their pipes
    # are closed first (a command writing more than a pipe holds, or reading its input, would wait for this process as
    # it waits for them), and the wait is bounded: a command that lives on (a kept lab's) is left to the lab.
    if HOSTNET is None:
        return
    for job in list(procs.values()):
        for fd in list(job.pipes):
            try:
                job.pipes.pop(fd)[1].close()
            except OSError:
                pass
        if job.p.stdin is not None and not job.p.stdin.closed:
            try:
                job.p.stdin.close()
            except OSError:
                pass
    until = time.monotonic() + REAP_MAX
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= until:
                return
            time.sleep(0.01)
def serve():
    try:
        loop()
    except BrokenPipeError:
        # whoever read the answers is gone (the test process ended): so is this process, without a traceback
        reap()
        os._exit(0)
def loop():
    global parts
    os.set_blocking(0, False)
    sel.register(0, selectors.EVENT_READ, (None, "req"))
    while True:
        timeout = IDLE / 2 if any(j.exit is not None and not j.long for j in procs.values()) else None
        for key, _ in sel.select(timeout):
            job, what = key.data
            if what == "life":
                # the lab is gone (its PID 1 exited, and the kernel ends every process of its PID namespace)
                out.flush()
                sys.exit(0)
            if what == "req":
                try:
                    data = os.read(0, 1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    out.flush()
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
# a request line (several MB with a big stdin) arrives in many reads: keep the pieces and look for the newline in each new
# read only (joining and scanning the whole line on every read made big inputs quadratic)
parts = []
serve()
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
  /** A lab runner's command: the name of the lab's network namespace (/run/netns/NAME) it runs in; else the lab host. */
  ns?: string;
  /** Fork a lab runner (LabRunner) instead of starting argv. */
  runner?: { pid: number; userns: boolean; mapped: boolean; nproc?: number; cwd: string };
}

/** What a Spawner talks through: the python3 process it started, or a lab runner (a job of the spawner: LabRunner). */
type Transport = Pick<ChildProcess, 'stdin' | 'stdout' | 'pid' | 'ref' | 'unref' | 'once'>;

export class Spawner {
  readonly #child: Transport;
  readonly #jobs = new Map<number, SpawnedEvents>();
  /** Jobs that keep this process alive (all but the unref()ed long-lived ones). */
  readonly #holding = new Set<number>();
  #next = 1;
  #buffer = '';
  #onReady?: () => void;
  dead = false;
  /** Why it went away (dead). */
  deathReason = '';

  constructor(python: string);
  constructor(transport: Transport, onReady: () => void);
  constructor(how: string | Transport, onReady?: () => void) {
    this.#child = typeof how === 'string' ? spawn(how, ['-I', '-S', '-c', PROGRAM], { stdio: ['pipe', 'pipe', 'inherit'], env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' } }) : how;
    this.#onReady = onReady;
    // it must never keep this process alive by itself
    this.#child.unref();
    for (const s of [this.#child.stdin, this.#child.stdout]) (s as unknown as { unref?: () => void }).unref?.();
    this.#child.stdin!.on('error', () => this.#die('its input pipe failed'));
    this.#child.once('error', (e: Error) => this.#die(e.message));
    this.#child.once('exit', (code: number | null, signal: string | null) => this.#die(`it exited (${signal ?? `code ${code}`})`));
    this.#child.stdout!.setEncoding('utf8').on('data', (d: string) => this.#read(d));
  }

  /** No more requests: it exits once the commands in flight are done (a lab runner: at once, as the lab ends). */
  end(): void {
    if (!this.dead) this.#child.stdin!.end();
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  start(request: Request, events: SpawnedEvents): number {
    const id = this.#next++;
    if (this.dead) {
      // nothing would ever answer (a lab runner gone between the caller's check and here): fail the call, never hang it
      const reason = this.deathReason;
      queueMicrotask(() => events.onError('ESPAWNER', `netspec's spawner went away: ${reason}`));
      return id;
    }
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
      ns: request.ns,
      runner: request.runner,
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
      const m = JSON.parse(line) as { ready?: boolean; id: number; pid?: number; fd?: 1 | 2; d?: string; exit?: number | null; signal?: string | null; done?: boolean; error?: string; code?: string };
      if (m.ready) {
        this.#onReady?.();
        this.#onReady = undefined;
        continue;
      }
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
    this.deathReason = reason;
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

/** The lab runner cannot be had in this process (its python3 lacks ctypes or resource): labs enter by nsenter. */
let runnerUnavailable = false;

/**
 * A lab runner (ARCHITECTURE.md, "Commands are argument arrays"): the spawner forks itself into a process that enters
 * the lab's namespaces once, as `prlimit` and `nsenter` did in front of every command, and then starts the lab's
 * commands (a request's `ns`: in /run/netns/NAME, entered by the runner as the lab's root, as the inner nsenter did).
 * Each command then costs one fork and exec instead of three or four. Resolves undefined where there can be none
 * (NETSPEC_SPAWNER=node, NETSPEC_LAB_RUNNER=off, no ctypes) or it did not start (the lab went away): the caller
 * enters by nsenter then.
 */
export function startLabRunner(config: NonNullable<Request['runner']>): Promise<Spawner | undefined> {
  if (runnerUnavailable || process.env.NETSPEC_LAB_RUNNER === 'off') return Promise.resolve(undefined);
  const outer = spawner();
  if (!outer) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: Spawner | undefined) => {
      if (settled) return;
      settled = true;
      // from here on, the runner's own jobs hold this process (Spawner.hold)
      if (value && !value.dead) value.hold(0, false);
      resolve(value);
    };
    const child = new SpawnedChild(outer, { argv: ['netspec-lab-runner'], env: {}, runner: config, stdio: ['pipe', 'pipe', 'ignore'], session: false });
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOSYS') runnerUnavailable = true;
      settle(undefined);
    });
    child.once('exit', () => settle(undefined));
    const runner: Spawner = new Spawner(child as unknown as Transport, () => settle(runner));
    // while it starts, the runner holds this process (a command is waiting for it)
    child.ref();
  });
}

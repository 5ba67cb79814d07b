// One server process, stopped by its own pid: the stop signal first, SIGKILL after a grace period.
// Output goes to a log file rather than a pipe so the server does not depend on (or die with) the
// process that started it.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface ServerProcessSpec {
  /** Label used in messages. */
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Working folder; also the marker `env:down` checks before signalling a recorded pid. */
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logFile: string;
  /** Run as this user (root only), e.g. Postgres, which refuses to run as root. */
  readonly uid?: number;
  readonly gid?: number;
  /** Postgres wants SIGINT (fast shutdown); the rest shut down cleanly on SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
  readonly graceMs?: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  readonly spec: ServerProcessSpec;
  #exit: ExitInfo | undefined;
  readonly #child: ChildProcess;

  private constructor(spec: ServerProcessSpec, child: ChildProcess, pid: number) {
    this.spec = spec;
    this.#child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  static start(spec: ServerProcessSpec): ServerProcess {
    const log = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', log, log],
        // Its own process group: a Ctrl-C aimed at the test runner does not reach the server
        // half-way through a test; the watchdog or `stop()` ends it instead.
        detached: true,
        ...(spec.uid === undefined ? {} : { uid: spec.uid }),
        ...(spec.gid === undefined ? {} : { gid: spec.gid }),
      });
    } finally {
      closeSync(log);
    }
    // spawn reports ENOENT and friends as an 'error' event; without a listener it would crash
    // the process. A missing pid below turns it into a synchronous throw instead.
    child.on('error', () => undefined);
    // Never keep the starting process alive just because a server runs.
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${spec.label}: could not start ${spec.command} (is it installed?)`);
    return new ServerProcess(spec, child, pid);
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  /** The last lines of the server's log, for error messages. */
  logTail(lines = 25): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  pause(): void {
    if (this.#exit === undefined) this.#child.kill('SIGSTOP');
  }

  resume(): void {
    if (this.#exit === undefined) this.#child.kill('SIGCONT');
  }

  /** Signals the server, waits up to the grace period, then SIGKILLs it. Resolves once it is gone. */
  async stop(): Promise<void> {
    if (this.#exit !== undefined) return;
    this.#child.kill(this.spec.stopSignal ?? 'SIGTERM');
    // A paused server only acts on the signal once it runs again.
    this.#child.kill('SIGCONT');
    const grace = this.spec.graceMs ?? 10_000;
    const timedOut = Symbol('timeout');
    const ac = new AbortController();
    const outcome = await Promise.race([this.exited, delay(grace, timedOut, { signal: ac.signal }).catch(() => null)]);
    ac.abort();
    if (outcome === timedOut && this.#exit === undefined) {
      this.#child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** Whether `pid` is a live process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/**
 * Whether `pid` is still the process we started: its working folder lies inside `runDir`. Guards
 * `env:down` against signalling an unrelated process that reused a recorded pid. Where /proc is
 * missing (macOS) it answers true.
 */
export function isOurs(pid: number, runDir: string): boolean {
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return cwd === runDir || cwd.startsWith(`${runDir}/`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // EACCES: another user's process (Postgres runs as `postgres`); its cwd can't be read unless we
    // are root, in which case we would have read it. ENOENT on /proc itself: not Linux.
    if (code === 'ENOENT') return process.platform !== 'linux';
    return code === 'EACCES';
  }
}

/** Stops a process this process did not start (recorded by `env:up`): signal, wait, SIGKILL. */
export async function stopPid(pid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
    process.kill(pid, 'SIGCONT');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await delay(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    const hard = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < hard) await delay(50);
  }
}

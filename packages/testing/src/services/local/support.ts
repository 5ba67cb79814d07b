// Small pieces the local provider shares: free ports, bounded polling, running a command to
// completion, the download cache and a cross-process lock around installs.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isAlive } from './server-process.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `ready` until it returns true, `failed` returns a reason, or the deadline passes. Each
 * failure of `ready` is remembered so a timeout says what the last attempt saw.
 */
export async function waitUntil(
  what: string,
  ready: () => Promise<boolean>,
  options: { timeoutMs: number; failed?: () => string | undefined; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 100;
  let last: unknown;
  for (;;) {
    const reason = options.failed?.();
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    try {
      if (await ready()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not ready after ${options.timeoutMs} ms`, { cause: last });
    }
    await delay(interval);
    interval = Math.min(interval * 1.5, 1_000);
  }
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, capturing its output. Never throws for a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Env; uid?: number; gid?: number; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` });
    });
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command and throws with its output when it fails. */
export async function runChecked(
  what: string,
  command: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<CommandResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${what} failed (exit ${result.code}): ${command} ${args.join(' ')}\n${output}`);
  }
  return result;
}

/** Where downloads are kept between runs: SWITCHYARD_CACHE_DIR, else $XDG_CACHE_HOME/switchyard, else ~/.cache/switchyard. */
export function cacheDir(env: Env = process.env): string {
  if (env.SWITCHYARD_CACHE_DIR) return env.SWITCHYARD_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'switchyard');
}

/**
 * Runs `fn` while holding a lock folder, so two test files (or `env:up` and a test) never install
 * the same thing at once. A lock whose owner died is taken over.
 */
export async function withInstallLock<T>(lockDir: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const ownerFile = join(lockDir, 'owner');
  for (;;) {
    try {
      mkdirSync(lockDir, { recursive: false });
      writeFileSync(ownerFile, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockIsStale(ownerFile)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the install lock ${lockDir}`);
      await delay(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function lockIsStale(ownerFile: string): boolean {
  try {
    const owner = Number(readFileSync(ownerFile, 'utf8'));
    return !(owner > 0 && isAlive(owner));
  } catch {
    // The owner has made the folder but not yet written its pid: give it a moment.
    try {
      return Date.now() - statSync(join(ownerFile, '..')).mtimeMs > 10_000;
    } catch {
      return true;
    }
  }
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

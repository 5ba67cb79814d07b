// Runs test/fixtures/consumer-child.ts in its own Node process (TypeScript through tsx, workspace
// packages resolved to their sources like vitest does) and collects the JSON events it prints.
// The process is always stopped by its own pid.

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './kafka.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(packageDir, 'test', 'fixtures', 'consumer-child.ts');

export interface ChildEvent {
  readonly event: string;
  readonly id?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly [field: string]: unknown;
}

export class ConsumerChild {
  readonly events: ChildEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #process: ChildProcess;

  constructor(env: Record<string, string>) {
    this.#process = spawn(process.execPath, ['--import', 'tsx/esm', fixture], {
      cwd: packageDir,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(packageDir, 'test', 'fixtures', 'tsconfig.json'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    this.#process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith('{')) this.events.push(JSON.parse(line) as ChildEvent);
        newline = buffer.indexOf('\n');
      }
    });
    this.#process.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => this.#process.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  get alive(): boolean {
    return this.#process.exitCode === null && this.#process.signalCode === null;
  }

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length;
  }

  async waitFor(event: string, count = 1, timeoutMs = 60_000): Promise<void> {
    await until(
      () => {
        if (!this.alive && this.count(event) < count)
          throw new Error(`child exited before '${event}' x${count}: ${this.stderr.join('').slice(-2_000)}`);
        return this.count(event) >= count;
      },
      `child event '${event}' x${count} (have ${this.count(event)})`,
      timeoutMs,
    );
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive && this.#process.pid !== undefined) process.kill(this.#process.pid, signal);
  }

  /** Stops the process if it is still running (cleanup). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.kill('SIGKILL');
    await this.exited;
  }
}

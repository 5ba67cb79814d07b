// Every wait in the harness has a deadline: a benchmark that hangs tells nobody anything.

import { setTimeout as sleep } from 'node:timers/promises';

export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** Resolves with `promise`, or rejects with a DeadlineError naming `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `intervalMs` until it holds; rejects after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs, intervalMs = 50 }: { timeoutMs: number; intervalMs?: number },
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > end) throw new DeadlineError(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** A promise resolved from outside, for "the N-th message was processed". */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Runs `close` with a deadline and never throws: cleanup must not hide the result or hang the run. */
export async function closeQuietly(what: string, close: () => Promise<unknown>, ms = 15_000): Promise<void> {
  try {
    await within(close(), ms, `closing ${what}`);
  } catch (error) {
    process.stderr.write(`[bench] closing ${what} failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

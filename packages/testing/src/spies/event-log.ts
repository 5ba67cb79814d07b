// The waiting machinery shared by the spies and the fault injector: an append-only log of what
// happened plus waiters that re-check their condition on every append. A waiter whose condition
// already holds resolves at once, so a test may start waiting after the fact; one that runs out of
// time rejects with a description of what was seen instead of a bare "timeout".

import {
  assertAbortSignal,
  InvalidOptionError,
  isOptionObject,
  MAX_TIMER_MS,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
} from '@switchyard/core';

export interface WaitOptions {
  /** Give up after this long (default: the spy's `defaultTimeoutMs`). */
  readonly timeoutMs?: number;
  /** Stop waiting when aborted; rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A wait ran out of time; `message` lists what the spy had seen. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

interface Waiter {
  check(): void;
  fail(error: unknown): void;
}

/** `undefined` means "not yet"; anything else resolves the wait. */
export type Selector<T, R> = (items: readonly T[]) => R | undefined;

export class EventLog<T> {
  readonly #items: T[] = [];
  readonly #waiters = new Set<Waiter>();
  #closedReason: Error | undefined;

  get items(): readonly T[] {
    return this.#items;
  }

  push(item: T): void {
    this.#items.push(item);
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  /** Re-check every waiter: for conditions that depend on state changed in place (a settle finished). */
  touch(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  /** Forget what was seen; pending waiters keep waiting for new items. */
  clear(): void {
    this.#items.length = 0;
  }

  /** Reject every pending and future wait (the spy was detached). */
  close(reason: Error): void {
    this.#closedReason = reason;
    for (const waiter of [...this.#waiters]) waiter.fail(reason);
  }

  waitUntil<R>(
    select: Selector<T, R>,
    options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined; readonly describe: () => string },
  ): Promise<R> {
    assertAbortSignal('signal', options.signal);
    return new Promise<R>((resolve, reject) => {
      if (this.#closedReason) {
        reject(this.#closedReason);
        return;
      }
      const first = select(this.#items);
      if (first !== undefined) {
        resolve(first);
        return;
      }
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      const finish = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        check: () => {
          const found = select(this.#items);
          if (found === undefined) return;
          finish();
          resolve(found);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const onAbort = () => waiter.fail(options.signal?.reason);
      const timer = setTimeout(
        () => waiter.fail(new WaitTimeoutError(options.describe(), options.timeoutMs)),
        options.timeoutMs,
      );
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }
}

/**
 * Refuses a spy's options that are not an options object (`option` names it) or hold a key `known` does not
 * list (named `${prefix}.${key}`, or the key alone without a prefix), so a misspelt one fails instead
 * of falling back to its default.
 */
export function refuseUnknownOptions(
  value: unknown,
  option: string,
  prefix: string,
  known: readonly string[],
  /** Whose options, for the top level's message ('spyOnPublishes', 'spyOn'). */
  owner: string,
  example = '{ timeoutMs: 5_000 }',
): void {
  if (!isOptionObject(value))
    throw new InvalidOptionError(
      option,
      `must be an options object, got ${optionKindText(value)}`,
      `pass e.g. ${example}, or leave it out for the defaults`,
    );
  refuseUnknownKeys(value, known, `a ${prefix === '' ? owner : prefix}`, (key) =>
    prefix === '' ? key : `${prefix}.${key}`,
  );
}

export function checkTimeout(timeoutMs: number, option: string): number {
  // Past MAX_TIMER_MS a Node timer fires after 1 ms: the wait would time out at once.
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS))
    throw new InvalidOptionError(
      option,
      `must be a positive number of milliseconds up to ${MAX_TIMER_MS}, got ${optionValueText(timeoutMs)}`,
      'pass e.g. { timeoutMs: 5_000 }',
    );
  return timeoutMs;
}

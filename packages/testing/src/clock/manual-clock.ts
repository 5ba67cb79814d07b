// A Clock that moves only when the test says so, for everything that takes an injected clock
// (policies, the memory broker and idempotency store, faults.hangFor). Sleepers wake in deadline
// order as `advance` passes them, and the continuations of each run before the next one wakes, so
// a chain "sleep, then sleep again" behaves as it would in real time.

import type { Clock } from '@switchyard/core';
import { InvalidOptionError, optionValueText } from '@switchyard/core';

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly wake: () => void;
}

/** Let pending promise continuations run (a few macrotask turns), without waiting on wall time. */
export async function flushPromises(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #sleepers = new Set<Sleeper>();

  /** Starts at `start` ms since the epoch (default 2025-01-01T00:00:00Z, so dates print sensibly). */
  constructor(start = Date.UTC(2025, 0, 1)) {
    if (!Number.isFinite(start))
      throw new InvalidOptionError(
        'ManualClock.start',
        `must be a finite number, got ${optionValueText(start)}`,
        'pass Date.now()',
      );
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0),
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers.delete(sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.add(sleeper);
    });
  }

  /** Sleepers still waiting. */
  get pending(): number {
    return this.#sleepers.size;
  }

  /** Deadline of the next sleeper, if any. */
  nextWakeAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.#sleepers) if (next === undefined || s.at < next) next = s.at;
    return next;
  }

  /** Move time forward by `ms`, waking every sleeper due on the way, earliest first. */
  async advance(ms: number): Promise<void> {
    if (!(Number.isFinite(ms) && ms >= 0))
      throw new InvalidOptionError(
        'ManualClock.advance(ms)',
        `must be a non-negative number, got ${optionValueText(ms)}`,
        'pass e.g. 1_000',
      );
    const target = this.#now + ms;
    for (;;) {
      let due: Sleeper | undefined;
      for (const s of this.#sleepers)
        if (s.at <= target && (!due || s.at < due.at || (s.at === due.at && s.seq < due.seq))) due = s;
      if (!due) break;
      this.#sleepers.delete(due);
      this.#now = Math.max(this.#now, due.at);
      due.wake();
      await flushPromises();
    }
    this.#now = target;
    await flushPromises();
  }

  /** Jump to the next sleeper's deadline and wake it (and any due at the same time). False when none sleeps. */
  async runNext(): Promise<boolean> {
    const next = this.nextWakeAt();
    if (next === undefined) return false;
    await this.advance(next - this.#now);
    return true;
  }
}

// A manual clock: time moves only when a test calls `advance`, and a test can wait until the code
// under test has gone to sleep instead of guessing with real timers.
import type { Clock } from '../../src/clock.js';

interface Timer {
  readonly at: number;
  readonly ms: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly detach: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  readonly #timers = new Set<Timer>();
  #sleepListeners: Array<{ readonly test: (ms: number) => boolean; readonly resolve: (ms: number) => void }> = [];
  /** Every sleep requested, in order (ms). */
  readonly sleeps: number[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#timers.delete(timer);
        reject(signal?.reason);
      };
      const timer: Timer = {
        at: this.#now + Math.max(0, ms),
        ms,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#timers.add(timer);
      this.sleeps.push(ms);
      const listeners = this.#sleepListeners;
      this.#sleepListeners = [];
      for (const l of listeners) {
        if (l.test(ms)) l.resolve(ms);
        else this.#sleepListeners.push(l);
      }
    });
  }

  /** Pending sleeps (ms each). */
  get pending(): number[] {
    return [...this.#timers].map((t) => t.ms);
  }

  /** Resolves when some code sleeps for a duration matching `test` (already pending counts). */
  whenSleeping(test: (ms: number) => boolean = () => true): Promise<number> {
    for (const t of this.#timers) if (test(t.ms)) return Promise.resolve(t.ms);
    return new Promise((resolve) => this.#sleepListeners.push({ test, resolve }));
  }

  /** Moves time forward, waking due sleepers in time order (letting each one's continuation run). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers].filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#now = Math.max(this.#now, due.at);
      this.#timers.delete(due);
      due.detach();
      due.resolve();
      await flush();
    }
    this.#now = target;
    await flush();
  }

  /** Sets the time without firing timers. */
  set(now: number): void {
    this.#now = now;
  }
}

/** Lets queued promise continuations run (several macrotask hops, no wall-clock wait). */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

// Test time and randomness for core's tests (core cannot use @switchyard/testing's ManualClock:
// that package depends on this one). Time moves only when a test advances it; sleepers wake in
// time order, each one's continuations run before the next wakes; a test can wait until the code
// under test has gone to sleep instead of guessing with real timers. Seeded or scripted random
// sources make every run take the same decisions.
import type { Clock, RandomSource } from '../../src/clock.js';

interface Sleeper {
  readonly at: number;
  readonly ms: number;
  readonly wake: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  readonly #sleepers = new Set<Sleeper>();
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
        this.#sleepers.delete(sleeper);
        reject(signal?.reason);
      };
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        ms,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.add(sleeper);
      this.sleeps.push(ms);
      const listeners = this.#sleepListeners;
      this.#sleepListeners = [];
      for (const l of listeners) {
        if (l.test(ms)) l.resolve(ms);
        else this.#sleepListeners.push(l);
      }
    });
  }

  /** Durations of the sleeps not yet woken, in the order they were asked for. */
  get pending(): number[] {
    return [...this.#sleepers].map((s) => s.ms);
  }

  /** Resolves when some code sleeps for a duration matching `test` (already pending counts). */
  whenSleeping(test: (ms: number) => boolean = () => true): Promise<number> {
    for (const s of this.#sleepers) if (test(s.ms)) return Promise.resolve(s.ms);
    return new Promise((resolve) => this.#sleepListeners.push({ test, resolve }));
  }

  /** Moves time forward by `ms`, waking due sleepers in time order (each one's continuations run first). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      let due: Sleeper | undefined;
      for (const s of this.#sleepers) if (s.at <= target && (due === undefined || s.at < due.at)) due = s;
      if (due === undefined) break;
      this.#sleepers.delete(due);
      this.#now = Math.max(this.#now, due.at);
      due.wake();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** Jumps to an absolute time without waking anyone (also backwards, to test clock steps). */
  set(now: number): void {
    this.#now = now;
  }
}

/** Lets pending promise continuations run: macrotask hops, no wall-clock wait. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** mulberry32: a small, well-mixed 32-bit generator; same seed, same sequence. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A random source that returns the given values in order, then fails the test if asked for more. */
export function scriptedRandom(...values: number[]): RandomSource & { readonly calls: number } {
  let calls = 0;
  const next = () => {
    if (calls >= values.length) throw new Error(`random() called ${calls + 1} times, scripted for ${values.length}`);
    return values[calls++]!;
  };
  return Object.defineProperty(next, 'calls', { get: () => calls }) as RandomSource & { readonly calls: number };
}
